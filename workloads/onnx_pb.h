/* Reading ONNX files with protobuf-c and the onnx.proto Debian's libonnx-dev
 * ships: TensorProto .pb files into qb_tensor, a model.onnx into a plain
 * list of nodes (op type, inputs, outputs, attributes) with its
 * initializers, and a whole node-test directory of ONNX's own backend test
 * suite (Debian libonnx-testdata):
 *     DIR/model.onnx
 *     DIR/test_data_set_K/input_I.pb, output_O.pb
 * Inputs and outputs follow the graph's declared order (initializers are
 * not inputs). Nothing here depends on protobuf-c types: callers see only
 * qb_ types and can run the nodes on their own kernels.
 * Error convention: common/status.h; messages name the file. */
#ifndef QB_ONNX_PB_H
#define QB_ONNX_PB_H

#include <stddef.h>
#include <stdint.h>
#include "status.h"
#include "tensor.h"

typedef enum {
    QB_ONNX_ATTR_FLOAT,
    QB_ONNX_ATTR_INT,
    QB_ONNX_ATTR_STRING,
    QB_ONNX_ATTR_TENSOR,
    QB_ONNX_ATTR_FLOATS,
    QB_ONNX_ATTR_INTS,
    QB_ONNX_ATTR_OTHER /* graphs, sparse tensors, type protos: kept by name only */
} qb_onnx_attr_type;

typedef struct {
    char *name;
    qb_onnx_attr_type type;
    float f;          /* FLOAT */
    int64_t i;        /* INT */
    char *s;          /* STRING (NUL-terminated copy) */
    size_t n;         /* FLOATS, INTS: element count */
    float *floats;
    int64_t *ints;
    qb_tensor t;      /* TENSOR */
} qb_onnx_attr;

typedef struct {
    char *op_type;    /* "QuantizeLinear" */
    char *domain;     /* "" for the default ONNX domain */
    char *name;
    int n_inputs, n_outputs;
    char **inputs;    /* value names; "" marks an omitted optional input */
    char **outputs;
    int n_attrs;
    qb_onnx_attr *attrs;
} qb_onnx_node;

typedef struct {
    char *name;
    qb_tensor t;
} qb_onnx_value;

typedef struct {
    int64_t ir_version;
    int64_t opset;        /* version of the default domain ("" or "ai.onnx"), 0 if absent */
    int n_nodes;
    qb_onnx_node *nodes;  /* in the graph's (topological) order */
    int n_inputs, n_outputs;
    char **inputs;        /* graph inputs that are not initializers */
    char **outputs;
    int n_initializers;
    qb_onnx_value *initializers;
} qb_onnx_model;

/* One TensorProto file. *name_out (may be NULL) gets a malloc'ed copy of
 * the tensor's name. Supported element types: float, double, float16,
 * bfloat16, (u)int8/16/32/64 and bool (as uint8); strings, complex numbers
 * and external data are refused. */
qb_status qb_onnx_tensor_read(const char *path, qb_tensor *out, char **name_out);
qb_status qb_onnx_model_read(const char *path, qb_onnx_model *m);
void qb_onnx_model_free(qb_onnx_model *m);

/* The attribute `name` of node n, or NULL. */
const qb_onnx_attr *qb_onnx_attr_find(const qb_onnx_node *n, const char *name);
/* An INT attribute, or `dflt` when absent. */
int64_t qb_onnx_attr_int(const qb_onnx_node *n, const char *name, int64_t dflt);

/* The qb_dtype of an ONNX TensorProto.DataType, or -1 if qbench has none. */
int qb_onnx_dtype(int onnx_type);
/* "FLOAT", "UINT8", ... ("type 17" for numbers this proto does not name). */
const char *qb_onnx_type_name(int onnx_type, char *buf, size_t len);

typedef struct {
    char *dir;             /* the test_data_set_K folder */
    int n_inputs, n_outputs;
    qb_tensor *inputs;     /* input_0.pb ... in graph input order */
    qb_tensor *outputs;    /* output_0.pb ... in graph output order */
} qb_onnx_data_set;

typedef struct {
    char *name;            /* the directory's base name, "test_quantizelinear" */
    qb_onnx_model model;
    int n_sets;
    qb_onnx_data_set *sets;
} qb_onnx_node_test;

/* Loads model.onnx and every test_data_set_* (sorted) of `dir`. */
qb_status qb_onnx_node_test_load(const char *dir, qb_onnx_node_test *t);
void qb_onnx_node_test_free(qb_onnx_node_test *t);

/* Where ONNX's node tests live: $QBENCH_ONNX_NODE_TESTS, else Debian's
 * /usr/share/libonnx-testdata/data/node. */
const char *qb_onnx_node_tests_dir(void);

#endif
