/* `qbench report` and `qbench plot` on the committed run folder: the
 * report against its golden file, plots rendered without a word from
 * gnuplot, the HTML self-contained, and what happens without gnuplot or
 * with bad input. Set QB_UPDATE_GOLDEN=1 to rewrite the golden file after
 * an intended change (and review the diff). */
#include "qb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report.h"
#include "run.h"
#include "run_fixture.h"
#include "view.h"

static char *path_in(const char *dir, const char *file)
{
    char *p;
    if (asprintf(&p, "%s/%s", dir, file) < 0) return NULL;
    return p;
}

static long file_size(const char *dir, const char *file)
{
    char *p = path_in(dir, file);
    struct stat st;
    long n = stat(p, &st) == 0 ? (long)st.st_size : -1;
    free(p);
    return n;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* Compares `actual` with the golden file, or rewrites it when asked. */
static void check_golden(const char *actual, const char *golden_rel)
{
    char *golden_path = qb_test_repo_path(golden_rel);
    const char *update = getenv("QB_UPDATE_GOLDEN");
    if (update && *update == '1') {
        FILE *f = fopen(golden_path, "w");
        assert_non_null(f);
        fputs(actual, f);
        fclose(f);
    }
    char *golden = qb_test_read_file(golden_path, NULL);
    if (!golden) fail_msg("%s is missing; run with QB_UPDATE_GOLDEN=1 to create it", golden_rel);
    if (strcmp(golden, actual) != 0) {
        size_t i = 0, line = 1;
        while (golden[i] && golden[i] == actual[i]) line += golden[i++] == '\n';
        fail_msg("output differs from %s at line %zu (QB_UPDATE_GOLDEN=1 rewrites it)",
                 golden_rel, line);
    }
    free(golden);
    free(golden_path);
}

static void test_report_matches_golden_and_plots_render(void **state)
{
    (void)state;
    char *dir = qb_fixture_copy("run-small"), *root = qb_fixture_root(dir);
    qb_run run;
    assert_int_equal(qb_run_load(dir, &run), QB_OK);
    qb_plot_list plots;
    assert_int_equal(qb_report_write(&run, dir, &plots), QB_OK);
    qb_run_free(&run);

    assert_int_equal(plots.gnuplot_missing, 0);
    assert_int_equal(plots.n_failed, 0);
    assert_int_equal(plots.n, 6);
    static const char *const names[] = {"accuracy_bits", "pareto_latency", "pareto_size",
                                        "speedup", "counters", "layers"};
    char *plot_dir = path_in(dir, "plots");
    for (int i = 0; i < 6; i++) {
        assert_string_equal(plots.item[i].name, names[i]);
        assert_true(plots.item[i].rendered);
        assert_string_equal(plots.item[i].problem, "");
        char file[96];
        snprintf(file, sizeof file, "%s.png", names[i]);
        assert_true(file_size(plot_dir, file) > 5000);
        snprintf(file, sizeof file, "%s.svg", names[i]);
        assert_true(file_size(plot_dir, file) > 5000);
        snprintf(file, sizeof file, "%s.gp", names[i]);
        assert_true(file_size(plot_dir, file) > 200);
        snprintf(file, sizeof file, "%s.log", names[i]);
        assert_int_equal(file_size(plot_dir, file), 0); /* gnuplot said nothing */
    }
    /* The Pareto front of mlp on `core`: binary (fastest) up to fp32 (most accurate). */
    char *dat_path = path_in(plot_dir, "pareto_latency.dat");
    char *dat = qb_test_read_file(dat_path, NULL);
    assert_non_null(strstr(dat, "\n0.0130141 77.49 \"binary w1a32 tensor\"\n"));
    assert_non_null(strstr(dat, "0.0419651 88.69 \"fp32\"\n"));
    assert_null(strstr(dat, "\"pow2 w4a32\"")); /* dominated: not on the front */

    char *md_path = path_in(dir, "report.md"), *html_path = path_in(dir, "report.html");
    char *md = qb_test_read_file(md_path, NULL), *html = qb_test_read_file(html_path, NULL);
    assert_non_null(md);
    assert_non_null(html);
    check_golden(md, "tests/data/run-small.report.md");
    /* self-contained: every plot inline, nothing fetched from elsewhere */
    assert_int_equal(count(html, "src=\"data:image/png;base64,"), 6);
    assert_null(strstr(html, "src=\"plots/"));
    assert_null(strstr(html, "http"));
    assert_non_null(strstr(html, "<td><strong>crashed</strong>: SIGSEGV, address not mapped (signal 11)</td>"));
    free(md);
    free(html);
    free(md_path);
    free(html_path);
    free(dat);
    free(dat_path);
    free(plot_dir);
    qb_test_rmtree(root);
    free(root);
    free(dir);
}

/* The terminal view: plain text, and each table's lines equally long (its
 * last column is right-aligned, so every column lines up). */
static void test_report_printed_for_the_terminal(void **state)
{
    (void)state;
    char *dir = qb_fixture_copy("run-small"), *root = qb_fixture_root(dir);
    qb_run run;
    assert_int_equal(qb_run_load(dir, &run), QB_OK);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(qb_report_print(&run, f), QB_OK);
    fclose(f);
    qb_run_free(&run);
    assert_non_null(strstr(text, "\nWhat to ship\n------------\n"));
    assert_null(strchr(text, '`'));
    assert_null(strstr(text, "**"));
    const char *t = strstr(text, "\n  budget  ");
    assert_non_null(t);
    int tables = 0;
    for (; t; t = strstr(t, "\n  budget  "), tables++) {
        size_t width = strcspn(t + 1, "\n"), rows = 0;
        for (t = t + 1 + width; t[0] == '\n' && t[1] == ' '; t += 1 + width, rows++)
            assert_int_equal(strcspn(t + 1, "\n"), width);
        assert_int_equal(rows, 3); /* budgets 0.5, 1 and 2 pp */
    }
    assert_true(tables >= 1);
    free(text);
    qb_test_rmtree(root);
    free(root);
    free(dir);
}

static void test_report_without_gnuplot_still_written(void **state)
{
    (void)state;
    char *dir = qb_fixture_copy("run-small"), *root = qb_fixture_root(dir);
    char *saved = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    setenv("PATH", "/nonexistent-qbench-test", 1);
    char *out = NULL;
    int rc = qb_test_run_qbench(&out, "report '%s'", dir);
    setenv("PATH", saved, 1);
    free(saved);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "plots are missing: gnuplot is not installed"));
    char *md_path = path_in(dir, "report.md");
    char *md = qb_test_read_file(md_path, NULL);
    assert_non_null(md);
    assert_non_null(strstr(md, "**Plots are missing: gnuplot is not installed**"));
    assert_non_null(strstr(md, "`plots/pareto_latency.gp`"));
    assert_non_null(strstr(md, "## What to ship"));      /* the rest is all there */
    assert_int_equal(file_size(dir, "plots/pareto_latency.png"), -1);
    assert_true(file_size(dir, "plots/pareto_latency.gp") > 200);
    free(md);
    free(md_path);
    free(out);
    qb_test_rmtree(root);
    free(root);
    free(dir);
}

static void test_plot_command(void **state)
{
    (void)state;
    char *dir = qb_fixture_copy("run-small"), *root = qb_fixture_root(dir);
    char *out = NULL;
    assert_int_equal(qb_test_run_qbench(&out, "plot '%s'", dir), 0);
    assert_non_null(strstr(out, "plots/speedup.png and .svg"));
    assert_true(file_size(dir, "plots/counters.svg") > 5000);
    assert_int_equal(file_size(dir, "report.md"), -1); /* plots only */
    free(out);
    qb_test_rmtree(root);
    free(root);
    free(dir);
}

static void test_report_bad_input_exit_2(void **state)
{
    (void)state;
    char *dir = qb_fixture_copy("run-small"), *root = qb_fixture_root(dir);
    char *out = NULL;
    assert_int_equal(qb_test_run_qbench(&out, "report '%s/nope'", root), 2);
    assert_non_null(strstr(out, "meta.csv: cannot open"));
    free(out);
    assert_int_equal(qb_fixture_write(dir, "meta.csv", "key,value\nschema_version,2\n"), 0);
    assert_int_equal(qb_test_run_qbench(&out, "report '%s'", dir), 2);
    assert_non_null(strstr(out, "meta.csv:2: schema_version 2 is newer than this qbench reads"));
    free(out);
    assert_int_equal(qb_fixture_write(dir, "meta.csv", "key,value\nschema_version,1\n"), 0);
    assert_int_equal(qb_fixture_write(dir, "results.csv", "cell_id,model\n\"abc,x\n"), 0);
    assert_int_equal(qb_test_run_qbench(&out, "report '%s'", dir), 2);
    assert_non_null(strstr(out, "results.csv:2: malformed CSV"));
    assert_int_equal(file_size(dir, "report.md"), -1);
    free(out);
    assert_int_equal(qb_test_run_qbench(&out, "report"), 2);
    assert_non_null(strstr(out, "usage: qbench report RUN"));
    free(out);
    qb_test_rmtree(root);
    free(root);
    free(dir);
}

static void test_pareto_and_budgets(void **state)
{
    (void)state;
    /* latency, accuracy: (1, 80) (2, 85) (2, 84) (3, 83) (4, 90) (NaN, 99) */
    double x[] = {2, 1, 2, 3, 4, NAN}, y[] = {85, 80, 84, 83, 90, 99};
    size_t front[6];
    size_t n = qb_pareto_front(x, y, 6, front);
    assert_int_equal(n, 3);
    assert_int_equal(front[0], 1);
    assert_int_equal(front[1], 0);
    assert_int_equal(front[2], 4);

    char *dir = qb_test_repo_path("tests/data/run-small");
    qb_run run;
    assert_int_equal(qb_run_load(dir, &run), QB_OK);
    qb_model_ref *m;
    size_t nm;
    assert_int_equal(qb_view_models(&run, &m, &nm), QB_OK);
    assert_int_equal(nm, 3);
    assert_string_equal(m[1].model, "lenet");
    assert_string_equal(m[1].placement, "core");
    assert_non_null(m[1].fp32);
    const qb_result *fast, *small;
    qb_view_best_under(&run, &m[0], 0.5, &fast, &small);
    char buf[128];
    assert_string_equal(qb_result_config(fast, buf, sizeof buf), "uniform-sym w8a8");
    qb_view_best_under(&run, &m[0], 20, &fast, &small);
    assert_string_equal(qb_result_config(fast, buf, sizeof buf), "binary w1a32 tensor");
    assert_string_equal(qb_result_config(small, buf, sizeof buf), "binary w1a32 tensor");
    qb_view_best_under(&run, &m[0], 0.01, &fast, &small);
    assert_null(fast);
    assert_null(small);
    free(m);
    qb_run_free(&run);
    free(dir);
}

/* One quantized cell for the budget tests: latency median and 95% interval,
 * drop, size. */
static qb_result budget_cell(double lat, double lo, double hi, double drop, double size, size_t line)
{
    return (qb_result){.model = "m", .scheme = "uniform-sym", .placement = "core", .scenario = "latency",
                       .status = "ok", .latency_ms_median = lat, .latency_ms_ci_low = lo,
                       .latency_ms_ci_high = hi, .drop_pp = drop, .size_bytes = size, .line = line};
}

static void test_budget_ties_follow_accuracy_not_noise(void **state)
{
    (void)state;
    qb_result cells[] = {
        budget_cell(1.00, 0.97, 1.04, 0.40, 100, 2), /* lowest median */
        budget_cell(1.02, 0.99, 1.05, 0.10, 100, 3), /* within its interval, more accurate */
        budget_cell(1.30, 1.25, 1.35, 0.00, 50, 4),  /* clearly slower, smallest, most accurate */
        budget_cell(1.01, 0.98, 1.03, 0.90, 100, 5), /* as fast, over the 0.5 budget */
        budget_cell(1.30, 1.26, 1.33, 0.05, 50, 6),  /* same size as cell 4, less accurate */
    };
    qb_run run = {.n_results = QB_ARRAY_LEN(cells), .results = cells};
    qb_model_ref m = {.model = "m", .placement = "core", .scenario = "latency"};
    const qb_result *fast, *small;
    qb_view_best_under(&run, &m, 0.5, &fast, &small);
    assert_ptr_equal(fast, &cells[1]);
    assert_ptr_equal(small, &cells[2]);
    /* without an overlap the lowest median wins even if less accurate */
    cells[1].latency_ms_ci_low = 1.05;
    qb_view_best_under(&run, &m, 0.5, &fast, &small);
    assert_ptr_equal(fast, &cells[0]);
    /* without intervals only equal medians tie */
    for (size_t i = 0; i < QB_ARRAY_LEN(cells); i++) cells[i].latency_ms_ci_low = cells[i].latency_ms_ci_high = NAN;
    cells[1].latency_ms_median = 1.00;
    qb_view_best_under(&run, &m, 0.5, &fast, &small);
    assert_ptr_equal(fast, &cells[1]);
    cells[1].latency_ms_median = 1.001;
    qb_view_best_under(&run, &m, 0.5, &fast, &small);
    assert_ptr_equal(fast, &cells[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_matches_golden_and_plots_render),
        cmocka_unit_test(test_report_printed_for_the_terminal),
        cmocka_unit_test(test_report_without_gnuplot_still_written),
        cmocka_unit_test(test_plot_command),
        cmocka_unit_test(test_report_bad_input_exit_2),
        cmocka_unit_test(test_pareto_and_budgets),
        cmocka_unit_test(test_budget_ties_follow_accuracy_not_noise),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
