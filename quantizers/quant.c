/* Quantizer configs, per-block parameters and the quantize / dequantize /
 * fake-quantize operations (see quant.h). A tensor is walked as "runs":
 * contiguous stretches whose values either share one block or take
 * consecutive blocks, which is what the fast kernels consume. */
#include "quant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "rng.h"
#include "uniform_kernels.h"

/* ---- configuration ---- */

qb_status qb_granularity_parse(const char *text, qb_granularity *out)
{
    memset(out, 0, sizeof *out);
    if (!text) text = "";
    if (strcmp(text, "tensor") == 0) {
        out->kind = QB_GRAN_TENSOR;
    } else if (strcmp(text, "channel") == 0) {
        out->kind = QB_GRAN_CHANNEL;
    } else if (strncmp(text, "group", 5) == 0 && (text[5] == ':' || text[5] == '\0')) {
        long n;
        if (text[5] != ':' || qb_parse_int("group size", text + 6, 1, INT32_MAX, &n) != QB_OK)
            return qb_error(QB_ERR_ARG, "granularity '%s': give the group size N >= 1, as in "
                            "group:32", text);
        out->kind = QB_GRAN_GROUP;
        out->group = n;
        out->axis = -1;
    } else {
        return qb_error(QB_ERR_ARG, "unknown granularity '%s' (use tensor, channel or group:N, "
                        "as in group:32)", text);
    }
    return QB_OK;
}

const char *qb_granularity_str(const qb_granularity *g, char *buf, size_t len)
{
    if (g->kind == QB_GRAN_GROUP) snprintf(buf, len, "group:%lld", (long long)g->group);
    else snprintf(buf, len, "%s", g->kind == QB_GRAN_CHANNEL ? "channel" : "tensor");
    return buf;
}

qb_status qb_rounding_parse(const char *text, qb_rounding *out)
{
    memset(out, 0, sizeof *out);
    if (!text) text = "";
    if (strcmp(text, "nearest") == 0) {
        out->mode = QB_ROUND_NEAREST;
    } else if (strcmp(text, "stochastic") == 0) {
        out->mode = QB_ROUND_STOCHASTIC;
        out->seed = 1;
    } else if (strncmp(text, "stochastic:", 11) == 0) {
        long seed;
        if (qb_parse_int("seed", text + 11, 0, INT32_MAX, &seed) != QB_OK)
            return qb_error(QB_ERR_ARG, "rounding '%s': the seed must be an integer >= 0, as in "
                            "stochastic:7", text);
        out->mode = QB_ROUND_STOCHASTIC;
        out->seed = (uint64_t)seed;
    } else {
        return qb_error(QB_ERR_ARG, "unknown rounding '%s' (use nearest, stochastic or "
                        "stochastic:SEED)", text);
    }
    return QB_OK;
}

const char *qb_rounding_str(const qb_rounding *r, char *buf, size_t len)
{
    if (r->mode == QB_ROUND_STOCHASTIC) snprintf(buf, len, "stochastic:%llu", (unsigned long long)r->seed);
    else snprintf(buf, len, "nearest");
    return buf;
}

void qb_quant_config_init(qb_quant_config *c, const qb_scheme *s)
{
    memset(c, 0, sizeof *c);
    c->scheme = s;
    c->bits = s ? s->default_bits : 0;
    c->gran.kind = QB_GRAN_TENSOR;
    c->calib.method = QB_CALIB_MINMAX;
    c->rounding.mode = QB_ROUND_NEAREST;
    c->seed = 1;
}

qb_status qb_quant_config_check(const qb_quant_config *c)
{
    if (!c->scheme) return qb_error(QB_ERR_ARG, "no quantization scheme given");
    qb_status s = qb_scheme_check_bits(c->scheme, c->bits);
    if (s != QB_OK) return s;
    if (c->narrow_range && !c->scheme->narrow_ok)
        return qb_error(QB_ERR_ARG, "narrow range applies only to uniform-sym, not to '%s'",
                        c->scheme->name);
    if (c->gran.kind == QB_GRAN_GROUP && c->gran.group < 1)
        return qb_error(QB_ERR_ARG, "group size must be at least 1 (got %lld)",
                        (long long)c->gran.group);
    return QB_OK;
}

qb_status qb_quant_config_parse(qb_quant_config *c, const char *scheme, int bits,
                                const char *granularity, const char *calib,
                                const char *rounding)
{
    const qb_scheme *s = qb_scheme_find(scheme);
    if (!s) return QB_ERR_ARG;
    qb_quant_config_init(c, s);
    if (bits) c->bits = bits;
    qb_status st = QB_OK;
    if (granularity) st = qb_granularity_parse(granularity, &c->gran);
    if (st == QB_OK && calib) st = qb_calib_parse(calib, &c->calib);
    if (st == QB_OK && rounding) st = qb_rounding_parse(rounding, &c->rounding);
    if (st == QB_OK) st = qb_quant_config_check(c);
    return st;
}

const char *qb_quant_config_str(const qb_quant_config *c, char *buf, size_t len)
{
    char g[32], cal[48], r[48], axis[24] = "";
    if (c->gran.kind != QB_GRAN_TENSOR) snprintf(axis, sizeof axis, " (axis %d)", c->gran.axis);
    snprintf(buf, len, "%s %d-bit%s, %s%s, %s, %s", c->scheme ? c->scheme->name : "?", c->bits,
             c->narrow_range ? " narrow" : "", qb_granularity_str(&c->gran, g, sizeof g), axis,
             qb_calib_str(&c->calib, cal, sizeof cal), qb_rounding_str(&c->rounding, r, sizeof r));
    return buf;
}

/* ---- parameters ---- */

const char *qb_index_str(int ndim, const int64_t *shape, int64_t flat, char *buf, size_t len)
{
    int64_t idx[QB_MAX_DIMS];
    for (int d = ndim - 1; d >= 0; d--) {
        idx[d] = shape[d] ? flat % shape[d] : 0;
        flat = shape[d] ? flat / shape[d] : 0;
    }
    return qb_shape_str(ndim, idx, buf, len);
}

void qb_qparams_free(qb_qparams *p)
{
    if (!p) return;
    free(p->scale);
    free(p->zero_point);
    free(p->threshold);
    free(p->codebook);
    memset(p, 0, sizeof *p);
}

qb_status qb_qparams_alloc(qb_qparams *p, const qb_quant_config *c, int ndim,
                           const int64_t *shape)
{
    memset(p, 0, sizeof *p);
    qb_status st = qb_quant_config_check(c);
    if (st != QB_OK) return st;
    char sbuf[160];
    if (ndim < 0 || ndim > QB_MAX_DIMS)
        return qb_error(QB_ERR_UNSUPPORTED, "tensors of rank %d are not supported (at most %d)",
                        ndim, QB_MAX_DIMS);
    int64_t numel = qb_shape_numel(ndim, shape);
    if (numel < 0)
        return qb_error(QB_ERR_NOMEM, "shape %s is too large (its element count overflows)",
                        qb_shape_str(ndim, shape, sbuf, sizeof sbuf));
    const qb_scheme *s = c->scheme;
    p->scheme = s;
    p->bits = c->bits;
    p->narrow = c->narrow_range;
    s->code_range(c->bits, c->narrow_range, &p->qmin, &p->qmax);
    p->gran = c->gran;
    p->rounding = c->rounding;
    p->ndim = ndim;
    if (ndim) memcpy(p->shape, shape, (size_t)ndim * sizeof *shape);

    if (c->gran.kind == QB_GRAN_TENSOR) {
        p->outer = 1;
        p->channels = 1;
        p->inner = numel;
        p->gran.axis = 0;
        p->nblocks = 1;
        p->pndim = 0;
    } else {
        int a = c->gran.axis < 0 ? c->gran.axis + ndim : c->gran.axis;
        if (ndim == 0)
            return qb_error(QB_ERR_ARG, "%s granularity needs a tensor with at least one axis "
                            "(this one is a scalar); use tensor",
                            c->gran.kind == QB_GRAN_CHANNEL ? "channel" : "group");
        if (a < 0 || a >= ndim)
            return qb_error(QB_ERR_ARG, "axis %d is out of range for shape %s (use 0..%d, or "
                            "-1 for the last)", c->gran.axis,
                            qb_shape_str(ndim, shape, sbuf, sizeof sbuf), ndim - 1);
        p->gran.axis = a;
        p->outer = qb_shape_numel(a, shape);
        p->channels = shape[a];
        p->inner = qb_shape_numel(ndim - a - 1, shape + a + 1);
        if (c->gran.kind == QB_GRAN_CHANNEL) {
            p->nblocks = p->channels;
            p->pndim = 1;
            p->pshape[0] = p->channels;
        } else {
            p->groups = (p->channels + c->gran.group - 1) / c->gran.group;
            p->nblocks = p->outer * p->groups * p->inner;
            p->pndim = ndim;
            memcpy(p->pshape, shape, (size_t)ndim * sizeof *shape);
            p->pshape[a] = p->groups;
        }
    }
    size_t nb = (size_t)p->nblocks;
    p->scale = qb_malloc(nb ? nb : 1, sizeof *p->scale);
    if (s->affine) p->zero_point = qb_calloc(nb ? nb : 1, sizeof *p->zero_point);
    if (s->params & QB_PARAM_THRESHOLD) p->threshold = qb_calloc(nb ? nb : 1, sizeof *p->threshold);
    if (s->params & QB_PARAM_CODEBOOK) {
        size_t cb;
        if (qb_mul_overflow(nb ? nb : 1, (size_t)1 << c->bits, &cb) == 0)
            p->codebook = qb_calloc(cb, sizeof *p->codebook);
    }
    if (!p->scale || (s->affine && !p->zero_point) ||
        ((s->params & QB_PARAM_THRESHOLD) && !p->threshold) ||
        ((s->params & QB_PARAM_CODEBOOK) && !p->codebook)) {
        qb_qparams_free(p);
        return qb_error(QB_ERR_NOMEM, "out of memory for the parameters of %lld blocks",
                        (long long)nb);
    }
    for (size_t b = 0; b < nb; b++) p->scale[b] = 1.0f;
    if (p->codebook) {
        int k = 1 << c->bits;
        for (size_t b = 0; b < nb; b++)
            for (int j = 0; j < k; j++) p->codebook[b * (size_t)k + (size_t)j] = (float)j;
    }
    return QB_OK;
}

qb_block qb_qparams_block(const qb_qparams *p, int64_t b)
{
    qb_block blk;
    memset(&blk, 0, sizeof blk);
    blk.bits = p->bits;
    blk.qmin = p->qmin;
    blk.qmax = p->qmax;
    blk.scale = p->scale[b];
    blk.zero_point = p->zero_point ? p->zero_point[b] : 0;
    blk.threshold = p->threshold ? p->threshold[b] : 0.0f;
    blk.codebook = p->codebook ? p->codebook + b * ((int64_t)1 << p->bits) : NULL;
    return blk;
}

int64_t qb_qparams_block_of(const qb_qparams *p, int64_t i)
{
    if (p->gran.kind == QB_GRAN_TENSOR) return 0;
    int64_t c = (i / p->inner) % p->channels;
    if (p->gran.kind == QB_GRAN_CHANNEL) return c;
    int64_t o = i / (p->channels * p->inner);
    return (o * p->groups + c / p->gran.group) * p->inner + i % p->inner;
}

/* Writes block b's fitted parameters back into p's arrays. */
static void store_block(qb_qparams *p, int64_t b, const qb_block *blk)
{
    p->scale[b] = blk->scale;
    if (p->zero_point) p->zero_point[b] = blk->zero_point;
    if (p->threshold) p->threshold[b] = blk->threshold;
}

/* The finite values of block b into d. */
static qb_status gather_block(const qb_qparams *p, const float *x, int64_t n, int64_t b,
                              qb_dist *d)
{
    qb_status s = qb_dist_set_values(d, x, 0, 1, 0);
    const int64_t C = p->channels, inner = p->inner;
    switch (p->gran.kind) {
    case QB_GRAN_TENSOR:
        return qb_dist_set_values(d, x, n, 1, 0);
    case QB_GRAN_CHANNEL:
        if (inner == 1) return qb_dist_append_values(d, x + b, p->outer, C);
        for (int64_t o = 0; o < p->outer && s == QB_OK; o++)
            s = qb_dist_append_values(d, x + (o * C + b) * inner, inner, 1);
        return s;
    case QB_GRAN_GROUP: {
        int64_t i = b % inner, og = b / inner, g = og % p->groups, o = og / p->groups;
        int64_t c0 = g * p->gran.group, len = C - c0 < p->gran.group ? C - c0 : p->gran.group;
        return qb_dist_append_values(d, x + (o * C + c0) * inner + i, len, inner);
    }
    }
    return qb_error(QB_ERR_INTERNAL, "bad granularity");
}

static qb_status nan_error(const qb_qparams *p, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (!isnan(x[i])) continue;
        char where[200] = "";
        if (p->ndim > 0 && qb_shape_numel(p->ndim, p->shape) == n) {
            char ib[160];
            snprintf(where, sizeof where, " %s", qb_index_str(p->ndim, p->shape, i, ib, sizeof ib));
        }
        return qb_error(QB_ERR_ARG, "value %lld%s is NaN; NaN cannot be quantized (find where it "
                        "comes from, or replace it)", (long long)i, where);
    }
    return qb_error(QB_ERR_INTERNAL, "a NaN was reported but not found");
}

qb_status qb_qparams_fit(qb_qparams *p, const qb_quant_config *c, const float *x, int ndim,
                         const int64_t *shape)
{
    qb_status st = qb_qparams_alloc(p, c, ndim, shape);
    if (st != QB_OK) return st;
    int64_t n = qb_shape_numel(ndim, shape);
    for (int64_t i = 0; i < n; i++)
        if (isnan(x[i])) {
            st = nan_error(p, x, n);
            qb_qparams_free(p);
            return st;
        }
    const qb_scheme *s = c->scheme;
    int sort = c->calib.method != QB_CALIB_MINMAX || (s->params & QB_PARAM_CODEBOOK);
    int k = 1 << c->bits;
    qb_dist d;
    qb_dist_init(&d);
    for (int64_t b = 0; b < p->nblocks && st == QB_OK; b++) {
        st = gather_block(p, x, n, b, &d);
        if (st == QB_OK && sort) st = qb_dist_sort(&d);
        if (st != QB_OK) break;
        qb_block blk = qb_qparams_block(p, b);
        st = qb_fit_block(&c->calib, &d, s, c->bits, c->narrow_range, c->seed, &blk,
                          p->codebook ? p->codebook + b * k : NULL);
        store_block(p, b, &blk);
    }
    qb_dist_free(&d);
    if (st != QB_OK) qb_qparams_free(p);
    return st;
}

qb_status qb_qparams_from_observer(qb_qparams *p, const qb_quant_config *c,
                                   const qb_observer *o)
{
    if (c->gran.kind != QB_GRAN_TENSOR)
        return qb_error(QB_ERR_ARG, "an activation observer gives one range per tensor; use "
                        "tensor granularity for activations");
    qb_status st = qb_qparams_alloc(p, c, 0, NULL);
    if (st != QB_OK) return st;
    qb_dist d;
    qb_dist_init(&d);
    st = qb_observer_dist(o, &d);
    if (st == QB_OK) {
        qb_block blk = qb_qparams_block(p, 0);
        st = qb_fit_block(&c->calib, &d, c->scheme, c->bits, c->narrow_range, c->seed, &blk,
                          p->codebook);
        store_block(p, 0, &blk);
    }
    qb_dist_free(&d);
    if (st != QB_OK) qb_qparams_free(p);
    return st;
}

/* ---- walking a tensor in runs ---- */

typedef struct {
    int64_t off, len; /* values [off, off + len) */
    int64_t block;    /* block of the first value */
    int per_value;    /* 1: value k uses block + k; 0: all use block */
} run;

/* How many runs n values make (n already checked against p), and outer. */
static qb_status plan_runs(const qb_qparams *p, int64_t n, int64_t *nruns, int64_t *outer)
{
    char sbuf[160];
    *outer = 1;
    if (p->gran.kind == QB_GRAN_TENSOR) {
        *nruns = n > 0;
        return QB_OK;
    }
    int64_t per = p->channels * p->inner;
    if (p->gran.kind == QB_GRAN_CHANNEL) {
        if (per == 0 ? n != 0 : n % per != 0)
            return qb_error(QB_ERR_ARG, "%lld values do not fit per-channel parameters made for "
                            "shape %s (a multiple of %lld values is needed)", (long long)n,
                            qb_shape_str(p->ndim, p->shape, sbuf, sizeof sbuf), (long long)per);
        *outer = per ? n / per : 0;
        *nruns = p->inner > 1 ? *outer * p->channels : *outer;
        return QB_OK;
    }
    if (n != qb_shape_numel(p->ndim, p->shape))
        return qb_error(QB_ERR_ARG, "%lld values do not match the group parameters made for shape "
                        "%s", (long long)n, qb_shape_str(p->ndim, p->shape, sbuf, sizeof sbuf));
    *outer = p->outer;
    *nruns = p->inner > 1 ? p->outer * p->channels : p->outer * p->groups;
    return QB_OK;
}

static run run_at(const qb_qparams *p, int64_t r, int64_t n)
{
    const int64_t C = p->channels, inner = p->inner;
    run u = {0, n, 0, 0};
    if (p->gran.kind == QB_GRAN_TENSOR) return u;
    if (inner > 1) {
        int64_t o = r / C, c = r % C;
        u.off = (o * C + c) * inner;
        u.len = inner;
        if (p->gran.kind == QB_GRAN_CHANNEL) {
            u.block = c;
        } else {
            u.block = (o * p->groups + c / p->gran.group) * inner;
            u.per_value = 1;
        }
    } else if (p->gran.kind == QB_GRAN_CHANNEL) {
        u.off = r * C;
        u.len = C;
        u.per_value = 1;
    } else {
        int64_t o = r / p->groups, g = r % p->groups, c0 = g * p->gran.group;
        u.off = o * C + c0;
        u.len = C - c0 < p->gran.group ? C - c0 : p->gran.group;
        u.block = o * p->groups + g;
    }
    return u;
}

/* ---- operations ---- */

#define CHUNK 2048 /* codes staged as int32 on the stack between kernel and array */

/* Codes are stored in one of these integer dtypes. */
static qb_status check_code_dtype(const qb_qparams *p, qb_dtype dt)
{
    int64_t lo, hi;
    switch (dt) {
    case QB_I8: lo = INT8_MIN, hi = INT8_MAX; break;
    case QB_U8: lo = 0, hi = UINT8_MAX; break;
    case QB_I16: lo = INT16_MIN, hi = INT16_MAX; break;
    case QB_U16: lo = 0, hi = UINT16_MAX; break;
    case QB_I32: lo = INT32_MIN, hi = INT32_MAX; break;
    default:
        return qb_error(QB_ERR_UNSUPPORTED, "codes are stored as int8, uint8, int16, uint16 or "
                        "int32, not %s", qb_dtype_name(dt));
    }
    if (p->qmin < lo || p->qmax > hi)
        return qb_error(QB_ERR_ARG, "%s %d-bit codes (%d..%d) do not fit %s; use %s",
                        p->scheme->name, p->bits, p->qmin, p->qmax, qb_dtype_name(dt),
                        qb_dtype_name(qb_scheme_code_dtype(p->scheme, p->bits)));
    return QB_OK;
}

/* Narrows/widens n codes between int32 and dt (the switch outside the loops). */
static void store_codes(const int32_t *c, int64_t n, qb_dtype dt, void *out, int64_t off)
{
    switch (dt) {
    case QB_I8: for (int64_t i = 0; i < n; i++) ((int8_t *)out)[off + i] = (int8_t)c[i]; break;
    case QB_U8: for (int64_t i = 0; i < n; i++) ((uint8_t *)out)[off + i] = (uint8_t)c[i]; break;
    case QB_I16: for (int64_t i = 0; i < n; i++) ((int16_t *)out)[off + i] = (int16_t)c[i]; break;
    case QB_U16: for (int64_t i = 0; i < n; i++) ((uint16_t *)out)[off + i] = (uint16_t)c[i]; break;
    default: memcpy((int32_t *)out + off, c, (size_t)n * sizeof *c); break;
    }
}

static void load_codes(const void *in, qb_dtype dt, int64_t off, int64_t n, int32_t *c)
{
    switch (dt) {
    case QB_I8: for (int64_t i = 0; i < n; i++) c[i] = ((const int8_t *)in)[off + i]; break;
    case QB_U8: for (int64_t i = 0; i < n; i++) c[i] = ((const uint8_t *)in)[off + i]; break;
    case QB_I16: for (int64_t i = 0; i < n; i++) c[i] = ((const int16_t *)in)[off + i]; break;
    case QB_U16: for (int64_t i = 0; i < n; i++) c[i] = ((const uint16_t *)in)[off + i]; break;
    default: memcpy(c, (const int32_t *)in + off, (size_t)n * sizeof *c); break;
    }
}

static inline void store_code(void *out, qb_dtype dt, int64_t i, int32_t c)
{
    switch (dt) {
    case QB_I8: ((int8_t *)out)[i] = (int8_t)c; break;
    case QB_U8: ((uint8_t *)out)[i] = (uint8_t)c; break;
    case QB_I16: ((int16_t *)out)[i] = (int16_t)c; break;
    case QB_U16: ((uint16_t *)out)[i] = (uint16_t)c; break;
    default: ((int32_t *)out)[i] = c; break;
    }
}

static inline int32_t load_code(const void *in, qb_dtype dt, int64_t i)
{
    switch (dt) {
    case QB_I8: return ((const int8_t *)in)[i];
    case QB_U8: return ((const uint8_t *)in)[i];
    case QB_I16: return ((const int16_t *)in)[i];
    case QB_U16: return ((const uint16_t *)in)[i];
    default: return ((const int32_t *)in)[i];
    }
}

/* Between the levels below and above x, the upper with probability
 * proportional to the distance from the lower: unbiased inside the range. */
static int32_t stochastic_code(const qb_scheme *s, const qb_block *b, float x, qb_rng *rng)
{
    int32_t d = s->quantize(x, b, QB_DIR_DOWN), u = s->quantize(x, b, QB_DIR_UP);
    if (d == u) return d;
    double ld = s->dequantize(d, b), lu = s->dequantize(u, b);
    double prob = ((double)x - ld) / (lu - ld);
    return qb_rng_uniform_d(rng) < prob ? u : d;
}

/* Where quantized values go: codes of dtype dt, and/or dequantized floats. */
typedef struct {
    void *codes;
    qb_dtype dt;
    float *y;
} sink;

/* The per-value path every scheme supports. dir: per-value directions or NULL. */
static int quantize_generic(const qb_qparams *p, const float *x, int64_t n, const uint8_t *dir,
                            sink out)
{
    const qb_scheme *s = p->scheme;
    int64_t nruns, outer;
    plan_runs(p, n, &nruns, &outer);
    qb_rng rng;
    qb_rng_seed(&rng, p->rounding.seed);
    int stochastic = !dir && p->rounding.mode == QB_ROUND_STOCHASTIC;
    int nan = 0;
    for (int64_t r = 0; r < nruns; r++) {
        run u = run_at(p, r, n);
        qb_block blk = qb_qparams_block(p, u.block);
        for (int64_t k = 0; k < u.len; k++) {
            if (u.per_value && k) blk = qb_qparams_block(p, u.block + k);
            int64_t i = u.off + k;
            float v = x[i];
            int32_t c;
            if (isnan(v)) {
                nan = 1;
                c = blk.zero_point;
            } else if (stochastic) {
                c = stochastic_code(s, &blk, v, &rng);
            } else {
                c = s->quantize(v, &blk, dir ? (qb_round_dir)dir[i] : QB_DIR_NEAREST);
            }
            if (out.codes) store_code(out.codes, out.dt, i, c);
            if (out.y) out.y[i] = s->dequantize(c, &blk);
        }
    }
    return nan;
}

/* The fast path: affine schemes with nearest rounding, through the SIMD
 * kernels; narrow codes are staged CHUNK at a time. */
static int quantize_affine(const qb_qparams *p, const float *x, int64_t n, sink out)
{
    const qb_uniform_kernels *k = qb_uniform_kernels_best();
    int64_t nruns, outer;
    plan_runs(p, n, &nruns, &outer);
    int32_t tmp[CHUNK];
    int nan = 0;
    for (int64_t r = 0; r < nruns; r++) {
        run u = run_at(p, r, n);
        if (out.y) {
            const float *s = p->scale + u.block;
            const int32_t *zp = p->zero_point + u.block;
            nan |= u.per_value ? k->fake_vec(x + u.off, out.y + u.off, u.len, s, zp, p->qmin, p->qmax)
                               : k->fake(x + u.off, out.y + u.off, u.len, *s, *zp, p->qmin, p->qmax);
            continue;
        }
        const float *s = p->scale + u.block;
        const int32_t *zp = p->zero_point + u.block;
        if (qb_dtype_size(out.dt) == 1 && k->quant8) {
            uint8_t *q = (uint8_t *)out.codes + u.off;
            nan |= u.per_value ? k->quant8_vec(x + u.off, q, u.len, s, zp, p->qmin, p->qmax)
                               : k->quant8(x + u.off, q, u.len, *s, *zp, p->qmin, p->qmax);
            continue;
        }
        for (int64_t c0 = 0; c0 < u.len; c0 += CHUNK) {
            int64_t m = u.len - c0 < CHUNK ? u.len - c0 : CHUNK, off = u.off + c0;
            int64_t b = u.per_value ? c0 : 0;
            int32_t *q = out.dt == QB_I32 ? (int32_t *)out.codes + off : tmp;
            nan |= u.per_value ? k->quant_vec(x + off, q, m, s + b, zp + b, p->qmin, p->qmax)
                               : k->quant(x + off, q, m, *s, *zp, p->qmin, p->qmax);
            if (out.dt != QB_I32) store_codes(tmp, m, out.dt, out.codes, off);
        }
    }
    return nan;
}

/* The float formats with nearest rounding: the per-value path's codes and
 * values (x / scale encoded, decoded times scale) through the array
 * encoder of minifloat.h, without a library call per value. */
static int quantize_format(const qb_qparams *p, const float *x, int64_t n, sink out)
{
    qb_minifloat_rne r;
    qb_minifloat_rne_init(p->scheme->format, &r);
    int64_t nruns, outer;
    plan_runs(p, n, &nruns, &outer);
    int nan = 0, simd = qb_uniform_kernels_best() == &qb_uniform_avx512; /* the same CPU check */
    int bytes = out.codes ? (int)qb_dtype_size(out.dt) : 0;
    for (int64_t run_i = 0; run_i < nruns; run_i++) {
        run u = run_at(p, run_i, n);
        float s = p->scale[u.block];
        if (simd && !u.per_value) {
            nan |= qb_minifloat_rne_run_avx512(&r, x + u.off, u.len, s, bytes ? (char *)out.codes + u.off * bytes : NULL,
                                               bytes, out.y ? out.y + u.off : NULL);
            continue;
        }
        for (int64_t k = 0; k < u.len; k++) {
            if (u.per_value) s = p->scale[u.block + k];
            int64_t i = u.off + k;
            float v = 0.0f;
            uint32_t c = 0; /* NaN: the zero point's code, as the per-value path */
            if (isnan(x[i])) nan = 1;
            else c = qb_minifloat_rne_encode(&r, x[i] / s, &v);
            if (out.codes) store_code(out.codes, out.dt, i, (int32_t)c);
            if (out.y) out.y[i] = v * s;
        }
    }
    return nan;
}

static qb_status run_quantize(const qb_qparams *p, const float *x, int64_t n, const uint8_t *dir,
                              sink out)
{
    int64_t nruns, outer;
    qb_status st = plan_runs(p, n, &nruns, &outer);
    if (st == QB_OK && out.codes) st = check_code_dtype(p, out.dt);
    if (st != QB_OK) return st;
    int fast = p->scheme->affine && !dir && p->rounding.mode == QB_ROUND_NEAREST;
    int format = p->scheme->format && !dir && p->rounding.mode == QB_ROUND_NEAREST;
    int nan = fast     ? quantize_affine(p, x, n, out)
              : format ? quantize_format(p, x, n, out)
                       : quantize_generic(p, x, n, dir, out);
    return nan ? nan_error(p, x, n) : QB_OK;
}

qb_status qb_quantize(const qb_qparams *p, const float *x, int64_t n, int32_t *q)
{
    sink out = {q, QB_I32, NULL};
    return run_quantize(p, x, n, NULL, out);
}

qb_status qb_quantize_to(const qb_qparams *p, const float *x, int64_t n, qb_dtype dt, void *codes)
{
    sink out = {codes, dt, NULL};
    return run_quantize(p, x, n, NULL, out);
}

qb_status qb_quantize_directed(const qb_qparams *p, const float *x, int64_t n,
                               const uint8_t *dir, int32_t *q)
{
    for (int64_t i = 0; i < n; i++)
        if (dir[i] > QB_DIR_UP)
            return qb_error(QB_ERR_ARG, "rounding direction %d at index %lld is not a "
                            "qb_round_dir", dir[i], (long long)i);
    sink out = {q, QB_I32, NULL};
    return run_quantize(p, x, n, dir, out);
}

qb_status qb_fake_quantize(const qb_qparams *p, const float *x, int64_t n, float *y)
{
    sink out = {NULL, QB_I32, y};
    return run_quantize(p, x, n, NULL, out);
}

static int valid_code(const qb_qparams *p, int32_t c)
{
    return c >= p->qmin && c <= p->qmax && (c - p->qmin) % p->scheme->code_step == 0;
}

static qb_status bad_code(const qb_qparams *p, qb_dtype dt, const void *codes, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        int32_t c = load_code(codes, dt, i);
        if (valid_code(p, c)) continue;
        return qb_error(QB_ERR_ARG, "code %d at index %lld is not a %s %d-bit code (valid: %d..%d%s)",
                        c, (long long)i, p->scheme->name, p->bits, p->qmin, p->qmax,
                        p->scheme->code_step > 1 ? " in steps of 2" : "");
    }
    return qb_error(QB_ERR_INTERNAL, "a bad code was reported but not found");
}

qb_status qb_dequantize_from(const qb_qparams *p, qb_dtype dt, const void *codes, int64_t n,
                             float *y)
{
    int64_t nruns, outer;
    qb_status st = plan_runs(p, n, &nruns, &outer);
    if (st == QB_OK) st = check_code_dtype(p, dt);
    if (st != QB_OK) return st;
    const qb_scheme *s = p->scheme;
    const qb_uniform_kernels *k = qb_uniform_kernels_best();
    int32_t tmp[CHUNK];
    int bad = 0;
    for (int64_t r = 0; r < nruns && !bad; r++) {
        run u = run_at(p, r, n);
        if (s->affine) {
            const float *sc = p->scale + u.block;
            const int32_t *zp = p->zero_point + u.block;
            if (qb_dtype_size(dt) == 1 && k->dequant8) {
                const uint8_t *q = (const uint8_t *)codes + u.off;
                int sgn = dt == QB_I8;
                bad |= u.per_value ? k->dequant8_vec(q, sgn, y + u.off, u.len, sc, zp, p->qmin, p->qmax)
                                   : k->dequant8(q, sgn, y + u.off, u.len, *sc, *zp, p->qmin, p->qmax);
                continue;
            }
            for (int64_t c0 = 0; c0 < u.len; c0 += CHUNK) {
                int64_t m = u.len - c0 < CHUNK ? u.len - c0 : CHUNK, off = u.off + c0;
                int64_t b = u.per_value ? c0 : 0;
                const int32_t *q = dt == QB_I32 ? (const int32_t *)codes + off : tmp;
                if (dt != QB_I32) load_codes(codes, dt, off, m, tmp);
                bad |= u.per_value ? k->dequant_vec(q, y + off, m, sc + b, zp + b, p->qmin, p->qmax)
                                   : k->dequant(q, y + off, m, *sc, *zp, p->qmin, p->qmax);
            }
            continue;
        }
        qb_block blk = qb_qparams_block(p, u.block);
        for (int64_t i = 0; i < u.len; i++) {
            if (u.per_value && i) blk = qb_qparams_block(p, u.block + i);
            int32_t c = load_code(codes, dt, u.off + i);
            if (!valid_code(p, c)) {
                bad = 1;
                break;
            }
            y[u.off + i] = s->dequantize(c, &blk);
        }
    }
    return bad ? bad_code(p, dt, codes, n) : QB_OK;
}

qb_status qb_dequantize(const qb_qparams *p, const int32_t *q, int64_t n, float *y)
{
    return qb_dequantize_from(p, QB_I32, q, n, y);
}

uint64_t qb_qparams_size_bytes(const qb_qparams *p, int64_t n)
{
    const qb_scheme *s = p->scheme;
    uint64_t codes = ((uint64_t)n * (uint64_t)p->bits + 7) / 8;
    uint64_t per_block = 0;
    if (s->params & QB_PARAM_SCALE) per_block += s->id == QB_SCHEME_POW2 ? 1 : 4;
    if (p->zero_point) {
        int stored = (s->params & QB_PARAM_ZERO_POINT) != 0;
        for (int64_t b = 0; b < p->nblocks && !stored; b++) stored = p->zero_point[b] != 0;
        if (stored) per_block += p->bits <= 8 ? 1 : 2;
    }
    if (s->params & QB_PARAM_CODEBOOK) per_block += 4ull << p->bits;
    return codes + (uint64_t)p->nblocks * per_block;
}
