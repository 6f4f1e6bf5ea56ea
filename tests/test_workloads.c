/* Tests for workloads/ around the engine: IDX files and the Fashion-MNIST
 * split, safetensors, model files, the trainer, and the `train` / `models`
 * commands with good and bad input. */
#include "qb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "archs.h"
#include "dataset.h"
#include "idx.h"
#include "modelfile.h"
#include "safetensors.h"
#include "train.h"

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void write_gz(const char *path, const void *data, size_t n)
{
    gzFile g = gzopen(path, "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, data, (unsigned)n), (int)n);
    gzclose(g);
}

static void test_idx_round_trip_and_errors(void **state)
{
    (void)state;
    char *dir = qb_test_tmpdir(), path[512];
    qb_tensor t, r;
    int64_t shape[3] = {3, 2, 5};
    assert_int_equal(qb_tensor_alloc(&t, QB_I32, 3, shape), QB_OK);
    for (int i = 0; i < 30; i++) ((int32_t *)t.data)[i] = i * 1000003 - 7;
    snprintf(path, sizeof path, "%s/a.idx.gz", dir);
    assert_int_equal(qb_idx_write_gz(path, &t), QB_OK);
    assert_int_equal(qb_idx_read(path, &r), QB_OK);
    assert_int_equal(r.dtype, QB_I32);
    assert_int_equal(r.ndim, 3);
    assert_memory_equal(r.shape, shape, sizeof shape);
    assert_memory_equal(r.data, t.data, 120);
    qb_tensor_free(&r);

    /* an uncompressed file reads the same: big-endian header and values */
    unsigned char plain[] = {0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9};
    snprintf(path, sizeof path, "%s/plain", dir);
    write_bytes(path, plain, sizeof plain);
    assert_int_equal(qb_idx_read(path, &r), QB_OK);
    assert_int_equal(r.shape[0], 3);
    assert_int_equal(((uint8_t *)r.data)[2], 9);
    qb_tensor_free(&r);

    struct { const char *name; unsigned char bytes[16]; size_t n; const char *msg; } bad[] = {
        {"magic", {1, 0, 8, 1, 0, 0, 0, 1, 5}, 9, "not an IDX file"},
        {"type", {0, 0, 7, 1, 0, 0, 0, 1, 5}, 9, "not an IDX file"},
        {"zero-dim", {0, 0, 8, 2, 0, 0, 0, 0, 0, 0, 0, 1}, 12, "dimension 0 is 0"},
        {"short-data", {0, 0, 8, 1, 0, 0, 0, 4, 5, 6}, 10, "truncated"},
        {"short-header", {0, 0, 8, 3, 0, 0, 0, 4}, 8, "truncated"},
        {"trailing", {0, 0, 8, 1, 0, 0, 0, 1, 5, 6}, 10, "trailing bytes"},
        {"huge", {0, 0, 0x0E, 3, 0x0f, 0xff, 0xff, 0xff, 0x0f, 0xff, 0xff, 0xff}, 12, "more than"},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(bad); i++) {
        snprintf(path, sizeof path, "%s/%s.gz", dir, bad[i].name);
        write_gz(path, bad[i].bytes, bad[i].n);
        assert_int_equal(qb_idx_read(path, &r), QB_ERR_FORMAT);
        assert_non_null(strstr(qb_last_error(), path));
        if (!strstr(qb_last_error(), bad[i].msg)) fail_msg("%s: %s", bad[i].name, qb_last_error());
        assert_null(r.data);
    }
    /* a gzip stream cut short */
    snprintf(path, sizeof path, "%s/a.idx.gz", dir);
    size_t n;
    char *gz = qb_test_read_file(path, &n);
    snprintf(path, sizeof path, "%s/cut.gz", dir);
    write_bytes(path, gz, n / 2);
    free(gz);
    assert_int_equal(qb_idx_read(path, &r), QB_ERR_FORMAT);
    snprintf(path, sizeof path, "%s/missing.gz", dir);
    assert_int_equal(qb_idx_read(path, &r), QB_ERR_IO);
    qb_tensor_free(&t);
    qb_test_rmtree(dir);
    free(dir);
}

static void test_fashion_mnist_split(void **state)
{
    (void)state;
    qb_fmnist d;
    assert_int_equal(qb_fmnist_load(qb_dataset_dir(NULL), &d), QB_OK);
    assert_int_equal(d.train.n, 59000);
    assert_int_equal(d.calib.n, 1000);
    assert_int_equal(d.test.n, 10000);
    assert_int_equal(d.train.h, 28);
    /* the calibration slice is the tail of the training file, disjoint from train */
    assert_ptr_equal(d.calib.pixels, d.train.pixels + 59000 * 784);
    int counts[10] = {0};
    for (int i = 0; i < d.test.n; i++) counts[d.test.labels[i]]++;
    for (int c = 0; c < 10; c++) assert_int_equal(counts[c], 1000); /* balanced test set */
    float x[784];
    int label;
    qb_images_batch(&d.test, NULL, 1, x, &label);
    double mean = 0;
    for (int i = 0; i < 784; i++) mean += x[i];
    assert_true(fabs(mean / 784) < 3); /* normalised, not raw bytes */
    assert_int_equal(label, d.test.labels[0]);
    qb_fmnist_free(&d);

    /* missing data: the message says how to get it */
    assert_int_equal(qb_fmnist_load("/nonexistent/fmnist", &d), QB_ERR_IO);
    assert_non_null(strstr(qb_last_error(), "make deps"));
    assert_non_null(strstr(qb_last_error(), "dataset-fashion-mnist"));
    assert_non_null(strstr(qb_last_error(), "--data"));

    /* a folder with a wrong file names it */
    char *dir = qb_test_tmpdir(), path[512];
    static const char *names[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                  "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    unsigned char img[] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4};
    unsigned char lab[] = {0, 0, 8, 1, 0, 0, 0, 1, 3};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s.gz", dir, names[i]);
        if (i % 2 == 0) write_gz(path, img, sizeof img);
        else write_gz(path, lab, sizeof lab);
    }
    assert_int_equal(qb_fmnist_load(dir, &d), QB_ERR_FORMAT);
    assert_non_null(strstr(qb_last_error(), "(n, 28, 28)"));
    qb_test_rmtree(dir);
    free(dir);
}

static void test_augment_crop_and_flip(void **state)
{
    (void)state;
    float src[12], dst[12];
    for (int i = 0; i < 12; i++) src[i] = (float)i; /* 3 x 4 image */
    qb_augment_image(src, dst, 1, 3, 4, 0, 0, 0, -1);
    assert_memory_equal(src, dst, sizeof src);
    qb_augment_image(src, dst, 1, 3, 4, 1, 0, 0, -1); /* shift up by one row */
    assert_true(dst[0] == 4 && dst[7] == 11 && dst[8] == -1 && dst[11] == -1);
    qb_augment_image(src, dst, 1, 3, 4, 0, 0, 1, -1); /* mirror */
    assert_true(dst[0] == 3 && dst[3] == 0 && dst[4] == 7);
    qb_augment_image(src, dst, 1, 3, 4, 0, -1, 0, -1); /* shift right, pad left */
    assert_true(dst[0] == -1 && dst[1] == 0 && dst[3] == 2);
}

static void test_safetensors_round_trip_and_corruption(void **state)
{
    (void)state;
    char *dir = qb_test_tmpdir(), path[512], bad[600];
    snprintf(path, sizeof path, "%s/t.safetensors", dir);
    qb_tensor a, b;
    int64_t sa[2] = {2, 3}, sb[1] = {4};
    assert_int_equal(qb_tensor_alloc(&a, QB_F32, 2, sa), QB_OK);
    assert_int_equal(qb_tensor_alloc(&b, QB_U8, 1, sb), QB_OK);
    for (int i = 0; i < 6; i++) ((float *)a.data)[i] = 0.5f * (float)i - 1;
    memcpy(b.data, "\x01\x02\x03\x04", 4);
    qb_named_tensor ts[] = {{"layer.weight", &a}, {"codes \"q\"", &b}};
    qb_meta meta = {0};
    assert_int_equal(qb_meta_set(&meta, "architecture", "mlp"), QB_OK);
    assert_int_equal(qb_meta_set(&meta, "note", "tab\there, quote \" and é"), QB_OK);
    assert_int_equal(qb_safetensors_write(path, ts, 2, &meta), QB_OK);
    qb_safetensors st;
    assert_int_equal(qb_safetensors_read(path, &st), QB_OK);
    assert_int_equal(st.n, 2);
    const qb_tensor *ra = qb_safetensors_find(&st, "layer.weight");
    assert_non_null(ra);
    assert_int_equal(ra->ndim, 2);
    assert_memory_equal(ra->data, a.data, 24);
    assert_non_null(qb_safetensors_find(&st, "codes \"q\""));
    assert_string_equal(qb_meta_get(&st.meta, "note"), "tab\there, quote \" and é");
    qb_safetensors_free(&st);

    size_t n;
    char *bytes = qb_test_read_file(path, &n);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | (unsigned char)bytes[i];
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    /* truncated data */
    write_bytes(bad, bytes, n - 3);
    assert_int_equal(qb_safetensors_read(bad, &st), QB_ERR_FORMAT);
    assert_non_null(strstr(qb_last_error(), "truncated"));
    /* header length beyond the file */
    write_bytes(bad, bytes, 8 + hlen / 2);
    assert_int_equal(qb_safetensors_read(bad, &st), QB_ERR_FORMAT);
    /* too short for a header length */
    write_bytes(bad, bytes, 5);
    assert_int_equal(qb_safetensors_read(bad, &st), QB_ERR_FORMAT);
    /* extra bytes after the data */
    char *more = malloc(n + 4);
    memcpy(more, bytes, n);
    memset(more + n, 0, 4);
    write_bytes(bad, more, n + 4);
    assert_int_equal(qb_safetensors_read(bad, &st), QB_ERR_FORMAT);
    assert_non_null(strstr(qb_last_error(), "after the last tensor"));
    /* every single-byte corruption of the header is either still valid or a
     * clean error (no crash, no leak under the sanitizers) */
    for (uint64_t i = 8; i < 8 + hlen; i++) {
        memcpy(more, bytes, n);
        more[i] = (char)(more[i] ^ 0x5a);
        write_bytes(bad, more, n);
        qb_status s = qb_safetensors_read(bad, &st);
        if (s == QB_OK)
            qb_safetensors_free(&st);
        else
            assert_true(s == QB_ERR_FORMAT || s == QB_ERR_UNSUPPORTED);
    }
    /* hand-written headers */
    struct { const char *json; const char *msg; } cases[] = {
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", "does not fill"},
        {"{\"x\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", "dtype Q4"},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", "lacks data_offsets"},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", "hole"},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", "appears twice"},
        {"[1,2]", "not a JSON object"},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} x", "trailing"},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(cases); i++) {
        size_t hl = strlen(cases[i].json);
        unsigned char *f = calloc(1, 8 + hl + 8);
        for (int k = 0; k < 8; k++) f[k] = (unsigned char)((uint64_t)hl >> (8 * k));
        memcpy(f + 8, cases[i].json, hl);
        write_bytes(bad, f, 8 + hl + 8);
        free(f);
        assert_int_not_equal(qb_safetensors_read(bad, &st), QB_OK);
        if (!strstr(qb_last_error(), cases[i].msg)) fail_msg("case %zu: %s", i, qb_last_error());
    }
    free(more);
    free(bytes);
    qb_meta_free(&meta);
    qb_tensor_free(&a);
    qb_tensor_free(&b);
    qb_test_rmtree(dir);
    free(dir);
}

static void test_model_file_round_trip_and_mismatch(void **state)
{
    (void)state;
    char *dir = qb_test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/lenet.safetensors", dir);
    qb_model m, r;
    assert_int_equal(qb_arch_build("lenet", 1, 28, 28, 10, &m), QB_OK);
    qb_model_init_params(&m, 3);
    qb_meta meta = {0}, got;
    qb_meta_set(&meta, "fp32_test_accuracy", "12.34");
    assert_int_equal(qb_model_save(path, &m, &meta, NULL, 0), QB_OK);
    assert_int_equal(qb_model_load(path, &r, &got, NULL), QB_OK);
    assert_string_equal(qb_meta_get(&got, "architecture"), "lenet");
    assert_string_equal(qb_meta_get(&got, "fp32_test_accuracy"), "12.34");
    assert_int_equal(r.n_layers, m.n_layers);
    for (int i = 0; i < m.n_layers; i++)
        for (int p = 0; p < m.layers[i].n_params; p++)
            if (m.layers[i].params[p].value.data)
                assert_memory_equal(m.layers[i].params[p].value.data, r.layers[i].params[p].value.data,
                                    qb_tensor_bytes(&m.layers[i].params[p].value));
    qb_model_free(&r);
    qb_meta_free(&got);

    /* a file whose fc1.weight has another shape, or with an unknown
     * architecture, is refused */
    qb_model other;
    assert_int_equal(qb_arch_build("mlp", 1, 28, 28, 10, &other), QB_OK);
    qb_named_tensor ts[16];
    int n = 0;
    for (int i = 0; i < m.n_layers; i++)
        for (int p = 0; p < m.layers[i].n_params; p++)
            if (m.layers[i].params[p].value.data) {
                ts[n].name = m.layers[i].params[p].name;
                ts[n].tensor = strcmp(ts[n].name, "fc1.weight") == 0 ? &other.layers[1].params[0].value
                                                                    : &m.layers[i].params[p].value;
                n++;
            }
    qb_meta_set(&meta, "architecture", "lenet");
    qb_meta_set(&meta, "input_shape", "1x28x28");
    qb_meta_set(&meta, "n_classes", "10");
    snprintf(path, sizeof path, "%s/liar.safetensors", dir);
    assert_int_equal(qb_safetensors_write(path, ts, n, &meta), QB_OK);
    assert_int_equal(qb_model_load(path, &r, NULL, NULL), QB_ERR_FORMAT);
    assert_non_null(strstr(qb_last_error(), "tensor fc1.weight is float32 (512, 784); architecture lenet needs float32 (128, 1600)"));
    qb_meta_set(&meta, "architecture", "vgg");
    assert_int_equal(qb_safetensors_write(path, ts, n, &meta), QB_OK);
    assert_int_equal(qb_model_load(path, &r, NULL, NULL), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "unknown model architecture 'vgg'"));
    qb_model_free(&other);
    qb_model_free(&m);
    qb_meta_free(&meta);
    qb_test_rmtree(dir);
    free(dir);
}

/* A few steps of real training lower the loss, and an interrupted run
 * resumed from its checkpoint ends bit-identical to an uninterrupted one. */
static void test_training_learns_and_resumes_exactly(void **state)
{
    (void)state;
    qb_fmnist d;
    assert_int_equal(qb_fmnist_load(qb_dataset_dir(NULL), &d), QB_OK);
    char *dir = qb_test_tmpdir(), full[512], part[512], ckpt[600];
    snprintf(full, sizeof full, "%s/full.safetensors", dir);
    snprintf(part, sizeof part, "%s/part.safetensors", dir);
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", part);
    qb_train_options o = {.arch = "mlp", .recipe = qb_arch_find("mlp")->recipe, .seed = 7,
                          .limit = 1024, .out_path = full};
    o.recipe.epochs = 3;
    o.recipe.batch = 64;
    qb_train_result r1, r2;
    assert_int_equal(qb_train(&o, &d, &r1), QB_OK);
    assert_true(r1.test_accuracy > 60); /* 3 epochs on 1,024 images: far above chance */
    o.out_path = part;
    o.checkpoint_path = ckpt;
    o.stop_after = 1;
    assert_int_equal(qb_train(&o, &d, &r2), QB_OK);
    assert_int_equal(r2.stopped, 1);
    struct stat st;
    assert_int_equal(stat(ckpt, &st), 0);
    assert_int_not_equal(stat(part, &st), 0);
    o.stop_after = 0;
    o.resume = 1;
    assert_int_equal(qb_train(&o, &d, &r2), QB_OK);
    assert_int_equal(r2.resumed_from, 1);
    assert_int_not_equal(stat(ckpt, &st), 0); /* removed once the model is written */
    assert_true(r1.test_accuracy == r2.test_accuracy);
    qb_model a, b;
    assert_int_equal(qb_model_load(full, &a, NULL, NULL), QB_OK);
    assert_int_equal(qb_model_load(part, &b, NULL, NULL), QB_OK);
    for (int i = 0; i < a.n_layers; i++)
        for (int p = 0; p < a.layers[i].n_params; p++)
            if (a.layers[i].params[p].value.data)
                assert_memory_equal(a.layers[i].params[p].value.data, b.layers[i].params[p].value.data,
                                    qb_tensor_bytes(&a.layers[i].params[p].value));
    /* resuming with another seed is refused, naming the mismatch */
    o.stop_after = 1;
    o.resume = 0;
    assert_int_equal(qb_train(&o, &d, &r2), QB_OK);
    o.seed = 8;
    o.resume = 1;
    assert_int_equal(qb_train(&o, &d, &r2), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "seed"));
    qb_model_free(&a);
    qb_model_free(&b);
    qb_fmnist_free(&d);
    qb_test_rmtree(dir);
    free(dir);
}

static void test_cli_train_and_models(void **state)
{
    (void)state;
    char *dir = qb_test_tmpdir(), *out = NULL;
    assert_int_equal(qb_test_run_qbench(&out, "train vgg"), 2);
    assert_non_null(strstr(out, "unknown model architecture 'vgg' (known: mlp, lenet, resnet)"));
    free(out);
    assert_int_equal(qb_test_run_qbench(&out, "train mlp --data /nonexistent --out %s/x.safetensors", dir), 2);
    assert_non_null(strstr(out, "make deps"));
    free(out);
    assert_int_equal(qb_test_run_qbench(&out, "train mlp --epochs -1"), 2);
    free(out);
    assert_int_equal(qb_test_run_qbench(&out, "train mlp --epochs 1 --limit 512 --out %s/mlp.safetensors -q", dir), 0);
    assert_non_null(strstr(out, "fp32 test accuracy"));
    free(out);
    char bad[600];
    snprintf(bad, sizeof bad, "%s/broken.safetensors", dir);
    write_bytes(bad, "\x10\0\0\0\0\0\0\0{not json at all", 24);
    assert_int_equal(qb_test_run_qbench(&out, "models --dir %s", dir), 2);
    assert_non_null(strstr(out, "mlp        mlp"));
    assert_non_null(strstr(out, "broken"));
    assert_non_null(strstr(out, "malformed JSON header"));
    free(out);
    qb_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_round_trip_and_errors),
        cmocka_unit_test(test_fashion_mnist_split),
        cmocka_unit_test(test_augment_crop_and_flip),
        cmocka_unit_test(test_safetensors_round_trip_and_corruption),
        cmocka_unit_test(test_model_file_round_trip_and_mismatch),
        cmocka_unit_test(test_training_learns_and_resumes_exactly),
        cmocka_unit_test(test_cli_train_and_models),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("workloads", tests, NULL, NULL);
}
