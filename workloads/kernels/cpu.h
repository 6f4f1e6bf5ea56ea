/* What this CPU and OS can execute: cpuid feature bits, masked by XGETBV so
 * that AVX or AVX-512 count only when the OS saves their register state.
 * Backends list the features their translation unit was compiled for and
 * are usable only when all are present (see backend.c).
 *
 * Test hook: QBENCH_HIDE_ISA="AVX512_VNNI,AVX2" makes the named features
 * read as absent, so the "this CPU cannot run that backend" path can be
 * exercised on a machine that has everything. */
#ifndef QB_CPU_H
#define QB_CPU_H

typedef enum {
    QB_ISA_AVX2,
    QB_ISA_FMA,
    QB_ISA_F16C,
    QB_ISA_BMI2,
    QB_ISA_AVX512F,
    QB_ISA_AVX512BW,
    QB_ISA_AVX512VL,
    QB_ISA_AVX512DQ,
    QB_ISA_AVX512_VNNI,
    QB_ISA_AVX512_BF16,
    QB_ISA_AVX512_VPOPCNTDQ,
    QB_ISA_AVX512_BITALG,
    QB_ISA_AVX512_VBMI,
    QB_ISA_COUNT
} qb_isa;

/* 1 when the CPU has the feature and the OS enabled its state. */
int qb_cpu_has(qb_isa f);
/* "AVX512_VNNI", as in Intel's manuals and /proc/cpuinfo (upper case). */
const char *qb_isa_name(qb_isa f);
/* Space-separated list of the present features, for meta.csv and messages. */
const char *qb_cpu_features(void);

#endif
