/* Shared flags of `qbench eval` and `qbench inspect` (see evalflags.h). */
#include "evalflags.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "modelfile.h"

void qb_evalflags_init(qb_evalflags *f, qb_opt *o)
{
    *f = (qb_evalflags){.model = NULL, .scheme = "uniform-sym", .granularity = "channel",
                        .calib = "minmax", .format = "text", .wbits = 8, .abits = 8};
    qb_opt rows[QB_EVALFLAGS_N] = {
        {"--model -m", QB_OPT_STR, &f->model, "M", "model name (mlp, lenet, resnet) or .safetensors file"},
        {"--scheme", QB_OPT_STR, &f->scheme, "S", "weight scheme (qbench schemes; default uniform-sym)"},
        {"--wbits", QB_OPT_INT, &f->wbits, "B", "weight bits (default 8; 32 = float)"},
        {"--abits", QB_OPT_INT, &f->abits, "A", "input-activation bits (default 8; 32 = float)"},
        {"--granularity", QB_OPT_STR, &f->granularity, "G", "weights: tensor | channel | group:N (default channel)"},
        {"--calib", QB_OPT_STR, &f->calib, "C", "minmax | percentile:P | mse | kl (default minmax)"},
        {"--ascheme", QB_OPT_STR, &f->ascheme, "S", "activation scheme (default: the float format, else uniform-asym)"},
        {"--keep-first-last", QB_OPT_INT, &f->keep_first_last, "B", "first and last conv/dense layers at B bits"},
        {"--data", QB_OPT_STR, &f->data, "DIR", "Fashion-MNIST folder (default $QBENCH_DATA or " QB_FMNIST_DEFAULT_DIR ")"},
        {"--threads", QB_OPT_INT, &f->threads, "N", "worker threads (default: all online CPUs)"},
        {"--format", QB_OPT_STR, &f->format, "F", "text | csv"},
    };
    memcpy(o, rows, sizeof rows);
}

static qb_status check_bits(const char *flag, int bits)
{
    if (bits == QB_FLOAT_BITS || (bits >= 1 && bits <= 16)) return QB_OK;
    return qb_error(QB_ERR_ARG, "%s %d: expected 1..16 bits, or 32 for float", flag, bits);
}

qb_status qb_evalsetup_open(const qb_evalflags *f, qb_evalsetup *s)
{
    memset(s, 0, sizeof *s);
    qb_status st;
    if (!f->model)
        return qb_error(QB_ERR_ARG, "--model is required (mlp, lenet, resnet, or a .safetensors file)");
    if (strcmp(f->format, "text") != 0 && strcmp(f->format, "csv") != 0)
        return qb_error(QB_ERR_ARG, "--format '%s': expected text or csv", f->format);
    if ((st = check_bits("--wbits", f->wbits)) != QB_OK || (st = check_bits("--abits", f->abits)) != QB_OK)
        return st;
    if (f->keep_first_last != 0 && (st = check_bits("--keep-first-last", f->keep_first_last)) != QB_OK)
        return st;
    if (f->threads < 0) return qb_error(QB_ERR_ARG, "--threads %d: must be positive", f->threads);
    if ((st = qb_qeval_config_parse(&s->config, f->scheme, f->wbits, f->abits, f->granularity,
                                    f->calib, f->ascheme)) != QB_OK)
        return st;
    s->config.keep_first_last = f->keep_first_last;
    qb_model_path(f->model, s->model_path, sizeof s->model_path);
    if (access(s->model_path, R_OK) != 0)
        return qb_error(QB_ERR_IO, "%s: no such model file; `qbench models` lists the trained ones, "
                                   "`qbench train NAME` makes one", s->model_path);
    if ((st = qb_fmnist_load(qb_dataset_dir(f->data), &s->data)) != QB_OK) return st;
    int threads = f->threads ? f->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if ((st = qb_pool_create(&s->pool, threads > 0 ? threads : 1, NULL, NULL)) != QB_OK ||
        (st = qb_qeval_open(&s->ev, s->model_path, &s->data, s->pool)) != QB_OK) {
        qb_evalsetup_close(s);
        return st;
    }
    return QB_OK;
}

void qb_evalsetup_close(qb_evalsetup *s)
{
    qb_qeval_close(s->ev);
    qb_pool_free(s->pool);
    qb_fmnist_free(&s->data);
    memset(s, 0, sizeof *s);
}

const char *qb_evalflags_describe(const qb_evalflags *f, char *buf, size_t len)
{
    char w[64], a[64];
    if (f->wbits == QB_FLOAT_BITS) snprintf(w, sizeof w, "float weights");
    else snprintf(w, sizeof w, "%s %d-bit weights per %s", f->scheme, f->wbits, f->granularity);
    if (f->abits == QB_FLOAT_BITS) snprintf(a, sizeof a, "float inputs");
    else snprintf(a, sizeof a, "%d-bit inputs per tensor", f->abits);
    snprintf(buf, len, "%s, %s, calibration %s", w, a, f->calib);
    return buf;
}

int qb_evalflags_start(const char *cmd, const char *synopsis, int argc, char **argv,
                       const qb_opt *opts, int nopts, const qb_evalflags *f, qb_evalsetup *s)
{
    return qb_evalflags_start_checked(cmd, synopsis, argc, argv, opts, nopts, f, s, NULL, NULL);
}

int qb_evalflags_start_checked(const char *cmd, const char *synopsis, int argc, char **argv,
                               const qb_opt *opts, int nopts, const qb_evalflags *f,
                               qb_evalsetup *s, qb_status (*check)(void *), void *check_ctx)
{
    qb_args a = {NULL, 0, 0, 0};
    qb_status st = qb_args_parse(cmd, argc, argv, opts, nopts, &a);
    if (st != QB_OK) return qb_cmd_fail(cmd, st);
    if (a.help) {
        qb_args_usage(stdout, cmd, synopsis, opts, nopts);
        return 0;
    }
    if (check && (st = check(check_ctx)) != QB_OK) return qb_cmd_fail(cmd, st);
    if ((st = qb_evalsetup_open(f, s)) != QB_OK) return qb_cmd_fail(cmd, st);
    return -1;
}
