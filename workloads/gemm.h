/* fp32 matrix multiply for the engine: one entry point, two libraries.
 *
 *   C (M x N) = alpha * op(A) (M x K) * op(B) (K x N) + beta * C, row-major.
 *
 * Backends: oneDNN's dnnl_sgemm (JIT kernels for the CPU's best ISA, AVX-512
 * here) and OpenBLAS's cblas_sgemm (kernel chosen by OPENBLAS_CORETYPE,
 * Haswell/AVX2 on this machine family). Both are run single-threaded: qbench
 * parallelises over images with common/pool.h, so each call stays on the
 * calling thread. The default is oneDNN, chosen on measurement: at the conv
 * shapes of the reference models it ran at 1.5-2.5x OpenBLAS's speed here
 * (`qbench bench-fp32` measures both side by side). QBENCH_GEMM=openblas or
 * QBENCH_GEMM=onednn forces one. Every call adds M*N*K to QB_WORK_MACS. */
#ifndef QB_GEMM_H
#define QB_GEMM_H

#include <stdint.h>
#include "status.h"

typedef enum { QB_GEMM_ONEDNN, QB_GEMM_OPENBLAS, QB_GEMM_BACKEND_COUNT } qb_gemm_backend;

/* trans_a / trans_b: 0 = as stored, 1 = transposed. */
void qb_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
              int64_t ldc);

/* The same on an explicit backend (benchmarks compare them side by side). */
void qb_sgemm_on(qb_gemm_backend be, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                 float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                 float *c, int64_t ldc);

/* The backend qb_sgemm uses (QBENCH_GEMM, else oneDNN). Fails with
 * QB_ERR_ARG when QBENCH_GEMM names no backend. */
qb_status qb_gemm_default(qb_gemm_backend *out);
/* Makes qb_sgemm use `be` from now on (process-wide). */
void qb_gemm_select(qb_gemm_backend be);
qb_gemm_backend qb_gemm_current(void);

/* "onednn" / "openblas" (the names QBENCH_GEMM accepts). */
const char *qb_gemm_backend_name(qb_gemm_backend be);
/* Library, version and kernel that runs, for benchmark output and meta.csv:
 * "oneDNN 2.6.3 dnnl_sgemm (jit avx512_core_bf16)",
 * "OpenBLAS 0.3.21 cblas_sgemm (Haswell kernels)". Static storage. */
const char *qb_gemm_describe(qb_gemm_backend be);

#endif
