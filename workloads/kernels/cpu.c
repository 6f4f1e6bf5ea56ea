/* cpuid + XGETBV feature detection (see cpu.h). Detected once; the result
 * is immutable afterwards, so readers need no lock. */
#include "cpu.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define QB_X86 1
#endif

static const char *const isa_names[QB_ISA_COUNT] = {
    "AVX2", "FMA", "F16C", "BMI2", "AVX512F", "AVX512BW", "AVX512VL", "AVX512DQ",
    "AVX512_VNNI", "AVX512_BF16", "AVX512_VPOPCNTDQ", "AVX512_BITALG", "AVX512_VBMI",
};

static int present[QB_ISA_COUNT];
static char feature_list[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

#ifdef QB_X86
static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void detect_x86(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return;
    uint64_t xcr0 = xgetbv0();
    int os_avx = (xcr0 & 0x6) == 0x6;          /* XMM and YMM state */
    int os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM_Hi256, Hi16_ZMM */
    if (!os_avx) return;
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    unsigned b7 = 0, c7 = 0, a71 = 0;
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        b7 = b;
        c7 = c;
        __cpuid_count(7, 1, a, b, c, d);
        a71 = a;
    }
    present[QB_ISA_FMA] = fma;
    present[QB_ISA_F16C] = f16c;
    present[QB_ISA_AVX2] = (b7 >> 5) & 1;
    present[QB_ISA_BMI2] = (b7 >> 8) & 1;
    if (os_avx512) {
        present[QB_ISA_AVX512F] = (b7 >> 16) & 1;
        present[QB_ISA_AVX512DQ] = (b7 >> 17) & 1;
        present[QB_ISA_AVX512BW] = (b7 >> 30) & 1;
        present[QB_ISA_AVX512VL] = (b7 >> 31) & 1;
        present[QB_ISA_AVX512_VBMI] = (c7 >> 1) & 1;
        present[QB_ISA_AVX512_VNNI] = (c7 >> 11) & 1;
        present[QB_ISA_AVX512_BITALG] = (c7 >> 12) & 1;
        present[QB_ISA_AVX512_VPOPCNTDQ] = (c7 >> 14) & 1;
        present[QB_ISA_AVX512_BF16] = (a71 >> 5) & 1;
    }
}
#endif

/* QBENCH_HIDE_ISA: comma/space separated names, case-insensitive. */
static void apply_hide_hook(void)
{
    const char *hide = getenv("QBENCH_HIDE_ISA");
    if (!hide) return;
    for (int f = 0; f < QB_ISA_COUNT; f++) {
        size_t len = strlen(isa_names[f]);
        for (const char *p = hide; *p;) {
            while (*p == ',' || *p == ' ') p++;
            const char *e = p;
            while (*e && *e != ',' && *e != ' ') e++;
            if ((size_t)(e - p) == len && strncasecmp(p, isa_names[f], len) == 0) present[f] = 0;
            p = e;
        }
    }
}

static void detect(void)
{
#ifdef QB_X86
    detect_x86();
#endif
    apply_hide_hook();
    size_t n = 0;
    for (int f = 0; f < QB_ISA_COUNT; f++) {
        if (!present[f]) continue;
        size_t len = strlen(isa_names[f]);
        if (n + len + 2 > sizeof feature_list) break;
        if (n) feature_list[n++] = ' ';
        memcpy(feature_list + n, isa_names[f], len);
        n += len;
    }
    feature_list[n] = '\0';
}

int qb_cpu_has(qb_isa f)
{
    pthread_once(&once, detect);
    return f >= 0 && f < QB_ISA_COUNT && present[f];
}

const char *qb_isa_name(qb_isa f)
{
    return f >= 0 && f < QB_ISA_COUNT ? isa_names[f] : "?";
}

const char *qb_cpu_features(void)
{
    pthread_once(&once, detect);
    return feature_list;
}
