/* A dense, C-ordered, owned n-d array with a dtype: the unit of data that
 * crosses module edges (.npy files, model weights, quantizer inputs and
 * codes, ONNX test tensors). Hot loops take plain pointers and sizes. */
#ifndef QB_TENSOR_H
#define QB_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include "status.h"

#define QB_MAX_DIMS 8

typedef enum {
    QB_F32, QB_F64, QB_F16, QB_BF16,
    QB_I8, QB_U8, QB_I16, QB_U16, QB_I32, QB_U32, QB_I64, QB_U64,
    QB_DTYPE_COUNT
} qb_dtype;

typedef struct {
    qb_dtype dtype;
    int ndim;                      /* 0 for a scalar */
    int64_t shape[QB_MAX_DIMS];
    void *data;                    /* numel * dtype size bytes, 64-byte aligned, owned */
} qb_tensor;

size_t qb_dtype_size(qb_dtype d);
const char *qb_dtype_name(qb_dtype d);        /* "float32", "int8", ... */
int qb_dtype_is_integer(qb_dtype d);

/* numel, or -1 if the product overflows int64. */
int64_t qb_shape_numel(int ndim, const int64_t *shape);
int64_t qb_tensor_numel(const qb_tensor *t);
size_t qb_tensor_bytes(const qb_tensor *t);

/* Allocates zeroed data; fails with QB_ERR_NOMEM (message gives the shape)
 * when the size overflows or memory runs out. */
qb_status qb_tensor_alloc(qb_tensor *t, qb_dtype dtype, int ndim, const int64_t *shape);
void qb_tensor_free(qb_tensor *t);

/* Formats the shape as "(2, 3, 4)" into buf. */
const char *qb_shape_str(int ndim, const int64_t *shape, char *buf, size_t len);

#endif
