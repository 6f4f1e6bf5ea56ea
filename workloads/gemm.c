/* fp32 GEMM dispatch between oneDNN and OpenBLAS (see gemm.h). */
#include "gemm.h"

#include <cblas.h>
#include <dlfcn.h>
#include <dnnl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workcount.h"

static _Atomic int selected = -1; /* -1: not yet resolved from QBENCH_GEMM */
static pthread_once_t libs_once = PTHREAD_ONCE_INIT;
static void (*omp_set_threads)(int);
static _Thread_local int omp_single_done;

/* oneDNN in Debian is built on OpenMP, whose thread count is a per-thread
 * setting: each calling thread must set it to 1 or oneDNN would start a team
 * of its own inside every call from a pool worker. libgomp is loaded with
 * libdnnl, so the symbol is looked up rather than linked. */
static void init_libs(void)
{
    openblas_set_num_threads(1);
    omp_set_threads = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
}

static void single_threaded_onednn(void)
{
    if (omp_single_done) return;
    pthread_once(&libs_once, init_libs);
    if (omp_set_threads) omp_set_threads(1);
    omp_single_done = 1;
}

const char *qb_gemm_backend_name(qb_gemm_backend be)
{
    return be == QB_GEMM_OPENBLAS ? "openblas" : "onednn";
}

qb_status qb_gemm_default(qb_gemm_backend *out)
{
    const char *env = getenv("QBENCH_GEMM");
    *out = QB_GEMM_ONEDNN;
    if (!env || !*env) return QB_OK;
    for (int b = 0; b < QB_GEMM_BACKEND_COUNT; b++)
        if (strcmp(env, qb_gemm_backend_name((qb_gemm_backend)b)) == 0) {
            *out = (qb_gemm_backend)b;
            return QB_OK;
        }
    return qb_error(QB_ERR_ARG, "QBENCH_GEMM='%s': unknown GEMM library (use onednn or openblas)",
                    env);
}

void qb_gemm_select(qb_gemm_backend be) { atomic_store(&selected, (int)be); }

qb_gemm_backend qb_gemm_current(void)
{
    int s = atomic_load(&selected);
    if (s < 0) {
        qb_gemm_backend be;
        if (qb_gemm_default(&be) != QB_OK) be = QB_GEMM_ONEDNN; /* the CLI reports the error */
        s = (int)be;
        atomic_store(&selected, s);
    }
    return (qb_gemm_backend)s;
}

static const char *onednn_isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "isa?";
    }
}

const char *qb_gemm_describe(qb_gemm_backend be)
{
    static char onednn[96], openblas[160];
    pthread_once(&libs_once, init_libs);
    if (be == QB_GEMM_ONEDNN) {
        const dnnl_version_t *v = dnnl_version();
        snprintf(onednn, sizeof onednn, "oneDNN %d.%d.%d dnnl_sgemm (jit %s)", v->major, v->minor,
                 v->patch, onednn_isa_name(dnnl_get_effective_cpu_isa()));
        return onednn;
    }
    /* openblas_get_config() reads "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..." */
    char version[32] = "?";
    sscanf(openblas_get_config(), "OpenBLAS %31s", version);
    snprintf(openblas, sizeof openblas, "OpenBLAS %s cblas_sgemm (%s kernels)", version,
             openblas_get_corename());
    return openblas;
}

void qb_sgemm_on(qb_gemm_backend be, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                 float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                 float *c, int64_t ldc)
{
    if (m <= 0 || n <= 0) return;
    qb_work_add(QB_WORK_MACS, (long long)(m * n * k));
    if (be == QB_GEMM_OPENBLAS) {
        pthread_once(&libs_once, init_libs);
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, alpha,
                    a, (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
        return;
    }
    single_threaded_onednn();
    dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c,
               ldc);
}

void qb_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
              int64_t ldc)
{
    qb_sgemm_on(qb_gemm_current(), trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
