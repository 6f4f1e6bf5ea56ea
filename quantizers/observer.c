/* Histogram observers (see observer.h). */
#include "observer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NB QB_OBSERVER_BINS
#define HALF (NB / 2)

struct qb_observer {
    int64_t count[NB];
    double sum[NB];
    int64_t n, nonfinite;
    float min, max;
    float R; /* a power of two, or 0 before the first finite value */
};

qb_status qb_observer_create(qb_observer **out)
{
    *out = qb_calloc(1, sizeof **out);
    return *out ? QB_OK : QB_ERR_NOMEM;
}

void qb_observer_free(qb_observer *o) { free(o); }

void qb_observer_reset(qb_observer *o) { memset(o, 0, sizeof *o); }

int64_t qb_observer_count(const qb_observer *o) { return o->n; }
int64_t qb_observer_nonfinite(const qb_observer *o) { return o->nonfinite; }
float qb_observer_min(const qb_observer *o) { return o->n ? o->min : 0.0f; }
float qb_observer_max(const qb_observer *o) { return o->n ? o->max : 0.0f; }
float qb_observer_half_range(const qb_observer *o) { return o->R; }

/* The smallest power of two >= a, within [2^-126, 2^127] (beyond 2^127 the
 * last bin takes the values). */
static float pow2_ceil(float a)
{
    if (!(a > 0x1p-126f)) return 0x1p-126f;
    int e;
    float f = frexpf(a, &e); /* a = f 2^e, f in [0.5, 1) */
    if (f == 0.5f) return a;
    return e > 127 ? 0x1p127f : ldexpf(1.0f, e);
}

/* Widens the histogram to half-width R2 = R * 2^m: bin i moves to
 * HALF + floor((i - HALF) / 2^m). Moving in place works when walking away
 * from the centre never overwrites a bin not yet moved: positive bins go
 * ascending, negative bins descending. */
static void widen(qb_observer *o, float R2)
{
    int m = 0;
    for (float r = o->R; r < R2 && m < 64; r *= 2.0f) m++;
    if (m == 0) return;
    for (int i = HALF; i < NB; i++) {
        int j = m >= 31 ? HALF : HALF + ((i - HALF) >> m);
        if (j == i) continue;
        o->count[j] += o->count[i];
        o->sum[j] += o->sum[i];
        o->count[i] = 0;
        o->sum[i] = 0;
    }
    for (int i = HALF - 1; i >= 0; i--) {
        int off = HALF - 1 - i; /* bin i covers offsets -(off+1): floor division */
        int j = m >= 31 ? HALF - 1 : HALF - 1 - (off >> m);
        if (j == i) continue;
        o->count[j] += o->count[i];
        o->sum[j] += o->sum[i];
        o->count[i] = 0;
        o->sum[i] = 0;
    }
    o->R = R2;
}

static inline int bin_of(float x, float inv_width)
{
    int idx = HALF + (int)floorf(x * inv_width); /* exact: inv_width is a power of two */
    return idx < 0 ? 0 : idx >= NB ? NB - 1 : idx;
}

void qb_observer_update(qb_observer *o, const float *x, int64_t n)
{
    /* First pass: extremes (so the histogram grows at most once per batch). */
    float lo = INFINITY, hi = -INFINITY;
    int64_t finite = 0;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        if (!isfinite(v)) continue;
        finite++;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    o->nonfinite += n - finite;
    if (finite == 0) return;
    float amax = fmaxf(fabsf(lo), fabsf(hi));
    if (o->R == 0) o->R = pow2_ceil(amax);
    else if (amax > o->R) widen(o, pow2_ceil(amax));
    o->min = o->n && o->min < lo ? o->min : lo;
    o->max = o->n && o->max > hi ? o->max : hi;
    o->n += finite;
    const float inv_width = (float)HALF / o->R;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        if (!isfinite(v)) continue;
        int b = bin_of(v, inv_width);
        o->count[b]++;
        o->sum[b] += v;
    }
}

void qb_observer_merge(qb_observer *dst, const qb_observer *src)
{
    dst->nonfinite += src->nonfinite;
    if (src->n == 0) return;
    if (dst->n == 0) {
        int64_t nonfinite = dst->nonfinite;
        memcpy(dst, src, sizeof *dst);
        dst->nonfinite = nonfinite;
        return;
    }
    const qb_observer *s = src;
    qb_observer *tmp = NULL;
    if (src->R < dst->R) {
        /* Bring a copy of src to dst's width; on allocation failure fall
         * back to re-adding bin means (counts stay exact, sums too). */
        tmp = malloc(sizeof *tmp);
        if (tmp) {
            memcpy(tmp, src, sizeof *tmp);
            widen(tmp, dst->R);
            s = tmp;
        }
    } else if (src->R > dst->R) {
        widen(dst, src->R);
    }
    if (s->R == dst->R) {
        for (int i = 0; i < NB; i++) {
            dst->count[i] += s->count[i];
            dst->sum[i] += s->sum[i];
        }
    } else {
        const float inv_width = (float)HALF / dst->R;
        for (int i = 0; i < NB; i++) {
            if (!s->count[i]) continue;
            int b = bin_of((float)(s->sum[i] / s->count[i]), inv_width);
            dst->count[b] += s->count[i];
            dst->sum[b] += s->sum[i];
        }
    }
    dst->min = src->min < dst->min ? src->min : dst->min;
    dst->max = src->max > dst->max ? src->max : dst->max;
    dst->n += src->n;
    free(tmp);
}

qb_status qb_observer_dist(const qb_observer *o, qb_dist *d)
{
    float *v = qb_malloc(NB, sizeof *v);
    double *w = qb_malloc(NB, sizeof *w);
    qb_status s = QB_ERR_NOMEM;
    if (v && w) {
        int64_t k = 0;
        for (int i = 0; i < NB; i++) {
            if (!o->count[i]) continue;
            float mean = (float)(o->sum[i] / (double)o->count[i]);
            v[k] = mean < o->min ? o->min : mean > o->max ? o->max : mean;
            w[k++] = (double)o->count[i];
        }
        s = qb_dist_set_points(d, v, w, k, qb_observer_min(o), qb_observer_max(o),
                               o->R > 0 ? o->R / HALF : 0.0f);
    }
    free(v);
    free(w);
    return s;
}

qb_status qb_observer_range(const qb_observer *o, const qb_calib *c, const qb_scheme *s,
                            int bits, int narrow, float *lo, float *hi)
{
    *lo = qb_observer_min(o);
    *hi = qb_observer_max(o);
    if (c->method == QB_CALIB_MINMAX) return QB_OK;
    qb_dist d;
    qb_dist_init(&d);
    qb_status st = qb_observer_dist(o, &d);
    if (st == QB_OK) st = qb_calib_range(c, &d, s, bits, narrow, 1, lo, hi);
    qb_dist_free(&d);
    return st;
}
