/* Range calibration methods (see calib.h). */
#include "calib.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"

#define KL_BINS 2048
#define KL_MIN_BINS 128
#define MSE_POINTS 4096 /* larger data is reduced to this many weighted points */

static const char calib_forms[] = "minmax, percentile:P (50 < P <= 100), mse or kl";

qb_status qb_calib_parse(const char *text, qb_calib *out)
{
    memset(out, 0, sizeof *out);
    if (!text) text = "";
    if (strcmp(text, "minmax") == 0) out->method = QB_CALIB_MINMAX;
    else if (strcmp(text, "mse") == 0) out->method = QB_CALIB_MSE;
    else if (strcmp(text, "kl") == 0) out->method = QB_CALIB_KL;
    else if (strncmp(text, "percentile", 10) == 0) {
        if (text[10] != ':')
            return qb_error(QB_ERR_ARG, "calibration '%s': give the percentile, as in "
                            "percentile:99.9", text);
        double p;
        if (qb_parse_double("percentile", text + 11, &p) != QB_OK || !(p > 50 && p <= 100))
            return qb_error(QB_ERR_ARG, "calibration '%s': P must be a number with 50 < P <= 100, "
                            "as in percentile:99.9", text);
        out->method = QB_CALIB_PERCENTILE;
        out->percentile = p;
    } else {
        return qb_error(QB_ERR_ARG, "unknown calibration '%s' (use %s)", text, calib_forms);
    }
    return QB_OK;
}

const char *qb_calib_str(const qb_calib *c, char *buf, size_t len)
{
    switch (c->method) {
    case QB_CALIB_MINMAX: snprintf(buf, len, "minmax"); break;
    case QB_CALIB_PERCENTILE: snprintf(buf, len, "percentile:%g", c->percentile); break;
    case QB_CALIB_MSE: snprintf(buf, len, "mse"); break;
    case QB_CALIB_KL: snprintf(buf, len, "kl"); break;
    }
    return buf;
}

double qb_dist_sq_error(const qb_dist *d, const qb_scheme *s, const qb_block *b)
{
    double err = 0;
    for (int64_t i = 0; i < d->n; i++) {
        float v = d->v[i];
        double e = (double)s->dequantize(s->quantize(v, b, QB_DIR_NEAREST), b) - v;
        err += qb_dist_w(d, i) * e * e;
    }
    return err;
}

static void base_range(const qb_dist *d, const qb_scheme *s, float *lo, float *hi)
{
    if (s->symmetric) {
        *hi = qb_dist_amax(d);
        *lo = -*hi;
    } else {
        *lo = d->min;
        *hi = d->max;
    }
}

/* Error of the block fitted to the range alpha * base. */
static qb_status mse_at(const qb_dist *d, const qb_scheme *s, qb_fit_args a, double alpha,
                        float blo, float bhi, float *codebook, double *err)
{
    a.lo = (float)(alpha * blo);
    a.hi = (float)(alpha * bhi);
    qb_block b;
    qb_block_init(&b, s, a.bits, a.narrow);
    qb_status st = s->fit(d, &a, &b, codebook);
    if (st != QB_OK) return st;
    *err = qb_dist_sq_error(d, s, &b);
    return QB_OK;
}

/* Shrink factor search: a coarse grid from 1 down to 0.05, then a fine grid
 * around the best. Ties keep the larger range (less clipping). */
static qb_status mse_range(const qb_dist *d, const qb_scheme *s, int bits, int narrow,
                           uint64_t seed, float *lo, float *hi)
{
    qb_dist small;
    qb_dist_init(&small);
    const qb_dist *use = d;
    qb_status st = QB_OK;
    float *codebook = qb_malloc((size_t)1 << bits, sizeof *codebook);
    if (!codebook) return QB_ERR_NOMEM;
    if (d->n > MSE_POINTS) {
        st = qb_dist_compress(d, MSE_POINTS, &small);
        use = &small;
    }
    float blo, bhi;
    base_range(d, s, &blo, &bhi);
    qb_fit_args a = {bits, narrow, blo, bhi, seed};
    double best_alpha = 1.0, best = INFINITY;
    for (int k = 20; k >= 1 && st == QB_OK; k--) {
        double alpha = k * 0.05, err = 0;
        st = mse_at(use, s, a, alpha, blo, bhi, codebook, &err);
        if (err < best) best = err, best_alpha = alpha;
    }
    double center = best_alpha;
    for (int k = 10; k >= -10 && st == QB_OK; k--) {
        double alpha = center + k * 0.005, err = 0;
        if (alpha <= 0 || alpha > 1 || k == 0) continue;
        st = mse_at(use, s, a, alpha, blo, bhi, codebook, &err);
        if (err < best) best = err, best_alpha = alpha;
    }
    *lo = (float)(best_alpha * blo);
    *hi = (float)(best_alpha * bhi);
    free(codebook);
    qb_dist_free(&small);
    return st;
}

/* MXNet's _smooth_distribution: moves eps of mass onto empty bins so the
 * divergence stays finite. Returns 0 if that is impossible. */
static int smooth(double *p, int n)
{
    const double eps = 1e-4;
    int zeros = 0;
    for (int i = 0; i < n; i++) zeros += p[i] == 0;
    int nonzeros = n - zeros;
    if (nonzeros == 0) return 0;
    double eps1 = eps * zeros / nonzeros;
    for (int i = 0; i < n; i++) {
        p[i] += p[i] == 0 ? eps : -eps1;
        if (p[i] <= 0) return 0;
    }
    return 1;
}

static double kl_divergence(const double *p, const double *q, int n)
{
    double sp = 0, sq = 0, kl = 0;
    for (int i = 0; i < n; i++) sp += p[i], sq += q[i];
    for (int i = 0; i < n; i++) {
        double pi = p[i] / sp, qi = q[i] / sq;
        kl += pi * log(pi / qi);
    }
    return kl;
}

/* TensorRT entropy calibration on the |x| histogram, following MXNet's
 * reference implementation (_get_optimal_threshold). Raw values get 2048
 * bins over [0, amax]; an observer's points keep the observer's own bins
 * (re-binning them would alias), whole bins merged to at most 2048. Returns
 * the threshold.
 * Two details of NVIDIA's calibrator (pytorch-quantization's
 * _compute_amax_entropy) matter on real tensors: the bin at zero counts as
 * its neighbour (post-ReLU activations and image backgrounds put half the
 * mass there; left alone, that spike makes every threshold whose levels are
 * wider than a bin look bad, and the search clips to a few bins), and no
 * threshold keeps fewer than KL_MIN_BINS bins (at 4 bits the levels alone
 * would allow clipping at 8 of 2048 bins). */
static qb_status kl_threshold(const qb_dist *d, int nq, float *threshold)
{
    float amax = qb_dist_amax(d);
    double width = d->grid > 0 ? d->grid : (double)amax / KL_BINS;
    int nbins = d->grid > 0 ? (int)ceil(amax / width) : KL_BINS;
    if (nbins > KL_BINS) { /* whole observer bins merged: exact, and the search is quadratic */
        int merge = (nbins + KL_BINS - 1) / KL_BINS;
        width *= merge;
        nbins = (int)ceil(amax / width);
    }
    if (nbins < 1) nbins = 1;
    int start = nq > KL_MIN_BINS ? nq : KL_MIN_BINS;
    if (nbins <= start) {
        *threshold = amax;
        return QB_OK;
    }
    double *hist = qb_calloc((size_t)nbins, sizeof *hist);
    double *p = qb_malloc((size_t)nbins, sizeof *p), *q = qb_malloc((size_t)nbins, sizeof *q);
    if (!hist || !p || !q) {
        free(hist);
        free(p);
        free(q);
        return QB_ERR_NOMEM;
    }
    for (int64_t i = 0; i < d->n; i++) {
        int bin = (int)((double)fabsf(d->v[i]) / width);
        hist[bin >= nbins ? nbins - 1 : bin] += qb_dist_w(d, i);
    }
    hist[0] = hist[1];
    double best = INFINITY;
    int best_i = nbins;
    double outliers = 0;
    for (int i = nbins; i >= start; i--) {
        /* p: the first i bins with everything beyond folded into the last. */
        if (i < nbins) outliers += hist[i];
        memcpy(p, hist, (size_t)i * sizeof *p);
        p[i - 1] += outliers;
        /* q: the first i bins merged into nq levels, spread back evenly over
         * each level's non-empty bins. */
        int merged = i / nq;
        for (int j = 0; j < nq; j++) {
            int start = j * merged, stop = j == nq - 1 ? i : start + merged;
            double total = 0;
            int nonzero = 0;
            for (int k = start; k < stop; k++) {
                total += hist[k];
                nonzero += p[k] != 0;
            }
            for (int k = start; k < stop; k++) q[k] = p[k] != 0 && nonzero ? total / nonzero : 0;
        }
        if (!smooth(p, i) || !smooth(q, i)) continue;
        double kl = kl_divergence(p, q, i);
        if (kl <= best) best = kl, best_i = i; /* ties: the smaller i, as MXNet's argmin */
    }
    *threshold = (float)fmin(best_i * width, amax);
    free(hist);
    free(p);
    free(q);
    return QB_OK;
}

qb_status qb_calib_range(const qb_calib *c, const qb_dist *d, const qb_scheme *s, int bits,
                         int narrow, uint64_t seed, float *lo, float *hi)
{
    *lo = d->min;
    *hi = d->max;
    if (c->method == QB_CALIB_MINMAX || d->n == 0) return QB_OK;
    if (!d->sorted) return qb_error(QB_ERR_INTERNAL, "calibration needs sorted data");
    switch (c->method) {
    case QB_CALIB_MINMAX: return QB_OK;
    case QB_CALIB_PERCENTILE: {
        double q = c->percentile / 100.0;
        if (s->symmetric) {
            *hi = qb_dist_abs_quantile(d, q);
            *lo = -*hi;
        } else {
            *lo = qb_dist_quantile(d, 1.0 - q);
            *hi = qb_dist_quantile(d, q);
        }
        return QB_OK;
    }
    case QB_CALIB_MSE: return mse_range(d, s, bits, narrow, seed, lo, hi);
    case QB_CALIB_KL: {
        int nq = !s->symmetric && d->min >= 0 ? 1 << bits : 1 << (bits - 1);
        if (qb_dist_amax(d) == 0) return QB_OK;
        float t;
        qb_status st = kl_threshold(d, nq, &t);
        if (st != QB_OK) return st;
        if (s->symmetric) {
            *lo = -t;
            *hi = t;
        } else {
            *lo = d->min > -t ? d->min : -t;
            *hi = d->max < t ? d->max : t;
        }
        return QB_OK;
    }
    }
    return qb_error(QB_ERR_INTERNAL, "unknown calibration method %d", (int)c->method);
}

qb_status qb_fit_block(const qb_calib *c, const qb_dist *d, const qb_scheme *s, int bits,
                       int narrow, uint64_t seed, qb_block *b, float *codebook)
{
    qb_fit_args a = {bits, narrow, d->min, d->max, seed};
    if (s->calibrated) {
        qb_status st = qb_calib_range(c, d, s, bits, narrow, seed, &a.lo, &a.hi);
        if (st != QB_OK) return st;
    }
    return s->fit(d, &a, b, codebook);
}
