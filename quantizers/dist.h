/* A distribution of values to fit quantization parameters to: either raw
 * samples (a weight block, weight 1 each) or a histogram (an observer's
 * bins, one point per bin at the mean of its values, weighted by count).
 * Calibration and the schemes' fit functions see only this type, so one
 * implementation serves weights and activations. Non-finite values are
 * never stored: they are dropped on the way in. */
#ifndef QB_DIST_H
#define QB_DIST_H

#include <stdint.h>
#include "status.h"

typedef struct {
    float *v;       /* (n) values; ascending when `sorted` */
    double *w;      /* (n) weights, or NULL: every value weighs 1 */
    int64_t n;
    int sorted;
    double total;   /* sum of weights */
    float min, max; /* exact extremes of the finite data; 0, 0 when empty */
    float grid;     /* > 0: the points are means of histogram bins this wide,
                     * with 0 on a bin edge (an observer's); 0 for raw values */
    int64_t cap;    /* allocated entries (v, and w when used) */
} qb_dist;

void qb_dist_init(qb_dist *d);
void qb_dist_free(qb_dist *d);

/* Copies the finite values of x[0..n) (stride `stride` elements) into d,
 * reusing its memory. Sorts them when `sort` is set (radix sort, O(n)). */
qb_status qb_dist_set_values(qb_dist *d, const float *x, int64_t n, int64_t stride, int sort);
/* Appends strided values (unsorted); for blocks made of several runs. */
qb_status qb_dist_append_values(qb_dist *d, const float *x, int64_t n, int64_t stride);
/* Sorts the values (and keeps weights aligned) if not sorted yet. */
qb_status qb_dist_sort(qb_dist *d);
/* Copies ascending weighted points with the data's exact extremes and
 * their histogram's bin width (0 if they are not bin means). */
qb_status qb_dist_set_points(qb_dist *d, const float *v, const double *w, int64_t n,
                             float min, float max, float grid);

static inline double qb_dist_w(const qb_dist *d, int64_t i) { return d->w ? d->w[i] : 1.0; }

/* Inverse CDF of a sorted dist: the smallest value whose cumulative weight
 * reaches q * total (q in [0, 1]). */
float qb_dist_quantile(const qb_dist *d, double q);
/* The same for |x|. */
float qb_dist_abs_quantile(const qb_dist *d, double q);
float qb_dist_amax(const qb_dist *d);
/* Weighted mean of |x| over values with |x| > t (all values: t < 0), after
 * clipping them to [lo, hi]; 0 if none. *count_out gets their weight. */
double qb_dist_mean_abs(const qb_dist *d, float lo, float hi, float t, double *count_out);

/* A sorted dist reduced to at most `nbins` points: equal-width bins over
 * [min, max], each bin one point at the mean of its values. Used where a
 * search evaluates many candidates over the data (mse calibration). */
qb_status qb_dist_compress(const qb_dist *src, int nbins, qb_dist *dst);

/* Sorts floats ascending (no NaN; radix sort, O(n) time, 8n bytes scratch). */
qb_status qb_sort_floats(float *x, int64_t n);

#endif
