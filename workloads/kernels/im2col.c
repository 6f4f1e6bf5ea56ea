/* im2col for uint8 NHWC activations (see qkernels.h). Rows are output
 * pixels walked in order; a tap row of k_w * in_c bytes is one contiguous
 * copy when the window is inside the image, and short copies use
 * overlapping fixed-size moves instead of a libc call per tap. */
#include <string.h>
#include "qkernels.h"

/* Copies n bytes without reading or writing past either end. */
static inline void copy_small(uint8_t *d, const uint8_t *s, int64_t n)
{
    if (n >= 16 && n <= 32) {
        memcpy(d, s, 16);
        memcpy(d + n - 16, s + n - 16, 16);
    } else if (n >= 8 && n < 16) {
        memcpy(d, s, 8);
        memcpy(d + n - 8, s + n - 8, 8);
    } else if (n >= 4 && n < 8) {
        memcpy(d, s, 4);
        memcpy(d + n - 4, s + n - 4, 4);
    } else if (n < 4) {
        for (int64_t i = 0; i < n; i++) d[i] = s[i];
    } else {
        memcpy(d, s, (size_t)n);
    }
}

void qb_im2col_u8(const qb_conv_shape *s, const uint8_t *x, uint8_t pad, int64_t m0, int64_t m1,
                  uint8_t *dst, int64_t ldd, int64_t segp)
{
    qb_im2col_u8_at(s, x, pad, m0, m1, dst + m0 * ldd, ldd, segp);
}

void qb_im2col_u8_at(const qb_conv_shape *s, const uint8_t *x, uint8_t pad, int64_t m0, int64_t m1,
                     uint8_t *dst, int64_t ldd, int64_t segp)
{
    int64_t pix = s->out_h * s->out_w, k = s->k_h * segp, run = s->k_w * s->in_c;
    int64_t b = m0 / pix, oy = m0 % pix / s->out_w, ox = m0 % s->out_w;
    for (int64_t m = m0; m < m1; m++) {
        uint8_t *d = dst + (m - m0) * ldd;
        const uint8_t *img = x + b * s->in_h * s->in_w * s->in_c;
        int64_t iy0 = oy * s->stride_h - s->pad_top, ix0 = ox * s->stride_w - s->pad_left;
        int row_inside = s->dil_w == 1 && ix0 >= 0 && ix0 + s->k_w <= s->in_w;
        for (int64_t ky = 0; ky < s->k_h; ky++, d += segp) {
            int64_t iy = iy0 + ky * s->dil_h;
            for (int64_t i = run; i < segp; i++) d[i] = 0;
            if (iy < 0 || iy >= s->in_h) {
                memset(d, pad, (size_t)run);
                continue;
            }
            const uint8_t *src = img + iy * s->in_w * s->in_c;
            if (row_inside) {
                copy_small(d, src + ix0 * s->in_c, run);
                continue;
            }
            for (int64_t kx = 0; kx < s->k_w; kx++) {
                int64_t ix = ix0 + kx * s->dil_w;
                if (ix < 0 || ix >= s->in_w) memset(d + kx * s->in_c, pad, (size_t)s->in_c);
                else copy_small(d + kx * s->in_c, src + ix * s->in_c, s->in_c);
            }
        }
        for (int64_t i = k; i < ldd; i++) dst[(m - m0) * ldd + i] = 0;
        if (++ox == s->out_w) {
            ox = 0;
            if (++oy == s->out_h) {
                oy = 0;
                b++;
            }
        }
    }
}

