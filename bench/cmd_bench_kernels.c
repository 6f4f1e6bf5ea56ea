/* `qbench bench-kernels`: GOP/s of qbench's low-precision kernels and of
 * the peers (oneDNN, OpenBLAS) on the same shapes, at one and two threads,
 * each with its ratio to the best fp32 implementation measured in the same
 * run; then the targets checked against those ratios. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "backend.h"
#include "commands.h"
#include "kbench.h"
#include "peers.h"

#define MAX_ROWS 1024

typedef struct {
    const kb_shape *shape; /* NULL for memory and model rows */
    const char *name, *kind, *impl, *dtype;
    int threads;
    kb_result r;
    double vs_fp32, vs_onednn, gbps, vs_dram; /* 0: not applicable */
} row;

#define N_MODELS 3

typedef struct {
    row rows[MAX_ROWS];
    int n;
    char names[8][32]; /* model row names */
    kb_profile prof[2][N_MODELS]; /* --layers: [thread count index][model] */
} table;

static row *add_row(table *t)
{
    if (t->n == MAX_ROWS) return NULL;
    row *r = &t->rows[t->n++];
    memset(r, 0, sizeof *r);
    return r;
}

static const row *find(const table *t, const char *shape, const char *impl, int threads)
{
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->rows[i].name, shape) == 0 && strcmp(t->rows[i].impl, impl) == 0 && t->rows[i].threads == threads)
            return &t->rows[i];
    return NULL;
}

/* Best fp32 GOP/s for a shape at a thread count (0 if none measured). */
static double best_fp32(const table *t, const char *shape, int threads)
{
    double best = 0;
    for (int i = 0; i < t->n; i++) {
        const row *r = &t->rows[i];
        if (r->shape && strcmp(r->name, shape) == 0 && r->threads == threads && strcmp(r->dtype, "fp32") == 0 &&
            r->r.gops > best)
            best = r->r.gops;
    }
    return best;
}

static void fill_ratios(table *t)
{
    for (int i = 0; i < t->n; i++) {
        row *r = &t->rows[i];
        if (!r->shape) continue;
        double f = best_fp32(t, r->name, r->threads);
        r->vs_fp32 = f > 0 ? r->r.gops / f : 0;
        if (strncmp(r->impl, "qbench-", 7) == 0) {
            char peer[32];
            snprintf(peer, sizeof peer, "onednn-%s", r->dtype);
            const row *p = find(t, r->name, peer, r->threads);
            r->vs_onednn = p && p->r.gops > 0 ? r->r.gops / p->r.gops : 0;
        }
    }
}

static void print_num(FILE *f, double v, const char *fmt)
{
    if (v > 0) fprintf(f, fmt, v);
}

static void write_csv(FILE *f, const table *t)
{
    fprintf(f, "shape,source,kind,m,n,k,impl,dtype,threads,median_us,gops,vs_fp32,vs_onednn,weight_bytes,"
               "weight_vs_fp32,gbps,vs_dram,detail\n");
    for (int i = 0; i < t->n; i++) {
        const row *r = &t->rows[i];
        const kb_shape *s = r->shape;
        if (s)
            fprintf(f, "%s,%s,%s,%lld,%lld,%lld,", r->name, s->source, s->kind == KB_CONV ? "conv" : "gemm",
                    (long long)s->m, (long long)s->n, (long long)s->k);
        else
            fprintf(f, "%s,,%s,,,,", r->name, r->kind ? r->kind : "memory");
        fprintf(f, "%s,%s,%d,%.3f,", r->impl, r->dtype, r->threads, r->r.seconds * 1e6);
        print_num(f, r->r.gops, "%.2f");
        fputc(',', f);
        print_num(f, r->vs_fp32, "%.3f");
        fputc(',', f);
        print_num(f, r->vs_onednn, "%.3f");
        fputc(',', f);
        if (r->r.weight_bytes) fprintf(f, "%zu", r->r.weight_bytes);
        fputc(',', f);
        if (s && r->r.weight_bytes) fprintf(f, "%.4f", (double)r->r.weight_bytes / ((double)s->n * (double)s->k * 4));
        fputc(',', f);
        print_num(f, r->gbps, "%.2f");
        fputc(',', f);
        print_num(f, r->vs_dram, "%.3f");
        fprintf(f, ",\"%s\"\n", r->r.detail);
    }
}

static void write_text(FILE *f, const table *t)
{
    fprintf(f, "%-20s %-15s %3s %11s %9s %8s %8s %8s  %s\n", "shape (m x n x k)", "impl", "thr", "median_us",
            "GOP/s", "vs_fp32", "vs_dnnl", "GB/s", "detail");
    const char *last = "";
    for (int i = 0; i < t->n; i++) {
        const row *r = &t->rows[i];
        if (strcmp(last, r->name) != 0) {
            if (r->shape)
                fprintf(f, "%s (%lld x %lld x %lld%s)\n", r->name, (long long)r->shape->m, (long long)r->shape->n,
                        (long long)r->shape->k, r->shape->kind == KB_CONV ? ", conv" : "");
            else
                fprintf(f, "%s\n", r->name);
            last = r->name;
        }
        fprintf(f, "  %-18s %-15s %3d %11.1f ", "", r->impl, r->threads, r->r.seconds * 1e6);
        if (r->r.gops > 0) fprintf(f, "%9.1f ", r->r.gops); else fprintf(f, "%9s ", "");
        if (r->vs_fp32 > 0) fprintf(f, "%7.2fx ", r->vs_fp32); else fprintf(f, "%8s ", "");
        if (r->vs_onednn > 0) fprintf(f, "%7.2fx ", r->vs_onednn); else fprintf(f, "%8s ", "");
        if (r->gbps > 0) fprintf(f, "%8.1f ", r->gbps); else fprintf(f, "%8s ", "");
        fprintf(f, " %s\n", r->r.detail);
    }
}

static void print_share(FILE *f, double s, double total)
{
    fprintf(f, " %9.1f %6.1f%%", s * 1e6, total > 0 ? 100 * s / total : 0);
}

/* --layers: each model's per-layer times, fp32 engine and int8 executor
 * side by side, with each layer's share of its engine's total. */
static void write_layers(FILE *f, const table *t, const int *threads, int nthreads)
{
    for (int ti = 0; ti < nthreads; ti++)
        for (int mi = 0; mi < N_MODELS; mi++) {
            const kb_profile *p = &t->prof[ti][mi];
            if (!p->n) continue;
            double tf = 0, tq = p->int8_input;
            for (int i = 0; i < p->n; i++) tf += p->fp32[i], tq += p->int8[i];
            fprintf(f, "\nper-layer time of %s, %d thread%s (us per forward pass, BN folded into convs):\n",
                    t->names[mi], threads[ti], threads[ti] > 1 ? "s" : "");
            fprintf(f, "  %-24s %-8s %9s %7s %9s %7s %9s  %s\n", "layer", "kind", "fp32_us", "share", "int8_us",
                    "share", "fp32/int8", "int8 executor");
            fprintf(f, "  %-24s %-8s %9s %7s", "(input)", "", "", "");
            print_share(f, p->int8_input, tq);
            fprintf(f, " %9s  layout and quantization\n", "");
            for (int i = 0; i < p->n; i++) {
                fprintf(f, "  %-24s %-8s", p->name[i], p->kind[i]);
                print_share(f, p->fp32[i], tf);
                print_share(f, p->int8[i], tq);
                if (!p->merged[i] && p->int8[i] > 0) fprintf(f, " %8.2fx", p->fp32[i] / p->int8[i]);
                else fprintf(f, " %9s", "");
                fprintf(f, "  %s\n", p->how[i]);
            }
            fprintf(f, "  %-24s %-8s %9.1f %7s %9.1f %7s %8.2fx\n", "total", "", tf * 1e6, "", tq * 1e6, "",
                    tq > 0 ? tf / tq : 0);
        }
}

/* One target line: "ok" or "MISSED", with the numbers it compares. */
static int target(FILE *f, const char *what, double got, double need, const char *how)
{
    int ok = got >= need;
    fprintf(f, "  %-6s %-62s %7.2f (need >= %.2f)  %s\n", got > 0 ? (ok ? "ok" : "MISSED") : "n/a", what, got,
            need, how);
    return got > 0 && !ok;
}

/* The row of impl at th threads with the lowest ratio (to fp32, or to
 * oneDNN of the same type) among shapes, or NULL. */
static const row *worst_row(const table *t, const char *const *shapes, size_t n, const char *impl, int th,
                            int vs_onednn)
{
    const row *worst = NULL;
    for (size_t i = 0; i < n; i++) {
        const row *r = find(t, shapes[i], impl, th);
        if (r && (!worst || (vs_onednn ? r->vs_onednn < worst->vs_onednn : r->vs_fp32 < worst->vs_fp32))) worst = r;
    }
    return worst;
}

static int print_targets(FILE *f, const table *t, const int *threads, int nthreads)
{
    static const char *const shapes[] = {"r50-c2-3x3", "r50-c4-3x3"};
    static const char *const binary_shapes[] = {"r50-c2-3x3", "r50-c4-3x3", "ds2-rnn-2560", "ds2-fc"};
    static const char *const resnet20[] = {"resnet20-stem-b64", "resnet20-s1-b64", "resnet20-s2-down-b64",
                                           "resnet20-s2-b64", "resnet20-s3-b64"};
    int missed = 0;
    char what[128];
    fprintf(f, "\ntargets (ratios measured in this run):\n");
    for (int ti = 0; ti < nthreads; ti++) {
        int th = threads[ti];
        for (size_t i = 0; i < QB_ARRAY_LEN(shapes); i++) {
            const row *q = find(t, shapes[i], "qbench-int8", th);
            if (!q) continue;
            snprintf(what, sizeof what, "int8 vs oneDNN int8, %s, %d thread%s", shapes[i], th, th > 1 ? "s" : "");
            missed += target(f, what, q->vs_onednn, 0.9, "");
            snprintf(what, sizeof what, "int8 vs best fp32, %s, %d thread%s", shapes[i], th, th > 1 ? "s" : "");
            missed += target(f, what, q->vs_fp32, 3.5, "");
        }
        const row *b = worst_row(t, binary_shapes, QB_ARRAY_LEN(binary_shapes), "qbench-binary", th, 0);
        if (b) {
            snprintf(what, sizeof what, "binary vs best fp32 (worst: %s), %d thread%s", b->name, th, th > 1 ? "s" : "");
            missed += target(f, what, b->vs_fp32, 10, "");
        }
        const row *q = worst_row(t, resnet20, QB_ARRAY_LEN(resnet20), "qbench-int8", th, 1);
        if (q && q->vs_onednn > 0) {
            snprintf(what, sizeof what, "int8 vs oneDNN int8 (worst: %s), %d thread%s", q->name, th, th > 1 ? "s" : "");
            missed += target(f, what, q->vs_onednn, 0.9, "");
        }
        for (int i = 0; i < t->n; i++) {
            const row *r = &t->rows[i];
            if (r->kind && strncmp(r->name, "resnet-e2e", 10) == 0 && strcmp(r->impl, "iexec-int8") == 0 &&
                r->threads == th) {
                snprintf(what, sizeof what, "%s int8 executor vs fp32 engine, %d thread%s", r->name, th, th > 1 ? "s" : "");
                missed += target(f, what, r->vs_fp32, 2.5, "");
            }
            if (!r->shape && r->threads == th && r->vs_dram > 0) {
                snprintf(what, sizeof what, "%s vs DRAM read, %d thread%s", r->name, th, th > 1 ? "s" : "");
                missed += target(f, what, r->vs_dram, 0.8, "");
            }
        }
    }
    fprintf(f, "packed weight bytes / fp32 bytes (ds2-rnn-2560, measured):");
    static const char *const packed[] = {"qbench-int8", "qbench-int4", "qbench-ternary", "qbench-binary"};
    for (size_t i = 0; i < QB_ARRAY_LEN(packed); i++) {
        const row *r = find(t, "ds2-rnn-2560", packed[i], threads[0]);
        if (r) fprintf(f, "  %s %.4f", packed[i] + 7, (double)r->r.weight_bytes / (2560.0 * 2560.0 * 4));
    }
    fprintf(f, "\n  (int8 1/4 = 0.25; int4 1/8 + a float scale per 32 weights = 0.156; ternary 1/16 = 0.0625;\n"
               "   binary 1/32 = 0.03125)\n");
    return missed;
}

/* Peer runtimes spin for a long time after each call by default (OpenMP
 * 300k iterations, OpenBLAS 2^28 cycles), which steals a core from the
 * next implementation measured on a 2-core machine. Both read their
 * settings when loaded, so set them and re-execute once. Returns only if
 * nothing needed changing or exec failed. */
static void reexec_with_short_spins(int argc, char **argv)
{
    if (getenv("QBENCH_KBENCH_ENV")) return;
    setenv("QBENCH_KBENCH_ENV", "1", 1);
    setenv("GOMP_SPINCOUNT", "30000", 0);      /* about what qbench's pool spins */
    setenv("OPENBLAS_THREAD_TIMEOUT", "20", 0); /* 2^20 cycles */
    char **nargv = calloc((size_t)argc + 3, sizeof *nargv);
    if (!nargv) return;
    nargv[0] = "qbench";
    nargv[1] = "bench-kernels";
    for (int i = 0; i < argc; i++) nargv[i + 2] = argv[i];
    execv("/proc/self/exe", nargv);
    free(nargv); /* exec failed: measure with the defaults */
}

static int matches(const char *name, const char *source, const char *filter)
{
    if (!filter || !*filter) return 1;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", filter);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ","))
        if (strstr(name, tok) || strcmp(source, tok) == 0) return 1;
    return 0;
}

int qb_cmd_bench_kernels(int argc, char **argv)
{
    int threads_opt = 0, quick = 0, no_memory = 0, no_models = 0, model_batch = 64, layers = 0;
    const char *format = "text", *filter = NULL, *impl_filter = NULL, *backend_name = NULL;
    double min_time = 0.25;
    qb_opt opts[] = {
        {"--threads", QB_OPT_INT, &threads_opt, "N", "run only with N threads (default: 1 and 2)"},
        {"--format", QB_OPT_STR, &format, "text|csv", "output format (default text)"},
        {"--shapes", QB_OPT_STR, &filter, "LIST", "comma-separated shape names, name parts or sources (resnet50, ...)"},
        {"--impls", QB_OPT_STR, &impl_filter, "LIST", "comma-separated implementations (qbench-int8, onednn-fp32, ...)"},
        {"--backend", QB_OPT_STR, &backend_name, "NAME", "qbench backend (default: $QBENCH_BACKEND or the best)"},
        {"--min-time", QB_OPT_DOUBLE, &min_time, "S", "seconds of timed repetitions per measurement (default 0.25)"},
        {"--quick", QB_OPT_FLAG, &quick, NULL, "two small shapes, short timings, no memory probes (smoke test)"},
        {"--no-memory", QB_OPT_FLAG, &no_memory, NULL, "skip the DRAM bandwidth and cold 4-bit GEMV probes"},
        {"--no-models", QB_OPT_FLAG, &no_models, NULL, "skip the end-to-end models (fp32 engine vs int8 executor)"},
        {"--model-batch", QB_OPT_INT, &model_batch, "B", "images per forward pass of the end-to-end rows (default 64)"},
        {"--layers", QB_OPT_FLAG, &layers, NULL,
         "after the table, each end-to-end model's time per layer, fp32 engine and int8 executor side by side (text only)"},
    };
    qb_args a = {NULL, 0, 0, 0};
    static const char *cmd = "bench-kernels";
    qb_status st = qb_args_parse(cmd, argc, argv, opts, (int)QB_ARRAY_LEN(opts), &a);
    if (st) return qb_cmd_fail(cmd, st);
    if (a.help) {
        qb_args_usage(stdout, cmd, "[flags]", opts, (int)QB_ARRAY_LEN(opts));
        return 0;
    }
    reexec_with_short_spins(argc, argv);
    int csv = strcmp(format, "csv") == 0;
    if (!csv && strcmp(format, "text") != 0)
        return qb_cmd_fail(cmd, qb_error(QB_ERR_ARG, "--format: expected text or csv, got '%s'", format));
    if (csv && layers)
        return qb_cmd_fail(cmd, qb_error(QB_ERR_ARG, "--layers prints a text table; drop it or use --format text"));
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (threads_opt < 0 || threads_opt > 64)
        return qb_cmd_fail(cmd, qb_error(QB_ERR_ARG, "--threads: expected 1..64, got %d", threads_opt));
    if (!(min_time > 0 && min_time <= 60))
        return qb_cmd_fail(cmd, qb_error(QB_ERR_ARG, "--min-time: expected seconds in (0, 60], got %g", min_time));
    const qb_backend *be;
    if ((st = qb_backend_select(backend_name, &be))) return qb_cmd_fail(cmd, st);
    if (quick) {
        if (!filter) filter = "mlp-fc1-b64,lenet-conv2-b64";
        min_time = min_time < 0.02 ? min_time : 0.02;
        no_memory = 1;
        no_models = 1;
    }
    if (model_batch < 1 || model_batch > 4096)
        return qb_cmd_fail(cmd, qb_error(QB_ERR_ARG, "--model-batch: expected 1..4096, got %d", model_batch));
    qb_fmnist data = {0};
    if (!no_models && (st = qb_fmnist_load(qb_dataset_dir(NULL), &data))) {
        fprintf(stderr, "qbench %s: skipping the end-to-end models: %s\n", cmd, qb_last_error());
        no_models = 1;
    }
    int threads[2] = {1, ncpu >= 2 ? 2 : 1}, nthreads = ncpu >= 2 ? 2 : 1;
    if (threads_opt) {
        threads[0] = threads_opt;
        nthreads = 1;
    }

    table *t = calloc(1, sizeof *t);
    if (!t) return qb_cmd_fail(cmd, QB_ERR_NOMEM);
    FILE *out = stdout;
    double load[1] = {0};
    int have_load = getloadavg(load, 1) == 1;
    if (!csv) {
        fprintf(out, "qbench bench-kernels: backend %s (cpu: %s); peers %s, %s\n", be->name, qb_cpu_features(),
                qb_onednn_version(), qb_openblas_info());
        if (have_load)
            fprintf(out, "load average %.2f on %ld CPUs at the start%s\n", load[0], ncpu,
                    load[0] > 0.5 * (double)ncpu
                        ? ": other processes are running; multi-thread rows (oneDNN's OpenMP barriers most) "
                          "suffer when a core is taken"
                        : "");
    }
    int rc = 0;
    for (int ti = 0; ti < nthreads && !rc; ti++) {
        qb_pool *pool;
        if ((st = qb_pool_create(&pool, threads[ti], NULL, NULL))) {
            rc = qb_cmd_fail(cmd, st);
            break;
        }
        kb_env env = {be, pool, threads[ti], min_time};
        if (!no_memory) {
            double bw, gbs;
            row *r = add_row(t), *g = add_row(t);
            if (!r || !g) break;
            kb_result gemv;
            if ((st = kb_memory(&env, 4096, 4096, &bw, &gbs, &gemv))) {
                rc = qb_cmd_fail(cmd, st);
                break;
            }
            *r = (row){.name = "dram-read", .kind = "memory", .impl = "memory", .dtype = "", .threads = threads[ti],
                       .gbps = bw * 1e-9};
            snprintf(r->r.detail, sizeof r->r.detail, "sum of a buffer 4x the last-level cache, 4 streams a thread");
            r->r.seconds = 0;
            *g = (row){.name = "q4-gemv-4096x4096", .kind = "memory", .impl = "qbench-int4", .dtype = "int4",
                       .threads = threads[ti], .r = gemv, .gbps = gbs * 1e-9, .vs_dram = gbs / bw};
        }
        for (int si = 0; si < kb_shape_count() && !rc; si++) {
            const kb_shape *s = kb_shape_at(si);
            if (!matches(s->name, s->source, filter)) continue;
            const kb_impl *ims[16];
            int n = 0;
            for (int ii = 0; ii < kb_impl_count() && n < 16; ii++) {
                const kb_impl *im = kb_impl_at(ii);
                if (kb_impl_applies(im, s) && matches(kb_impl_name(im), kb_impl_dtype(im), impl_filter)) ims[n++] = im;
            }
            if (n == 0) continue;
            kb_result res[16];
            if ((st = kb_measure_shape(ims, n, s, &env, res))) {
                fprintf(stderr, "qbench %s: %s\n", cmd, qb_last_error());
                rc = qb_exit_code(st);
                break;
            }
            for (int i = 0; i < n; i++) {
                row *r = add_row(t);
                if (!r) break;
                *r = (row){.shape = s, .name = s->name, .impl = kb_impl_name(ims[i]), .dtype = kb_impl_dtype(ims[i]),
                           .threads = threads[ti], .r = res[i]};
            }
        }
        static const char *const models[N_MODELS] = {"mlp", "lenet", "resnet"};
        for (size_t mi = 0; mi < QB_ARRAY_LEN(models) && !no_models && !rc; mi++) {
            if (filter && !matches(models[mi], "models", filter)) continue;
            kb_result f, q;
            if ((st = kb_model_e2e(&env, models[mi], model_batch, &data, &f, &q, layers ? &t->prof[ti][mi] : NULL))) {
                fprintf(stderr, "qbench %s: model %s: %s\n", cmd, models[mi], qb_last_error());
                rc = qb_exit_code(st);
                break;
            }
            snprintf(t->names[mi], sizeof t->names[mi], "%s-e2e-b%d", models[mi], model_batch);
            row *a = add_row(t), *b = add_row(t);
            if (!a || !b) break;
            *a = (row){.name = t->names[mi], .kind = "model", .impl = "engine-fp32", .dtype = "fp32",
                       .threads = threads[ti], .r = f, .vs_fp32 = 1};
            *b = (row){.name = t->names[mi], .kind = "model", .impl = "iexec-int8", .dtype = "int8",
                       .threads = threads[ti], .r = q, .vs_fp32 = f.gops > 0 ? q.gops / f.gops : 0};
        }
        qb_pool_free(pool);
    }
    qb_fmnist_free(&data);
    fill_ratios(t);
    if (csv) {
        write_csv(out, t);
    } else {
        write_text(out, t);
        write_layers(out, t, threads, nthreads);
        print_targets(out, t, threads, nthreads);
    }
    for (int ti = 0; ti < 2; ti++)
        for (int mi = 0; mi < N_MODELS; mi++) kb_profile_free(&t->prof[ti][mi]);
    free(t);
    return rc;
}
