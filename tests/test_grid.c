/* Tests for cells (bench/grid.c): expansion order, stable ids, shards. */
#include "qb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_workloads.h"
#include "grid.h"
#include "spec.h"
#include "strset.h"
#include "topo.h"

static void make_grid(const char *text, qb_spec *s, qb_grid *g, qb_topo **t)
{
    assert_int_equal(qb_topo_load(t, "pack:1 core:4 pu:2"), QB_OK);
    assert_int_equal(qb_spec_init(s), QB_OK);
    assert_int_equal(qb_spec_parse_text(s, "g.ini", text), QB_OK);
    if (qb_spec_resolve(s, &tw_set, *t) != QB_OK) fail_msg("%s", qb_last_error());
    assert_int_equal(qb_grid_expand(s, g), QB_OK);
}

static const char *spec_text = "[grid]\nmodels = matmul, crash\nschemes = uniform-sym, binary\n"
                               "wbits = 8, 4, 1\nabits = 8, 32\nplacements = core, all\n"
                               "scenarios = latency, throughput\n[timing]\nbatch = 32\n";

static void test_expansion_order_and_counts(void **state)
{
    (void)state;
    qb_spec s;
    qb_grid g;
    qb_topo *t;
    make_grid(spec_text, &s, &g, &t);
    /* per model: fp32 + uniform-sym{8,4} x abits{8,32} + binary{1} x abits{8,32} = 7 configs,
     * each x 2 placements x 2 scenarios */
    assert_int_equal(g.n, 2 * 7 * 4);
    assert_int_equal(g.n_groups, 14);
    /* the baseline comes first for each model */
    assert_string_equal(g.cells[0].q.scheme, "fp32");
    assert_int_equal(g.cells[0].q.wbits, 32);
    assert_string_equal(g.cells[0].q.granularity, "");
    assert_string_equal(g.cells[28].q.model, "crash");
    assert_string_equal(g.cells[28].q.scheme, "fp32");
    assert_string_equal(g.cells[0].scenario, "latency");
    assert_int_equal(g.cells[0].batch, 1);
    assert_int_equal(g.cells[1].batch, 32);
    assert_string_equal(g.cells[2].placement, "all");
    /* binary only ever at 1 bit */
    qb_strset ids = {0};
    for (int i = 0; i < g.n; i++) {
        if (strcmp(g.cells[i].q.scheme, "binary") == 0) assert_int_equal(g.cells[i].q.wbits, 1);
        if (strcmp(g.cells[i].q.scheme, "uniform-sym") == 0) assert_true(g.cells[i].q.wbits != 1);
        assert_int_equal(g.cells[i].index, i);
        assert_int_equal(g.cells[i].group, i / 4);
        int added;
        assert_int_equal(qb_strset_add(&ids, g.cells[i].id, &added), QB_OK);
        assert_true(added); /* ids are unique */
    }
    qb_strset_free(&ids);
    qb_grid_free(&g);
    qb_spec_free(&s);
    qb_topo_free(t);
}

static void test_ids_are_fnv1a_of_the_canonical_string(void **state)
{
    (void)state;
    /* published FNV-1a 64 test vectors */
    assert_true(qb_fnv1a64("") == 0xcbf29ce484222325ULL);
    assert_true(qb_fnv1a64("a") == 0xaf63dc4c8601ec8cULL);
    assert_true(qb_fnv1a64("foobar") == 0x85944171f73967e8ULL);
    qb_spec s;
    qb_grid g;
    qb_topo *t;
    make_grid(spec_text, &s, &g, &t);
    char canon[1024], want[17];
    qb_cell_canonical(&g.cells[5], canon, sizeof canon);
    assert_string_equal(canon, "model=matmul|scheme=uniform-sym|granularity=channel|calib=minmax|"
                               "correction=none|policy=uniform|wbits=8|abits=8|backend=auto|"
                               "placement=core|scenario=throughput|batch=32");
    snprintf(want, sizeof want, "%016llx", (unsigned long long)qb_fnv1a64(canon));
    assert_string_equal(g.cells[5].id, want);
    /* the same parameters in another spec (different order, other keys) give the same id */
    qb_spec s2;
    qb_grid g2;
    qb_topo *t2;
    make_grid("[grid]\nmodels = matmul\nschemes = uniform-sym\nwbits = 8\nplacements = core\n"
              "scenarios = throughput\n[timing]\nbatch = 32\nwarmup = 9\n", &s2, &g2, &t2);
    assert_int_equal(g2.n, 2);
    assert_string_equal(g2.cells[1].id, want);
    qb_grid_free(&g2);
    qb_spec_free(&s2);
    qb_topo_free(t2);
    qb_grid_free(&g);
    qb_spec_free(&s);
    qb_topo_free(t);
}

static void test_shards_partition_the_grid(void **state)
{
    (void)state;
    qb_spec s;
    qb_grid g;
    qb_topo *t;
    make_grid(spec_text, &s, &g, &t);
    for (int n = 1; n <= 5; n++) {
        int seen = 0;
        for (int c = 0; c < g.n; c++) {
            int owners = 0;
            for (int i = 1; i <= n; i++) owners += qb_cell_in_shard(&g.cells[c], i, n);
            assert_int_equal(owners, 1);
            seen++;
        }
        assert_int_equal(seen, g.n);
    }
    int i, n;
    assert_int_equal(qb_shard_parse("--shard", "2/4", &i, &n), QB_OK);
    assert_int_equal(i, 2);
    assert_int_equal(n, 4);
    assert_int_equal(qb_shard_parse("--shard", "5/4", &i, &n), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "--shard: shard 5 of 4 does not exist"));
    assert_int_equal(qb_shard_parse("--shard", "0/4", &i, &n), QB_ERR_ARG);
    assert_int_equal(qb_shard_parse("--shard", "2", &i, &n), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "expected i/N"));
    assert_int_equal(qb_shard_parse("--shard", "a/b", &i, &n), QB_ERR_ARG);
    qb_grid_free(&g);
    qb_spec_free(&s);
    qb_topo_free(t);
}

static void test_float_formats_quantize_activations_to_themselves(void **state)
{
    (void)state;
    qb_spec s;
    qb_grid g;
    qb_topo *t;
    make_grid("[grid]\nmodels = matmul\nschemes = fp16, fp8-e4m3, uniform-sym\nwbits = 16, 8\n"
              "abits = 8, 4, 32\nplacements = core\nscenarios = latency\n", &s, &g, &t);
    /* fp32 + fp16 {a16, a32} + fp8 {a8, a32} + uniform-sym w8 {a8, a4, a32} */
    assert_int_equal(g.n, 1 + 2 + 2 + 3);
    const int want[][2] = {{32, 32}, {16, 16}, {16, 32}, {8, 8}, {8, 32}, {8, 8}, {8, 4}, {8, 32}};
    for (int i = 0; i < g.n; i++) {
        assert_int_equal(g.cells[i].q.wbits, want[i][0]);
        assert_int_equal(g.cells[i].q.abits, want[i][1]);
    }
    qb_grid_free(&g);
    qb_spec_free(&s);
    qb_topo_free(t);
}

/* The cells of the sub-grids follow the [grid]'s; a cell an earlier grid
 * has is not repeated and keeps its id; a config shared across grids is
 * one group. */
static void test_subgrids_union_without_repeats(void **state)
{
    (void)state;
    qb_spec s;
    qb_grid g;
    qb_topo *t;
    make_grid("[grid]\nmodels = matmul\nschemes = uniform-sym\nwbits = 8\nplacements = core, all\n"
              "scenarios = latency\n"
              "[grid.gran]\ngranularity = tensor, channel\nplacements = core\n"
              "[grid.wide]\nplacements = core, cores:2\n"
              "[grid.same]\nscenarios = latency\n",
              &s, &g, &t);
    /* [grid]: fp32 and w8 channel on core and all = 4 cells;
     * [grid.gran] on core: fp32 and channel are there, tensor is new = 1;
     * [grid.wide]: fp32 and w8 channel on cores:2 = 2; [grid.same]: nothing new */
    assert_int_equal(g.n, 7);
    const int grid_of[] = {0, 0, 0, 0, 1, 2, 2};
    qb_strset ids = {0};
    for (int i = 0; i < g.n; i++) {
        assert_int_equal(g.cells[i].grid, grid_of[i]);
        assert_int_equal(g.cells[i].index, i);
        int added;
        assert_int_equal(qb_strset_add(&ids, g.cells[i].id, &added), QB_OK);
        assert_true(added);
    }
    qb_strset_free(&ids);
    assert_string_equal(g.cells[4].q.granularity, "tensor");
    assert_string_equal(g.cells[5].q.scheme, "fp32");
    assert_string_equal(g.cells[5].placement, "cores:2");
    assert_string_equal(g.cells[6].q.granularity, "channel");
    /* groups: fp32, w8 channel, w8 tensor; [grid.wide]'s cells join the first two */
    assert_int_equal(g.n_groups, 3);
    assert_int_equal(g.cells[5].group, g.cells[0].group);
    assert_int_equal(g.cells[6].group, g.cells[2].group);
    assert_true(g.cells[4].group != g.cells[2].group);

    /* the tensor cell has the id a plain [grid] gives it */
    qb_spec s2;
    qb_grid g2;
    qb_topo *t2;
    make_grid("[grid]\nmodels = matmul\nschemes = uniform-sym\nwbits = 8\ngranularity = tensor\n"
              "placements = core\nscenarios = latency\n", &s2, &g2, &t2);
    assert_int_equal(g2.n, 2);
    assert_string_equal(g2.cells[1].id, g.cells[4].id);
    assert_string_equal(g2.cells[0].id, g.cells[0].id);
    qb_grid_free(&g2);
    qb_spec_free(&s2);
    qb_topo_free(t2);
    qb_grid_free(&g);
    qb_spec_free(&s);
    qb_topo_free(t);
}

/* A flag for a grid key reaches every grid's cells. */
static void test_flag_applies_to_subgrid_cells(void **state)
{
    (void)state;
    qb_topo *t;
    assert_int_equal(qb_topo_load(&t, "pack:1 core:4 pu:2"), QB_OK);
    qb_spec s;
    assert_int_equal(qb_spec_init(&s), QB_OK);
    assert_int_equal(qb_spec_parse_text(&s, "g.ini",
                                        "[grid]\nmodels = matmul\nschemes = uniform-sym\nwbits = 8\n"
                                        "placements = all\nscenarios = throughput\n"
                                        "[grid.c]\ncalib = mse, kl\nplacements = core\nscenarios = latency\n"),
                     QB_OK);
    assert_int_equal(qb_spec_set(&s, QB_SK_SCENARIOS, "latency", "--scenarios"), QB_OK);
    assert_int_equal(qb_spec_set(&s, QB_SK_MODELS, "crash", "--models"), QB_OK);
    if (qb_spec_resolve(&s, &tw_set, t) != QB_OK) fail_msg("%s", qb_last_error());
    qb_grid g;
    assert_int_equal(qb_grid_expand(&s, &g), QB_OK);
    /* [grid]: fp32 + w8 on all; [grid.c]: fp32 + mse + kl on core */
    assert_int_equal(g.n, 5);
    for (int i = 0; i < g.n; i++) {
        assert_string_equal(g.cells[i].scenario, "latency");
        assert_string_equal(g.cells[i].q.model, "crash");
    }
    assert_string_equal(g.cells[4].q.calib, "kl");
    assert_string_equal(g.cells[4].placement, "core");
    qb_grid_free(&g);
    qb_spec_free(&s);
    qb_topo_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expansion_order_and_counts),
        cmocka_unit_test(test_ids_are_fnv1a_of_the_canonical_string),
        cmocka_unit_test(test_shards_partition_the_grid),
        cmocka_unit_test(test_float_formats_quantize_activations_to_themselves),
        cmocka_unit_test(test_subgrids_union_without_repeats),
        cmocka_unit_test(test_flag_applies_to_subgrid_cells),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("grid", tests, NULL, NULL);
}
