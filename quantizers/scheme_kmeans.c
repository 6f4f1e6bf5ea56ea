/* kmeans: a codebook of K = 2^bits levels per block (weight sharing, as in
 * Deep Compression), codes 0..K-1 index the ascending codebook.
 * Fit: deterministic seeded k-means++ (weighted D^2 sampling) then Lloyd
 * iterations. In one dimension with sorted data every cluster is a
 * contiguous run of values, so a Lloyd step is K binary searches on
 * prefix sums (O(K log n)) instead of a pass over the data; seeding is
 * O(n K). With at most K distinct values the codebook is those values. */
#include "scheme.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "rng.h"

#define KMEANS_MAX_ITERS 1000

static void kmeans_range(int bits, int narrow, int32_t *qmin, int32_t *qmax)
{
    (void)narrow;
    *qmin = 0;
    *qmax = (int32_t)(1u << bits) - 1;
}

/* Makes the codebook strictly ascending (duplicates and unused levels are
 * nudged up by one ulp) so that every code decodes to its own level. */
static void make_strict(float *cb, int k)
{
    for (int j = 1; j < k; j++)
        if (!(cb[j] > cb[j - 1])) cb[j] = nextafterf(cb[j - 1], INFINITY);
}

/* First index in [0, n) with v[i] > x (n if none). */
static int64_t upper_bound(const float *v, int64_t n, double x)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if ((double)v[mid] > x) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* Weighted index sampling: the i where the running sum of p passes u * total. */
static int64_t sample(const double *p, int64_t n, double total, qb_rng *rng)
{
    double target = qb_rng_uniform_d(rng) * total, cum = 0;
    for (int64_t i = 0; i < n; i++) {
        cum += p[i];
        if (cum > target && p[i] > 0) return i;
    }
    for (int64_t i = n - 1; i >= 0; i--)
        if (p[i] > 0) return i;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* k-means++ seeding into c[0..k), sorted ascending. */
static void seed_centers(const float *v, const qb_dist *d, int k, uint64_t seed, double *c,
                         double *dist2)
{
    qb_rng rng;
    qb_rng_seed(&rng, seed);
    int64_t n = d->n;
    double total = 0;
    for (int64_t i = 0; i < n; i++) {
        dist2[i] = qb_dist_w(d, i);
        total += dist2[i];
    }
    c[0] = v[sample(dist2, n, total, &rng)];
    for (int64_t i = 0; i < n; i++) dist2[i] = INFINITY;
    for (int j = 1; j < k; j++) {
        total = 0;
        for (int64_t i = 0; i < n; i++) {
            double e = (v[i] - c[j - 1]) * (v[i] - c[j - 1]) * qb_dist_w(d, i);
            if (e < dist2[i]) dist2[i] = e;
            total += dist2[i];
        }
        c[j] = v[sample(dist2, n, total, &rng)];
    }
    qsort(c, (size_t)k, sizeof *c, cmp_double);
}

static void lloyd(const float *v, int64_t n, const double *cw, const double *cwv, int k,
                  double *c, int64_t *bound)
{
    for (int it = 0; it < KMEANS_MAX_ITERS; it++) {
        int changed = it == 0;
        int64_t start = 0;
        for (int j = 0; j < k; j++) {
            int64_t end = j == k - 1 ? n : upper_bound(v, n, 0.5 * (c[j] + c[j + 1]));
            if (end < start) end = start;
            if (end != bound[j]) changed = 1;
            bound[j] = end;
            double w = cw[end] - cw[start];
            if (w > 0) c[j] = (cwv[end] - cwv[start]) / w;
            start = end;
        }
        if (!changed) break;
    }
}

static qb_status kmeans_fit(const qb_dist *d, const qb_fit_args *a, qb_block *b, float *codebook)
{
    const int k = 1 << a->bits;
    const int64_t n = d->n;
    if (!d->sorted) return qb_error(QB_ERR_INTERNAL, "kmeans fit needs sorted data");
    b->codebook = codebook;
    /* Clip to the calibrated range; sorted order survives clipping. */
    float *v = qb_malloc((size_t)(n ? n : 1), sizeof *v);
    double *cw = qb_malloc((size_t)n + 1, sizeof *cw), *cwv = qb_malloc((size_t)n + 1, sizeof *cwv);
    double *c = qb_malloc((size_t)k, sizeof *c);
    int64_t *bound = qb_malloc((size_t)k, sizeof *bound);
    double *dist2 = qb_malloc((size_t)(n ? n : 1), sizeof *dist2);
    qb_status s = QB_ERR_NOMEM;
    if (!v || !cw || !cwv || !c || !bound || !dist2) goto done;

    int64_t distinct = 0;
    cw[0] = cwv[0] = 0;
    for (int64_t i = 0; i < n; i++) {
        v[i] = d->v[i] < a->lo ? a->lo : d->v[i] > a->hi ? a->hi : d->v[i];
        double w = qb_dist_w(d, i);
        cw[i + 1] = cw[i] + w;
        cwv[i + 1] = cwv[i] + w * v[i];
        if (i == 0 || v[i] != v[i - 1]) distinct++;
    }
    if (distinct <= k) {
        int j = 0;
        for (int64_t i = 0; i < n; i++)
            if (i == 0 || v[i] != v[i - 1]) codebook[j++] = v[i];
        if (j == 0) codebook[j++] = 0.0f;
        for (; j < k; j++) codebook[j] = codebook[j - 1];
    } else {
        seed_centers(v, d, k, a->seed, c, dist2);
        for (int j = 0; j < k; j++) bound[j] = -1;
        lloyd(v, n, cw, cwv, k, c, bound);
        for (int j = 0; j < k; j++) codebook[j] = (float)c[j];
    }
    make_strict(codebook, k);
    s = QB_OK;
done:
    free(v);
    free(cw);
    free(cwv);
    free(c);
    free(bound);
    free(dist2);
    return s;
}

static int32_t kmeans_quantize(float x, const qb_block *b, qb_round_dir dir)
{
    const float *cb = b->codebook;
    const int32_t k = b->qmax + 1;
    /* i: the last level <= x, or -1. */
    int32_t lo = 0, hi = k;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (cb[mid] > x) hi = mid;
        else lo = mid + 1;
    }
    int32_t i = lo - 1;
    if (i < 0) return 0;
    if (i == k - 1 || cb[i] == x) return i;
    if (dir == QB_DIR_DOWN) return i;
    if (dir == QB_DIR_UP) return i + 1;
    double dlo = (double)x - cb[i], dhi = (double)cb[i + 1] - x;
    if (dlo != dhi) return dlo < dhi ? i : i + 1;
    return (i & 1) ? i + 1 : i;
}

static float kmeans_dequantize(int32_t q, const qb_block *b) { return b->codebook[q]; }

const qb_scheme qb_scheme_kmeans = {
    .id = QB_SCHEME_KMEANS,
    .name = "kmeans",
    .levels = "a codebook of 2^b levels per block (seeded k-means++ then Lloyd)",
    .bits_mask = 0x1FE, /* 1-8 */
    .default_bits = 4,
    .params = QB_PARAM_CODEBOOK,
    .calibrated = 1,
    .code_step = 1,
    .code_range = kmeans_range,
    .fit = kmeans_fit,
    .quantize = kmeans_quantize,
    .dequantize = kmeans_dequantize,
};
