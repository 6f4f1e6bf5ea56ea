/* `qbench quantize`: quantize one .npy tensor with a scheme, write it back
 * dequantized (and optionally its integer codes and the per-block
 * parameters), and print the error metrics. Everything is computed before
 * anything is written, and every file goes through qb_safefile. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "commands.h"
#include "csvio.h"
#include "metrics.h"
#include "npy.h"
#include "quant.h"
#include "safefile.h"

#define CMD "quantize"

typedef struct {
    const char *in, *out, *scheme, *gran, *calib, *rounding, *codes, *params, *format;
    int bits, axis, axis_given, narrow, seed;
} quantize_args;

/* The input as float32 (float64 and float16 are converted). */
static qb_status load_input(const char *path, qb_tensor *x)
{
    qb_tensor raw;
    qb_status st = qb_npy_read(path, &raw);
    if (st != QB_OK) return st;
    if (raw.dtype == QB_F32) {
        *x = raw;
        return QB_OK;
    }
    if (raw.dtype != QB_F64 && raw.dtype != QB_F16) {
        st = qb_error(QB_ERR_UNSUPPORTED, "%s holds %s values; quantize needs floating-point "
                      "input (float32, float64 or float16)", path, qb_dtype_name(raw.dtype));
        qb_tensor_free(&raw);
        return st;
    }
    st = qb_tensor_alloc(x, QB_F32, raw.ndim, raw.shape);
    if (st == QB_OK) {
        int64_t n = qb_tensor_numel(&raw);
        float *dst = x->data;
        for (int64_t i = 0; i < n; i++)
            dst[i] = raw.dtype == QB_F64 ? (float)((const double *)raw.data)[i]
                                         : qb_minifloat_decode(&qb_fp16, ((const uint16_t *)raw.data)[i]);
    }
    qb_tensor_free(&raw);
    return st;
}

static qb_status parse(int argc, char **argv, quantize_args *a, int *help)
{
    memset(a, 0, sizeof *a);
    a->format = "text";
    a->seed = 1;
    a->axis = INT32_MIN;
    qb_opt opts[] = {
        {"--in", QB_OPT_STR, &a->in, "X.npy", "tensor to quantize (float32/64/16 .npy)"},
        {"--out", QB_OPT_STR, &a->out, "Y.npy", "where to write the dequantized tensor (float32)"},
        {"--scheme", QB_OPT_STR, &a->scheme, "S", "scheme (see qbench schemes)"},
        {"--bits", QB_OPT_INT, &a->bits, "B", "bit width (default: the scheme's)"},
        {"--granularity", QB_OPT_STR, &a->gran, "G", "tensor (default), channel or group:N"},
        {"--axis", QB_OPT_INT, &a->axis, "A", "channel/group axis (default 0 for channel, -1 for group)"},
        {"--calib", QB_OPT_STR, &a->calib, "C", "minmax (default), percentile:P, mse or kl"},
        {"--rounding", QB_OPT_STR, &a->rounding, "R", "nearest (default), stochastic[:SEED]"},
        {"--narrow-range", QB_OPT_FLAG, &a->narrow, NULL, "uniform-sym: codes from -(2^(b-1)-1)"},
        {"--seed", QB_OPT_INT, &a->seed, "N", "k-means++ seed (default 1)"},
        {"--codes", QB_OPT_STR, &a->codes, "Q.npy", "also write the integer codes"},
        {"--params", QB_OPT_STR, &a->params, "P.csv", "also write the per-block parameters"},
        {"--format", QB_OPT_STR, &a->format, "text|csv", "how to print the metrics"},
    };
    qb_args args = {NULL, 0, 0, 0};
    qb_status st = qb_args_parse(CMD, argc, argv, opts, QB_ARRAY_LEN(opts), &args);
    if (st != QB_OK) return st;
    if (args.help) {
        qb_args_usage(stdout, CMD, "--in X.npy --out Y.npy --scheme S [flags]", opts, QB_ARRAY_LEN(opts));
        *help = 1;
        return QB_OK;
    }
    if (!a->in) return qb_error(QB_ERR_ARG, "--in X.npy is required (the tensor to quantize)");
    if (!a->out) return qb_error(QB_ERR_ARG, "--out Y.npy is required (where the dequantized tensor goes)");
    if (!a->scheme) return qb_error(QB_ERR_ARG, "--scheme is required (see qbench schemes)");
    if (strcmp(a->format, "text") != 0 && strcmp(a->format, "csv") != 0)
        return qb_error(QB_ERR_ARG, "--format: expected text or csv, got '%s'", a->format);
    if (a->seed < 0) return qb_error(QB_ERR_ARG, "--seed: expected an integer >= 0, got %d", a->seed);
    a->axis_given = a->axis != INT32_MIN;
    return QB_OK;
}

static qb_status make_config(const quantize_args *a, qb_quant_config *c)
{
    const qb_scheme *s = qb_scheme_find(a->scheme);
    if (!s) return qb_error_context(QB_ERR_ARG, "--scheme");
    qb_quant_config_init(c, s);
    if (a->bits) {
        c->bits = a->bits;
        if (qb_scheme_check_bits(s, a->bits) != QB_OK) return qb_error_context(QB_ERR_ARG, "--bits");
    }
    if (a->gran && qb_granularity_parse(a->gran, &c->gran) != QB_OK)
        return qb_error_context(QB_ERR_ARG, "--granularity");
    if (a->calib && qb_calib_parse(a->calib, &c->calib) != QB_OK)
        return qb_error_context(QB_ERR_ARG, "--calib");
    if (a->rounding && qb_rounding_parse(a->rounding, &c->rounding) != QB_OK)
        return qb_error_context(QB_ERR_ARG, "--rounding");
    c->narrow_range = a->narrow;
    c->seed = (uint64_t)a->seed;
    if (a->axis_given) {
        if (c->gran.kind == QB_GRAN_TENSOR)
            return qb_error(QB_ERR_ARG, "--axis applies to channel and group granularity; add "
                            "--granularity channel or group:N");
        c->gran.axis = a->axis;
    }
    return qb_quant_config_check(c);
}

/* Per-block parameters as CSV: block, its index in the parameter shape,
 * then the parameters the scheme stores. */
static qb_status write_params(const char *path, const qb_qparams *p)
{
    qb_safefile f;
    qb_status st = qb_safefile_open(&f, path);
    if (st != QB_OK) return st;
    const qb_scheme *s = p->scheme;
    int k = 1 << p->bits;
    int zp = p->zero_point && (s->params & QB_PARAM_ZERO_POINT);
    for (int64_t b = 0; p->zero_point && !zp && b < p->nblocks; b++) zp = p->zero_point[b] != 0;
    fputs("block", f.fp);
    for (int d = 0; d < p->pndim; d++) fprintf(f.fp, ",i%d", d);
    if (s->params & QB_PARAM_SCALE) fputs(",scale", f.fp);
    if (zp) fputs(",zero_point", f.fp);
    if (s->params & QB_PARAM_THRESHOLD) fputs(",threshold", f.fp);
    if (s->params & QB_PARAM_CODEBOOK)
        for (int j = 0; j < k; j++) fprintf(f.fp, ",level_%d", j);
    fputc('\n', f.fp);
    for (int64_t b = 0; b < p->nblocks; b++) {
        fprintf(f.fp, "%lld", (long long)b);
        int64_t rest = b, idx[QB_MAX_DIMS];
        for (int d = p->pndim - 1; d >= 0; d--) {
            idx[d] = rest % p->pshape[d];
            rest /= p->pshape[d];
        }
        for (int d = 0; d < p->pndim; d++) fprintf(f.fp, ",%lld", (long long)idx[d]);
        if (s->params & QB_PARAM_SCALE) fprintf(f.fp, ",%.9g", p->scale[b]);
        if (zp) fprintf(f.fp, ",%d", p->zero_point[b]);
        if (s->params & QB_PARAM_THRESHOLD) fprintf(f.fp, ",%.9g", p->threshold[b]);
        if (s->params & QB_PARAM_CODEBOOK)
            for (int j = 0; j < k; j++) fprintf(f.fp, ",%.9g", p->codebook[b * k + j]);
        fputc('\n', f.fp);
    }
    return qb_safefile_commit(&f);
}

static void print_metrics(const quantize_args *a, const qb_quant_config *c, const qb_qparams *p,
                          const qb_tensor *x, const qb_error_metrics *m)
{
    int64_t n = qb_tensor_numel(x);
    uint64_t size = qb_qparams_size_bytes(p, n);
    double bpv = n ? 8.0 * (double)size / (double)n : 0.0;
    char g[32], cal[48], r[48], shape[200], pshape[200];
    qb_granularity_str(&c->gran, g, sizeof g);
    qb_calib_str(&c->calib, cal, sizeof cal);
    qb_rounding_str(&c->rounding, r, sizeof r);
    if (strcmp(a->format, "csv") == 0) {
        printf("input,scheme,bits,granularity,axis,calib,rounding,numel,blocks,size_bytes,"
               "bits_per_value,mse,max_abs_err,sqnr_db,cosine,nonfinite\n");
        qb_csv_line l = {0};
        char sqnr[32];
        snprintf(sqnr, sizeof sqnr, "%.6g", m->sqnr_db); /* "inf" when exact */
        qb_csv_str(&l, a->in);
        qb_csv_str(&l, c->scheme->name);
        qb_csv_int(&l, c->bits, 1);
        qb_csv_str(&l, g);
        qb_csv_int(&l, p->gran.axis, c->gran.kind != QB_GRAN_TENSOR);
        qb_csv_str(&l, cal);
        qb_csv_str(&l, r);
        qb_csv_int(&l, n, 1);
        qb_csv_int(&l, p->nblocks, 1);
        qb_csv_int(&l, (long long)size, 1);
        qb_csv_num(&l, bpv);
        qb_csv_num(&l, m->mse);
        qb_csv_num(&l, m->max_abs);
        qb_csv_str(&l, sqnr);
        qb_csv_num(&l, m->cosine);
        qb_csv_int(&l, m->skipped, 1);
        qb_csv_end(&l);
        if (qb_csv_line_status(&l) == QB_OK) fputs(l.buf, stdout);
        qb_csv_line_free(&l);
        return;
    }
    char cfg[200];
    printf("%s %s float32 -> %s\n", a->in, qb_shape_str(x->ndim, x->shape, shape, sizeof shape), a->out);
    printf("  config        %s\n", qb_quant_config_str(c, cfg, sizeof cfg));
    printf("  blocks        %lld, parameter shape %s\n", (long long)p->nblocks,
           qb_shape_str(p->pndim, p->pshape, pshape, sizeof pshape));
    printf("  size          %llu bytes, %.4g bits per value with parameters (float32: %llu bytes, "
           "%.2fx smaller)\n", (unsigned long long)size, bpv, (unsigned long long)(4ull * (uint64_t)n),
           size ? 4.0 * (double)n / (double)size : 0.0);
    printf("  mse           %.6g\n  max_abs_err   %.6g\n  sqnr_db       %.4f\n  cosine        %.9f\n",
           m->mse, m->max_abs, m->sqnr_db, m->cosine);
    if (m->skipped)
        printf("  nonfinite     %lld infinite values saturated (left out of the metrics)\n",
               (long long)m->skipped);
}

int qb_cmd_quantize(int argc, char **argv)
{
    quantize_args a;
    int help = 0;
    qb_status st = parse(argc, argv, &a, &help);
    if (st != QB_OK) return qb_cmd_fail(CMD, st);
    if (help) return 0;
    qb_quant_config c;
    st = make_config(&a, &c);
    if (st != QB_OK) return qb_cmd_fail(CMD, st);

    qb_tensor x = {0}, y = {0}, codes = {0};
    qb_qparams p = {0};
    int64_t n = 0;
    st = load_input(a.in, &x);
    if (st == QB_OK) {
        n = qb_tensor_numel(&x);
        st = qb_qparams_fit(&p, &c, x.data, x.ndim, x.shape);
        if (st != QB_OK) qb_error_context(st, "%s", a.in);
    }
    if (st == QB_OK) st = qb_tensor_alloc(&y, QB_F32, x.ndim, x.shape);
    if (st == QB_OK) st = qb_fake_quantize(&p, x.data, n, y.data);
    if (st == QB_OK && a.codes) {
        st = qb_tensor_alloc(&codes, qb_scheme_code_dtype(c.scheme, c.bits), x.ndim, x.shape);
        if (st == QB_OK) st = qb_quantize_to(&p, x.data, n, codes.dtype, codes.data);
    }
    /* Everything is computed: now write, each file whole or not at all. */
    if (st == QB_OK) st = qb_npy_write(a.out, &y);
    if (st == QB_OK && a.codes) st = qb_npy_write(a.codes, &codes);
    if (st == QB_OK && a.params) st = write_params(a.params, &p);
    if (st == QB_OK) {
        qb_error_metrics m;
        qb_error_metrics_compute(x.data, y.data, n, &m);
        print_metrics(&a, &c, &p, &x, &m);
    }
    qb_qparams_free(&p);
    qb_tensor_free(&x);
    qb_tensor_free(&y);
    qb_tensor_free(&codes);
    return st == QB_OK ? 0 : qb_cmd_fail(CMD, st);
}
