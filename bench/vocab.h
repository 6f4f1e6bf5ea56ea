/* The quantization vocabulary the sweep spec accepts: scheme names and the
 * weight bit widths each accepts (the quantizer library's scheme table),
 * granularity and calibration (its parsers), correction and policy values.
 * All spec validation of these names goes through here. Errors name `what`
 * (a file:line or a flag) and list the accepted values. */
#ifndef QB_VOCAB_H
#define QB_VOCAB_H

#include "status.h"

/* Every scheme, in the quantizer table's order ("fp32" is not a scheme). */
int qb_vocab_n_schemes(void);
const char *qb_vocab_scheme(int i);

qb_status qb_vocab_check_scheme(const char *what, const char *name);
/* The weight bit widths `scheme` accepts, ascending; returns the count
 * (at most `cap` written). */
int qb_vocab_scheme_wbits(const char *scheme, int *bits, int cap);
/* QB_OK when the scheme takes `wbits`; the error names the accepted ones. */
qb_status qb_vocab_check_wbits(const char *what, const char *scheme, int wbits);
qb_status qb_vocab_check_abits(const char *what, int abits);
/* The activation bits a cell of `scheme` runs at for a spec's `abits`: float
 * formats (fp16, bf16, fp8-*) quantize activations to their own format, so
 * they run at its width unless abits is 32 (float activations). */
int qb_vocab_activation_bits(const char *scheme, int abits);

qb_status qb_vocab_check_granularity(const char *what, const char *value);
qb_status qb_vocab_check_calib(const char *what, const char *value);
qb_status qb_vocab_check_correction(const char *what, const char *value);
qb_status qb_vocab_check_policy(const char *what, const char *value);

#endif
