/* One cell: its execution (prepare, evaluate, bind, time under counters) and
 * its isolation in a child process with a timeout (see runner.h). */
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "counters.h"
#include "procmem.h"
#include "timing.h"

void qb_cell_output_free(qb_cell_output *o)
{
    free(o->samples);
    free(o->bits);
    o->samples = NULL;
    o->bits = NULL;
}

void qb_eval_result_clear(qb_eval_result *e)
{
    memset(e, 0, sizeof *e);
    e->accuracy = e->fp32_accuracy = e->drop_pp = e->drop_ci_low = e->drop_ci_high = NAN;
    e->agreement = e->kl = e->compression = NAN;
    e->size_bytes = -1;
}

static void fail(qb_cell_result *r, const char *status, const char *what)
{
    snprintf(r->status, sizeof r->status, "%s", status);
    snprintf(r->detail, sizeof r->detail, "%s: %s", what, qb_last_error());
}

typedef struct {
    const qb_topo *topo;
    const qb_placement *p;
    qb_status status[1024];
    char message[256];
} bind_ctx;

static void bind_thread(void *ctx, int tid)
{
    bind_ctx *b = ctx;
    qb_status s = qb_placement_bind_thread(b->topo, b->p, tid);
    if (tid < 1024) b->status[tid] = s;
    if (s != QB_OK && tid == 0) snprintf(b->message, sizeof b->message, "%s", qb_last_error());
}

typedef struct {
    const qb_workload *w;
    void *state;
    qb_pool *pool;
    int batch;
    qb_counters *ctr;
} timed_ctx;

static qb_status timed_run(void *ctx)
{
    timed_ctx *t = ctx;
    return t->w->run(t->state, t->pool, t->batch);
}
static qb_status timed_begin(void *ctx) { return qb_counters_start(((timed_ctx *)ctx)->ctr); }
static qb_status timed_end(void *ctx) { return qb_counters_stop(((timed_ctx *)ctx)->ctr); }

/* Times run() on a pool bound to the placement, counters around the reps. */
static void time_cell(const qb_cell *c, const qb_workload *w, void *state, const qb_spec *spec,
                      const qb_topo *topo, const qb_placement *pl, qb_cell_output *out)
{
    qb_cell_result *r = &out->r;
    bind_ctx b = {topo, pl, {0}, ""};
    qb_pool *pool = NULL;
    qb_status s = qb_pool_create(&pool, pl->nthreads, bind_thread, &b);
    if (s != QB_OK) {
        fail(r, "error", "thread pool");
        return;
    }
    for (int i = 0; i < pl->nthreads && i < 1024; i++)
        if (b.status[i] != QB_OK) {
            snprintf(r->status, sizeof r->status, "error");
            snprintf(r->detail, sizeof r->detail, "binding threads: %s",
                     b.message[0] ? b.message : "a worker thread could not be bound");
            qb_pool_free(pool);
            return;
        }
    const qb_strlist *ev = qb_spec_list(spec, QB_SK_EVENTS);
    qb_counters *ctr = NULL;
    s = qb_counters_create(&ctr, (const char *const *)ev->items, ev->n, pool);
    if (s != QB_OK) {
        fail(r, "error", "counters");
        qb_pool_free(pool);
        return;
    }
    if (w->setup_run) {
        s = w->setup_run(state, pool, c->batch);
        if (s == QB_ERR_UNSUPPORTED) {
            r->timing_unsupported = 1;
            snprintf(r->detail, sizeof r->detail, "not timed: %s", qb_last_error());
        } else if (s != QB_OK) {
            fail(r, "error", "setting up the timed run");
        }
        if (s != QB_OK) {
            qb_counters_free(ctr);
            qb_pool_free(pool);
            return;
        }
    }
    qb_timing_opts o = {qb_spec_int(spec, QB_SK_WARMUP), qb_spec_int(spec, QB_SK_REPETITIONS),
                        qb_spec_double(spec, QB_SK_MIN_TIME), qb_spec_int(spec, QB_SK_MAX_REPS)};
    if (o.max_reps < o.min_reps) o.max_reps = o.min_reps;
    timed_ctx tc = {w, state, pool, c->batch, ctr};
    qb_timing_hooks hooks = {timed_begin, timed_end, &tc};
    qb_timing t;
    s = qb_time_reps(&o, timed_run, &tc, &hooks, &t);
    if (s == QB_ERR_UNSUPPORTED && t.n == 0) {
        r->timing_unsupported = 1;
        snprintf(r->detail, sizeof r->detail, "not timed: %s", qb_last_error());
    } else if (s != QB_OK) {
        fail(r, "error", "timed run");
    } else {
        r->reps = t.n;
        r->median_ms = t.median_ms;
        r->mad_ms = t.mad_ms;
        r->ci_low_ms = t.ci_low_ms;
        r->ci_high_ms = t.ci_high_ms;
        out->samples = t.ms;
        t.ms = NULL;
        r->n_events = ev->n < QB_MAX_EVENTS ? ev->n : QB_MAX_EVENTS;
        for (int i = 0; i < r->n_events; i++) r->ctr_ok[i] = qb_counters_value(ctr, i, &r->ctr[i]);
        snprintf(r->counter_status, sizeof r->counter_status, "%s", qb_counters_status(ctr));
    }
    qb_timing_free(&t);
    qb_counters_free(ctr);
    qb_pool_free(pool);
}

void qb_cell_execute(const qb_cell *c, const qb_workload *w, const qb_spec *spec,
                     const qb_topo *topo, const qb_group_cache *cache, qb_cell_output *out)
{
    memset(out, 0, sizeof *out);
    qb_cell_result *r = &out->r;
    qb_cell_result_clear(r);
    snprintf(r->status, sizeof r->status, "ok");
    qb_placement pl;
    if (qb_placement_resolve(topo, "placement", c->placement, &pl) != QB_OK) {
        fail(r, "error", "placement");
        return;
    }
    r->threads = pl.nthreads;
    snprintf(r->cpuset, sizeof r->cpuset, "%s", pl.cpuset_list);
    char mem_note[300] = "";
    if (qb_placement_bind_memory(topo, &pl) != QB_OK)
        snprintf(mem_note, sizeof mem_note, "memory not bound: %s", qb_last_error());

    /* Preparation and evaluation use every core, unbound: they are not timed. */
    qb_pool *prep_pool = NULL;
    void *state = NULL;
    if (qb_pool_create(&prep_pool, qb_topo_n_cores(topo), NULL, NULL) != QB_OK) {
        fail(r, "error", "thread pool");
        goto done;
    }
    qb_cost_meter meter;
    qb_cost_start(&meter);
    qb_status s = w->prepare(&c->q, prep_pool, &state);
    double peak_mb;
    qb_cost_stop(&meter, &r->prep_seconds, &peak_mb);
    if (!isnan(peak_mb)) r->prep_peak_mb = peak_mb;
    if (s != QB_OK) {
        fail(r, s == QB_ERR_UNSUPPORTED ? "skipped" : "error", "prepare");
        state = NULL;
        goto done;
    }
    if (cache && cache->have_eval) {
        r->have_eval = 1;
        r->accuracy = cache->eval.accuracy;
        r->fp32_accuracy = cache->eval.fp32_accuracy;
        r->drop_pp = cache->eval.drop_pp;
        r->drop_ci_low = cache->eval.drop_ci_low;
        r->drop_ci_high = cache->eval.drop_ci_high;
        r->agreement = cache->eval.agreement;
        r->kl = cache->eval.kl;
        r->size_bytes = cache->eval.size_bytes;
        r->compression = cache->eval.compression;
        r->n_images = cache->bits ? cache->eval.n_images : 0;
        if (r->n_images) {
            size_t nb = ((size_t)r->n_images + 7) / 8;
            out->bits = malloc(nb);
            if (out->bits) memcpy(out->bits, cache->bits, nb);
            else r->n_images = 0;
        }
    } else if (w->evaluate) {
        qb_eval_result e;
        qb_eval_result_clear(&e);
        s = w->evaluate(state, prep_pool, &e);
        if (s != QB_OK) {
            fail(r, "error", "evaluate");
            goto done;
        }
        qb_cell_result_set_eval(r, &e);
        if (r->n_images > 0) {
            size_t nb = ((size_t)r->n_images + 7) / 8;
            out->bits = malloc(nb);
            if (out->bits) memcpy(out->bits, e.correct, nb);
            else r->n_images = 0;
        }
    }
    qb_pool_free(prep_pool);
    prep_pool = NULL;

    if (cache && cache->timing_unsupported) {
        r->timing_unsupported = 1;
        snprintf(r->detail, sizeof r->detail, "%s", cache->note);
    } else {
        time_cell(c, w, state, spec, topo, &pl, out);
    }
    if (w->flops_per_inference) r->flops_per_inf = w->flops_per_inference(state);
    if (w->bytes_per_inference) r->bytes_per_inf = w->bytes_per_inference(state);
    if (w->backend_name) snprintf(r->backend, sizeof r->backend, "%s", w->backend_name(state));
done:
    if (state) w->release(state);
    qb_pool_free(prep_pool);
    if (mem_note[0] && strcmp(r->status, "ok") == 0 && !r->detail[0])
        snprintf(r->detail, sizeof r->detail, "%s", mem_note);
    qb_placement_free(&pl);
}

/* ---- isolation ---- */

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static void child_main(int fd, const qb_cell *c, const qb_workload *w, const qb_spec *spec,
                       const qb_topo *topo, const qb_group_cache *cache, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* a killed sweep takes its cell with it */
    if (getppid() != parent) _exit(120);
    /* Die of a fault with the signal (whatever handlers the parent had), so
     * the row names it. */
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGPIPE, SIGTERM, SIGINT};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) signal(fatal[i], SIG_DFL);
    qb_cell_output out;
    qb_cell_execute(c, w, spec, topo, cache, &out);
    size_t nb = out.bits ? ((size_t)out.r.n_images + 7) / 8 : 0;
    if (!out.bits) out.r.n_images = 0;
    int rc = write_all(fd, &out.r, sizeof out.r);
    if (rc == 0 && out.r.reps > 0) rc = write_all(fd, out.samples, (size_t)out.r.reps * sizeof(double));
    if (rc == 0 && nb) rc = write_all(fd, out.bits, nb);
    close(fd);
    _exit(rc == 0 ? 0 : 121);
}

static void describe_signal(int sig, char *buf, size_t len)
{
    const char *abbrev = sigabbrev_np(sig);
    snprintf(buf, len, "SIG%s (%s)", abbrev ? abbrev : "?", strsignal(sig));
}

qb_status qb_cell_run_isolated(const qb_cell *c, const qb_workload *w, const qb_spec *spec,
                               const qb_topo *topo, const qb_group_cache *cache, double timeout,
                               qb_cell_output *out)
{
    memset(out, 0, sizeof *out);
    qb_cell_result_clear(&out->r);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return qb_error(QB_ERR_IO, "cannot create a pipe for cell %s (%s)", c->id, strerror(errno));
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return qb_error(QB_ERR_IO, "cannot start a process for cell %s (%s)", c->id, strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(fds[1], c, w, spec, topo, cache, parent);
    }
    close(fds[1]);

    size_t cap = sizeof(qb_cell_result) + 4096, len = 0;
    char *buf = malloc(cap);
    double deadline = qb_now() + timeout;
    int timed_out = 0, eof = 0;
    while (!eof && buf) {
        double left = deadline - qb_now();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd p = {fds[0], POLLIN, 0};
        int pr = poll(&p, 1, (int)(left * 1000) + 1);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) continue;
        if (len == cap) {
            char *b = realloc(buf, cap * 2);
            if (!b) break;
            buf = b;
            cap *= 2;
        }
        ssize_t n = read(fds[0], buf + len, cap - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) eof = 1;
        else len += (size_t)n;
    }
    close(fds[0]);
    int status = 0;
    /* The child closed its pipe; it must still exit before the deadline. */
    while (!timed_out) {
        pid_t wr = waitpid(pid, &status, WNOHANG);
        if (wr == pid) break;
        if (wr < 0 && errno != EINTR) break;
        if (qb_now() > deadline) {
            timed_out = 1;
            break;
        }
        usleep(2000);
    }
    if (timed_out) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    }

    qb_cell_result *r = &out->r;
    int complete = 0;
    if (buf && len >= sizeof *r) {
        const qb_cell_result *m = (const qb_cell_result *)buf;
        size_t ns = m->reps > 0 ? (size_t)m->reps * sizeof(double) : 0;
        size_t nb = m->n_images > 0 ? ((size_t)m->n_images + 7) / 8 : 0;
        if (len == sizeof *r + ns + nb) {
            complete = 1;
            memcpy(r, m, sizeof *r);
            if (ns && (out->samples = malloc(ns))) memcpy(out->samples, buf + sizeof *r, ns);
            if (nb && (out->bits = malloc(nb))) memcpy(out->bits, buf + sizeof *r + ns, nb);
            if ((ns && !out->samples) || (nb && !out->bits)) {
                qb_cell_output_free(out);
                qb_cell_result_clear(r);
                complete = 0;
            }
        }
    }
    free(buf);
    if (!complete) { /* the placement is known without the child */
        qb_placement pl;
        if (qb_placement_resolve(topo, "placement", c->placement, &pl) == QB_OK) {
            out->r.threads = pl.nthreads;
            snprintf(out->r.cpuset, sizeof out->r.cpuset, "%s", pl.cpuset_list);
            qb_placement_free(&pl);
        }
        qb_clear_error();
    }
    char why[256];
    if (timed_out) {
        snprintf(r->status, sizeof r->status, "timeout");
        snprintf(r->detail, sizeof r->detail, "no result within %g s; killed with SIGKILL", timeout);
    } else if (WIFSIGNALED(status)) {
        describe_signal(WTERMSIG(status), why, sizeof why);
        if (!complete) {
            snprintf(r->detail, sizeof r->detail, "%s", why);
        } else {
            snprintf(r->detail, sizeof r->detail, "%s after measuring", why);
        }
        snprintf(r->status, sizeof r->status, "crashed");
    } else if (!complete || WEXITSTATUS(status) != 0) {
        if (complete) { /* reported, then failed: keep nothing of it */
            int threads = r->threads;
            char cpuset[sizeof r->cpuset];
            memcpy(cpuset, r->cpuset, sizeof cpuset);
            qb_cell_output_free(out);
            qb_cell_result_clear(r);
            r->threads = threads;
            memcpy(r->cpuset, cpuset, sizeof cpuset);
        }
        snprintf(r->status, sizeof r->status, "crashed");
        snprintf(r->detail, sizeof r->detail, "exited with status %d before reporting",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    return QB_OK;
}
