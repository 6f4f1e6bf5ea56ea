/* mlp, lenet and resnet (see archs.h). */
#include "archs.h"

#include <stdio.h>
#include <string.h>

/* 784-512-256-10 perceptron. */
static qb_status build_mlp(qb_model *m, int in_c, int in_h, int in_w, int n_classes)
{
    qb_status s = qb_model_begin(m, "mlp", in_c, in_h, in_w, n_classes);
    if (s != QB_OK) return s;
    int x = qb_model_flatten(m, "flatten", QB_MODEL_INPUT);
    x = qb_model_relu(m, "relu1", qb_model_dense(m, "fc1", x, 512, 1));
    x = qb_model_relu(m, "relu2", qb_model_dense(m, "fc2", x, 256, 1));
    qb_model_dense(m, "fc3", x, n_classes, 1);
    return qb_model_finish(m);
}

/* LeNet-5's shape, wider: conv5x5(32, pad 2) - pool - conv5x5(64) - pool -
 * fc 128 - fc 10, ReLU throughout, no batch norm. */
static qb_status build_lenet(qb_model *m, int in_c, int in_h, int in_w, int n_classes)
{
    qb_status s = qb_model_begin(m, "lenet", in_c, in_h, in_w, n_classes);
    if (s != QB_OK) return s;
    int x = qb_model_relu(m, "relu1", qb_model_conv(m, "conv1", QB_MODEL_INPUT, 32, 5, 1, 2, 1));
    x = qb_model_maxpool(m, "pool1", x, 2, 2);
    x = qb_model_relu(m, "relu2", qb_model_conv(m, "conv2", x, 64, 5, 1, 0, 1));
    x = qb_model_maxpool(m, "pool2", x, 2, 2);
    x = qb_model_flatten(m, "flatten", x);
    x = qb_model_relu(m, "relu3", qb_model_dense(m, "fc1", x, 128, 1));
    qb_model_dense(m, "fc2", x, n_classes, 1);
    return qb_model_finish(m);
}

/* One basic residual block: conv3x3-BN-ReLU-conv3x3-BN, plus the input
 * (through a 1x1 conv + BN when the shape changes), then ReLU. */
static int basic_block(qb_model *m, const char *name, int x, int out_ch, int stride)
{
    char n[QB_NAME_LEN];
#define NAME(suffix) (snprintf(n, sizeof n, "%s.%s", name, suffix), n)
    int in_ch = x == QB_MODEL_INPUT ? m->in_c : (x >= 0 ? m->layers[x].c : 0);
    int y = qb_model_conv(m, NAME("conv1"), x, out_ch, 3, stride, 1, 0);
    y = qb_model_relu(m, NAME("relu1"), qb_model_bn(m, NAME("bn1"), y));
    y = qb_model_bn(m, NAME("bn2"), qb_model_conv(m, NAME("conv2"), y, out_ch, 3, 1, 1, 0));
    int shortcut = x;
    if (stride != 1 || in_ch != out_ch)
        shortcut = qb_model_bn(m, NAME("downsample.1"),
                               qb_model_conv(m, NAME("downsample.0"), x, out_ch, 1, stride, 0, 0));
    return qb_model_relu(m, NAME("relu2"), qb_model_add(m, NAME("add"), y, shortcut));
#undef NAME
}

/* ResNet-20 for small images (He et al. 2016, section 4.2): a 3x3 stem of
 * 16 channels, three stages of three basic blocks at 16, 32 and 64
 * channels (stride 2 between stages, 1x1 projection shortcuts), global
 * average pooling and one dense layer. */
static qb_status build_resnet(qb_model *m, int in_c, int in_h, int in_w, int n_classes)
{
    qb_status s = qb_model_begin(m, "resnet", in_c, in_h, in_w, n_classes);
    if (s != QB_OK) return s;
    int x = qb_model_conv(m, "conv1", QB_MODEL_INPUT, 16, 3, 1, 1, 0);
    x = qb_model_relu(m, "relu", qb_model_bn(m, "bn1", x));
    static const int widths[3] = {16, 32, 64};
    for (int stage = 0; stage < 3; stage++)
        for (int b = 0; b < 3; b++) {
            char name[32];
            snprintf(name, sizeof name, "layer%d.%d", stage + 1, b);
            x = basic_block(m, name, x, widths[stage], stage > 0 && b == 0 ? 2 : 1);
        }
    x = qb_model_flatten(m, "flatten", qb_model_gap(m, "avgpool", x));
    qb_model_dense(m, "fc", x, n_classes, 1);
    return qb_model_finish(m);
}

const qb_arch qb_archs[] = {
    {"mlp", "784-512-256-10 perceptron, ReLU", build_mlp,
     {.epochs = 30, .batch = 128, .lr = 0.05f, .warmup_epochs = 1, .momentum = 0.9f,
      .weight_decay = 5e-4f, .crop_pad = 0, .flip = 1}},
    {"lenet", "LeNet-style CNN: conv5x5 32 - pool - conv5x5 64 - pool - fc 128 - fc 10",
     build_lenet,
     {.epochs = 20, .batch = 128, .lr = 0.05f, .warmup_epochs = 1, .momentum = 0.9f,
      .weight_decay = 5e-4f, .crop_pad = 2, .flip = 1}},
    {"resnet", "ResNet-20 (16/32/64 channels, batch norm, 1x1 projection shortcuts)",
     build_resnet,
     {.epochs = 30, .batch = 128, .lr = 0.1f, .warmup_epochs = 1, .momentum = 0.9f,
      .weight_decay = 5e-4f, .crop_pad = 2, .flip = 1}},
};
const int qb_n_archs = (int)QB_ARRAY_LEN(qb_archs);

const qb_arch *qb_arch_find(const char *name)
{
    for (int i = 0; i < qb_n_archs; i++)
        if (strcmp(qb_archs[i].name, name) == 0) return &qb_archs[i];
    char known[128] = "";
    for (int i = 0; i < qb_n_archs; i++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
                 qb_archs[i].name);
    qb_error(QB_ERR_ARG, "unknown model architecture '%s' (known: %s)", name, known);
    return NULL;
}

qb_status qb_arch_build(const char *name, int in_c, int in_h, int in_w, int n_classes,
                        qb_model *m)
{
    const qb_arch *a = qb_arch_find(name);
    if (!a) return QB_ERR_ARG;
    qb_status s = a->build(m, in_c, in_h, in_w, n_classes);
    if (s != QB_OK) qb_model_free(m);
    return s;
}
