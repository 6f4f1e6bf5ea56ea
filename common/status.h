/* Status codes and error messages shared by every qbench module.
 *
 * Error convention (the whole library follows it):
 *   - a function that can fail returns qb_status; QB_OK is 0;
 *   - on failure it records a human message with qb_error(), naming the file,
 *     flag or value at fault and, where possible, what the user can do;
 *   - the caller reads the message with qb_last_error() (per thread, like
 *     errno/dlerror) and decides what to do; only the CLI prints and exits.
 * Results go through out-parameters. Library code never calls exit().
 */
#ifndef QB_STATUS_H
#define QB_STATUS_H

#include <stddef.h>

typedef enum {
    QB_OK = 0,
    QB_ERR_ARG,         /* a bad value from the caller or user (flag, spec, parameter) */
    QB_ERR_IO,          /* a file could not be opened, read or written */
    QB_ERR_FORMAT,      /* a file is malformed or truncated */
    QB_ERR_UNSUPPORTED, /* valid but not supported (dtype, ISA, op) */
    QB_ERR_NOMEM,       /* allocation failed or a size overflows */
    QB_ERR_INTERNAL     /* a bug in qbench: please report */
} qb_status;

/* Short name of a status, e.g. "bad argument". */
const char *qb_status_name(qb_status s);

/* Records the message for the calling thread and returns `s`, so that
 * `return qb_error(QB_ERR_ARG, "--bits %d: ...", b);` reads naturally. */
qb_status qb_error(qb_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with more context ("reading x.npy: ..."). */
qb_status qb_error_context(qb_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The last message recorded on this thread ("" if none). */
const char *qb_last_error(void);
void qb_clear_error(void);

/* Exit status the CLI uses for a failed status: 2 for anything the user can
 * fix (bad input), 3 for internal errors. */
int qb_exit_code(qb_status s);

/* Allocation that records QB_ERR_NOMEM with the byte count on failure.
 * Returns NULL on failure (and when n*size overflows). */
void *qb_malloc(size_t n, size_t size);
void *qb_calloc(size_t n, size_t size);
/* 64-byte aligned, for SIMD kernels; free with free(). */
void *qb_aligned_alloc(size_t n, size_t size);

/* Checked multiplication for sizes: returns 0 and sets *out, or -1 on overflow. */
int qb_mul_overflow(size_t a, size_t b, size_t *out);

#define QB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
