/* Tests for the placement planner (bench/topo.c) on synthetic topologies of
 * several shapes, XML round trips, and thread binding on this machine. */
#include "qb_test.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "topo.h"

static qb_topo *load(const char *synthetic)
{
    qb_topo *t = NULL;
    if (qb_topo_load(&t, synthetic) != QB_OK) fail_msg("%s: %s", synthetic, qb_last_error());
    return t;
}

/* Resolves `name` and checks thread count, cpuset list and NUMA nodes. */
static void expect_placement(const qb_topo *t, const char *name, const char *canon, int threads,
                             const char *cpus, const char *nodes)
{
    qb_placement p;
    if (qb_placement_resolve(t, "test", name, &p) != QB_OK) fail_msg("%s: %s", name, qb_last_error());
    char ns[128];
    hwloc_bitmap_list_snprintf(ns, sizeof ns, p.nodeset);
    if (strcmp(p.name, canon) != 0 || p.nthreads != threads || strcmp(p.cpuset_list, cpus) != 0 ||
        strcmp(ns, nodes) != 0)
        fail_msg("%s on %s: got %s, %d threads, PUs %s, NUMA %s; want %s, %d, %s, %s", name, qb_topo_source(t),
                 p.name, p.nthreads, p.cpuset_list, ns, canon, threads, cpus, nodes);
    qb_placement_free(&p);
}

static void expect_refused(const qb_topo *t, const char *name, const char *needle)
{
    qb_placement p;
    assert_int_equal(qb_placement_resolve(t, "spec.ini:3: placements", name, &p), QB_ERR_ARG);
    if (!strstr(qb_last_error(), needle) || !strstr(qb_last_error(), "spec.ini:3"))
        fail_msg("%s: message '%s' lacks '%s'", name, qb_last_error(), needle);
}

/* Thread i's PU list. */
static void expect_thread(const qb_topo *t, const char *name, int tid, const char *cpus)
{
    qb_placement p;
    assert_int_equal(qb_placement_resolve(t, "test", name, &p), QB_OK);
    char s[64];
    hwloc_bitmap_list_snprintf(s, sizeof s, p.thread_set[tid]);
    if (strcmp(s, cpus) != 0) fail_msg("%s thread %d: PUs %s, want %s", name, tid, s, cpus);
    qb_placement_free(&p);
}

static void test_two_packages_numa_smt(void **state)
{
    (void)state;
    qb_topo *t = load("pack:2 numa:2 core:8 pu:2");
    char sum[128];
    qb_topo_summary(t, sum, sizeof sum);
    assert_string_equal(sum, "2 packages, 4 numa, 0 l3, 32 cores, 64 pus");
    assert_false(qb_topo_is_this_system(t));
    expect_placement(t, "core", "core", 1, "0-1", "0");
    expect_placement(t, "core:5", "core:5", 1, "10-11", "0");
    expect_placement(t, "cores:4", "cores:4", 4, "0-7", "0");
    expect_placement(t, "cores:4:compact", "cores:4", 4, "0-7", "0");
    /* scatter: one core per NUMA node, alternating packages first */
    expect_placement(t, "cores:4:scatter", "cores:4:scatter", 4, "0-1,16-17,32-33,48-49", "0-3");
    expect_thread(t, "cores:4:scatter", 0, "0-1");
    expect_thread(t, "cores:4:scatter", 1, "32-33");
    expect_thread(t, "cores:4:scatter", 2, "16-17");
    expect_placement(t, "numa:2", "numa:2", 8, "32-47", "2");
    expect_placement(t, "package:1", "package:1", 16, "32-63", "2-3");
    expect_placement(t, "all", "all", 32, "0-63", "0-3");
    expect_placement(t, "all+smt", "all+smt", 64, "0-63", "0-3");
    /* compact SMT fills a core's PUs first, scatter spreads over cores */
    expect_thread(t, "all+smt", 1, "1");
    expect_thread(t, "all+smt:scatter", 1, "32");
    char names[16][32];
    int n = qb_topo_default_placements(t, names, 16);
    assert_int_equal(n, 7);
    assert_string_equal(names[0], "core");
    assert_string_equal(names[1], "numa:0");
    assert_string_equal(names[4], "numa:3");
    assert_string_equal(names[5], "all");
    assert_string_equal(names[6], "all+smt");
    expect_refused(t, "cores:33", "asks for 33 threads but the topology has 32 cores");
    expect_refused(t, "numa:4", "the topology has 4 NUMA nodes (numa:0..numa:3)");
    expect_refused(t, "l3:0", "the topology has no L3 cache");
    expect_refused(t, "core:scatter", "one core has no thread order");
    expect_refused(t, "cores", "needs a number");
    expect_refused(t, "all:2", "takes no number");
    expect_refused(t, "cores:two", "expected an integer");
    qb_topo_free(t);
}

static void test_l3_groups_no_smt(void **state)
{
    (void)state;
    qb_topo *t = load("pack:1 l3:4 core:2 pu:1");
    char sum[128];
    qb_topo_summary(t, sum, sizeof sum);
    assert_string_equal(sum, "1 package, 1 numa, 4 l3, 8 cores, 8 pus");
    expect_placement(t, "l3:2", "l3:2", 2, "4-5", "0");
    expect_placement(t, "cores:4:scatter", "cores:4:scatter", 4, "0,2,4,6", "0");
    expect_placement(t, "cores:3", "cores:3", 3, "0-2", "0");
    char names[16][32];
    int n = qb_topo_default_placements(t, names, 16);
    assert_int_equal(n, 2); /* core, all: one NUMA node, no SMT */
    assert_string_equal(names[1], "all");
    expect_refused(t, "cores:2:scatter:x", "too many ':' parts");
    qb_topo_free(t);
}

static void test_flat_and_single(void **state)
{
    (void)state;
    /* no Core level at all: PUs stand in for cores */
    qb_topo *t = load("pu:3");
    assert_int_equal(qb_topo_n_cores(t), 3);
    expect_placement(t, "all", "all", 3, "0-2", "0");
    expect_placement(t, "cores:2:scatter", "cores:2:scatter", 2, "0-1", "0");
    qb_topo_free(t);
    t = load("core:1 pu:1");
    char names[4][32];
    assert_int_equal(qb_topo_default_placements(t, names, 4), 1); /* only "core" */
    expect_refused(t, "cores:2", "has 1 core");
    qb_topo_free(t);
    qb_topo *bad = NULL;
    assert_int_equal(qb_topo_load(&bad, "pack:two"), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "not a valid hwloc synthetic description"));
    assert_int_equal(qb_topo_load(&bad, "/nonexistent/machine.xml"), QB_ERR_IO);
    assert_non_null(strstr(qb_last_error(), "/nonexistent/machine.xml"));
}

static void test_xml_round_trip(void **state)
{
    (void)state;
    char *dir = qb_test_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/big.xml", dir);
    qb_topo *t = load("pack:4 numa:1 l3:2 core:6 pu:2");
    assert_int_equal(qb_topo_export_xml(t, path), QB_OK);
    char a[128], b[128];
    qb_topo_summary(t, a, sizeof a);
    qb_topo *x;
    assert_int_equal(qb_topo_load(&x, path), QB_OK);
    qb_topo_summary(x, b, sizeof b);
    assert_string_equal(a, b);
    assert_string_equal(a, "4 packages, 4 numa, 8 l3, 48 cores, 96 pus");
    assert_false(qb_topo_is_this_system(x));
    expect_placement(x, "l3:7", "l3:7", 6, "84-95", "3");
    qb_topo_free(x);
    qb_topo_free(t);
    qb_test_rmtree(dir);
    free(dir);
}

typedef struct {
    const qb_topo *t;
    const qb_placement *p;
    int ok[64];
} bind_ctx;

static void bind_init(void *ctx, int tid)
{
    bind_ctx *b = ctx;
    b->ok[tid] = qb_placement_bind_thread(b->t, b->p, tid) == QB_OK;
}

static void where(void *ctx, int tid, int nt)
{
    (void)nt;
    int *cpu = ctx;
    cpu[tid] = sched_getcpu();
}

static void test_binding_on_this_machine(void **state)
{
    (void)state;
    qb_topo *t;
    assert_int_equal(qb_topo_load(&t, NULL), QB_OK);
    assert_true(qb_topo_is_this_system(t));
    char names[16][32];
    int n = qb_topo_default_placements(t, names, 16);
    for (int i = 0; i < n; i++) {
        qb_placement p;
        assert_int_equal(qb_placement_resolve(t, "test", names[i], &p), QB_OK);
        bind_ctx b = {t, &p, {0}};
        qb_pool *pool;
        assert_int_equal(qb_pool_create(&pool, p.nthreads, bind_init, &b), QB_OK);
        int cpu[64];
        qb_pool_run(pool, where, cpu);
        for (int k = 0; k < p.nthreads; k++) {
            assert_true(b.ok[k]);
            /* each thread runs inside its own cpuset */
            assert_true(hwloc_bitmap_isset(p.thread_set[k], (unsigned)cpu[k]));
        }
        qb_pool_free(pool);
        qb_placement_free(&p);
    }
    /* restore the test thread's freedom */
    hwloc_set_cpubind(qb_topo_hwloc(t), hwloc_topology_get_topology_cpuset(qb_topo_hwloc(t)), HWLOC_CPUBIND_THREAD);
    qb_topo_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_packages_numa_smt),
        cmocka_unit_test(test_l3_groups_no_smt),
        cmocka_unit_test(test_flat_and_single),
        cmocka_unit_test(test_xml_round_trip),
        cmocka_unit_test(test_binding_on_this_machine),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("topo", tests, NULL, NULL);
}
