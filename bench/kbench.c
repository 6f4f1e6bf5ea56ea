/* Kernel benchmark implementations and timing (see kbench.h). Each
 * implementation prepares its inputs once (weights packed or reordered, as
 * at model load), then one call is timed: median of samples after warm-up. */
#include "kbench.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "peers.h"
#include "rng.h"
#include "stats.h"

/* ---- prepared state of one implementation on one shape ---------------- */

typedef struct {
    const kb_shape *s;
    const kb_env *env;
    int64_t m, n, k;
    /* inputs */
    float *xf;          /* (m, k) fp32, or NHWC input for convs */
    uint16_t *xb;       /* bf16 copy */
    uint8_t *xu;        /* uint8 codes */
    uint64_t *xbits;    /* binary rows */
    float *col;         /* fp32 im2col buffer (OpenBLAS conv) */
    /* weights */
    float *wf;          /* (n, k) fp32 or OIHW */
    int8_t *ws;         /* int8 (n, k) or OIHW */
    qb_qweights qw;
    qb_q4weights q4;
    qb_b1weights b1;
    qb_bf16weights bw;
    qb_onednn_op *dnn;
    /* requantization */
    int32_t *mult, *rshift;
    float *scale;
    qb_requant rq;
    qb_scratch scratch;
    void *y;            /* output, 4 bytes per element */
    size_t weight_bytes;
} kb_state;

struct kb_impl {
    const char *name, *dtype;
    int qbench;
    int gemm, conv;                        /* shape kinds it runs */
    qb_status (*prepare)(kb_state *st);
    qb_status (*call)(kb_state *st);
};

static float *random_floats(qb_rng *r, int64_t count)
{
    float *p = qb_aligned_alloc((size_t)count, sizeof(float));
    if (p)
        for (int64_t i = 0; i < count; i++) p[i] = qb_rng_normal(r);
    return p;
}

static int64_t x_count(const kb_state *st)
{
    const qb_conv_shape *c = &st->s->conv;
    return st->s->kind == KB_CONV ? c->batch * c->in_h * c->in_w * c->in_c : st->m * st->k;
}

/* Shared inputs every implementation derives its own from. */
static qb_status make_inputs(kb_state *st)
{
    qb_rng r;
    qb_rng_seed(&r, 20240601);
    int64_t xn = x_count(st), wn = st->n * st->k;
    st->xf = random_floats(&r, xn);
    st->wf = random_floats(&r, wn);
    st->xu = qb_aligned_alloc((size_t)xn, 1);
    st->ws = qb_aligned_alloc((size_t)wn, 1);
    st->y = qb_aligned_alloc((size_t)(st->m * st->n), 4);
    st->mult = qb_malloc((size_t)st->n, 4);
    st->rshift = qb_malloc((size_t)st->n, 4);
    st->scale = qb_malloc((size_t)st->n, 4);
    if (!st->xf || !st->wf || !st->xu || !st->ws || !st->y || !st->mult || !st->rshift || !st->scale)
        return QB_ERR_NOMEM;
    for (int64_t i = 0; i < xn; i++) st->xu[i] = (uint8_t)qb_rng_below(&r, 256);
    for (int64_t i = 0; i < wn; i++) st->ws[i] = (int8_t)((int)qb_rng_below(&r, 255) - 127);
    double real = 1.0 / (128.0 * sqrt((double)st->k));
    for (int64_t i = 0; i < st->n; i++) {
        qb_status s = qb_requant_multiplier(real, &st->mult[i], &st->rshift[i]);
        if (s) return s;
        st->scale[i] = (float)real;
    }
    st->rq = (qb_requant){.type = QB_OUT_U8, .mult = st->mult, .rshift = st->rshift, .lo = 0, .hi = 255};
    return QB_OK;
}

static void free_state(kb_state *st)
{
    free(st->xf), free(st->xb), free(st->xu), free(st->xbits), free(st->col);
    free(st->wf), free(st->ws), free(st->y), free(st->mult), free(st->rshift), free(st->scale);
    qb_qweights_free(&st->qw);
    qb_q4weights_free(&st->q4);
    qb_b1weights_free(&st->b1);
    qb_bf16weights_free(&st->bw);
    qb_onednn_free(st->dnn);
    qb_scratch_free(&st->scratch);
}

/* ---- OpenBLAS --------------------------------------------------------- */

static qb_status openblas_prepare(kb_state *st)
{
    qb_openblas_set_threads(st->env->threads);
    st->weight_bytes = (size_t)(st->n * st->k) * 4;
    if (st->s->kind == KB_CONV && !(st->col = qb_aligned_alloc((size_t)(st->m * st->k), 4))) return QB_ERR_NOMEM;
    return QB_OK;
}

/* fp32 im2col in the (kh, kw, c) order, as an engine on BLAS would do. */
static void im2col_f32(const qb_conv_shape *c, const float *x, float *col)
{
    for (int64_t b = 0; b < c->batch; b++)
        for (int64_t oy = 0; oy < c->out_h; oy++)
            for (int64_t ox = 0; ox < c->out_w; ox++) {
                float *d = col + ((b * c->out_h + oy) * c->out_w + ox) * c->k_h * c->k_w * c->in_c;
                for (int64_t ky = 0; ky < c->k_h; ky++)
                    for (int64_t kx = 0; kx < c->k_w; kx++, d += c->in_c) {
                        int64_t iy = oy * c->stride_h - c->pad_top + ky * c->dil_h;
                        int64_t ix = ox * c->stride_w - c->pad_left + kx * c->dil_w;
                        if (iy < 0 || iy >= c->in_h || ix < 0 || ix >= c->in_w)
                            memset(d, 0, (size_t)c->in_c * sizeof(float));
                        else
                            memcpy(d, x + ((b * c->in_h + iy) * c->in_w + ix) * c->in_c, (size_t)c->in_c * sizeof(float));
                    }
            }
}

static qb_status openblas_call(kb_state *st)
{
    const float *x = st->xf;
    if (st->s->kind == KB_CONV) {
        im2col_f32(&st->s->conv, st->xf, st->col);
        x = st->col;
    }
    qb_openblas_sgemm(st->m, st->n, st->k, x, st->wf, st->y);
    return QB_OK;
}

/* ---- oneDNN ----------------------------------------------------------- */

static qb_status onednn_prepare(kb_state *st, qb_peer_type t)
{
    qb_onednn_set_threads(st->env->threads);
    const void *w = t == QB_PEER_INT8 ? (const void *)st->ws : (const void *)st->wf;
    const float *sc = t == QB_PEER_INT8 ? st->scale : NULL;
    qb_status s = st->s->kind == KB_CONV ? qb_onednn_conv_create(&st->dnn, t, &st->s->conv, w, sc)
                                         : qb_onednn_matmul_create(&st->dnn, t, st->m, st->n, st->k, w, sc);
    if (s) return s;
    st->weight_bytes = (size_t)(st->n * st->k) * (t == QB_PEER_F32 ? 4 : t == QB_PEER_BF16 ? 2 : 1);
    if (t == QB_PEER_BF16) {
        int64_t xn = x_count(st);
        if (!(st->xb = qb_aligned_alloc((size_t)xn, 2))) return QB_ERR_NOMEM;
        qb_f32_to_bf16_rows(1, xn, st->xf, xn, st->xb, xn);
    }
    return QB_OK;
}

static qb_status onednn_f32_prepare(kb_state *st) { return onednn_prepare(st, QB_PEER_F32); }
static qb_status onednn_bf16_prepare(kb_state *st) { return onednn_prepare(st, QB_PEER_BF16); }
static qb_status onednn_int8_prepare(kb_state *st) { return onednn_prepare(st, QB_PEER_INT8); }

static qb_status onednn_f32_call(kb_state *st) { return qb_onednn_run(st->dnn, st->xf, st->y); }
static qb_status onednn_bf16_call(kb_state *st) { return qb_onednn_run(st->dnn, st->xb, st->y); }
static qb_status onednn_int8_call(kb_state *st) { return qb_onednn_run(st->dnn, st->xu, st->y); }

/* ---- qbench kernels --------------------------------------------------- */

static qb_status int8_prepare(kb_state *st)
{
    qb_status s = st->s->kind == KB_CONV
                      ? qb_qweights_pack_conv(&st->qw, st->n, st->s->conv.in_c, st->s->conv.k_h,
                                              st->s->conv.k_w, st->ws, 0, NULL)
                      : qb_qweights_pack_s8(&st->qw, st->n, st->k, st->ws, st->k, 1, NULL);
    st->weight_bytes = st->qw.bytes;
    return s;
}

static qb_status ternary_prepare(kb_state *st)
{
    for (int64_t i = 0; i < st->n * st->k; i++) st->ws[i] = (int8_t)(st->ws[i] > 40 ? 1 : st->ws[i] < -40 ? -1 : 0);
    qb_status s = st->s->kind == KB_CONV
                      ? qb_qweights_pack_ternary_conv(&st->qw, st->n, st->s->conv.in_c, st->s->conv.k_h,
                                                      st->s->conv.k_w, st->ws)
                      : qb_qweights_pack_ternary(&st->qw, st->n, st->k, st->ws, st->k, 1);
    st->weight_bytes = st->qw.bytes;
    return s;
}

static qb_status qgemm_call(kb_state *st)
{
    if (st->s->kind == KB_CONV)
        return qb_qconv(st->env->be, st->env->pool, &st->s->conv, st->xu, 3, &st->qw, &st->rq, st->y,
                        &st->scratch);
    qb_qgemm_args g = {st->m, st->xu, st->k, 3, &st->qw, &st->rq, st->y, st->n, &st->scratch};
    return qb_qgemm(st->env->be, st->env->pool, &g);
}

#define Q4_GROUP 32

static qb_status q4_prepare(kb_state *st)
{
    int64_t groups = (st->k + Q4_GROUP - 1) / Q4_GROUP;
    uint8_t *codes = qb_malloc((size_t)(st->n * st->k), 1);
    float *scales = qb_malloc((size_t)(st->n * groups), 4);
    qb_status s = QB_ERR_NOMEM;
    if (codes && scales) {
        for (int64_t i = 0; i < st->n * st->k; i++) codes[i] = (uint8_t)(st->ws[i] & 15);
        for (int64_t i = 0; i < st->n * groups; i++) scales[i] = 0.01f;
        s = qb_q4weights_pack(&st->q4, st->n, st->k, Q4_GROUP, codes, scales, NULL);
    }
    free(codes);
    free(scales);
    st->weight_bytes = st->q4.bytes;
    return s;
}

static qb_status q4_call(kb_state *st)
{
    return qb_q4_gemm(st->env->be, st->env->pool, st->m, st->xf, st->k, &st->q4, NULL, st->y, st->n, &st->scratch);
}

/* 4-bit group weights x uint8 codes (the executor's group:32 layers): float
 * output, as the executor computes it. */
static qb_status q4a8_prepare(kb_state *st)
{
    qb_status s = q4_prepare(st);
    st->weight_bytes += st->q4.csum_bytes;
    st->rq = (qb_requant){.type = QB_OUT_F32, .scale = st->scale};
    return s;
}

static qb_status q4a8_call(kb_state *st)
{
    if (st->s->kind == KB_CONV)
        return qb_q4a8_conv(st->env->be, st->env->pool, &st->s->conv, st->xu, 3, &st->q4, &st->rq, st->y,
                            &st->scratch);
    qb_q4a8_args g = {st->m, st->xu, st->k, 3, &st->q4, &st->rq, st->y, st->n, &st->scratch};
    return qb_q4a8_gemm(st->env->be, st->env->pool, &g);
}

static qb_status binary_prepare(kb_state *st)
{
    int64_t kw = (st->k + 63) / 64;
    if (!(st->xbits = qb_aligned_alloc((size_t)(st->m * kw), 8))) return QB_ERR_NOMEM;
    qb_b1_pack_rows(st->m, st->k, st->xf, st->k, st->xbits);
    qb_status s = qb_b1weights_pack(&st->b1, st->n, st->k, st->wf, st->k, 1);
    st->weight_bytes = st->b1.bytes;
    return s;
}

static qb_status binary_call(kb_state *st)
{
    return qb_b1_gemm(st->env->be, st->env->pool, st->m, st->xbits, &st->b1, QB_OUT_F32, st->scale, NULL,
                      st->y, st->n);
}

static qb_status bf16_prepare(kb_state *st)
{
    if (!(st->xb = qb_aligned_alloc((size_t)(st->m * st->k), 2))) return QB_ERR_NOMEM;
    qb_f32_to_bf16_rows(st->m, st->k, st->xf, st->k, st->xb, st->k);
    qb_status s = qb_bf16weights_pack(&st->bw, st->n, st->k, st->wf, st->k, 1);
    st->weight_bytes = st->bw.bytes;
    return s;
}

static qb_status bf16_call(kb_state *st)
{
    return qb_bf16_gemm(st->env->be, st->env->pool, st->m, st->xb, st->k, &st->bw, NULL, st->y, st->n,
                        &st->scratch);
}

static const kb_impl impls[] = {
    {"openblas-fp32", "fp32", 0, 1, 1, openblas_prepare, openblas_call},
    {"onednn-fp32", "fp32", 0, 1, 1, onednn_f32_prepare, onednn_f32_call},
    {"onednn-bf16", "bf16", 0, 1, 0, onednn_bf16_prepare, onednn_bf16_call},
    {"qbench-bf16", "bf16", 1, 1, 0, bf16_prepare, bf16_call},
    {"onednn-int8", "int8", 0, 1, 1, onednn_int8_prepare, onednn_int8_call},
    {"qbench-int8", "int8", 1, 1, 1, int8_prepare, qgemm_call},
    {"qbench-int4", "int4", 1, 1, 0, q4_prepare, q4_call},
    {"qbench-int4g", "int4g", 1, 1, 1, q4a8_prepare, q4a8_call},
    {"qbench-ternary", "ternary", 1, 1, 1, ternary_prepare, qgemm_call},
    {"qbench-binary", "binary", 1, 1, 0, binary_prepare, binary_call},
};

int kb_impl_count(void) { return (int)QB_ARRAY_LEN(impls); }
const kb_impl *kb_impl_at(int i) { return i >= 0 && i < kb_impl_count() ? &impls[i] : NULL; }
const char *kb_impl_name(const kb_impl *im) { return im->name; }
const char *kb_impl_dtype(const kb_impl *im) { return im->dtype; }
int kb_impl_is_qbench(const kb_impl *im) { return im->qbench; }
int kb_impl_applies(const kb_impl *im, const kb_shape *s) { return s->kind == KB_CONV ? im->conv : im->gemm; }

/* ---- timing ------------------------------------------------------------ */

#define MAX_SAMPLES 15

/* Threads of this process other than the caller that are running (state R
 * in /proc/self/task), or -1 if that cannot be read. */
static int other_running_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    char self[32], path[300], buf[256];
    snprintf(self, sizeof self, "%d", (int)gettid());
    int running = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, self) == 0) continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        const char *paren = strrchr(buf, ')'); /* the name may hold spaces */
        if (paren && paren[1] == ' ' && paren[2] == 'R') running++;
    }
    closedir(d);
    return running;
}

/* Waits (up to 50 ms) until the threads of the implementation measured
 * before have stopped spinning and gone to sleep. Every runtime spins a
 * while after a parallel call; on a 2-core machine a peer's spinning
 * thread shares a core with the next implementation's worker and the
 * scheduler time-slices them, which slowed whichever came second by up to
 * 2x. A deployment runs one runtime, so each sample starts from idle peers. */
static void settle_threads(void)
{
    struct timespec nap = {0, 200 * 1000};
    for (int i = 0; i < 250 && other_running_threads() > 0; i++) nanosleep(&nap, NULL);
}

/* Per-call time of each implementation, with samples interleaved across
 * implementations (round after round) so that load from other processes
 * and frequency changes hit all of them alike. Each sample runs enough
 * calls to last about 2 ms; the result is the median over the rounds.
 * With several threads, a sample starts once the previous implementation's
 * threads are idle (settle_threads), after one untimed call that wakes its
 * own threads. */
qb_status kb_measure_shape(const kb_impl *const *ims, int n, const kb_shape *s, const kb_env *env,
                           kb_result *out)
{
    kb_state *st = qb_calloc((size_t)n, sizeof *st);
    int *inner = qb_calloc((size_t)n, sizeof *inner);
    double *ts = qb_calloc((size_t)n * MAX_SAMPLES, sizeof *ts);
    qb_status rc = st && inner && ts ? QB_OK : QB_ERR_NOMEM;
    int prepared = 0;
    for (; !rc && prepared < n; prepared++) {
        memset(&out[prepared], 0, sizeof out[prepared]);
        st[prepared] = (kb_state){.s = s, .env = env, .m = s->m, .n = s->n, .k = s->k};
        rc = make_inputs(&st[prepared]);
        if (!rc) rc = ims[prepared]->prepare(&st[prepared]);
        if (rc) qb_error_context(rc, "%s on %s", ims[prepared]->name, s->name);
    }
    /* warm-up: also sizes each sample */
    double total = 0;
    for (int i = 0; i < n && !rc; i++) {
        double t0 = qb_now(), t = 0;
        int calls = 0;
        do {
            if ((rc = ims[i]->call(&st[i]))) break;
            calls++;
            t = qb_now() - t0;
        } while (t < 0.02 || calls < 2);
        double per = t / calls;
        inner[i] = per >= 0.002 ? 1 : (int)(0.002 / per) + 1;
        total += per * inner[i];
    }
    int rounds = total > 0 ? (int)(env->min_time * n / total) : 0;
    rounds = rounds < 5 ? 5 : rounds > MAX_SAMPLES ? MAX_SAMPLES : rounds;
    for (int r = 0; r < rounds && !rc; r++)
        for (int i = 0; i < n && !rc; i++) {
            if (env->threads > 1) {
                settle_threads();
                if ((rc = ims[i]->call(&st[i]))) break;
            }
            double t0 = qb_now();
            for (int j = 0; j < inner[i] && !rc; j++) rc = ims[i]->call(&st[i]);
            ts[i * MAX_SAMPLES + r] = (qb_now() - t0) / inner[i];
        }
    for (int i = 0; i < n && !rc; i++) {
        kb_result *o = &out[i];
        o->seconds = qb_median(&ts[i * MAX_SAMPLES], (size_t)rounds);
        o->reps = rounds;
        o->gops = 2.0 * (double)s->m * (double)s->n * (double)s->k / o->seconds * 1e-9;
        o->weight_bytes = st[i].weight_bytes;
        if (st[i].dnn) snprintf(o->detail, sizeof o->detail, "%s", qb_onednn_impl(st[i].dnn));
        else if (ims[i]->qbench) snprintf(o->detail, sizeof o->detail, "%s", env->be->name);
        else snprintf(o->detail, sizeof o->detail, "%s", "cblas_sgemm");
    }
    for (int i = 0; i < prepared; i++) free_state(&st[i]);
    free(st), free(inner), free(ts);
    return rc;
}

/* ---- memory bandwidth and the cold 4-bit GEMV --------------------------- */

/* Bytes that defeat the last-level cache: 4 times its size, at least 96 MB. */
static size_t beyond_cache_bytes(void)
{
    size_t l3 = 32u << 20;
    FILE *f = fopen("/sys/devices/system/cpu/cpu0/cache/index3/size", "r");
    if (f) {
        unsigned long kb;
        if (fscanf(f, "%luK", &kb) == 1 && kb > 0) l3 = (size_t)kb << 10;
        fclose(f);
    }
    return 4 * l3 > (96u << 20) ? 4 * l3 : (96u << 20);
}

/* The read probe: each thread sums its share of the buffer as 4
 * interleaved streams of 64-byte lines (more lines in flight than one
 * stream), with 16-byte vector loads. */
typedef uint64_t v2u __attribute__((vector_size(16)));

struct sum_ctx {
    const uint8_t *p;
    size_t bytes;
    uint64_t sums[64];
};

static void sum_task(void *c, int tid, int nt)
{
    struct sum_ctx *s = c;
    int64_t b, e;
    qb_split_range((int64_t)(s->bytes / 256), tid, nt, &b, &e);
    size_t per = (size_t)(e - b) * 64; /* each of 4 streams */
    const uint8_t *base = s->p + (size_t)b * 256;
    v2u a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    for (size_t off = 0; off < per; off += 64) {
        const v2u *p0 = (const v2u *)(base + off), *p1 = (const v2u *)(base + per + off);
        const v2u *p2 = (const v2u *)(base + 2 * per + off), *p3 = (const v2u *)(base + 3 * per + off);
        a0 += p0[0] + p0[1] + p0[2] + p0[3];
        a1 += p1[0] + p1[1] + p1[2] + p1[3];
        a2 += p2[0] + p2[1] + p2[2] + p2[3];
        a3 += p3[0] + p3[1] + p3[2] + p3[3];
    }
    v2u t = a0 + a1 + a2 + a3;
    s->sums[tid % 64] = t[0] + t[1];
}

/* A batch-1 4-bit dense layer whose weights rotate through enough copies
 * that every call reads them from DRAM. */
struct gemv_cold {
    qb_q4weights *copies;
    int ncopies, next;
    float *x, *y;
    const kb_env *env;
    qb_scratch scratch;
};

static qb_status gemv_call(struct gemv_cold *g)
{
    qb_q4weights *w = &g->copies[g->next];
    g->next = (g->next + 1) % g->ncopies;
    return qb_q4_gemm(g->env->be, g->env->pool, 1, g->x, w->k, w, NULL, g->y, w->n, &g->scratch);
}

qb_status kb_memory(const kb_env *env, int64_t n, int64_t k, double *dram_bytes_per_s, double *gemv_bytes_per_s,
                    kb_result *out)
{
    memset(out, 0, sizeof *out);
    qb_rng r;
    qb_rng_seed(&r, 77);
    int64_t groups = (k + Q4_GROUP - 1) / Q4_GROUP;
    size_t bytes = beyond_cache_bytes() * 2;
    uint8_t *codes = qb_malloc((size_t)(n * k), 1), *buf = qb_aligned_alloc(bytes, 1);
    float *scales = qb_malloc((size_t)(n * groups), 4);
    struct gemv_cold g = {0};
    g.env = env;
    g.x = random_floats(&r, k);
    g.y = qb_aligned_alloc((size_t)n, 4);
    qb_status s = QB_ERR_NOMEM;
    if (!codes || !scales || !g.x || !g.y || !buf) goto done;
    memset(buf, 1, bytes); /* touch every page before timing */
    for (int64_t i = 0; i < n * k; i++) codes[i] = (uint8_t)qb_rng_below(&r, 16);
    for (int64_t i = 0; i < n * groups; i++) scales[i] = 0.01f + qb_rng_uniform(&r);
    size_t one = (size_t)(n * k / 2 + n * groups * 4);
    g.ncopies = (int)(beyond_cache_bytes() / one) + 1;
    if (!(g.copies = qb_calloc((size_t)g.ncopies, sizeof *g.copies))) goto done;
    for (int i = 0; i < g.ncopies; i++)
        if ((s = qb_q4weights_pack(&g.copies[i], n, k, Q4_GROUP, codes, scales, NULL))) goto done;
    /* rounds of one probe pass and as many layer calls as read the same
     * bytes, so both see the same memory traffic from other processes */
    struct sum_ctx sc = {buf, bytes, {0}};
    int calls = (int)(bytes / one) + 1;
    double tp[MAX_SAMPLES], tg[MAX_SAMPLES];
    int rounds = 0;
    double t_end = qb_now() + 4 * env->min_time;
    for (int warm = 1; rounds < MAX_SAMPLES && (warm || rounds < 5 || qb_now() < t_end);) {
        double t0 = qb_now();
        if (env->pool) qb_pool_run(env->pool, sum_task, &sc);
        else sum_task(&sc, 0, 1);
        double t1 = qb_now();
        for (int i = 0; i < calls; i++)
            if ((s = gemv_call(&g))) goto done;
        double t2 = qb_now();
        if (warm) {
            warm = 0;
            continue;
        }
        tp[rounds] = t1 - t0;
        tg[rounds++] = (t2 - t1) / calls;
    }
    out->seconds = qb_median(tg, (size_t)rounds);
    out->reps = rounds;
    out->weight_bytes = g.copies[0].bytes;
    out->gops = 2.0 * (double)n * (double)k / out->seconds * 1e-9;
    snprintf(out->detail, sizeof out->detail, "%s, %d weight copies", env->be->name, g.ncopies);
    *gemv_bytes_per_s = (double)g.copies[0].bytes / out->seconds;
    *dram_bytes_per_s = (double)bytes / qb_median(tp, (size_t)rounds);
done:
    for (int i = 0; g.copies && i < g.ncopies; i++) qb_q4weights_free(&g.copies[i]);
    free(g.copies), free(g.x), free(g.y), free(codes), free(scales), free(buf);
    qb_scratch_free(&g.scratch);
    return s;
}
