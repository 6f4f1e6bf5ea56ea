/* Thread pool with a generation counter: run() bumps the generation, workers
 * notice (spinning first, then on a condition variable), run their share and
 * count down. */
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SPIN_ITERS 20000

struct worker {
    struct qb_pool *pool;
    int tid;
    pthread_t thread;
};

struct qb_pool {
    int n;
    struct worker *workers;      /* n - 1 workers; tid 0 is the caller */
    qb_thread_init_fn init;
    void *init_ctx;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_cond_t done_cv;
    atomic_uint generation;
    atomic_int pending;
    atomic_int sleepers;
    atomic_int done_waiting;
    qb_task_fn fn;
    void *ctx;
    int stop;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    qb_pool *p = w->pool;
    if (p->init) p->init(p->init_ctx, w->tid);
    unsigned seen = 0;
    for (;;) {
        unsigned gen;
        int spins = 0;
        while ((gen = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen) {
            if (++spins < SPIN_ITERS) {
#if defined(__x86_64__)
                __builtin_ia32_pause();
#endif
                continue;
            }
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while (atomic_load(&p->generation) == seen && !p->stop)
                pthread_cond_wait(&p->wake, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
            spins = 0;
        }
        seen = gen;
        if (p->stop) return NULL;
        p->fn(p->ctx, w->tid, p->n);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1 &&
            atomic_load(&p->done_waiting)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done_cv);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

qb_status qb_pool_create(qb_pool **out, int nthreads, qb_thread_init_fn init, void *init_ctx)
{
    *out = NULL;
    if (nthreads < 1) return qb_error(QB_ERR_ARG, "thread count must be at least 1, got %d", nthreads);
    qb_pool *p = qb_calloc(1, sizeof *p);
    if (!p) return QB_ERR_NOMEM;
    p->n = nthreads;
    p->init = init;
    p->init_ctx = init_ctx;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    if (init) init(init_ctx, 0);
    if (nthreads > 1) {
        p->workers = qb_calloc((size_t)nthreads - 1, sizeof *p->workers);
        if (!p->workers) {
            free(p);
            return QB_ERR_NOMEM;
        }
    }
    for (int i = 1; i < nthreads; i++) {
        struct worker *w = &p->workers[i - 1];
        w->pool = p;
        w->tid = i;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            p->n = i; /* only i-1 workers exist */
            qb_pool_free(p);
            return qb_error(QB_ERR_INTERNAL, "cannot start worker thread %d", i);
        }
    }
    *out = p;
    return QB_OK;
}

void qb_pool_run(qb_pool *p, qb_task_fn fn, void *ctx)
{
    if (p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->pending, p->n - 1);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
    fn(ctx, 0, p->n);
    int spins = 0;
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        if (++spins < SPIN_ITERS) continue;
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->done_waiting, 1);
        while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->done_cv, &p->mu);
        atomic_store(&p->done_waiting, 0);
        pthread_mutex_unlock(&p->mu);
    }
}

int qb_pool_size(const qb_pool *p) { return p->n; }

void qb_pool_free(qb_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    atomic_fetch_add(&p->generation, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->workers[i - 1].thread, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done_cv);
    free(p->workers);
    free(p);
}
