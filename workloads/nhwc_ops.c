/* NHWC element-wise and pooling steps (see nhwc_ops.h). The vector types
 * are 16 bytes: SSE2 registers in the base build. */
#include "nhwc_ops.h"

#include <string.h>

typedef float v8f __attribute__((vector_size(16)));
typedef int32_t v8i __attribute__((vector_size(16)));
typedef uint8_t v32u __attribute__((vector_size(16)));
#define VF 4  /* floats per vector */
#define VB 16 /* bytes per vector */

static inline __attribute__((always_inline)) v8f load8(const float *p)
{
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void store8(float *p, v8f v) { memcpy(p, &v, sizeof v); }

/* x > 0 ? x : +0 lane by lane (a NaN compares false: +0). */
static inline __attribute__((always_inline)) v8f relu8(v8f x) { return (v8f)((v8i)x & (v8i)(x > (v8f){0})); }

static inline float relu1(float x) { return x > 0 ? x : 0.0f; }

void qb_nhwc_add(const float *a, const float *b, float *y, int64_t n, int relu)
{
    int64_t i = 0;
    for (; i + VF <= n; i += VF) {
        v8f s = load8(a + i) + load8(b + i);
        store8(y + i, relu ? relu8(s) : s);
    }
    for (; i < n; i++) y[i] = relu ? relu1(a[i] + b[i]) : a[i] + b[i];
}

void qb_nhwc_relu(const float *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + VF <= n; i += VF) store8(y + i, relu8(load8(x + i)));
    for (; i < n; i++) y[i] = relu1(x[i]);
}

void qb_nhwc_clamp_codes(uint8_t *q, int64_t n, uint8_t lo)
{
    const v32u l = (v32u){0} + lo;
    int64_t i = 0;
    for (; i + VB <= n; i += VB) {
        v32u v;
        memcpy(&v, q + i, sizeof v);
        v32u below = (v32u)(v < l);
        v = (v & ~below) | (l & below);
        memcpy(q + i, &v, sizeof v);
    }
    for (; i < n; i++) q[i] = q[i] < lo ? lo : q[i];
}

void qb_nhwc_maxpool_f32(const float *x, float *y, int64_t i0, int64_t i1, int h, int w, int c, int k, int s,
                         int oh, int ow)
{
    for (int64_t img = i0; img < i1; img++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float *o = y + ((img * oh + oy) * ow + ox) * c;
                const float *first = x + ((img * h + oy * s) * w + ox * s) * c;
                memcpy(o, first, (size_t)c * sizeof(float));
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        const float *p = x + ((img * h + oy * s + ky) * w + ox * s + kx) * c;
                        int ch = 0;
                        for (; ch + VF <= c; ch += VF) {
                            v8f a = load8(o + ch), b = load8(p + ch);
                            v8i gt = (v8i)(b > a);
                            store8(o + ch, (v8f)(((v8i)a & ~gt) | ((v8i)b & gt)));
                        }
                        for (; ch < c; ch++) o[ch] = p[ch] > o[ch] ? p[ch] : o[ch];
                    }
            }
}

void qb_nhwc_maxpool_u8(const uint8_t *x, uint8_t *y, int64_t i0, int64_t i1, int h, int w, int c, int k,
                        int s, int oh, int ow)
{
    for (int64_t img = i0; img < i1; img++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                uint8_t *o = y + ((img * oh + oy) * ow + ox) * c;
                memset(o, 0, (size_t)c);
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        const uint8_t *p = x + ((img * h + oy * s + ky) * w + ox * s + kx) * c;
                        int ch = 0;
                        for (; ch + VB <= c; ch += VB) {
                            v32u a, b;
                            memcpy(&a, o + ch, sizeof a);
                            memcpy(&b, p + ch, sizeof b);
                            v32u gt = (v32u)(b > a);
                            a = (a & ~gt) | (b & gt);
                            memcpy(o + ch, &a, sizeof a);
                        }
                        for (; ch < c; ch++) o[ch] = p[ch] > o[ch] ? p[ch] : o[ch];
                    }
            }
}

void qb_nhwc_gap(const float *x, float *y, int64_t i0, int64_t i1, int hw, int c)
{
    for (int64_t img = i0; img < i1; img++) {
        float *o = y + img * c;
        memset(o, 0, (size_t)c * sizeof(float));
        for (int p = 0; p < hw; p++) {
            const float *r = x + (img * hw + p) * c;
            int ch = 0;
            for (; ch + VF <= c; ch += VF) store8(o + ch, load8(o + ch) + load8(r + ch));
            for (; ch < c; ch++) o[ch] += r[ch];
        }
        for (int ch = 0; ch < c; ch++) o[ch] /= (float)hw;
    }
}
