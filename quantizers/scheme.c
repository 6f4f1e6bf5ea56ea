/* The scheme table and lookups (see scheme.h). */
#include "scheme.h"

#include <stdio.h>
#include <string.h>

static const qb_scheme *const table[QB_SCHEME_COUNT] = {
    [QB_SCHEME_UNIFORM_ASYM] = &qb_scheme_uniform_asym,
    [QB_SCHEME_UNIFORM_SYM] = &qb_scheme_uniform_sym,
    [QB_SCHEME_POW2] = &qb_scheme_pow2,
    [QB_SCHEME_KMEANS] = &qb_scheme_kmeans,
    [QB_SCHEME_BINARY] = &qb_scheme_binary,
    [QB_SCHEME_TERNARY] = &qb_scheme_ternary,
    [QB_SCHEME_FP16] = &qb_scheme_fp16,
    [QB_SCHEME_BF16] = &qb_scheme_bf16,
    [QB_SCHEME_FP8_E4M3] = &qb_scheme_fp8_e4m3,
    [QB_SCHEME_FP8_E5M2] = &qb_scheme_fp8_e5m2,
};

int qb_schemes_count(void) { return QB_SCHEME_COUNT; }

const qb_scheme *qb_scheme_at(int i) { return i >= 0 && i < QB_SCHEME_COUNT ? table[i] : NULL; }

const qb_scheme *qb_scheme_get(qb_scheme_id id) { return qb_scheme_at((int)id); }

const char *qb_scheme_names(char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < QB_SCHEME_COUNT && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", table[i]->name);
    return buf;
}

const qb_scheme *qb_scheme_find(const char *name)
{
    for (int i = 0; i < QB_SCHEME_COUNT; i++)
        if (name && strcmp(name, table[i]->name) == 0) return table[i];
    char known[256];
    qb_error(QB_ERR_ARG, "unknown scheme '%s' (known: %s)", name ? name : "",
             qb_scheme_names(known, sizeof known));
    return NULL;
}

int qb_scheme_accepts_bits(const qb_scheme *s, int bits)
{
    return bits >= 1 && bits <= 31 && (s->bits_mask >> bits) & 1u;
}

const char *qb_scheme_bits_str(const qb_scheme *s, char *buf, size_t len)
{
    /* Runs of consecutive widths print as "lo-hi", separated by ", ". */
    size_t off = 0;
    buf[0] = '\0';
    for (int b = 1; b <= 31 && off < len; b++) {
        if (!qb_scheme_accepts_bits(s, b) || qb_scheme_accepts_bits(s, b - 1)) continue;
        int e = b;
        while (qb_scheme_accepts_bits(s, e + 1)) e++;
        if (e == b) off += (size_t)snprintf(buf + off, len - off, "%s%d", off ? ", " : "", b);
        else off += (size_t)snprintf(buf + off, len - off, "%s%d-%d", off ? ", " : "", b, e);
    }
    return buf;
}

qb_status qb_scheme_check_bits(const qb_scheme *s, int bits)
{
    if (qb_scheme_accepts_bits(s, bits)) return QB_OK;
    char ok[64];
    return qb_error(QB_ERR_ARG, "scheme '%s' does not take %d bits (it takes %s)", s->name, bits,
                    qb_scheme_bits_str(s, ok, sizeof ok));
}

const char *qb_scheme_params_str(const qb_scheme *s, char *buf, size_t len)
{
    static const struct { unsigned bit; const char *name; } names[] = {
        {QB_PARAM_SCALE, "scale"},
        {QB_PARAM_ZERO_POINT, "zero_point"},
        {QB_PARAM_THRESHOLD, "threshold"},
        {QB_PARAM_CODEBOOK, "codebook"},
    };
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < QB_ARRAY_LEN(names) && off < len; i++)
        if (s->params & names[i].bit)
            off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "", names[i].name);
    if (off == 0) snprintf(buf, len, "none");
    return buf;
}

qb_dtype qb_scheme_code_dtype(const qb_scheme *s, int bits)
{
    if (bits <= 8) return s->signed_codes ? QB_I8 : QB_U8;
    if (bits <= 16) return s->signed_codes ? QB_I16 : QB_U16;
    return s->signed_codes ? QB_I32 : QB_U32;
}

void qb_block_init(qb_block *b, const qb_scheme *s, int bits, int narrow)
{
    memset(b, 0, sizeof *b);
    b->bits = bits;
    b->scale = 1.0f;
    s->code_range(bits, narrow, &b->qmin, &b->qmax);
}
