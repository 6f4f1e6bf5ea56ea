/* The models `qbench sweep` knows: the reference architectures of
 * workloads/archs.h, trained files from workloads/models/, evaluated on the
 * Fashion-MNIST test set. This is the one file where the evaluation
 * (workloads/) and the executors plug into the harness (bench/workload.h).
 *
 * fp32 cells run the fp32 engine (workloads/exec.h, GEMM through
 * workloads/gemm.h). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "archs.h"
#include "dataset.h"
#include "exec.h"
#include "gemm.h"
#include "modelfile.h"
#include "workload.h"

#define MAX_MODELS 16
#define EVAL_BATCH 500

/* ---- what every cell reads, loaded once per sweep (preload) ---- */

static struct {
    int loaded;
    qb_fmnist data;
} shared_data;

static struct {
    int loaded;
    qb_model folded;  /* BN folded into convs: what inference runs */
} shared_model[MAX_MODELS];

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

static qb_status load_model(int a)
{
    if (shared_model[a].loaded) return QB_OK;
    char path[1024];
    qb_model_path(qb_archs[a].name, path, sizeof path);
    qb_model m;
    qb_status s = qb_model_load(path, &m, NULL, NULL);
    if (s != QB_OK)
        return qb_error_context(s, "model %s (train it with `qbench train %s`)", qb_archs[a].name,
                                qb_archs[a].name);
    s = qb_model_fold_bn(&m, &shared_model[a].folded);
    qb_model_free(&m);
    if (s == QB_OK) shared_model[a].loaded = 1;
    return s;
}

static qb_status preload(const qb_workload *self)
{
    int a = arch_index(self->name);
    if (a < 0) return qb_error(QB_ERR_INTERNAL, "no architecture %s", self->name);
    qb_status s = load_data();
    return s == QB_OK ? load_model(a) : s;
}

/* ---- one cell's model ---- */

typedef struct {
    int arch;
    qb_qconfig cfg;
    const qb_model *model;  /* the shared fp32 model (read only) */
    qb_exec *exec;          /* the executor run() times, for exec_pool and exec_batch */
    qb_pool *exec_pool;
    int exec_batch;
    float *x;               /* exec_batch test images, NCHW */
    uint8_t *correct;       /* per-image top-1 bits of the last evaluate() */
} model_state;

static void release(void *st)
{
    model_state *s = st;
    if (!s) return;
    qb_exec_free(s->exec);
    free(s->x);
    free(s->correct);
    free(s);
}

static qb_status prepare(const qb_qconfig *cfg, qb_pool *pool, void **out)
{
    (void)pool;
    *out = NULL;
    int a = arch_index(cfg->model);
    if (a < 0) return qb_error(QB_ERR_ARG, "unknown model '%s'", cfg->model);
    if (strcmp(cfg->scheme, "fp32") != 0)
        return qb_error(QB_ERR_UNSUPPORTED, "quantized evaluation of %s is not in this build of qbench",
                        cfg->scheme);
    qb_status s = load_data();
    if (s == QB_OK) s = load_model(a);
    if (s != QB_OK) return s;
    model_state *st = qb_calloc(1, sizeof *st);
    if (!st) return QB_ERR_NOMEM;
    st->arch = a;
    st->cfg = *cfg;
    st->model = &shared_model[a].folded;
    *out = st;
    return QB_OK;
}

static int argmax(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

/* Bytes of the model's parameters as stored (fp32 here). */
static int64_t model_bytes(const model_state *s)
{
    return qb_model_n_params(s->model) * (int64_t)sizeof(float);
}

static qb_status evaluate(void *st, qb_pool *pool, qb_eval_result *out)
{
    model_state *s = st;
    const qb_images *test = &shared_data.data.test;
    const qb_model *m = s->model;
    int n = test->n, per = m->in_c * m->in_h * m->in_w;
    qb_exec *e = NULL;
    float *x = qb_malloc((size_t)EVAL_BATCH * (size_t)per, sizeof *x);
    int *labels = qb_malloc(EVAL_BATCH, sizeof *labels);
    free(s->correct);
    s->correct = qb_calloc(((size_t)n + 7) / 8, 1);
    qb_status st2 = x && labels && s->correct ? QB_OK : QB_ERR_NOMEM;
    if (st2 == QB_OK) st2 = qb_exec_create(&e, (qb_model *)m, EVAL_BATCH, pool, QB_EXEC_INFER);
    int right = 0;
    for (int i = 0; i < n && st2 == QB_OK; i += EVAL_BATCH) {
        int nb = n - i < EVAL_BATCH ? n - i : EVAL_BATCH;
        qb_images part = *test;
        part.pixels += (size_t)i * (size_t)per;
        part.labels += i;
        part.n = nb;
        qb_images_batch(&part, NULL, nb, x, labels);
        st2 = qb_exec_forward(e, x, nb);
        const float *logits = qb_exec_logits(e);
        for (int k = 0; st2 == QB_OK && k < nb; k++)
            if (argmax(logits + (size_t)k * m->n_classes, m->n_classes) == labels[k]) {
                right++;
                s->correct[(i + k) / 8] |= (uint8_t)(1u << ((i + k) % 8));
            }
    }
    qb_exec_free(e);
    free(x);
    free(labels);
    if (st2 != QB_OK) return st2;
    out->accuracy = out->fp32_accuracy = 100.0 * right / n;
    out->drop_pp = out->drop_ci_low = out->drop_ci_high = 0;
    out->agreement = 100.0;
    out->kl = 0;
    out->size_bytes = model_bytes(s);
    out->compression = 1.0;
    out->n_images = n;
    out->correct = s->correct;
    return QB_OK;
}

static qb_status run(void *st, qb_pool *pool, int batch)
{
    model_state *s = st;
    if (!s->exec || s->exec_pool != pool || s->exec_batch < batch) {
        const qb_model *m = s->model;
        int per = m->in_c * m->in_h * m->in_w;
        qb_exec_free(s->exec);
        s->exec = NULL;
        free(s->x);
        s->x = qb_malloc((size_t)batch * (size_t)per, sizeof *s->x);
        if (!s->x) return QB_ERR_NOMEM;
        /* real test images, repeated if the batch is larger than the set */
        const qb_images *test = &shared_data.data.test;
        for (int i = 0; i < batch; i += test->n) {
            int nb = batch - i < test->n ? batch - i : test->n;
            qb_images_batch(test, NULL, nb, s->x + (size_t)i * (size_t)per, NULL);
        }
        qb_status e = qb_exec_create(&s->exec, (qb_model *)m, batch, pool, QB_EXEC_INFER);
        if (e != QB_OK) return e;
        s->exec_pool = pool;
        s->exec_batch = batch;
    }
    return qb_exec_forward(s->exec, s->x, batch);
}

static double flops(void *st) { return 2.0 * (double)qb_model_macs(((model_state *)st)->model); }
static double bytes(void *st) { return (double)model_bytes(st); }

static const char *backend_name(void *st)
{
    (void)st;
    return qb_gemm_backend_name(qb_gemm_current());
}

/* Seconds of work: evaluation of the test set at a conservative rate for
 * this engine on one core, plus loading. */
static double estimate(const qb_qconfig *cfg, int with_eval)
{
    static double macs[MAX_MODELS];
    int a = arch_index(cfg->model);
    if (a < 0) return 1.0;
    if (macs[a] == 0) {
        qb_model m;
        macs[a] = qb_arch_build(qb_archs[a].name, 1, 28, 28, QB_FMNIST_CLASSES, &m) == QB_OK
                      ? (double)qb_model_macs(&m) : 1e7;
        qb_model_free(&m);
        qb_clear_error();
    }
    double eval = with_eval ? 10000.0 * 2.0 * macs[a] / 20e9 : 0;
    return 0.05 + eval;
}

/* ---- the set ---- */

static qb_workload entries[MAX_MODELS];
static const qb_workload *items[MAX_MODELS];
static qb_workload_set set;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static const char *blas_name(void) { return qb_gemm_describe(qb_gemm_current()); }

static void build_set(void)
{
    int n = qb_n_archs < MAX_MODELS ? qb_n_archs : MAX_MODELS;
    for (int i = 0; i < n; i++) {
        entries[i] = (qb_workload){.name = qb_archs[i].name, .description = qb_archs[i].summary,
                                   .estimate_seconds = estimate, .prepare = prepare, .evaluate = evaluate,
                                   .run = run, .flops_per_inference = flops, .bytes_per_inference = bytes,
                                   .backend_name = backend_name, .release = release, .preload = preload};
        items[i] = &entries[i];
    }
    set = (qb_workload_set){items, n, blas_name, NULL};
}

const qb_workload_set *qb_builtin_workloads(void)
{
    pthread_once(&once, build_set);
    return &set;
}
