/* ONNX protobuf reading (see onnx_pb.h). protobuf-c parses; this file
 * copies what qbench needs into plain structs and frees the parse tree. */
#include "onnx_pb.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "onnx.pb-c.h"

/* ---- files ---- */

static qb_status read_all(const char *path, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return qb_error(QB_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) break;
        uint8_t *nb = realloc(b, cap * 2);
        if (!nb) {
            free(b);
            b = NULL;
            break;
        }
        b = nb;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (!b) return qb_error(QB_ERR_NOMEM, "%s: out of memory reading it", path);
    if (err) {
        free(b);
        return qb_error(QB_ERR_IO, "%s: read error", path);
    }
    *buf = b;
    *len = n;
    return QB_OK;
}

static char *dup_str(const char *s) { return strdup(s ? s : ""); }

/* ---- element types ---- */

int qb_onnx_dtype(int t)
{
    switch (t) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: return QB_F32;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: return QB_F64;
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16: return QB_F16;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16: return QB_BF16;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: return QB_I8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8: return QB_U8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: return QB_U8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: return QB_I16;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16: return QB_U16;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: return QB_I32;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32: return QB_U32;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: return QB_I64;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: return QB_U64;
    default: return -1;
    }
}

const char *qb_onnx_type_name(int t, char *buf, size_t len)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&onnx__tensor_proto__data_type__descriptor, t);
    if (v) snprintf(buf, len, "%s", v->name);
    else snprintf(buf, len, "type %d", t);
    return buf;
}

/* Copies the typed repeated field `src` (count n_src) into out as dtype. */
#define COPY_FIELD(src, n_src, ctype)                                              \
    do {                                                                           \
        if ((int64_t)(n_src) != n) goto count_mismatch;                            \
        for (int64_t i = 0; i < n; i++) ((ctype *)out->data)[i] = (ctype)(src)[i]; \
    } while (0)

static qb_status tensor_from_proto(const Onnx__TensorProto *tp, const char *what, qb_tensor *out)
{
    char tname[48], sbuf[200];
    memset(out, 0, sizeof *out);
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return qb_error(QB_ERR_UNSUPPORTED, "%s: tensor data stored in an external file is not "
                        "supported", what);
    int dt = qb_onnx_dtype(tp->data_type);
    if (dt < 0)
        return qb_error(QB_ERR_UNSUPPORTED, "%s: element type %s is not supported", what,
                        qb_onnx_type_name(tp->data_type, tname, sizeof tname));
    if (tp->n_dims > QB_MAX_DIMS)
        return qb_error(QB_ERR_UNSUPPORTED, "%s: rank %zu is above qbench's limit of %d", what,
                        tp->n_dims, QB_MAX_DIMS);
    int64_t shape[QB_MAX_DIMS];
    for (size_t d = 0; d < tp->n_dims; d++) {
        if (tp->dims[d] < 0)
            return qb_error(QB_ERR_FORMAT, "%s: negative dimension %lld", what, (long long)tp->dims[d]);
        shape[d] = tp->dims[d];
    }
    qb_status st = qb_tensor_alloc(out, (qb_dtype)dt, (int)tp->n_dims, shape);
    if (st != QB_OK) return qb_error_context(st, "%s", what);
    const int64_t n = qb_tensor_numel(out);
    const size_t bytes = qb_tensor_bytes(out);
    if (tp->has_raw_data) {
        if (tp->raw_data.len != bytes) {
            qb_tensor_free(out);
            return qb_error(QB_ERR_FORMAT, "%s: raw_data holds %zu bytes, but %s %s needs %zu", what,
                            tp->raw_data.len, qb_shape_str(out->ndim, out->shape, sbuf, sizeof sbuf),
                            qb_dtype_name((qb_dtype)dt), bytes);
        }
        if (bytes) memcpy(out->data, tp->raw_data.data, bytes);
        return QB_OK;
    }
    if (n == 0) return QB_OK;
    switch (tp->data_type) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: COPY_FIELD(tp->float_data, tp->n_float_data, float); break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: COPY_FIELD(tp->double_data, tp->n_double_data, double); break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: COPY_FIELD(tp->int64_data, tp->n_int64_data, int64_t); break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32: COPY_FIELD(tp->uint64_data, tp->n_uint64_data, uint32_t); break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: COPY_FIELD(tp->uint64_data, tp->n_uint64_data, uint64_t); break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: COPY_FIELD(tp->int32_data, tp->n_int32_data, int32_t); break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: COPY_FIELD(tp->int32_data, tp->n_int32_data, int16_t); break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16:
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:
    case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16: /* 16-bit patterns in int32_data */
        COPY_FIELD(tp->int32_data, tp->n_int32_data, uint16_t);
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: COPY_FIELD(tp->int32_data, tp->n_int32_data, int8_t); break;
    default: COPY_FIELD(tp->int32_data, tp->n_int32_data, uint8_t); break; /* UINT8, BOOL */
    }
    return QB_OK;
count_mismatch:
    qb_tensor_free(out);
    return qb_error(QB_ERR_FORMAT, "%s: the number of stored elements does not match the dims %s",
                    what, qb_shape_str((int)tp->n_dims, shape, sbuf, sizeof sbuf));
}

qb_status qb_onnx_tensor_read(const char *path, qb_tensor *out, char **name_out)
{
    memset(out, 0, sizeof *out);
    if (name_out) *name_out = NULL;
    uint8_t *buf;
    size_t len;
    qb_status st = read_all(path, &buf, &len);
    if (st != QB_OK) return st;
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
    free(buf);
    if (!tp)
        return qb_error(QB_ERR_FORMAT, "%s: not an ONNX TensorProto (protobuf parsing failed)", path);
    st = tensor_from_proto(tp, path, out);
    if (st == QB_OK && name_out) *name_out = dup_str(tp->name);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return st;
}

/* ---- models ---- */

static qb_status attr_from_proto(const Onnx__AttributeProto *a, const char *what, qb_onnx_attr *out)
{
    memset(out, 0, sizeof *out);
    out->name = dup_str(a->name);
    int type = a->has_type ? (int)a->type : 0;
    switch (type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
        out->type = QB_ONNX_ATTR_FLOAT;
        out->f = a->f;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
        out->type = QB_ONNX_ATTR_INT;
        out->i = a->i;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
        out->type = QB_ONNX_ATTR_STRING;
        out->s = malloc(a->s.len + 1);
        if (out->s) {
            if (a->s.len) memcpy(out->s, a->s.data, a->s.len);
            out->s[a->s.len] = '\0';
        }
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
        out->type = QB_ONNX_ATTR_TENSOR;
        if (!a->t) return qb_error(QB_ERR_FORMAT, "%s: attribute '%s' has no tensor", what, out->name);
        return tensor_from_proto(a->t, what, &out->t);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
        out->type = QB_ONNX_ATTR_FLOATS;
        out->n = a->n_floats;
        out->floats = qb_malloc(a->n_floats ? a->n_floats : 1, sizeof *out->floats);
        if (out->floats && a->n_floats) memcpy(out->floats, a->floats, a->n_floats * sizeof *a->floats);
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        out->type = QB_ONNX_ATTR_INTS;
        out->n = a->n_ints;
        out->ints = qb_malloc(a->n_ints ? a->n_ints : 1, sizeof *out->ints);
        if (out->ints && a->n_ints) memcpy(out->ints, a->ints, a->n_ints * sizeof *a->ints);
        break;
    default:
        out->type = QB_ONNX_ATTR_OTHER;
        break;
    }
    if (!out->name || (type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING && !out->s) ||
        (out->type == QB_ONNX_ATTR_FLOATS && !out->floats) || (out->type == QB_ONNX_ATTR_INTS && !out->ints))
        return qb_error(QB_ERR_NOMEM, "%s: out of memory", what);
    return QB_OK;
}

static void attr_free(qb_onnx_attr *a)
{
    free(a->name);
    free(a->s);
    free(a->floats);
    free(a->ints);
    qb_tensor_free(&a->t);
}

static char **dup_names(char **names, size_t n)
{
    char **out = calloc(n ? n : 1, sizeof *out);
    for (size_t i = 0; out && i < n; i++) out[i] = dup_str(names[i]);
    return out;
}

static void free_names(char **names, int n)
{
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
}

static qb_status node_from_proto(const Onnx__NodeProto *np, const char *path, qb_onnx_node *out)
{
    memset(out, 0, sizeof *out);
    out->op_type = dup_str(np->op_type);
    out->domain = dup_str(np->domain);
    out->name = dup_str(np->name);
    out->n_inputs = (int)np->n_input;
    out->inputs = dup_names(np->input, np->n_input);
    out->n_outputs = (int)np->n_output;
    out->outputs = dup_names(np->output, np->n_output);
    out->attrs = calloc(np->n_attribute ? np->n_attribute : 1, sizeof *out->attrs);
    if (!out->op_type || !out->domain || !out->name || !out->inputs || !out->outputs || !out->attrs)
        return qb_error(QB_ERR_NOMEM, "%s: out of memory", path);
    char what[512];
    snprintf(what, sizeof what, "%s: node %s (%s)", path, out->name, out->op_type);
    for (size_t i = 0; i < np->n_attribute; i++) {
        out->n_attrs++;
        qb_status st = attr_from_proto(np->attribute[i], what, &out->attrs[i]);
        if (st != QB_OK) return st;
    }
    return QB_OK;
}

static void node_free(qb_onnx_node *n)
{
    free(n->op_type);
    free(n->domain);
    free(n->name);
    free_names(n->inputs, n->n_inputs);
    free_names(n->outputs, n->n_outputs);
    for (int i = 0; n->attrs && i < n->n_attrs; i++) attr_free(&n->attrs[i]);
    free(n->attrs);
}

void qb_onnx_model_free(qb_onnx_model *m)
{
    if (!m) return;
    for (int i = 0; m->nodes && i < m->n_nodes; i++) node_free(&m->nodes[i]);
    free(m->nodes);
    free_names(m->inputs, m->n_inputs);
    free_names(m->outputs, m->n_outputs);
    for (int i = 0; m->initializers && i < m->n_initializers; i++) {
        free(m->initializers[i].name);
        qb_tensor_free(&m->initializers[i].t);
    }
    free(m->initializers);
    memset(m, 0, sizeof *m);
}

static int is_initializer(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_initializer; i++)
        if (g->initializer[i]->name && strcmp(g->initializer[i]->name, name) == 0) return 1;
    return 0;
}

static qb_status model_from_proto(const Onnx__ModelProto *mp, const char *path, qb_onnx_model *m)
{
    m->ir_version = mp->has_ir_version ? mp->ir_version : 0;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if (!o->domain || !o->domain[0] || strcmp(o->domain, "ai.onnx") == 0)
            m->opset = o->has_version ? o->version : 0;
    }
    const Onnx__GraphProto *g = mp->graph;
    if (!g) return qb_error(QB_ERR_FORMAT, "%s: the model has no graph", path);
    m->nodes = calloc(g->n_node ? g->n_node : 1, sizeof *m->nodes);
    m->initializers = calloc(g->n_initializer ? g->n_initializer : 1, sizeof *m->initializers);
    m->inputs = calloc(g->n_input ? g->n_input : 1, sizeof *m->inputs);
    m->outputs = calloc(g->n_output ? g->n_output : 1, sizeof *m->outputs);
    if (!m->nodes || !m->initializers || !m->inputs || !m->outputs)
        return qb_error(QB_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < g->n_node; i++) {
        m->n_nodes++;
        qb_status st = node_from_proto(g->node[i], path, &m->nodes[i]);
        if (st != QB_OK) return st;
    }
    for (size_t i = 0; i < g->n_initializer; i++) {
        char what[512];
        snprintf(what, sizeof what, "%s: initializer %s", path, g->initializer[i]->name);
        m->n_initializers++;
        m->initializers[i].name = dup_str(g->initializer[i]->name);
        qb_status st = tensor_from_proto(g->initializer[i], what, &m->initializers[i].t);
        if (st != QB_OK) return st;
    }
    for (size_t i = 0; i < g->n_input; i++)
        if (!is_initializer(g, g->input[i]->name)) m->inputs[m->n_inputs++] = dup_str(g->input[i]->name);
    for (size_t i = 0; i < g->n_output; i++) m->outputs[m->n_outputs++] = dup_str(g->output[i]->name);
    return QB_OK;
}

qb_status qb_onnx_model_read(const char *path, qb_onnx_model *m)
{
    memset(m, 0, sizeof *m);
    uint8_t *buf;
    size_t len;
    qb_status st = read_all(path, &buf, &len);
    if (st != QB_OK) return st;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    free(buf);
    if (!mp) return qb_error(QB_ERR_FORMAT, "%s: not an ONNX model (protobuf parsing failed)", path);
    st = model_from_proto(mp, path, m);
    onnx__model_proto__free_unpacked(mp, NULL);
    if (st != QB_OK) qb_onnx_model_free(m);
    return st;
}

const qb_onnx_attr *qb_onnx_attr_find(const qb_onnx_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

int64_t qb_onnx_attr_int(const qb_onnx_node *n, const char *name, int64_t dflt)
{
    const qb_onnx_attr *a = qb_onnx_attr_find(n, name);
    return a && a->type == QB_ONNX_ATTR_INT ? a->i : dflt;
}

/* ---- node test directories ---- */

const char *qb_onnx_node_tests_dir(void)
{
    const char *d = getenv("QBENCH_ONNX_NODE_TESTS");
    return d && *d ? d : "/usr/share/libonnx-testdata/data/node";
}

/* Reads PREFIX_0.pb, PREFIX_1.pb, ... until one is missing. */
static qb_status read_numbered(const char *dir, const char *prefix, qb_tensor **out, int *count)
{
    *out = NULL;
    *count = 0;
    for (int i = 0;; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s_%d.pb", dir, prefix, i);
        if (access(path, F_OK) != 0) return QB_OK;
        qb_tensor *t = realloc(*out, (size_t)(i + 1) * sizeof *t);
        if (!t) return qb_error(QB_ERR_NOMEM, "%s: out of memory", path);
        *out = t;
        qb_status st = qb_onnx_tensor_read(path, &t[i], NULL);
        if (st != QB_OK) return st;
        *count = i + 1;
    }
}

static int data_set_number(const char *name)
{
    return atoi(name + strlen("test_data_set_"));
}

static int cmp_set_names(const void *a, const void *b)
{
    return data_set_number(*(char *const *)a) - data_set_number(*(char *const *)b);
}

void qb_onnx_node_test_free(qb_onnx_node_test *t)
{
    if (!t) return;
    free(t->name);
    qb_onnx_model_free(&t->model);
    for (int s = 0; t->sets && s < t->n_sets; s++) {
        qb_onnx_data_set *d = &t->sets[s];
        free(d->dir);
        for (int i = 0; i < d->n_inputs; i++) qb_tensor_free(&d->inputs[i]);
        for (int i = 0; i < d->n_outputs; i++) qb_tensor_free(&d->outputs[i]);
        free(d->inputs);
        free(d->outputs);
    }
    free(t->sets);
    memset(t, 0, sizeof *t);
}

qb_status qb_onnx_node_test_load(const char *dir, qb_onnx_node_test *t)
{
    memset(t, 0, sizeof *t);
    const char *base = strrchr(dir, '/');
    t->name = dup_str(base ? base + 1 : dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    qb_status st = qb_onnx_model_read(path, &t->model);
    if (st != QB_OK) goto fail;
    DIR *d = opendir(dir);
    if (!d) {
        st = qb_error(QB_ERR_IO, "%s: cannot list (%s)", dir, strerror(errno));
        goto fail;
    }
    char **names = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "test_data_set_", 14) != 0) continue;
        char **nn = realloc(names, (size_t)(n + 1) * sizeof *nn);
        if (!nn) break;
        names = nn;
        names[n++] = dup_str(e->d_name);
    }
    closedir(d);
    if (n) qsort(names, (size_t)n, sizeof *names, cmp_set_names);
    t->sets = calloc(n ? (size_t)n : 1, sizeof *t->sets);
    for (int s = 0; s < n && t->sets; s++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[s]);
        qb_onnx_data_set *ds = &t->sets[t->n_sets++];
        ds->dir = dup_str(path);
        if (st == QB_OK) st = read_numbered(path, "input", &ds->inputs, &ds->n_inputs);
        if (st == QB_OK) st = read_numbered(path, "output", &ds->outputs, &ds->n_outputs);
    }
    for (int s = 0; s < n; s++) free(names[s]);
    free(names);
    if (!t->sets) st = qb_error(QB_ERR_NOMEM, "%s: out of memory", dir);
    if (st == QB_OK && t->n_sets == 0)
        st = qb_error(QB_ERR_FORMAT, "%s: no test_data_set_* folder", dir);
    if (st != QB_OK) goto fail;
    return QB_OK;
fail:
    qb_onnx_node_test_free(t);
    return st;
}
