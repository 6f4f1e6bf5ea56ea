/* The harness commands through the qbench binary: bad input gives a message
 * naming the file, line or flag and exit status 2; topo and counters report
 * what they see; a real sweep cell of group-scaled weights is timed. */
#include "qb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Runs qbench; checks the exit status and that the output holds `needle`. */
static void expect(int want_rc, const char *needle, const char *fmt, const char *arg)
{
    char *out = NULL;
    int rc = qb_test_run_qbench(&out, fmt, arg);
    if (rc != want_rc || !out || !strstr(out, needle))
        fail_msg("qbench %s: exit %d (want %d), output:\n%s\nwanted: %s", fmt, rc, want_rc, out ? out : "",
                 needle);
    free(out);
}

static void test_bad_input_exits_2(void **state)
{
    (void)state;
    char *dir = qb_test_tmpdir(), spec[600];
    snprintf(spec, sizeof spec, "%s/bad.ini", dir);
    FILE *f = fopen(spec, "w");
    fputs("[grid]\n# fine so far\nmodelz = mlp\n", f);
    fclose(f);
    expect(2, "bad.ini:3: unknown key 'modelz' in [grid]", "sweep --spec '%s'", spec);
    expect(2, "bad.ini.missing: No such file", "sweep --spec '%s.missing'", spec);
    expect(2, "unknown flag '--nope'", "sweep --nope%s", "");
    expect(2, "--shard: shard 3 of 2 does not exist", "sweep --shard 3/2%s", "");
    expect(2, "contradict", "sweep --quiet --verbose%s", "");
    expect(2, "--repetitions: repetitions: expected an integer", "sweep --repetitions many%s", "");
    expect(2, "--models: models: unknown model 'nosuch'", "sweep --dry-run --models nosuch%s", "");
    expect(2, "--resume /nonexistent/run: no meta.csv", "sweep --resume /nonexistent/run%s", "");
    expect(2, "--grids: the spec has no sub-grid 'nosuch' (its sub-grids: granularity, ", "sweep --dry-run --grids nosuch%s", "");
    f = fopen(spec, "w");
    fputs("[grid]\nmodels = mlp\n[grid.x]\ncalib = mse\n[grid.x]\n", f);
    fclose(f);
    expect(2, "bad.ini:5: [grid.x] is already defined at line 3", "sweep --dry-run --spec '%s'", spec);
    expect(2, "not a valid hwloc synthetic description", "topo --topology 'pack:x'%s", "");
    expect(2, "give the run folders and -o OUT", "merge%s", "");
    expect(2, "no meta.csv; not a qbench run folder", "merge '%s' -o /tmp/never-created-qb", dir);
    qb_test_rmtree(dir);
    free(dir);
}

static void test_topo_and_counters(void **state)
{
    (void)state;
    const char *big = "topo --topology 'pack:2 numa:2 core:8 pu:2'%s";
    expect(0, "2 packages, 4 numa, 0 l3, 32 cores, 64 pus", big, "");
    expect(0, "numa:3", big, "");
    expect(0, "cores:4:scatter      4 threads  PUs 0-1,16-17,32-33,48-49", big, "");
    expect(0, "planning only", big, "");
    expect(0, "placements (default", "topo%s", "");
    expect(0, "sde:::qbench::macs           counted", "counters%s", "");
    expect(0, "not counted: ", "counters --events PAPI_TOT_CYC,nosuch::EV%s", "");
}

static void test_dry_run_plans_on_any_topology(void **state)
{
    (void)state;
    /* --grids none: the default spec's [grid] alone */
    const char *big = "sweep --dry-run --grids none --topology 'pack:2 numa:2 core:8 pu:2' --models mlp --schemes binary "
                      "--placements default,cores:4:scatter%s";
    /* fp32 + binary (1 bit) x 8 placements x 2 scenarios */
    expect(0, "# 32 cells", big, "");
    expect(0, "numa:3                 8 48-63", big, "");
    expect(0, "cores:4:scatter        4 0-1,16-17,32-33,48-49", big, "");
    expect(0, "# estimated time: ", big, "");
    expect(0, "(shard 2/3 of 28)", "sweep --dry-run --grids none --models mlp --schemes binary --shard 2/3 "
           "--topology 'pack:2 numa:2 core:8 pu:2'%s", "");
    expect(2, "--placements: placements: placement 'cores:64': asks for 64 threads but the topology has 32 cores",
           "sweep --dry-run --topology 'pack:2 numa:2 core:8 pu:2' --placements cores:64%s", "");
    expect(2, "--wbits: wbits: scheme 'binary' does not take 8 bits (it takes 1)",
           "sweep --dry-run --schemes binary --wbits 8%s", "");
    /* a sweep cannot run on a planning topology */
    expect(2, "synthetic or XML topology is for planning",
           "sweep --topology 'pack:2 core:2 pu:1' --models mlp --schemes binary --out /tmp/qb-never%s", "");
}

static void test_missing_model_fails_before_any_folder(void **state)
{
    (void)state;
    char *dir = qb_test_tmpdir(), out[600], models[600];
    snprintf(out, sizeof out, "%s/results", dir);
    snprintf(models, sizeof models, "%s/no-models", dir);
    setenv("QBENCH_MODELS", models, 1);
    expect(2, "train it with `qbench train mlp`", "sweep --models mlp --schemes binary --out '%s'", out);
    unsetenv("QBENCH_MODELS");
    assert_int_equal(access(out, F_OK), -1);
    qb_test_rmtree(dir);
    free(dir);
}

/* The sweep's W4A8 group:32 rows run on the 4-bit group kernel: timed, and
 * the backend column names it ("avx512-vnni-int4g" on this CPU). */
static void test_group_rows_are_timed(void **state)
{
    (void)state;
    char *dir = qb_test_tmpdir(), *out = NULL, path[700];
    int rc = qb_test_run_qbench(&out, "sweep --grids none --models mlp --schemes uniform-asym --wbits 4 "
                                "--granularity group:32 --placements core --scenarios latency --warmup 0 "
                                "--repetitions 1 --min-time 0 --quiet --out '%s'", dir);
    if (rc != 0) fail_msg("qbench sweep: exit %d, output:\n%s", rc, out ? out : "");
    free(out);
    snprintf(path, sizeof path, "%s/latest/results.csv", dir);
    char *csv = qb_test_read_file(path, NULL);
    assert_non_null(csv);
    char *row = strstr(csv, ",group:32,");
    assert_non_null(row);
    char *end = strchr(row, '\n');
    if (end) *end = 0;
    if (!strstr(row, "-int4g,") || strstr(row, "not timed") || !strstr(row, ",ok,"))
        fail_msg("the group:32 row is not timed on the 4-bit group kernel: %s", row);
    free(csv);
    qb_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input_exits_2),
        cmocka_unit_test(test_topo_and_counters),
        cmocka_unit_test(test_dry_run_plans_on_any_topology),
        cmocka_unit_test(test_missing_model_fails_before_any_folder),
        cmocka_unit_test(test_group_rows_are_timed),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("cli_sweep", tests, NULL, NULL);
}
