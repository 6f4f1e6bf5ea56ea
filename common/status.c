/* Per-thread error messages and checked allocation (see status.h). */
#include "status.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char last_msg[1024];

const char *qb_status_name(qb_status s)
{
    switch (s) {
    case QB_OK: return "ok";
    case QB_ERR_ARG: return "bad argument";
    case QB_ERR_IO: return "i/o error";
    case QB_ERR_FORMAT: return "malformed input";
    case QB_ERR_UNSUPPORTED: return "unsupported";
    case QB_ERR_NOMEM: return "out of memory";
    case QB_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

qb_status qb_error(qb_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_msg, sizeof last_msg, fmt, ap);
    va_end(ap);
    return s;
}

qb_status qb_error_context(qb_status s, const char *fmt, ...)
{
    char old[sizeof last_msg];
    memcpy(old, last_msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(last_msg, sizeof last_msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n + 2 < sizeof last_msg) {
        size_t room = sizeof last_msg - (size_t)n;
        last_msg[n] = ':';
        last_msg[n + 1] = ' ';
        memcpy(last_msg + n + 2, old, room - 2);
        last_msg[sizeof last_msg - 1] = '\0';
    }
    return s;
}

const char *qb_last_error(void) { return last_msg; }
void qb_clear_error(void) { last_msg[0] = '\0'; }

int qb_exit_code(qb_status s)
{
    if (s == QB_OK) return 0;
    return s == QB_ERR_INTERNAL ? 3 : 2;
}

int qb_mul_overflow(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return -1;
    *out = a * b;
    return 0;
}

void *qb_malloc(size_t n, size_t size)
{
    size_t bytes;
    if (qb_mul_overflow(n, size, &bytes)) {
        qb_error(QB_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    void *p = malloc(bytes ? bytes : 1);
    if (!p) qb_error(QB_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
    return p;
}

void *qb_calloc(size_t n, size_t size)
{
    size_t bytes;
    if (qb_mul_overflow(n, size, &bytes)) {
        qb_error(QB_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    void *p = calloc(bytes ? n : 1, bytes ? size : 1);
    if (!p) qb_error(QB_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
    return p;
}

void *qb_aligned_alloc(size_t n, size_t size)
{
    size_t bytes;
    if (qb_mul_overflow(n, size, &bytes) || bytes > SIZE_MAX - 64) {
        qb_error(QB_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    bytes = (bytes + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, bytes ? bytes : 64);
    if (!p) qb_error(QB_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
    return p;
}
