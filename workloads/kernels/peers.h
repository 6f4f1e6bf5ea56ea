/* Peer libraries measured side by side with qbench's kernels in
 * `qbench bench-kernels`: oneDNN (fp32, bf16 and int8 matmul and
 * convolution primitives, weights reordered once into its preferred
 * layout, as a deployment would) and OpenBLAS (fp32 sgemm).
 * Shapes follow qkernels.h: y(m, n) = x(m, k) w(n, k)^T, NHWC convolutions. */
#ifndef QB_PEERS_H
#define QB_PEERS_H

#include <stdint.h>
#include "qkernels.h"
#include "status.h"

typedef enum {
    QB_PEER_F32,  /* x, w, y fp32 */
    QB_PEER_BF16, /* x bf16 (uint16), w given fp32 (converted), y fp32 */
    QB_PEER_INT8  /* x uint8, w int8, y uint8 = saturate(round(acc * scale[n])) */
} qb_peer_type;

const char *qb_peer_type_name(qb_peer_type t); /* "fp32", "bf16", "int8" */

typedef struct qb_onednn_op qb_onednn_op;

/* A matmul primitive for m x n x k. w: (n, k), fp32 or int8 by type;
 * scales: (n) output scales for int8, NULL otherwise. */
qb_status qb_onednn_matmul_create(qb_onednn_op **out, qb_peer_type type, int64_t m, int64_t n, int64_t k,
                                  const void *w, const float *scales);
/* A direct convolution primitive (NHWC activations; w OIHW). */
qb_status qb_onednn_conv_create(qb_onednn_op **out, qb_peer_type type, const qb_conv_shape *s,
                                const void *w, const float *scales);
qb_status qb_onednn_run(qb_onednn_op *op, const void *x, void *y);
/* The implementation oneDNN picked, e.g. "brg:avx512_core_vnni". */
const char *qb_onednn_impl(const qb_onednn_op *op);
void qb_onednn_free(qb_onednn_op *op);
/* OpenMP threads oneDNN uses from now on (for the calling thread). */
void qb_onednn_set_threads(int n);
const char *qb_onednn_version(void);

/* OpenBLAS: y(m, n) = x(m, k) w(n, k)^T in fp32. */
void qb_openblas_sgemm(int64_t m, int64_t n, int64_t k, const float *x, const float *w, float *y);
void qb_openblas_set_threads(int n);
/* "OpenBLAS 0.3.21 ... (Haswell)". */
const char *qb_openblas_info(void);

#endif
