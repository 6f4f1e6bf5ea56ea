/* Table-driven flag parsing (see args.h). */
#include "args.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

qb_status qb_parse_int(const char *what, const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE)
        return qb_error(QB_ERR_ARG, "%s: expected an integer, got '%s'", what, text);
    if (v < lo || v > hi)
        return qb_error(QB_ERR_ARG, "%s: %ld is out of range (allowed %ld..%ld)", what, v, lo, hi);
    *out = v;
    return QB_OK;
}

qb_status qb_parse_double(const char *what, const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE)
        return qb_error(QB_ERR_ARG, "%s: expected a number, got '%s'", what, text);
    *out = v;
    return QB_OK;
}

/* Matches "--name" or the alias after a space in the table's name field. */
static int name_matches(const char *spec, const char *arg, size_t arglen)
{
    while (*spec) {
        const char *sp = strchr(spec, ' ');
        size_t n = sp ? (size_t)(sp - spec) : strlen(spec);
        if (n == arglen && strncmp(spec, arg, n) == 0) return 1;
        if (!sp) break;
        spec = sp + 1;
    }
    return 0;
}

static qb_status set_value(const char *cmd, const qb_opt *o, const char *flag, const char *val)
{
    char what[128];
    snprintf(what, sizeof what, "qbench %s %s", cmd, flag);
    switch (o->kind) {
    case QB_OPT_STR:
        *(const char **)o->dest = val;
        return QB_OK;
    case QB_OPT_INT: {
        long v;
        qb_status s = qb_parse_int(what, val, INT_MIN, INT_MAX, &v);
        if (s == QB_OK) *(int *)o->dest = (int)v;
        return s;
    }
    case QB_OPT_DOUBLE:
        return qb_parse_double(what, val, (double *)o->dest);
    case QB_OPT_FLAG:
        *(int *)o->dest = 1;
        return QB_OK;
    }
    return qb_error(QB_ERR_INTERNAL, "bad option kind");
}

qb_status qb_args_parse(const char *cmd, int argc, char **argv,
                        const qb_opt *opts, int nopts, qb_args *out)
{
    out->n_positional = 0;
    out->help = 0;
    int flags_done = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (flags_done || a[0] != '-' || a[1] == '\0') {
            if (out->n_positional >= out->max_positional)
                return qb_error(QB_ERR_ARG, "qbench %s: unexpected argument '%s' "
                                "(see qbench %s --help)", cmd, a, cmd);
            out->positional[out->n_positional++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            flags_done = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            out->help = 1;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const qb_opt *o = NULL;
        for (int k = 0; k < nopts; k++)
            if (name_matches(opts[k].name, a, len)) { o = &opts[k]; break; }
        if (!o)
            return qb_error(QB_ERR_ARG, "qbench %s: unknown flag '%.*s' (see qbench %s --help)",
                            cmd, (int)len, a, cmd);
        char flag[64];
        snprintf(flag, sizeof flag, "%.*s", (int)len, a);
        const char *val;
        if (o->kind == QB_OPT_FLAG) {
            if (eq) return qb_error(QB_ERR_ARG, "qbench %s %s: takes no value", cmd, flag);
            val = "1";
        } else if (eq) {
            val = eq + 1;
        } else {
            if (i + 1 >= argc)
                return qb_error(QB_ERR_ARG, "qbench %s %s: missing value (%s)", cmd, flag,
                                o->metavar ? o->metavar : "a value");
            val = argv[++i];
        }
        qb_status s = set_value(cmd, o, flag, val);
        if (s != QB_OK) return s;
    }
    return QB_OK;
}

void qb_args_usage(FILE *f, const char *cmd, const char *synopsis,
                   const qb_opt *opts, int nopts)
{
    fprintf(f, "usage: qbench %s %s\n", cmd, synopsis ? synopsis : "");
    for (int k = 0; k < nopts; k++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", opts[k].name, opts[k].metavar ? " " : "",
                 opts[k].metavar ? opts[k].metavar : "");
        fprintf(f, "  %-28s %s\n", left, opts[k].help ? opts[k].help : "");
    }
}
