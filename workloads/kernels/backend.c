/* The backend table and its selection (see backend.h). Each backend's block
 * functions live in files compiled with that backend's flags; this file is
 * built without ISA flags and only takes their addresses. */
#include "backend.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernel_impl.h"

#define BLOCK_FNS(sfx)                                                                      \
    void qb_qgemm_block_##sfx(const qb_qgemm_job *, int64_t, int64_t, int64_t, int64_t);            \
    void qb_q4gemm_block_##sfx(const qb_q4_job *, int64_t, int64_t, int64_t, int64_t);      \
    void qb_q4quant_rows_##sfx(const qb_q4_quant *, int64_t, int64_t);                      \
    void qb_q4codes_rows_##sfx(const qb_q4_codes *, int64_t, int64_t);                      \
    void qb_b1gemm_block_##sfx(const qb_b1_job *, int64_t, int64_t, int64_t, int64_t);      \
    void qb_bf16gemm_block_##sfx(const qb_bf16_job *, int64_t, int64_t, int64_t, int64_t);
BLOCK_FNS(ref)
BLOCK_FNS(avx2)
BLOCK_FNS(avx512)

/* The ISA sets match the Makefile's ISA_avx2 / ISA_avx512 flags: the
 * compiler may use any of them anywhere in those files. */
static const qb_backend backends[] = {
    {"avx512-vnni", "AVX-512 with VNNI (vpdpbusd), BF16 (vdpbf16ps) and VPOPCNTDQ", 30,
     {QB_ISA_AVX2, QB_ISA_FMA, QB_ISA_F16C, QB_ISA_BMI2, QB_ISA_AVX512F, QB_ISA_AVX512BW,
      QB_ISA_AVX512VL, QB_ISA_AVX512DQ, QB_ISA_AVX512_VNNI, QB_ISA_AVX512_BF16,
      QB_ISA_AVX512_VPOPCNTDQ, QB_ISA_AVX512_BITALG, QB_ISA_AVX512_VBMI},
     13, 6, qb_qgemm_block_avx512, qb_q4gemm_block_avx512, qb_q4quant_rows_avx512, qb_q4codes_rows_avx512,
     qb_b1gemm_block_avx512, qb_bf16gemm_block_avx512, 1},
    {"avx2", "AVX2 + FMA (vpmaddubsw sequence for int8, no VNNI)", 20,
     {QB_ISA_AVX2, QB_ISA_FMA, QB_ISA_F16C, QB_ISA_BMI2}, 4, 4, qb_qgemm_block_avx2,
     qb_q4gemm_block_avx2, qb_q4quant_rows_ref, qb_q4codes_rows_ref, qb_b1gemm_block_avx2, qb_bf16gemm_block_avx2, 0},
    {"ref", "portable scalar C reference", 0, {0}, 0, 1, qb_qgemm_block_ref,
     qb_q4gemm_block_ref, qb_q4quant_rows_ref, qb_q4codes_rows_ref, qb_b1gemm_block_ref, qb_bf16gemm_block_ref, 0},
};

int qb_backend_count(void) { return (int)QB_ARRAY_LEN(backends); }

const qb_backend *qb_backend_at(int i)
{
    return i >= 0 && i < qb_backend_count() ? &backends[i] : NULL;
}

const qb_backend *qb_backend_find(const char *name)
{
    for (int i = 0; i < qb_backend_count(); i++)
        if (strcmp(backends[i].name, name) == 0) return &backends[i];
    return NULL;
}

const char *qb_backend_missing_isa(const qb_backend *b)
{
    for (int i = 0; i < b->n_needs; i++)
        if (!qb_cpu_has(b->needs[i])) return qb_isa_name(b->needs[i]);
    return NULL;
}

const qb_backend *qb_backend_best(void)
{
    const qb_backend *best = NULL;
    for (int i = 0; i < qb_backend_count(); i++)
        if (!qb_backend_missing_isa(&backends[i]) && (!best || backends[i].score > best->score))
            best = &backends[i];
    return best;
}

static char names[128];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void build_names(void)
{
    size_t n = 0;
    for (int i = 0; i < qb_backend_count(); i++)
        n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "", backends[i].name);
}

const char *qb_backend_names(void)
{
    pthread_once(&names_once, build_names);
    return names;
}

qb_status qb_backend_select(const char *name, const qb_backend **out)
{
    *out = NULL;
    const char *origin = "backend";
    if (!name || !*name) {
        name = getenv("QBENCH_BACKEND");
        origin = "QBENCH_BACKEND";
    }
    if (!name || !*name) {
        *out = qb_backend_best();
        return QB_OK;
    }
    const qb_backend *b = qb_backend_find(name);
    if (!b)
        return qb_error(QB_ERR_ARG, "%s=%s: no such backend; choose one of: %s", origin, name,
                        qb_backend_names());
    const char *missing = qb_backend_missing_isa(b);
    if (missing)
        return qb_error(QB_ERR_UNSUPPORTED,
                        "%s=%s: this CPU cannot run it: %s is missing (or the OS has not enabled "
                        "its register state); this CPU has: %s. Unset %s to use the best "
                        "supported backend (%s)",
                        origin, name, missing, *qb_cpu_features() ? qb_cpu_features() : "none",
                        origin, qb_backend_best()->name);
    *out = b;
    return QB_OK;
}
