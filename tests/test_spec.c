/* Tests for the sweep spec (bench/spec.c): parsing, errors with file:line,
 * overrides, resolution against models/vocabulary/topology, canonical form. */
#include "qb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_workloads.h"
#include "spec.h"
#include "spec_default.h"
#include "topo.h"

static qb_topo *two_cores(void)
{
    qb_topo *t;
    assert_int_equal(qb_topo_load(&t, "pack:1 core:2 pu:1"), QB_OK);
    return t;
}

static const char *good =
    "# a small sweep\n"
    "[grid]\n"
    "models = matmul , crash   # inline comment\n"
    "schemes = uniform-sym, binary\n"
    "wbits = 8, 4, 1\n"
    "abits = 8\n"
    "granularity = channel, group:32\n"
    "calib = minmax, percentile:99.9\n"
    "placements = core, cores:2:scatter\n"
    "scenarios = latency\n"
    "\n"
    "; a semicolon comment\n"
    "[timing]\n"
    "batch = 16\n"
    "min_time = 0.05\n"
    "[counters]\n"
    "events = sde:::qbench::macs\n";

static void test_parse_and_resolve(void **state)
{
    (void)state;
    qb_spec s;
    assert_int_equal(qb_spec_init(&s), QB_OK);
    assert_int_equal(qb_spec_parse_text(&s, "t.ini", good), QB_OK);
    qb_topo *t = two_cores();
    assert_int_equal(qb_spec_resolve(&s, &tw_set, t), QB_OK);
    const qb_strlist *m = qb_spec_list(&s, QB_SK_MODELS);
    assert_int_equal(m->n, 2);
    assert_string_equal(m->items[0], "matmul");
    assert_string_equal(m->items[1], "crash");
    assert_int_equal(qb_spec_int(&s, QB_SK_BATCH), 16);
    assert_true(qb_spec_double(&s, QB_SK_MIN_TIME) == 0.05);
    assert_int_equal(qb_spec_int(&s, QB_SK_REPETITIONS), 5); /* default kept */
    /* scatter is kept in the canonical placement name, compact is not */
    const qb_strlist *p = qb_spec_list(&s, QB_SK_PLACEMENTS);
    assert_int_equal(p->n, 2);
    assert_string_equal(p->items[1], "cores:2:scatter");
    char *canon = qb_spec_canonical(&s);
    assert_non_null(strstr(canon, "[grid]\nmodels = matmul, crash\n"));
    assert_non_null(strstr(canon, "wbits = 8, 4, 1\n"));
    assert_non_null(strstr(canon, "[counters]\nevents = sde:::qbench::macs\n"));

    /* the canonical text parses back to the same hash */
    char h1[17], h2[17];
    qb_spec_hash(&s, h1);
    qb_spec s2;
    assert_int_equal(qb_spec_init(&s2), QB_OK);
    assert_int_equal(qb_spec_parse_text(&s2, "canon", canon), QB_OK);
    assert_int_equal(qb_spec_resolve(&s2, &tw_set, t), QB_OK);
    qb_spec_hash(&s2, h2);
    assert_string_equal(h1, h2);
    /* and any change of value changes it */
    assert_int_equal(qb_spec_set(&s2, QB_SK_BATCH, "17", "--batch"), QB_OK);
    assert_int_equal(qb_spec_resolve(&s2, &tw_set, t), QB_OK);
    qb_spec_hash(&s2, h2);
    assert_string_not_equal(h1, h2);
    free(canon);
    qb_spec_free(&s2);
    qb_spec_free(&s);
    qb_topo_free(t);
}

/* Parses `text`; expects QB_ERR_ARG and a message holding each needle. */
static void expect_error(const char *text, const char *needle1, const char *needle2)
{
    qb_spec s;
    assert_int_equal(qb_spec_init(&s), QB_OK);
    qb_status st = qb_spec_parse_text(&s, "bad.ini", text);
    if (st == QB_OK) {
        qb_topo *t = two_cores();
        st = qb_spec_resolve(&s, &tw_set, t);
        qb_topo_free(t);
    }
    if (st != QB_ERR_ARG || !strstr(qb_last_error(), needle1) || (needle2 && !strstr(qb_last_error(), needle2)))
        fail_msg("for spec:\n%s\ngot status %d, message: %s\nwanted: %s / %s", text, st, qb_last_error(),
                 needle1, needle2 ? needle2 : "");
    qb_spec_free(&s);
}

static void test_errors_name_file_and_line(void **state)
{
    (void)state;
    expect_error("[grid]\nmodelz = matmul\n", "bad.ini:2: unknown key 'modelz' in [grid]", "known: models");
    expect_error("[grud]\n", "bad.ini:1: unknown section '[grud]'", NULL);
    expect_error("models = matmul\n", "bad.ini:1", "key 'models' belongs in [grid]");
    expect_error("[timing]\nmodels = matmul\n", "bad.ini:2: key 'models' belongs in [grid], not [timing]", NULL);
    expect_error("[grid]\nmodels =\n", "bad.ini:2: models: empty value", NULL);
    expect_error("[grid]\nmodels = matmul,,crash\n", "bad.ini:2: models: empty item", NULL);
    expect_error("[grid]\nmodels = matmul\nmodels = crash\n", "bad.ini:3: 'models' is already set at line 2", NULL);
    expect_error("[grid]\njust words\n", "bad.ini:2: expected 'key = value'", NULL);
    expect_error("[timing]\nbatch = lots\n", "bad.ini:2: batch: expected an integer, got 'lots'", NULL);
    expect_error("[timing]\nbatch = 0\n", "bad.ini:2: batch: 0 is out of range", NULL);
    expect_error("[timing]\nmin_time = 1, 2\n", "bad.ini:2: min_time: takes one number", NULL);
    expect_error("[grid]\nmodels = mat mul\n", "bad.ini:2: models: 'mat mul' contains a space", NULL);
    /* resolution errors keep the line of the key */
    expect_error("[grid]\nmodels = nosuch\n", "bad.ini:2: models", "unknown model 'nosuch' (known: matmul, crash");
    expect_error("[grid]\nmodels = matmul\nschemes = uniform-sym, nosuch\n", "bad.ini:3: schemes",
                 "unknown scheme 'nosuch'");
    expect_error("[grid]\nmodels = matmul\nschemes = binary\nwbits = 8\n", "bad.ini:4: wbits",
                 "scheme 'binary' does not take 8 bits (it takes 1)");
    expect_error("[grid]\nmodels = matmul\nplacements = cores:4\n", "bad.ini:3: placements",
                 "asks for 4 threads but the topology has 2 cores");
    expect_error("[grid]\nmodels = matmul\nplacements = numa:1\n", "bad.ini:3", "the topology has 1 NUMA node");
    expect_error("[grid]\nmodels = matmul\nplacements = core, core:0\n", "bad.ini:3", "listed twice");
    expect_error("[grid]\nmodels = matmul\nplacements = sockets\n", "placement 'sockets': unknown kind", NULL);
    expect_error("[grid]\nmodels = matmul\ngranularity = row\n", "bad.ini:3", "unknown granularity 'row'");
    expect_error("[grid]\nmodels = matmul\ncalib = percentile:101\n", "bad.ini:3", "P must be a number with 50 < P <= 100");
    expect_error("[grid]\nmodels = matmul\nscenarios = latency, bulk\n", "bad.ini:3", "unknown scenario 'bulk'");
    expect_error("[grid]\nmodels = matmul\nschemes = fp32\n", "fp32 is the baseline", NULL);
    expect_error("[grid]\nmodels = matmul\nbackend = auto, cuda\n", "bad.ini:3: backend", "unknown backend 'cuda' (auto, ");
    expect_error("[grid]\nmodels = matmul\n[counters]\nevents = a, none\n", "bad.ini:4", "'none' must be the only item");
}

static void test_overrides_and_all(void **state)
{
    (void)state;
    qb_spec s;
    assert_int_equal(qb_spec_init(&s), QB_OK);
    assert_int_equal(qb_spec_parse_text(&s, "t.ini", "[grid]\nmodels = matmul\n"), QB_OK);
    assert_int_equal(qb_spec_set(&s, QB_SK_WBITS, "4", "--wbits"), QB_OK);
    qb_topo *t = two_cores();
    /* schemes = all with wbits 4: the schemes that take 4 bits, no others */
    assert_int_equal(qb_spec_resolve(&s, &tw_set, t), QB_OK);
    const qb_strlist *sc = qb_spec_list(&s, QB_SK_SCHEMES);
    assert_true(sc->n >= 3);
    for (int i = 0; i < sc->n; i++) {
        assert_string_not_equal(sc->items[i], "binary");
        assert_string_not_equal(sc->items[i], "fp16");
    }
    /* a bad override names the flag */
    assert_int_equal(qb_spec_set(&s, QB_SK_REPETITIONS, "-3", "--repetitions"), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "--repetitions: repetitions: -3 is out of range"));
    /* wbits = all expands to every width of the chosen schemes, widest first */
    assert_int_equal(qb_spec_set(&s, QB_SK_WBITS, "all", "--wbits"), QB_OK);
    assert_int_equal(qb_spec_set(&s, QB_SK_SCHEMES, "binary, fp16", "--schemes"), QB_OK);
    assert_int_equal(qb_spec_resolve(&s, &tw_set, t), QB_OK);
    const qb_strlist *wb = qb_spec_list(&s, QB_SK_WBITS);
    assert_int_equal(wb->n, 2);
    assert_string_equal(wb->items[0], "16");
    assert_string_equal(wb->items[1], "1");
    /* events = none: no counters */
    assert_int_equal(qb_spec_set(&s, QB_SK_EVENTS, "none", "--events"), QB_OK);
    assert_int_equal(qb_spec_resolve(&s, &tw_set, t), QB_OK);
    assert_int_equal(qb_spec_list(&s, QB_SK_EVENTS)->n, 0);
    char *canon = qb_spec_canonical(&s);
    assert_non_null(strstr(canon, "events = none\n"));
    free(canon);
    qb_spec_free(&s);
    qb_topo_free(t);
}

static void test_default_spec_and_files(void **state)
{
    (void)state;
    /* the embedded default parses (its models are the built-in ones) */
    qb_spec s;
    assert_int_equal(qb_spec_init(&s), QB_OK);
    assert_int_equal(qb_spec_parse_text(&s, QB_DEFAULT_SPEC_NAME, qb_default_spec_text), QB_OK);
    assert_int_equal(qb_spec_list(&s, QB_SK_EVENTS)->n, 9);
    qb_spec_free(&s);

    char *dir = qb_test_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/s.ini", dir);
    FILE *f = fopen(path, "w");
    fputs("[grid]\nmodels = matmul\n[timing]\nwarmup = x\n", f);
    fclose(f);
    assert_int_equal(qb_spec_init(&s), QB_OK);
    assert_int_equal(qb_spec_parse_file(&s, path), QB_ERR_ARG);
    char want[700];
    snprintf(want, sizeof want, "%s:4: warmup: expected an integer, got 'x'", path);
    assert_string_equal(qb_last_error(), want);
    snprintf(path, sizeof path, "%s/missing.ini", dir);
    assert_int_equal(qb_spec_parse_file(&s, path), QB_ERR_IO);
    assert_non_null(strstr(qb_last_error(), "missing.ini"));
    qb_spec_free(&s);
    qb_test_rmtree(dir);
    free(dir);
}

static const char *with_subs =
    "[grid]\n"
    "models = matmul\n"
    "schemes = uniform-sym\n"
    "wbits = 8\n"
    "placements = core\n"
    "scenarios = latency\n"
    "[grid.calibration]\n"
    "wbits = 8, 4\n"
    "calib = minmax, mse\n"
    "[grid.more-models_2]\n"
    "models = matmul, crash\n"
    "[timing]\n"
    "batch = 8\n";

static char *canonical_of(const char *text, char hash[17])
{
    qb_spec s;
    assert_int_equal(qb_spec_init(&s), QB_OK);
    assert_int_equal(qb_spec_parse_text(&s, "c.ini", text), QB_OK);
    qb_topo *t = two_cores();
    if (qb_spec_resolve(&s, &tw_set, t) != QB_OK) fail_msg("%s", qb_last_error());
    char *canon = qb_spec_canonical(&s);
    qb_spec_hash(&s, hash);
    qb_spec_free(&s);
    qb_topo_free(t);
    return canon;
}

static void test_subgrids_inherit_and_hash(void **state)
{
    (void)state;
    qb_spec s;
    assert_int_equal(qb_spec_init(&s), QB_OK);
    assert_int_equal(qb_spec_parse_text(&s, "t.ini", with_subs), QB_OK);
    qb_topo *t = two_cores();
    if (qb_spec_resolve(&s, &tw_set, t) != QB_OK) fail_msg("%s", qb_last_error());
    assert_int_equal(qb_spec_n_grids(&s), 3);
    assert_string_equal(qb_spec_grid_name(&s, 0), "grid");
    assert_string_equal(qb_spec_grid_name(&s, 1), "grid.calibration");
    assert_string_equal(qb_spec_grid_name(&s, 2), "grid.more-models_2");
    /* own keys, and the rest from [grid] */
    assert_int_equal(qb_spec_grid_list(&s, 1, QB_SK_WBITS)->n, 2);
    assert_string_equal(qb_spec_grid_list(&s, 1, QB_SK_CALIB)->items[1], "mse");
    assert_int_equal(qb_spec_grid_list(&s, 1, QB_SK_MODELS)->n, 1);
    assert_string_equal(qb_spec_grid_list(&s, 1, QB_SK_PLACEMENTS)->items[0], "core");
    assert_int_equal(qb_spec_grid_list(&s, 2, QB_SK_MODELS)->n, 2);
    assert_int_equal(qb_spec_grid_list(&s, 2, QB_SK_WBITS)->n, 1);
    assert_string_equal(qb_spec_grid_list(&s, 2, QB_SK_CALIB)->items[0], "minmax");
    /* keys outside [grid] are the spec's */
    assert_ptr_equal(qb_spec_grid_list(&s, 2, QB_SK_BATCH), qb_spec_list(&s, QB_SK_BATCH));
    assert_int_equal(qb_spec_int(&s, QB_SK_BATCH), 8);

    /* the canonical text has every sub-grid, all keys, between [grid] and [timing] */
    char *canon = qb_spec_canonical(&s);
    const char *sub = strstr(canon, "[grid.calibration]\nmodels = matmul\nschemes = uniform-sym\nwbits = 8, 4\n");
    assert_non_null(sub);
    assert_non_null(strstr(sub, "calib = minmax, mse\n"));
    const char *sub2 = strstr(canon, "[grid.more-models_2]\nmodels = matmul, crash\n");
    assert_non_null(sub2);
    assert_true(sub2 > sub);
    assert_true(strstr(canon, "[timing]") > sub2);
    assert_true(strstr(canon, "[grid]\n") < sub);
    /* it parses back to the same hash */
    char h1[17], h2[17], h3[17];
    qb_spec_hash(&s, h1);
    char *again = canonical_of(canon, h2);
    assert_string_equal(h1, h2);
    assert_string_equal(canon, again);
    free(again);
    free(canon);

    /* a sub-grid changes the hash, and so does any value in one */
    char *plain = canonical_of("[grid]\nmodels = matmul\nschemes = uniform-sym\nwbits = 8\nplacements = core\n"
                               "scenarios = latency\n[timing]\nbatch = 8\n", h2);
    assert_string_not_equal(h1, h2);
    free(plain);
    char *text = strdup(with_subs);
    memcpy(strstr(text, "mse"), "kl ", 3); /* calib = minmax, kl */
    char *changed = canonical_of(text, h3);
    assert_string_not_equal(h1, h3);
    free(changed);
    free(text);
    qb_spec_free(&s);
    qb_topo_free(t);
}

/* Without sub-grids the canonical text is what it always was (old runs
 * keep their spec_hash). */
static void test_canonical_without_subgrids_is_unchanged(void **state)
{
    (void)state;
    char h[17];
    char *canon = canonical_of("[grid]\nmodels = matmul\nschemes = binary\nplacements = core\n[counters]\nevents = none\n", h);
    assert_string_equal(canon,
                        "[grid]\nmodels = matmul\nschemes = binary\nwbits = 1\nabits = 8\ngranularity = channel\n"
                        "calib = minmax\ncorrection = none\npolicy = uniform\nbackend = auto\nplacements = core\n"
                        "scenarios = latency, throughput\n[timing]\nbatch = 64\nwarmup = 2\nrepetitions = 5\n"
                        "min_time = 0.2\nmax_reps = 1000\ntimeout = 600\n[counters]\nevents = none\n");
    free(canon);
}

static void test_subgrid_errors_name_file_and_line(void **state)
{
    (void)state;
    expect_error("[grid]\nmodels = matmul\n[grid.x]\nmodelz = crash\n", "bad.ini:4: unknown key 'modelz' in [grid.x]",
                 "known: models, schemes");
    expect_error("[grid.x]\nbatch = 3\n", "bad.ini:2: key 'batch' belongs in [timing], not [grid.x]", NULL);
    expect_error("[grid.x]\nevents = none\n", "bad.ini:2: key 'events' belongs in [counters], not [grid.x]", NULL);
    expect_error("[grid.x]\ncalib = mse\n[grid.y]\n[grid.x]\n", "bad.ini:4: [grid.x] is already defined at line 1",
                 NULL);
    expect_error("[grid]\n[grid.]\n", "bad.ini:2: [grid.] has an empty name", NULL);
    expect_error("[grid.a b]\n", "bad.ini:1: sub-grid name 'a b' may only have letters, digits", NULL);
    expect_error("[grid.a]\ncalib = mse\ncalib = kl\n", "bad.ini:3: 'calib' is already set at line 2", NULL);
    expect_error("[grid.a]\ncalib = mse,\n", "bad.ini:2: calib: empty item", NULL);
    /* resolution errors name the sub-grid's line, or the inherited one and the sub-grid */
    expect_error("[grid]\nmodels = matmul\n[grid.a]\ncalib = mse\ngranularity = row\n", "bad.ini:5: granularity",
                 "unknown granularity 'row'");
    expect_error("[grid]\nmodels = matmul\nschemes = binary\nwbits = 1\n[grid.a]\nwbits = 8\n", "bad.ini:6: wbits",
                 "scheme 'binary' does not take 8 bits");
    expect_error("[grid]\nmodels = matmul\nplacements = core\n[grid.a]\nplacements = cores:4\n",
                 "bad.ini:5: placements", "asks for 4 threads");
    expect_error("[grid]\nmodels = matmul\nwbits = 3\n[grid.a]\nschemes = binary\n",
                 "bad.ini:3 (inherited by [grid.a]): wbits", "binary");
    /* a section name that only looks like one */
    expect_error("[gridx]\n", "bad.ini:1: unknown section '[gridx]'", "[grid.NAME]");
}

/* A flag for a grid key applies to every grid; a sub-grid the flag leaves
 * without any scheme is dropped. */
static void test_flags_override_every_grid(void **state)
{
    (void)state;
    qb_spec s;
    assert_int_equal(qb_spec_init(&s), QB_OK);
    assert_int_equal(qb_spec_parse_text(&s, "t.ini",
                                        "[grid]\nmodels = matmul\nschemes = uniform-sym\nwbits = 8\n"
                                        "[grid.low]\nschemes = uniform-sym\nwbits = 4, 2\nmodels = crash\n"
                                        "[grid.bin]\nschemes = binary\nwbits = 1\n"),
                     QB_OK);
    assert_int_equal(qb_spec_set(&s, QB_SK_MODELS, "crash, matmul", "--models"), QB_OK);
    assert_int_equal(qb_spec_set(&s, QB_SK_PLACEMENTS, "cores:2", "--placements"), QB_OK);
    qb_topo *t = two_cores();
    if (qb_spec_resolve(&s, &tw_set, t) != QB_OK) fail_msg("%s", qb_last_error());
    assert_int_equal(qb_spec_n_grids(&s), 3);
    for (int g = 0; g < 3; g++) {
        const qb_strlist *m = qb_spec_grid_list(&s, g, QB_SK_MODELS);
        assert_int_equal(m->n, 2);
        assert_string_equal(m->items[0], "crash");
        assert_string_equal(qb_spec_grid_list(&s, g, QB_SK_PLACEMENTS)->items[0], "cores:2");
    }
    assert_string_equal(qb_spec_grid_list(&s, 1, QB_SK_WBITS)->items[1], "2"); /* not overridden */
    /* --wbits 4: [grid.bin] has no scheme left and goes; [grid.low] runs 4 bits */
    assert_int_equal(qb_spec_set(&s, QB_SK_WBITS, "4", "--wbits"), QB_OK);
    if (qb_spec_resolve(&s, &tw_set, t) != QB_OK) fail_msg("%s", qb_last_error());
    assert_int_equal(qb_spec_n_grids(&s), 2);
    assert_string_equal(qb_spec_grid_name(&s, 1), "grid.low");
    assert_int_equal(qb_spec_grid_list(&s, 1, QB_SK_WBITS)->n, 1);
    assert_string_equal(qb_spec_grid_list(&s, 1, QB_SK_WBITS)->items[0], "4");
    char *canon = qb_spec_canonical(&s);
    assert_null(strstr(canon, "[grid.bin]"));
    free(canon);
    qb_spec_free(&s);
    qb_topo_free(t);
}

/* --grids: the sub-grids to keep, by name; none keeps the [grid] alone. */
static void test_keep_grids(void **state)
{
    (void)state;
    qb_spec s;
    char h_plain[17], h_none[17];
    char *plain = canonical_of("[grid]\nmodels = matmul\nschemes = uniform-sym\nwbits = 8\nplacements = core\n"
                               "scenarios = latency\n[timing]\nbatch = 8\n", h_plain);
    free(plain);
    assert_int_equal(qb_spec_init(&s), QB_OK);
    assert_int_equal(qb_spec_parse_text(&s, "t.ini", with_subs), QB_OK);
    assert_int_equal(qb_spec_keep_grids(&s, "nosuch", "--grids"), QB_ERR_ARG);
    assert_string_equal(qb_last_error(), "--grids: the spec has no sub-grid 'nosuch' (its sub-grids: calibration, "
                                         "more-models_2; none runs the [grid] alone)");
    assert_int_equal(qb_spec_keep_grids(&s, "none, calibration", "--grids"), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "'none' must be the only item"));
    assert_int_equal(qb_spec_n_grids(&s), 3); /* errors change nothing */
    assert_int_equal(qb_spec_keep_grids(&s, "more-models_2", "--grids"), QB_OK);
    assert_int_equal(qb_spec_n_grids(&s), 2);
    assert_string_equal(qb_spec_grid_name(&s, 1), "grid.more-models_2");
    assert_int_equal(qb_spec_keep_grids(&s, "none", "--grids"), QB_OK);
    assert_int_equal(qb_spec_n_grids(&s), 1);
    qb_topo *t = two_cores();
    if (qb_spec_resolve(&s, &tw_set, t) != QB_OK) fail_msg("%s", qb_last_error());
    qb_spec_hash(&s, h_none);
    assert_string_equal(h_none, h_plain); /* the same spec as one without sub-grids */
    qb_spec_free(&s);
    qb_topo_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_resolve),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_overrides_and_all),
        cmocka_unit_test(test_default_spec_and_files),
        cmocka_unit_test(test_subgrids_inherit_and_hash),
        cmocka_unit_test(test_canonical_without_subgrids_is_unchanged),
        cmocka_unit_test(test_subgrid_errors_name_file_and_line),
        cmocka_unit_test(test_flags_override_every_grid),
        cmocka_unit_test(test_keep_grids),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("spec", tests, NULL, NULL);
}
