/* The contract between the harness and the reports (docs/csv-schema.md),
 * end to end: a real sweep with the harness's small test workloads (a real
 * matmul, a crash, a failing prepare with a comma, a quote and a newline in
 * its message, a config with no timed path) writes a run folder, and the
 * reports read it: `report` renders without a complaint from gnuplot, and
 * `check` of the run against a copy of itself passes, against a copy with a
 * slowed-down cell fails. */
#include "qb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench_workloads.h"
#include "grid.h"
#include "report.h"
#include "run.h"
#include "run_fixture.h"
#include "runner.h"
#include "spec.h"
#include "topo.h"

static const char *spec_text =
    "[grid]\nmodels = matmul, crash, failing, notimed\nschemes = binary, uniform-sym\n"
    "wbits = 1, 8\nplacements = core\nscenarios = latency, throughput\n[timing]\nbatch = 4\n"
    "min_time = 0\nrepetitions = 7\ntimeout = 20\n[counters]\n"
    "events = sde:::qbench::macs, PAPI_TOT_CYC\n";

/* Runs the sweep into ROOT/results and returns the run folder (malloc'ed). */
static char *sweep(const char *root)
{
    qb_topo *topo;
    qb_spec spec;
    qb_grid grid;
    assert_int_equal(qb_topo_load(&topo, NULL), QB_OK);
    assert_int_equal(qb_spec_init(&spec), QB_OK);
    assert_int_equal(qb_spec_parse_text(&spec, "contract.ini", spec_text), QB_OK);
    if (qb_spec_resolve(&spec, &tw_set, topo) != QB_OK) fail_msg("%s", qb_last_error());
    assert_int_equal(qb_grid_expand(&spec, &grid), QB_OK);
    char parent[600];
    snprintf(parent, sizeof parent, "%s/results", root);
    qb_sweep_opts o = {&spec, &grid, &tw_set, topo, 0, 0, parent, NULL, 0, 0, stderr};
    qb_sweep_summary sum;
    if (qb_sweep_run(&o, &sum) != QB_OK) fail_msg("%s", qb_last_error());
    qb_grid_free(&grid);
    qb_spec_free(&spec);
    qb_topo_free(topo);
    return strdup(sum.run_dir);
}

static void test_reports_read_what_the_harness_writes(void **state)
{
    (void)state;
    char *root = qb_test_tmpdir(), *dir = sweep(root);
    qb_run run;
    if (qb_run_load(dir, &run) != QB_OK) fail_msg("%s", qb_last_error());
    assert_true(run.has_samples && run.has_outcomes);
    assert_int_equal(run.n_counters, 4); /* macs, macs/inf, PAPI_TOT_CYC, PAPI_TOT_CYC/inf */
    int statuses[4] = {0}, timed = 0;
    for (size_t i = 0; i < run.n_results; i++) {
        const qb_result *r = &run.results[i];
        if (strcmp(r->model, "matmul") == 0) {
            assert_true(qb_result_ok(r));
            assert_int_equal(r->n_samples, (size_t)r->reps);
            assert_true(r->reps >= 7);
            assert_true(r->latency_ms_median > 0 && r->speedup > 0);
            assert_non_null(r->outcomes);
            assert_int_equal(r->n_outcomes, TW_EVAL_IMAGES);
            assert_true(qb_run_counter(&run, r, 1) == TW_MACS_PER_INF);
            timed++;
        } else if (strcmp(r->model, "crash") == 0) {
            statuses[0] += strcmp(r->status, "crashed") == 0;
        } else if (strcmp(r->model, "failing") == 0) {
            statuses[1] += strcmp(r->status, "error") == 0 &&
                           strstr(r->status_detail, "\"w\" missing,\nsee") != NULL;
        } else {
            statuses[2] += qb_result_ok(r) && isnan(r->latency_ms_median) && !isnan(r->accuracy);
        }
    }
    assert_int_equal(timed, 6);           /* fp32, binary w1, uniform-sym w8; two scenarios */
    assert_int_equal(statuses[0], 6);
    assert_int_equal(statuses[1], 6);
    assert_int_equal(statuses[2], 6);

    qb_plot_list plots;
    assert_int_equal(qb_report_write(&run, dir, &plots), QB_OK);
    for (int i = 0; i < plots.n; i++) {
        if (!plots.item[i].rendered || plots.item[i].problem[0])
            fail_msg("plot %s: %s", plots.item[i].name, plots.item[i].problem);
    }
    assert_int_equal(plots.n_failed, 0);
    qb_run_free(&run);

    /* check against an identical copy, then against one with a slower cell.
     * That cell's samples are first made steady (each its median): samples
     * timed on a loaded machine can spread over more than 1.5x, and the
     * verdict must not depend on the load the test ran under. */
    char *cur, *cmd, *out;
    assert_int_equal(qb_run_load(dir, &run), QB_OK);
    const char *slow = NULL;
    char median[64] = "";
    for (size_t i = 0; i < run.n_results && !slow; i++)
        if (qb_result_ok(&run.results[i]) && strcmp(run.results[i].scheme, "binary") == 0 &&
            run.results[i].n_samples) {
            slow = strdup(run.results[i].cell_id);
            snprintf(median, sizeof median, "%.9g", run.results[i].latency_ms_median);
        }
    qb_run_free(&run);
    assert_non_null(slow);
    assert_int_equal(qb_fixture_set(dir, "samples.csv", slow, "latency_ms", median), 0);
    assert_int_equal(qb_fixture_set(dir, "results.csv", slow, "latency_ms_mad", "0"), 0);
    assert_int_equal(qb_fixture_set(dir, "results.csv", slow, "latency_ms_ci_low", median), 0);
    assert_int_equal(qb_fixture_set(dir, "results.csv", slow, "latency_ms_ci_high", median), 0);
    assert_true(asprintf(&cur, "%s/cur", root) > 0);
    assert_true(asprintf(&cmd, "cp -r '%s' '%s'", dir, cur) > 0);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    assert_int_equal(qb_test_run_qbench(&out, "check '%s' '%s'", dir, cur), 0);
    free(out);
    qb_fixture_slow_down(cur, slow, 1.5);
    assert_int_equal(qb_test_run_qbench(&out, "check '%s' '%s'", dir, cur), 1);
    assert_non_null(strstr(out, slow));
    free(out);
    free((char *)slow);
    free(cur);
    qb_test_rmtree(root);
    free(root);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reports_read_what_the_harness_writes),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("contract", tests, NULL, NULL);
}
