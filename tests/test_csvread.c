/* The CSV reader and the run loader on the committed run folder, and the
 * messages they give for malformed input (file:line, what to do). */
#include "qb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvread.h"
#include "run.h"
#include "run_fixture.h"

static void test_loads_committed_run(void **state)
{
    (void)state;
    char *dir = qb_test_repo_path("tests/data/run-small");
    qb_run run;
    assert_int_equal(qb_run_load(dir, &run), QB_OK);
    assert_int_equal(run.schema_version, 1);
    assert_int_equal(run.n_results, 44);
    assert_string_equal(qb_run_meta(&run, "topology"), "1 package, 1 numa, 2 cores, 2 pus");
    /* a field with newlines (the spec) */
    assert_non_null(strstr(qb_run_meta(&run, "spec"), "placements = core cores:2\n"));
    assert_null(qb_run_meta(&run, "no-such-key"));
    /* counters discovered from the header, in order */
    assert_int_equal(run.n_counters, 8);
    assert_string_equal(run.counter_names[0], "ctr:PAPI_TOT_CYC");
    assert_string_equal(run.counter_names[5], "ctr:sde:::qbench::macs/inf");
    const qb_result *r0 = &run.results[0];
    assert_string_equal(r0->model, "mlp");
    assert_true(qb_result_is_fp32(r0));
    assert_true(isnan(qb_run_counter(&run, r0, 0)));          /* not counted on a VM */
    assert_true(qb_run_counter(&run, r0, 5) == 235008);        /* macs per image */
    assert_int_equal(r0->n_samples, 7);
    assert_true(r0->samples[0] == 0.0413962 && r0->samples[1] == 0.0419651);
    assert_non_null(r0->outcomes);
    assert_int_equal(r0->n_outcomes, 10000);
    assert_true(qb_run_find(&run, r0->id) == r0);
    /* the crashed cell: quoted detail with a comma, no measurements */
    int crashed = 0;
    for (size_t i = 0; i < run.n_results; i++) {
        const qb_result *r = &run.results[i];
        if (qb_result_ok(r)) continue;
        crashed++;
        assert_string_equal(r->status, "crashed");
        assert_string_equal(r->status_detail, "SIGSEGV, address not mapped (signal 11)");
        assert_true(isnan(r->accuracy) && isnan(r->latency_ms_median));
        assert_int_equal(r->n_samples, 0);
        assert_null(r->outcomes);          /* outcomes only for the `core` cells */
    }
    assert_int_equal(crashed, 1);
    assert_true(run.has_layers);
    assert_int_equal(run.n_layers, 15); /* three bit widths x five layers */
    assert_string_equal(run.layers[4].layer, "fc3");
    char buf[96];
    assert_string_equal(qb_result_config(&run.results[6], buf, sizeof buf),
                        "uniform-sym w4a8 mse bias");
    qb_run_free(&run);
    free(dir);
}

/* Each bad file is written into a copy of the fixture, loaded, and the
 * message must name the file and line. */
static void expect_load_error(const char *file, const char *text, qb_status want,
                              const char *needle)
{
    char *dir = qb_fixture_copy("run-small");
    assert_non_null(dir);
    assert_int_equal(qb_fixture_write(dir, file, text), 0);
    qb_run run;
    qb_status s = qb_run_load(dir, &run);
    if (s != want || !strstr(qb_last_error(), needle))
        fail_msg("loading %s: status %d, message '%s'; expected %d with '%s'", file, s,
                 qb_last_error(), want, needle);
    char *root = qb_fixture_root(dir);
    qb_test_rmtree(root);
    free(root);
    free(dir);
}

static void test_malformed_files_name_file_and_line(void **state)
{
    (void)state;
    expect_load_error("samples.csv", "cell_id,rep,latency_ms\nd6542d2d6c18f1ee,0,0.04\n"
                      "d6542d2d6c18f1ee,1,0.0\"4\n", QB_ERR_FORMAT, "samples.csv:3: malformed CSV");
    expect_load_error("samples.csv", "cell_id,rep,latency_ms\nd6542d2d6c18f1ee,0,0.04\n\n"
                      "d6542d2d6c18f1ee,1\n", QB_ERR_FORMAT, "samples.csv:4: 2 fields, but the header has 3");
    expect_load_error("samples.csv", "cell_id,rep,latency_ms\nd6542d2d6c18f1ee,0,fast\n",
                      QB_ERR_FORMAT, "samples.csv:2: column latency_ms: expected a number, got 'fast'");
    expect_load_error("samples.csv", "cell_id,rep,latency_ms\nzz50a66ab7ecf571,0,1\n",
                      QB_ERR_FORMAT, "samples.csv:2: cell_id 'zz50a66ab7ecf571' is not 16 hex digits");
    expect_load_error("samples.csv", "cell_id,rep,latency_ms\nd6542d2d6c18f1ee,0,\"1\n",
                      QB_ERR_FORMAT, "samples.csv:2: malformed CSV: a quoted field is not closed");
    expect_load_error("samples.csv", "cell_id,rep\n", QB_ERR_FORMAT,
                      "samples.csv:1: the header has no column 'latency_ms'");
    expect_load_error("samples.csv", "", QB_ERR_FORMAT, "samples.csv: empty file");
    /* A quoted field over three lines moves the next record's line number. */
    expect_load_error("meta.csv", "key,value\nschema_version,1\nspec,\"a\nb\nc\"\nx\n",
                      QB_ERR_FORMAT, "meta.csv:6: 1 field, but the header has 2");
    expect_load_error("meta.csv", "key,value\nschema_version,2\n", QB_ERR_UNSUPPORTED,
                      "meta.csv:2: schema_version 2 is newer than this qbench reads (1)");
    expect_load_error("meta.csv", "key,value\nhost,x\n", QB_ERR_FORMAT, "no schema_version row");
    expect_load_error("outcomes.csv", "cell_id,n,correct_hex\nd6542d2d6c18f1ee,16,ff\n",
                      QB_ERR_FORMAT, "outcomes.csv:2: correct_hex has 2 hex digits; n = 16 images needs 4");
}

static void test_results_errors_and_unknown_columns(void **state)
{
    (void)state;
    char *dir = qb_fixture_copy("run-small");
    char *root = qb_fixture_root(dir);
    qb_run run;
    /* A column from a future minor version is ignored. */
    assert_int_equal(qb_fixture_set(dir, "results.csv", NULL, "ipc", "1.5"), 0);
    char *path, *text;
    assert_true(asprintf(&path, "%s/results.csv", dir) > 0);
    text = qb_test_read_file(path, NULL);
    assert_non_null(text);
    /* append ",future" to the header and ",7" to every record */
    size_t len = strlen(text), n = 0;
    char *out = malloc(len * 2 + 64);
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n') {
            const char *add = n == 0 ? ",future_column" : ",7";
            memcpy(out + n, add, strlen(add));
            n += strlen(add);
        }
        out[n++] = text[i];
    }
    out[n] = '\0';
    assert_int_equal(qb_fixture_write(dir, "results.csv", out), 0);
    assert_int_equal(qb_run_load(dir, &run), QB_OK);
    assert_true(run.results[3].ipc == 1.5);
    qb_run_free(&run);

    /* A bad number in results.csv names the column and the line. */
    assert_int_equal(qb_fixture_set(dir, "results.csv", "7b05298a8202295c", "accuracy", "88.6%"), 0);
    assert_int_equal(qb_run_load(dir, &run), QB_ERR_FORMAT);
    assert_non_null(strstr(qb_last_error(), "results.csv:4: column accuracy: expected a number, got '88.6%'"));
    /* A duplicated cell is refused. */
    assert_int_equal(qb_fixture_set(dir, "results.csv", "7b05298a8202295c", "accuracy", "88.6"), 0);
    assert_int_equal(qb_fixture_set(dir, "results.csv", "eb7f9354cce59641", "cell_id", "7b05298a8202295c"), 0);
    assert_int_equal(qb_run_load(dir, &run), QB_ERR_FORMAT);
    assert_non_null(strstr(qb_last_error(), "results.csv:5: cell 7b05298a8202295c appears twice (also on line 4)"));
    /* No results.csv: not a run folder. */
    char *cmd;
    assert_true(asprintf(&cmd, "rm '%s'", path) > 0);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(qb_run_load(dir, &run), QB_ERR_IO);
    assert_non_null(strstr(qb_last_error(), "results.csv: cannot open"));
    assert_non_null(strstr(qb_last_error(), "a qbench run folder"));
    free(cmd);
    free(out);
    free(text);
    free(path);
    qb_test_rmtree(root);
    free(root);
    free(dir);
}

static void test_crlf_and_bom(void **state)
{
    (void)state;
    char *dir = qb_test_tmpdir();
    assert_int_equal(qb_fixture_write(dir, "t.csv", "\xEF\xBB\xBF" "a,b\r\n1,\"x\r\ny\"\r\n\r\n2,z\r\n"), 0);
    char *path;
    assert_true(asprintf(&path, "%s/t.csv", dir) > 0);
    qb_csv_table t;
    assert_int_equal(qb_csv_read(path, &t), QB_OK);
    assert_int_equal(t.ncols, 2);
    assert_string_equal(t.header[0], "a");
    assert_int_equal(t.nrows, 2);
    assert_string_equal(qb_csv_get(&t, 0, 1), "x\r\ny");
    assert_int_equal(t.line[0], 2);
    assert_int_equal(t.line[1], 5);
    assert_int_equal(qb_csv_column(&t, "b"), 1);
    assert_int_equal(qb_csv_column(&t, "c"), -1);
    assert_string_equal(qb_csv_get(&t, 1, -1), "");
    qb_csv_free(&t);
    free(path);
    qb_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loads_committed_run),
        cmocka_unit_test(test_malformed_files_name_file_and_line),
        cmocka_unit_test(test_results_errors_and_unknown_columns),
        cmocka_unit_test(test_crlf_and_bom),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("csvread", tests, NULL, NULL);
}
