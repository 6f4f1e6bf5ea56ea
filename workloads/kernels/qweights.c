/* Packing int8 and ternary weights into the panel layout every backend
 * reads (see qkernels.h and kernel_impl.h). Packing happens once per model
 * load, so it favours clarity over speed. */
#include <stdlib.h>
#include <string.h>
#include "kernel_impl.h"

/* A weight source: the code of W(n, k) and its zero point. */
typedef struct {
    const void *w;
    int u8;                    /* uint8 codes, stored shifted by -128 */
    int64_t stride_n, stride_k;
    int64_t cin, kh, kw;       /* conv: OIHW source, k = (ky * kw + kx) * cin + c */
} wsource;

static int32_t source_code(const wsource *s, int64_t n, int64_t k)
{
    int64_t idx;
    if (s->kh) {
        int64_t c = k % s->cin, tap = k / s->cin, ky = tap / s->kw, kx = tap % s->kw;
        idx = ((n * s->cin + c) * s->kh + ky) * s->kw + kx;
    } else {
        idx = n * s->stride_n + k * s->stride_k;
    }
    return s->u8 ? (int32_t)((const uint8_t *)s->w)[idx] - 128 : (int32_t)((const int8_t *)s->w)[idx];
}

void qb_qweights_free(qb_qweights *w)
{
    if (!w) return;
    free(w->data);
    free(w->colsum);
    free(w->zp);
    free(w->segsum);
    memset(w, 0, sizeof *w);
}

int qb_qweights_has_zp(const qb_qweights *w)
{
    for (int64_t i = 0; w->zp && i < w->n; i++)
        if (w->zp[i]) return 1;
    return 0;
}

static qb_status check_dims(int64_t n, int64_t k)
{
    if (n < 1 || k < 1 || n > (1 << 24) || k > (1 << 24))
        return qb_error(QB_ERR_ARG, "weight shape (%lld, %lld): both dimensions must be in 1..2^24",
                        (long long)n, (long long)k);
    return QB_OK;
}

/* Space for n x k codes; a conv source pads each kernel row to the group. */
static qb_status alloc_packed(qb_qweights *out, int64_t n, int64_t k, int bits, const wsource *src)
{
    memset(out, 0, sizeof *out);
    qb_status st = check_dims(n, k);
    if (st) return st;
    int64_t group = bits == 8 ? 4 : 16;
    int64_t n16 = (n + 15) / 16 * 16;
    out->n = n;
    out->k = k;
    out->bits = bits;
    out->kp = (k + group - 1) / group * group;
    if (src->kh) {
        out->seg = src->kw * src->cin;
        out->segp = (out->seg + group - 1) / group * group;
        out->kp = src->kh * out->segp;
    }
    out->bytes = (size_t)(n16 * out->kp * bits / 8);
    out->data = qb_aligned_alloc(out->bytes, 1);
    out->colsum = qb_calloc((size_t)n, sizeof(int32_t));
    if (!out->data || !out->colsum) {
        qb_qweights_free(out);
        return QB_ERR_NOMEM;
    }
    memset(out->data, 0, out->bytes);
    return QB_OK;
}

/* Packed position of logical k (conv: kernel rows padded to segp). */
static int64_t packed_k(const qb_qweights *w, int64_t k)
{
    return w->seg ? k / w->seg * w->segp + k % w->seg : k;
}

/* Byte address of packed position (n, k) (ternary: its 2-bit field at *bit). */
static uint8_t *code_addr(const qb_qweights *w, int64_t n, int64_t k, int *bit)
{
    int64_t p = n / QB_PANEL, c = n % QB_PANEL;
    int pw = qb_panel_width(w->n, p);
    uint8_t *base = (uint8_t *)w->data + qb_panel_offset(w, p);
    if (w->bits == 8) {
        *bit = 0;
        return base + ((k / 4) * pw + c) * 4 + k % 4;
    }
    *bit = (int)((k / 4) % 4) * 2;
    return base + ((k / 16) * pw + c) * 4 + k % 4;
}

int32_t qb_qweights_code(const qb_qweights *w, int64_t n, int64_t k)
{
    int bit;
    const uint8_t *p = code_addr(w, n, k, &bit);
    if (w->bits == 8) return (int8_t)*p;
    return (*p >> bit) & 3;
}

static qb_status pack_int8(qb_qweights *out, int64_t n, int64_t k, const wsource *src, const int32_t *zp)
{
    qb_status st = alloc_packed(out, n, k, 8, src);
    if (st) return st;
    if (zp || src->u8) {
        out->zp = qb_malloc((size_t)n, sizeof(int32_t));
        if (!out->zp) {
            qb_qweights_free(out);
            return QB_ERR_NOMEM;
        }
        for (int64_t i = 0; i < n; i++) {
            int32_t z = zp ? zp[i] : 0;
            int32_t lo = src->u8 ? 0 : -128, hi = src->u8 ? 255 : 127;
            if (z < lo || z > hi) {
                qb_qweights_free(out);
                return qb_error(QB_ERR_ARG, "weight zero point %d of channel %lld is outside [%d, %d]",
                                z, (long long)i, lo, hi);
            }
            out->zp[i] = src->u8 ? z - 128 : z;
        }
    }
    if (src->kh && !(out->segsum = qb_calloc((size_t)(src->kh * n), sizeof(int32_t)))) {
        qb_qweights_free(out);
        return QB_ERR_NOMEM;
    }
    for (int64_t i = 0; i < n; i++) {
        int32_t sum = 0;
        for (int64_t j = 0; j < k; j++) {
            int bit;
            int32_t v = source_code(src, i, j);
            *(int8_t *)code_addr(out, i, packed_k(out, j), &bit) = (int8_t)v;
            sum += v;
            if (out->segsum) out->segsum[j / out->seg * n + i] += v;
        }
        out->colsum[i] = sum;
    }
    return QB_OK;
}

qb_status qb_qweights_pack_s8(qb_qweights *out, int64_t n, int64_t k, const int8_t *w,
                              int64_t stride_n, int64_t stride_k, const int32_t *zp)
{
    wsource s = {w, 0, stride_n, stride_k, 0, 0, 0};
    return pack_int8(out, n, k, &s, zp);
}

qb_status qb_qweights_pack_u8(qb_qweights *out, int64_t n, int64_t k, const uint8_t *w,
                              int64_t stride_n, int64_t stride_k, const int32_t *zp)
{
    wsource s = {w, 1, stride_n, stride_k, 0, 0, 0};
    return pack_int8(out, n, k, &s, zp);
}

static qb_status conv_source(wsource *s, int64_t cout, int64_t cin, int64_t kh, int64_t kw,
                             const void *w, int u8)
{
    if (cout < 1 || cin < 1 || kh < 1 || kw < 1 || kh * kw > QB_MAX_SEGS)
        return qb_error(QB_ERR_ARG, "conv weight shape (%lld, %lld, %lld, %lld) is not supported "
                        "(need positive sizes and at most %d kernel taps)",
                        (long long)cout, (long long)cin, (long long)kh, (long long)kw, QB_MAX_SEGS);
    *s = (wsource){w, u8, 0, 0, cin, kh, kw};
    return QB_OK;
}

qb_status qb_qweights_pack_conv(qb_qweights *out, int64_t cout, int64_t cin, int64_t kh, int64_t kw,
                                const void *w, int u8, const int32_t *zp)
{
    wsource s;
    qb_status st = conv_source(&s, cout, cin, kh, kw, w, u8);
    if (st) return st;
    return pack_int8(out, cout, cin * kh * kw, &s, zp);
}

static qb_status pack_ternary(qb_qweights *out, int64_t n, int64_t k, const wsource *src)
{
    qb_status st = alloc_packed(out, n, k, 2, src);
    if (st) return st;
    out->zp = qb_malloc((size_t)n, sizeof(int32_t));
    if (!out->zp) {
        qb_qweights_free(out);
        return QB_ERR_NOMEM;
    }
    for (int64_t i = 0; i < n; i++) {
        int32_t sum = 0;
        out->zp[i] = 1;
        for (int64_t j = 0; j < k; j++) {
            int32_t t = source_code(src, i, j);
            if (t < -1 || t > 1) {
                qb_qweights_free(out);
                return qb_error(QB_ERR_ARG, "ternary weight (%lld, %lld) is %d, not -1, 0 or 1",
                                (long long)i, (long long)j, t);
            }
            int bit;
            uint8_t *p = code_addr(out, i, packed_k(out, j), &bit);
            *p = (uint8_t)(*p | (t + 1) << bit);
            sum += t + 1;
        }
        out->colsum[i] = sum;
    }
    return QB_OK;
}

qb_status qb_qweights_pack_ternary(qb_qweights *out, int64_t n, int64_t k, const int8_t *t,
                                   int64_t stride_n, int64_t stride_k)
{
    wsource s = {t, 0, stride_n, stride_k, 0, 0, 0};
    return pack_ternary(out, n, k, &s);
}

qb_status qb_qweights_pack_ternary_conv(qb_qweights *out, int64_t cout, int64_t cin, int64_t kh,
                                        int64_t kw, const int8_t *t)
{
    wsource s;
    qb_status st = conv_source(&s, cout, cin, kh, kw, t, 0);
    if (st) return st;
    return pack_ternary(out, cout, cin * kh * kw, &s);
}
