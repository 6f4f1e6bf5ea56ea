/* Owned n-d arrays (see tensor.h). */
#include "tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *name; size_t size; int integer; } dtype_info[QB_DTYPE_COUNT] = {
    [QB_F32] = {"float32", 4, 0}, [QB_F64] = {"float64", 8, 0},
    [QB_F16] = {"float16", 2, 0}, [QB_BF16] = {"bfloat16", 2, 0},
    [QB_I8] = {"int8", 1, 1},     [QB_U8] = {"uint8", 1, 1},
    [QB_I16] = {"int16", 2, 1},   [QB_U16] = {"uint16", 2, 1},
    [QB_I32] = {"int32", 4, 1},   [QB_U32] = {"uint32", 4, 1},
    [QB_I64] = {"int64", 8, 1},   [QB_U64] = {"uint64", 8, 1},
};

size_t qb_dtype_size(qb_dtype d) { return d < QB_DTYPE_COUNT ? dtype_info[d].size : 0; }
const char *qb_dtype_name(qb_dtype d) { return d < QB_DTYPE_COUNT ? dtype_info[d].name : "?"; }
int qb_dtype_is_integer(qb_dtype d) { return d < QB_DTYPE_COUNT && dtype_info[d].integer; }

int64_t qb_shape_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        if (shape[i] != 0 && n > INT64_MAX / shape[i]) return -1;
        n *= shape[i];
    }
    return n;
}

int64_t qb_tensor_numel(const qb_tensor *t) { return qb_shape_numel(t->ndim, t->shape); }

size_t qb_tensor_bytes(const qb_tensor *t)
{
    return (size_t)qb_tensor_numel(t) * qb_dtype_size(t->dtype);
}

const char *qb_shape_str(int ndim, const int64_t *shape, char *buf, size_t len)
{
    size_t off = 0;
    off += (size_t)snprintf(buf + off, len - off, "(");
    for (int i = 0; i < ndim && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (off < len) snprintf(buf + off, len - off, ndim == 1 ? ",)" : ")");
    return buf;
}

qb_status qb_tensor_alloc(qb_tensor *t, qb_dtype dtype, int ndim, const int64_t *shape)
{
    memset(t, 0, sizeof *t);
    char sbuf[160];
    if (ndim < 0 || ndim > QB_MAX_DIMS)
        return qb_error(QB_ERR_UNSUPPORTED, "tensors of rank %d are not supported (at most %d)",
                        ndim, QB_MAX_DIMS);
    int64_t n = qb_shape_numel(ndim, shape);
    if (n < 0 || (uint64_t)n > SIZE_MAX / 8 / qb_dtype_size(dtype))
        return qb_error(QB_ERR_NOMEM, "shape %s is too large (its element count overflows)",
                        qb_shape_str(ndim, shape, sbuf, sizeof sbuf));
    void *data = qb_aligned_alloc((size_t)n, qb_dtype_size(dtype));
    if (!data)
        return qb_error(QB_ERR_NOMEM, "cannot allocate a %s tensor of shape %s (%.1f MB)",
                        qb_dtype_name(dtype), qb_shape_str(ndim, shape, sbuf, sizeof sbuf),
                        (double)n * (double)qb_dtype_size(dtype) / 1e6);
    memset(data, 0, (size_t)n * qb_dtype_size(dtype));
    t->dtype = dtype;
    t->ndim = ndim;
    if (ndim) memcpy(t->shape, shape, (size_t)ndim * sizeof *shape); /* shape may be NULL for scalars */
    t->data = data;
    return QB_OK;
}

void qb_tensor_free(qb_tensor *t)
{
    if (!t) return;
    free(t->data);
    memset(t, 0, sizeof *t);
}
