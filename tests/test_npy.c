/* .npy reading and writing: files written by NumPy itself (tests/data/npy,
 * made by make_npy.py), round trips of every dtype and rank, and every kind
 * of bad input the reader must refuse with a message naming the file. */
#include "qb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"
#include "status.h"
#include "tensor.h"

static char *golden(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/npy/%s", name);
    return qb_test_repo_path(rel);
}

static void read_golden(const char *name, qb_tensor *t)
{
    char *path = golden(name);
    qb_status s = qb_npy_read(path, t);
    if (s != QB_OK) fail_msg("%s: %s", name, qb_last_error());
    free(path);
}

/* Reads a golden file that must be refused; the message must contain `want`. */
static void refuse_golden(const char *name, qb_status expect, const char *want)
{
    char *path = golden(name);
    qb_tensor t;
    qb_status s = qb_npy_read(path, &t);
    if (s != expect) fail_msg("%s: expected status %d, got %d (%s)", name, expect, s, qb_last_error());
    assert_non_null(strstr(qb_last_error(), name));
    if (!strstr(qb_last_error(), want)) fail_msg("%s: '%s' lacks '%s'", name, qb_last_error(), want);
    free(path);
}

static void test_numpy_files_float(void **state)
{
    (void)state;
    qb_tensor t;
    read_golden("f32_2x3.npy", &t);
    assert_int_equal(t.dtype, QB_F32);
    assert_int_equal(t.ndim, 2);
    assert_int_equal(t.shape[0], 2);
    assert_int_equal(t.shape[1], 3);
    for (int i = 0; i < 6; i++) assert_true(((float *)t.data)[i] == i * 0.5f - 1.0f);
    qb_tensor_free(&t);

    read_golden("f64_scalar.npy", &t);
    assert_int_equal(t.dtype, QB_F64);
    assert_int_equal(t.ndim, 0);
    assert_true(((double *)t.data)[0] == 3.25);
    qb_tensor_free(&t);

    read_golden("f16_4.npy", &t);
    assert_int_equal(t.dtype, QB_F16);
    const uint16_t f16[4] = {0x3800, 0xC000, 0x7BFF, 0x0002}; /* 0.5, -2, 65504, 1e-7 (subnormal) */
    assert_memory_equal(t.data, f16, sizeof f16);
    qb_tensor_free(&t);

    read_golden("be_f8_2.npy", &t);
    assert_int_equal(t.dtype, QB_F64);
    assert_true(((double *)t.data)[0] == 1.5 && ((double *)t.data)[1] == -0.25);
    qb_tensor_free(&t);

    read_golden("v2_f32_2.npy", &t);
    assert_true(((float *)t.data)[1] == 2.0f);
    qb_tensor_free(&t);
    read_golden("v3_f32_2.npy", &t);
    assert_true(((float *)t.data)[1] == 4.0f);
    qb_tensor_free(&t);

    read_golden("empty_0x3.npy", &t);
    assert_int_equal(t.ndim, 2);
    assert_int_equal(qb_tensor_numel(&t), 0);
    qb_tensor_free(&t);

    read_golden("rank8.npy", &t);
    assert_int_equal(t.ndim, 8);
    assert_true(((float *)t.data)[15] == 15.0f);
    qb_tensor_free(&t);
}

static void test_numpy_files_integer(void **state)
{
    (void)state;
    qb_tensor t;
    read_golden("i8_2x2x2.npy", &t);
    assert_int_equal(t.dtype, QB_I8);
    assert_int_equal(t.ndim, 3);
    assert_int_equal(((int8_t *)t.data)[0], -128);
    assert_int_equal(((int8_t *)t.data)[7], 127);
    qb_tensor_free(&t);

    read_golden("u8_5.npy", &t);
    assert_int_equal(t.dtype, QB_U8);
    assert_int_equal(((uint8_t *)t.data)[4], 255);
    qb_tensor_free(&t);

    read_golden("i16_3.npy", &t);
    assert_int_equal(((int16_t *)t.data)[0], -32768);
    qb_tensor_free(&t);
    read_golden("u16_3.npy", &t);
    assert_int_equal(((uint16_t *)t.data)[2], 65535);
    qb_tensor_free(&t);
    read_golden("i32_3.npy", &t);
    assert_int_equal(((int32_t *)t.data)[0], INT32_MIN);
    qb_tensor_free(&t);
    read_golden("u32_3.npy", &t);
    assert_true(((uint32_t *)t.data)[2] == UINT32_MAX);
    qb_tensor_free(&t);
    read_golden("i64_3.npy", &t);
    assert_true(((int64_t *)t.data)[0] == INT64_MIN && ((int64_t *)t.data)[2] == INT64_MAX);
    qb_tensor_free(&t);
    read_golden("u64_3.npy", &t);
    assert_true(((uint64_t *)t.data)[2] == UINT64_MAX);
    qb_tensor_free(&t);

    read_golden("be_i4_3.npy", &t);
    assert_int_equal(t.dtype, QB_I32);
    assert_int_equal(((int32_t *)t.data)[1], -2);
    assert_int_equal(((int32_t *)t.data)[2], 70000);
    qb_tensor_free(&t);
}

static void test_numpy_files_refused(void **state)
{
    (void)state;
    refuse_golden("fortran_2x3.npy", QB_ERR_UNSUPPORTED, "Fortran");
    refuse_golden("bool_3.npy", QB_ERR_UNSUPPORTED, "'|b1'");
    refuse_golden("c64_2.npy", QB_ERR_UNSUPPORTED, "'<c8'");
    refuse_golden("rec_2.npy", QB_ERR_UNSUPPORTED, "structured");
}

/* Our writer's output must read back identically, for every dtype and a
 * range of ranks, and put the data 64-byte aligned. */
static void test_roundtrip_all_dtypes(void **state)
{
    (void)state;
    char *dir = qb_test_tmpdir();
    const qb_dtype dts[] = {QB_F32, QB_F64, QB_F16, QB_I8, QB_U8, QB_I16,
                            QB_U16, QB_I32, QB_U32, QB_I64, QB_U64};
    const int64_t shapes[][QB_MAX_DIMS] = {{0}, {5}, {2, 3}, {1, 2, 3}, {2, 1, 2, 1, 2, 1, 2, 1}};
    const int ranks[] = {0, 1, 2, 3, 8};
    for (size_t d = 0; d < QB_ARRAY_LEN(dts); d++) {
        for (size_t r = 0; r < QB_ARRAY_LEN(ranks); r++) {
            qb_tensor t, u;
            assert_int_equal(qb_tensor_alloc(&t, dts[d], ranks[r], shapes[r]), QB_OK);
            unsigned char *b = t.data;
            for (size_t i = 0; i < qb_tensor_bytes(&t); i++) b[i] = (unsigned char)(i * 37 + d);
            char path[512];
            snprintf(path, sizeof path, "%s/t_%zu_%zu.npy", dir, d, r);
            assert_int_equal(qb_npy_write(path, &t), QB_OK);
            assert_int_equal(qb_npy_read(path, &u), QB_OK);
            assert_int_equal(u.dtype, t.dtype);
            assert_int_equal(u.ndim, t.ndim);
            for (int k = 0; k < t.ndim; k++) assert_int_equal(u.shape[k], t.shape[k]);
            if (qb_tensor_bytes(&t)) assert_memory_equal(u.data, t.data, qb_tensor_bytes(&t));
            size_t len;
            char *raw = qb_test_read_file(path, &len);
            assert_int_equal((len - qb_tensor_bytes(&t)) % 64, 0);
            assert_true(raw[len - qb_tensor_bytes(&t) - 1] == '\n');
            free(raw);
            qb_tensor_free(&t);
            qb_tensor_free(&u);
        }
    }
    qb_test_rmtree(dir);
    free(dir);
}

/* Builds a v1.0 file image around `dict` with `data_bytes` zero bytes. */
static size_t make_npy(unsigned char *buf, const char *dict, size_t data_bytes)
{
    size_t n = strlen(dict);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(n & 0xFF);
    buf[9] = (unsigned char)(n >> 8);
    memcpy(buf + 10, dict, n);
    memset(buf + 10 + n, 0, data_bytes);
    return 10 + n + data_bytes;
}

static void expect_refused(const unsigned char *buf, size_t len, qb_status expect, const char *want)
{
    qb_tensor t;
    qb_status s = qb_npy_read_mem(buf, len, "x.npy", &t);
    if (s != expect) fail_msg("expected status %d, got %d (%s)", expect, s, qb_last_error());
    assert_non_null(strstr(qb_last_error(), "x.npy"));
    if (!strstr(qb_last_error(), want)) fail_msg("'%s' lacks '%s'", qb_last_error(), want);
}

static void test_malformed_headers(void **state)
{
    (void)state;
    unsigned char buf[1024];
    const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";
    size_t len = make_npy(buf, ok, 8);
    qb_tensor t;
    assert_int_equal(qb_npy_read_mem(buf, len, "x.npy", &t), QB_OK);
    qb_tensor_free(&t);

    expect_refused((const unsigned char *)"hello world, not npy", 20, QB_ERR_FORMAT, "not a .npy file");
    expect_refused(buf, 7, QB_ERR_FORMAT, "not a .npy file");
    expect_refused(buf, 30, QB_ERR_FORMAT, "truncated .npy header");
    expect_refused(buf, len - 1, QB_ERR_FORMAT, "truncated");
    expect_refused(buf, len + 4, QB_ERR_FORMAT, "bytes follow the data");
    buf[6] = 4;
    expect_refused(buf, len, QB_ERR_UNSUPPORTED, "version 4.0");

    static const struct { const char *dict; qb_status s; const char *want; } bad[] = {
        {"['descr', '<f4']", QB_ERR_FORMAT, "expected '{'"},
        {"{'descr': '<f4', 'shape': (2,), }", QB_ERR_FORMAT, "must have the keys"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", QB_ERR_FORMAT, "unknown key"},
        {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", QB_ERR_FORMAT, "True or False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", QB_ERR_FORMAT, "non-negative"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", QB_ERR_FORMAT, "tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2 3), }", QB_ERR_FORMAT, "expected ','"},
        {"{'descr: '<f4', 'fortran_order': False, 'shape': (2,), }", QB_ERR_FORMAT, "expected ':'"},
        {"{'descr': '<U8', 'fortran_order': False, 'shape': (2,), }", QB_ERR_UNSUPPORTED, "'<U8'"},
        {"{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", QB_ERR_UNSUPPORTED, "'|O'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", QB_ERR_UNSUPPORTED, "rank"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", QB_ERR_FORMAT, "overflows"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", QB_ERR_NOMEM, "too large"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }", QB_ERR_FORMAT, "truncated"},
    };
    for (size_t i = 0; i < QB_ARRAY_LEN(bad); i++) {
        len = make_npy(buf, bad[i].dict, 8);
        expect_refused(buf, len, bad[i].s, bad[i].want);
    }
}

/* A file that cannot be written leaves the old one alone; bf16 is refused. */
static void test_write_failures_keep_old_file(void **state)
{
    (void)state;
    char *dir = qb_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/keep.npy", dir);
    qb_tensor t;
    int64_t shape[1] = {3};
    assert_int_equal(qb_tensor_alloc(&t, QB_F32, 1, shape), QB_OK);
    assert_int_equal(qb_npy_write(path, &t), QB_OK);
    size_t before_len;
    char *before = qb_test_read_file(path, &before_len);

    qb_tensor b;
    assert_int_equal(qb_tensor_alloc(&b, QB_BF16, 1, shape), QB_OK);
    assert_int_equal(qb_npy_write(path, &b), QB_ERR_UNSUPPORTED);
    assert_non_null(strstr(qb_last_error(), "bfloat16"));
    size_t after_len;
    char *after = qb_test_read_file(path, &after_len);
    assert_int_equal(before_len, after_len);
    assert_memory_equal(before, after, before_len);

    char bad[600];
    snprintf(bad, sizeof bad, "%s/missing/dir/x.npy", dir);
    assert_int_equal(qb_npy_write(bad, &t), QB_ERR_IO);
    assert_non_null(strstr(qb_last_error(), bad));
    qb_tensor_free(&b);
    assert_int_equal(qb_npy_read(bad, &b), QB_ERR_IO);
    assert_non_null(strstr(qb_last_error(), "cannot open"));

    free(before);
    free(after);
    qb_tensor_free(&t);
    qb_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numpy_files_float),
        cmocka_unit_test(test_numpy_files_integer),
        cmocka_unit_test(test_numpy_files_refused),
        cmocka_unit_test(test_roundtrip_all_dtypes),
        cmocka_unit_test(test_malformed_headers),
        cmocka_unit_test(test_write_failures_keep_old_file),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("npy", tests, NULL, NULL);
}
