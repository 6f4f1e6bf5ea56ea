/* ONNX's own node tests (Debian libonnx-testdata) for the integer
 * operators QLinearConv, QLinearMatMul, MatMulInteger and ConvInteger, run
 * through qbench's kernels (workloads/qops.h) on every backend this CPU
 * supports; every output must equal ONNX's bit for bit. Each node test is
 * one test case; tests qbench cannot run are listed with the reason. */
#include "qb_test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "onnx_pb.h"
#include "qops.h"
#include "requant.h"

static const char *const prefixes[] = {"test_qlinearconv", "test_qlinearmatmul", "test_matmulinteger",
                                       "test_convinteger", "test_basic_convinteger"};

typedef struct {
    char *dir;
    qb_onnx_node_test t;
    char *load_error;
} integer_case;

static integer_case *cases;
static int n_cases;
static const char *root;

static int wanted(const char *name)
{
    for (size_t i = 0; i < QB_ARRAY_LEN(prefixes); i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0) return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void discover(void)
{
    root = qb_onnx_node_tests_dir();
    DIR *d = opendir(root);
    if (!d) return;
    char **names = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!wanted(e->d_name)) continue;
        names = realloc(names, (size_t)(n_cases + 1) * sizeof *names);
        names[n_cases++] = strdup(e->d_name);
    }
    closedir(d);
    if (!n_cases) return;
    qsort(names, (size_t)n_cases, sizeof *names, cmp_str);
    cases = calloc((size_t)n_cases, sizeof *cases);
    for (int i = 0; i < n_cases; i++) {
        if (asprintf(&cases[i].dir, "%s/%s", root, names[i]) < 0) abort();
        free(names[i]);
        if (qb_onnx_node_test_load(cases[i].dir, &cases[i].t) != QB_OK) cases[i].load_error = strdup(qb_last_error());
    }
    free(names);
}

static qb_qop_conv_attrs conv_attrs(const qb_onnx_node *n)
{
    qb_qop_conv_attrs a = {.group = qb_onnx_attr_int(n, "group", 1)};
    struct {
        const char *name;
        int64_t *dst;
        size_t max;
    } lists[] = {{"kernel_shape", a.kernel_shape, 2}, {"strides", a.strides, 2}, {"pads", a.pads, 4},
                 {"dilations", a.dilations, 2}};
    for (size_t i = 0; i < QB_ARRAY_LEN(lists); i++) {
        const qb_onnx_attr *at = qb_onnx_attr_find(n, lists[i].name);
        if (!at) continue;
        assert_int_equal(at->type, QB_ONNX_ATTR_INTS);
        assert_true(at->n <= lists[i].max);
        memcpy(lists[i].dst, at->ints, at->n * sizeof(int64_t));
    }
    const qb_onnx_attr *ap = qb_onnx_attr_find(n, "auto_pad");
    if (ap) a.auto_pad = ap->s;
    return a;
}

/* Runs the graph's single node on backend be. */
static qb_status run_node(const qb_backend *be, const qb_onnx_node *n, qb_tensor **in, int nin, qb_tensor *y)
{
#define IN(i) ((i) < nin ? in[i] : NULL)
    if (strcmp(n->op_type, "QLinearMatMul") == 0)
        return qb_qop_qlinear_matmul(be, NULL, IN(0), IN(1), IN(2), IN(3), IN(4), IN(5), IN(6), IN(7), y);
    if (strcmp(n->op_type, "MatMulInteger") == 0) return qb_qop_matmul_integer(be, NULL, IN(0), IN(1), IN(2), IN(3), y);
    qb_qop_conv_attrs a = conv_attrs(n);
    if (strcmp(n->op_type, "ConvInteger") == 0) return qb_qop_conv_integer(be, NULL, IN(0), IN(1), IN(2), IN(3), &a, y);
    if (strcmp(n->op_type, "QLinearConv") == 0)
        return qb_qop_qlinear_conv(be, NULL, IN(0), IN(1), IN(2), IN(3), IN(4), IN(5), IN(6), IN(7), IN(8), &a, y);
#undef IN
    return qb_error(QB_ERR_UNSUPPORTED, "op %s", n->op_type);
}

static void run_case(void **state)
{
    const integer_case *c = *state;
    const qb_onnx_model *m = &c->t.model;
    assert_int_equal(m->n_nodes, 1);
    const qb_onnx_node *n = &m->nodes[0];
    for (int s = 0; s < c->t.n_sets; s++) {
        const qb_onnx_data_set *ds = &c->t.sets[s];
        qb_tensor *in[16] = {0};
        int nin = 0;
        /* node inputs by name: graph inputs from the data set, else initializers */
        for (int i = 0; i < n->n_inputs && i < 16; i++) {
            if (!n->inputs[i][0]) continue;
            for (int g = 0; g < m->n_inputs; g++)
                if (strcmp(m->inputs[g], n->inputs[i]) == 0) in[i] = &ds->inputs[g];
            for (int g = 0; g < m->n_initializers; g++)
                if (strcmp(m->initializers[g].name, n->inputs[i]) == 0) in[i] = &m->initializers[g].t;
            if (!in[i]) fail_msg("%s: input %s not found", c->dir, n->inputs[i]);
            nin = i + 1;
        }
        const qb_tensor *want = &ds->outputs[0];
        for (int b = 0; b < qb_backend_count(); b++) {
            const qb_backend *be = qb_backend_at(b);
            if (qb_backend_missing_isa(be)) continue;
            qb_tensor y;
            qb_status st = run_node(be, n, in, nin, &y);
            if (st) fail_msg("%s (%s): %s", c->dir, be->name, qb_last_error());
            char gs[100], ws[100];
            if (y.dtype != want->dtype || y.ndim != want->ndim ||
                memcmp(y.shape, want->shape, (size_t)y.ndim * sizeof y.shape[0]) != 0)
                fail_msg("%s (%s): output is %s %s, ONNX expects %s %s", ds->dir, be->name, qb_dtype_name(y.dtype),
                         qb_shape_str(y.ndim, y.shape, gs, sizeof gs), qb_dtype_name(want->dtype),
                         qb_shape_str(want->ndim, want->shape, ws, sizeof ws));
            size_t es = qb_dtype_size(want->dtype);
            for (int64_t i = 0; i < qb_tensor_numel(want); i++)
                if (memcmp((char *)y.data + i * es, (char *)want->data + i * es, es) != 0) {
                    long long g = want->dtype == QB_I32 ? ((int32_t *)y.data)[i]
                                  : want->dtype == QB_U8 ? ((uint8_t *)y.data)[i] : ((int8_t *)y.data)[i];
                    long long w = want->dtype == QB_I32 ? ((int32_t *)want->data)[i]
                                  : want->dtype == QB_U8 ? ((uint8_t *)want->data)[i] : ((int8_t *)want->data)[i];
                    fail_msg("%s (%s): output[%lld] = %lld, ONNX expects %lld", ds->dir, be->name, (long long)i, g, w);
                }
            qb_tensor_free(&y);
        }
    }
}

static void fail_load(void **state)
{
    const integer_case *c = *state;
    fail_msg("%s could not be read: %s", c->dir, c->load_error);
}

static void discovery(void **state)
{
    (void)state;
    if (n_cases == 0)
        fail_msg("no QLinearConv/QLinearMatMul/MatMulInteger/ConvInteger tests in %s; install Debian's "
                 "libonnx-testdata (make deps) or set QBENCH_ONNX_NODE_TESTS", root);
    print_message("ONNX integer conformance: %d node tests in %s, each on every supported backend\n", n_cases, root);
}

/* Beyond ONNX's few node tests: int8 activations and weights, per-channel
 * scales and zero points, bias, stride 2 with SAME_UPPER padding; per-row
 * activation zero points in MatMulInteger; against sums written here. */
static qb_tensor make(qb_dtype d, int ndim, const int64_t *shape)
{
    qb_tensor t;
    assert_int_equal(qb_tensor_alloc(&t, d, ndim, shape), QB_OK);
    return t;
}

static void test_qlinear_conv_int8_same_upper(void **state)
{
    (void)state;
    const int64_t xs[4] = {1, 3, 6, 5}, wsh[4] = {4, 3, 3, 3}, one[1] = {1}, four[1] = {4};
    qb_tensor x = make(QB_I8, 4, xs), w = make(QB_I8, 4, wsh), xsc = make(QB_F32, 1, one), xzp = make(QB_I8, 1, one);
    qb_tensor wsc = make(QB_F32, 1, four), wzp = make(QB_I8, 1, four), ysc = make(QB_F32, 1, one), yzp = make(QB_I8, 1, one);
    qb_tensor bias = make(QB_I32, 1, four);
    int8_t *xd = x.data, *wd = w.data;
    for (int i = 0; i < 90; i++) xd[i] = (int8_t)(i * 37 % 256 - 128);
    for (int i = 0; i < 108; i++) wd[i] = (int8_t)(i * 53 % 255 - 127);
    *(float *)xsc.data = 0.05f;
    *(int8_t *)xzp.data = -3;
    for (int c = 0; c < 4; c++) {
        ((float *)wsc.data)[c] = 0.01f * (c + 1);
        ((int8_t *)wzp.data)[c] = (int8_t)(c - 2);
        ((int32_t *)bias.data)[c] = 100 * c - 150;
    }
    *(float *)ysc.data = 0.7f;
    *(int8_t *)yzp.data = 5;
    qb_qop_conv_attrs a = {.strides = {2, 2}, .auto_pad = "SAME_UPPER"};
    /* SAME_UPPER, stride 2: out 3x3, total pad (3-1)*2+3-6 = 1 rows (bottom), (3-1)*2+3-5 = 2 cols (1 left, 1 right) */
    for (int b = 0; b < qb_backend_count(); b++) {
        const qb_backend *be = qb_backend_at(b);
        if (qb_backend_missing_isa(be)) continue;
        qb_tensor y;
        assert_int_equal(qb_qop_qlinear_conv(be, NULL, &x, &xsc, &xzp, &w, &wsc, &wzp, &ysc, &yzp, &bias, &a, &y), QB_OK);
        assert_int_equal(y.dtype, QB_I8);
        assert_true(y.ndim == 4 && y.shape[1] == 4 && y.shape[2] == 3 && y.shape[3] == 3);
        for (int oc = 0; oc < 4; oc++)
            for (int oy = 0; oy < 3; oy++)
                for (int ox = 0; ox < 3; ox++) {
                    int64_t acc = ((int32_t *)bias.data)[oc];
                    for (int ic = 0; ic < 3; ic++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int iy = oy * 2 + ky, ix = ox * 2 - 1 + kx; /* pad top 0, left 1 */
                                int xv = iy < 6 && ix >= 0 && ix < 5 ? xd[(ic * 6 + iy) * 5 + ix] : -3;
                                acc += (int64_t)(xv + 3) * (wd[((oc * 3 + ic) * 3 + ky) * 3 + kx] - (oc - 2));
                            }
                    int32_t mult, sh;
                    assert_int_equal(qb_requant_multiplier((double)0.05f * (0.01f * (oc + 1)) / 0.7f, &mult, &sh), QB_OK);
                    int32_t want = qb_requant_code((int32_t)acc, mult, sh, 5, -128, 127);
                    assert_int_equal(((int8_t *)y.data)[(oc * 3 + oy) * 3 + ox], want);
                }
        qb_tensor_free(&y);
    }
    qb_tensor *all[] = {&x, &w, &xsc, &xzp, &wsc, &wzp, &ysc, &yzp, &bias};
    for (size_t i = 0; i < QB_ARRAY_LEN(all); i++) qb_tensor_free(all[i]);
}

static void test_matmul_integer_per_row_zero_points(void **state)
{
    (void)state;
    const int64_t as[2] = {3, 5}, bs[2] = {5, 2}, three[1] = {3};
    qb_tensor a = make(QB_I8, 2, as), b = make(QB_U8, 2, bs), azp = make(QB_I8, 1, three);
    for (int i = 0; i < 15; i++) ((int8_t *)a.data)[i] = (int8_t)(i * 29 % 256 - 128);
    for (int i = 0; i < 10; i++) ((uint8_t *)b.data)[i] = (uint8_t)(i * 71 % 256);
    for (int r = 0; r < 3; r++) ((int8_t *)azp.data)[r] = (int8_t)(r * 50 - 60);
    qb_tensor y;
    assert_int_equal(qb_qop_matmul_integer(NULL, NULL, &a, &b, &azp, NULL, &y), QB_OK);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 2; c++) {
            int32_t want = 0;
            for (int k = 0; k < 5; k++)
                want += (((int8_t *)a.data)[r * 5 + k] - (r * 50 - 60)) * ((uint8_t *)b.data)[k * 2 + c];
            assert_int_equal(((int32_t *)y.data)[r * 2 + c], want);
        }
    qb_tensor_free(&y);
    /* bad input names what is wrong */
    qb_tensor bad = make(QB_U8, 1, three);
    assert_int_equal(qb_qop_matmul_integer(NULL, NULL, &a, &b, &bad, NULL, &y), QB_ERR_ARG);
    assert_non_null(strstr(qb_last_error(), "a_zero_point"));
    qb_tensor_free(&bad);
    qb_tensor_free(&a), qb_tensor_free(&b), qb_tensor_free(&azp);
}

int main(void)
{
    discover();
    struct CMUnitTest *tests = calloc((size_t)n_cases + 3, sizeof *tests);
    int n = 0;
    tests[n++] = (struct CMUnitTest){"onnx_integer_discovery", discovery, NULL, NULL, NULL};
    tests[n++] = (struct CMUnitTest){"qlinear_conv_int8_same_upper", test_qlinear_conv_int8_same_upper, NULL, NULL, NULL};
    tests[n++] = (struct CMUnitTest){"matmul_integer_per_row_zero_points", test_matmul_integer_per_row_zero_points, NULL, NULL, NULL};
    for (int i = 0; i < n_cases; i++) {
        const char *name = cases[i].t.name ? cases[i].t.name : cases[i].dir;
        tests[n++] = (struct CMUnitTest){name, cases[i].load_error ? fail_load : run_case, NULL, NULL, &cases[i]};
    }
    qb_test_apply_filter();
    int rc = _cmocka_run_group_tests("onnx_integer", tests, (size_t)n, NULL, NULL);
    for (int i = 0; i < n_cases; i++) {
        qb_onnx_node_test_free(&cases[i].t);
        free(cases[i].dir);
        free(cases[i].load_error);
    }
    free(cases);
    free(tests);
    return rc;
}
