/* GPTQ-style rounding with Hessian-based error compensation (see gptq.h). */
#include "gptq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"
#include "layerwise.h"

#define ROW_BLOCK 8 /* rows updated together: each row of U is read once per block */

void qb_gptq_options_init(qb_gptq_options *o)
{
    o->damp = 0.01;
    o->act_order = 0;
}

static const double *sort_key; /* qsort has no context argument */
static int by_key_desc(const void *a, const void *b)
{
    double x = sort_key[*(const int64_t *)a], y = sort_key[*(const int64_t *)b];
    if (x != y) return x < y ? 1 : -1;
    return *(const int64_t *)a < *(const int64_t *)b ? -1 : 1;
}

/* The column order and the damped Hessian permuted into it. */
static qb_status prepare(const double *h, int64_t k, const qb_gptq_options *o, int64_t *perm,
                         double *hp)
{
    double *diag = qb_malloc((size_t)k, sizeof *diag);
    if (!diag) return QB_ERR_NOMEM;
    double mean = 0;
    for (int64_t j = 0; j < k; j++) {
        perm[j] = j;
        diag[j] = h[j * k + j];
        mean += diag[j];
    }
    mean /= (double)k;
    if (o->act_order) {
        sort_key = diag;
        qsort(perm, (size_t)k, sizeof *perm, by_key_desc);
        sort_key = NULL;
    }
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = 0; j < k; j++) hp[i * k + j] = h[perm[i] * k + perm[j]];
    double damp = o->damp * (mean > 0 ? mean : 1.0);
    for (int64_t j = 0; j < k; j++) {
        double *d = &hp[j * k + j];
        if (*d <= 0) *d = 1.0; /* a dead input: its column is independent of the others */
        *d += damp;
    }
    free(diag);
    return QB_OK;
}

qb_status qb_gptq(const qb_qparams *p, const float *w, int64_t rows, int64_t cols,
                  const double *h, const qb_gptq_options *o, int32_t *codes, float *y)
{
    qb_status s = qb_layerwise_check(p, w, rows, cols, "GPTQ");
    if (s != QB_OK) return s;
    qb_gptq_options def;
    if (!o) {
        qb_gptq_options_init(&def);
        o = &def;
    }
    if (!(o->damp >= 0))
        return qb_error(QB_ERR_ARG, "GPTQ damping %g: must be >= 0", o->damp);
    int64_t k = cols;
    int64_t *perm = qb_malloc((size_t)k, sizeof *perm);
    double *u = qb_malloc((size_t)k * (size_t)k, sizeof *u);
    double *buf = qb_malloc((size_t)ROW_BLOCK * (size_t)k, sizeof *buf);
    if (!perm || !u || !buf) {
        s = QB_ERR_NOMEM;
        goto done;
    }
    if ((s = prepare(h, k, o, perm, u)) != QB_OK) goto done;
    if ((s = qb_inverse_cholesky_upper(u, k)) != QB_OK) {
        qb_error_context(s, "GPTQ: the damped Hessian");
        goto done;
    }
    const qb_scheme *sc = p->scheme;
    for (int64_t r0 = 0; r0 < rows; r0 += ROW_BLOCK) {
        int64_t nr = rows - r0 < ROW_BLOCK ? rows - r0 : ROW_BLOCK;
        for (int64_t r = 0; r < nr; r++)
            for (int64_t j = 0; j < k; j++) buf[r * k + j] = w[(r0 + r) * cols + perm[j]];
        for (int64_t j = 0; j < k; j++) {
            const double *uj = u + j * k;
            for (int64_t r = 0; r < nr; r++) {
                int64_t idx = (r0 + r) * cols + perm[j];
                qb_block blk = qb_qparams_block(p, qb_qparams_block_of(p, idx));
                double *br = buf + r * k;
                int32_t c = sc->quantize((float)br[j], &blk, QB_DIR_NEAREST);
                float q = sc->dequantize(c, &blk);
                if (codes) codes[idx] = c;
                if (y) y[idx] = q;
                double err = (br[j] - q) / uj[j];
                if (!isfinite(err)) continue; /* an infinite weight saturates; nothing to spread */
                for (int64_t t = j + 1; t < k; t++) br[t] -= err * uj[t];
            }
        }
    }
done:
    free(perm);
    free(u);
    free(buf);
    return s;
}
