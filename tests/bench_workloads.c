/* Test workloads for the harness (see bench_workloads.h). */
#include "bench_workloads.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "csvio.h"
#include "qb_test.h"
#include "rng.h"
#include "workcount.h"

typedef struct {
    int wbits;
    float *w;      /* (K, N) fp32 weights */
    float *wq;     /* (K, N) weights after quantization (== w for fp32) */
    float *x, *y;  /* (cap, K), (cap, N) */
    int cap;
    uint8_t correct[(TW_EVAL_IMAGES + 7) / 8];
} mm_state;

long long tw_weight_bytes(int wbits)
{
    return (long long)TW_K * TW_N * (wbits >= 32 ? 4 : wbits) / (wbits >= 32 ? 1 : 8);
}

static double mm_estimate(const qb_qconfig *cfg, int with_eval)
{
    (void)cfg;
    return with_eval ? 0.02 : 0.01;
}

static void fill(float *v, size_t n, uint64_t seed)
{
    qb_rng r;
    qb_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) v[i] = qb_rng_normal(&r);
}

static void mm_free(void *st)
{
    mm_state *s = st;
    if (!s) return;
    free(s->w);
    free(s->wq);
    free(s->x);
    free(s->y);
    free(s);
}

static qb_status mm_prepare(const qb_qconfig *cfg, qb_pool *pool, void **out)
{
    (void)pool;
    mm_state *s = qb_calloc(1, sizeof *s);
    if (!s) return QB_ERR_NOMEM;
    s->wbits = cfg->wbits;
    s->w = qb_malloc(TW_K * TW_N, sizeof(float));
    s->wq = qb_malloc(TW_K * TW_N, sizeof(float));
    if (!s->w || !s->wq) {
        mm_free(s);
        return QB_ERR_NOMEM;
    }
    fill(s->w, TW_K * TW_N, 7);
    /* symmetric per-tensor quantization to wbits, round to nearest */
    float amax = 0;
    for (int i = 0; i < TW_K * TW_N; i++) amax = fmaxf(amax, fabsf(s->w[i]));
    int qmax = cfg->wbits >= 32 ? 0 : (1 << (cfg->wbits - 1)) - 1;
    for (int i = 0; i < TW_K * TW_N; i++)
        s->wq[i] = qmax > 0 ? nearbyintf(s->w[i] / amax * qmax) * amax / qmax
                 : cfg->wbits == 1 ? (s->w[i] >= 0 ? amax : -amax) : s->w[i];
    *out = s;
    return QB_OK;
}

typedef struct {
    const float *x, *w;
    float *y;
    int batch;
} mm_task;

static void mm_rows(void *ctx, int tid, int nt)
{
    mm_task *t = ctx;
    int64_t b0, b1;
    qb_split_range(t->batch, tid, nt, &b0, &b1);
    for (int64_t b = b0; b < b1; b++)
        for (int n = 0; n < TW_N; n++) {
            float acc = 0;
            for (int k = 0; k < TW_K; k++) acc += t->x[b * TW_K + k] * t->w[k * TW_N + n];
            t->y[b * TW_N + n] = acc;
        }
}

static qb_status ensure(mm_state *s, int batch)
{
    if (batch <= s->cap) return QB_OK;
    free(s->x);
    free(s->y);
    s->x = qb_malloc((size_t)batch * TW_K, sizeof(float));
    s->y = qb_malloc((size_t)batch * TW_N, sizeof(float));
    if (!s->x || !s->y) return QB_ERR_NOMEM;
    s->cap = batch;
    fill(s->x, (size_t)batch * TW_K, 11);
    return QB_OK;
}

static qb_status mm_setup(void *st, qb_pool *pool, int max_batch)
{
    (void)pool;
    return ensure(st, max_batch);
}

static qb_status mm_run(void *st, qb_pool *pool, int batch)
{
    mm_state *s = st;
    qb_status e = ensure(s, batch);
    if (e != QB_OK) return e;
    mm_task t = {s->x, s->wq, s->y, batch};
    qb_pool_run(pool, mm_rows, &t);
    qb_work_add(QB_WORK_MACS, (long long)batch * TW_K * TW_N);
    qb_work_add(QB_WORK_WEIGHT_BYTES, tw_weight_bytes(s->wbits));
    qb_work_add(QB_WORK_REQUANT, (long long)batch * TW_N);
    return QB_OK;
}

static int argmax(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

static qb_status mm_evaluate(void *st, qb_pool *pool, qb_eval_result *out)
{
    mm_state *s = st;
    int n = TW_EVAL_IMAGES;
    float *x = qb_malloc((size_t)n * TW_K, sizeof(float));
    float *yf = qb_malloc((size_t)n * TW_N, sizeof(float)), *yq = qb_malloc((size_t)n * TW_N, sizeof(float));
    if (!x || !yf || !yq) {
        free(x), free(yf), free(yq);
        return QB_ERR_NOMEM;
    }
    fill(x, (size_t)n * TW_K, 99);
    mm_task tf = {x, s->w, yf, n}, tq = {x, s->wq, yq, n};
    qb_pool_run(pool, mm_rows, &tf);
    qb_pool_run(pool, mm_rows, &tq);
    int right = 0;
    double kl = 0;
    memset(s->correct, 0, sizeof s->correct);
    for (int i = 0; i < n; i++) {
        int ok = argmax(yq + i * TW_N, TW_N) == argmax(yf + i * TW_N, TW_N);
        right += ok;
        if (ok) s->correct[i / 8] |= (uint8_t)(1u << (i % 8));
        double mf = yf[i * TW_N], mq = yq[i * TW_N], zf = 0, zq = 0;
        for (int j = 0; j < TW_N; j++) {
            mf = fmax(mf, yf[i * TW_N + j]);
            mq = fmax(mq, yq[i * TW_N + j]);
        }
        for (int j = 0; j < TW_N; j++) {
            zf += exp(yf[i * TW_N + j] - mf);
            zq += exp(yq[i * TW_N + j] - mq);
        }
        for (int j = 0; j < TW_N; j++) {
            double lp = yf[i * TW_N + j] - mf - log(zf), lq = yq[i * TW_N + j] - mq - log(zq);
            kl += exp(lp) * (lp - lq);
        }
    }
    free(x), free(yf), free(yq);
    out->accuracy = 100.0 * right / n;
    out->fp32_accuracy = 100.0;
    out->drop_pp = out->fp32_accuracy - out->accuracy;
    out->agreement = out->accuracy;
    out->kl = kl / n;
    out->size_bytes = tw_weight_bytes(s->wbits) + (s->wbits < 32 ? 4 : 0);
    out->compression = (double)tw_weight_bytes(32) / (double)out->size_bytes;
    out->n_images = n;
    out->correct = s->correct;
    return QB_OK;
}

static double mm_flops(void *st) { (void)st; return 2.0 * TW_K * TW_N; }
static double mm_bytes(void *st) { return (double)tw_weight_bytes(((mm_state *)st)->wbits); }
static const char *mm_backend(void *st) { (void)st; return "test-scalar"; }

const qb_workload tw_matmul = {.name = "matmul", .description = "64x64 matrix product",
                               .estimate_seconds = mm_estimate, .prepare = mm_prepare,
                               .evaluate = mm_evaluate, .setup_run = mm_setup, .run = mm_run,
                               .flops_per_inference = mm_flops, .bytes_per_inference = mm_bytes,
                               .backend_name = mm_backend,
                               .release = mm_free};

static qb_status crash_run(void *st, qb_pool *pool, int batch)
{
    (void)st, (void)pool, (void)batch;
    raise(SIGSEGV);
    return QB_OK;
}
const qb_workload tw_crash = {.name = "crash", .description = "dies in run()",
                              .estimate_seconds = mm_estimate, .prepare = mm_prepare, .run = crash_run,
                              .release = mm_free};

static qb_status hang_run(void *st, qb_pool *pool, int batch)
{
    (void)st, (void)pool, (void)batch;
    for (;;) pause();
    return QB_OK;
}
const qb_workload tw_hang = {.name = "hang", .description = "never returns from run()",
                             .estimate_seconds = mm_estimate, .prepare = mm_prepare, .run = hang_run,
                             .release = mm_free};

static qb_status failing_prepare(const qb_qconfig *cfg, qb_pool *pool, void **out)
{
    (void)cfg, (void)pool;
    *out = NULL;
    return qb_error(QB_ERR_FORMAT, "%s", TW_FAIL_MESSAGE);
}
const qb_workload tw_failing = {.name = "failing", .description = "prepare() fails",
                                .estimate_seconds = mm_estimate, .prepare = failing_prepare, .run = mm_run,
                                .release = mm_free};

static qb_status notimed_run(void *st, qb_pool *pool, int batch)
{
    (void)st, (void)pool, (void)batch;
    return qb_error(QB_ERR_UNSUPPORTED, "no integer path for this scheme");
}
const qb_workload tw_notimed = {.name = "notimed", .description = "no real execution path",
                                .estimate_seconds = mm_estimate, .prepare = mm_prepare,
                                .evaluate = mm_evaluate, .run = notimed_run, .flops_per_inference = mm_flops,
                                .bytes_per_inference = mm_bytes, .release = mm_free};

static const qb_workload *const all[] = {&tw_matmul, &tw_crash, &tw_hang, &tw_failing, &tw_notimed};
const qb_workload_set tw_set = {all, 5, NULL, NULL};

void tw_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void tw_expect_run_parses(const char *run)
{
    const char *files[] = {"results.csv", "samples.csv", "outcomes.csv", "meta.csv"};
    for (int i = 0; i < 4; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", run, files[i]);
        struct stat st;
        if (stat(path, &st) != 0) continue;
        qb_csv_records t;
        if (qb_csv_read_records(path, &t) != QB_OK) fail_msg("after SIGKILL: %s", qb_last_error());
        qb_csv_records_free(&t);
    }
}
