/* Kernel backends: one table of function pointers per instruction set,
 * each compiled in its own translation units with its own -m flags
 * (*_ref.c, *_avx2.c, *_avx512.c) and usable only when cpuid and XGETBV
 * say this CPU and OS can run every feature those units were built for.
 * The supported backend with the highest score wins; the environment
 * variable QBENCH_BACKEND (or a caller, e.g. the sweep) can force one.
 *
 * The drivers in qkernels.h split work over threads and call a backend's
 * block functions (kernel_impl.h) on each thread's share. */
#ifndef QB_BACKEND_H
#define QB_BACKEND_H

#include <stdint.h>
#include "cpu.h"
#include "status.h"

typedef struct qb_qgemm_job qb_qgemm_job;
typedef struct qb_q4_job qb_q4_job;
typedef struct qb_q4_quant qb_q4_quant;
typedef struct qb_q4_codes qb_q4_codes;
typedef struct qb_b1_job qb_b1_job;
typedef struct qb_bf16_job qb_bf16_job;

#define QB_BACKEND_MAX_ISA 16

struct qb_backend {
    const char *name;        /* "ref", "avx2", "avx512-vnni": the results column */
    const char *summary;     /* one line for listings */
    int score;               /* higher is preferred */
    qb_isa needs[QB_BACKEND_MAX_ISA];
    int n_needs;
    int row_block;           /* rows per register tile: the drivers split rows in multiples of it */
    /* Block functions: outputs of rows [m0, m1) x channels [n0, n1). */
    void (*qgemm)(const qb_qgemm_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1);
    void (*q4gemm)(const qb_q4_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1);
    void (*q4quant)(const qb_q4_quant *q, int64_t m0, int64_t m1); /* rows [m0, m1) */
    void (*q4codes)(const qb_q4_codes *q, int64_t m0, int64_t m1); /* rows [m0, m1) */
    void (*b1gemm)(const qb_b1_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1);
    void (*bf16gemm)(const qb_bf16_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1);
    int q4_u8;               /* q4gemm takes uint8 code rows (qb_q4_job.a_u8, qb_q4_codes.raw) */
};
typedef struct qb_backend qb_backend;

/* All compiled-in backends, supported here or not, best score first. */
int qb_backend_count(void);
const qb_backend *qb_backend_at(int i);
/* By name; NULL if no backend has that name. */
const qb_backend *qb_backend_find(const char *name);
/* NULL when this CPU can run the backend, otherwise the first missing
 * instruction set's name (e.g. "AVX512_VNNI"). */
const char *qb_backend_missing_isa(const qb_backend *b);
/* The best supported backend (never NULL: "ref" always runs). */
const qb_backend *qb_backend_best(void);

/* The backend to use: `name` if given, else $QBENCH_BACKEND if set, else
 * the best. An unknown name, or one this CPU cannot run, fails with
 * QB_ERR_ARG / QB_ERR_UNSUPPORTED and a message naming the missing
 * instruction set (so the CLI exits 2 instead of dying on SIGILL). */
qb_status qb_backend_select(const char *name, const qb_backend **out);

/* "ref, avx2, avx512-vnni" (for messages and --help). */
const char *qb_backend_names(void);

#endif
