/* Scalar reference of the uniform kernels and the run-time choice of a
 * variant (see uniform_kernels.h). */
#include "uniform_kernels.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static inline float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

static int ref_fake(const float *x, float *y, int64_t n, float s, int32_t zp, int32_t qmin,
                    int32_t qmax)
{
    const float lo = (float)(qmin - zp), hi = (float)(qmax - zp);
    int nan = 0;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] / s;
        nan |= v != v;
        y[i] = rintf(clampf(v, lo, hi)) * s;
    }
    return nan;
}

static int ref_fake_vec(const float *x, float *y, int64_t n, const float *s, const int32_t *zp,
                        int32_t qmin, int32_t qmax)
{
    int nan = 0;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] / s[i];
        nan |= v != v;
        y[i] = rintf(clampf(v, (float)(qmin - zp[i]), (float)(qmax - zp[i]))) * s[i];
    }
    return nan;
}

static int ref_quant(const float *x, int32_t *q, int64_t n, float s, int32_t zp, int32_t qmin,
                     int32_t qmax)
{
    const float lo = (float)(qmin - zp), hi = (float)(qmax - zp);
    int nan = 0;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] / s;
        if (v != v) {
            nan = 1;
            q[i] = zp;
            continue;
        }
        q[i] = (int32_t)rintf(clampf(v, lo, hi)) + zp;
    }
    return nan;
}

static int ref_quant_vec(const float *x, int32_t *q, int64_t n, const float *s, const int32_t *zp,
                         int32_t qmin, int32_t qmax)
{
    int nan = 0;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] / s[i];
        if (v != v) {
            nan = 1;
            q[i] = zp[i];
            continue;
        }
        q[i] = (int32_t)rintf(clampf(v, (float)(qmin - zp[i]), (float)(qmax - zp[i]))) + zp[i];
    }
    return nan;
}

static int ref_dequant(const int32_t *q, float *y, int64_t n, float s, int32_t zp, int32_t qmin,
                       int32_t qmax)
{
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        bad |= q[i] < qmin || q[i] > qmax;
        y[i] = (float)(q[i] - zp) * s;
    }
    return bad;
}

static int ref_dequant_vec(const int32_t *q, float *y, int64_t n, const float *s,
                           const int32_t *zp, int32_t qmin, int32_t qmax)
{
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        bad |= q[i] < qmin || q[i] > qmax;
        y[i] = (float)(q[i] - zp[i]) * s[i];
    }
    return bad;
}

const qb_uniform_kernels qb_uniform_ref = {
    .name = "ref", .fake = ref_fake, .fake_vec = ref_fake_vec, .quant = ref_quant,
    .quant_vec = ref_quant_vec, .dequant = ref_dequant, .dequant_vec = ref_dequant_vec,
};

int qb_uniform_kernels_usable(const qb_uniform_kernels *k)
{
    __builtin_cpu_init();
    /* *_avx512.c files are built with every extension the Makefile's
     * ISA_avx512 names, and the compiler may use any of them. */
    if (k == &qb_uniform_avx512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bf16") &&
               __builtin_cpu_supports("avx512vpopcntdq") &&
               __builtin_cpu_supports("avx512bitalg") && __builtin_cpu_supports("avx512vbmi");
    if (k == &qb_uniform_avx2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("f16c") && __builtin_cpu_supports("bmi2");
    return 1;
}

const qb_uniform_kernels *qb_uniform_kernels_best(void)
{
    static _Atomic(const qb_uniform_kernels *) chosen;
    const qb_uniform_kernels *k = atomic_load_explicit(&chosen, memory_order_acquire);
    if (k) return k;
    const qb_uniform_kernels *all[] = {&qb_uniform_avx512, &qb_uniform_avx2, &qb_uniform_ref};
    const char *force = getenv("QBENCH_QUANT_KERNELS");
    for (int i = 0; i < 3 && !k; i++)
        if (force && strcmp(force, all[i]->name) == 0 && qb_uniform_kernels_usable(all[i]))
            k = all[i];
    for (int i = 0; i < 3 && !k; i++)
        if (qb_uniform_kernels_usable(all[i])) k = all[i];
    atomic_store_explicit(&chosen, k, memory_order_release);
    return k;
}
