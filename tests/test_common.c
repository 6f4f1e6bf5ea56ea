/* Tests for common/: flag parsing, crash-safe file writes, the RNG, the pool. */
#include "qb_test.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "pool.h"
#include "rng.h"
#include "safefile.h"
#include "status.h"

static void test_args_values_and_errors(void **state)
{
    (void)state;
    const char *in = NULL;
    int bits = 0, verbose = 0;
    double p = 0;
    qb_opt opts[] = {
        {"--in", QB_OPT_STR, &in, "X.npy", "input"},
        {"--bits -b", QB_OPT_INT, &bits, "B", "bits"},
        {"--p", QB_OPT_DOUBLE, &p, "P", "percentile"},
        {"--verbose", QB_OPT_FLAG, &verbose, NULL, "talk"},
    };
    const char *pos[2];
    qb_args a = {pos, 2, 0, 0};
    char *argv1[] = {"--in", "x.npy", "-b", "4", "--p=99.9", "--verbose", "run1"};
    assert_int_equal(qb_args_parse("t", 7, argv1, opts, 4, &a), QB_OK);
    assert_string_equal(in, "x.npy");
    assert_int_equal(bits, 4);
    assert_true(p > 99.89 && p < 99.91);
    assert_int_equal(verbose, 1);
    assert_int_equal(a.n_positional, 1);
    assert_string_equal(pos[0], "run1");

    char *argv2[] = {"--bits", "four"};
    assert_int_equal(qb_args_parse("t", 2, argv2, opts, 4, &a), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "--bits"));
    assert_non_null(strstr(qb_last_error(), "four"));

    char *argv3[] = {"--nope"};
    assert_int_equal(qb_args_parse("t", 1, argv3, opts, 4, &a), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "unknown flag '--nope'"));

    char *argv4[] = {"--in"};
    assert_int_equal(qb_args_parse("t", 1, argv4, opts, 4, &a), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "missing value"));

    char *argv5[] = {"a", "b", "c"};
    assert_int_equal(qb_args_parse("t", 3, argv5, opts, 4, &a), QB_ERR_ARG);
}

static void test_safefile_commit_and_abort(void **state)
{
    (void)state;
    char *dir = qb_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/out.txt", dir);

    qb_safefile f;
    assert_int_equal(qb_safefile_open(&f, path), QB_OK);
    fputs("first", f.fp);
    assert_int_equal(qb_safefile_commit(&f), QB_OK);

    assert_int_equal(qb_safefile_open(&f, path), QB_OK);
    fputs("second, abandoned", f.fp);
    qb_safefile_abort(&f);

    char *text = qb_test_read_file(path, NULL);
    assert_string_equal(text, "first");
    free(text);

    char bad[600];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x", dir);
    assert_int_equal(qb_safefile_open(&f, bad), QB_ERR_IO);
    assert_non_null(strstr(qb_last_error(), bad));
    qb_test_rmtree(dir);
    free(dir);
}

static void test_rng_is_deterministic_and_uniform(void **state)
{
    (void)state;
    qb_rng a, b;
    qb_rng_seed(&a, 42);
    qb_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++) assert_true(qb_rng_u64(&a) == qb_rng_u64(&b));
    double sum = 0, sq = 0;
    int n = 200000;
    for (int i = 0; i < n; i++) {
        float u = qb_rng_uniform(&a);
        assert_true(u >= 0.0f && u < 1.0f);
        sum += u;
        sq += qb_rng_normal(&b) * (double)qb_rng_normal(&b);
    }
    /* mean of U(0,1) within 5 standard errors (sd 0.289/sqrt(n)) */
    assert_true(sum / n > 0.5 - 5 * 0.289 / 447.0 && sum / n < 0.5 + 5 * 0.289 / 447.0);
    (void)sq;
    for (int i = 0; i < 1000; i++) assert_true(qb_rng_below(&a, 7) < 7);
}

struct sum_ctx {
    int64_t n;
    atomic_llong total;
    atomic_int calls;
};

static void sum_task(void *ctx, int tid, int nt)
{
    struct sum_ctx *c = ctx;
    int64_t b, e;
    qb_split_range(c->n, tid, nt, &b, &e);
    long long s = 0;
    for (int64_t i = b; i < e; i++) s += i;
    atomic_fetch_add(&c->total, s);
    atomic_fetch_add(&c->calls, 1);
}

static void test_pool_runs_every_share_once(void **state)
{
    (void)state;
    for (int nt = 1; nt <= 4; nt++) {
        qb_pool *p;
        assert_int_equal(qb_pool_create(&p, nt, NULL, NULL), QB_OK);
        for (int rep = 0; rep < 200; rep++) {
            struct sum_ctx c = {.n = 1000 + rep};
            atomic_init(&c.total, 0);
            atomic_init(&c.calls, 0);
            qb_pool_run(p, sum_task, &c);
            assert_int_equal(atomic_load(&c.calls), nt);
            assert_true(atomic_load(&c.total) == (long long)c.n * (c.n - 1) / 2);
        }
        qb_pool_free(p);
    }
}

static void test_split_range_covers_all(void **state)
{
    (void)state;
    for (int nt = 1; nt < 6; nt++) {
        int64_t next = 0;
        for (int t = 0; t < nt; t++) {
            int64_t b, e;
            qb_split_range(13, t, nt, &b, &e);
            assert_true(b == next);
            next = e;
        }
        assert_true(next == 13);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_args_values_and_errors),
        cmocka_unit_test(test_safefile_commit_and_abort),
        cmocka_unit_test(test_rng_is_deterministic_and_uniform),
        cmocka_unit_test(test_pool_runs_every_share_once),
        cmocka_unit_test(test_split_range_covers_all),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
