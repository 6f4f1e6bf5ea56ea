/* `qbench check` (the CI gate) and the comparison under it, on crafted
 * copies of the committed run: exit codes for unchanged, regressed,
 * improved, missing, crashed, less accurate, different specs and a newer
 * schema; significance and effect size both required. */
#include "qb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "diff.h"
#include "run.h"
#include "run_fixture.h"

/* Cells of the fixture used below. */
#define MLP_FP32_CORE "d6542d2d6c18f1ee"
#define MLP_W8_CORE "7b05298a8202295c"   /* uniform-sym w8a8 on core */
#define MLP_W8_CORES2 "eb7f9354cce59641" /* same on cores:2: no outcomes, drop CIs only */

typedef struct {
    char *root, *base, *cur;
} pair;

static pair make_pair(void)
{
    pair p;
    p.base = qb_fixture_copy("run-small");
    p.root = qb_fixture_root(p.base);
    char *cmd;
    assert_true(asprintf(&cmd, "cp -r '%s' '%s/cur'", p.base, p.root) > 0);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    assert_true(asprintf(&p.cur, "%s/cur", p.root) > 0);
    return p;
}

static void free_pair(pair *p)
{
    qb_test_rmtree(p->root);
    free(p->root);
    free(p->base);
    free(p->cur);
}

static int run_check(const pair *p, char **out, const char *flags)
{
    return qb_test_run_qbench(out, "check '%s' '%s' %s", p->base, p->cur, flags);
}

static void test_unchanged_passes(void **state)
{
    (void)state;
    pair p = make_pair();
    char *out;
    assert_int_equal(run_check(&p, &out, ""), 0);
    assert_non_null(strstr(out, "qbench check: passed: 0 regressions in 44 cells"));
    free(out);
    char *md_path, *xml_path;
    assert_true(asprintf(&md_path, "%s/check.md", p.cur) > 0);
    assert_true(asprintf(&xml_path, "%s/check.xml", p.cur) > 0);
    char *md = qb_test_read_file(md_path, NULL), *xml = qb_test_read_file(xml_path, NULL);
    assert_non_null(strstr(md, "# qbench check: passed"));
    assert_non_null(strstr(xml, "<testsuites name=\"qbench check\" tests=\"44\" failures=\"0\">"));
    assert_null(strstr(xml, "<failure"));
    free(md);
    free(xml);
    free(md_path);
    free(xml_path);
    free_pair(&p);
}

static void test_slowdown_regresses_and_junit_fails(void **state)
{
    (void)state;
    pair p = make_pair();
    qb_fixture_slow_down(p.cur, MLP_W8_CORE, 1.3);
    char *out;
    assert_int_equal(run_check(&p, &out, ""), 1);
    assert_non_null(strstr(out, "REGRESSED mlp uniform-sym w8a8 @ core/latency "
                                "[" MLP_W8_CORE "]: 30.0% slower by speedup"));
    assert_non_null(strstr(out, "FAILED: 1 regression in 44 cells"));
    free(out);
    char *xml_path, *xml;
    assert_true(asprintf(&xml_path, "%s/check.xml", p.cur) > 0);
    xml = qb_test_read_file(xml_path, NULL);
    assert_non_null(strstr(xml, "tests=\"44\" failures=\"1\""));
    assert_non_null(strstr(xml, "<failure type=\"regressed\" message=\"mlp uniform-sym w8a8"));
    free(xml);
    free(xml_path);
    /* A looser threshold lets the same change through; so does a stricter alpha
     * it cannot reach with 7 against 7 samples (smallest exact p 0.00058). */
    assert_int_equal(run_check(&p, &out, "--max-slowdown 35%"), 0);
    free(out);
    assert_int_equal(run_check(&p, &out, "--alpha 0.0001"), 0);
    assert_non_null(strstr(out, "warning: 43 cells have too few repetitions for alpha 0.0001"));
    free(out);
    free_pair(&p);
}

static void test_small_or_noisy_changes_pass(void **state)
{
    (void)state;
    pair p = make_pair();
    /* significant but small: 3% < 5% */
    qb_fixture_slow_down(p.cur, MLP_W8_CORE, 1.03);
    char *out;
    assert_int_equal(run_check(&p, &out, ""), 0);
    free(out);
    assert_int_equal(run_check(&p, &out, "--max-slowdown 2"), 1); /* "2" means 2% */
    free(out);
    free_pair(&p);

    /* a summary 8% slower whose samples overlap the baseline's (three of
     * seven repetitions 20% slower) is not significant: it passes */
    p = make_pair();
    qb_run base;
    assert_int_equal(qb_run_load(p.base, &base), QB_OK);
    const qb_result *r = NULL;
    uint64_t id;
    assert_int_equal(qb_cell_id_parse(MLP_W8_CORE, &id), 0);
    r = qb_run_find(&base, id);
    assert_non_null(r);
    /* current samples: the baseline's, three of them made 20% slower */
    char *csv = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&csv, &len);
    fputs("cell_id,rep,latency_ms\n", f);
    for (size_t i = 0; i < base.n_results; i++) {
        const qb_result *q = &base.results[i];
        for (size_t k = 0; k < q->n_samples; k++)
            fprintf(f, "%s,%zu,%.9g\n", q->cell_id, k,
                    q->samples[k] * (q == r && k < 3 ? 1.2 : 1.0));
    }
    fclose(f);
    assert_int_equal(qb_fixture_write(p.cur, "samples.csv", csv), 0);
    free(csv);
    qb_run_free(&base);
    assert_int_equal(qb_fixture_scale(p.cur, "results.csv", MLP_W8_CORE, "latency_ms_median", 1.08), 0);
    assert_int_equal(run_check(&p, &out, "--metric latency"), 0);
    free(out);
    free_pair(&p);
}

static void test_improved_passes(void **state)
{
    (void)state;
    pair p = make_pair();
    qb_fixture_slow_down(p.cur, MLP_W8_CORE, 0.7);
    char *out;
    assert_int_equal(run_check(&p, &out, ""), 0);
    assert_non_null(strstr(out, "0 regressions in 44 cells (1 improved"));
    free(out);
    free_pair(&p);
}

static void test_missing_and_crashed_fail_worst_first(void **state)
{
    (void)state;
    pair p = make_pair();
    qb_fixture_slow_down(p.cur, MLP_W8_CORE, 1.5);
    assert_int_equal(qb_fixture_drop(p.cur, "results.csv", MLP_W8_CORES2), 0);
    assert_int_equal(qb_fixture_set(p.cur, "results.csv", MLP_FP32_CORE, "status", "crashed"), 0);
    assert_int_equal(qb_fixture_set(p.cur, "results.csv", MLP_FP32_CORE, "status_detail",
                                    "SIGBUS, bad alignment"), 0);
    char *out;
    assert_int_equal(run_check(&p, &out, ""), 1);
    char *crash = strstr(out, "REGRESSED mlp fp32 @ core/latency [" MLP_FP32_CORE "]: status ok "
                              "-> crashed (SIGBUS, bad alignment)");
    char *missing = strstr(out, "MISSING mlp uniform-sym w8a8 @ cores:2/latency");
    char *slow = strstr(out, "REGRESSED mlp uniform-sym w8a8 @ core/latency");
    assert_non_null(crash);
    assert_non_null(missing);
    assert_non_null(slow);
    assert_true(crash < missing && missing < slow);   /* worst first */
    assert_non_null(strstr(out, "3 regressions in 44 cells"));
    free(out);
    free_pair(&p);
}

static void test_accuracy_drop_is_paired_and_gated(void **state)
{
    (void)state;
    pair p = make_pair();
    qb_fixture_lose_images(p.cur, MLP_W8_CORE, 50);     /* 50 of 10,000 images: -0.5 pp */
    assert_int_equal(qb_fixture_set(p.cur, "results.csv", MLP_W8_CORE, "accuracy", "88.13"), 0);
    qb_run base, cur;
    assert_int_equal(qb_run_load(p.base, &base), QB_OK);
    assert_int_equal(qb_run_load(p.cur, &cur), QB_OK);
    qb_diff_opts o;
    qb_diff_defaults(&o, QB_METRIC_SPEEDUP);
    qb_diff d;
    assert_int_equal(qb_diff_runs(&base, &cur, &o, &d), QB_OK);
    const qb_cell_diff *c = &d.cells[2];
    assert_string_equal(c->base->cell_id, MLP_W8_CORE);
    assert_string_equal(c->acc_test, "McNemar mid-p");
    assert_int_equal(c->lost, 50);
    assert_int_equal(c->gained, 0);
    assert_true(c->p_acc < 1e-10);                     /* 50 against 0 discordant images */
    assert_true(fabs(c->acc_change + 0.5) < 1e-9);
    assert_int_equal(c->verdict, QB_REGRESSED);
    assert_int_equal(d.count[QB_REGRESSED], 1);
    qb_diff_free(&d);
    qb_run_free(&base);
    qb_run_free(&cur);
    char *out;
    assert_int_equal(run_check(&p, &out, ""), 1);
    assert_non_null(strstr(out, "accuracy -0.50 pp (88.63% -> 88.13%, McNemar mid-p = "));
    free(out);
    assert_int_equal(run_check(&p, &out, "--max-drop 0.6"), 0);
    free(out);
    free_pair(&p);
}

static void test_metric_choice(void **state)
{
    (void)state;
    pair p = make_pair();
    /* Only the fp32 baseline got slower (say, a BLAS update): by speedup the
     * fp32 cell cannot regress, by latency it does. */
    static const char *const cols[] = {"latency_ms_median", "latency_ms_ci_low", "latency_ms_ci_high"};
    assert_int_equal(qb_fixture_scale(p.cur, "samples.csv", MLP_FP32_CORE, "latency_ms", 1.25), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(qb_fixture_scale(p.cur, "results.csv", MLP_FP32_CORE, cols[i], 1.25), 0);
    char *out;
    assert_int_equal(run_check(&p, &out, ""), 0);
    free(out);
    assert_int_equal(run_check(&p, &out, "--metric latency"), 1);
    assert_non_null(strstr(out, "REGRESSED mlp fp32 @ core/latency [" MLP_FP32_CORE "]: 25.0% slower by latency"));
    free(out);
    free_pair(&p);
}

static void test_unusable_input_exit_2(void **state)
{
    (void)state;
    pair p = make_pair();
    char *out;
    assert_int_equal(run_check(&p, &out, "--metric fastest"), 2);
    assert_non_null(strstr(out, "--metric: expected speedup or latency, got 'fastest'"));
    free(out);
    assert_int_equal(run_check(&p, &out, "--max-slowdown lots"), 2);
    assert_non_null(strstr(out, "--max-slowdown: expected a percentage such as 5%, got 'lots'"));
    free(out);
    assert_int_equal(run_check(&p, &out, "--alpha 3"), 2);
    free(out);
    assert_int_equal(qb_test_run_qbench(&out, "check '%s'", p.base), 2);
    assert_non_null(strstr(out, "usage: qbench check BASE CUR"));
    free(out);

    assert_int_equal(qb_fixture_write(p.cur, "meta.csv", "key,value\nschema_version,1\n"
                                      "spec_hash,0123456789abcdef\n"), 0);
    assert_int_equal(run_check(&p, &out, ""), 2);
    assert_non_null(strstr(out, "come from different sweep specs (spec_hash acdd8bf1429172bd vs "
                                "0123456789abcdef)"));
    assert_non_null(strstr(out, "--allow-spec-change"));
    free(out);
    assert_int_equal(run_check(&p, &out, "--allow-spec-change"), 0);
    free(out);

    assert_int_equal(qb_fixture_write(p.cur, "meta.csv", "key,value\nschema_version,3\n"), 0);
    assert_int_equal(run_check(&p, &out, ""), 2);
    assert_non_null(strstr(out, "cur/meta.csv:2: schema_version 3 is newer than this qbench reads"));
    free(out);

    assert_int_equal(qb_fixture_write(p.cur, "meta.csv", "key,value\nschema_version,1\n"), 0);
    assert_int_equal(qb_fixture_write(p.cur, "samples.csv", "cell_id,rep,latency_ms\n"
                                      MLP_W8_CORE ",0,0.01,extra\n"), 0);
    assert_int_equal(run_check(&p, &out, ""), 2);
    assert_non_null(strstr(out, "cur/samples.csv:2: 4 fields, but the header has 3"));
    free(out);
    free_pair(&p);
}

static void test_parse_percent(void **state)
{
    (void)state;
    double v;
    assert_int_equal(qb_parse_percent("x", "5%", &v), QB_OK);
    assert_true(fabs(v - 0.05) < 1e-12);
    assert_int_equal(qb_parse_percent("x", "12.5", &v), QB_OK);
    assert_true(fabs(v - 0.125) < 1e-12);
    assert_int_equal(qb_parse_percent("x", "-1%", &v), QB_ERR_ARG);
    assert_int_equal(qb_parse_percent("x", "%", &v), QB_ERR_ARG);
    assert_int_equal(qb_parse_percent("x", "", &v), QB_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unchanged_passes),
        cmocka_unit_test(test_slowdown_regresses_and_junit_fails),
        cmocka_unit_test(test_small_or_noisy_changes_pass),
        cmocka_unit_test(test_improved_passes),
        cmocka_unit_test(test_missing_and_crashed_fail_worst_first),
        cmocka_unit_test(test_accuracy_drop_is_paired_and_gated),
        cmocka_unit_test(test_metric_choice),
        cmocka_unit_test(test_unusable_input_exit_2),
        cmocka_unit_test(test_parse_percent),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("check", tests, NULL, NULL);
}
