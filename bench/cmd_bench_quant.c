/* `qbench bench-quant`: the quantizers' speed targets, each measured side by
 * side with its yardstick in the same run, on one thread:
 *   per-channel int8 quantize + dequantize of 16M floats, fused
 *   (fake-quantize) and in two passes through int8 codes, vs memcpy of the
 *   same floats (target: at least 50% of memcpy's bandwidth, where
 *   bandwidth is the float bytes read plus written); k-means with 16 centroids on 1M values (under 0.5 s); kl
 *   calibration over 10M values streamed through an observer (under 1 s).
 * Times are medians of repeated runs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "clock.h"
#include "commands.h"
#include "quant.h"
#include "rng.h"
#include "stats.h"
#include "uniform_kernels.h"

#define CMD "bench-quant"

typedef struct {
    float *x, *y;
    int8_t *q;
    int64_t n;
    qb_qparams *p;
    qb_status st;
} job;

typedef void (*job_fn)(job *j);

static void do_memcpy(job *j) { memcpy(j->y, j->x, (size_t)j->n * sizeof *j->x); }
static void keep_error(job *j, qb_status st)
{
    if (j->st == QB_OK) j->st = st;
}
static void do_fake(job *j) { keep_error(j, qb_fake_quantize(j->p, j->x, j->n, j->y)); }
static void do_two_step(job *j)
{
    keep_error(j, qb_quantize_to(j->p, j->x, j->n, QB_I8, j->q));
    keep_error(j, qb_dequantize_from(j->p, QB_I8, j->q, j->n, j->y));
}

/* Times each function `reps` times, interleaved (a, b, c, a, b, c, ...) so
 * that load from other processes hits them alike; medians into t[]. */
static void median_times(const job_fn *fn, int nfn, job *j, int reps, double *t)
{
    double s[4][32];
    if (reps > 32) reps = 32;
    for (int f = 0; f < nfn; f++) fn[f](j); /* warm-up: page faults, caches */
    for (int r = 0; r < reps; r++)
        for (int f = 0; f < nfn; f++) {
            double t0 = qb_now();
            fn[f](j);
            s[f][r] = qb_now() - t0;
        }
    for (int f = 0; f < nfn; f++) t[f] = qb_median(s[f], (size_t)reps);
}

static const char *verdict(int ok) { return ok ? "met" : "MISSED"; }

static qb_status bench_fake_quant(int reps)
{
    const int64_t rows = 4096, cols = 4096, n = rows * cols, shape[2] = {rows, cols};
    float *x = qb_aligned_alloc((size_t)n, sizeof *x), *y = qb_aligned_alloc((size_t)n, sizeof *y);
    int8_t *q = qb_aligned_alloc((size_t)n, sizeof *q);
    if (!x || !y || !q) {
        free(x);
        free(y);
        free(q);
        return QB_ERR_NOMEM;
    }
    qb_rng r;
    qb_rng_seed(&r, 1);
    for (int64_t i = 0; i < n; i++) x[i] = qb_rng_normal(&r) * (float)(1 + i / cols % 7);
    qb_quant_config c;
    qb_status st = qb_quant_config_parse(&c, "uniform-sym", 8, "channel", "minmax", "nearest");
    qb_qparams p = {0};
    double t0 = qb_now();
    if (st == QB_OK) st = qb_qparams_fit(&p, &c, x, 2, shape);
    double t_fit = qb_now() - t0;
    if (st == QB_OK) {
        job j = {x, y, q, n, &p, QB_OK};
        const job_fn fns[3] = {do_memcpy, do_fake, do_two_step};
        double t[3];
        median_times(fns, 3, &j, reps, t);
        double t_copy = t[0], t_fake = t[1], t_two = t[2];
        st = j.st;
        double bytes = 2.0 * (double)n * sizeof(float); /* read x, write y */
        double bw_copy = bytes / t_copy / 1e9, bw_fake = bytes / t_fake / 1e9;
        double ratio = bw_fake / bw_copy;
        printf("16M floats (4096 x 4096), int8 per-channel (uniform-sym, axis 0), kernels: %s\n",
               qb_uniform_kernels_best()->name);
        printf("  memcpy                          %8.2f ms  %6.1f GB/s (read + write)\n",
               t_copy * 1e3, bw_copy);
        printf("  fake-quantize (fused q + dq)    %8.2f ms  %6.1f GB/s  ratio %.2f of memcpy  "
               "(target >= 0.50: %s)\n", t_fake * 1e3, bw_fake, ratio, verdict(ratio >= 0.5));
        printf("  quantize to int8, dequantize    %8.2f ms  %6.1f GB/s  ratio %.2f of memcpy  "
               "(two passes through int8 codes)\n", t_two * 1e3, bytes / t_two / 1e9, t_copy / t_two);
        printf("  fit (per-channel minmax)        %8.2f ms\n", t_fit * 1e3);
    }
    qb_qparams_free(&p);
    free(x);
    free(y);
    free(q);
    return st;
}

static qb_status bench_kmeans(int reps)
{
    const int64_t n = 1 << 20;
    float *x = qb_malloc((size_t)n, sizeof *x);
    if (!x) return QB_ERR_NOMEM;
    qb_rng r;
    qb_rng_seed(&r, 2);
    for (int64_t i = 0; i < n; i++) x[i] = qb_rng_normal(&r);
    qb_quant_config c;
    qb_status st = qb_quant_config_parse(&c, "kmeans", 4, "tensor", "minmax", "nearest");
    double t[16];
    if (reps > 16) reps = 16;
    for (int k = 0; k < reps && st == QB_OK; k++) {
        qb_qparams p;
        double t0 = qb_now();
        st = qb_qparams_fit(&p, &c, x, 1, &n);
        t[k] = qb_now() - t0;
        if (st == QB_OK) qb_qparams_free(&p);
    }
    if (st == QB_OK) {
        double med = qb_median(t, (size_t)reps);
        printf("k-means, 16 centroids, 1M values    %8.3f s   (target < 0.5 s: %s)\n", med,
               verdict(med < 0.5));
    }
    free(x);
    return st;
}

static qb_status bench_kl(int reps)
{
    const int64_t n = 10 * 1000 * 1000, batch = 1 << 16;
    float *x = qb_malloc((size_t)n, sizeof *x);
    qb_observer *o = NULL;
    if (!x || qb_observer_create(&o) != QB_OK) {
        free(x);
        return QB_ERR_NOMEM;
    }
    qb_rng r;
    qb_rng_seed(&r, 3);
    for (int64_t i = 0; i < n; i++) x[i] = fmaxf(qb_rng_normal(&r), 0.0f) * 3.0f; /* ReLU outputs */
    qb_calib kl = {QB_CALIB_KL, 0};
    double t[16];
    if (reps > 16) reps = 16;
    float lo = 0, hi = 0;
    qb_status st = QB_OK;
    for (int k = 0; k < reps && st == QB_OK; k++) {
        qb_observer_reset(o);
        double t0 = qb_now();
        for (int64_t i = 0; i < n; i += batch) qb_observer_update(o, x + i, n - i < batch ? n - i : batch);
        st = qb_observer_range(o, &kl, &qb_scheme_uniform_asym, 8, 0, &lo, &hi);
        t[k] = qb_now() - t0;
    }
    if (st == QB_OK) {
        double med = qb_median(t, (size_t)reps);
        printf("kl calibration, 10M values          %8.3f s   (target < 1 s: %s; range [%g, %g] of max %g)\n",
               med, verdict(med < 1.0), lo, hi, qb_observer_max(o));
    }
    qb_observer_free(o);
    free(x);
    return st;
}

int qb_cmd_bench_quant(int argc, char **argv)
{
    int reps = 7;
    qb_opt opts[] = {
        {"--reps", QB_OPT_INT, &reps, "N", "timed repetitions per measurement (default 7, max 16)"},
    };
    qb_args args = {NULL, 0, 0, 0};
    qb_status st = qb_args_parse(CMD, argc, argv, opts, QB_ARRAY_LEN(opts), &args);
    if (st != QB_OK) return qb_cmd_fail(CMD, st);
    if (args.help) {
        qb_args_usage(stdout, CMD, "[--reps N]", opts, QB_ARRAY_LEN(opts));
        return 0;
    }
    if (reps < 1 || reps > 16)
        return qb_cmd_fail(CMD, qb_error(QB_ERR_ARG, "--reps: expected 1..16, got %d", reps));
    printf("quantizer speed, one thread (medians of %d runs)\n", reps);
    st = bench_fake_quant(reps);
    if (st == QB_OK) st = bench_kmeans(reps < 5 ? reps : 5);
    if (st == QB_OK) st = bench_kl(reps < 5 ? reps : 5);
    return st == QB_OK ? 0 : qb_cmd_fail(CMD, st);
}
