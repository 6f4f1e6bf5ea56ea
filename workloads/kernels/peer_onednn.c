/* oneDNN as the fp32 / bf16 / int8 peer (see peers.h): primitives created
 * once per shape with weights reordered into the layout oneDNN prefers. */
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "peers.h"

struct qb_onednn_op {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, dst, scratch;
    char impl[64];
};

const char *qb_peer_type_name(qb_peer_type t)
{
    return t == QB_PEER_F32 ? "fp32" : t == QB_PEER_BF16 ? "bf16" : "int8";
}

static qb_status dnnl_fail(dnnl_status_t s, const char *what)
{
    return qb_error(s == dnnl_unimplemented ? QB_ERR_UNSUPPORTED : QB_ERR_INTERNAL,
                    "oneDNN %s failed (status %d)", what, (int)s);
}

#define TRY(call)                                      \
    do {                                               \
        dnnl_status_t s_ = (call);                     \
        if (s_ != dnnl_success) {                      \
            st = dnnl_fail(s_, #call);                 \
            goto fail;                                 \
        }                                              \
    } while (0)

static dnnl_data_type_t src_type(qb_peer_type t)
{
    return t == QB_PEER_F32 ? dnnl_f32 : t == QB_PEER_BF16 ? dnnl_bf16 : dnnl_u8;
}
static dnnl_data_type_t wei_type(qb_peer_type t)
{
    return t == QB_PEER_F32 ? dnnl_f32 : t == QB_PEER_BF16 ? dnnl_bf16 : dnnl_s8;
}
static dnnl_data_type_t dst_type(qb_peer_type t) { return t == QB_PEER_INT8 ? dnnl_u8 : dnnl_f32; }

/* Creates the primitive from an op descriptor, then the memories: weights
 * are reordered from `wmd_user` (filled from w) to the chosen layout. */
static qb_status finish(qb_onednn_op *op, const void *desc, dnnl_primitive_attr_t attr,
                        const dnnl_memory_desc_t *wmd_user, const void *w, size_t wbytes)
{
    qb_status st = QB_OK;
    dnnl_primitive_desc_t pd = NULL, rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_memory_t wuser = NULL;
    TRY(dnnl_primitive_desc_create(&pd, desc, attr, op->engine, NULL));
    const char *impl = NULL;
    TRY(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    snprintf(op->impl, sizeof op->impl, "%s", impl ? impl : "?");
    TRY(dnnl_primitive_create(&op->prim, pd));
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *dmd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *spmd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    TRY(dnnl_memory_create(&op->src, smd, op->engine, DNNL_MEMORY_NONE));
    TRY(dnnl_memory_create(&op->dst, dmd, op->engine, DNNL_MEMORY_NONE));
    TRY(dnnl_memory_create(&op->wei, wmd, op->engine, DNNL_MEMORY_ALLOCATE));
    if (spmd && dnnl_memory_desc_get_size(spmd) > 0)
        TRY(dnnl_memory_create(&op->scratch, spmd, op->engine, DNNL_MEMORY_ALLOCATE));
    TRY(dnnl_memory_create(&wuser, wmd_user, op->engine, DNNL_MEMORY_ALLOCATE));
    void *h = NULL;
    TRY(dnnl_memory_get_data_handle(wuser, &h));
    memcpy(h, w, wbytes);
    TRY(dnnl_reorder_primitive_desc_create(&rpd, wmd_user, op->engine, wmd, op->engine, NULL));
    TRY(dnnl_primitive_create(&reorder, rpd));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, wuser}, {DNNL_ARG_TO, op->wei}};
    TRY(dnnl_primitive_execute(reorder, op->stream, 2, args));
    TRY(dnnl_stream_wait(op->stream));
fail:
    if (reorder) dnnl_primitive_destroy(reorder);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (wuser) dnnl_memory_destroy(wuser);
    if (pd) dnnl_primitive_desc_destroy(pd);
    return st;
}

/* Engine, stream and (for int8) per-channel output scales on dimension `dim`. */
static qb_status begin(qb_onednn_op **out, qb_peer_type type, int64_t n, const float *scales, int dim,
                       dnnl_primitive_attr_t *attr)
{
    qb_status st = QB_OK;
    *attr = NULL;
    qb_onednn_op *op = *out = qb_calloc(1, sizeof *op);
    if (!op) return QB_ERR_NOMEM;
    TRY(dnnl_engine_create(&op->engine, dnnl_cpu, 0));
    TRY(dnnl_stream_create(&op->stream, op->engine, dnnl_stream_default_flags));
    TRY(dnnl_primitive_attr_create(attr));
    if (type == QB_PEER_INT8) {
        if (!scales) return qb_error(QB_ERR_ARG, "oneDNN int8 peer needs output scales");
        TRY(dnnl_primitive_attr_set_output_scales(*attr, n, 1 << dim, scales));
    }
    return QB_OK;
fail:
    return st;
}

/* bf16 weights from fp32 (oneDNN's reorder would do it too; this keeps the
 * user buffer in the weight type). */
static void *weights_in_type(qb_peer_type type, const void *w, int64_t count, size_t *bytes)
{
    if (type != QB_PEER_BF16) {
        *bytes = (size_t)count * (type == QB_PEER_F32 ? 4 : 1);
        return (void *)w;
    }
    uint16_t *b = qb_malloc((size_t)count, 2);
    if (b) qb_f32_to_bf16_rows(1, count, w, count, b, count);
    *bytes = (size_t)count * 2;
    return b;
}

/* The end of every create: weights into the primitive (when desc is set
 * and nothing failed), then the attributes released and, on failure, the
 * half-built op. */
static qb_status complete(qb_onednn_op **out, qb_status st, const void *desc, dnnl_primitive_attr_t attr,
                          const dnnl_memory_desc_t *wmd_user, qb_peer_type type, const void *w, int64_t count)
{
    if (!st && desc) {
        size_t wbytes;
        void *wt = weights_in_type(type, w, count, &wbytes);
        st = wt ? finish(*out, desc, attr, wmd_user, wt, wbytes) : QB_ERR_NOMEM;
        if (wt && wt != w) free(wt);
    }
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (st) {
        qb_onednn_free(*out);
        *out = NULL;
    }
    return st;
}

qb_status qb_onednn_matmul_create(qb_onednn_op **out, qb_peer_type type, int64_t m, int64_t n, int64_t k,
                                  const void *w, const float *scales)
{
    dnnl_primitive_attr_t attr;
    qb_status st = begin(out, type, n, scales, 1, &attr);
    if (st) goto fail;
    dnnl_memory_desc_t smd, wmd, wany, dmd;
    dnnl_dims_t sd = {m, k}, wd = {k, n}, dd = {m, n};
    TRY(dnnl_memory_desc_init_by_tag(&smd, 2, sd, src_type(type), dnnl_ab));
    TRY(dnnl_memory_desc_init_by_tag(&wmd, 2, wd, wei_type(type), dnnl_ba)); /* (n, k) row-major */
    TRY(dnnl_memory_desc_init_by_tag(&wany, 2, wd, wei_type(type), dnnl_format_tag_any));
    TRY(dnnl_memory_desc_init_by_tag(&dmd, 2, dd, dst_type(type), dnnl_ab));
    dnnl_matmul_desc_t desc;
    TRY(dnnl_matmul_desc_init(&desc, &smd, &wany, NULL, &dmd));
    st = complete(out, st, &desc, attr, &wmd, type, w, n * k);
    return st;
fail:
    return complete(out, st, NULL, attr, NULL, type, w, 0);
}

qb_status qb_onednn_conv_create(qb_onednn_op **out, qb_peer_type type, const qb_conv_shape *s,
                                const void *w, const float *scales)
{
    dnnl_primitive_attr_t attr;
    qb_status st = begin(out, type, s->out_c, scales, 1, &attr);
    if (st) goto fail;
    dnnl_memory_desc_t smd, wmd, wany, dmd;
    dnnl_dims_t sd = {s->batch, s->in_c, s->in_h, s->in_w}, wd = {s->out_c, s->in_c, s->k_h, s->k_w};
    dnnl_dims_t dd = {s->batch, s->out_c, s->out_h, s->out_w};
    dnnl_dims_t strides = {s->stride_h, s->stride_w}, dil = {s->dil_h - 1, s->dil_w - 1};
    dnnl_dims_t pl = {s->pad_top, s->pad_left}, pr = {s->pad_bottom, s->pad_right};
    TRY(dnnl_memory_desc_init_by_tag(&smd, 4, sd, src_type(type), dnnl_nhwc));
    TRY(dnnl_memory_desc_init_by_tag(&wmd, 4, wd, wei_type(type), dnnl_oihw));
    TRY(dnnl_memory_desc_init_by_tag(&wany, 4, wd, wei_type(type), dnnl_format_tag_any));
    TRY(dnnl_memory_desc_init_by_tag(&dmd, 4, dd, dst_type(type), dnnl_nhwc));
    dnnl_convolution_desc_t desc;
    TRY(dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_convolution_direct,
                                                   &smd, &wany, NULL, &dmd, strides, dil, pl, pr));
    st = complete(out, st, &desc, attr, &wmd, type, w, s->out_c * s->in_c * s->k_h * s->k_w);
    return st;
fail:
    return complete(out, st, NULL, attr, NULL, type, w, 0);
}

qb_status qb_onednn_run(qb_onednn_op *op, const void *x, void *y)
{
    qb_status st = QB_OK;
    TRY(dnnl_memory_set_data_handle(op->src, (void *)x));
    TRY(dnnl_memory_set_data_handle(op->dst, y));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, op->src}, {DNNL_ARG_WEIGHTS, op->wei}, {DNNL_ARG_DST, op->dst},
                               {DNNL_ARG_SCRATCHPAD, op->scratch}};
    TRY(dnnl_primitive_execute(op->prim, op->stream, op->scratch ? 4 : 3, args));
    TRY(dnnl_stream_wait(op->stream));
fail:
    return st;
}

const char *qb_onednn_impl(const qb_onednn_op *op) { return op->impl; }

void qb_onednn_free(qb_onednn_op *op)
{
    if (!op) return;
    if (op->prim) dnnl_primitive_destroy(op->prim);
    if (op->src) dnnl_memory_destroy(op->src);
    if (op->wei) dnnl_memory_destroy(op->wei);
    if (op->dst) dnnl_memory_destroy(op->dst);
    if (op->scratch) dnnl_memory_destroy(op->scratch);
    if (op->stream) dnnl_stream_destroy(op->stream);
    if (op->engine) dnnl_engine_destroy(op->engine);
    free(op);
}

void qb_onednn_set_threads(int n) { omp_set_num_threads(n); }

const char *qb_onednn_version(void)
{
    static _Thread_local char buf[64];
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, sizeof buf, "oneDNN %d.%d.%d", v->major, v->minor, v->patch);
    return buf;
}
