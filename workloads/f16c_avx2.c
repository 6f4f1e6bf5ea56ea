/* fp16 -> fp32 with F16C (vcvtph2ps), 8 values per instruction: fp16
 * weights are stored as fp16 and widened each call (iexec_float.h). */
#include <immintrin.h>
#include "iexec_float.h"

void qb_f16_to_f32_avx2(const uint16_t *h, float *f, int64_t n)
{
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 32; j += 8)
            _mm256_storeu_ps(f + i + j, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i + j))));
    for (; i < n; i++) f[i] = _cvtsh_ss(h[i]);
}
