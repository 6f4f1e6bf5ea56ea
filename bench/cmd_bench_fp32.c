/* `qbench bench-fp32`: fp32 inference throughput of a model (resnet by
 * default: BN folded, batch 64, one thread) next to the GEMM library's own
 * speed on exactly the GEMM shapes that forward pass runs, measured in the
 * same process, alternately, for both libraries; then the training time of each model
 * file, from its metadata. The ratio engine/GEMM-alone says how much the
 * engine's im2col, bias, ReLU and pooling cost on top of the GEMMs. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "clock.h"
#include "commands.h"
#include "exec.h"
#include "gemm.h"
#include "layers.h"
#include "modelfile.h"
#include "rng.h"
#include "stats.h"

#define MAX_REPS 200

/* Times fa and fb alternately (a, b, a, b, ...) for at least min_reps pairs
 * and min_seconds, so that a change in machine load hits both alike; the
 * medians go to *ta and *tb. */
typedef void (*timed_fn)(void *ctx);
static void median_times(timed_fn fa, void *ca, timed_fn fb, void *cb, int min_reps,
                         double min_seconds, double *ta, double *tb)
{
    double a[MAX_REPS], b[MAX_REPS];
    fa(ca); /* warm-up */
    fb(cb);
    int n = 0;
    double start = qb_now();
    while (n < MAX_REPS && (n < min_reps || qb_now() - start < min_seconds)) {
        double t0 = qb_now();
        fa(ca);
        double t1 = qb_now();
        fb(cb);
        a[n] = t1 - t0;
        b[n++] = qb_now() - t1;
    }
    *ta = qb_median(a, (size_t)n);
    *tb = qb_median(b, (size_t)n);
}

typedef struct {
    qb_exec *e;
    const float *x;
    int batch;
} forward_ctx;

static void run_forward(void *p)
{
    forward_ctx *c = p;
    qb_exec_forward(c->e, c->x, c->batch);
}

typedef struct {
    const qb_model *m;
    int batch;
    qb_gemm_backend be;
    float *a, *b, *c;
} gemm_ctx;

/* The forward pass's GEMMs alone: same shapes and counts, each layer's own
 * weights, one reused buffer for the other operand and the result (as hot
 * as a GEMM library's own benchmark would have them). */
static void run_gemms(void *p)
{
    gemm_ctx *g = p;
    for (int i = 0; i < g->m->n_layers; i++) {
        int64_t m, n, k, calls;
        const qb_layer *l = &g->m->layers[i];
        if (!qb_layer_gemm_shape(l, g->batch, &m, &n, &k, &calls)) continue;
        const float *w = l->params[QB_P_WEIGHT].value.data;
        for (int64_t r = 0; r < calls; r++) {
            if (l->kind == QB_LAYER_DENSE) /* x W^T */
                qb_sgemm_on(g->be, 0, 1, m, n, k, 1.0f, g->a, k, w, k, 0.0f, g->c, n);
            else
                qb_sgemm_on(g->be, 0, 0, m, n, k, 1.0f, w, k, g->b, n, 0.0f, g->c, n);
        }
    }
}

static void print_training_times(void)
{
    const char *dir = qb_models_dir();
    printf("\ntraining time per model (from the model files' metadata, %s):\n", dir);
    printf("  %-8s %7s %12s %10s %9s  %s\n", "model", "epochs", "train time", "per epoch",
           "accuracy", "trained with");
    static const char *names[] = {"mlp", "lenet", "resnet"};
    for (size_t i = 0; i < QB_ARRAY_LEN(names); i++) {
        char path[1100];
        qb_model_path(names[i], path, sizeof path);
        qb_model m;
        qb_meta meta;
        if (qb_model_load(path, &m, &meta, NULL) != QB_OK) {
            printf("  %-8s (no model file: %s)\n", names[i], qb_last_error());
            continue;
        }
        const char *ep = qb_meta_get(&meta, "epochs"), *secs = qb_meta_get(&meta, "train_seconds");
        const char *acc = qb_meta_get(&meta, "fp32_test_accuracy"), *gemm = qb_meta_get(&meta, "gemm");
        double s = secs ? atof(secs) : 0;
        int e = ep ? atoi(ep) : 0;
        printf("  %-8s %7d %10.1f m %8.1f s %8s%%  %s\n", names[i], e, s / 60, e ? s / e : 0,
               acc ? acc : "?", gemm ? gemm : "?");
        qb_model_free(&m);
        qb_meta_free(&meta);
    }
}

int qb_cmd_bench_fp32(int argc, char **argv)
{
    const char *model_name = "resnet";
    int batch = 64;
    double seconds = 2.0;
    qb_opt opts[] = {
        {"--model", QB_OPT_STR, &model_name, "M", "model name or .safetensors file (default resnet)"},
        {"--batch", QB_OPT_INT, &batch, "B", "images per forward pass (default 64)"},
        {"--seconds", QB_OPT_DOUBLE, &seconds, "S", "minimum timing per measurement (default 2)"},
    };
    qb_args a = {NULL, 0, 0, 0};
    qb_status s = qb_args_parse("bench-fp32", argc, argv, opts, (int)QB_ARRAY_LEN(opts), &a);
    if (s != QB_OK) return qb_cmd_fail("bench-fp32", s);
    if (a.help) {
        qb_args_usage(stdout, "bench-fp32", "[--model M] [--batch B] [--seconds S]", opts,
                      (int)QB_ARRAY_LEN(opts));
        return 0;
    }
    if (batch < 1 || batch > 4096 || seconds <= 0 || seconds > 600)
        return qb_cmd_fail("bench-fp32", qb_error(QB_ERR_ARG, "--batch must be 1..4096 and "
                                                              "--seconds in (0, 600]"));
    qb_gemm_backend def;
    if ((s = qb_gemm_default(&def)) != QB_OK) return qb_cmd_fail("bench-fp32", s);
    char path[1100];
    qb_model_path(model_name, path, sizeof path);
    qb_model trained, m;
    if ((s = qb_model_load(path, &trained, NULL, NULL)) != QB_OK) return qb_cmd_fail("bench-fp32", s);
    s = qb_model_fold_bn(&trained, &m);
    qb_model_free(&trained);
    if (s != QB_OK) return qb_cmd_fail("bench-fp32", s);

    int64_t in_n = (int64_t)m.in_c * m.in_h * m.in_w, max_a = 1, max_b = 1, max_c = 1;
    for (int i = 0; i < m.n_layers; i++) {
        int64_t mm, n, k, calls;
        if (!qb_layer_gemm_shape(&m.layers[i], batch, &mm, &n, &k, &calls)) continue;
        if (mm * k > max_a) max_a = mm * k;
        if (k * n > max_b) max_b = k * n;
        if (mm * n > max_c) max_c = mm * n;
    }
    float *x = qb_aligned_alloc((size_t)(batch * in_n), sizeof(float));
    gemm_ctx g = {.m = &m, .batch = batch};
    g.a = qb_aligned_alloc((size_t)max_a, sizeof(float));
    g.b = qb_aligned_alloc((size_t)max_b, sizeof(float));
    g.c = qb_aligned_alloc((size_t)max_c, sizeof(float));
    qb_exec *e = NULL;
    if (!x || !g.a || !g.b || !g.c || (s = qb_exec_create(&e, &m, batch, NULL, QB_EXEC_INFER)) != QB_OK) {
        s = s != QB_OK ? s : QB_ERR_NOMEM;
        goto done;
    }
    qb_rng r;
    qb_rng_seed(&r, 1);
    for (int64_t i = 0; i < batch * in_n; i++) x[i] = qb_rng_normal(&r);
    for (int64_t i = 0; i < max_a; i++) g.a[i] = qb_rng_normal(&r);
    for (int64_t i = 0; i < max_b; i++) g.b[i] = qb_rng_normal(&r);

    double flops = 2.0 * (double)qb_model_macs(&m) * batch;
    printf("fp32 inference: %s (%s, BN folded, %lld MACs/image), batch %d, 1 thread\n", model_name,
           m.arch, (long long)qb_model_macs(&m), batch);
    printf("  %-48s %10s %10s %12s %7s\n", "GEMM library and kernel", "images/s", "GFLOP/s",
           "GEMM GFLOP/s", "ratio");
    double ratio_default = 0;
    for (int be = 0; be < QB_GEMM_BACKEND_COUNT; be++) {
        qb_gemm_select((qb_gemm_backend)be);
        g.be = (qb_gemm_backend)be;
        forward_ctx fc = {e, x, batch};
        double t_engine, t_gemm;
        median_times(run_forward, &fc, run_gemms, &g, 5, seconds, &t_engine, &t_gemm);
        double ratio = t_gemm / t_engine;
        if ((qb_gemm_backend)be == def) ratio_default = ratio;
        printf("  %-48s %10.0f %10.1f %12.1f %6.1f%%%s\n", qb_gemm_describe((qb_gemm_backend)be),
               batch / t_engine, flops / t_engine / 1e9, flops / t_gemm / 1e9, 100 * ratio,
               (qb_gemm_backend)be == def ? "  (default)" : "");
    }
    qb_gemm_select(def);
    printf("  engine / GEMM-alone with the default library: %.1f%% (target >= 60%%: %s)\n",
           100 * ratio_default, ratio_default >= 0.6 ? "met" : "NOT met");
    print_training_times();
done:
    qb_exec_free(e);
    free(x);
    free(g.a);
    free(g.b);
    free(g.c);
    qb_model_free(&m);
    return s == QB_OK ? 0 : qb_cmd_fail("bench-fp32", s);
}
