/* Spec vocabulary (see vocab.h): scheme names, bit widths, granularity and
 * calibration come from the quantizer library's table and parsers
 * (quantizers/scheme.h, quant.h, calib.h); correction and policy values
 * from the levers' parser (workloads/levers.h). */
#include "vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "calib.h"
#include "levers.h"
#include "quant.h"
#include "scheme.h"

int qb_vocab_n_schemes(void) { return qb_schemes_count(); }
const char *qb_vocab_scheme(int i) { return qb_scheme_at(i)->name; }

qb_status qb_vocab_check_scheme(const char *what, const char *name)
{
    if (qb_scheme_find(name)) return QB_OK;
    return qb_error_context(QB_ERR_ARG, "%s", what);
}

int qb_vocab_scheme_wbits(const char *scheme, int *bits, int cap)
{
    const qb_scheme *s = qb_scheme_find(scheme);
    qb_clear_error();
    int n = 0;
    for (int b = 1; s && b <= 32 && n < cap; b++)
        if (qb_scheme_accepts_bits(s, b)) bits[n++] = b;
    return n;
}

qb_status qb_vocab_check_wbits(const char *what, const char *scheme, int wbits)
{
    const qb_scheme *s = qb_scheme_find(scheme);
    if (!s) return qb_error_context(QB_ERR_ARG, "%s", what);
    if (qb_scheme_check_bits(s, wbits) != QB_OK) return qb_error_context(QB_ERR_ARG, "%s", what);
    return QB_OK;
}

qb_status qb_vocab_check_abits(const char *what, int abits)
{
    const qb_scheme *act = qb_scheme_find("uniform-asym");
    if (abits == 32 || (act && qb_scheme_accepts_bits(act, abits))) return QB_OK;
    char range[64] = "?";
    if (act) qb_scheme_bits_str(act, range, sizeof range);
    return qb_error(QB_ERR_ARG, "%s: %d activation bits is not supported (activations are uniform-asym "
                    "codes of %s bits, or 32 = float)", what, abits, range);
}

int qb_vocab_activation_bits(const char *scheme, int abits)
{
    const qb_scheme *s = qb_scheme_find(scheme);
    qb_clear_error();
    if (abits == 32 || !s || !s->format) return abits;
    return s->default_bits; /* a float format quantizes activations to itself */
}

qb_status qb_vocab_check_granularity(const char *what, const char *value)
{
    qb_granularity g;
    if (qb_granularity_parse(value, &g) == QB_OK) return QB_OK;
    return qb_error_context(QB_ERR_ARG, "%s", what);
}

qb_status qb_vocab_check_calib(const char *what, const char *value)
{
    qb_calib c;
    if (qb_calib_parse(value, &c) == QB_OK) return QB_OK;
    return qb_error_context(QB_ERR_ARG, "%s", what);
}

qb_status qb_vocab_check_correction(const char *what, const char *value)
{
    qb_correction c;
    return qb_correction_parse(what, value, &c);
}

qb_status qb_vocab_check_policy(const char *what, const char *value)
{
    qb_policy p;
    return qb_policy_parse(what, value, &p);
}
