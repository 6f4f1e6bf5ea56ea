/* Sweep spec parsing, overrides, resolution and canonical form (see spec.h). */
#include "spec.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "backend.h"
#include "vocab.h"

typedef enum { K_LIST, K_INT, K_DOUBLE } key_kind;

typedef struct {
    const char *section;
    const char *name;
    const char *flag;
    key_kind kind;
    double lo, hi;       /* numeric range */
    const char *def;
    const char *help;
} key_def;

#define QB_DEFAULT_EVENTS "PAPI_TOT_CYC, PAPI_TOT_INS, PAPI_L1_DCM, PAPI_L2_TCM, PAPI_L3_TCM, " \
    "PAPI_BR_MSP, sde:::qbench::macs, sde:::qbench::weight_bytes, sde:::qbench::requantized"

static const key_def keys[QB_SK_COUNT] = {
    [QB_SK_MODELS] = {"grid", "models", "--models", K_LIST, 0, 0, "mlp, lenet, resnet",
                      "models to sweep"},
    [QB_SK_SCHEMES] = {"grid", "schemes", "--schemes", K_LIST, 0, 0, "all",
                       "quantization schemes, or all (the fp32 baseline is always added)"},
    [QB_SK_WBITS] = {"grid", "wbits", "--wbits", K_LIST, 0, 0, "all",
                     "weight bits; each scheme runs at the listed widths it takes; all = every width"},
    [QB_SK_ABITS] = {"grid", "abits", "--abits", K_LIST, 0, 0, "8", "activation bits (32 = float)"},
    [QB_SK_GRANULARITY] = {"grid", "granularity", "--granularity", K_LIST, 0, 0, "channel",
                           "tensor, channel, group:N"},
    [QB_SK_CALIB] = {"grid", "calib", "--calib", K_LIST, 0, 0, "minmax",
                     "minmax, percentile:P, mse, kl"},
    [QB_SK_CORRECTION] = {"grid", "correction", "--correction", K_LIST, 0, 0, "none",
                          "none, bias, cle, adaround, gptq"},
    [QB_SK_POLICY] = {"grid", "policy", "--policy", K_LIST, 0, 0, "uniform",
                      "uniform, first-last:B, mixed:BUDGET"},
    [QB_SK_BACKEND] = {"grid", "backend", "--backend", K_LIST, 0, 0, "auto",
                       "integer backend: auto (the best this CPU runs) or a name"},
    [QB_SK_PLACEMENTS] = {"grid", "placements", "--placements", K_LIST, 0, 0, "default",
                          "hwloc placements (qbench topo lists them), or default"},
    [QB_SK_SCENARIOS] = {"grid", "scenarios", "--scenarios", K_LIST, 0, 0, "latency, throughput",
                         "latency (batch 1), throughput (batch = batch)"},
    [QB_SK_BATCH] = {"timing", "batch", "--batch", K_INT, 1, 65536, "64",
                     "images per forward pass in the throughput scenario"},
    [QB_SK_WARMUP] = {"timing", "warmup", "--warmup", K_INT, 0, 100000, "2",
                      "untimed forward passes before timing"},
    [QB_SK_REPETITIONS] = {"timing", "repetitions", "--repetitions", K_INT, 1, 1000000, "5",
                           "minimum timed repetitions"},
    [QB_SK_MIN_TIME] = {"timing", "min_time", "--min-time", K_DOUBLE, 0, 86400, "0.2",
                        "minimum timed seconds (repetitions continue until both minimums)"},
    [QB_SK_MAX_REPS] = {"timing", "max_reps", "--max-reps", K_INT, 1, 10000000, "1000",
                        "stop after this many repetitions even if min_time is not reached"},
    [QB_SK_TIMEOUT] = {"timing", "timeout", "--timeout", K_DOUBLE, 0.1, 604800, "600",
                       "seconds a cell may take before it is killed (status timeout)"},
    [QB_SK_EVENTS] = {"counters", "events", "--events", K_LIST, 0, 0, QB_DEFAULT_EVENTS,
                      "PAPI events around the timed region (qbench counters), or none"},
};

const char *qb_spec_key_name(qb_spec_key k) { return keys[k].name; }
const char *qb_spec_key_flag(qb_spec_key k) { return keys[k].flag; }
const char *qb_spec_key_help(qb_spec_key k) { return keys[k].help; }

uint64_t qb_fnv1a64(const char *text)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void list_free(qb_strlist *l)
{
    for (int i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static qb_status list_push(qb_strlist *l, const char *item, size_t len)
{
    char **items = realloc(l->items, ((size_t)l->n + 1) * sizeof *items);
    if (!items) return qb_error(QB_ERR_NOMEM, "out of memory");
    l->items = items;
    l->items[l->n] = strndup(item, len);
    if (!l->items[l->n]) return qb_error(QB_ERR_NOMEM, "out of memory");
    l->n++;
    return QB_OK;
}

static const char *trim(const char *s, size_t *len)
{
    while (*len && isspace((unsigned char)*s)) { s++; (*len)--; }
    while (*len && isspace((unsigned char)s[*len - 1])) (*len)--;
    return s;
}

/* Splits "a, b" into a list and checks numbers; `where` prefixes messages. */
static qb_status parse_value(qb_spec_key k, const char *value, const char *where, qb_strlist *out)
{
    const key_def *d = &keys[k];
    out->items = NULL;
    out->n = 0;
    size_t vlen = strlen(value);
    const char *v = trim(value, &vlen);
    if (vlen == 0) {
        return qb_error(QB_ERR_ARG, "%s: %s: empty value; give %s", where, d->name,
                        d->kind == K_LIST ? "at least one item" : "a number");
    }
    for (const char *p = v, *end = v + vlen; p <= end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        size_t len = (size_t)(stop - p);
        const char *item = trim(p, &len);
        if (len == 0) {
            list_free(out);
            return qb_error(QB_ERR_ARG, "%s: %s: empty item in '%.*s'", where, d->name, (int)vlen, v);
        }
        for (size_t i = 0; i < len; i++)
            if (isspace((unsigned char)item[i]) || item[i] == '"') {
                list_free(out);
                return qb_error(QB_ERR_ARG, "%s: %s: '%.*s' contains a space or quote; separate "
                                "items with commas", where, d->name, (int)len, item);
            }
        qb_status s = list_push(out, item, len);
        if (s != QB_OK) {
            list_free(out);
            return s;
        }
        p = stop + 1;
    }
    if (d->kind != K_LIST) {
        qb_status s = QB_OK;
        char what[400];
        snprintf(what, sizeof what, "%s: %s", where, d->name);
        if (out->n != 1) {
            s = qb_error(QB_ERR_ARG, "%s: takes one number, got %d items", what, out->n);
        } else if (d->kind == K_INT) {
            long x;
            s = qb_parse_int(what, out->items[0], (long)d->lo, (long)d->hi, &x);
        } else {
            double x;
            s = qb_parse_double(what, out->items[0], &x);
            if (s == QB_OK && (x < d->lo || x > d->hi))
                s = qb_error(QB_ERR_ARG, "%s: %g is out of range (allowed %g..%g)", what, x, d->lo,
                             d->hi);
        }
        if (s != QB_OK) {
            list_free(out);
            return s;
        }
    }
    return QB_OK;
}

/* Replaces list[k] and origin[k] (the spec's or a sub-grid's) with `value`. */
static qb_status set_in(qb_strlist *list, char **origin, qb_spec_key k, const char *value,
                        const char *where)
{
    qb_strlist l;
    qb_status st = parse_value(k, value, where, &l);
    if (st != QB_OK) return st;
    char *o = strdup(where);
    if (!o) {
        list_free(&l);
        return qb_error(QB_ERR_NOMEM, "out of memory");
    }
    list_free(&list[k]);
    free(origin[k]);
    list[k] = l;
    origin[k] = o;
    return QB_OK;
}

static qb_status set_key(qb_spec *s, qb_spec_key k, const char *value, const char *origin)
{
    qb_status st = set_in(s->list, s->origin, k, value, origin);
    if (st == QB_OK) s->resolved = 0;
    return st;
}

/* The sub-grid takes key k from [grid] again. */
static void sub_inherit(qb_subgrid *g, int k)
{
    list_free(&g->list[k]);
    free(g->origin[k]);
    g->origin[k] = NULL;
    g->own[k] = 0;
}

static void sub_free(qb_subgrid *g)
{
    for (int k = 0; k < QB_SK_GRID_COUNT; k++) sub_inherit(g, k);
    free(g->section);
    memset(g, 0, sizeof *g);
}

qb_status qb_spec_init(qb_spec *s)
{
    memset(s, 0, sizeof *s);
    for (int k = 0; k < QB_SK_COUNT; k++) {
        qb_status st = set_key(s, (qb_spec_key)k, keys[k].def, "default");
        if (st != QB_OK) {
            qb_spec_free(s);
            return st;
        }
    }
    return QB_OK;
}

void qb_spec_free(qb_spec *s)
{
    for (int k = 0; k < QB_SK_COUNT; k++) {
        list_free(&s->list[k]);
        free(s->origin[k]);
    }
    for (int i = 0; i < s->n_sub; i++) sub_free(&s->sub[i]);
    free(s->sub);
    memset(s, 0, sizeof *s);
}

qb_status qb_spec_set(qb_spec *s, qb_spec_key k, const char *value, const char *origin)
{
    qb_status st = set_key(s, k, value, origin);
    /* the user's word wins in every grid */
    if (st == QB_OK && k < QB_SK_GRID_COUNT)
        for (int i = 0; i < s->n_sub; i++) sub_inherit(&s->sub[i], k);
    return st;
}

#define QB_SUBGRID_NAME_MAX 48

/* Starts [grid.NAME] (`name` of `len` bytes); its index in *out. */
static qb_status open_subgrid(qb_spec *s, const char *where, int lineno, const char *name, size_t len,
                              int *out)
{
    if (len == 0)
        return qb_error(QB_ERR_ARG, "%s: [grid.] has an empty name; write [grid.NAME] (NAME: letters, "
                        "digits, '-', '_')", where);
    if (len > QB_SUBGRID_NAME_MAX)
        return qb_error(QB_ERR_ARG, "%s: sub-grid name '%.*s' is longer than %d characters", where,
                        (int)len, name, QB_SUBGRID_NAME_MAX);
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '_')
            return qb_error(QB_ERR_ARG, "%s: sub-grid name '%.*s' may only have letters, digits, '-' "
                            "and '_'", where, (int)len, name);
    for (int i = 0; i < s->n_sub; i++)
        if (strlen(s->sub[i].section) == len + 5 && strncmp(s->sub[i].section + 5, name, len) == 0)
            return qb_error(QB_ERR_ARG, "%s: [grid.%.*s] is already defined at line %d; give each "
                            "sub-grid its own name", where, (int)len, name, s->sub[i].line);
    qb_subgrid *sub = realloc(s->sub, ((size_t)s->n_sub + 1) * sizeof *sub);
    if (!sub) return qb_error(QB_ERR_NOMEM, "out of memory");
    s->sub = sub;
    qb_subgrid *g = &s->sub[s->n_sub];
    memset(g, 0, sizeof *g);
    if (asprintf(&g->section, "grid.%.*s", (int)len, name) < 0) {
        g->section = NULL;
        return qb_error(QB_ERR_NOMEM, "out of memory");
    }
    g->line = lineno;
    *out = s->n_sub++;
    s->resolved = 0;
    return QB_OK;
}

static const char *section_keys(const char *section, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < QB_SK_COUNT && used < len; k++)
        if (strcmp(keys[k].section, section) == 0)
            used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", keys[k].name);
    return buf;
}

qb_status qb_spec_parse_text(qb_spec *s, const char *name, const char *text)
{
    int set_line[QB_SK_COUNT] = {0};
    char section[64] = "";
    int sub = -1; /* the [grid.NAME] being read */
    int lineno = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        const char *line = p;
        p = nl ? nl + 1 : p + len;
        lineno++;
        const char *hash = memchr(line, '#', len);
        if (hash) len = (size_t)(hash - line);
        line = trim(line, &len);
        if (len == 0 || line[0] == ';') continue;
        char where[300];
        snprintf(where, sizeof where, "%s:%d", name, lineno);
        if (line[0] == '[') {
            if (line[len - 1] != ']')
                return qb_error(QB_ERR_ARG, "%s: expected '[section]', got '%.*s'", where, (int)len, line);
            size_t sl = len - 2;
            const char *sec = line + 1;
            sec = trim(sec, &sl);
            sub = -1;
            if (sl >= 5 && strncmp(sec, "grid.", 5) == 0) {
                qb_status st = open_subgrid(s, where, lineno, sec + 5, sl - 5, &sub);
                if (st != QB_OK) return st;
                snprintf(section, sizeof section, "%s", s->sub[sub].section);
                continue;
            }
            int known = 0;
            for (int k = 0; k < QB_SK_COUNT; k++)
                if (strlen(keys[k].section) == sl && strncmp(keys[k].section, sec, sl) == 0) known = 1;
            if (!known)
                return qb_error(QB_ERR_ARG, "%s: unknown section '[%.*s]' (known: [grid], [grid.NAME], "
                                "[timing], [counters])", where, (int)sl, sec);
            snprintf(section, sizeof section, "%.*s", (int)sl, sec);
            continue;
        }
        const char *eq = memchr(line, '=', len);
        if (!eq)
            return qb_error(QB_ERR_ARG, "%s: expected 'key = value' or '[section]', got '%.*s'", where,
                            (int)len, line);
        size_t kl = (size_t)(eq - line);
        const char *key = trim(line, &kl);
        const char *home = sub >= 0 ? "grid" : section; /* the keys this section takes */
        int k = -1;
        for (int i = 0; i < QB_SK_COUNT; i++)
            if (strlen(keys[i].name) == kl && strncmp(keys[i].name, key, kl) == 0) k = i;
        char known[512];
        if (k < 0) {
            if (!section[0])
                return qb_error(QB_ERR_ARG, "%s: unknown key '%.*s' (keys go under [grid], [timing] "
                                "or [counters])", where, (int)kl, key);
            return qb_error(QB_ERR_ARG, "%s: unknown key '%.*s' in [%s] (known: %s)", where, (int)kl,
                            key, section, section_keys(home, known, sizeof known));
        }
        if (strcmp(keys[k].section, home) != 0)
            return qb_error(QB_ERR_ARG, "%s: key '%s' belongs in [%s]%s%s%s", where, keys[k].name,
                            keys[k].section, section[0] ? ", not [" : "", section,
                            section[0] ? "]" : "");
        int *seen = sub >= 0 ? &s->sub[sub].own[k] : &set_line[k];
        if (*seen)
            return qb_error(QB_ERR_ARG, "%s: '%s' is already set at line %d", where, keys[k].name, *seen);
        char *value = strndup(eq + 1, (size_t)(line + len - (eq + 1)));
        if (!value) return qb_error(QB_ERR_NOMEM, "out of memory");
        qb_status st = sub >= 0 ? set_in(s->sub[sub].list, s->sub[sub].origin, (qb_spec_key)k, value, where)
                                : set_key(s, (qb_spec_key)k, value, where);
        free(value);
        if (st == QB_OK) *seen = lineno;
        if (st != QB_OK) return st;
    }
    return QB_OK;
}

qb_status qb_spec_parse_file(qb_spec *s, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return qb_error(QB_ERR_IO, "spec %s: %s (give a readable INI file; bench/default.ini is an "
                        "example)", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *text = malloc(cap);
    size_t r;
    while (text && (r = fread(text + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 == cap) {
            char *t = realloc(text, cap * 2);
            if (!t) { free(text); text = NULL; break; }
            text = t;
            cap *= 2;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (!text) return qb_error(QB_ERR_NOMEM, "spec %s: out of memory", path);
    if (err) {
        free(text);
        return qb_error(QB_ERR_IO, "spec %s: read error", path);
    }
    text[n] = '\0';
    if (memchr(text, '\0', n)) {
        free(text);
        return qb_error(QB_ERR_FORMAT, "spec %s: contains NUL bytes; is it a text file?", path);
    }
    qb_status s2 = qb_spec_parse_text(s, path, text);
    free(text);
    return s2;
}

static int sub_index(const qb_spec *s, const char *name)
{
    for (int i = 0; i < s->n_sub; i++)
        if (strcmp(s->sub[i].section + 5, name) == 0) return i;
    return -1;
}

qb_status qb_spec_keep_grids(qb_spec *s, const char *names, const char *origin)
{
    qb_strlist l = {0};
    qb_status st = parse_value(QB_SK_MODELS, names, origin, &l); /* any list key splits the same */
    int *keep = qb_calloc((size_t)s->n_sub + 1, sizeof *keep);
    if (st == QB_OK && !keep) st = QB_ERR_NOMEM;
    int none = l.n == 1 && strcmp(l.items[0], "none") == 0;
    for (int i = 0; i < l.n && st == QB_OK && !none; i++) {
        int k = sub_index(s, l.items[i]);
        if (strcmp(l.items[i], "none") == 0) {
            st = qb_error(QB_ERR_ARG, "%s: 'none' must be the only item", origin);
            break;
        }
        if (k >= 0) {
            keep[k] = 1;
            continue;
        }
        char known[600] = "";
        size_t used = 0;
        for (int j = 0; j < s->n_sub && used < sizeof known; j++)
            used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", j ? ", " : "", s->sub[j].section + 5);
        st = qb_error(QB_ERR_ARG, "%s: the spec has no sub-grid '%s' (%s%s; none runs the [grid] alone)", origin,
                      l.items[i], s->n_sub ? "its sub-grids: " : "it has no sub-grids", known);
    }
    if (st == QB_OK) {
        int n = 0;
        for (int i = 0; i < s->n_sub; i++) {
            if (keep[i]) s->sub[n++] = s->sub[i];
            else sub_free(&s->sub[i]);
        }
        s->n_sub = n;
        s->resolved = 0;
    }
    free(keep);
    list_free(&l);
    return st;
}

/* ---- resolution ---- */

/* The lists one grid's resolution works on: the spec's or a sub-grid's
 * (the [grid] keys index both the same way). */
typedef struct {
    qb_strlist *list;
    char **origin;
    int sub; /* a sub-grid: a scheme a flag leaves without widths is dropped */
} keyset;

static int list_has(const qb_strlist *l, const char *item)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->items[i], item) == 0) return 1;
    return 0;
}

static void replace_list(keyset *ks, qb_spec_key k, qb_strlist *l)
{
    list_free(&ks->list[k]);
    ks->list[k] = *l;
    l->items = NULL;
    l->n = 0;
}

static qb_status check_unique(const keyset *ks, qb_spec_key k)
{
    const qb_strlist *l = &ks->list[k];
    for (int i = 0; i < l->n; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(l->items[i], l->items[j]) == 0)
                return qb_error(QB_ERR_ARG, "%s: %s: '%s' is listed twice", ks->origin[k], keys[k].name,
                                l->items[i]);
    return QB_OK;
}

typedef qb_status (*check_fn)(const char *what, const char *value);

static qb_status check_each(const keyset *ks, qb_spec_key k, check_fn fn)
{
    char what[400];
    snprintf(what, sizeof what, "%s: %s", ks->origin[k], keys[k].name);
    for (int i = 0; i < ks->list[k].n; i++) {
        qb_status st = fn(what, ks->list[k].items[i]);
        if (st != QB_OK) return st;
    }
    return check_unique(ks, k);
}

static int only_item(const qb_strlist *l, const char *word)
{
    return l->n == 1 && strcmp(l->items[0], word) == 0;
}

static qb_status check_scheme_name(const char *what, const char *v)
{
    if (strcmp(v, "fp32") == 0)
        return qb_error(QB_ERR_ARG, "%s: fp32 is the baseline every model gets; list only "
                        "quantization schemes", what);
    return qb_vocab_check_scheme(what, v);
}

static qb_status check_abits(const char *what, const char *v)
{
    long b;
    qb_status st = qb_parse_int(what, v, 1, 32, &b);
    return st != QB_OK ? st : qb_vocab_check_abits(what, (int)b);
}

/* "auto", or a kernel backend this CPU can run (workloads/kernels/backend.h). */
static qb_status check_backend(const char *what, const char *v)
{
    if (strcmp(v, "auto") == 0) return QB_OK;
    const qb_backend *b = qb_backend_find(v);
    if (!b)
        return qb_error(QB_ERR_ARG, "%s: unknown backend '%s' (auto, %s)", what, v, qb_backend_names());
    const char *missing = qb_backend_missing_isa(b);
    if (missing)
        return qb_error(QB_ERR_ARG, "%s: backend '%s' needs %s, which this CPU (or OS) does not offer; "
                        "use auto or one of: %s", what, v, missing, qb_backend_names());
    return QB_OK;
}

static qb_status check_scenario(const char *what, const char *v)
{
    if (strcmp(v, "latency") == 0 || strcmp(v, "throughput") == 0) return QB_OK;
    return qb_error(QB_ERR_ARG, "%s: unknown scenario '%s' (known: latency, throughput)", what, v);
}

static qb_status check_event(const char *what, const char *v)
{
    if (strcmp(v, "none") == 0)
        return qb_error(QB_ERR_ARG, "%s: 'none' must be the only item", what);
    return QB_OK;
}

static qb_status push_int(qb_strlist *l, int v)
{
    char b[16];
    snprintf(b, sizeof b, "%d", v);
    return list_push(l, b, strlen(b));
}

static int from_flag(const char *origin) { return strncmp(origin, "--", 2) == 0; }

/* Schemes and weight bits together: each scheme runs at the listed widths it
 * takes. Schemes from `all` that take none of them are dropped; a scheme the
 * user named that takes none is an error - except in a sub-grid when a flag
 * gave the schemes or the widths (the flag applies to every grid; a
 * sub-grid it leaves without schemes is dropped by the caller). */
static qb_status resolve_schemes_wbits(keyset *ks)
{
    int from_all = only_item(&ks->list[QB_SK_SCHEMES], "all");
    int all_bits = only_item(&ks->list[QB_SK_WBITS], "all");
    int lenient = ks->sub && (from_flag(ks->origin[QB_SK_SCHEMES]) || from_flag(ks->origin[QB_SK_WBITS]));
    qb_strlist schemes = {0}, bits = {0};
    qb_status st = QB_OK;
    int listed[64], nlisted = 0;
    if (!all_bits) {
        char what[400];
        snprintf(what, sizeof what, "%s: wbits", ks->origin[QB_SK_WBITS]);
        for (int i = 0; i < ks->list[QB_SK_WBITS].n && st == QB_OK; i++) {
            long b;
            st = qb_parse_int(what, ks->list[QB_SK_WBITS].items[i], 1, 32, &b);
            if (st == QB_OK && nlisted < 64) listed[nlisted++] = (int)b;
        }
        if (st == QB_OK) st = check_unique(ks, QB_SK_WBITS);
    }
    if (st == QB_OK && !from_all) st = check_each(ks, QB_SK_SCHEMES, check_scheme_name);
    int n = from_all ? qb_vocab_n_schemes() : ks->list[QB_SK_SCHEMES].n;
    int used[33] = {0};
    for (int i = 0; i < n && st == QB_OK; i++) {
        const char *name = from_all ? qb_vocab_scheme(i) : ks->list[QB_SK_SCHEMES].items[i];
        int acc[33], na = qb_vocab_scheme_wbits(name, acc, 33), hits = 0;
        for (int j = 0; j < na; j++) {
            int take = all_bits;
            for (int m = 0; m < nlisted; m++) take |= listed[m] == acc[j];
            if (take) {
                used[acc[j]] = 1;
                hits++;
            }
        }
        if (hits > 0) {
            st = list_push(&schemes, name, strlen(name));
        } else if (!from_all && !lenient) {
            char what[400];
            snprintf(what, sizeof what, "%s: wbits", ks->origin[QB_SK_WBITS]);
            char why[600];
            qb_vocab_check_wbits(what, name, listed[0]);
            snprintf(why, sizeof why, "%s", qb_last_error());
            st = qb_error(QB_ERR_ARG, "%s, so it gets no cells; list a width it takes or drop it", why);
        }
    }
    if (st == QB_OK && schemes.n == 0 && !lenient)
        st = qb_error(QB_ERR_ARG, "%s: wbits: no scheme takes these bit widths (see qbench schemes)",
                      ks->origin[QB_SK_WBITS]);
    if (st == QB_OK && all_bits) {
        for (int b = 32; b >= 1 && st == QB_OK; b--)
            if (used[b]) st = push_int(&bits, b);
        if (st == QB_OK) replace_list(ks, QB_SK_WBITS, &bits);
    }
    if (st == QB_OK) replace_list(ks, QB_SK_SCHEMES, &schemes);
    list_free(&schemes);
    list_free(&bits);
    return st;
}

static qb_status resolve_placements(keyset *ks, const qb_topo *topo)
{
    qb_strlist out = {0};
    qb_status st = QB_OK;
    const qb_strlist *in = &ks->list[QB_SK_PLACEMENTS];
    char what[400];
    snprintf(what, sizeof what, "%s: placements", ks->origin[QB_SK_PLACEMENTS]);
    for (int i = 0; i < in->n && st == QB_OK; i++) {
        if (strcmp(in->items[i], "default") == 0) {
            char names[64][32];
            int nd = qb_topo_default_placements(topo, names, 64);
            for (int j = 0; j < nd && st == QB_OK; j++)
                if (!list_has(&out, names[j])) st = list_push(&out, names[j], strlen(names[j]));
            continue;
        }
        qb_placement p;
        st = qb_placement_resolve(topo, what, in->items[i], &p);
        if (st != QB_OK) break;
        if (list_has(&out, p.name))
            st = qb_error(QB_ERR_ARG, "%s: '%s' is listed twice (as %s)", what, in->items[i], p.name);
        else
            st = list_push(&out, p.name, strlen(p.name));
        qb_placement_free(&p);
    }
    if (st == QB_OK) replace_list(ks, QB_SK_PLACEMENTS, &out);
    list_free(&out);
    return st;
}

static qb_status check_model(const qb_workload_set *models, const char *what, const char *name)
{
    const qb_workload *w;
    qb_status st = qb_workload_find(models, name, &w);
    if (st != QB_OK) return qb_error_context(st, "%s", what);
    return QB_OK;
}

/* Expands and validates the [grid] keys of one grid. */
static qb_status resolve_grid(keyset *ks, const qb_workload_set *models, const qb_topo *topo)
{
    qb_status st;
    char what[400];
    snprintf(what, sizeof what, "%s: models", ks->origin[QB_SK_MODELS]);
    for (int i = 0; i < ks->list[QB_SK_MODELS].n; i++)
        if ((st = check_model(models, what, ks->list[QB_SK_MODELS].items[i])) != QB_OK) return st;
    if ((st = check_unique(ks, QB_SK_MODELS)) != QB_OK) return st;
    if ((st = resolve_schemes_wbits(ks)) != QB_OK) return st;
    if ((st = check_each(ks, QB_SK_ABITS, check_abits)) != QB_OK) return st;
    if ((st = check_each(ks, QB_SK_GRANULARITY, qb_vocab_check_granularity)) != QB_OK) return st;
    if ((st = check_each(ks, QB_SK_CALIB, qb_vocab_check_calib)) != QB_OK) return st;
    if ((st = check_each(ks, QB_SK_CORRECTION, qb_vocab_check_correction)) != QB_OK) return st;
    if ((st = check_each(ks, QB_SK_POLICY, qb_vocab_check_policy)) != QB_OK) return st;
    if ((st = check_each(ks, QB_SK_BACKEND, check_backend)) != QB_OK) return st;
    if ((st = check_each(ks, QB_SK_SCENARIOS, check_scenario)) != QB_OK) return st;
    return resolve_placements(ks, topo);
}

/* A sub-grid takes the keys it does not set from [grid] as written (before
 * `all` and `default` are expanded against [grid]'s own other keys); their
 * origin says so in messages. */
static qb_status inherit_unset(qb_subgrid *g, const qb_spec *s)
{
    for (int k = 0; k < QB_SK_GRID_COUNT; k++) {
        if (g->own[k]) continue;
        sub_inherit(g, k);
        for (int i = 0; i < s->list[k].n; i++) {
            qb_status st = list_push(&g->list[k], s->list[k].items[i], strlen(s->list[k].items[i]));
            if (st != QB_OK) return st;
        }
        if (asprintf(&g->origin[k], "%s (inherited by [%s])", s->origin[k], g->section) < 0) {
            g->origin[k] = NULL;
            return qb_error(QB_ERR_NOMEM, "out of memory");
        }
    }
    return QB_OK;
}

qb_status qb_spec_resolve(qb_spec *s, const qb_workload_set *models, const qb_topo *topo)
{
    qb_status st;
    for (int i = 0; i < s->n_sub; i++)
        if ((st = inherit_unset(&s->sub[i], s)) != QB_OK) return st;
    keyset grid = {s->list, s->origin, 0};
    if ((st = resolve_grid(&grid, models, topo)) != QB_OK) return st;
    if (only_item(&s->list[QB_SK_EVENTS], "none")) {
        list_free(&s->list[QB_SK_EVENTS]);
    } else if ((st = check_each(&grid, QB_SK_EVENTS, check_event)) != QB_OK) {
        return st;
    }
    for (int i = 0; i < s->n_sub;) {
        keyset sub = {s->sub[i].list, s->sub[i].origin, 1};
        if ((st = resolve_grid(&sub, models, topo)) != QB_OK) return st;
        if (s->sub[i].list[QB_SK_SCHEMES].n > 0) {
            i++;
            continue;
        }
        /* a flag left it no scheme: it has nothing of its own to run */
        sub_free(&s->sub[i]);
        memmove(&s->sub[i], &s->sub[i + 1], (size_t)(s->n_sub - i - 1) * sizeof *s->sub);
        s->n_sub--;
    }
    s->resolved = 1;
    return QB_OK;
}

int qb_spec_int(const qb_spec *s, qb_spec_key k) { return atoi(s->list[k].items[0]); }
double qb_spec_double(const qb_spec *s, qb_spec_key k) { return atof(s->list[k].items[0]); }
const qb_strlist *qb_spec_list(const qb_spec *s, qb_spec_key k) { return &s->list[k]; }

int qb_spec_n_grids(const qb_spec *s) { return 1 + s->n_sub; }

const char *qb_spec_grid_name(const qb_spec *s, int g) { return g == 0 ? "grid" : s->sub[g - 1].section; }

const qb_strlist *qb_spec_grid_list(const qb_spec *s, int g, qb_spec_key k)
{
    return g == 0 || k >= QB_SK_GRID_COUNT ? &s->list[k] : &s->sub[g - 1].list[k];
}

static size_t text_size(const qb_strlist *list, int nkeys)
{
    size_t n = 0;
    for (int k = 0; k < nkeys; k++) {
        n += strlen(keys[k].name) + 16;
        for (int i = 0; i < list[k].n; i++) n += strlen(list[k].items[i]) + 2;
    }
    return n;
}

/* Appends "name = a, b\n" (or "none") at out + *len. */
static void put_key(char *out, size_t cap, size_t *len, int k, const qb_strlist *l)
{
    *len += (size_t)snprintf(out + *len, cap - *len, "%s = ", keys[k].name);
    if (l->n == 0) *len += (size_t)snprintf(out + *len, cap - *len, "none");
    for (int i = 0; i < l->n; i++)
        *len += (size_t)snprintf(out + *len, cap - *len, "%s%s", i ? ", " : "", l->items[i]);
    *len += (size_t)snprintf(out + *len, cap - *len, "\n");
}

char *qb_spec_canonical(const qb_spec *s)
{
    size_t cap = 256 + text_size(s->list, QB_SK_COUNT), len = 0;
    for (int i = 0; i < s->n_sub; i++) cap += strlen(s->sub[i].section) + 4 + text_size(s->sub[i].list, QB_SK_GRID_COUNT);
    char *out = qb_malloc(cap, 1);
    if (!out) return NULL;
    const char *section = "";
    for (int k = 0; k < QB_SK_COUNT; k++) {
        if (strcmp(section, keys[k].section) != 0) {
            section = keys[k].section;
            len += (size_t)snprintf(out + len, cap - len, "[%s]\n", section);
        }
        put_key(out, cap, &len, k, &s->list[k]);
        if (k + 1 != QB_SK_GRID_COUNT) continue;
        for (int i = 0; i < s->n_sub; i++) { /* the sub-grids, after [grid] */
            len += (size_t)snprintf(out + len, cap - len, "[%s]\n", s->sub[i].section);
            for (int j = 0; j < QB_SK_GRID_COUNT; j++) put_key(out, cap, &len, j, &s->sub[i].list[j]);
        }
    }
    return out;
}

void qb_spec_hash(const qb_spec *s, char out[17])
{
    char *text = qb_spec_canonical(s);
    snprintf(out, 17, "%016llx", text ? (unsigned long long)qb_fnv1a64(text) : 0ULL);
    free(text);
}
