/* The reference models in workloads/models/ are part of the product: each
 * loads, is under 4 MB, meets its accuracy target, and reproduces the fp32
 * test accuracy its metadata records, image for image. */
#include "qb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dataset.h"
#include "modelfile.h"
#include "pool.h"
#include "train.h"

static void check_model(const char *name, double target)
{
    char rel[128];
    snprintf(rel, sizeof rel, "workloads/models/%s.safetensors", name);
    char *path = qb_test_repo_path(rel);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size < 4 * 1000 * 1000);
    qb_model m;
    qb_meta meta;
    if (qb_model_load(path, &m, &meta, NULL) != QB_OK) fail_msg("%s", qb_last_error());
    assert_string_equal(m.arch, name);
    assert_string_equal(qb_meta_get(&meta, "dataset"), "fashion-mnist");
    const char *acc_text = qb_meta_get(&meta, "fp32_test_accuracy");
    assert_non_null(acc_text);
    assert_non_null(qb_meta_get(&meta, "seed"));
    assert_non_null(qb_meta_get(&meta, "epochs"));
    assert_non_null(qb_meta_get(&meta, "qbench_version"));
    double recorded = atof(acc_text);
    assert_true(recorded >= target);

    qb_fmnist d;
    assert_int_equal(qb_fmnist_load(qb_dataset_dir(NULL), &d), QB_OK);
    qb_pool *pool;
    assert_int_equal(qb_pool_create(&pool, 2, NULL, NULL), QB_OK);
    double acc;
    assert_int_equal(qb_accuracy(&m, &d.test, pool, &acc), QB_OK);
    print_message("%s: fp32 test accuracy %.2f%% (recorded %.2f%%, target %.1f%%), %lld bytes\n",
                  name, acc, recorded, target, (long long)st.st_size);
    assert_true(acc > recorded - 0.006 && acc < recorded + 0.006);
    qb_pool_free(pool);
    qb_fmnist_free(&d);
    qb_meta_free(&meta);
    qb_model_free(&m);
    free(path);
}

static void test_mlp(void **state)
{
    (void)state;
    check_model("mlp", 89.0);
}

static void test_lenet(void **state)
{
    (void)state;
    check_model("lenet", 91.5);
}

static void test_resnet(void **state)
{
    (void)state;
    check_model("resnet", 93.5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlp),
        cmocka_unit_test(test_lenet),
        cmocka_unit_test(test_resnet),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("models", tests, NULL, NULL);
}
