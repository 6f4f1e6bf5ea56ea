/* Parsing the correction and policy values (see levers.h). */
#include "levers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

#define CORRECTIONS "none, or cle, prune:P, adaround, gptq, inq[:E], qat[:E], bias joined by '+'"

static const char *const method_names[] = {"nearest", "adaround", "gptq", "inq", "qat"};

/* A whole-string number >= 0 ("0.5", "3"). */
static int parse_number(const char *s, double *out)
{
    char *end;
    if (!*s) return 0;
    double v = strtod(s, &end);
    if (*end || !isfinite(v) || v < 0) return 0;
    *out = v;
    return 1;
}

static qb_status one_step(const char *what, const char *step, qb_correction *c)
{
    double v;
    qb_weight_method m = QB_ROUNDING_NEAREST;
    if (strcmp(step, "cle") == 0) {
        if (c->cle) goto repeated;
        c->cle = 1;
        return QB_OK;
    }
    if (strcmp(step, "bias") == 0) {
        if (c->bias) goto repeated;
        c->bias = 1;
        return QB_OK;
    }
    if (strncmp(step, "prune:", 6) == 0) {
        if (c->prune_pct > 0) goto repeated;
        if (!parse_number(step + 6, &v) || !(v > 0 && v < 100))
            return qb_error(QB_ERR_ARG, "%s: '%s': the sparsity is a percentage between 0 and 100 "
                            "(prune:50)", what, step);
        c->prune_pct = v;
        return QB_OK;
    }
    if (strcmp(step, "adaround") == 0) m = QB_ROUNDING_ADAROUND;
    else if (strcmp(step, "gptq") == 0) m = QB_ROUNDING_GPTQ;
    else if (strncmp(step, "inq", 3) == 0 && (step[3] == '\0' || step[3] == ':')) m = QB_ROUNDING_INQ;
    else if (strncmp(step, "qat", 3) == 0 && (step[3] == '\0' || step[3] == ':')) m = QB_ROUNDING_QAT;
    else
        return qb_error(QB_ERR_ARG, "%s: unknown correction '%s' (known: %s)", what, step, CORRECTIONS);
    if (c->method != QB_ROUNDING_NEAREST)
        return qb_error(QB_ERR_ARG, "%s: '%s' and '%s' both decide the weights' levels; pick one of "
                        "adaround, gptq, inq, qat", what, method_names[c->method], step);
    c->method = m;
    if ((m == QB_ROUNDING_INQ || m == QB_ROUNDING_QAT) && step[3] == ':') {
        if (!parse_number(step + 4, &v) || !(v > 0 && v <= 1000))
            return qb_error(QB_ERR_ARG, "%s: '%s': the epochs must be a number in (0, 1000] "
                            "(%.3s:2, %.3s:0.5)", what, step, step, step);
        c->epochs = v;
    }
    return QB_OK;
repeated:
    return qb_error(QB_ERR_ARG, "%s: '%s' appears twice", what, step);
}

qb_status qb_correction_parse(const char *what, const char *text, qb_correction *out)
{
    memset(out, 0, sizeof *out);
    if (strcmp(text, "none") == 0) return QB_OK;
    if (!*text) return qb_error(QB_ERR_ARG, "%s: empty correction (use none, or %s)", what, CORRECTIONS);
    char buf[256];
    if (strlen(text) >= sizeof buf) return qb_error(QB_ERR_ARG, "%s: correction too long", what);
    strcpy(buf, text);
    char *save = NULL;
    int n = 0;
    for (char *tok = strtok_r(buf, "+", &save); tok; tok = strtok_r(NULL, "+", &save), n++) {
        if (strcmp(tok, "none") == 0)
            return qb_error(QB_ERR_ARG, "%s: 'none' cannot be combined with other corrections", what);
        qb_status s = one_step(what, tok, out);
        if (s != QB_OK) return s;
    }
    if (n == 0 || text[0] == '+' || text[strlen(text) - 1] == '+' || strstr(text, "++"))
        return qb_error(QB_ERR_ARG, "%s: '%s': empty step (steps are joined by single '+')", what, text);
    return QB_OK;
}

static void appendf(char *buf, size_t len, size_t *used, const char *fmt, double v)
{
    if (*used >= len) return;
    int k = snprintf(buf + *used, len - *used, fmt, *used ? "+" : "", v);
    if (k > 0) *used += (size_t)k;
}

const char *qb_correction_str(const qb_correction *c, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    if (c->cle) appendf(buf, len, &used, "%scle", 0);
    if (c->prune_pct > 0) appendf(buf, len, &used, "%sprune:%g", c->prune_pct);
    if (c->method != QB_ROUNDING_NEAREST) {
        char fmt[32];
        snprintf(fmt, sizeof fmt, "%%s%s%s", method_names[c->method], c->epochs > 0 ? ":%g" : "");
        appendf(buf, len, &used, fmt, c->epochs);
    }
    if (c->bias) appendf(buf, len, &used, "%sbias", 0);
    if (!used) snprintf(buf, len, "none");
    return buf;
}

int qb_correction_trains(const qb_correction *c)
{
    return c->method == QB_ROUNDING_INQ || c->method == QB_ROUNDING_QAT;
}

/* "250k", "1.5M", "300000", "12.5%" */
static qb_status parse_size(const char *what, const char *text, qb_policy *p)
{
    char num[64];
    size_t n = strlen(text);
    if (n == 0 || n >= sizeof num) goto bad;
    strcpy(num, text);
    double mult = 1;
    int pct = 0;
    char last = num[n - 1];
    if (last == '%') pct = 1;
    else if (last == 'k' || last == 'K') mult = 1e3;
    else if (last == 'M') mult = 1e6;
    if (pct || mult != 1) num[n - 1] = '\0';
    double v;
    if (!parse_number(num, &v) || !(v > 0) || (pct && v > 100)) goto bad;
    if (pct) p->size_pct = v;
    else p->size_bytes = v * mult;
    return QB_OK;
bad:
    return qb_error(QB_ERR_ARG, "%s: 'mixed:size=%s': the budget is bytes (250000, 250k, 1.5M) or a "
                    "percentage of the fp32 model up to 100 (mixed:size=15%%)", what, text);
}

qb_status qb_policy_parse(const char *what, const char *text, qb_policy *out)
{
    memset(out, 0, sizeof *out);
    if (strcmp(text, "uniform") == 0) return QB_OK;
    if (strncmp(text, "first-last:", 11) == 0) {
        long b;
        if (qb_parse_int(what, text + 11, 1, 32, &b) != QB_OK || (b > 16 && b != 32))
            return qb_error(QB_ERR_ARG, "%s: '%s': first-last takes the bits of the first and last "
                            "layers, 1..16, or 32 for float (first-last:8)", what, text);
        out->kind = QB_POLICY_FIRST_LAST;
        out->bits = (int)b;
        return QB_OK;
    }
    if (strncmp(text, "mixed:size=", 11) == 0) {
        out->kind = QB_POLICY_MIXED_SIZE;
        return parse_size(what, text + 11, out);
    }
    if (strncmp(text, "mixed:drop=", 11) == 0) {
        out->kind = QB_POLICY_MIXED_DROP;
        if (!parse_number(text + 11, &out->drop_pp) || out->drop_pp > 100)
            return qb_error(QB_ERR_ARG, "%s: '%s': the drop budget is accuracy points, 0..100 "
                            "(mixed:drop=0.5)", what, text);
        return QB_OK;
    }
    return qb_error(QB_ERR_ARG, "%s: unknown policy '%s' (known: uniform, first-last:B, "
                    "mixed:size=BYTES|PCT%%, mixed:drop=PP)", what, text);
}

const char *qb_policy_str(const qb_policy *p, char *buf, size_t len)
{
    switch (p->kind) {
    case QB_POLICY_FIRST_LAST: snprintf(buf, len, "first-last:%d", p->bits); break;
    case QB_POLICY_MIXED_SIZE:
        if (p->size_pct > 0) snprintf(buf, len, "mixed:size=%g%%", p->size_pct);
        else snprintf(buf, len, "mixed:size=%.0f", p->size_bytes);
        break;
    case QB_POLICY_MIXED_DROP: snprintf(buf, len, "mixed:drop=%g", p->drop_pp); break;
    default: snprintf(buf, len, "uniform"); break;
    }
    return buf;
}
