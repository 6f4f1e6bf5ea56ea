/* AdaRound-style learned rounding (see adaround.h). */
#include "adaround.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layerwise.h"
#include "pool.h"

#define ZETA 1.1f
#define GAMMA (-0.1f)
#define ADAM_B1 0.9f
#define ADAM_B2 0.999f
#define ADAM_EPS 1e-8f

void qb_adaround_options_init(qb_adaround_options *o)
{
    o->iters = 1000;
    o->lr = 0.03f;
    o->reg = 3.0f;
    o->beta_start = 20.0f;
    o->beta_end = 2.0f;
    o->warmup = 0.2f;
    o->gemm = NULL;
    o->pool = NULL;
}

static inline float rect_sigmoid(float v, float *dh)
{
    float sg = 1.0f / (1.0f + expf(-v));
    float h = sg * (ZETA - GAMMA) + GAMMA;
    if (h <= 0.0f || h >= 1.0f) {
        *dh = 0.0f;
        return h <= 0.0f ? 0.0f : 1.0f;
    }
    *dh = sg * (1.0f - sg) * (ZETA - GAMMA);
    return h;
}

/* V with rect_sigmoid(V) = f, f in (0, 1). */
static inline float rect_sigmoid_inv(float f)
{
    return -logf((ZETA - GAMMA) / (f - GAMMA) - 1.0f);
}

typedef struct {
    int64_t n;
    float *lo, *step;  /* level below, and (level above - level below); 0: fixed */
    float *v, *m, *s;  /* the variables and Adam's moments */
    float *d, *g;      /* w~ - w, and (w~ - w) H */
    float *hv, *dhv;   /* h(V) and dh/dV of this step */
    float *hf;         /* H as floats, scaled */
    float *near;       /* nearest-rounded weights */
} work;

static void work_free(work *k)
{
    free(k->lo);
    free(k->step);
    free(k->v);
    free(k->m);
    free(k->s);
    free(k->d);
    free(k->g);
    free(k->hf);
    free(k->near);
    free(k->hv);
    free(k->dhv);
}

static qb_status work_alloc(work *k, int64_t n, int64_t cols)
{
    memset(k, 0, sizeof *k);
    k->n = n;
    k->lo = qb_malloc((size_t)n, sizeof(float));
    k->step = qb_malloc((size_t)n, sizeof(float));
    k->v = qb_malloc((size_t)n, sizeof(float));
    k->m = qb_calloc((size_t)n, sizeof(float));
    k->s = qb_calloc((size_t)n, sizeof(float));
    k->d = qb_malloc((size_t)n, sizeof(float));
    k->g = qb_malloc((size_t)n, sizeof(float));
    k->hf = qb_malloc((size_t)cols * (size_t)cols, sizeof(float));
    k->near = qb_malloc((size_t)n, sizeof(float));
    k->hv = qb_malloc((size_t)n, sizeof(float));
    k->dhv = qb_malloc((size_t)n, sizeof(float));
    if (!k->lo || !k->step || !k->v || !k->m || !k->s || !k->d || !k->g || !k->hf || !k->near ||
        !k->hv || !k->dhv) {
        work_free(k);
        return QB_ERR_NOMEM;
    }
    return QB_OK;
}

/* The neighbouring levels of every weight and the starting V. */
static void init_levels(const qb_qparams *p, const float *w, work *k)
{
    const qb_scheme *sc = p->scheme;
    for (int64_t i = 0; i < k->n; i++) {
        qb_block b = qb_qparams_block(p, qb_qparams_block_of(p, i));
        float lo = sc->dequantize(sc->quantize(w[i], &b, QB_DIR_DOWN), &b);
        float hi = sc->dequantize(sc->quantize(w[i], &b, QB_DIR_UP), &b);
        k->near[i] = sc->dequantize(sc->quantize(w[i], &b, QB_DIR_NEAREST), &b);
        k->lo[i] = lo;
        k->step[i] = hi > lo && isfinite(hi - lo) ? hi - lo : 0.0f;
        float f = k->step[i] > 0 ? (w[i] - lo) / k->step[i] : 0.0f;
        if (f < 0.01f) f = 0.01f; /* keep V finite and its gradient alive */
        if (f > 0.99f) f = 0.99f;
        k->v[i] = rect_sigmoid_inv(f);
    }
}

/* H / E(nearest) as floats: the reconstruction term's gradient is then
 * 2 (w~ - w) H', and its value starts near 0 and is 1 at nearest. */
static void scale_hessian(const double *h, int64_t cols, double e_near, float *hf)
{
    double sc = e_near > 0 ? 1.0 / e_near : 1.0;
    for (int64_t i = 0; i < cols * cols; i++) hf[i] = (float)(h[i] * sc);
}

typedef struct {
    const qb_adaround_options *o;
    qb_sgemm_fn gemm;
    const float *w;
    int64_t rows, cols;
    work *k;
} slice_job;

/* Rows are independent problems sharing H: each thread optimises its own
 * contiguous share of them, every step, with no synchronisation. */
static void optimise_slice(void *ctx, int tid, int nt)
{
    slice_job *j = ctx;
    const qb_adaround_options *o = j->o;
    work *k = j->k;
    int64_t r0, r1;
    qb_split_range(j->rows, tid, nt, &r0, &r1);
    if (r1 <= r0) return;
    int64_t b = r0 * j->cols, e = r1 * j->cols;
    const float *w = j->w;
    float lam_all = o->reg / (float)(j->rows * j->cols);
    int warm = (int)(o->warmup * (float)o->iters);
    float b1t = 1.0f, b2t = 1.0f;
    for (int t = 0; t < o->iters; t++) {
        for (int64_t i = b; i < e; i++) {
            k->hv[i] = rect_sigmoid(k->v[i], &k->dhv[i]);
            k->d[i] = k->lo[i] + k->hv[i] * k->step[i] - w[i];
        }
        j->gemm(0, 0, r1 - r0, j->cols, j->cols, 2.0f, k->d + b, j->cols, k->hf, j->cols, 0.0f,
                k->g + b, j->cols);
        float beta = 0, lam = 0;
        if (t >= warm) {
            float rel = o->iters - warm > 1 ? (float)(t - warm) / (float)(o->iters - warm - 1) : 1.0f;
            beta = o->beta_start + (o->beta_end - o->beta_start) * rel;
            lam = lam_all;
        }
        b1t *= ADAM_B1;
        b2t *= ADAM_B2;
        float lr_t = o->lr * sqrtf(1.0f - b2t) / (1.0f - b1t);
        for (int64_t i = b; i < e; i++) {
            if (k->step[i] == 0) continue;
            float gh = k->g[i] * k->step[i];
            if (lam > 0) {
                /* d/dh of 1 - |2h - 1|^beta */
                float u = 2.0f * k->hv[i] - 1.0f, au = fabsf(u);
                float dreg = au > 0 ? -beta * powf(au, beta - 1.0f) * (u > 0 ? 2.0f : -2.0f) : 0.0f;
                gh += lam * dreg;
            }
            float gv = gh * k->dhv[i];
            k->m[i] = ADAM_B1 * k->m[i] + (1.0f - ADAM_B1) * gv;
            k->s[i] = ADAM_B2 * k->s[i] + (1.0f - ADAM_B2) * gv * gv;
            k->v[i] -= lr_t * k->m[i] / (sqrtf(k->s[i]) + ADAM_EPS);
        }
    }
}

qb_status qb_adaround(const qb_qparams *p, const float *w, int64_t rows, int64_t cols,
                      const double *h, const qb_adaround_options *o, uint8_t *dir,
                      qb_adaround_stats *stats)
{
    qb_status s = qb_layerwise_check(p, w, rows, cols, "AdaRound");
    if (s != QB_OK) return s;
    qb_adaround_options def;
    if (!o) {
        qb_adaround_options_init(&def);
        o = &def;
    }
    if (o->iters < 0 || !(o->lr > 0) || !(o->reg >= 0) || !(o->warmup >= 0 && o->warmup <= 1) ||
        !(o->beta_start >= o->beta_end && o->beta_end > 0))
        return qb_error(QB_ERR_ARG, "AdaRound options: need iters >= 0, lr > 0, reg >= 0, warmup "
                        "in [0, 1] and beta_start >= beta_end > 0");
    qb_sgemm_fn gemm = o->gemm ? o->gemm : qb_sgemm_ref;
    int64_t n = rows * cols;
    work k;
    if ((s = work_alloc(&k, n, cols)) != QB_OK) return s;
    init_levels(p, w, &k);
    double e_near = qb_recon_error(w, k.near, rows, cols, h);
    scale_hessian(h, cols, e_near, k.hf);

    slice_job job = {o, gemm, w, rows, cols, &k};
    if (o->pool && qb_pool_size(o->pool) > 1 && rows > 1)
        qb_pool_run(o->pool, optimise_slice, &job);
    else
        optimise_slice(&job, 0, 1);

    int64_t changed = 0, soft = 0;
    for (int64_t i = 0; i < n; i++) {
        float dh, hv = rect_sigmoid(k.v[i], &dh);
        int up = k.step[i] > 0 && hv >= 0.5f;
        dir[i] = up ? QB_DIR_UP : QB_DIR_DOWN;
        soft += k.step[i] > 0 && hv > 0.1f && hv < 0.9f;
        float val = up ? k.lo[i] + k.step[i] : k.lo[i];
        changed += val != k.near[i];
        k.d[i] = val; /* the hard result, for the error below */
    }
    if (stats) {
        stats->err_nearest = e_near;
        stats->err_adaround = qb_recon_error(w, k.d, rows, cols, h);
        stats->frac_changed = (double)changed / (double)n;
        stats->frac_soft = (double)soft / (double)n;
    }
    work_free(&k);
    return QB_OK;
}
