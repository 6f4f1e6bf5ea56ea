/* IDX reader and writer on zlib's gz* stream functions (see idx.h). */
#include "idx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "safefile.h"

/* The IDX type codes and the dtype each maps to. */
static const struct { unsigned char code; qb_dtype dtype; } idx_types[] = {
    {0x08, QB_U8}, {0x09, QB_I8}, {0x0B, QB_I16}, {0x0C, QB_I32}, {0x0D, QB_F32}, {0x0E, QB_F64},
};

/* Largest dimension accepted: guards against a corrupt header asking for
 * terabytes before the read would notice the truncation. */
#define IDX_MAX_DIM (1u << 28)
#define IDX_MAX_BYTES ((uint64_t)1 << 34)

static qb_status gz_read_exact(gzFile gz, const char *path, void *buf, size_t n, const char *what)
{
    unsigned char *p = buf;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(gz, p, chunk);
        if (got < 0) {
            int err;
            const char *msg = gzerror(gz, &err);
            return qb_error(QB_ERR_FORMAT, "%s: corrupt gzip data while reading the %s (%s)", path,
                            what, msg);
        }
        if (got == 0)
            return qb_error(QB_ERR_FORMAT, "%s: file is truncated (it ends inside the %s)", path,
                            what);
        p += got;
        n -= (size_t)got;
    }
    return QB_OK;
}

static void swap_to_host(void *data, size_t count, size_t elem)
{
    if (elem == 1) return;
    unsigned char *p = data;
    for (size_t i = 0; i < count; i++, p += elem)
        for (size_t a = 0, b = elem - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

qb_status qb_idx_read(const char *path, qb_tensor *out)
{
    memset(out, 0, sizeof *out);
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return qb_error(QB_ERR_IO, "%s: cannot open (%s)", path,
                        errno ? strerror(errno) : "out of memory");
    qb_status s;
    unsigned char magic[4];
    if ((s = gz_read_exact(gz, path, magic, 4, "header")) != QB_OK) goto fail;
    int type = -1;
    for (size_t i = 0; i < QB_ARRAY_LEN(idx_types); i++)
        if (idx_types[i].code == magic[2]) type = (int)i;
    if (magic[0] != 0 || magic[1] != 0 || type < 0 || magic[3] == 0 || magic[3] > QB_MAX_DIMS) {
        s = qb_error(QB_ERR_FORMAT,
                     "%s: not an IDX file (magic bytes %02x %02x %02x %02x; expected 00 00, a type "
                     "code 08-0e and a rank 1-%d)",
                     path, magic[0], magic[1], magic[2], magic[3], QB_MAX_DIMS);
        goto fail;
    }
    int ndim = magic[3];
    int64_t shape[QB_MAX_DIMS];
    uint64_t total = qb_dtype_size(idx_types[type].dtype);
    for (int d = 0; d < ndim; d++) {
        unsigned char b[4];
        if ((s = gz_read_exact(gz, path, b, 4, "header")) != QB_OK) goto fail;
        uint32_t v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        if (v == 0 || v > IDX_MAX_DIM) {
            s = qb_error(QB_ERR_FORMAT, "%s: dimension %d is %u (expected 1..%u)", path, d, v,
                         IDX_MAX_DIM);
            goto fail;
        }
        shape[d] = v;
        total *= v;
        if (total > IDX_MAX_BYTES) {
            s = qb_error(QB_ERR_FORMAT, "%s: header declares more than %llu bytes of data", path,
                         (unsigned long long)IDX_MAX_BYTES);
            goto fail;
        }
    }
    if ((s = qb_tensor_alloc(out, idx_types[type].dtype, ndim, shape)) != QB_OK) goto fail;
    if ((s = gz_read_exact(gz, path, out->data, (size_t)total, "data")) != QB_OK) goto fail;
    unsigned char extra;
    int more = gzread(gz, &extra, 1);
    if (more != 0) {
        s = qb_error(QB_ERR_FORMAT, "%s: %s after the %llu data bytes the header declares", path,
                     more > 0 ? "unexpected trailing bytes" : "corrupt gzip data",
                     (unsigned long long)total);
        goto fail;
    }
    if (host_is_little_endian())
        swap_to_host(out->data, (size_t)qb_tensor_numel(out), qb_dtype_size(out->dtype));
    gzclose(gz);
    return QB_OK;
fail:
    gzclose(gz);
    qb_tensor_free(out);
    return s;
}

qb_status qb_idx_write_gz(const char *path, const qb_tensor *t)
{
    int type = -1;
    for (size_t i = 0; i < QB_ARRAY_LEN(idx_types); i++)
        if (idx_types[i].dtype == t->dtype) type = (int)i;
    if (type < 0 || t->ndim < 1)
        return qb_error(QB_ERR_UNSUPPORTED, "%s: IDX cannot hold a %s tensor of rank %d", path,
                        qb_dtype_name(t->dtype), t->ndim);
    if (qb_tensor_bytes(t) > ((size_t)1 << 30))
        return qb_error(QB_ERR_UNSUPPORTED, "%s: tensor too large for one IDX write (%zu bytes)",
                        path, qb_tensor_bytes(t));
    qb_safefile f;
    qb_status s = qb_safefile_open(&f, path);
    if (s != QB_OK) return s;
    size_t bytes = qb_tensor_bytes(t), elem = qb_dtype_size(t->dtype);
    unsigned char *buf = qb_malloc(bytes + 4 + 4 * (size_t)t->ndim, 1);
    if (!buf) {
        qb_safefile_abort(&f);
        return QB_ERR_NOMEM;
    }
    unsigned char *p = buf;
    *p++ = 0;
    *p++ = 0;
    *p++ = idx_types[type].code;
    *p++ = (unsigned char)t->ndim;
    for (int d = 0; d < t->ndim; d++) {
        uint32_t v = (uint32_t)t->shape[d];
        *p++ = (unsigned char)(v >> 24);
        *p++ = (unsigned char)(v >> 16);
        *p++ = (unsigned char)(v >> 8);
        *p++ = (unsigned char)v;
    }
    memcpy(p, t->data, bytes);
    if (host_is_little_endian()) swap_to_host(p, bytes / elem, elem);
    fflush(f.fp);
    gzFile gz = gzdopen(dup(fileno(f.fp)), "wb");
    int ok = gz && gzwrite(gz, buf, (unsigned)(p - buf + (ptrdiff_t)bytes)) > 0;
    if (gz && gzclose(gz) != Z_OK) ok = 0;
    free(buf);
    if (!ok) {
        qb_safefile_abort(&f);
        return qb_error(QB_ERR_IO, "%s: cannot write gzip data", path);
    }
    return qb_safefile_commit(&f);
}
