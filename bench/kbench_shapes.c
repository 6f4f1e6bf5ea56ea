/* The shapes `qbench bench-kernels` measures (see README.md, "Kernel
 * benchmarks"); the built-in models' layers are those of workloads/archs.c. GEMMs are m x n x k with m rows (batch x pixels or time
 * steps), n output channels and k the reduction; the ResNet-50 shapes the
 * issue writes as Cout x pixels x K, e.g. 64x3136x576, are m=3136 n=64 k=576. */
#include "kbench.h"

#define GEMM(name, src, m, n, k) {name, src, KB_GEMM, m, n, k, {0}}
/* batch, in h w c, out c, kernel, stride, pad (same on all sides) */
#define CONV(name, src, b, h, w, c, oc, kk, st, pd)                                                     \
    {name, src, KB_CONV, 0, 0, 0,                                                                      \
     {.batch = b, .in_h = h, .in_w = w, .in_c = c, .out_c = oc, .k_h = kk, .k_w = kk, .stride_h = st, \
      .stride_w = st, .dil_h = 1, .dil_w = 1, .pad_top = pd, .pad_left = pd, .pad_bottom = pd,        \
      .pad_right = pd}}

static kb_shape shapes[] = {
    /* built-in models on 28x28 Fashion-MNIST, batch 64 (throughput) and 1 (latency) */
    GEMM("mlp-fc1-b64", "mlp", 64, 512, 784),
    GEMM("mlp-fc2-b64", "mlp", 64, 256, 512),
    GEMM("mlp-fc3-b64", "mlp", 64, 10, 256),
    GEMM("mlp-fc1-b1", "mlp", 1, 512, 784),
    CONV("lenet-conv1-b64", "lenet", 64, 28, 28, 1, 32, 5, 1, 2),
    CONV("lenet-conv2-b64", "lenet", 64, 14, 14, 32, 64, 5, 1, 0),
    GEMM("lenet-fc1-b64", "lenet", 64, 128, 1600),
    CONV("resnet20-stem-b64", "resnet20", 64, 28, 28, 1, 16, 3, 1, 1),
    CONV("resnet20-s1-b64", "resnet20", 64, 28, 28, 16, 16, 3, 1, 1),
    CONV("resnet20-s2-down-b64", "resnet20", 64, 28, 28, 16, 32, 3, 2, 1),
    CONV("resnet20-s2-b64", "resnet20", 64, 14, 14, 32, 32, 3, 1, 1),
    CONV("resnet20-s3-b64", "resnet20", 64, 7, 7, 64, 64, 3, 1, 1),
    /* ResNet-50 at 224x224, batch 1 */
    GEMM("r50-c2-3x3", "resnet50", 3136, 64, 576),
    GEMM("r50-c2-1x1", "resnet50", 3136, 256, 64),
    GEMM("r50-c3-3x3", "resnet50", 784, 128, 1152),
    GEMM("r50-c4-3x3", "resnet50", 196, 256, 2304),
    GEMM("r50-c4-1x1", "resnet50", 196, 1024, 256),
    GEMM("r50-c5-3x3", "resnet50", 49, 512, 4608),
    GEMM("r50-fc", "resnet50", 1, 1000, 2048),
    CONV("r50-conv1", "resnet50", 1, 224, 224, 3, 64, 7, 2, 3),
    CONV("r50-c2-3x3-conv", "resnet50", 1, 56, 56, 64, 64, 3, 1, 1),
    CONV("r50-c4-3x3-conv", "resnet50", 1, 14, 14, 256, 256, 3, 1, 1),
    /* DeepSpeech2 (DeepBench inference GEMMs): recurrent layers and the output layer */
    GEMM("ds2-rnn-1760", "deepspeech2", 16, 1760, 1760),
    GEMM("ds2-rnn-2560", "deepspeech2", 64, 2560, 2560),
    GEMM("ds2-fc", "deepspeech2", 700, 5124, 2048),
};

int kb_shape_count(void) { return (int)QB_ARRAY_LEN(shapes); }

const kb_shape *kb_shape_at(int i)
{
    if (i < 0 || i >= kb_shape_count()) return NULL;
    if (shapes[i].kind == KB_CONV && shapes[i].m == 0) kb_shape_finish(&shapes[i]);
    return &shapes[i];
}

qb_status kb_shape_finish(kb_shape *s)
{
    if (s->kind != KB_CONV) return QB_OK;
    qb_status st = qb_conv_shape_init(&s->conv);
    if (st) return st;
    s->m = s->conv.batch * s->conv.out_h * s->conv.out_w;
    s->n = s->conv.out_c;
    s->k = s->conv.in_c * s->conv.k_h * s->conv.k_w;
    return QB_OK;
}
