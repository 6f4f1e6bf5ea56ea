/* Kernel benchmarks behind `qbench bench-kernels`: a table of shapes (the
 * built-in models' layers, ResNet-50 convolutions, DeepSpeech2 GEMMs), a
 * table of implementations (qbench's kernels and the peers oneDNN and
 * OpenBLAS), and a timer that reports the median of repetitions after a
 * warm-up. Every implementation of a shape computes the same product on
 * the same random data, so GOP/s compare directly. */
#ifndef QB_KBENCH_H
#define QB_KBENCH_H

#include <stddef.h>
#include <stdint.h>
#include "backend.h"
#include "dataset.h"
#include "pool.h"
#include "qkernels.h"
#include "status.h"

typedef enum { KB_GEMM, KB_CONV } kb_kind;

typedef struct {
    const char *name;    /* "r50-conv2-3x3" */
    const char *source;  /* "resnet50", "deepspeech2", "mlp", "lenet", "resnet20" */
    kb_kind kind;
    int64_t m, n, k;     /* GEMM: rows (batch x pixels), output channels, reduction */
    qb_conv_shape conv;  /* KB_CONV: the convolution (m, n, k derived from it) */
} kb_shape;

/* The shape table; `quick` selects a few small shapes (for tests). */
int kb_shape_count(void);
const kb_shape *kb_shape_at(int i);
/* Fills m, n, k of a conv shape from its geometry. */
qb_status kb_shape_finish(kb_shape *s);

typedef struct {
    const qb_backend *be; /* qbench kernels run on this backend */
    qb_pool *pool;        /* qbench kernels' threads (the peers get the same count) */
    int threads;
    double min_time;      /* seconds of timed repetitions per measurement */
} kb_env;

typedef struct kb_impl kb_impl;
int kb_impl_count(void);
const kb_impl *kb_impl_at(int i);
const char *kb_impl_name(const kb_impl *im);  /* "qbench-int8", "onednn-fp32", ... */
const char *kb_impl_dtype(const kb_impl *im); /* "fp32", "bf16", "int8", "int4", "int4g", "ternary", "binary" */
/* 1 for the qbench kernels (which run on env->be), 0 for peers. */
int kb_impl_is_qbench(const kb_impl *im);
int kb_impl_applies(const kb_impl *im, const kb_shape *s);

typedef struct {
    double seconds;        /* median time of one call */
    double gops;           /* 2 m n k / seconds / 1e9 */
    int reps;              /* timed samples */
    size_t weight_bytes;   /* bytes of weights in the implementation's format */
    char detail[80];       /* e.g. the oneDNN implementation name */
} kb_result;

/* Measures implementations ims[0..n) on shape s (out[i] for ims[i]). */
qb_status kb_measure_shape(const kb_impl *const *ims, int n, const kb_shape *s, const kb_env *env,
                           kb_result *out);

/* Memory: read bandwidth of main memory on env's threads (a buffer several
 * times the last-level cache, summed as 4 streams per thread), and a
 * batch-1 4-bit dense layer n x k (group 32) whose weights rotate through
 * enough copies to come from DRAM, sampled in alternation with the read
 * probe. *gemv_bytes_per_s counts the layer's weight and scale bytes. */
qb_status kb_memory(const kb_env *env, int64_t n, int64_t k, double *dram_bytes_per_s, double *gemv_bytes_per_s,
                    kb_result *gemv);

/* Where an end-to-end forward pass spends its time, layer by layer of the
 * BN-folded graph both engines run (same indices). */
typedef struct {
    int n;                /* layers */
    char (*name)[48];     /* (n) layer names */
    const char **kind;    /* (n) "conv", "relu", ... */
    char (*how)[32];      /* (n) what the int8 executor does there */
    unsigned char *merged;/* (n) 1: the int8 executor does this layer's work in another one */
    double *fp32, *int8;  /* (n) seconds per forward pass */
    double int8_input;    /* int8: input layout change and quantization, seconds per pass */
} kb_profile;
void kb_profile_free(kb_profile *p);

/* A built-in model (mlp, lenet, resnet) end to end at `batch` images: the
 * fp32 engine and the int8 integer executor, interleaved; gops counts the
 * model's multiply-adds x 2. With prof, afterwards (so the timings above
 * carry no timer calls) both run again interleaved with per-layer timing,
 * into *prof (free with kb_profile_free). */
qb_status kb_model_e2e(const kb_env *env, const char *arch, int batch, const qb_fmnist *data, kb_result *fp32,
                       kb_result *int8, kb_profile *prof);

#endif
