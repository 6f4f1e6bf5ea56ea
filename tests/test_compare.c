/* `qbench compare` on crafted copies of the committed run: the report's
 * verdicts, provenance side by side with differences highlighted, the
 * per-cell CSV and the overlaid plots. */
#include "qb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "csvread.h"
#include "run_fixture.h"

static long file_size(const char *dir, const char *file)
{
    char *p;
    if (asprintf(&p, "%s/%s", dir, file) < 0) return -1;
    struct stat st;
    long n = stat(p, &st) == 0 ? (long)st.st_size : -1;
    free(p);
    return n;
}

static void test_compare_report(void **state)
{
    (void)state;
    char *base = qb_fixture_copy("run-small"), *root = qb_fixture_root(base), *cur, *out_dir, *cmd;
    assert_true(asprintf(&cur, "%s/cur", root) > 0);
    assert_true(asprintf(&out_dir, "%s/cmp", root) > 0);
    assert_true(asprintf(&cmd, "cp -r '%s' '%s'", base, cur) > 0);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    /* lenet uniform-sym w4a8 on core: 40% slower; a new compiler; one cell gone */
    const char *slow = "f96ac178f0b0d53d";
    assert_int_equal(qb_fixture_scale(cur, "samples.csv", slow, "latency_ms", 1.4), 0);
    assert_int_equal(qb_fixture_scale(cur, "results.csv", slow, "latency_ms_median", 1.4), 0);
    assert_int_equal(qb_fixture_drop(cur, "results.csv", "eb7f9354cce59641"), 0);
    char *meta_path;
    assert_true(asprintf(&meta_path, "%s/meta.csv", cur) > 0);
    char *meta = qb_test_read_file(meta_path, NULL);
    char *at = strstr(meta, "gcc 12.2.0");
    memcpy(at, "gcc 13.1.0", 10);
    assert_int_equal(qb_fixture_write(cur, "meta.csv", meta), 0);
    free(meta);
    free(meta_path);

    char *out;
    assert_int_equal(qb_test_run_qbench(&out, "compare '%s' '%s' -o '%s'", base, cur, out_dir), 0);
    assert_non_null(strstr(out, "44 cells: 1 regressed, 0 improved, 42 unchanged, 0 new, 1 missing"));
    free(out);
    char *md_path, *csv_path;
    assert_true(asprintf(&md_path, "%s/compare.md", out_dir) > 0);
    assert_true(asprintf(&csv_path, "%s/compare.csv", out_dir) > 0);
    char *md = qb_test_read_file(md_path, NULL);
    assert_non_null(md);
    assert_non_null(strstr(md, "Changed between the runs: **compiler**."));
    assert_non_null(strstr(md, "| compiler | **gcc 12.2.0** | **gcc 13.1.0** |"));
    assert_non_null(strstr(md, "| host | bench-vm-01 | bench-vm-01 |"));
    assert_non_null(strstr(md, "## Regressed, worst first\n\n- lenet uniform-sym w4a8 mse bias "
                               "@ core/latency [f96ac178f0b0d53d]: 40.0% slower by latency"));
    assert_non_null(strstr(md, "## Missing from the current run"));
    assert_non_null(strstr(md, "| lenet | uniform-sym w4a8 mse bias | core/latency | **regressed** |"));
    assert_non_null(strstr(md, "![Both runs overlaid"));
    free(md);
    /* compare.csv reads back with the same reader, one row per cell */
    qb_csv_table t;
    assert_int_equal(qb_csv_read(csv_path, &t), QB_OK);
    assert_int_equal(t.nrows, 44);
    int v = qb_csv_column(&t, "verdict"), id = qb_csv_column(&t, "cell_id"),
        ratio = qb_csv_column(&t, "ratio"), test = qb_csv_column(&t, "acc_test");
    int found = 0;
    for (size_t i = 0; i < t.nrows; i++)
        if (strcmp(qb_csv_get(&t, i, id), slow) == 0) {
            found = 1;
            assert_string_equal(qb_csv_get(&t, i, v), "regressed");
            assert_true(strtod(qb_csv_get(&t, i, ratio), NULL) > 1.399);
            assert_string_equal(qb_csv_get(&t, i, test), "McNemar mid-p");
        }
    assert_true(found);
    qb_csv_free(&t);
    assert_true(file_size(out_dir, "compare.html") > 20000);
    assert_true(file_size(out_dir, "plots/compare_pareto.png") > 5000);
    assert_true(file_size(out_dir, "plots/compare_change.svg") > 5000);
    assert_int_equal(file_size(out_dir, "plots/compare_pareto.log"), 0);
    assert_int_equal(file_size(out_dir, "plots/compare_change.log"), 0);
    free(md_path);
    free(csv_path);
    free(out_dir);
    free(cur);
    qb_test_rmtree(root);
    free(root);
    free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare_report),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("compare", tests, NULL, NULL);
}
