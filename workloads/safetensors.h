/* The safetensors file format (Hugging Face): an 8-byte little-endian
 * header length, a JSON header mapping each tensor name to its dtype, shape
 * and byte range, an optional "__metadata__" object of string values, then
 * the raw little-endian tensor bytes. qbench stores its models this way, so
 * other tools (PyTorch, numpy) can read them.
 *
 * Reading validates everything before trusting it: header size, JSON
 * syntax, dtypes, that each byte range matches its shape and lies inside
 * the file, and that ranges cover the data without holes or overlap. Errors
 * are QB_ERR_FORMAT (or QB_ERR_IO) and name the file and the problem. */
#ifndef QB_SAFETENSORS_H
#define QB_SAFETENSORS_H

#include "status.h"
#include "tensor.h"

/* String key/value pairs ("__metadata__"). */
typedef struct {
    int n, cap;
    char **keys, **values;
} qb_meta;

qb_status qb_meta_set(qb_meta *m, const char *key, const char *value); /* copies; replaces */
qb_status qb_meta_setf(qb_meta *m, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *qb_meta_get(const qb_meta *m, const char *key); /* NULL when absent */
void qb_meta_free(qb_meta *m);

typedef struct {
    const char *name;
    const qb_tensor *tensor;
} qb_named_tensor;

/* Writes tensors (in the given order) and metadata through a temporary
 * file and rename. */
qb_status qb_safetensors_write(const char *path, const qb_named_tensor *tensors, int n,
                               const qb_meta *meta);

typedef struct {
    int n;
    char **names;
    qb_tensor *tensors; /* owned */
    qb_meta meta;
} qb_safetensors;

qb_status qb_safetensors_read(const char *path, qb_safetensors *out);
/* The tensor named `name`, or NULL. */
const qb_tensor *qb_safetensors_find(const qb_safetensors *st, const char *name);
void qb_safetensors_free(qb_safetensors *st);

#endif
