/* NumPy .npy files <-> qb_tensor (C order, any rank up to QB_MAX_DIMS).
 * Reads format versions 1.0, 2.0 and 3.0 with dtypes float16/32/64 and
 * signed/unsigned 8- to 64-bit integers in either byte order (big-endian
 * data is swapped on load). Refuses, with a message naming the file, what
 * is wrong and what to do: bad magic, truncated or malformed headers, a
 * shape whose size overflows, data shorter or longer than the shape says,
 * Fortran order, and other dtypes (bool, complex, strings, objects,
 * records). Writes version 1.0 (the header is at most a few hundred bytes),
 * little-endian, with the data 64-byte aligned,
 * through qb_safefile: the target is replaced whole or not at all.
 * Error convention: common/status.h. */
#ifndef QB_NPY_H
#define QB_NPY_H

#include <stddef.h>
#include "status.h"
#include "tensor.h"

qb_status qb_npy_read(const char *path, qb_tensor *out);
/* The same from memory; `name` is used in messages. */
qb_status qb_npy_read_mem(const void *buf, size_t len, const char *name, qb_tensor *out);
/* bfloat16 has no .npy dtype and is refused. */
qb_status qb_npy_write(const char *path, const qb_tensor *t);

/* The .npy descr of a dtype ("<f4", "|u1"), or NULL if none. */
const char *qb_npy_descr(qb_dtype d);

#endif
