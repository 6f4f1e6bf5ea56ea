/* End-to-end rows of `qbench bench-kernels`: a built-in model's forward
 * pass on the fp32 engine (workloads/exec.h) against the same model
 * quantized to int8 (uniform-sym per-channel weights, uniform-asym
 * activations) on the integer executor (workloads/iexec.h), same images,
 * same threads, samples interleaved. Uses the trained model file when there
 * is one, else the architecture with random weights (speed does not depend
 * on the values; the detail column says which). */
#include "kbench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "archs.h"
#include "exec.h"
#include "iexec.h"
#include "modelfile.h"
#include "qeval.h"
#include "stats.h"

/* The model file to use: the trained one, or a random-weight one written
 * to tmpdir. */
static qb_status model_file(const char *arch, char *path, size_t len, const char *tmpdir, int *trained)
{
    qb_model_path(arch, path, len);
    if (access(path, R_OK) == 0) {
        *trained = 1;
        return QB_OK;
    }
    *trained = 0;
    snprintf(path, len, "%s/%s.safetensors", tmpdir, arch);
    qb_model m;
    qb_status st = qb_arch_build(arch, 1, 28, 28, 10, &m);
    if (st) return st;
    qb_model_init_params(&m, 1);
    qb_meta meta = {0};
    st = qb_model_save(path, &m, &meta, NULL, 0);
    qb_meta_free(&meta);
    qb_model_free(&m);
    return st;
}

void kb_profile_free(kb_profile *p)
{
    if (!p) return;
    free(p->name), free(p->kind), free(p->how), free(p->merged), free(p->fp32), free(p->int8);
    memset(p, 0, sizeof *p);
}

/* What the int8 executor does at layer li; *merged: nothing of its own. */
static const char *int8_how(const qb_iexec *ie, const qb_model *m, int li, unsigned char *merged)
{
    *merged = 1;
    const qb_layer *l = &m->layers[li];
    const float *f;
    const uint8_t *q;
    qb_iexec_layer_output(ie, li, &f, &q, NULL, NULL);
    if (l->kind == QB_LAYER_RELU && qb_iexec_relu_fused(ie, l->inputs[0])) return "fused into its producer";
    if (l->kind == QB_LAYER_FLATTEN) return "shares its input";
    if (l->kind == QB_LAYER_ADD)
        for (int k = 0; k < l->n_inputs; k++)
            if (l->inputs[k] >= 0 && qb_iexec_add_fused(ie, l->inputs[k]) == li) return "in its producer's epilogue";
    *merged = 0;
    if (l->kind == QB_LAYER_CONV || l->kind == QB_LAYER_DENSE) {
        int add = qb_iexec_add_fused(ie, li);
        if (add >= 0) {
            qb_iexec_layer_output(ie, add, NULL, &q, NULL, NULL);
            return q ? "int8 + add -> float, codes" : "int8 + add -> float";
        }
        return q && !f ? "int8 -> codes" : q ? "int8 -> float, codes" : "int8 -> float";
    }
    return q && f ? "float, codes" : q ? "codes" : "float";
}

/* Both engines again, `rounds` times interleaved, with per-layer timing:
 * the median of the rounds for each layer (robust to a neighbour's burst). */
static qb_status profile_layers(qb_exec *fe, qb_iexec *ie, const qb_model *m, const float *x, int batch, int rounds,
                                kb_profile *p)
{
    int n = m->n_layers;
    p->n = n;
    p->name = calloc((size_t)n, sizeof *p->name);
    p->kind = calloc((size_t)n, sizeof *p->kind);
    p->how = calloc((size_t)n, sizeof *p->how);
    p->merged = calloc((size_t)n, sizeof *p->merged);
    p->fp32 = calloc((size_t)n, sizeof *p->fp32);
    p->int8 = calloc((size_t)n + 1, sizeof *p->int8);
    double *tf = calloc((size_t)(rounds * n), sizeof *tf), *tq = calloc((size_t)(rounds * (n + 1)), sizeof *tq);
    double *col = calloc((size_t)rounds, sizeof *col);
    qb_status st = QB_OK;
    if (!p->name || !p->kind || !p->how || !p->merged || !p->fp32 || !p->int8 || !tf || !tq || !col) st = QB_ERR_NOMEM;
    for (int r = 0; r < rounds && !st; r++) {
        qb_exec_set_profile(fe, tf + r * n);
        qb_iexec_set_profile(ie, tq + r * (n + 1));
        st = qb_exec_forward(fe, x, batch);
        if (!st) st = qb_iexec_forward(ie, x, batch);
    }
    qb_exec_set_profile(fe, NULL);
    qb_iexec_set_profile(ie, NULL);
    for (int i = 0; i <= n && !st; i++) {
        if (i < n) {
            snprintf(p->name[i], sizeof p->name[i], "%s", m->layers[i].name);
            p->kind[i] = qb_layer_kind_name(m->layers[i].kind);
            snprintf(p->how[i], sizeof p->how[i], "%s", int8_how(ie, m, i, &p->merged[i]));
            for (int r = 0; r < rounds; r++) col[r] = tf[r * n + i];
            p->fp32[i] = qb_median(col, (size_t)rounds);
        }
        for (int r = 0; r < rounds; r++) col[r] = tq[r * (n + 1) + i];
        p->int8[i] = qb_median(col, (size_t)rounds);
    }
    if (!st) p->int8_input = p->int8[n];
    free(tf), free(tq), free(col);
    return st;
}

qb_status kb_model_e2e(const kb_env *env, const char *arch, int batch, const qb_fmnist *data, kb_result *fp32,
                       kb_result *int8, kb_profile *prof)
{
    memset(fp32, 0, sizeof *fp32);
    memset(int8, 0, sizeof *int8);
    char tmpdir[] = "/tmp/qbench-kbench-XXXXXX", path[1024];
    if (!mkdtemp(tmpdir)) return qb_error(QB_ERR_IO, "cannot make a temporary folder in /tmp");
    int trained;
    qb_qeval *ev = NULL;
    qb_qmodel q = {0};
    qb_exec *fe = NULL;
    qb_iexec *ie = NULL;
    float *x = NULL;
    qb_status st = model_file(arch, path, sizeof path, tmpdir, &trained);
    if (st) goto done;
    /* the evaluator runs the fp32 reference on the test view: keep it small */
    qb_fmnist d = *data;
    d.test = qb_images_head(&data->test, batch);
    if ((st = qb_qeval_open(&ev, path, &d, env->pool))) goto done;
    qb_qeval_config c;
    if ((st = qb_qeval_config_parse(&c, "uniform-sym", 8, 8, "channel", "minmax", NULL))) goto done;
    if ((st = qb_qeval_quantize(ev, &c, &q))) goto done;
    qb_model *m = (qb_model *)qb_qeval_model(ev); /* INFER mode does not write it */
    if ((st = qb_exec_create(&fe, m, batch, env->pool, QB_EXEC_INFER))) goto done;
    if ((st = qb_iexec_create(&ie, &q, env->be, batch, env->pool))) goto done;
    int64_t per = (int64_t)m->in_c * m->in_h * m->in_w;
    if (!(x = qb_malloc((size_t)(batch * per), sizeof(float)))) {
        st = QB_ERR_NOMEM;
        goto done;
    }
    for (int i = 0; i < batch; i += d.test.n) /* real images, repeated if needed */
        qb_images_batch(&d.test, NULL, batch - i < d.test.n ? batch - i : d.test.n, x + i * per, NULL);
    /* warm up, then interleaved samples of about 20 ms */
    double t0 = qb_now();
    int calls = 0;
    while ((qb_now() - t0 < env->min_time / 4 || calls < 2) && !st) {
        st = qb_exec_forward(fe, x, batch);
        if (!st) st = qb_iexec_forward(ie, x, batch);
        calls++;
    }
    if (st) goto done;
    double per_pair = (qb_now() - t0) / calls;
    int inner = per_pair >= 0.02 ? 1 : (int)(0.02 / per_pair) + 1, rounds = (int)(env->min_time * 2 / (per_pair * inner));
    rounds = rounds < 5 ? 5 : rounds > 15 ? 15 : rounds;
    double tf[15], ti[15];
    for (int r = 0; r < rounds && !st; r++) {
        double a = qb_now();
        for (int j = 0; j < inner && !st; j++) st = qb_exec_forward(fe, x, batch);
        double b = qb_now();
        for (int j = 0; j < inner && !st; j++) st = qb_iexec_forward(ie, x, batch);
        tf[r] = (b - a) / inner;
        ti[r] = (qb_now() - b) / inner;
    }
    if (st) goto done;
    double ops = 2.0 * (double)qb_model_macs(m) * batch;
    fp32->seconds = qb_median(tf, (size_t)rounds);
    int8->seconds = qb_median(ti, (size_t)rounds);
    fp32->reps = int8->reps = rounds;
    fp32->gops = ops / fp32->seconds * 1e-9;
    int8->gops = ops / int8->seconds * 1e-9;
    fp32->weight_bytes = qb_qeval_fp32_size(ev);
    int8->weight_bytes = q.size_bytes;
    snprintf(fp32->detail, sizeof fp32->detail, "fp32 engine, %.0f images/s, %s weights", batch / fp32->seconds,
             trained ? "trained" : "random");
    snprintf(int8->detail, sizeof int8->detail, "int8 executor (%s), %.0f images/s", env->be->name,
             batch / int8->seconds);
    if (prof) st = profile_layers(fe, ie, m, x, batch, 2 * rounds + 1, prof);
done:
    free(x);
    qb_iexec_free(ie);
    qb_exec_free(fe);
    qb_qmodel_free(&q);
    qb_qeval_close(ev);
    if (!trained) unlink(path);
    rmdir(tmpdir);
    return st;
}
