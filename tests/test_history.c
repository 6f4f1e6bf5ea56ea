/* `qbench history` over five crafted nightly runs: a lasting slowdown is a
 * step, a one-night spike is not, a change in the latest run is flagged as
 * not yet confirmed; outputs and bad input. */
#include "qb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "csvread.h"
#include "run_fixture.h"

#define STEP_CELL "7b05298a8202295c"   /* mlp uniform-sym w8a8 on core */
#define SPIKE_CELL "f96ac178f0b0d53d"  /* lenet uniform-sym w4a8 on core */
#define LATEST_CELL "eb7f9354cce59641" /* mlp uniform-sym w8a8 on cores:2 */
#define ACC_CELL "adcdf53fd518e70d"    /* lenet uniform-sym w8a8 on core */

typedef struct {
    char *root, *run[5];
} nights;

static nights make_nights(void)
{
    nights n;
    char *first = qb_fixture_copy("run-small");
    n.root = qb_fixture_root(first);
    for (int i = 0; i < 5; i++) {
        char *cmd, date[32];
        assert_true(asprintf(&n.run[i], "%s/night%d", n.root, i + 1) > 0);
        assert_true(asprintf(&cmd, "cp -r '%s' '%s'", first, n.run[i]) > 0);
        assert_int_equal(system(cmd), 0);
        free(cmd);
        snprintf(date, sizeof date, "2026-11-%02dT02:00:00Z", 20 + i);
        qb_fixture_set_date(n.run[i], date);
    }
    qb_test_rmtree(first);
    free(first);
    for (int i = 2; i < 5; i++) qb_fixture_slow_down(n.run[i], STEP_CELL, 1.3); /* lasting, from night 3 */
    qb_fixture_slow_down(n.run[1], SPIKE_CELL, 1.4);                           /* night 2 only */
    qb_fixture_slow_down(n.run[4], LATEST_CELL, 0.7);                          /* faster on night 5 */
    return n;
}

static void free_nights(nights *n)
{
    qb_test_rmtree(n->root);
    free(n->root);
    for (int i = 0; i < 5; i++) free(n->run[i]);
}

static int count(const char *hay, const char *needle)
{
    int k = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) k++;
    return k;
}

static void test_steps_spikes_and_latest(void **state)
{
    (void)state;
    nights n = make_nights();
    char *out;
    /* given out of order: the dates decide */
    assert_int_equal(qb_test_run_qbench(&out, "history '%s' '%s' '%s' '%s' '%s'", n.run[4], n.run[0],
                                        n.run[3], n.run[1], n.run[2]), 0);
    assert_int_equal(count(out, "STEP "), 2);
    assert_non_null(strstr(out, "STEP worse at run #3 (night3): mlp uniform-sym w8a8 @ "
                                "core/latency [" STEP_CELL "]: 30.0% slower by speedup"));
    assert_non_null(strstr(out, "STEP better at run #5 (night5), not yet confirmed: mlp uniform-sym "
                                "w8a8 @ cores:2/latency [" LATEST_CELL "]"));
    assert_null(strstr(out, SPIKE_CELL));
    assert_non_null(strstr(out, "speedup of 38 cells over 5 runs, 2 steps"));
    free(out);

    char *csv_path;
    assert_true(asprintf(&csv_path, "%s/history.csv", n.run[4]) > 0);
    qb_csv_table t;
    assert_int_equal(qb_csv_read(csv_path, &t), QB_OK);
    assert_int_equal(t.nrows, 38 * 5);
    int id = qb_csv_column(&t, "cell_id"), run = qb_csv_column(&t, "run"), step = qb_csv_column(&t, "step");
    int flagged = 0;
    for (size_t i = 0; i < t.nrows; i++) {
        const char *s = qb_csv_get(&t, i, step);
        if (!*s) continue;
        flagged++;
        if (strcmp(qb_csv_get(&t, i, id), STEP_CELL) == 0) {
            assert_string_equal(qb_csv_get(&t, i, run), "night3");
            assert_string_equal(s, "worse");
        } else {
            assert_string_equal(qb_csv_get(&t, i, id), LATEST_CELL);
            assert_string_equal(s, "better?");
        }
    }
    assert_int_equal(flagged, 2);
    qb_csv_free(&t);
    free(csv_path);
    char *log, *png;
    assert_true(asprintf(&log, "%s/plots/history.log", n.run[4]) > 0);
    assert_true(asprintf(&png, "%s/plots/history.png", n.run[4]) > 0);
    struct stat st;
    assert_int_equal(stat(log, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(stat(png, &st), 0);
    assert_true(st.st_size > 5000);
    free(log);
    free(png);
    free_nights(&n);
}

static void test_accuracy_history_and_filters(void **state)
{
    (void)state;
    nights n = make_nights();
    for (int i = 3; i < 5; i++) {
        qb_fixture_lose_images(n.run[i], ACC_CELL, 60);
        assert_int_equal(qb_fixture_set(n.run[i], "results.csv", ACC_CELL, "accuracy", "89.35"), 0);
    }
    char *out, *dir;
    assert_true(asprintf(&dir, "%s/hist", n.root) > 0);
    assert_int_equal(qb_test_run_qbench(&out, "history '%s' '%s' '%s' '%s' '%s' --metric accuracy "
                                        "--model lenet --placement core -o '%s'", n.run[0], n.run[1],
                                        n.run[2], n.run[3], n.run[4], dir), 0);
    assert_int_equal(count(out, "STEP "), 1);
    assert_non_null(strstr(out, "STEP worse at run #4 (night4): lenet uniform-sym w8a8 @ "
                                "core/latency [" ACC_CELL "]"));
    assert_non_null(strstr(out, "accuracy -0.60 pp (89.95% -> 89.35%, McNemar mid-p = "));
    assert_non_null(strstr(out, "accuracy of 8 cells over 5 runs"));
    free(out);
    char *md_path;
    assert_true(asprintf(&md_path, "%s/history.md", dir) > 0);
    char *md = qb_test_read_file(md_path, NULL);
    assert_non_null(md);
    assert_non_null(strstr(md, "| 4 | night4 | 2026-11-23T02:00:00Z |"));
    assert_non_null(strstr(md, "**89.35 worse**"));
    free(md);
    free(md_path);
    free(dir);
    free_nights(&n);
}

static void test_history_bad_input(void **state)
{
    (void)state;
    nights n = make_nights();
    char *out;
    assert_int_equal(qb_test_run_qbench(&out, "history '%s' --metric ipc", n.run[0]), 2);
    assert_non_null(strstr(out, "--metric: expected speedup, latency or accuracy, got 'ipc'"));
    free(out);
    assert_int_equal(qb_test_run_qbench(&out, "history '%s' --model vgg", n.run[0]), 2);
    assert_non_null(strstr(out, "matches the filters"));
    free(out);
    assert_int_equal(qb_fixture_write(n.run[2], "meta.csv", "key,value\nschema_version,9\n"), 0);
    assert_int_equal(qb_test_run_qbench(&out, "history '%s' '%s'", n.run[0], n.run[2]), 2);
    assert_non_null(strstr(out, "night3/meta.csv:2: schema_version 9 is newer"));
    free(out);
    free_nights(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steps_spikes_and_latest),
        cmocka_unit_test(test_accuracy_history_and_filters),
        cmocka_unit_test(test_history_bad_input),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("history", tests, NULL, NULL);
}
