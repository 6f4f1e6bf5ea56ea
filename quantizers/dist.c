/* Distributions for fitting (see dist.h). */
#include "dist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void qb_dist_init(qb_dist *d) { memset(d, 0, sizeof *d); }

void qb_dist_free(qb_dist *d)
{
    free(d->v);
    free(d->w);
    memset(d, 0, sizeof *d);
}

static qb_status reserve(qb_dist *d, int64_t n, int weighted)
{
    if (n > d->cap || (weighted && !d->w)) {
        int64_t cap = n > d->cap ? n : d->cap;
        float *v = qb_malloc((size_t)cap, sizeof *v);
        double *w = weighted ? qb_malloc((size_t)cap, sizeof *w) : NULL;
        if (!v || (weighted && !w)) {
            free(v);
            free(w);
            return QB_ERR_NOMEM;
        }
        free(d->v);
        free(d->w);
        d->v = v;
        d->w = w;
        d->cap = cap;
    } else if (!weighted && d->w) {
        free(d->w);
        d->w = NULL;
    }
    return QB_OK;
}

qb_status qb_dist_append_values(qb_dist *d, const float *x, int64_t n, int64_t stride)
{
    if (d->w) return qb_error(QB_ERR_INTERNAL, "qb_dist_append_values on a weighted dist");
    if (d->n + n > d->cap) {
        int64_t cap = d->cap * 2 > d->n + n ? d->cap * 2 : d->n + n;
        float *v = realloc(d->v, (size_t)cap * sizeof *v);
        if (!v) return qb_error(QB_ERR_NOMEM, "out of memory for %lld values", (long long)cap);
        d->v = v;
        d->cap = cap;
    }
    float lo = d->n ? d->min : INFINITY, hi = d->n ? d->max : -INFINITY;
    int64_t k = d->n;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i * stride];
        if (!isfinite(v)) continue;
        d->v[k++] = v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    d->n = k;
    d->grid = 0;
    d->total = (double)k;
    d->min = k ? lo : 0.0f;
    d->max = k ? hi : 0.0f;
    d->sorted = 0;
    return QB_OK;
}

qb_status qb_dist_set_values(qb_dist *d, const float *x, int64_t n, int64_t stride, int sort)
{
    qb_status s = reserve(d, n, 0);
    if (s != QB_OK) return s;
    d->n = 0;
    s = qb_dist_append_values(d, x, n, stride);
    if (s == QB_OK && sort) s = qb_dist_sort(d);
    return s;
}

qb_status qb_dist_set_points(qb_dist *d, const float *v, const double *w, int64_t n,
                             float min, float max, float grid)
{
    qb_status s = reserve(d, n, 1);
    if (s != QB_OK) return s;
    memcpy(d->v, v, (size_t)n * sizeof *v);
    memcpy(d->w, w, (size_t)n * sizeof *w);
    d->n = n;
    d->sorted = 1;
    d->total = 0;
    for (int64_t i = 0; i < n; i++) d->total += w[i];
    d->min = n ? min : 0.0f;
    d->max = n ? max : 0.0f;
    d->grid = grid;
    return QB_OK;
}

/* Order-preserving map of float bits to unsigned keys. */
static inline uint32_t float_key(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static inline float key_float(uint32_t k)
{
    uint32_t u = (k & 0x80000000u) ? (k ^ 0x80000000u) : ~k;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* LSD radix sort on the keys, four 8-bit passes. */
qb_status qb_sort_floats(float *x, int64_t n)
{
    uint32_t *a = qb_malloc((size_t)(n ? n : 1), sizeof *a);
    uint32_t *b = qb_malloc((size_t)(n ? n : 1), sizeof *b);
    if (!a || !b) {
        free(a);
        free(b);
        return QB_ERR_NOMEM;
    }
    for (int64_t i = 0; i < n; i++) a[i] = float_key(x[i]);
    for (int shift = 0; shift < 32; shift += 8) {
        int64_t count[257] = {0};
        for (int64_t i = 0; i < n; i++) count[((a[i] >> shift) & 0xFF) + 1]++;
        for (int k = 0; k < 256; k++) count[k + 1] += count[k];
        for (int64_t i = 0; i < n; i++) b[count[(a[i] >> shift) & 0xFF]++] = a[i];
        uint32_t *t = a;
        a = b;
        b = t;
    }
    for (int64_t i = 0; i < n; i++) x[i] = key_float(a[i]);
    free(a);
    free(b);
    return QB_OK;
}

qb_status qb_dist_sort(qb_dist *d)
{
    if (d->sorted) return QB_OK;
    if (d->w) return qb_error(QB_ERR_INTERNAL, "qb_dist_sort: weighted points must come sorted");
    qb_status s = qb_sort_floats(d->v, d->n);
    if (s == QB_OK) d->sorted = 1;
    return s;
}

float qb_dist_quantile(const qb_dist *d, double q)
{
    if (d->n == 0) return 0.0f;
    double target = q * d->total, cum = 0;
    for (int64_t i = 0; i < d->n; i++) {
        cum += qb_dist_w(d, i);
        if (cum >= target) return d->v[i];
    }
    return d->v[d->n - 1];
}

float qb_dist_abs_quantile(const qb_dist *d, double q)
{
    /* Walk inward from both ends, dropping the larger |x| first, until the
     * dropped weight exceeds (1 - q) of the total. */
    if (d->n == 0) return 0.0f;
    double drop = (1.0 - q) * d->total, dropped = 0;
    int64_t lo = 0, hi = d->n - 1;
    while (lo < hi) {
        int64_t i = fabsf(d->v[lo]) > fabsf(d->v[hi]) ? lo : hi;
        double w = qb_dist_w(d, i);
        if (dropped + w > drop) return fabsf(d->v[i]);
        dropped += w;
        if (i == lo) lo++;
        else hi--;
    }
    return fabsf(d->v[lo]);
}

float qb_dist_amax(const qb_dist *d)
{
    float a = fabsf(d->min), b = fabsf(d->max);
    return a > b ? a : b;
}

double qb_dist_mean_abs(const qb_dist *d, float lo, float hi, float t, double *count_out)
{
    double sum = 0, cnt = 0;
    for (int64_t i = 0; i < d->n; i++) {
        float v = d->v[i] < lo ? lo : d->v[i] > hi ? hi : d->v[i];
        float a = fabsf(v);
        if (!(a > t)) continue;
        double w = qb_dist_w(d, i);
        sum += w * a;
        cnt += w;
    }
    if (count_out) *count_out = cnt;
    return cnt > 0 ? sum / cnt : 0.0;
}

qb_status qb_dist_compress(const qb_dist *src, int nbins, qb_dist *dst)
{
    if (!src->sorted) return qb_error(QB_ERR_INTERNAL, "qb_dist_compress needs a sorted dist");
    qb_status s = reserve(dst, nbins, 1);
    if (s != QB_OK) return s;
    double span = (double)src->max - (double)src->min;
    int64_t k = 0;
    int cur = -1;
    double sw = 0, swv = 0;
    for (int64_t i = 0; i <= src->n; i++) {
        int bin = nbins;
        if (i < src->n) {
            double pos = span > 0 ? ((double)src->v[i] - src->min) / span * nbins : 0;
            bin = pos >= nbins ? nbins - 1 : (int)pos;
        }
        if (bin != cur && sw > 0) {
            double mean = swv / sw;
            dst->v[k] = (float)mean;
            dst->w[k] = sw;
            k++;
            sw = swv = 0;
        }
        cur = bin;
        if (i == src->n) break;
        double w = qb_dist_w(src, i);
        sw += w;
        swv += w * src->v[i];
    }
    dst->n = k;
    dst->grid = 0;
    dst->sorted = 1;
    dst->total = src->total;
    dst->min = src->min;
    dst->max = src->max;
    return QB_OK;
}
