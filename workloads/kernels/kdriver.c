/* Helpers the kernel drivers share: splitting work over the pool and
 * scratch memory (see kernel_impl.h). */
#include <pthread.h>
#include <stdlib.h>
#include "backend.h"
#include "clock.h"
#include "kernel_impl.h"

/* The test hook QBENCH_TEST_SLOWDOWN (see kernel_impl.h), read once. */
static double slowdown = 1;
static pthread_once_t slowdown_once = PTHREAD_ONCE_INIT;

static void read_slowdown(void)
{
    const char *s = getenv("QBENCH_TEST_SLOWDOWN");
    char *end;
    if (!s || !*s) return;
    double f = strtod(s, &end);
    if (*end == '\0' && f > 1 && f <= 100) slowdown = f;
}

double qb_kernel_test_slowdown(void)
{
    pthread_once(&slowdown_once, read_slowdown);
    return slowdown;
}

struct blocks_ctx {
    int64_t m, n, row_block, n_unit;
    int by_rows;
    qb_range_fn fn;
    void *ctx;
};

static void blocks_task(void *p, int tid, int nt)
{
    struct blocks_ctx *b = p;
    int64_t lo, hi;
    if (b->by_rows) {
        qb_split_range((b->m + b->row_block - 1) / b->row_block, tid, nt, &lo, &hi);
        int64_t m0 = lo * b->row_block, m1 = hi * b->row_block < b->m ? hi * b->row_block : b->m;
        if (m0 < m1) b->fn(b->ctx, tid, m0, m1, 0, b->n);
    } else {
        qb_split_range((b->n + b->n_unit - 1) / b->n_unit, tid, nt, &lo, &hi);
        int64_t n0 = lo * b->n_unit, n1 = hi * b->n_unit < b->n ? hi * b->n_unit : b->n;
        if (n0 < n1) b->fn(b->ctx, tid, 0, b->m, n0, n1);
    }
}

static void run_blocks(qb_pool *pool, int64_t m, int64_t n, int64_t row_block, int64_t n_unit,
                       int64_t macs, qb_range_fn fn, void *ctx)
{
    int nt = pool ? qb_pool_size(pool) : 1;
    if (nt == 1 || macs < QB_PARALLEL_MIN_MACS) {
        fn(ctx, 0, 0, m, 0, n);
        return;
    }
    int64_t mtiles = (m + row_block - 1) / row_block, nunits = (n + n_unit - 1) / n_unit;
    struct blocks_ctx b = {m, n, row_block, n_unit, mtiles >= 2 * nt || nunits < nt, fn, ctx};
    qb_pool_run(pool, blocks_task, &b);
}

void qb_run_blocks(qb_pool *pool, int64_t m, int64_t n, int64_t row_block, int64_t n_unit,
                   int64_t macs, qb_range_fn fn, void *ctx)
{
    if (m <= 0 || n <= 0) return;
    double f = qb_kernel_test_slowdown();
    if (f <= 1) {
        run_blocks(pool, m, n, row_block, n_unit, macs, fn, ctx);
        return;
    }
    double t0 = qb_now();
    run_blocks(pool, m, n, row_block, n_unit, macs, fn, ctx);
    double end = qb_now() + (f - 1) * (qb_now() - t0);
    while (qb_now() < end) {
    }
}

struct rows_ctx {
    int64_t m;
    qb_rows_fn fn;
    void *ctx;
};

static void rows_task(void *p, int tid, int nt)
{
    struct rows_ctx *r = p;
    int64_t m0, m1;
    qb_split_range(r->m, tid, nt, &m0, &m1);
    if (m0 < m1) r->fn(r->ctx, tid, m0, m1);
}

void qb_run_rows(qb_pool *pool, int64_t m, int64_t work, qb_rows_fn fn, void *ctx)
{
    if (m <= 0) return;
    if (!pool || qb_pool_size(pool) == 1 || work < QB_PARALLEL_MIN_MACS) {
        fn(ctx, 0, 0, m);
        return;
    }
    struct rows_ctx r = {m, fn, ctx};
    qb_pool_run(pool, rows_task, &r);
}

void qb_scratch_free(qb_scratch *s)
{
    if (!s) return;
    free(s->p);
    s->p = NULL;
    s->cap = 0;
}

void qb_scratch_plan_add(qb_scratch_plan *p, size_t bytes)
{
    p->total += (bytes + 63) / 64 * 64;
}

char *qb_scratch_get(qb_scratch *s, qb_scratch *owned, const qb_scratch_plan *p)
{
    if (!s) s = owned;
    if (s->cap < p->total || !s->p) {
        void *np = qb_aligned_alloc(p->total ? p->total : 64, 1);
        if (!np) return NULL;
        free(s->p);
        s->p = np;
        s->cap = p->total;
    }
    return s->p;
}

const qb_backend *qb_backend_or_best(const qb_backend *be)
{
    return be ? be : qb_backend_best();
}
