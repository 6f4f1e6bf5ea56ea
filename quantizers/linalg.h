/* The small dense linear algebra the layer-wise corrections need (GPTQ,
 * AdaRound): a reconstruction Hessian H = sum of x x^T over calibration
 * inputs, a matrix product the caller may speed up, and Cholesky
 * factorisations. Row-major arrays throughout.
 *
 * quantizers/ links nothing but libc and libm, so the matrix product is a
 * parameter: workloads pass their BLAS-backed qb_sgemm, tests and small
 * problems use the plain-loop qb_sgemm_ref. Both have qb_sgemm's meaning:
 *   C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C.
 * Error convention: common/status.h. */
#ifndef QB_LINALG_H
#define QB_LINALG_H

#include <stdint.h>
#include "status.h"

typedef void (*qb_sgemm_fn)(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                            float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                            float beta, float *c, int64_t ldc);

/* Reference product (plain loops, double accumulation). */
void qb_sgemm_ref(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                  int64_t ldc);

/* h (k x k) += sum over the n rows x_i of x (n x k, leading dimension ld)
 * of x_i^T x_i. Plain loops: for tests and small layers (workloads
 * accumulate conv patches with their GEMM). */
void qb_hessian_add_rows(double *h, int64_t k, const float *x, int64_t n, int64_t ld);

/* In place: the lower Cholesky factor L of a symmetric positive definite
 * a (n x n), a = L L^T; the strict upper triangle is zeroed. Fails with
 * QB_ERR_ARG (naming the pivot) if a is not positive definite. */
qb_status qb_cholesky(double *a, int64_t n);

/* In place: a symmetric positive definite a (n x n) becomes the upper
 * factor U of its inverse, a^-1 = U^T U (what GPTQ propagates errors
 * with). */
qb_status qb_inverse_cholesky_upper(double *a, int64_t n);

#endif
