/* The flags `qbench eval` and `qbench inspect` share: which model, which
 * quantization, which data, and turning them into a qb_qeval. */
#ifndef QB_EVALFLAGS_H
#define QB_EVALFLAGS_H

#include "args.h"
#include "dataset.h"
#include "pool.h"
#include "qeval.h"

typedef struct {
    const char *model, *scheme, *granularity, *calib, *ascheme, *data, *format;
    int wbits, abits, keep_first_last, threads;
} qb_evalflags;

#define QB_EVALFLAGS_N 11

/* Defaults (uniform-sym, W8A8, channel, minmax, text) and the flag table
 * rows pointing into f (opts must hold QB_EVALFLAGS_N rows). */
void qb_evalflags_init(qb_evalflags *f, qb_opt *opts);

/* Everything a command needs once its flags are parsed. */
typedef struct {
    qb_qeval_config config;
    qb_fmnist data;
    qb_pool *pool;
    qb_qeval *ev;
    char model_path[1024];
} qb_evalsetup;

/* Validates the flags, loads the data and model, runs the fp32 reference
 * and calibration. On failure everything is released and the status says
 * what was wrong. */
qb_status qb_evalsetup_open(const qb_evalflags *f, qb_evalsetup *s);
void qb_evalsetup_close(qb_evalsetup *s);

/* Parses argv with opts (the shared rows, then any of the command's own),
 * answers --help, and opens the setup. Returns -1 when the command should
 * go on with *s open, else the exit status to return. */
int qb_evalflags_start(const char *cmd, const char *synopsis, int argc, char **argv,
                       const qb_opt *opts, int nopts, const qb_evalflags *f, qb_evalsetup *s);

/* The same, calling check(check_ctx) once the flags are parsed and before
 * the slow setup, so the command's own flags fail fast. */
int qb_evalflags_start_checked(const char *cmd, const char *synopsis, int argc, char **argv,
                               const qb_opt *opts, int nopts, const qb_evalflags *f,
                               qb_evalsetup *s, qb_status (*check)(void *), void *check_ctx);

/* "channel" with its bits and schemes, for headings. */
const char *qb_evalflags_describe(const qb_evalflags *f, char *buf, size_t len);

#endif
