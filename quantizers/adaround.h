/* AdaRound-style learned rounding (Nagel et al., 2020): for each weight,
 * choose between the quantization level just below and just above it so
 * that the layer's output on calibration data changes least, instead of
 * taking the nearest level weight by weight.
 *
 * Each weight gets a continuous variable V; its soft value is
 *     w~ = lo + h(V) (hi - lo),   h(V) = clip(sigmoid(V) (zeta - gamma) + gamma, 0, 1)
 * (zeta 1.1, gamma -0.1), started at its own value (h = (w - lo)/(hi - lo)).
 * Adam minimises the reconstruction error E(w~) / E(nearest) (layerwise.h,
 * through the Hessian, so every calibration input counts at every step)
 * plus reg * mean(1 - |2 h(V) - 1|^beta), the regulariser that drives each
 * h to 0 or 1, beta annealed from beta_start to beta_end after a warm-up
 * without it. The result is a rounding direction per weight: up where
 * h(V) >= 1/2. It works for every scheme with ordered levels (uniform,
 * pow2, kmeans codebooks, ...), since it only needs each scheme's levels
 * below and above a value.
 * Error convention: common/status.h. */
#ifndef QB_ADAROUND_H
#define QB_ADAROUND_H

#include <stdint.h>
#include "linalg.h"
#include "pool.h"
#include "quant.h"

typedef struct {
    int iters;                  /* Adam steps (1000) */
    float lr;                   /* Adam step size on V (0.03) */
    float reg;                  /* weight of the rounding regulariser (3; the reconstruction term is 1 at nearest) */
    float beta_start, beta_end; /* annealing of the regulariser's exponent (20 -> 2) */
    float warmup;               /* fraction of the steps without the regulariser (0.2) */
    qb_sgemm_fn gemm;           /* the (rows x cols) x (cols x cols) product; NULL: qb_sgemm_ref */
    qb_pool *pool;              /* rows are split over its threads (NULL: this thread); the
                                 * result does not depend on the thread count */
} qb_adaround_options;

void qb_adaround_options_init(qb_adaround_options *o);

typedef struct {
    double err_nearest;   /* E with rounding to nearest */
    double err_adaround;  /* E with the directions found */
    double frac_changed;  /* share of weights rounded differently from nearest */
    double frac_soft;     /* share of h(V) still strictly between 0.1 and 0.9 at the end */
} qb_adaround_stats;

/* w (rows, cols) weights, p their parameters made for (rows, cols), h
 * (cols, cols) the reconstruction Hessian (any positive multiple will do:
 * the error is normalised). Writes a qb_round_dir per weight into dir
 * (QB_DIR_DOWN or QB_DIR_UP), for qb_quantize_directed. stats may be NULL. */
qb_status qb_adaround(const qb_qparams *p, const float *w, int64_t rows, int64_t cols,
                      const double *h, const qb_adaround_options *o, uint8_t *dir,
                      qb_adaround_stats *stats);

#endif
