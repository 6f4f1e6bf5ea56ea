/* Scheme codes made into kernel operands, exactly: the per-format half of
 * the executor's weight and activation preparation (workloads/iexec.c,
 * workloads/iexec_float.c). A code's operand times its block's unit is
 * the simulated (dequantized) value, so kernels multiply operands and the
 * executor folds the unit into the output.
 * Error convention: common/status.h. */
#ifndef QB_IWEIGHTS_H
#define QB_IWEIGHTS_H

#include <stdint.h>
#include "quant.h"

/* pow2 runs on the int8 kernels up to this many bits (codes up to 2^6 = 64);
 * at 2 bits its levels 0, +-s are ternary. */
#define QB_POW2_INT8_MAX_BITS 4

/* pow2 codes q (-M..M, M = 2^(b-1)-1, level s 2^(|q|-M)) become in place the
 * integers sign(q) 2^(|q|-1), every level an integer multiple of the
 * smallest: level = integer * s 2^(1-M). Returns 2^(1-M), the factor the
 * block scale s is multiplied by. bits must be 2..QB_POW2_INT8_MAX_BITS. */
float qb_pow2_int_codes(int8_t *codes, int64_t n, int bits);

/* The exact operand of every 8-bit code of a per-tensor block b under p:
 * lut[(uint8_t)code] for codes stored as qb_scheme_code_dtype gives them
 * (uint8, or int8 reinterpreted). Float formats (fp8): the format's value
 * of the code (its scale is the unit); affine schemes: code - zero point
 * (the step is the unit). *unit gets that unit. QB_ERR_UNSUPPORTED for
 * other schemes, or wider codes. */
qb_status qb_code_operands(const qb_qparams *p, float lut[256], float *unit);

#endif
