/* The models `qbench sweep` knows: the reference architectures of
 * workloads/archs.h, trained files from workloads/models/, evaluated on the
 * Fashion-MNIST test set. This is the one file where the evaluation
 * (workloads/) and the executors plug into the harness (bench/workload.h).
 *
 * Accuracy comes from the quantized evaluation (workloads/qeval.h): the
 * evaluator of each model (fp32 reference and calibration observers) is
 * opened once per sweep and shared with the cells' processes. fp32 cells
 * are timed on the fp32 engine (workloads/exec.h, GEMM through
 * workloads/gemm.h), quantized cells on the integer executor
 * (workloads/iexec.h, kernels of workloads/kernels/). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "archs.h"
#include "backend.h"
#include "dataset.h"
#include "exec.h"
#include "gemm.h"
#include "iexec.h"
#include "modelfile.h"
#include "protect.h"
#include "qeval.h"
#include "scheme.h"
#include "vocab.h"
#include "workload.h"

#define MAX_MODELS 16

/* ---- what every cell reads, loaded once per sweep (preload) ---- */

static struct {
    int loaded;
    qb_fmnist data;
} shared_data;

/* Per model: the evaluator holds the folded fp32 model, its reference
 * outputs on the test set and the calibration observers. */
static qb_qeval *shared_eval[MAX_MODELS];

static int arch_index(const char *name)
{
    for (int i = 0; i < qb_n_archs && i < MAX_MODELS; i++)
        if (strcmp(qb_archs[i].name, name) == 0) return i;
    return -1;
}

static qb_status load_data(void)
{
    if (shared_data.loaded) return QB_OK;
    qb_status s = qb_fmnist_load(qb_dataset_dir(NULL), &shared_data.data);
    if (s == QB_OK) shared_data.loaded = 1;
    return s;
}

/* Opens model a's evaluator on `pool` (NULL: a temporary pool of every
 * core); it keeps no pool afterwards, callers set theirs. */
static qb_status load_model(int a, int ncores)
{
    if (shared_eval[a]) return QB_OK;
    qb_status s = load_data();
    if (s != QB_OK) return s;
    char path[1024];
    qb_model_path(qb_archs[a].name, path, sizeof path);
    qb_pool *pool = NULL;
    if ((s = qb_pool_create(&pool, ncores > 0 ? ncores : 1, NULL, NULL)) != QB_OK) return s;
    s = qb_qeval_open(&shared_eval[a], path, &shared_data.data, pool);
    qb_pool_free(pool);
    if (s != QB_OK)
        return qb_error_context(s, "model %s (train it with `qbench train %s`)", qb_archs[a].name,
                                qb_archs[a].name);
    qb_qeval_set_pool(shared_eval[a], NULL);
    return QB_OK;
}

static qb_status preload(const qb_workload *self)
{
    int a = arch_index(self->name);
    if (a < 0) return qb_error(QB_ERR_INTERNAL, "no architecture %s", self->name);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return load_model(a, n > 0 ? (int)n : 1);
}

/* ---- one cell's model ---- */

typedef struct {
    int arch;
    qb_qconfig cfg;
    int quantized;          /* 0 for the fp32 baseline */
    qb_qeval *ev;           /* shared evaluator */
    qb_qmodel qm;           /* quantized: fake-quantized weights and the parameters used */
    qb_qeval_result res;    /* the last evaluate() */
    int have_res;
    qb_exec *exec;          /* fp32: the engine run() times, for exec_pool and exec_batch */
    qb_iexec *iexec;        /* quantized: the integer executor run() times */
    const qb_backend *backend; /* its kernels */
    qb_pool *exec_pool;
    int exec_batch;
    float *x;               /* exec_batch test images, NCHW */
} model_state;

static void release(void *st)
{
    model_state *s = st;
    if (!s) return;
    qb_exec_free(s->exec);
    qb_iexec_free(s->iexec);
    free(s->x);
    if (s->quantized) qb_qmodel_free(&s->qm);
    if (s->have_res) qb_qeval_result_free(&s->res);
    free(s);
}

/* The evaluator's config for a cell (fp32: nothing quantized). */
static qb_status eval_config(const qb_qconfig *cfg, qb_qeval_config *c)
{
    if (strcmp(cfg->scheme, "fp32") == 0) {
        memset(c, 0, sizeof *c);
        qb_quant_config_init(&c->weights, qb_scheme_find("uniform-sym"));
        qb_quant_config_init(&c->activations, qb_scheme_find("uniform-asym"));
        c->wbits = c->abits = QB_FLOAT_BITS;
        c->only_layer = -1;
        return QB_OK;
    }
    return qb_qeval_config_parse(c, cfg->scheme, cfg->wbits, cfg->abits, cfg->granularity,
                                 cfg->calib, NULL);
}

static qb_status prepare(const qb_qconfig *cfg, qb_pool *pool, void **out)
{
    *out = NULL;
    int a = arch_index(cfg->model);
    if (a < 0) return qb_error(QB_ERR_ARG, "unknown model '%s'", cfg->model);
    qb_status s = load_model(a, qb_pool_size(pool));
    if (s != QB_OK) return s;
    qb_qeval_config c;
    qb_protect_options po; /* the correction and policy levers (workloads/protect.h) */
    qb_protect_options_init(&po);
    if ((s = eval_config(cfg, &c)) != QB_OK ||
        (s = qb_protect_options_parse(&po, cfg->correction, cfg->policy)) != QB_OK)
        return s;
    model_state *st = qb_calloc(1, sizeof *st);
    if (!st) return QB_ERR_NOMEM;
    st->arch = a;
    st->cfg = *cfg;
    st->ev = shared_eval[a];
    st->quantized = strcmp(cfg->scheme, "fp32") != 0;
    if (st->quantized) {
        qb_qeval_set_pool(st->ev, pool);
        s = qb_protect_quantize(st->ev, &c, &po, &st->qm, NULL);
        qb_qeval_set_pool(st->ev, NULL);
        if (s != QB_OK) {
            free(st);
            return s;
        }
    }
    *out = st;
    return QB_OK;
}

static qb_status evaluate(void *st, qb_pool *pool, qb_eval_result *out)
{
    model_state *s = st;
    if (s->have_res) qb_qeval_result_free(&s->res);
    s->have_res = 0;
    qb_qeval_set_pool(s->ev, pool);
    qb_status e;
    if (s->quantized) {
        e = qb_qeval_evaluate(s->ev, &s->qm, &s->res);
    } else {
        qb_qeval_config c;
        eval_config(&s->cfg, &c);
        e = qb_qeval_run(s->ev, &c, &s->res);
    }
    qb_qeval_set_pool(s->ev, NULL);
    if (e != QB_OK) return e;
    s->have_res = 1;
    const qb_qeval_result *r = &s->res;
    out->accuracy = r->accuracy;
    out->fp32_accuracy = r->fp32_accuracy;
    out->drop_pp = r->drop_pp;
    out->drop_ci_low = r->drop_ci_low;
    out->drop_ci_high = r->drop_ci_high;
    out->agreement = r->agreement;
    out->kl = r->kl;
    out->size_bytes = (int64_t)r->size_bytes;
    out->compression = r->size_bytes ? (double)r->fp32_size_bytes / (double)r->size_bytes : NAN;
    out->n_images = r->n;
    out->correct = r->correct;
    return QB_OK;
}

/* Real test images for the timed runs, repeated if the batch is larger
 * than the test set. */
static qb_status fill_inputs(model_state *s, int max_batch)
{
    const qb_model *m = qb_qeval_model(s->ev);
    int per = m->in_c * m->in_h * m->in_w;
    free(s->x);
    s->x = qb_malloc((size_t)max_batch * (size_t)per, sizeof *s->x);
    if (!s->x) return QB_ERR_NOMEM;
    const qb_images *test = &shared_data.data.test;
    for (int i = 0; i < max_batch; i += test->n) {
        int nb = max_batch - i < test->n ? max_batch - i : test->n;
        qb_images_batch(test, NULL, nb, s->x + (size_t)i * (size_t)per, NULL);
    }
    return QB_OK;
}

/* fp32 cells time the fp32 engine; quantized cells the integer executor
 * on the spec's backend (auto: $QBENCH_BACKEND or the best this CPU runs),
 * which refuses (QB_ERR_UNSUPPORTED) what has no integer kernels. */
static qb_status setup_run(void *st, qb_pool *pool, int max_batch)
{
    model_state *s = st;
    qb_exec_free(s->exec);
    qb_iexec_free(s->iexec);
    s->exec = NULL;
    s->iexec = NULL;
    qb_status e = fill_inputs(s, max_batch);
    if (e != QB_OK) return e;
    if (s->quantized) {
        e = qb_backend_select(strcmp(s->cfg.backend, "auto") == 0 ? NULL : s->cfg.backend, &s->backend);
        if (e == QB_OK) e = qb_iexec_create(&s->iexec, &s->qm, s->backend, max_batch, pool);
    } else {
        e = qb_exec_create(&s->exec, (qb_model *)qb_qeval_model(s->ev), max_batch, pool, QB_EXEC_INFER);
    }
    if (e != QB_OK) return e;
    s->exec_pool = pool;
    s->exec_batch = max_batch;
    return QB_OK;
}

static qb_status run(void *st, qb_pool *pool, int batch)
{
    model_state *s = st;
    if ((!s->exec && !s->iexec) || s->exec_pool != pool || s->exec_batch < batch) {
        qb_status e = setup_run(st, pool, batch);
        if (e != QB_OK) return e;
    }
    return s->iexec ? qb_iexec_forward(s->iexec, s->x, batch) : qb_exec_forward(s->exec, s->x, batch);
}

static double flops(void *st)
{
    return 2.0 * (double)qb_model_macs(qb_qeval_model(((model_state *)st)->ev));
}

static double bytes(void *st)
{
    model_state *s = st;
    return (double)(s->quantized ? s->qm.size_bytes : qb_qeval_fp32_size(s->ev));
}

static const char *backend_name(void *st)
{
    model_state *s = st;
    if (!s->quantized) return qb_gemm_backend_name(qb_gemm_current());
    return s->iexec ? qb_iexec_backend_label(s->iexec) : ""; /* what ran: "avx512-vnni", "avx512-bf16", ... */
}

/* Seconds of work: evaluation of the test set (about 100 GFLOP/s for the
 * fp32 engine with fake quantization on this 2-core machine), plus
 * quantizing and the levers' calibration passes and fine-tuning. */
static double estimate(const qb_qconfig *cfg, int with_eval)
{
    static double macs[MAX_MODELS];
    static int layers[MAX_MODELS];
    int a = arch_index(cfg->model);
    if (a < 0) return 1.0;
    if (macs[a] == 0) {
        qb_model m;
        macs[a] = 1e7;
        layers[a] = 1;
        if (qb_arch_build(qb_archs[a].name, 1, 28, 28, QB_FMNIST_CLASSES, &m) == QB_OK) {
            macs[a] = (double)qb_model_macs(&m);
            int *idx = qb_malloc((size_t)m.n_layers, sizeof *idx);
            if (idx) layers[a] = qb_model_weighted_layers(&m, idx);
            free(idx);
            qb_model_free(&m);
        }
        qb_clear_error();
    }
    double eval = with_eval ? 10000.0 * 2.0 * macs[a] / 100e9 : 0;
    qb_protect_options po;
    qb_protect_options_init(&po);
    double levers = 0;
    if (qb_protect_options_parse(&po, cfg->correction, cfg->policy) == QB_OK)
        levers = qb_protect_estimate_seconds(&po, qb_archs[a].name, macs[a], layers[a], 10);
    qb_clear_error();
    return 0.05 + eval + levers;
}

/* ---- the set ---- */

static qb_workload entries[MAX_MODELS];
static const qb_workload *items[MAX_MODELS];
static qb_workload_set set;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static const char *blas_name(void) { return qb_gemm_describe(qb_gemm_current()); }

/* The integer backend cells with backend = auto get ($QBENCH_BACKEND or the best). */
static const char *int_backend(void)
{
    const qb_backend *b = NULL;
    if (qb_backend_select(NULL, &b) != QB_OK || !b) return "";
    return b->name;
}

static void build_set(void)
{
    int n = qb_n_archs < MAX_MODELS ? qb_n_archs : MAX_MODELS;
    for (int i = 0; i < n; i++) {
        entries[i] = (qb_workload){.name = qb_archs[i].name, .description = qb_archs[i].summary,
                                   .estimate_seconds = estimate, .prepare = prepare, .evaluate = evaluate,
                                   .setup_run = setup_run, .run = run, .flops_per_inference = flops, .bytes_per_inference = bytes,
                                   .backend_name = backend_name, .release = release, .preload = preload};
        items[i] = &entries[i];
    }
    set = (qb_workload_set){items, n, blas_name, int_backend};
}

const qb_workload_set *qb_builtin_workloads(void)
{
    pthread_once(&once, build_set);
    return &set;
}
