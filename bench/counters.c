/* PAPI event sets per pool thread and qbench's Software Defined Events
 * (see counters.h). */
#include "counters.h"

#include <papi.h>
#include <pthread.h>
#include <sde_lib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "workcount.h"

#define MAX_EVENTS 64
#define REASON_LEN 200

const char *const qb_sde_events[3] = {"sde:::qbench::macs", "sde:::qbench::weight_bytes",
                                      "sde:::qbench::requantized"};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc; /* PAPI_OK or the PAPI error of the library init */
static char init_where[64];

static long long read_work(void *param)
{
    return qb_work_read((qb_work_kind)(long)param);
}

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LSAN_OFF() __lsan_disable()
#define LSAN_ON() __lsan_enable()
#else
#define LSAN_OFF()
#define LSAN_ON()
#endif

static void register_sde(void)
{
    static const char *desc[QB_WORK_COUNT] = {
        "multiply-accumulates done by qbench's kernels and fp32 engine",
        "bytes of (packed) weights read by qbench's kernels",
        "output elements requantized to the next layer's input"};
    /* libsde keeps the registered names for the life of the process in a
     * way LeakSanitizer cannot see through */
    LSAN_OFF();
    papi_handle_t h = papi_sde_init("qbench");
    for (int k = 0; k < QB_WORK_COUNT; k++) {
        papi_sde_register_counter_cb(h, qb_work_name((qb_work_kind)k), PAPI_SDE_RO | PAPI_SDE_DELTA,
                                     PAPI_SDE_long_long, read_work, (void *)(long)k);
        papi_sde_describe_counter(h, qb_work_name((qb_work_kind)k), desc[k]);
    }
    LSAN_ON();
}

static void do_init(void)
{
    register_sde();
    int v = PAPI_library_init(PAPI_VER_CURRENT);
    if (v != PAPI_VER_CURRENT) {
        init_rc = v < 0 ? v : PAPI_EINVAL;
        snprintf(init_where, sizeof init_where, "PAPI_library_init");
        return;
    }
    int r = PAPI_thread_init(pthread_self);
    if (r != PAPI_OK) {
        init_rc = r;
        snprintf(init_where, sizeof init_where, "PAPI_thread_init");
    }
}

qb_status qb_counters_library_init(void)
{
    pthread_once(&init_once, do_init);
    if (init_rc != PAPI_OK)
        return qb_error(QB_ERR_UNSUPPORTED, "%s: %s", init_where, PAPI_strerror(init_rc));
    return QB_OK;
}

/* Reason text without ';' (the counter_status separator). */
static void clean(char *s)
{
    for (; *s; s++)
        if (*s == ';' || *s == '\n') *s = ',';
}

/* PAPI's message for `rc`, plus the reason the event's component is
 * disabled (presets live in the CPU component, index 0). */
static void explain(int rc, int code, int have_code, char *out, size_t len)
{
    const char *msg = PAPI_strerror(rc);
    int n = snprintf(out, len, "%s", msg ? msg : "unknown PAPI error");
    int cidx = -1;
    if (have_code) cidx = (code & PAPI_PRESET_MASK) ? 0 : PAPI_get_event_component(code);
    const PAPI_component_info_t *ci = cidx >= 0 ? PAPI_get_component_info(cidx) : NULL;
    if (ci && ci->disabled && n > 0 && (size_t)n < len)
        snprintf(out + n, len - (size_t)n, " (%s: %s)", ci->name, ci->disabled_reason);
    clean(out);
}

static int is_sde(int code)
{
    if (code & PAPI_PRESET_MASK) return 0;
    int cidx = PAPI_get_event_component(code);
    const PAPI_component_info_t *ci = cidx >= 0 ? PAPI_get_component_info(cidx) : NULL;
    return ci && strcmp(ci->name, "sde") == 0;
}

/* PAPI's SDE component accepts any name under a library as a placeholder
 * (a counter registered later), so a misspelt qbench event would read 0:
 * names under sde:::qbench:: must be ones qbench registers. */
static int unknown_qbench_sde(const char *event, char *reason, size_t len)
{
    static const char prefix[] = "sde:::qbench::";
    if (strncmp(event, prefix, sizeof prefix - 1) != 0) return 0;
    for (int k = 0; k < QB_WORK_COUNT; k++)
        if (strcmp(event + sizeof prefix - 1, qb_work_name((qb_work_kind)k)) == 0) return 0;
    snprintf(reason, len, "not a qbench SDE counter (qbench registers %s%s, %s%s, %s%s)", prefix,
             qb_work_name(QB_WORK_MACS), prefix, qb_work_name(QB_WORK_WEIGHT_BYTES), prefix,
             qb_work_name(QB_WORK_REQUANT));
    return 1;
}

int qb_counters_probe(const char *event, char *reason, size_t len)
{
    if (unknown_qbench_sde(event, reason, len)) return 0;
    if (qb_counters_library_init() != QB_OK) {
        snprintf(reason, len, "%s", qb_last_error());
        clean(reason);
        return 0;
    }
    int code, es = PAPI_NULL, rc;
    if ((rc = PAPI_event_name_to_code(event, &code)) != PAPI_OK) {
        explain(rc, 0, 0, reason, len);
        return 0;
    }
    if ((rc = PAPI_create_eventset(&es)) == PAPI_OK) {
        rc = PAPI_add_event(es, code);
        PAPI_cleanup_eventset(es);
        PAPI_destroy_eventset(&es);
    }
    if (rc != PAPI_OK) {
        explain(rc, code, 1, reason, len);
        return 0;
    }
    reason[0] = '\0';
    return 1;
}

typedef struct {
    int eventset;        /* PAPI_NULL when the thread has nothing to count */
    int slot[MAX_EVENTS]; /* event index -> position in this set, or -1 */
    int n;
    long long values[MAX_EVENTS];
    int rc;              /* first PAPI error on this thread */
} thread_set;

struct qb_counters {
    qb_pool *pool;
    int n;
    char *name[MAX_EVENTS];
    int code[MAX_EVENTS];
    int ok[MAX_EVENTS];     /* counted in every thread that should */
    int sde[MAX_EVENTS];
    char reason[MAX_EVENTS][REASON_LEN];
    thread_set *threads;    /* [pool size] */
    int nthreads;
    char *status;
};

/* Builds the calling thread's event set: every countable event on thread 0,
 * only per-thread (non-SDE) events on the others. */
static void build_set(qb_counters *c, int tid)
{
    thread_set *t = &c->threads[tid];
    t->eventset = PAPI_NULL;
    for (int i = 0; i < c->n; i++) t->slot[i] = -1;
    if (PAPI_register_thread() != PAPI_OK) return;
    int rc = PAPI_create_eventset(&t->eventset);
    if (rc != PAPI_OK) {
        t->rc = rc;
        t->eventset = PAPI_NULL;
        return;
    }
    for (int i = 0; i < c->n; i++) {
        if (!c->ok[i] || (tid != 0 && c->sde[i])) continue;
        rc = PAPI_add_event(t->eventset, c->code[i]);
        if (rc != PAPI_OK) {
            if (tid == 0) { /* thread 0 decides what is countable */
                c->ok[i] = 0;
                explain(rc, c->code[i], 1, c->reason[i], REASON_LEN);
            } else if (!t->rc) {
                t->rc = rc;
            }
            continue;
        }
        t->slot[i] = t->n++;
    }
}

static void task_build(void *ctx, int tid, int nt)
{
    (void)nt;
    qb_counters *c = ctx;
    if (tid != 0) build_set(c, tid);
}

static void task_start(void *ctx, int tid, int nt)
{
    (void)nt;
    thread_set *t = &((qb_counters *)ctx)->threads[tid];
    if (t->eventset == PAPI_NULL || t->n == 0) return;
    int rc = PAPI_start(t->eventset);
    if (rc != PAPI_OK && !t->rc) t->rc = rc;
}

static void task_stop(void *ctx, int tid, int nt)
{
    (void)nt;
    thread_set *t = &((qb_counters *)ctx)->threads[tid];
    if (t->eventset == PAPI_NULL || t->n == 0) return;
    int rc = PAPI_stop(t->eventset, t->values);
    if (rc != PAPI_OK && !t->rc) t->rc = rc;
}

static void task_destroy(void *ctx, int tid, int nt)
{
    (void)nt;
    thread_set *t = &((qb_counters *)ctx)->threads[tid];
    if (t->eventset == PAPI_NULL) return;
    PAPI_cleanup_eventset(t->eventset);
    PAPI_destroy_eventset(&t->eventset);
    if (tid != 0) PAPI_unregister_thread();
}

qb_status qb_counters_create(qb_counters **out, const char *const *events, int n, qb_pool *pool)
{
    *out = NULL;
    if (n > MAX_EVENTS) return qb_error(QB_ERR_ARG, "at most %d events, got %d", MAX_EVENTS, n);
    qb_counters *c = qb_calloc(1, sizeof *c);
    if (!c) return QB_ERR_NOMEM;
    c->pool = pool;
    c->n = n;
    c->nthreads = qb_pool_size(pool);
    c->threads = qb_calloc((size_t)c->nthreads, sizeof *c->threads);
    if (!c->threads) {
        free(c);
        return QB_ERR_NOMEM;
    }
    for (int t = 0; t < c->nthreads; t++) c->threads[t].eventset = PAPI_NULL;
    int lib_ok = qb_counters_library_init() == QB_OK;
    for (int i = 0; i < n; i++) {
        c->name[i] = strdup(events[i]);
        if (!c->name[i]) {
            qb_counters_free(c);
            return qb_error(QB_ERR_NOMEM, "out of memory");
        }
        if (!lib_ok) {
            snprintf(c->reason[i], REASON_LEN, "%s", qb_last_error());
            clean(c->reason[i]);
            continue;
        }
        if (unknown_qbench_sde(events[i], c->reason[i], REASON_LEN)) continue;
        int rc = PAPI_event_name_to_code(events[i], &c->code[i]);
        if (rc != PAPI_OK) {
            explain(rc, 0, 0, c->reason[i], REASON_LEN);
            continue;
        }
        c->ok[i] = 1;
        c->sde[i] = is_sde(c->code[i]);
    }
    if (lib_ok && n > 0) {
        build_set(c, 0);
        qb_pool_run(pool, task_build, c);
    }
    *out = c;
    return QB_OK;
}

qb_status qb_counters_start(qb_counters *c)
{
    if (c->n == 0) return QB_OK;
    for (int t = 0; t < c->nthreads; t++) memset(c->threads[t].values, 0, sizeof c->threads[t].values);
    qb_pool_run(c->pool, task_start, c);
    return QB_OK;
}

qb_status qb_counters_stop(qb_counters *c)
{
    if (c->n == 0) return QB_OK;
    qb_pool_run(c->pool, task_stop, c);
    /* A thread that failed makes its events' sums incomplete. */
    for (int t = 0; t < c->nthreads; t++) {
        int rc = c->threads[t].rc;
        if (!rc) continue;
        for (int i = 0; i < c->n; i++)
            if (c->ok[i] && (t == 0 || !c->sde[i])) {
                c->ok[i] = 0;
                char why[REASON_LEN - 40];
                explain(rc, c->code[i], 1, why, sizeof why);
                snprintf(c->reason[i], REASON_LEN, "thread %d: %s", t, why);
            }
    }
    return QB_OK;
}

int qb_counters_n(const qb_counters *c) { return c->n; }

int qb_counters_value(const qb_counters *c, int i, long long *v)
{
    if (i < 0 || i >= c->n || !c->ok[i]) return 0;
    long long sum = 0;
    for (int t = 0; t < c->nthreads; t++) {
        int s = c->threads[t].slot[i];
        if (s >= 0) sum += c->threads[t].values[s];
    }
    *v = sum;
    return 1;
}

const char *qb_counters_status(const qb_counters *c)
{
    free(((qb_counters *)c)->status);
    size_t cap = 16 + (size_t)c->n * (REASON_LEN + 80), len = 0;
    char *s = malloc(cap);
    if (!s) return "out of memory";
    s[0] = '\0';
    for (int i = 0; i < c->n; i++)
        if (!c->ok[i])
            len += (size_t)snprintf(s + len, cap - len, "%s%s: %s", len ? "; " : "", c->name[i],
                                    c->reason[i]);
    if (len == 0) snprintf(s, cap, "ok");
    ((qb_counters *)c)->status = s;
    return s;
}

void qb_counters_free(qb_counters *c)
{
    if (!c) return;
    if (c->threads && c->pool) {
        qb_pool_run(c->pool, task_destroy, c);
    }
    for (int i = 0; i < c->n; i++) free(c->name[i]);
    free(c->threads);
    free(c->status);
    free(c);
}

void qb_papi_describe(char *version, size_t vlen, char *components, size_t clen)
{
    int v = PAPI_VER_CURRENT;
    components[0] = '\0';
    qb_status st = qb_counters_library_init();
    if (st == QB_OK) v = PAPI_get_opt(PAPI_LIB_VERSION, NULL);
    snprintf(version, vlen, "%d.%d.%d.%d", PAPI_VERSION_MAJOR(v), PAPI_VERSION_MINOR(v),
             PAPI_VERSION_REVISION(v), PAPI_VERSION_INCREMENT(v));
    if (st != QB_OK) {
        snprintf(components, clen, "unavailable (%s)", qb_last_error());
        clean(components);
        return;
    }
    size_t len = 0;
    int n = PAPI_num_components();
    for (int i = 0; i < n && len < clen; i++) {
        const PAPI_component_info_t *ci = PAPI_get_component_info(i);
        if (!ci) continue;
        char reason[sizeof ci->disabled_reason];
        snprintf(reason, sizeof reason, "%s", ci->disabled_reason);
        clean(reason);
        if (ci->disabled)
            len += (size_t)snprintf(components + len, clen - len, "%s%s:disabled (%s)", len ? ";" : "",
                                    ci->name, reason);
        else
            len += (size_t)snprintf(components + len, clen - len, "%s%s:enabled", len ? ";" : "",
                                    ci->name);
    }
}
