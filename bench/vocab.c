/* Spec vocabulary (see vocab.h). The names follow docs/ARCHITECTURE.md's
 * quantization vocabulary; this file is the single place that changes when
 * the quantizer library's scheme table and parsers take over. */
#include "vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"

typedef struct {
    const char *name;
    int lo, hi;   /* accepted weight bits: lo..hi, or exactly lo if hi == 0 */
} scheme_entry;

static const scheme_entry schemes[] = {
    {"uniform-asym", 2, 8}, {"uniform-sym", 2, 8}, {"pow2", 2, 8}, {"kmeans", 1, 8},
    {"binary", 1, 0},       {"ternary", 2, 0},     {"fp16", 16, 0}, {"bf16", 16, 0},
    {"fp8-e4m3", 8, 0},     {"fp8-e5m2", 8, 0},
};

static const char *const corrections[] = {"none", "bias", "cle", "adaround", "gptq"};

int qb_vocab_n_schemes(void) { return (int)QB_ARRAY_LEN(schemes); }
const char *qb_vocab_scheme(int i) { return schemes[i].name; }

static const scheme_entry *find_scheme(const char *name)
{
    for (size_t i = 0; i < QB_ARRAY_LEN(schemes); i++)
        if (strcmp(schemes[i].name, name) == 0) return &schemes[i];
    return NULL;
}

/* "a, b, c" from a list of names, into buf. */
static const char *join(const char *const *names, size_t n, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", names[i]);
    return buf;
}

qb_status qb_vocab_check_scheme(const char *what, const char *name)
{
    if (find_scheme(name)) return QB_OK;
    const char *names[QB_ARRAY_LEN(schemes)];
    for (size_t i = 0; i < QB_ARRAY_LEN(schemes); i++) names[i] = schemes[i].name;
    char buf[512];
    return qb_error(QB_ERR_ARG, "%s: unknown scheme '%s' (known: %s)", what, name,
                    join(names, QB_ARRAY_LEN(schemes), buf, sizeof buf));
}

int qb_vocab_scheme_wbits(const char *scheme, int *bits, int cap)
{
    const scheme_entry *s = find_scheme(scheme);
    if (!s) return 0;
    int n = 0, hi = s->hi ? s->hi : s->lo;
    for (int b = s->lo; b <= hi; b++) {
        if (n < cap) bits[n] = b;
        n++;
    }
    return n < cap ? n : cap;
}

qb_status qb_vocab_check_wbits(const char *what, const char *scheme, int wbits)
{
    const scheme_entry *s = find_scheme(scheme);
    if (!s) return qb_vocab_check_scheme(what, scheme);
    int hi = s->hi ? s->hi : s->lo;
    if (wbits >= s->lo && wbits <= hi) return QB_OK;
    if (s->hi)
        return qb_error(QB_ERR_ARG, "%s: scheme %s does not take %d weight bits (it takes %d..%d)",
                        what, scheme, wbits, s->lo, s->hi);
    return qb_error(QB_ERR_ARG, "%s: scheme %s does not take %d weight bits (it takes %d)", what,
                    scheme, wbits, s->lo);
}

qb_status qb_vocab_check_abits(const char *what, int abits)
{
    if ((abits >= 2 && abits <= 8) || abits == 16 || abits == 32) return QB_OK;
    return qb_error(QB_ERR_ARG, "%s: %d activation bits is not supported (use 2..8, 16 or 32 = float)",
                    what, abits);
}

/* "NAME:N" with N a positive integer; returns N or -1. */
static long suffix_int(const char *value, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(value, prefix, n) != 0) return -1;
    char *end;
    long v = strtol(value + n, &end, 10);
    if (end == value + n || *end != '\0' || v <= 0) return -1;
    return v;
}

qb_status qb_vocab_check_granularity(const char *what, const char *value)
{
    if (strcmp(value, "tensor") == 0 || strcmp(value, "channel") == 0) return QB_OK;
    if (strncmp(value, "group:", 6) == 0) {
        if (suffix_int(value, "group:") > 0) return QB_OK;
        return qb_error(QB_ERR_ARG, "%s: '%s': group size must be a positive integer (group:32)",
                        what, value);
    }
    return qb_error(QB_ERR_ARG, "%s: unknown granularity '%s' (known: tensor, channel, group:N)",
                    what, value);
}

qb_status qb_vocab_check_calib(const char *what, const char *value)
{
    if (strcmp(value, "minmax") == 0 || strcmp(value, "mse") == 0 || strcmp(value, "kl") == 0)
        return QB_OK;
    if (strncmp(value, "percentile:", 11) == 0) {
        double p;
        if (qb_parse_double(what, value + 11, &p) == QB_OK && p > 0 && p <= 100) return QB_OK;
        return qb_error(QB_ERR_ARG, "%s: '%s': the percentile must be a number in (0, 100] "
                        "(percentile:99.99)", what, value);
    }
    return qb_error(QB_ERR_ARG, "%s: unknown calibration '%s' (known: minmax, percentile:P, mse, kl)",
                    what, value);
}

qb_status qb_vocab_check_correction(const char *what, const char *value)
{
    for (size_t i = 0; i < QB_ARRAY_LEN(corrections); i++)
        if (strcmp(corrections[i], value) == 0) return QB_OK;
    char buf[256];
    return qb_error(QB_ERR_ARG, "%s: unknown correction '%s' (known: %s)", what, value,
                    join(corrections, QB_ARRAY_LEN(corrections), buf, sizeof buf));
}

qb_status qb_vocab_check_policy(const char *what, const char *value)
{
    if (strcmp(value, "uniform") == 0) return QB_OK;
    if (strncmp(value, "first-last:", 11) == 0) {
        long b = suffix_int(value, "first-last:");
        if (b >= 2 && b <= 32) return QB_OK;
        return qb_error(QB_ERR_ARG, "%s: '%s': first-last takes the bits of the first and last "
                        "layers, 2..32 (first-last:8)", what, value);
    }
    if (strncmp(value, "mixed:", 6) == 0 && value[6] != '\0') return QB_OK;
    return qb_error(QB_ERR_ARG, "%s: unknown policy '%s' (known: uniform, first-last:B, mixed:BUDGET)",
                    what, value);
}
