/* Tests for PAPI counting (bench/counters.c): qbench's work counters read as
 * PAPI Software Defined Events must equal the work a real workload does;
 * events PAPI cannot count carry PAPI's reason. Also the timing loop that
 * wraps counters around the timed repetitions (bench/timing.c). */
#include "qb_test.h"

#include <math.h>
#include <papi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_workloads.h"
#include "counters.h"
#include "grid.h"
#include "runner.h"
#include "spec.h"
#include "timing.h"
#include "topo.h"

static const char *const events[] = {"sde:::qbench::macs", "sde:::qbench::weight_bytes",
                                     "sde:::qbench::requantized", "PAPI_TOT_CYC", "nosuch::EVENT"};

/* Runs the matmul workload `calls` times at `batch` on a pool of `nt` threads
 * inside start/stop, and checks the SDE sums. */
static void count_matmul(int nt, int calls, int batch, int wbits)
{
    qb_pool *pool;
    assert_int_equal(qb_pool_create(&pool, nt, NULL, NULL), QB_OK);
    qb_counters *c;
    assert_int_equal(qb_counters_create(&c, events, 5, pool), QB_OK);
    qb_qconfig q = {"matmul", wbits == 32 ? "fp32" : "uniform-sym", "tensor", "minmax", "none", "uniform",
                    wbits, 8, "auto"};
    void *st;
    assert_int_equal(tw_matmul.prepare(&q, pool, &st), QB_OK);
    assert_int_equal(tw_matmul.run(st, pool, batch), QB_OK); /* work outside the region is not counted */
    assert_int_equal(qb_counters_start(c), QB_OK);
    for (int i = 0; i < calls; i++) assert_int_equal(tw_matmul.run(st, pool, batch), QB_OK);
    assert_int_equal(qb_counters_stop(c), QB_OK);
    long long v;
    assert_true(qb_counters_value(c, 0, &v));
    assert_true(v == (long long)calls * batch * TW_MACS_PER_INF);
    assert_true(qb_counters_value(c, 1, &v));
    assert_true(v == (long long)calls * tw_weight_bytes(wbits));
    assert_true(qb_counters_value(c, 2, &v));
    assert_true(v == (long long)calls * batch * TW_N);
    /* a hardware event is either counted (and positive) or explained */
    const char *status = qb_counters_status(c);
    if (qb_counters_value(c, 3, &v)) assert_true(v > 0);
    else assert_non_null(strstr(status, "PAPI_TOT_CYC: "));
    /* an unknown event: PAPI's words for it */
    assert_false(qb_counters_value(c, 4, &v));
    if (!strstr(status, "nosuch::EVENT: ")) fail_msg("status lacks the unknown event: %s", status);
    assert_null(strchr(strstr(status, "nosuch::EVENT: "), ';')); /* last, no stray separator */
    tw_matmul.release(st);
    qb_counters_free(c);
    qb_pool_free(pool);
}

static void test_sde_counts_match_the_work(void **state)
{
    (void)state;
    count_matmul(1, 3, 1, 32);
    count_matmul(2, 5, 17, 8);  /* SDE counters are process-wide: not summed twice */
    count_matmul(2, 1, 64, 4);
}

static void test_probe_and_describe(void **state)
{
    (void)state;
    char reason[512];
    assert_true(qb_counters_probe("sde:::qbench::macs", reason, sizeof reason));
    assert_false(qb_counters_probe("sde:::qbench::nosuch", reason, sizeof reason));
    assert_non_null(strstr(reason, "not a qbench SDE counter"));
    assert_false(qb_counters_probe("nosuch::EVENT", reason, sizeof reason));
    assert_true(strlen(reason) > 0);
    assert_null(strchr(reason, ';'));
    char version[64], comps[4096];
    qb_papi_describe(version, sizeof version, comps, sizeof comps);
    assert_int_equal(strncmp(version, "7.", 2) == 0 || strncmp(version, "6.", 2) == 0, 1);
    assert_non_null(strstr(comps, "sde:enabled"));
    /* where perf_event is disabled (this VM), the reason is PAPI's own */
    const char *pe = strstr(comps, "perf_event:disabled (");
    if (pe) assert_true(strlen(pe) > strlen("perf_event:disabled ()"));
}

static int calls;
static qb_status count_call(void *ctx)
{
    (void)ctx;
    calls++;
    return QB_OK;
}
static int begun, ended;
static qb_status on_begin(void *ctx) { (void)ctx; begun = calls; return QB_OK; }
static qb_status on_end(void *ctx) { (void)ctx; ended = calls; return QB_OK; }

static void test_timing_loop(void **state)
{
    (void)state;
    qb_timing_opts o = {3, 7, 0.0, 100};
    qb_timing_hooks h = {on_begin, on_end, NULL};
    qb_timing t;
    calls = 0;
    assert_int_equal(qb_time_reps(&o, count_call, NULL, &h, &t), QB_OK);
    assert_int_equal(t.n, 7);          /* min count reached, min time 0 */
    assert_int_equal(begun, 3);        /* counters start after warm-up */
    assert_int_equal(ended, 10);
    assert_true(t.median_ms >= 0 && t.ci_low_ms <= t.median_ms && t.median_ms <= t.ci_high_ms);
    qb_timing_free(&t);
    /* the max count caps a minimum time that is never reached */
    qb_timing_opts o2 = {0, 2, 1e9, 50};
    calls = 0;
    assert_int_equal(qb_time_reps(&o2, count_call, NULL, NULL, &t), QB_OK);
    assert_int_equal(t.n, 50);
    qb_timing_free(&t);
    /* the summary is common/stats' median, MAD and order-statistic CI */
    double ms[] = {5, 1, 4, 2, 3, 100};
    qb_timing s = {ms, 6, 0, 0, 0, 0, 0};
    qb_timing_summarize(&s);
    assert_true(s.median_ms == 3.5);
    assert_true(s.mad_ms == 1.5);
    assert_true(s.ci_low_ms == 1 && s.ci_high_ms == 100);
}

static void test_cell_execute_counts(void **state)
{
    (void)state;
    qb_topo *t;
    assert_int_equal(qb_topo_load(&t, NULL), QB_OK);
    qb_spec s;
    assert_int_equal(qb_spec_init(&s), QB_OK);
    assert_int_equal(qb_spec_parse_text(&s, "c.ini",
                                        "[grid]\nmodels = matmul\nschemes = uniform-sym\nwbits = 4\n"
                                        "placements = all\nscenarios = throughput\n[timing]\nbatch = 8\n"
                                        "warmup = 2\nrepetitions = 6\nmin_time = 0\n[counters]\n"
                                        "events = sde:::qbench::macs, PAPI_TOT_INS, sde:::qbench::weight_bytes\n"),
                     QB_OK);
    assert_int_equal(qb_spec_resolve(&s, &tw_set, t), QB_OK);
    qb_grid g;
    assert_int_equal(qb_grid_expand(&s, &g), QB_OK);
    assert_int_equal(g.n, 2);
    qb_cell_output out;
    qb_cell_execute(&g.cells[1], &tw_matmul, &s, t, NULL, &out);
    qb_cell_result *r = &out.r;
    assert_string_equal(r->status, "ok");
    assert_int_equal(r->reps, 6);
    assert_int_equal(r->n_events, 3);
    assert_true(r->ctr_ok[0]);
    assert_true(r->ctr[0] == 6LL * 8 * TW_MACS_PER_INF); /* only the timed repetitions */
    assert_true(r->ctr_ok[2]);
    assert_true(r->ctr[2] == 6LL * tw_weight_bytes(4));
    if (!r->ctr_ok[1]) assert_non_null(strstr(r->counter_status, "PAPI_TOT_INS: "));
    else assert_string_equal(r->counter_status, "ok");
    assert_int_equal(r->threads, qb_topo_n_cores(t));
    assert_true(r->have_eval);
    assert_int_equal(r->n_images, TW_EVAL_IMAGES);
    assert_non_null(out.bits);
    assert_true(r->accuracy > 50 && r->accuracy <= 100);
    assert_true(fabs(r->drop_pp - (100 - r->accuracy)) < 1e-9);
    assert_true(r->flops_per_inf == 2.0 * TW_K * TW_N);
    assert_string_equal(r->backend, "test-scalar");
    qb_cell_output_free(&out);
    qb_grid_free(&g);
    qb_spec_free(&s);
    qb_topo_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sde_counts_match_the_work),
        cmocka_unit_test(test_probe_and_describe),
        cmocka_unit_test(test_timing_loop),
        cmocka_unit_test(test_cell_execute_counts),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("counters", tests, NULL, NULL);
}
