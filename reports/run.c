/* Run folders into memory (see run.h). Columns are mapped by a table, so a
 * new column in the schema is one line here; unknown columns are ignored. */
#include "run.h"

#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { COL_STR, COL_INT, COL_DBL } col_kind;

typedef struct {
    const char *name;
    col_kind kind;
    size_t offset;   /* into qb_result */
    int required;
} col_spec;

#define STR(f, req) {#f, COL_STR, offsetof(qb_result, f), req}
#define INT(f, req) {#f, COL_INT, offsetof(qb_result, f), req}
#define DBL(f) {#f, COL_DBL, offsetof(qb_result, f), 0}

/* results.csv columns qbench reads. Only the ones that identify a cell are
 * required; a missing measurement column reads as "not measured". */
static const col_spec result_cols[] = {
    STR(cell_id, 1), STR(model, 1), STR(scheme, 1), STR(granularity, 0), STR(calib, 0),
    STR(correction, 0), STR(policy, 0), INT(wbits, 1), INT(abits, 1), STR(backend, 0),
    STR(placement, 1), INT(threads, 0), STR(cpuset, 0), STR(scenario, 1), INT(batch, 0),
    STR(status, 1), STR(status_detail, 0), DBL(accuracy), DBL(fp32_accuracy), DBL(drop_pp),
    DBL(drop_ci_low), DBL(drop_ci_high), DBL(agreement), DBL(kl), DBL(size_bytes),
    DBL(compression), DBL(latency_ms_median), DBL(latency_ms_mad), DBL(latency_ms_ci_low),
    DBL(latency_ms_ci_high), INT(reps, 0), DBL(throughput_ips), DBL(speedup),
    DBL(prep_seconds), DBL(prep_peak_mb), STR(counter_status, 0), DBL(ipc), DBL(gflop_s),
    DBL(gbyte_s),
};



static char *join_path(const char *dir, const char *file)
{
    char *p;
    if (asprintf(&p, "%s/%s", dir, file) < 0) return NULL;
    return p;
}

static qb_status read_file(const qb_run *run, const char *file, int optional,
                           qb_csv_table *t, int *present)
{
    char *path = join_path(run->dir, file);
    if (!path) return qb_error(QB_ERR_NOMEM, "out of memory");
    if (optional && access(path, F_OK) != 0) {
        free(path);
        if (present) *present = 0;
        return QB_OK;
    }
    qb_status s = qb_csv_read(path, t);
    if (s == QB_ERR_IO && !optional)
        qb_error_context(s, "is %s a qbench run folder? (it needs meta.csv and results.csv)",
                         run->dir);
    free(path);
    if (present) *present = s == QB_OK;
    return s;
}

/* Column indices for `names`; a missing one is an error naming the file. */
static qb_status need_columns(const qb_csv_table *t, const char *const *names, int n, int *cols)
{
    for (int i = 0; i < n; i++) {
        cols[i] = qb_csv_column(t, names[i]);
        if (cols[i] < 0)
            return qb_error(QB_ERR_FORMAT, "%s:1: the header has no column '%s'", t->path,
                            names[i]);
    }
    return QB_OK;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int qb_cell_id_parse(const char *s, uint64_t *out)
{
    if (strlen(s) != 16) return -1;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        int d = hexval(s[i]);
        if (d < 0) return -1;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return 0;
}

static qb_status row_id(const qb_csv_table *t, size_t row, int col, uint64_t *id)
{
    const char *s = qb_csv_get(t, row, col);
    if (qb_cell_id_parse(s, id) != 0)
        return qb_csv_error(t, row, "cell_id '%.40s' is not 16 hex digits", s);
    return QB_OK;
}

static size_t slot_of(uint64_t id, size_t mask)
{
    id ^= id >> 31;
    id *= 0x9E3779B97F4A7C15ull;
    return (size_t)(id >> 17) & mask;
}

const qb_result *qb_run_find(const qb_run *run, uint64_t id)
{
    if (!run->index) return NULL;
    for (size_t s = slot_of(id, run->index_mask);; s = (s + 1) & run->index_mask) {
        uint32_t v = run->index[s];
        if (v == 0) return NULL;
        if (run->results[v - 1].id == id) return &run->results[v - 1];
    }
}

static qb_status build_index(qb_run *run)
{
    size_t cap = 16;
    while (cap < 2 * run->n_results) cap *= 2;
    run->index = calloc(cap, sizeof *run->index);
    if (!run->index) return qb_error(QB_ERR_NOMEM, "out of memory indexing the cells");
    run->index_mask = cap - 1;
    for (size_t i = 0; i < run->n_results; i++) {
        const qb_result *r = &run->results[i];
        const qb_result *dup = qb_run_find(run, r->id);
        if (dup)
            return qb_csv_error(&run->results_t, i, "cell %s appears twice (also on line %zu); "
                                "merge or resume went wrong", r->cell_id, dup->line);
        size_t s = slot_of(r->id, run->index_mask);
        while (run->index[s]) s = (s + 1) & run->index_mask;
        run->index[s] = (uint32_t)(i + 1);
    }
    return QB_OK;
}

static qb_status load_meta(qb_run *run)
{
    qb_status s = read_file(run, "meta.csv", 0, &run->meta_t, NULL);
    if (s != QB_OK) return s;
    const qb_csv_table *t = &run->meta_t;
    static const char *const names[] = {"key", "value"};
    int cols[2] = {0};
    if ((s = need_columns(t, names, 2, cols)) != QB_OK) return s;
    run->n_meta = t->nrows;
    run->meta_key = malloc((t->nrows + 1) * sizeof *run->meta_key);
    run->meta_value = malloc((t->nrows + 1) * sizeof *run->meta_value);
    if (!run->meta_key || !run->meta_value) return qb_error(QB_ERR_NOMEM, "out of memory");
    long long version = -1;
    for (size_t i = 0; i < t->nrows; i++) {
        run->meta_key[i] = qb_csv_get(t, i, cols[0]);
        run->meta_value[i] = qb_csv_get(t, i, cols[1]);
        if (strcmp(run->meta_key[i], "schema_version") == 0) {
            if ((s = qb_csv_long(t, i, cols[1], -1, &version)) != QB_OK) return s;
            if (version > QB_SCHEMA_VERSION)
                return qb_error(QB_ERR_UNSUPPORTED, "%s:%zu: schema_version %lld is newer than "
                                "this qbench reads (%d); read this run with a newer qbench",
                                t->path, t->line[i], version, QB_SCHEMA_VERSION);
            if (version < 1)
                return qb_csv_error(t, i, "schema_version must be 1 or more, got %lld", version);
        }
    }
    if (version < 0)
        return qb_error(QB_ERR_FORMAT, "%s: no schema_version row; the run folder was not "
                        "written by qbench sweep or is incomplete", t->path);
    run->schema_version = (int)version;
    return QB_OK;
}

static qb_status load_results(qb_run *run)
{
    qb_status s = read_file(run, "results.csv", 0, &run->results_t, NULL);
    if (s != QB_OK) return s;
    const qb_csv_table *t = &run->results_t;
    enum { NCOLS = (int)QB_ARRAY_LEN(result_cols) };
    int cols[NCOLS];
    for (int c = 0; c < NCOLS; c++) {
        cols[c] = qb_csv_column(t, result_cols[c].name);
        if (cols[c] < 0 && result_cols[c].required)
            return qb_error(QB_ERR_FORMAT, "%s:1: the header has no column '%s'", t->path,
                            result_cols[c].name);
    }
    run->n_results = t->nrows;
    run->results = qb_calloc(t->nrows ? t->nrows : 1, sizeof *run->results);
    if (!run->results) return QB_ERR_NOMEM;
    for (size_t i = 0; i < t->nrows; i++) {
        qb_result *r = &run->results[i];
        char *base = (char *)r;
        for (int c = 0; c < NCOLS; c++) {
            void *dst = base + result_cols[c].offset;
            if (result_cols[c].kind == COL_STR)
                *(const char **)dst = qb_csv_get(t, i, cols[c]);
            else if (result_cols[c].kind == COL_INT)
                s = qb_csv_long(t, i, cols[c], -1, (long long *)dst);
            else
                s = qb_csv_double(t, i, cols[c], (double *)dst);
            if (s != QB_OK) return s;
        }
        r->line = t->line[i];
        if ((s = row_id(t, i, cols[0], &r->id)) != QB_OK) return s;
    }
    /* Counter columns are discovered: whatever the spec asked for. */
    run->counter_names = malloc(((size_t)t->ncols + 1) * sizeof *run->counter_names);
    if (!run->counter_names) return qb_error(QB_ERR_NOMEM, "out of memory");
    int ctr_cols[t->ncols > 0 ? t->ncols : 1];
    for (int c = 0; c < t->ncols; c++)
        if (strncmp(t->header[c], "ctr:", 4) == 0) {
            ctr_cols[run->n_counters] = c;
            run->counter_names[run->n_counters++] = t->header[c];
        }
    run->counters = qb_malloc(t->nrows * (size_t)run->n_counters + 1, sizeof *run->counters);
    if (!run->counters) return QB_ERR_NOMEM;
    for (size_t i = 0; i < t->nrows; i++)
        for (int k = 0; k < run->n_counters; k++)
            if ((s = qb_csv_double(t, i, ctr_cols[k], &run->counters[i * (size_t)run->n_counters + (size_t)k])) != QB_OK)
                return s;
    return build_index(run);
}

/* samples.csv: every timed repetition, grouped by cell in file order.
 * Samples of a cell that has no results row (a sweep killed between the
 * two writes) are ignored. */
static qb_status load_samples(qb_run *run)
{
    qb_status s = read_file(run, "samples.csv", 1, &run->samples_t, &run->has_samples);
    if (s != QB_OK || !run->has_samples) return s;
    const qb_csv_table *t = &run->samples_t;
    static const char *const names[] = {"cell_id", "rep", "latency_ms"};
    int cols[3] = {0};
    if ((s = need_columns(t, names, 3, cols)) != QB_OK) return s;
    uint32_t *owner = qb_malloc(t->nrows + 1, sizeof *owner);
    size_t *next = qb_calloc(run->n_results + 1, sizeof *next);
    run->sample_store = qb_malloc(t->nrows + 1, sizeof *run->sample_store);
    if (!owner || !next || !run->sample_store) {
        s = QB_ERR_NOMEM;
        goto done;
    }
    const char *prev = NULL; /* a cell's samples are usually adjacent: look up once */
    for (size_t i = 0; i < t->nrows; i++) {
        const char *text = qb_csv_get(t, i, cols[0]);
        if (prev && strcmp(text, prev) == 0) {
            owner[i] = owner[i - 1];
        } else {
            uint64_t id;
            if ((s = row_id(t, i, cols[0], &id)) != QB_OK) goto done;
            const qb_result *r = qb_run_find(run, id);
            owner[i] = r ? (uint32_t)(r - run->results) + 1 : 0;
            prev = text;
        }
        if (owner[i]) run->results[owner[i] - 1].n_samples++;
    }
    size_t off = 0;
    for (size_t k = 0; k < run->n_results; k++) {
        run->results[k].samples = run->sample_store + off;
        next[k] = off;
        off += run->results[k].n_samples;
    }
    for (size_t i = 0; i < t->nrows; i++) {
        if (!owner[i]) continue;
        double v;
        if ((s = qb_csv_double(t, i, cols[2], &v)) != QB_OK) goto done;
        if (!(v >= 0)) {
            s = qb_csv_error(t, i, "latency_ms must be a time of 0 or more, got '%s'",
                             qb_csv_get(t, i, cols[2]));
            goto done;
        }
        run->sample_store[next[owner[i] - 1]++] = v;
    }
done:
    free(owner);
    free(next);
    return s;
}

/* outcomes.csv: per-image correctness bits for paired accuracy tests. */
static qb_status load_outcomes(qb_run *run)
{
    qb_status s = read_file(run, "outcomes.csv", 1, &run->outcomes_t, &run->has_outcomes);
    if (s != QB_OK || !run->has_outcomes) return s;
    const qb_csv_table *t = &run->outcomes_t;
    static const char *const names[] = {"cell_id", "n", "correct_hex"};
    int cols[3] = {0};
    if ((s = need_columns(t, names, 3, cols)) != QB_OK) return s;
    size_t total = 0;
    for (size_t i = 0; i < t->nrows; i++) total += strlen(qb_csv_get(t, i, cols[2])) / 2 + 1;
    run->outcome_store = qb_malloc(total + 1, 1);
    if (!run->outcome_store) return QB_ERR_NOMEM;
    uint8_t *dst = run->outcome_store;
    for (size_t i = 0; i < t->nrows; i++) {
        uint64_t id;
        long long n;
        if ((s = row_id(t, i, cols[0], &id)) != QB_OK) return s;
        if ((s = qb_csv_long(t, i, cols[1], -1, &n)) != QB_OK) return s;
        const char *hex = qb_csv_get(t, i, cols[2]);
        size_t len = strlen(hex);
        if (n < 0 || len != (size_t)(n + 7) / 8 * 2)
            return qb_csv_error(t, i, "correct_hex has %zu hex digits; n = %lld images needs %lld",
                                len, n, n < 0 ? 0 : (n + 7) / 8 * 2);
        for (size_t k = 0; k < len / 2; k++) {
            int hi = hexval(hex[2 * k]), lo = hexval(hex[2 * k + 1]);
            if (hi < 0 || lo < 0)
                return qb_csv_error(t, i, "correct_hex has a non-hex character at position %zu",
                                    2 * k + (hi < 0 ? 0 : 1));
            dst[k] = (uint8_t)(hi << 4 | lo);
        }
        qb_result *r = (qb_result *)qb_run_find(run, id);
        if (r) {
            r->outcomes = dst;
            r->n_outcomes = n;
        }
        dst += len / 2;
    }
    return QB_OK;
}

static qb_status load_layers(qb_run *run)
{
    qb_status s = read_file(run, "layers.csv", 1, &run->layers_t, &run->has_layers);
    if (s != QB_OK || !run->has_layers) return s;
    const qb_csv_table *t = &run->layers_t;
    static const char *const names[] = {"cell_id", "model", "layer_index", "layer", "kind",
                                        "wbits", "abits", "weight_sqnr_db", "act_sqnr_db",
                                        "sensitivity_pp"};
    int c[10] = {0};
    if ((s = need_columns(t, names, 10, c)) != QB_OK) return s;
    run->n_layers = t->nrows;
    run->layers = qb_calloc(t->nrows + 1, sizeof *run->layers);
    if (!run->layers) return QB_ERR_NOMEM;
    for (size_t i = 0; i < t->nrows; i++) {
        qb_layer *l = &run->layers[i];
        l->cell_id = qb_csv_get(t, i, c[0]);
        l->model = qb_csv_get(t, i, c[1]);
        l->layer = qb_csv_get(t, i, c[3]);
        l->kind = qb_csv_get(t, i, c[4]);
        if ((s = qb_csv_long(t, i, c[2], -1, &l->layer_index)) != QB_OK ||
            (s = qb_csv_long(t, i, c[5], -1, &l->wbits)) != QB_OK ||
            (s = qb_csv_long(t, i, c[6], -1, &l->abits)) != QB_OK ||
            (s = qb_csv_double(t, i, c[7], &l->weight_sqnr_db)) != QB_OK ||
            (s = qb_csv_double(t, i, c[8], &l->act_sqnr_db)) != QB_OK ||
            (s = qb_csv_double(t, i, c[9], &l->sensitivity_pp)) != QB_OK)
            return s;
    }
    return QB_OK;
}

qb_status qb_run_load(const char *dir, qb_run *run)
{
    memset(run, 0, sizeof *run);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    run->dir = strndup(dir, n);
    if (!run->dir) return qb_error(QB_ERR_NOMEM, "out of memory");
    qb_status s;
    if ((s = load_meta(run)) != QB_OK || (s = load_results(run)) != QB_OK ||
        (s = load_samples(run)) != QB_OK || (s = load_outcomes(run)) != QB_OK ||
        (s = load_layers(run)) != QB_OK) {
        qb_run_free(run);
        return s;
    }
    return QB_OK;
}

typedef struct {
    const char *dir;
    qb_run *run;
    qb_status status;
    char message[1024];
} load_job;

static void *load_thread(void *arg)
{
    load_job *j = arg;
    j->status = qb_run_load(j->dir, j->run);
    if (j->status != QB_OK) snprintf(j->message, sizeof j->message, "%s", qb_last_error());
    return NULL;
}

qb_status qb_run_load_pair(const char *dir_a, qb_run *a, const char *dir_b, qb_run *b)
{
    load_job job = {dir_b, b, QB_OK, ""};
    pthread_t t;
    int threaded = pthread_create(&t, NULL, load_thread, &job) == 0;
    if (!threaded) load_thread(&job);
    qb_status s = qb_run_load(dir_a, a);
    if (threaded) pthread_join(t, NULL);
    if (s != QB_OK) {
        if (job.status == QB_OK) qb_run_free(b);
        return s;
    }
    if (job.status != QB_OK) {
        qb_run_free(a);
        return qb_error(job.status, "%s", job.message); /* the message was the thread's */
    }
    return QB_OK;
}

void qb_run_free(qb_run *run)
{
    free(run->dir);
    free(run->meta_key);
    free(run->meta_value);
    free(run->results);
    free(run->counter_names);
    free(run->counters);
    free(run->layers);
    free(run->sample_store);
    free(run->outcome_store);
    free(run->index);
    qb_csv_free(&run->meta_t);
    qb_csv_free(&run->results_t);
    qb_csv_free(&run->samples_t);
    qb_csv_free(&run->outcomes_t);
    qb_csv_free(&run->layers_t);
    memset(run, 0, sizeof *run);
}

const char *qb_run_meta(const qb_run *run, const char *key)
{
    for (size_t i = 0; i < run->n_meta; i++)
        if (strcmp(run->meta_key[i], key) == 0) return run->meta_value[i];
    return NULL;
}

double qb_run_counter(const qb_run *run, const qb_result *r, int k)
{
    return run->counters[(size_t)(r - run->results) * (size_t)run->n_counters + (size_t)k];
}

int qb_result_ok(const qb_result *r) { return strcmp(r->status, "ok") == 0; }

int qb_result_is_fp32(const qb_result *r) { return strcmp(r->scheme, "fp32") == 0; }

const char *qb_result_config(const qb_result *r, char *buf, size_t len)
{
    if (qb_result_is_fp32(r)) {
        snprintf(buf, len, "fp32");
        return buf;
    }
    int n = snprintf(buf, len, "%s w%llda%lld", r->scheme, r->wbits, r->abits);
    /* Only the parts that differ from the sweep spec's defaults (README
     * "Sweeps"), to keep labels short: "uniform-sym w4a8 tensor kl". */
    const char *extra[][2] = {{r->granularity, "channel"}, {r->calib, "minmax"},
                              {r->correction, "none"}, {r->policy, "uniform"}};
    for (size_t i = 0; i < QB_ARRAY_LEN(extra) && n > 0 && (size_t)n < len; i++)
        if (*extra[i][0] && strcmp(extra[i][0], extra[i][1]) != 0)
            n += snprintf(buf + n, len - (size_t)n, " %s", extra[i][0]);
    return buf;
}

static const char *const derived_names[] = {"ipc", "gflop_s", "gbyte_s"};

double qb_run_value(const qb_run *run, const qb_result *r, int col)
{
    if (col >= 0) return qb_run_counter(run, r, col);
    return col == -1 ? r->ipc : col == -2 ? r->gflop_s : r->gbyte_s;
}

const char *qb_run_column_name(const qb_run *run, int col)
{
    return col < 0 ? derived_names[-1 - col] : run->counter_names[col] + 4;
}

/* 1 when `name` (a total) has a per-inference sibling `name/inf`. */
static int has_per_inf(const qb_run *run, const char *name)
{
    size_t len = strlen(name);
    for (int j = 0; j < run->n_counters; j++)
        if (strncmp(run->counter_names[j], name, len) == 0 &&
            strcmp(run->counter_names[j] + len, "/inf") == 0)
            return 1;
    return 0;
}

int qb_run_measured(const qb_run *run, int prefer_per_inf, int *cols, int max)
{
    int n = 0;
    /* counters in header order, then the derived metrics */
    for (int k = 0; k < run->n_counters + (int)QB_ARRAY_LEN(derived_names) && n < max; k++) {
        int col = k < run->n_counters ? k : -1 - (k - run->n_counters);
        if (col >= 0 && prefer_per_inf && has_per_inf(run, run->counter_names[col])) continue;
        for (size_t i = 0; i < run->n_results; i++)
            if (!isnan(qb_run_value(run, &run->results[i], col))) {
                cols[n++] = col;
                break;
            }
    }
    return n;
}
