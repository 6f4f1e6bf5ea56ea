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

static qb_status set_key(qb_spec *s, qb_spec_key k, const char *value, const char *origin)
{
    qb_strlist l;
    qb_status st = parse_value(k, value, origin, &l);
    if (st != QB_OK) return st;
    char *o = strdup(origin);
    if (!o) {
        list_free(&l);
        return qb_error(QB_ERR_NOMEM, "out of memory");
    }
    list_free(&s->list[k]);
    free(s->origin[k]);
    s->list[k] = l;
    s->origin[k] = o;
    s->resolved = 0;
    return QB_OK;
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
    memset(s, 0, sizeof *s);
}

qb_status qb_spec_set(qb_spec *s, qb_spec_key k, const char *value, const char *origin)
{
    return set_key(s, k, value, origin);
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
            int known = 0;
            for (int k = 0; k < QB_SK_COUNT; k++)
                if (strlen(keys[k].section) == sl && strncmp(keys[k].section, sec, sl) == 0) known = 1;
            if (!known)
                return qb_error(QB_ERR_ARG, "%s: unknown section '[%.*s]' (known: [grid], [timing], "
                                "[counters])", where, (int)sl, sec);
            snprintf(section, sizeof section, "%.*s", (int)sl, sec);
            continue;
        }
        const char *eq = memchr(line, '=', len);
        if (!eq)
            return qb_error(QB_ERR_ARG, "%s: expected 'key = value' or '[section]', got '%.*s'", where,
                            (int)len, line);
        size_t kl = (size_t)(eq - line);
        const char *key = trim(line, &kl);
        int k = -1;
        for (int i = 0; i < QB_SK_COUNT; i++)
            if (strlen(keys[i].name) == kl && strncmp(keys[i].name, key, kl) == 0) k = i;
        char known[512];
        if (k < 0) {
            if (!section[0])
                return qb_error(QB_ERR_ARG, "%s: unknown key '%.*s' (keys go under [grid], [timing] "
                                "or [counters])", where, (int)kl, key);
            return qb_error(QB_ERR_ARG, "%s: unknown key '%.*s' in [%s] (known: %s)", where, (int)kl,
                            key, section, section_keys(section, known, sizeof known));
        }
        if (strcmp(keys[k].section, section) != 0)
            return qb_error(QB_ERR_ARG, "%s: key '%s' belongs in [%s]%s%s%s", where, keys[k].name,
                            keys[k].section, section[0] ? ", not [" : "", section,
                            section[0] ? "]" : "");
        if (set_line[k])
            return qb_error(QB_ERR_ARG, "%s: '%s' is already set at line %d", where, keys[k].name,
                            set_line[k]);
        set_line[k] = lineno;
        char *value = strndup(eq + 1, (size_t)(line + len - (eq + 1)));
        if (!value) return qb_error(QB_ERR_NOMEM, "out of memory");
        qb_status st = set_key(s, (qb_spec_key)k, value, where);
        free(value);
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

/* ---- resolution ---- */

static int list_has(const qb_strlist *l, const char *item)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->items[i], item) == 0) return 1;
    return 0;
}

static qb_status replace_list(qb_spec *s, qb_spec_key k, qb_strlist *l)
{
    list_free(&s->list[k]);
    s->list[k] = *l;
    l->items = NULL;
    l->n = 0;
    return QB_OK;
}

static qb_status check_unique(const qb_spec *s, qb_spec_key k)
{
    const qb_strlist *l = &s->list[k];
    for (int i = 0; i < l->n; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(l->items[i], l->items[j]) == 0)
                return qb_error(QB_ERR_ARG, "%s: %s: '%s' is listed twice", s->origin[k], keys[k].name,
                                l->items[i]);
    return QB_OK;
}

typedef qb_status (*check_fn)(const char *what, const char *value);

static qb_status check_each(const qb_spec *s, qb_spec_key k, check_fn fn)
{
    char what[400];
    snprintf(what, sizeof what, "%s: %s", s->origin[k], keys[k].name);
    for (int i = 0; i < s->list[k].n; i++) {
        qb_status st = fn(what, s->list[k].items[i]);
        if (st != QB_OK) return st;
    }
    return check_unique(s, k);
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

/* Schemes and weight bits together: each scheme runs at the listed widths it
 * takes. Schemes from `all` that take none of them are dropped; a scheme the
 * user named that takes none is an error. */
static qb_status resolve_schemes_wbits(qb_spec *s)
{
    int from_all = only_item(&s->list[QB_SK_SCHEMES], "all");
    int all_bits = only_item(&s->list[QB_SK_WBITS], "all");
    qb_strlist schemes = {0}, bits = {0};
    qb_status st = QB_OK;
    int listed[64], nlisted = 0;
    if (!all_bits) {
        char what[400];
        snprintf(what, sizeof what, "%s: wbits", s->origin[QB_SK_WBITS]);
        for (int i = 0; i < s->list[QB_SK_WBITS].n && st == QB_OK; i++) {
            long b;
            st = qb_parse_int(what, s->list[QB_SK_WBITS].items[i], 1, 32, &b);
            if (st == QB_OK && nlisted < 64) listed[nlisted++] = (int)b;
        }
        if (st == QB_OK) st = check_unique(s, QB_SK_WBITS);
    }
    if (st == QB_OK && !from_all) st = check_each(s, QB_SK_SCHEMES, check_scheme_name);
    int n = from_all ? qb_vocab_n_schemes() : s->list[QB_SK_SCHEMES].n;
    int used[33] = {0};
    for (int i = 0; i < n && st == QB_OK; i++) {
        const char *name = from_all ? qb_vocab_scheme(i) : s->list[QB_SK_SCHEMES].items[i];
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
        } else if (!from_all) {
            char what[400];
            snprintf(what, sizeof what, "%s: wbits", s->origin[QB_SK_WBITS]);
            char why[600];
            qb_vocab_check_wbits(what, name, listed[0]);
            snprintf(why, sizeof why, "%s", qb_last_error());
            st = qb_error(QB_ERR_ARG, "%s, so it gets no cells; list a width it takes or drop it", why);
        }
    }
    if (st == QB_OK && schemes.n == 0)
        st = qb_error(QB_ERR_ARG, "%s: wbits: no scheme takes these bit widths (see qbench schemes)",
                      s->origin[QB_SK_WBITS]);
    if (st == QB_OK && all_bits) {
        for (int b = 32; b >= 1 && st == QB_OK; b--)
            if (used[b]) st = push_int(&bits, b);
        if (st == QB_OK) replace_list(s, QB_SK_WBITS, &bits);
    }
    if (st == QB_OK) replace_list(s, QB_SK_SCHEMES, &schemes);
    list_free(&schemes);
    list_free(&bits);
    return st;
}

static qb_status resolve_placements(qb_spec *s, const qb_topo *topo)
{
    qb_strlist out = {0};
    qb_status st = QB_OK;
    const qb_strlist *in = &s->list[QB_SK_PLACEMENTS];
    char what[400];
    snprintf(what, sizeof what, "%s: placements", s->origin[QB_SK_PLACEMENTS]);
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
    if (st == QB_OK) replace_list(s, QB_SK_PLACEMENTS, &out);
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

qb_status qb_spec_resolve(qb_spec *s, const qb_workload_set *models, const qb_topo *topo)
{
    qb_status st;
    char what[400];
    snprintf(what, sizeof what, "%s: models", s->origin[QB_SK_MODELS]);
    for (int i = 0; i < s->list[QB_SK_MODELS].n; i++)
        if ((st = check_model(models, what, s->list[QB_SK_MODELS].items[i])) != QB_OK) return st;
    if ((st = check_unique(s, QB_SK_MODELS)) != QB_OK) return st;
    if ((st = resolve_schemes_wbits(s)) != QB_OK) return st;
    if ((st = check_each(s, QB_SK_ABITS, check_abits)) != QB_OK) return st;
    if ((st = check_each(s, QB_SK_GRANULARITY, qb_vocab_check_granularity)) != QB_OK) return st;
    if ((st = check_each(s, QB_SK_CALIB, qb_vocab_check_calib)) != QB_OK) return st;
    if ((st = check_each(s, QB_SK_CORRECTION, qb_vocab_check_correction)) != QB_OK) return st;
    if ((st = check_each(s, QB_SK_POLICY, qb_vocab_check_policy)) != QB_OK) return st;
    if ((st = check_each(s, QB_SK_BACKEND, check_backend)) != QB_OK) return st;
    if ((st = check_each(s, QB_SK_SCENARIOS, check_scenario)) != QB_OK) return st;
    if ((st = resolve_placements(s, topo)) != QB_OK) return st;
    if (only_item(&s->list[QB_SK_EVENTS], "none")) {
        list_free(&s->list[QB_SK_EVENTS]);
    } else if ((st = check_each(s, QB_SK_EVENTS, check_event)) != QB_OK) {
        return st;
    }
    s->resolved = 1;
    return QB_OK;
}

int qb_spec_int(const qb_spec *s, qb_spec_key k) { return atoi(s->list[k].items[0]); }
double qb_spec_double(const qb_spec *s, qb_spec_key k) { return atof(s->list[k].items[0]); }
const qb_strlist *qb_spec_list(const qb_spec *s, qb_spec_key k) { return &s->list[k]; }

char *qb_spec_canonical(const qb_spec *s)
{
    size_t cap = 256, len = 0;
    for (int k = 0; k < QB_SK_COUNT; k++) {
        cap += strlen(keys[k].name) + 16;
        for (int i = 0; i < s->list[k].n; i++) cap += strlen(s->list[k].items[i]) + 2;
    }
    char *out = qb_malloc(cap, 1);
    if (!out) return NULL;
    const char *section = "";
    for (int k = 0; k < QB_SK_COUNT; k++) {
        if (strcmp(section, keys[k].section) != 0) {
            section = keys[k].section;
            len += (size_t)snprintf(out + len, cap - len, "[%s]\n", section);
        }
        len += (size_t)snprintf(out + len, cap - len, "%s = ", keys[k].name);
        if (s->list[k].n == 0) len += (size_t)snprintf(out + len, cap - len, "none");
        for (int i = 0; i < s->list[k].n; i++)
            len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? ", " : "", s->list[k].items[i]);
        len += (size_t)snprintf(out + len, cap - len, "\n");
    }
    return out;
}

void qb_spec_hash(const qb_spec *s, char out[17])
{
    char *text = qb_spec_canonical(s);
    snprintf(out, 17, "%016llx", text ? (unsigned long long)qb_fnv1a64(text) : 0ULL);
    free(text);
}
