/* The per-channel arithmetic of two data-driven corrections; models are
 * walked, and data run, in workloads/.
 *
 * Bias correction (empirical, as in Nagel et al.'s data-free quantization
 * paper, measured rather than predicted): quantizing a layer's weights
 * shifts the mean of each output channel; measure the channel means of the
 * float and of the quantized layer on calibration data and move the bias
 * by their difference, so the quantized layer's outputs are unbiased again.
 *
 * Cross-layer equalization: for two layers joined by a positively
 * homogeneous function (ReLU, max pooling: f(s x) = s f(x) for s > 0),
 * dividing output channel i of the first by s_i and multiplying the inputs
 * of the second that read channel i by s_i leaves the float network's
 * outputs unchanged. With s_i = sqrt(r1_i / r2_i), r1_i the largest |w| of
 * channel i in the first layer and r2_i the largest |w| reading it in the
 * second, both ranges become sqrt(r1_i r2_i): per-tensor quantization then
 * wastes fewer levels on a few wide channels. */
#ifndef QB_CHANSTATS_H
#define QB_CHANSTATS_H

#include <stdint.h>

/* sum[c] += every value of channel c in y, laid out (batch, channels,
 * inner) (NCHW with inner = h * w). */
void qb_channel_sums_add(double *sum, const float *y, int64_t batch, int64_t channels,
                         int64_t inner);

/* bias[c] += (ref_sum[c] - quant_sum[c]) / count: the quantized layer's
 * mean moves onto the float layer's. count is the number of values each
 * sum holds (images x h x w). */
void qb_bias_correct(float *bias, int64_t channels, const double *ref_sum, const double *quant_sum,
                     double count);

/* The equalizing scales s[i] = sqrt(r1[i] / r2[i]) (1 when either range is
 * 0, where scaling would change nothing or divide by zero). */
void qb_equalize_scales(const float *r1, const float *r2, int64_t n, float *s);

#endif
