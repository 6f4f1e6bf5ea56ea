/* ONNX's own node tests (Debian libonnx-testdata) for QuantizeLinear,
 * DequantizeLinear and DynamicQuantizeLinear, run on qbench's quantizers
 * and compared bit for bit with ONNX's expected outputs.
 *
 * The tests are discovered by listing the node-test folder (every
 * test_quantizelinear*, test_dequantizelinear*, test_dynamicquantizelinear*
 * directory); each one whose ops and element types qbench supports becomes
 * one cmocka case named after it, so `make test` counts them. A supported
 * test that cannot run fails. The "_expanded" variants are the ops' ONNX
 * function bodies (ReduceMin, Div, Clip, Round, Cast, ... then
 * QuantizeLinear); a small float32 evaluator below runs those glue ops the
 * way ONNX's reference does, and the quantization ops go to qbench. */
#include "qb_test.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_pb.h"
#include "quant.h"

/* ---- values by name ---- */

#define MAX_VALUES 64

typedef struct {
    const char *name[MAX_VALUES];
    qb_tensor t[MAX_VALUES];
    int n;
} env;

static qb_tensor *env_get(env *e, const char *name)
{
    for (int i = e->n - 1; i >= 0; i--)
        if (strcmp(e->name[i], name) == 0) return &e->t[i];
    return NULL;
}

static qb_tensor *env_new(env *e, const char *name)
{
    if (e->n >= MAX_VALUES) return NULL;
    e->name[e->n] = name;
    memset(&e->t[e->n], 0, sizeof e->t[0]);
    return &e->t[e->n++];
}

static void env_free(env *e)
{
    for (int i = 0; i < e->n; i++) qb_tensor_free(&e->t[i]);
    e->n = 0;
}

static qb_status copy_tensor(const qb_tensor *src, qb_tensor *dst)
{
    qb_status st = qb_tensor_alloc(dst, src->dtype, src->ndim, src->shape);
    if (st == QB_OK && qb_tensor_bytes(src)) memcpy(dst->data, src->data, qb_tensor_bytes(src));
    return st;
}

/* ---- the quantization ops, on qbench's quantizers ---- */

/* ONNX's (scale, zero point, axis) as qbench parameters for codes of dtype
 * dt: uint8 codes are uniform-asym 8-bit, int8 codes uniform-sym 8-bit with
 * the given zero point; a 1-D scale means per-axis (channel) parameters. */
static qb_status affine_params(qb_dtype dt, const qb_tensor *x, const qb_tensor *scale,
                               const qb_tensor *zp, int64_t axis, qb_qparams *p)
{
    qb_quant_config c;
    qb_quant_config_init(&c, dt == QB_U8 ? &qb_scheme_uniform_asym : &qb_scheme_uniform_sym);
    c.bits = 8;
    if (scale->ndim == 1) {
        c.gran.kind = QB_GRAN_CHANNEL;
        c.gran.axis = (int)axis;
    }
    qb_status st = qb_qparams_alloc(p, &c, x->ndim, x->shape);
    if (st != QB_OK) return st;
    if (p->nblocks != qb_tensor_numel(scale) || (zp && qb_tensor_numel(zp) != p->nblocks)) {
        qb_qparams_free(p);
        return qb_error(QB_ERR_FORMAT, "scale/zero point sizes do not match axis %lld", (long long)axis);
    }
    for (int64_t b = 0; b < p->nblocks; b++) {
        p->scale[b] = ((const float *)scale->data)[b];
        p->zero_point[b] = !zp ? 0 : zp->dtype == QB_U8 ? ((const uint8_t *)zp->data)[b]
                                                        : ((const int8_t *)zp->data)[b];
    }
    return QB_OK;
}

static qb_status op_quantize_linear(const qb_onnx_node *n, qb_tensor **in, int nin, qb_tensor **out)
{
    const qb_tensor *zp = nin > 2 ? in[2] : NULL;
    qb_dtype dt = zp ? zp->dtype : QB_U8;
    qb_qparams p;
    qb_status st = affine_params(dt, in[0], in[1], zp, qb_onnx_attr_int(n, "axis", 1), &p);
    if (st == QB_OK) st = qb_tensor_alloc(out[0], dt, in[0]->ndim, in[0]->shape);
    if (st == QB_OK) st = qb_quantize_to(&p, in[0]->data, qb_tensor_numel(in[0]), dt, out[0]->data);
    qb_qparams_free(&p);
    return st;
}

static qb_status op_dequantize_linear(const qb_onnx_node *n, qb_tensor **in, int nin, qb_tensor **out)
{
    qb_qparams p;
    qb_status st = affine_params(in[0]->dtype, in[0], in[1], nin > 2 ? in[2] : NULL,
                                 qb_onnx_attr_int(n, "axis", 1), &p);
    if (st == QB_OK) st = qb_tensor_alloc(out[0], QB_F32, in[0]->ndim, in[0]->shape);
    if (st == QB_OK)
        st = qb_dequantize_from(&p, in[0]->dtype, in[0]->data, qb_tensor_numel(in[0]), out[0]->data);
    qb_qparams_free(&p);
    return st;
}

/* y, y_scale, y_zero_point: uint8 minmax per tensor, the range widened to hold 0. */
static qb_status op_dynamic_quantize_linear(const qb_onnx_node *n, qb_tensor **in, int nin,
                                            qb_tensor **out)
{
    (void)n;
    (void)nin;
    qb_quant_config c;
    qb_status st = qb_quant_config_parse(&c, "uniform-asym", 8, "tensor", "minmax", "nearest");
    qb_qparams p = {0};
    int64_t count = qb_tensor_numel(in[0]);
    if (st == QB_OK) st = qb_qparams_fit(&p, &c, in[0]->data, in[0]->ndim, in[0]->shape);
    if (st == QB_OK) st = qb_tensor_alloc(out[0], QB_U8, in[0]->ndim, in[0]->shape);
    if (st == QB_OK) st = qb_quantize_to(&p, in[0]->data, count, QB_U8, out[0]->data);
    if (st == QB_OK) st = qb_tensor_alloc(out[1], QB_F32, 0, NULL);
    if (st == QB_OK) st = qb_tensor_alloc(out[2], QB_U8, 0, NULL);
    if (st == QB_OK) {
        *(float *)out[1]->data = p.scale[0];
        *(uint8_t *)out[2]->data = (uint8_t)p.zero_point[0];
    }
    qb_qparams_free(&p);
    return st;
}

/* ---- the glue ops of the function bodies, in float32 like ONNX's reference ---- */

static qb_status op_constant(const qb_onnx_node *n, qb_tensor **in, int nin, qb_tensor **out)
{
    (void)in;
    (void)nin;
    const qb_onnx_attr *v = qb_onnx_attr_find(n, "value");
    if (!v || v->type != QB_ONNX_ATTR_TENSOR) return qb_error(QB_ERR_UNSUPPORTED, "Constant without a tensor value");
    return copy_tensor(&v->t, out[0]);
}

static qb_status op_identity(const qb_onnx_node *n, qb_tensor **in, int nin, qb_tensor **out)
{
    (void)n;
    (void)nin;
    return copy_tensor(in[0], out[0]);
}

static qb_status reduce(const qb_onnx_node *n, qb_tensor **in, qb_tensor **out, int want_max)
{
    if (qb_onnx_attr_find(n, "axes")) return qb_error(QB_ERR_UNSUPPORTED, "reduction over chosen axes");
    int64_t shape[QB_MAX_DIMS];
    int keep = qb_onnx_attr_int(n, "keepdims", 1) != 0;
    for (int d = 0; d < in[0]->ndim; d++) shape[d] = 1;
    qb_status st = qb_tensor_alloc(out[0], QB_F32, keep ? in[0]->ndim : 0, shape);
    if (st != QB_OK) return st;
    const float *x = in[0]->data;
    float r = x[0];
    for (int64_t i = 1; i < qb_tensor_numel(in[0]); i++) r = want_max ? fmaxf(r, x[i]) : fminf(r, x[i]);
    *(float *)out[0]->data = r;
    return QB_OK;
}

static qb_status op_reduce_min(const qb_onnx_node *n, qb_tensor **in, int nin, qb_tensor **out)
{
    (void)nin;
    return reduce(n, in, out, 0);
}

static qb_status op_reduce_max(const qb_onnx_node *n, qb_tensor **in, int nin, qb_tensor **out)
{
    (void)nin;
    return reduce(n, in, out, 1);
}

/* Elementwise a OP b where one side may be a single value (broadcast). */
static qb_status binary(qb_tensor **in, qb_tensor **out, char op)
{
    const qb_tensor *a = in[0], *b = in[1];
    int64_t na = qb_tensor_numel(a), nb = qb_tensor_numel(b);
    if (na != nb && na != 1 && nb != 1) return qb_error(QB_ERR_UNSUPPORTED, "general broadcasting");
    const qb_tensor *big = na >= nb ? a : b;
    qb_status st = qb_tensor_alloc(out[0], QB_F32, big->ndim, big->shape);
    if (st != QB_OK) return st;
    const float *x = a->data, *y = b->data;
    float *z = out[0]->data;
    for (int64_t i = 0; i < qb_tensor_numel(big); i++) {
        float u = x[na == 1 ? 0 : i], v = y[nb == 1 ? 0 : i];
        z[i] = op == '-' ? u - v : op == '/' ? u / v : op == '<' ? fminf(u, v) : fmaxf(u, v);
    }
    return QB_OK;
}

static qb_status op_sub(const qb_onnx_node *n, qb_tensor **in, int nin, qb_tensor **out) { (void)n; (void)nin; return binary(in, out, '-'); }
static qb_status op_div(const qb_onnx_node *n, qb_tensor **in, int nin, qb_tensor **out) { (void)n; (void)nin; return binary(in, out, '/'); }
static qb_status op_min(const qb_onnx_node *n, qb_tensor **in, int nin, qb_tensor **out) { (void)n; (void)nin; return binary(in, out, '<'); }
static qb_status op_max(const qb_onnx_node *n, qb_tensor **in, int nin, qb_tensor **out) { (void)n; (void)nin; return binary(in, out, '>'); }

static qb_status op_clip(const qb_onnx_node *n, qb_tensor **in, int nin, qb_tensor **out)
{
    (void)n;
    qb_status st = copy_tensor(in[0], out[0]);
    if (st != QB_OK) return st;
    float lo = nin > 1 && in[1] ? *(const float *)in[1]->data : -INFINITY;
    float hi = nin > 2 && in[2] ? *(const float *)in[2]->data : INFINITY;
    float *z = out[0]->data;
    for (int64_t i = 0; i < qb_tensor_numel(out[0]); i++) z[i] = z[i] < lo ? lo : z[i] > hi ? hi : z[i];
    return QB_OK;
}

static qb_status op_round(const qb_onnx_node *n, qb_tensor **in, int nin, qb_tensor **out)
{
    (void)n;
    (void)nin;
    qb_status st = copy_tensor(in[0], out[0]);
    float *z = out[0]->data;
    for (int64_t i = 0; st == QB_OK && i < qb_tensor_numel(out[0]); i++) z[i] = rintf(z[i]); /* half to even */
    return st;
}

static qb_status op_cast(const qb_onnx_node *n, qb_tensor **in, int nin, qb_tensor **out)
{
    (void)nin;
    int to = qb_onnx_dtype((int)qb_onnx_attr_int(n, "to", 0));
    if (to != QB_U8 && to != QB_I8 && to != QB_F32) return qb_error(QB_ERR_UNSUPPORTED, "Cast to this type");
    qb_status st = qb_tensor_alloc(out[0], (qb_dtype)to, in[0]->ndim, in[0]->shape);
    const float *x = in[0]->data;
    for (int64_t i = 0; st == QB_OK && i < qb_tensor_numel(in[0]); i++) {
        if (to == QB_F32) ((float *)out[0]->data)[i] = x[i];
        else if (to == QB_U8) ((uint8_t *)out[0]->data)[i] = (uint8_t)fminf(fmaxf(x[i], 0), 255);
        else ((int8_t *)out[0]->data)[i] = (int8_t)fminf(fmaxf(x[i], -128), 127);
    }
    return st;
}

typedef qb_status (*op_fn)(const qb_onnx_node *n, qb_tensor **in, int nin, qb_tensor **out);

static const struct {
    const char *op;
    op_fn run;
    int quantizer; /* runs on qbench's quantizers (vs. glue of a function body) */
} ops[] = {
    {"QuantizeLinear", op_quantize_linear, 1},
    {"DequantizeLinear", op_dequantize_linear, 1},
    {"DynamicQuantizeLinear", op_dynamic_quantize_linear, 1},
    {"Constant", op_constant, 0},
    {"Identity", op_identity, 0},
    {"ReduceMin", op_reduce_min, 0},
    {"ReduceMax", op_reduce_max, 0},
    {"Min", op_min, 0},
    {"Max", op_max, 0},
    {"Sub", op_sub, 0},
    {"Div", op_div, 0},
    {"Clip", op_clip, 0},
    {"Round", op_round, 0},
    {"Cast", op_cast, 0},
};

static op_fn find_op(const qb_onnx_node *n)
{
    if (n->domain[0] && strcmp(n->domain, "ai.onnx") != 0) return NULL;
    for (size_t i = 0; i < QB_ARRAY_LEN(ops); i++)
        if (strcmp(ops[i].op, n->op_type) == 0) return ops[i].run;
    return NULL;
}

/* ---- discovery and support ---- */

typedef struct {
    char *dir;
    qb_onnx_node_test t;
    char *load_error;      /* the test could not be read: a failure */
    char unsupported[256]; /* why qbench cannot run it ("" if it can) */
} conformance_case;

static int supported_dtype(qb_dtype d) { return d == QB_F32 || d == QB_U8 || d == QB_I8; }

/* Decides whether qbench runs this test, and if not records why. */
static void check_support(conformance_case *c)
{
    const qb_onnx_model *m = &c->t.model;
    for (int i = 0; i < m->n_nodes; i++)
        if (!find_op(&m->nodes[i])) {
            snprintf(c->unsupported, sizeof c->unsupported, "op %s is not one qbench runs",
                     m->nodes[i].op_type);
            return;
        }
    for (int s = 0; s < c->t.n_sets; s++) {
        const qb_onnx_data_set *d = &c->t.sets[s];
        for (int i = 0; i < d->n_inputs + d->n_outputs; i++) {
            const qb_tensor *x = i < d->n_inputs ? &d->inputs[i] : &d->outputs[i - d->n_inputs];
            if (!supported_dtype(x->dtype)) {
                snprintf(c->unsupported, sizeof c->unsupported, "element type %s (qbench codes are "
                         "int8/uint8 from float32)", qb_dtype_name(x->dtype));
                return;
            }
        }
    }
}

static int is_quantization_test(const char *name)
{
    static const char *const prefixes[] = {"test_quantizelinear", "test_dequantizelinear",
                                           "test_dynamicquantizelinear"};
    for (size_t i = 0; i < QB_ARRAY_LEN(prefixes); i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0) return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static conformance_case *cases;
static int n_cases;
static const char *root;

static void discover(void)
{
    root = qb_onnx_node_tests_dir();
    DIR *d = opendir(root);
    if (!d) return;
    char **names = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_quantization_test(e->d_name)) continue;
        names = realloc(names, (size_t)(n_cases + 1) * sizeof *names);
        names[n_cases++] = strdup(e->d_name);
    }
    closedir(d);
    if (!n_cases) return;
    qsort(names, (size_t)n_cases, sizeof *names, cmp_str);
    cases = calloc((size_t)n_cases, sizeof *cases);
    for (int i = 0; i < n_cases; i++) {
        conformance_case *c = &cases[i];
        if (asprintf(&c->dir, "%s/%s", root, names[i]) < 0) abort();
        free(names[i]);
        if (qb_onnx_node_test_load(c->dir, &c->t) != QB_OK) c->load_error = strdup(qb_last_error());
        else check_support(c);
    }
    free(names);
}

/* ---- running one test ---- */

static void run_data_set(const conformance_case *c, const qb_onnx_data_set *ds)
{
    const qb_onnx_model *m = &c->t.model;
    env e = {0};
    if (ds->n_inputs != m->n_inputs || ds->n_outputs != m->n_outputs)
        fail_msg("%s: %d inputs / %d outputs for a graph of %d / %d", ds->dir, ds->n_inputs,
                 ds->n_outputs, m->n_inputs, m->n_outputs);
    for (int i = 0; i < m->n_initializers; i++)
        assert_int_equal(copy_tensor(&m->initializers[i].t, env_new(&e, m->initializers[i].name)), QB_OK);
    for (int i = 0; i < m->n_inputs; i++)
        assert_int_equal(copy_tensor(&ds->inputs[i], env_new(&e, m->inputs[i])), QB_OK);
    for (int k = 0; k < m->n_nodes; k++) {
        const qb_onnx_node *n = &m->nodes[k];
        qb_tensor *in[8] = {0}, *out[8] = {0};
        assert_true(n->n_inputs <= 8 && n->n_outputs <= 8);
        int nin = 0;
        for (int i = 0; i < n->n_inputs; i++) {
            in[i] = n->inputs[i][0] ? env_get(&e, n->inputs[i]) : NULL;
            if (n->inputs[i][0] && !in[i]) fail_msg("%s: node %d reads unknown value %s", c->dir, k, n->inputs[i]);
            if (in[i]) nin = i + 1;
        }
        for (int i = 0; i < n->n_outputs; i++) {
            out[i] = env_new(&e, n->outputs[i]);
            assert_non_null(out[i]);
        }
        qb_status st = find_op(n)(n, in, nin, out);
        if (st != QB_OK) fail_msg("%s: %s: %s", c->dir, n->op_type, qb_last_error());
    }
    for (int o = 0; o < m->n_outputs; o++) {
        const qb_tensor *want = &ds->outputs[o], *got = env_get(&e, m->outputs[o]);
        char ws[120], gs[120];
        if (!got) fail_msg("%s: output %s was not produced", ds->dir, m->outputs[o]);
        if (got->dtype != want->dtype || got->ndim != want->ndim ||
            memcmp(got->shape, want->shape, (size_t)want->ndim * sizeof want->shape[0]) != 0)
            fail_msg("%s: output %s is %s %s, ONNX expects %s %s", ds->dir, m->outputs[o],
                     qb_dtype_name(got->dtype), qb_shape_str(got->ndim, got->shape, gs, sizeof gs),
                     qb_dtype_name(want->dtype), qb_shape_str(want->ndim, want->shape, ws, sizeof ws));
        size_t size = qb_dtype_size(want->dtype);
        for (int64_t i = 0; i < qb_tensor_numel(want); i++)
            if (memcmp((const char *)got->data + i * size, (const char *)want->data + i * size, size) != 0) {
                double g = want->dtype == QB_F32 ? ((const float *)got->data)[i] : want->dtype == QB_U8 ? ((const uint8_t *)got->data)[i] : ((const int8_t *)got->data)[i];
                double w = want->dtype == QB_F32 ? ((const float *)want->data)[i] : want->dtype == QB_U8 ? ((const uint8_t *)want->data)[i] : ((const int8_t *)want->data)[i];
                fail_msg("%s: output %s[%lld] = %.9g, ONNX expects %.9g", ds->dir, m->outputs[o],
                         (long long)i, g, w);
            }
    }
    env_free(&e);
}

static void run_case(void **state)
{
    const conformance_case *c = *state;
    for (int s = 0; s < c->t.n_sets; s++) run_data_set(c, &c->t.sets[s]);
}

static void fail_load(void **state)
{
    const conformance_case *c = *state;
    fail_msg("%s could not be read: %s", c->dir, c->load_error);
}

/* Runs first: there must be tests to run, and the tally is printed. */
static void discovery(void **state)
{
    (void)state;
    if (n_cases == 0)
        fail_msg("no QuantizeLinear/DequantizeLinear/DynamicQuantizeLinear tests in %s; install "
                 "Debian's libonnx-testdata (make deps) or set QBENCH_ONNX_NODE_TESTS", root);
    int run = 0, unsupported = 0;
    for (int i = 0; i < n_cases; i++) {
        if (cases[i].unsupported[0]) {
            unsupported++;
            print_message("  not supported: %s (%s)\n", cases[i].t.name, cases[i].unsupported);
        } else {
            run++;
        }
    }
    print_message("ONNX conformance: %d quantization node tests in %s: %d run below, %d not "
                  "supported by qbench\n", n_cases, root, run, unsupported);
    assert_true(run > 0);
}

int main(void)
{
    discover();
    struct CMUnitTest *tests = calloc((size_t)n_cases + 1, sizeof *tests);
    int n = 0;
    tests[n++] = (struct CMUnitTest){"onnx_discovery", discovery, NULL, NULL, NULL};
    for (int i = 0; i < n_cases; i++) {
        if (cases[i].unsupported[0]) continue;
        const char *name = cases[i].t.name ? cases[i].t.name : cases[i].dir;
        tests[n++] = (struct CMUnitTest){name, cases[i].load_error ? fail_load : run_case, NULL, NULL, &cases[i]};
    }
    qb_test_apply_filter();
    int rc = _cmocka_run_group_tests("onnx_conformance", tests, (size_t)n, NULL, NULL);
    for (int i = 0; i < n_cases; i++) {
        qb_onnx_node_test_free(&cases[i].t);
        free(cases[i].dir);
        free(cases[i].load_error);
    }
    free(cases);
    free(tests);
    return rc;
}
