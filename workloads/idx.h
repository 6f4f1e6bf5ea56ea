/* IDX files (the MNIST / Fashion-MNIST format), gzip-compressed or plain:
 * a 4-byte magic (0, 0, type code, rank), `rank` big-endian uint32
 * dimensions, then the values big-endian in C order. Read through zlib, so
 * "x.gz" and an uncompressed "x" load the same way. */
#ifndef QB_IDX_H
#define QB_IDX_H

#include "status.h"
#include "tensor.h"

/* Reads `path` into `out` (uint8, int8, int16, int32, float32 or float64,
 * by the file's type code; values converted to host order). Fails with
 * QB_ERR_IO when the file cannot be opened and QB_ERR_FORMAT, naming the
 * file, for a bad magic, a zero or absurd dimension, truncated data or
 * trailing bytes. */
qb_status qb_idx_read(const char *path, qb_tensor *out);

/* Writes `t` (one of the dtypes above) as a gzip-compressed IDX file
 * through a temporary file and rename (tests and tools use it). */
qb_status qb_idx_write_gz(const char *path, const qb_tensor *t);

#endif
