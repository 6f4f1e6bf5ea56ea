/* A fixed pool of worker threads for parallel-for work (fp32 engine, integer
 * kernels, training). The calling thread takes part as tid 0, so a pool of 1
 * runs everything inline. An optional per-thread init callback runs once on
 * each thread (tid 0 included) when the pool is created: the harness uses it
 * to bind threads to a placement's cores with hwloc. Workers spin briefly
 * before sleeping so that back-to-back small tasks (batch-1 layers) do not
 * pay a wake-up each time. One pool must not be used by two threads at once. */
#ifndef QB_POOL_H
#define QB_POOL_H

#include <stdint.h>
#include "status.h"

typedef struct qb_pool qb_pool;
typedef void (*qb_task_fn)(void *ctx, int tid, int nthreads);
typedef void (*qb_thread_init_fn)(void *ctx, int tid);

qb_status qb_pool_create(qb_pool **out, int nthreads, qb_thread_init_fn init, void *init_ctx);
/* Runs fn(ctx, tid, n) on every thread and returns when all have finished. */
void qb_pool_run(qb_pool *p, qb_task_fn fn, void *ctx);
int qb_pool_size(const qb_pool *p);
void qb_pool_free(qb_pool *p);

/* The [begin, end) share of n items for thread tid of nt (contiguous, balanced). */
static inline void qb_split_range(int64_t n, int tid, int nt, int64_t *begin, int64_t *end)
{
    int64_t base = n / nt, rem = n % nt;
    *begin = tid * base + (tid < rem ? tid : rem);
    *end = *begin + base + (tid < rem ? 1 : 0);
}

#endif
