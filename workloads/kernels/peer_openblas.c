/* OpenBLAS as the fp32 peer (see peers.h). */
#include <cblas.h>
#include <stdio.h>
#include "peers.h"

/* OpenBLAS extensions (declared here: <cblas.h> may be another vendor's). */
void openblas_set_num_threads(int num_threads);
char *openblas_get_config(void);
char *openblas_get_corename(void);

void qb_openblas_sgemm(int64_t m, int64_t n, int64_t k, const float *x, const float *w, float *y)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0f, x, (int)k, w,
                (int)k, 0.0f, y, (int)n);
}

void qb_openblas_set_threads(int n) { openblas_set_num_threads(n); }

const char *qb_openblas_info(void)
{
    static _Thread_local char buf[256];
    snprintf(buf, sizeof buf, "%s (%s)", openblas_get_config(), openblas_get_corename());
    return buf;
}
