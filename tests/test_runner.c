/* Tests for the sweep runner and the run folder: crash and timeout
 * isolation, the files a sweep writes (read back through libcsv), SIGKILL at
 * many points followed by --resume, repair of cut rows, refusal of another
 * spec's folder, unwritable output, and merging shards. */
#include "qb_test.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_workloads.h"
#include "csvio.h"
#include "grid.h"
#include "merge.h"
#include "results.h"
#include "runfolder.h"
#include "meta.h"
#include "runner.h"
#include "spec.h"
#include "strset.h"
#include "topo.h"

typedef struct {
    qb_topo *topo;
    qb_spec spec;
    qb_grid grid;
} sweep_setup;

static void setup(sweep_setup *s, const char *text)
{
    assert_int_equal(qb_topo_load(&s->topo, NULL), QB_OK);
    assert_int_equal(qb_spec_init(&s->spec), QB_OK);
    assert_int_equal(qb_spec_parse_text(&s->spec, "test.ini", text), QB_OK);
    if (qb_spec_resolve(&s->spec, &tw_set, s->topo) != QB_OK) fail_msg("%s", qb_last_error());
    assert_int_equal(qb_grid_expand(&s->spec, &s->grid), QB_OK);
}

static void teardown(sweep_setup *s)
{
    qb_grid_free(&s->grid);
    qb_spec_free(&s->spec);
    qb_topo_free(s->topo);
}

static qb_status sweep(sweep_setup *s, const char *out, const char *resume, int si, int sn,
                       qb_sweep_summary *sum)
{
    qb_sweep_opts o = {&s->spec, &s->grid, &tw_set, s->topo, si, sn, out, resume, 0, 0, stderr};
    return qb_sweep_run(&o, sum);
}

static void read_csv(const char *dir, const char *name, qb_csv_records *t)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (qb_csv_read_records(path, t) != QB_OK) fail_msg("%s", qb_last_error());
}

/* The row of results.csv whose `col` equals `value` (first), or -1. */
static int find_row(const qb_csv_records *t, const char *col, const char *value)
{
    int c = qb_csv_records_col(t, col);
    for (int r = 1; r < t->n; r++)
        if (strcmp(qb_csv_records_get(t, r, c), value) == 0) return r;
    return -1;
}

static const char *get(const qb_csv_records *t, int r, const char *col)
{
    int c = qb_csv_records_col(t, col);
    if (c < 0) fail_msg("no column %s", col);
    return qb_csv_records_get(t, r, c);
}

static void test_isolation_of_crashes_and_hangs(void **state)
{
    (void)state;
    sweep_setup s;
    setup(&s, "[grid]\nmodels = matmul, crash, hang, failing, notimed\nschemes = binary\nwbits = 1\n"
              "placements = core\nscenarios = latency\n[timing]\nmin_time = 0\n[counters]\nevents = none\n");
    const qb_workload *w[] = {&tw_matmul, &tw_crash, &tw_hang, &tw_failing, &tw_notimed};
    const char *want[] = {"ok", "crashed", "timeout", "error", "ok"};
    for (int m = 0; m < 5; m++) {
        const qb_cell *c = &s.grid.cells[2 * m + 1]; /* the binary cell of model m */
        assert_string_equal(c->q.model, w[m]->name);
        qb_cell_output out;
        double t0 = (double)time(NULL);
        assert_int_equal(qb_cell_run_isolated(c, w[m], &s.spec, s.topo, NULL, 3.0, &out), QB_OK);
        assert_true((double)time(NULL) - t0 < 30);
        if (strcmp(out.r.status, want[m]) != 0)
            fail_msg("%s: status %s (%s), want %s", w[m]->name, out.r.status, out.r.detail, want[m]);
        switch (m) {
        case 0:
            assert_int_equal(out.r.reps, 5);
            assert_non_null(out.samples);
            assert_true(out.r.have_eval && out.r.n_images == TW_EVAL_IMAGES && out.bits);
            break;
        case 1:
            assert_non_null(strstr(out.r.detail, "SIGSEGV"));
            assert_true(isnan(out.r.median_ms));
            break;
        case 2:
            assert_non_null(strstr(out.r.detail, "killed with SIGKILL"));
            break;
        case 3:
            assert_non_null(strstr(out.r.detail, "prepare: " TW_FAIL_MESSAGE));
            break;
        case 4:
            assert_true(out.r.timing_unsupported);
            assert_non_null(strstr(out.r.detail, "no integer path"));
            assert_true(isnan(out.r.median_ms) && out.r.have_eval);
            break;
        }
        qb_cell_output_free(&out);
    }
    teardown(&s);
}

static const char *mixed_spec =
    "[grid]\nmodels = matmul, crash, hang, failing, notimed\nschemes = binary\nwbits = 1\n"
    "placements = core\nscenarios = latency, throughput\n[timing]\nbatch = 4\nmin_time = 0\n"
    "repetitions = 3\ntimeout = 3\n[counters]\nevents = sde:::qbench::macs, PAPI_TOT_CYC\n";

static void test_sweep_writes_the_run_folder(void **state)
{
    (void)state;
    char *dir = qb_test_tmpdir(), parent[600];
    snprintf(parent, sizeof parent, "%s/results", dir);
    sweep_setup s;
    setup(&s, mixed_spec);
    qb_sweep_summary sum;
    if (sweep(&s, parent, NULL, 0, 0, &sum) != QB_OK) fail_msg("%s", qb_last_error());
    assert_int_equal(sum.cells, 20);
    assert_int_equal(sum.ran, 20);
    assert_int_equal(sum.ok, 8);      /* matmul and notimed */
    assert_int_equal(sum.crashed, 4);
    assert_int_equal(sum.timeout, 4);
    assert_int_equal(sum.error, 4);

    /* results/latest points at the run */
    char latest[700], target[600];
    snprintf(latest, sizeof latest, "%s/latest", parent);
    ssize_t n = readlink(latest, target, sizeof target - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_non_null(strstr(sum.run_dir, target));

    qb_csv_records r, smp, oc;
    read_csv(sum.run_dir, "results.csv", &r);
    assert_int_equal(r.n, 21);
    assert_false(r.partial);
    assert_string_equal(r.rec[0].f[0], "cell_id");
    int ctr = qb_csv_records_col(&r, "ctr:sde:::qbench::macs");
    assert_true(ctr > qb_csv_records_col(&r, "counter_status"));
    assert_int_equal(qb_csv_records_col(&r, "ctr:sde:::qbench::macs/inf"), ctr + 1);
    assert_int_equal(qb_csv_records_col(&r, "ipc"), ctr + 4);
    for (int i = 0; i < s.grid.n; i++) {
        const qb_cell *c = &s.grid.cells[i];
        int row = find_row(&r, "cell_id", c->id);
        assert_true(row > 0);
        assert_string_equal(get(&r, row, "model"), c->q.model);
        assert_string_equal(get(&r, row, "placement"), "core");
        assert_string_equal(get(&r, row, "threads"), "1");
        assert_string_equal(get(&r, row, "scenario"), c->scenario);
        const char *st = get(&r, row, "status");
        if (strcmp(c->q.model, "matmul") == 0) {
            assert_string_equal(st, "ok");
            assert_string_equal(get(&r, row, "reps"), "3");
            long long macs = atoll(get(&r, row, "ctr:sde:::qbench::macs"));
            assert_true(macs == 3LL * c->batch * TW_MACS_PER_INF);
            assert_true(fabs(atof(get(&r, row, "ctr:sde:::qbench::macs/inf")) - TW_MACS_PER_INF) < 1e-6);
            double med = atof(get(&r, row, "latency_ms_median"));
            assert_true(med > 0);
            assert_true(fabs(atof(get(&r, row, "throughput_ips")) - c->batch / (med * 1e-3)) /
                            atof(get(&r, row, "throughput_ips")) < 1e-6);
            assert_true(atof(get(&r, row, "latency_ms_ci_low")) <= med);
            if (strcmp(c->q.scheme, "fp32") == 0) {
                assert_string_equal(get(&r, row, "speedup"), "1");
                assert_string_equal(get(&r, row, "accuracy"), "100");
            } else {
                /* speedup against the fp32 cell of the same placement and scenario */
                int base = find_row(&r, "cell_id", s.grid.cells[i - 2].id);
                double want = atof(get(&r, base, "latency_ms_median")) / med;
                assert_true(fabs(atof(get(&r, row, "speedup")) - want) / want < 1e-6);
                assert_string_equal(get(&r, row, "wbits"), "1");
            }
            assert_string_equal(get(&r, row, "backend"), "test-scalar");
            const char *cs = get(&r, row, "counter_status");
            assert_true(strcmp(cs, "ok") == 0 || strstr(cs, "PAPI_TOT_CYC: "));
        } else if (strcmp(c->q.model, "crash") == 0) {
            assert_string_equal(st, "crashed");
            assert_non_null(strstr(get(&r, row, "status_detail"), "SIGSEGV"));
            assert_string_equal(get(&r, row, "latency_ms_median"), ""); /* not measured, never 0 */
            assert_string_equal(get(&r, row, "ctr:sde:::qbench::macs"), "");
        } else if (strcmp(c->q.model, "hang") == 0) {
            assert_string_equal(st, "timeout");
        } else if (strcmp(c->q.model, "failing") == 0) {
            assert_string_equal(st, "error");
            /* a comma, a quote and a newline survive the CSV round trip */
            assert_string_equal(get(&r, row, "status_detail"), "prepare: " TW_FAIL_MESSAGE);
        } else {
            assert_string_equal(st, "ok");
            assert_string_equal(get(&r, row, "latency_ms_median"), "");
            assert_string_not_equal(get(&r, row, "accuracy"), "");
        }
    }
    read_csv(sum.run_dir, "samples.csv", &smp);
    assert_int_equal(smp.n, 1 + 4 * 3); /* the matmul cells' repetitions */
    read_csv(sum.run_dir, "outcomes.csv", &oc);
    assert_int_equal(oc.n, 1 + 8);       /* matmul and notimed cells were evaluated */
    assert_string_equal(get(&oc, 1, "n"), "200");
    assert_int_equal((int)strlen(get(&oc, 1, "correct_hex")), 2 * ((TW_EVAL_IMAGES + 7) / 8));

    char mp[4200];
    snprintf(mp, sizeof mp, "%s/meta.csv", sum.run_dir);
    qb_meta m;
    assert_int_equal(qb_runmeta_read(mp, &m), QB_OK);
    const char *keys[] = {"schema_version", "qbench_version", "git_commit", "date", "host", "cpu_model",
                          "cpu_flags", "compiler", "cflags", "kernel", "hwloc_version", "topology",
                          "papi_version", "papi_components", "events", "blas", "backend", "spec_hash",
                          "spec", "shard"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        if (!qb_meta_get(&m, keys[k])) fail_msg("meta.csv lacks %s", keys[k]);
    char hash[17];
    qb_spec_hash(&s.spec, hash);
    assert_string_equal(qb_meta_get(&m, "spec_hash"), hash);
    assert_string_equal(qb_meta_get(&m, "events"), "sde:::qbench::macs;PAPI_TOT_CYC");
    assert_non_null(strstr(qb_meta_get(&m, "spec"), "[grid]\nmodels = matmul, crash"));
    qb_meta_free(&m);
    snprintf(mp, sizeof mp, "%s/topology.xml", sum.run_dir);
    qb_topo *x;
    assert_int_equal(qb_topo_load(&x, mp), QB_OK);
    assert_int_equal(qb_topo_n_cores(x), qb_topo_n_cores(s.topo));
    qb_topo_free(x);

    qb_csv_records_free(&r);
    qb_csv_records_free(&smp);
    qb_csv_records_free(&oc);
    teardown(&s);
    qb_test_rmtree(dir);
    free(dir);
}

static const char *resume_spec =
    "[grid]\nmodels = matmul\nschemes = uniform-sym, uniform-asym\nwbits = 8, 4, 2\n"
    "placements = default\nscenarios = latency, throughput\n[timing]\nbatch = 8\nwarmup = 1\n"
    "min_time = 0.01\nrepetitions = 3\n[counters]\nevents = sde:::qbench::macs\n";

/* Checks that a finished run holds each cell of the grid exactly once, with
 * consistent samples and outcomes. */
static void expect_complete(const sweep_setup *s, const char *run)
{
    qb_csv_records r, smp, oc;
    read_csv(run, "results.csv", &r);
    read_csv(run, "samples.csv", &smp);
    read_csv(run, "outcomes.csv", &oc);
    assert_int_equal(r.n - 1, s->grid.n);
    qb_strset ids = {0};
    for (int i = 1; i < r.n; i++) {
        int added;
        assert_int_equal(qb_strset_add(&ids, r.rec[i].f[0], &added), QB_OK);
        if (!added) fail_msg("%s: cell %s twice", run, r.rec[i].f[0]);
        assert_string_equal(get(&r, i, "status"), "ok");
        /* its samples: rep 0..reps-1, once each */
        int reps = atoi(get(&r, i, "reps")), found = 0;
        for (int k = 1; k < smp.n; k++)
            if (strcmp(smp.rec[k].f[0], r.rec[i].f[0]) == 0) {
                assert_int_equal(atoi(smp.rec[k].f[1]), found);
                found++;
            }
        assert_int_equal(found, reps);
    }
    for (int i = 0; i < s->grid.n; i++) assert_true(qb_strset_has(&ids, s->grid.cells[i].id));
    assert_int_equal(oc.n - 1, s->grid.n);
    for (int k = 1; k < smp.n; k++) assert_true(qb_strset_has(&ids, smp.rec[k].f[0]));
    qb_strset_free(&ids);
    qb_csv_records_free(&r);
    qb_csv_records_free(&smp);
    qb_csv_records_free(&oc);
}

/* Starts a sweep in a child process (a new run, or resuming `resume`). */
static pid_t start_sweep(sweep_setup *s, const char *parent, const char *resume)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        qb_sweep_summary sum;
        if (sweep(s, parent, resume, 0, 0, &sum) == QB_OK) _exit(0);
        fprintf(stderr, "sweep in child: %s\n", qb_last_error());
        _exit(1);
    }
    return pid;
}

static void test_sigkill_at_many_points_then_resume(void **state)
{
    (void)state;
    char *dir = qb_test_tmpdir(), parent[600], run[4200] = "";
    snprintf(parent, sizeof parent, "%s/results", dir);
    sweep_setup s;
    setup(&s, resume_spec);
    /* kill points: milliseconds after the previous (re)start */
    const int delays[] = {0, 3, 11, 29, 47, 83, 131, 197};
    int killed_with_work_left = 0;
    for (size_t k = 0; k <= sizeof delays / sizeof delays[0]; k++) {
        int last = k == sizeof delays / sizeof delays[0];
        pid_t pid = start_sweep(&s, parent, run[0] ? run : NULL);
        if (!run[0]) {
            /* the first start: wait until its run folder is resumable */
            char latest[700];
            snprintf(latest, sizeof latest, "%s/latest/meta.csv", parent);
            for (int i = 0; i < 5000 && access(latest, F_OK) != 0; i++) tw_sleep_ms(1);
            char link[700], target[600];
            snprintf(link, sizeof link, "%s/latest", parent);
            ssize_t n = readlink(link, target, sizeof target - 1);
            assert_true(n > 0);
            target[n] = '\0';
            snprintf(run, sizeof run, "%s/%s", parent, target);
        }
        int status;
        if (!last) {
            tw_sleep_ms(delays[k]);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            tw_expect_run_parses(run);
            char rp[4300];
            snprintf(rp, sizeof rp, "%s/results.csv", run);
            qb_csv_records t;
            if (qb_csv_read_records(rp, &t) == QB_OK) {
                if (WIFSIGNALED(status) && t.n - 1 < s.grid.n) killed_with_work_left++;
                qb_csv_records_free(&t);
            }
        } else {
            waitpid(pid, &status, 0);
            assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
    }
    assert_true(killed_with_work_left > 0);
    expect_complete(&s, run);

    /* resuming a finished run runs nothing and changes nothing */
    char path[4300];
    snprintf(path, sizeof path, "%s/results.csv", run);
    size_t before_len, after_len;
    char *before = qb_test_read_file(path, &before_len);
    qb_sweep_summary sum;
    assert_int_equal(sweep(&s, parent, run, 0, 0, &sum), QB_OK);
    assert_int_equal(sum.ran, 0);
    assert_int_equal(sum.already_done, s.grid.n);
    char *after = qb_test_read_file(path, &after_len);
    assert_int_equal(before_len, after_len);
    assert_memory_equal(before, after, before_len);
    free(before);
    free(after);
    teardown(&s);
    qb_test_rmtree(dir);
    free(dir);
}

static void append(const char *path, const char *text)
{
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_resume_repairs_cut_rows(void **state)
{
    (void)state;
    char *dir = qb_test_tmpdir(), parent[600];
    snprintf(parent, sizeof parent, "%s/results", dir);
    sweep_setup s;
    setup(&s, resume_spec);
    qb_sweep_summary sum;
    assert_int_equal(sweep(&s, parent, NULL, 0, 0, &sum), QB_OK);
    char run[4096], path[4200];
    snprintf(run, sizeof run, "%s", sum.run_dir);

    /* what a kill in the middle of writing leaves: the last results row cut
     * in half, samples of a cell that never got its row, a cut sample row */
    snprintf(path, sizeof path, "%s/results.csv", run);
    size_t len;
    char *text = qb_test_read_file(path, &len);
    char *last = text + len - 2;
    while (*last != '\n') last--;
    size_t keep = (size_t)(last - text) + 1 + 20; /* 20 bytes into the last row */
    assert_int_equal(truncate(path, (off_t)keep), 0);
    free(text);
    qb_csv_records cut;
    read_csv(run, "results.csv", &cut);
    assert_true(cut.partial);
    assert_int_equal(cut.n - 1, s.grid.n - 1);
    qb_csv_records_free(&cut);
    snprintf(path, sizeof path, "%s/samples.csv", run);
    append(path, "00000000deadbeef,0,1.5\n00000000deadbeef,1,1.6\n0000000000000001,0,2.");
    snprintf(path, sizeof path, "%s/outcomes.csv", run);
    append(path, "00000000deadbeef,3,\"0");

    assert_int_equal(sweep(&s, parent, run, 0, 0, &sum), QB_OK);
    assert_int_equal(sum.ran, 1); /* only the cell whose row was cut */
    expect_complete(&s, run);
    teardown(&s);
    qb_test_rmtree(dir);
    free(dir);
}

static void test_resume_refuses_another_spec(void **state)
{
    (void)state;
    char *dir = qb_test_tmpdir(), parent[600];
    snprintf(parent, sizeof parent, "%s/results", dir);
    sweep_setup s;
    setup(&s, "[grid]\nmodels = matmul\nschemes = binary\nwbits = 1\nplacements = core\n"
              "scenarios = latency\n[timing]\nmin_time = 0\n[counters]\nevents = none\n");
    qb_sweep_summary sum;
    assert_int_equal(sweep(&s, parent, NULL, 0, 0, &sum), QB_OK);
    char run[4096], path[4200];
    snprintf(run, sizeof run, "%s", sum.run_dir);
    snprintf(path, sizeof path, "%s/results.csv", run);
    size_t l0, l1;
    char *before = qb_test_read_file(path, &l0);

    sweep_setup other;
    setup(&other, "[grid]\nmodels = matmul\nschemes = binary\nwbits = 1\nplacements = core\n"
                  "scenarios = latency\n[timing]\nmin_time = 0.001\n[counters]\nevents = none\n");
    assert_int_equal(sweep(&other, parent, run, 0, 0, &sum), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "made from another spec"));
    assert_non_null(strstr(qb_last_error(), run));
    /* another shard of the same spec is refused too */
    assert_int_equal(sweep(&s, parent, run, 1, 2, &sum), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "shard"));
    /* a folder another sweep is writing: wait until a child holds the run */
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    fflush(NULL);
    pid_t holder = fork();
    if (holder == 0) {
        qb_run held;
        qb_csv_records rows;
        qb_csv_line hl = {0};
        qb_results_header(&hl, qb_spec_list(&s.spec, QB_SK_EVENTS));
        char hash[17];
        qb_spec_hash(&s.spec, hash);
        char ok = qb_run_open(&held, run, hash, "", hl.buf, &rows) == QB_OK ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1) _exit(1);
        pause();
        _exit(0);
    }
    char ok = 0;
    assert_int_equal(read(ready[0], &ok, 1), 1);
    assert_int_equal(ok, 'y');
    assert_int_equal(sweep(&s, parent, run, 0, 0, &sum), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "another qbench sweep is writing this run folder"));
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
    close(ready[0]);
    close(ready[1]);
    /* not a run folder */
    assert_int_equal(sweep(&s, parent, dir, 0, 0, &sum), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "no meta.csv"));
    char *after = qb_test_read_file(path, &l1);
    assert_int_equal(l0, l1);
    assert_memory_equal(before, after, l0);
    free(before);
    free(after);

    /* an output folder that cannot be created */
    char file[700], bad[800];
    snprintf(file, sizeof file, "%s/plainfile", dir);
    append(file, "x");
    snprintf(bad, sizeof bad, "%s/sub", file);
    assert_int_equal(sweep(&s, bad, NULL, 0, 0, &sum), QB_ERR_IO);
    assert_non_null(strstr(qb_last_error(), "--out"));
    assert_non_null(strstr(qb_last_error(), bad));
    teardown(&other);
    teardown(&s);
    qb_test_rmtree(dir);
    free(dir);
}

/* A spec with sub-grids: each cell once; the run's meta.csv spec (what
 * --resume reads back) is the same spec, and a change in a sub-grid is
 * another spec. */
static void test_subgrids_run_once_and_resume(void **state)
{
    (void)state;
    char *dir = qb_test_tmpdir(), parent[600];
    snprintf(parent, sizeof parent, "%s/results", dir);
    static const char *text =
        "[grid]\nmodels = matmul\nschemes = uniform-sym\nwbits = 8\nplacements = core\n"
        "scenarios = latency, throughput\n"
        "[grid.low]\nwbits = 8, 4\ncalib = minmax, mse\nscenarios = latency\n"
        "[timing]\nbatch = 8\nwarmup = 1\nmin_time = 0.01\nrepetitions = 3\n[counters]\nevents = none\n";
    sweep_setup s;
    setup(&s, text);
    /* [grid]: fp32, w8 x 2 scenarios; [grid.low]: w8 mse, w4 minmax, w4 mse on latency */
    assert_int_equal(s.grid.n, 7);
    qb_sweep_summary sum;
    if (sweep(&s, parent, NULL, 0, 0, &sum) != QB_OK) fail_msg("%s", qb_last_error());
    assert_int_equal(sum.ran, 7);
    expect_complete(&s, sum.run_dir);

    char meta_path[4200];
    snprintf(meta_path, sizeof meta_path, "%s/meta.csv", sum.run_dir);
    qb_meta m;
    if (qb_runmeta_read(meta_path, &m) != QB_OK) fail_msg("%s", qb_last_error());
    const char *spec_text = qb_meta_get(&m, "spec");
    assert_non_null(spec_text);
    assert_non_null(strstr(spec_text, "[grid.low]\n"));
    sweep_setup again;
    setup(&again, spec_text);
    char h1[17], h2[17];
    qb_spec_hash(&s.spec, h1);
    qb_spec_hash(&again.spec, h2);
    assert_string_equal(h1, h2);
    assert_string_equal(qb_meta_get(&m, "spec_hash"), h1);
    char run[4096];
    snprintf(run, sizeof run, "%s", sum.run_dir);
    if (sweep(&again, parent, run, 0, 0, &sum) != QB_OK) fail_msg("%s", qb_last_error());
    assert_int_equal(sum.already_done, 7);
    assert_int_equal(sum.ran, 0);

    /* another value in the sub-grid: another spec */
    sweep_setup other;
    char *changed = strdup(text);
    memcpy(strstr(changed, "mse"), "kl ", 3);
    setup(&other, changed);
    assert_int_equal(sweep(&other, parent, run, 0, 0, &sum), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "made from another spec"));
    free(changed);
    teardown(&other);
    teardown(&again);
    qb_meta_free(&m);
    teardown(&s);
    qb_test_rmtree(dir);
    free(dir);
}

static void test_merge_shards(void **state)
{
    (void)state;
    char *dir = qb_test_tmpdir(), parent[600], out[700], a[4096], b[4096], c[4096];
    snprintf(parent, sizeof parent, "%s/results", dir);
    snprintf(out, sizeof out, "%s/merged", dir);
    sweep_setup s;
    setup(&s, "[grid]\nmodels = matmul\nschemes = uniform-sym\nwbits = 8, 4\nplacements = core\n"
              "scenarios = latency, throughput\n[timing]\nmin_time = 0\nbatch = 4\n[counters]\nevents = none\n");
    /* cells 0..5 = fp32, w8, w4 x latency, throughput; 3 shards: {0,3} {1,4} {2,5} */
    qb_sweep_summary sum;
    char *dirs[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sweep(&s, parent, NULL, i + 1, 3, &sum), QB_OK);
        assert_int_equal(sum.cells, 2);
        snprintf(dirs[i], 4096, "%s", sum.run_dir);
    }
    /* cell 3 (w8 throughput) has its baseline (cell 1) in another shard */
    qb_csv_records ta;
    read_csv(a, "results.csv", &ta);
    int row = find_row(&ta, "cell_id", s.grid.cells[3].id);
    assert_true(row > 0);
    assert_string_equal(get(&ta, row, "speedup"), "");
    qb_csv_records_free(&ta);

    const char *runs[] = {a, b, c};
    assert_int_equal(qb_merge_runs(runs, 3, out, NULL), QB_OK);
    expect_complete(&s, out);
    qb_csv_records m;
    read_csv(out, "results.csv", &m);
    for (int r = 1; r < m.n; r++) assert_string_not_equal(get(&m, r, "speedup"), "");
    qb_csv_records_free(&m);
    char mp[800];
    snprintf(mp, sizeof mp, "%s/meta.csv", out);
    qb_meta meta;
    assert_int_equal(qb_runmeta_read(mp, &meta), QB_OK);
    assert_string_equal(qb_meta_get(&meta, "shard"), "");
    assert_non_null(strstr(qb_meta_get(&meta, "merged_from"), a));
    qb_meta_free(&meta);

    /* refusals: the same shard twice, another spec, a non-empty output */
    char out2[800];
    snprintf(out2, sizeof out2, "%s/merged2", dir);
    const char *twice[] = {a, a};
    assert_int_equal(qb_merge_runs(twice, 2, out2, NULL), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "merge each shard once"));
    assert_int_equal(qb_merge_runs(runs, 3, out, NULL), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "not empty"));
    sweep_setup other;
    setup(&other, "[grid]\nmodels = matmul\nschemes = uniform-sym\nwbits = 8\nplacements = core\n"
                  "scenarios = latency\n[timing]\nmin_time = 0\n[counters]\nevents = none\n");
    assert_int_equal(sweep(&other, parent, NULL, 0, 0, &sum), QB_OK);
    const char *mixed[] = {a, sum.run_dir};
    assert_int_equal(qb_merge_runs(mixed, 2, out2, NULL), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "another spec"));
    assert_int_equal(access(out2, F_OK), -1); /* nothing written */
    teardown(&other);
    teardown(&s);
    qb_test_rmtree(dir);
    free(dir);
}

static void test_csv_round_trip(void **state)
{
    (void)state;
    char *dir = qb_test_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/t.csv", dir);
    const char *fields[][4] = {
        {"a", "b", "c", "d"},
        {"plain", "with,comma", "with \"quotes\"", "line\nbreak"},
        {"", "\"", ",\n,", "trailing space "},
    };
    qb_csv_line l = {0};
    FILE *f = fopen(path, "w");
    for (int r = 0; r < 3; r++) {
        qb_csv_line_reset(&l);
        for (int c = 0; c < 4; c++) qb_csv_str(&l, fields[r][c]);
        qb_csv_end(&l);
        fwrite(l.buf, 1, l.len, f);
    }
    qb_csv_line_reset(&l);
    qb_csv_num(&l, NAN);
    qb_csv_num(&l, 0.1);
    qb_csv_int(&l, 7, 0);
    qb_csv_int(&l, -3, 1);
    qb_csv_end(&l);
    assert_string_equal(l.buf, ",0.1,,-3\n");
    fwrite(l.buf, 1, l.len, f);
    fclose(f);
    qb_csv_records t;
    read_csv(dir, "t.csv", &t);
    assert_int_equal(t.n, 4);
    assert_false(t.partial);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++) assert_string_equal(t.rec[r].f[c], fields[r][c]);
    assert_int_equal(t.rec[2].line, 4);
    assert_int_equal(t.rec[3].line, 6); /* the quoted newlines count */
    qb_csv_records_free(&t);
    /* a record cut inside a quoted field is partial, not an error */
    append(path, "x,\"cut\nin the middle");
    read_csv(dir, "t.csv", &t);
    assert_int_equal(t.n, 4);
    assert_true(t.partial);
    assert_true(t.complete_bytes < t.file_bytes);
    qb_csv_records_free(&t);
    /* a wrong field count names file:line */
    snprintf(path, sizeof path, "%s/bad.csv", dir);
    append(path, "a,b\n1,2\n3\n");
    qb_csv_records bad;
    assert_int_equal(qb_csv_read_records(path, &bad), QB_ERR_FORMAT);
    assert_non_null(strstr(qb_last_error(), "bad.csv:3: 1 fields where the header has 2"));
    qb_csv_line_free(&l);
    qb_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isolation_of_crashes_and_hangs),
        cmocka_unit_test(test_sweep_writes_the_run_folder),
        cmocka_unit_test(test_sigkill_at_many_points_then_resume),
        cmocka_unit_test(test_resume_repairs_cut_rows),
        cmocka_unit_test(test_resume_refuses_another_spec),
        cmocka_unit_test(test_subgrids_run_once_and_resume),
        cmocka_unit_test(test_merge_shards),
        cmocka_unit_test(test_csv_round_trip),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("runner", tests, NULL, NULL);
}
