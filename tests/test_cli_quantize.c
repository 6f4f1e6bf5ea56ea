/* `qbench schemes` and `qbench quantize` run as a user would: outputs that
 * match the library, and bad input (flags, files, values) answered with
 * exit status 2 and a message naming the problem, without touching
 * existing output files or leaving temporary files behind. */
#include "qb_test.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"
#include "quant.h"
#include "rng.h"

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = qb_test_tmpdir();
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    qb_test_rmtree(dir);
    free(dir);
    return 0;
}

static const char *path(const char *name)
{
    static char buf[4][600];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* A float32 (rows, cols) tensor with a Gaussian per row of growing scale. */
static void write_input(const char *name, int64_t rows, int64_t cols, float special, int64_t at)
{
    qb_tensor t;
    int64_t shape[2] = {rows, cols};
    assert_int_equal(qb_tensor_alloc(&t, QB_F32, 2, shape), QB_OK);
    qb_rng r;
    qb_rng_seed(&r, 17);
    float *x = t.data;
    for (int64_t i = 0; i < rows * cols; i++) x[i] = qb_rng_normal(&r) * (float)(1 + i / cols);
    if (at >= 0) x[at] = special;
    assert_int_equal(qb_npy_write(path(name), &t), QB_OK);
    qb_tensor_free(&t);
}

/* Runs qbench and checks the exit status and that the output holds `want`. */
static char *run(int want_status, const char *want, const char *fmt_args)
{
    char *out = NULL;
    int status = qb_test_run_qbench(&out, "%s", fmt_args);
    if (status != want_status || (want && (!out || !strstr(out, want))))
        fail_msg("qbench %s\n  exit %d (want %d), output:\n%s\n  (want '%s')", fmt_args, status,
                 want_status, out ? out : "", want ? want : "");
    return out;
}

static void run_ok(const char *want, const char *args) { free(run(0, want, args)); }
static void run_bad(const char *want, const char *args) { free(run(2, want, args)); }

static void test_schemes_lists_the_table(void **state)
{
    (void)state;
    char *out = run(0, "uniform-asym  1-8", "schemes");
    for (int i = 0; i < qb_schemes_count(); i++) assert_non_null(strstr(out, qb_scheme_at(i)->name));
    free(out);
    out = run(0, "scheme,bits,default_bits,params,calibrated,levels\n", "schemes --format csv");
    int lines = 0;
    for (char *p = out; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, qb_schemes_count() + 1);
    assert_non_null(strstr(out, "binary,1,1,scale,yes,"));
    free(out);
    run_bad("--format: expected text or csv", "schemes --format xml");
}

static void test_quantize_writes_what_the_library_computes(void **state)
{
    (void)state;
    write_input("x.npy", 8, 16, 0, -1);
    char args[2400];
    snprintf(args, sizeof args, "quantize --in %s --out %s --scheme uniform-sym --bits 8 "
             "--granularity channel --codes %s --params %s", path("x.npy"), path("y.npy"),
             path("q.npy"), path("p.csv"));
    char *out = run(0, "sqnr_db", args);
    assert_non_null(strstr(out, "blocks        8, parameter shape (8,)"));
    assert_non_null(strstr(out, "size          160 bytes"));
    free(out);

    qb_tensor x, y, q;
    assert_int_equal(qb_npy_read(path("x.npy"), &x), QB_OK);
    assert_int_equal(qb_npy_read(path("y.npy"), &y), QB_OK);
    assert_int_equal(qb_npy_read(path("q.npy"), &q), QB_OK);
    assert_int_equal(y.dtype, QB_F32);
    assert_int_equal(q.dtype, QB_I8);
    qb_quant_config c;
    assert_int_equal(qb_quant_config_parse(&c, "uniform-sym", 8, "channel", NULL, NULL), QB_OK);
    qb_qparams p;
    assert_int_equal(qb_qparams_fit(&p, &c, x.data, 2, x.shape), QB_OK);
    float want[128];
    int8_t codes[128];
    assert_int_equal(qb_fake_quantize(&p, x.data, 128, want), QB_OK);
    assert_int_equal(qb_quantize_to(&p, x.data, 128, QB_I8, codes), QB_OK);
    assert_memory_equal(y.data, want, sizeof want);
    assert_memory_equal(q.data, codes, sizeof codes);

    char *csv = qb_test_read_file(path("p.csv"), NULL);
    char first[200];
    snprintf(first, sizeof first, "block,i0,scale\n0,0,%.9g\n", p.scale[0]);
    assert_non_null(csv);
    if (strncmp(csv, first, strlen(first)) != 0) fail_msg("p.csv starts:\n%.200s\nwant:\n%s", csv, first);
    free(csv);
    qb_qparams_free(&p);
    qb_tensor_free(&x);
    qb_tensor_free(&y);
    qb_tensor_free(&q);

    /* CSV metrics: a header and one row with as many fields. */
    snprintf(args, sizeof args, "quantize --in %s --out %s --scheme kmeans --bits 2 --granularity "
             "group:4 --calib mse --format csv --params %s", path("x.npy"), path("y.npy"), path("p.csv"));
    out = run(0, "input,scheme,bits,granularity,axis,calib,rounding,numel,blocks,size_bytes,", args);
    char *nl = strchr(out, '\n');
    int hdr = 0, row = 0;
    for (char *p2 = out; p2 < nl; p2++) hdr += *p2 == ',';
    for (char *p2 = nl + 1; *p2 && *p2 != '\n'; p2++) row += *p2 == ',';
    assert_int_equal(hdr, row);
    assert_non_null(strstr(out, ",kmeans,2,group:4,1,mse,nearest,128,32,"));
    free(out);
    csv = qb_test_read_file(path("p.csv"), NULL);
    assert_non_null(strstr(csv, "block,i0,i1,level_0,level_1,level_2,level_3\n"));
    free(csv);
}

/* A .npy file with header dict `dict` and `n` data bytes from `data`. */
static void write_raw_npy(const char *name, const char *dict, const void *data, size_t n)
{
    size_t len = strlen(dict);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(len & 0xFF),
                             (unsigned char)(len >> 8)};
    FILE *f = fopen(path(name), "wb");
    fwrite(pre, 1, sizeof pre, f);
    fwrite(dict, 1, len, f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static int count_temp_files(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static void test_bad_input_exits_2_with_a_message(void **state)
{
    (void)state;
    write_input("good.npy", 4, 5, 0, -1);
    write_input("nan.npy", 4, 5, NAN, 7);
    /* Failed runs must leave an existing output alone. */
    FILE *f = fopen(path("keep.npy"), "wb");
    fputs("previous contents", f);
    fclose(f);
    /* path() rotates four buffers: keep copies of what is used throughout. */
    char in[600], keep[600];
    snprintf(in, sizeof in, "%s", path("good.npy"));
    snprintf(keep, sizeof keep, "%s", path("keep.npy"));
    char args[2400];
#define BAD(want, ...)                                  \
    do {                                                \
        snprintf(args, sizeof args, __VA_ARGS__);       \
        run_bad(want, args);                            \
    } while (0)
    BAD("--scheme: unknown scheme 'foo' (known: uniform-asym,", "quantize --in %s --out %s --scheme foo", in, keep);
    BAD("--bits: scheme 'binary' does not take 4 bits (it takes 1)", "quantize --in %s --out %s --scheme binary --bits 4", in, keep);
    BAD("--granularity: granularity 'group:0': give the group size", "quantize --in %s --out %s --scheme pow2 --granularity group:0", in, keep);
    BAD("--calib: unknown calibration 'best'", "quantize --in %s --out %s --scheme pow2 --calib best", in, keep);
    BAD("--rounding: unknown rounding 'up'", "quantize --in %s --out %s --scheme pow2 --rounding up", in, keep);
    BAD("--in X.npy is required", "quantize --out %s --scheme pow2", keep);
    BAD("--scheme is required", "quantize --in %s --out %s", in, keep);
    BAD("unknown flag '--bogus'", "quantize --in %s --out %s --scheme pow2 --bogus", in, keep);
    BAD("--bits: expected an integer, got 'eight'", "quantize --in %s --out %s --scheme pow2 --bits eight", in, keep);
    BAD("axis 5 is out of range for shape (4, 5)", "quantize --in %s --out %s --scheme fp8-e4m3 --granularity channel --axis 5", in, keep);
    BAD("--axis applies to channel and group granularity", "quantize --in %s --out %s --scheme fp16 --axis 1", in, keep);
    BAD("narrow range applies only to uniform-sym", "quantize --in %s --out %s --scheme uniform-asym --narrow-range", in, keep);
    BAD("value 7 (1, 2) is NaN", "quantize --in %s --out %s --scheme uniform-asym", path("nan.npy"), keep);
    BAD("cannot open", "quantize --in %s --out %s --scheme uniform-asym", path("missing.npy"), keep);
    BAD("check that the folder exists", "quantize --in %s --out %s --scheme uniform-asym", in, path("no/such/dir/y.npy"));

    /* Malformed files. */
    write_raw_npy("trunc.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1000,), }\n", "abcd", 4);
    BAD("truncated: the header says (1000,) float32, 4000 bytes of data, but only 4 follow", "quantize --in %s --out %s --scheme uniform-sym", path("trunc.npy"), keep);
    write_raw_npy("huge.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n", NULL, 0);
    BAD("too large", "quantize --in %s --out %s --scheme uniform-sym", path("huge.npy"), keep);
    f = fopen(path("text.npy"), "wb");
    fputs("1,2,3\n", f);
    fclose(f);
    BAD("not a .npy file", "quantize --in %s --out %s --scheme uniform-sym", path("text.npy"), keep);
    qb_tensor t;
    int64_t shape[1] = {3};
    assert_int_equal(qb_tensor_alloc(&t, QB_I8, 1, shape), QB_OK);
    assert_int_equal(qb_npy_write(path("int.npy"), &t), QB_OK);
    qb_tensor_free(&t);
    BAD("holds int8 values; quantize needs floating-point input", "quantize --in %s --out %s --scheme uniform-sym", path("int.npy"), keep);
#undef BAD

    char *text = qb_test_read_file(keep, NULL);
    assert_string_equal(text, "previous contents");
    free(text);
    assert_int_equal(count_temp_files(), 0);
}

static void test_infinities_saturate(void **state)
{
    (void)state;
    write_input("inf.npy", 2, 6, -INFINITY, 3);
    char args[2400];
    snprintf(args, sizeof args, "quantize --in %s --out %s --scheme uniform-asym --codes %s",
             path("inf.npy"), path("y.npy"), path("q.npy"));
    run_ok("1 infinite values saturated", args);
    qb_tensor q;
    assert_int_equal(qb_npy_read(path("q.npy"), &q), QB_OK);
    assert_int_equal(q.dtype, QB_U8);
    assert_int_equal(((uint8_t *)q.data)[3], 0);
    qb_tensor_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schemes_lists_the_table),
        cmocka_unit_test(test_quantize_writes_what_the_library_computes),
        cmocka_unit_test(test_bad_input_exits_2_with_a_message),
        cmocka_unit_test(test_infinities_saturate),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("cli_quantize", tests, setup, teardown);
}
