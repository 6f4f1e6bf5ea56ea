/* Command-line flags from a table: every qbench command declares its flags
 * as data and parses them with one function, so errors read the same
 * everywhere ("--bits: expected an integer, got 'x'"). Accepts
 * `--name value` and `--name=value`; `--` ends the flags. */
#ifndef QB_ARGS_H
#define QB_ARGS_H

#include <stdio.h>
#include "status.h"

typedef enum {
    QB_OPT_STR,    /* dest: const char ** */
    QB_OPT_INT,    /* dest: int * */
    QB_OPT_DOUBLE, /* dest: double * */
    QB_OPT_FLAG    /* dest: int *, set to 1; takes no value */
} qb_opt_kind;

typedef struct {
    const char *name;    /* "--bits" (a short alias may follow: "-b") */
    qb_opt_kind kind;
    void *dest;
    const char *metavar; /* "B" shown in help; NULL for flags */
    const char *help;    /* one line */
} qb_opt;

typedef struct {
    const char **positional; /* filled with positional arguments (not copied) */
    int max_positional;
    int n_positional;
    int help;                /* set when -h or --help was given */
} qb_args;

/* Parses argv[0..argc) (argv[0] is the first flag, not the program name).
 * On error the message names the flag and the command `cmd`. */
qb_status qb_args_parse(const char *cmd, int argc, char **argv,
                        const qb_opt *opts, int nopts, qb_args *out);

/* Prints "usage: qbench CMD ...", then one line per flag. */
void qb_args_usage(FILE *f, const char *cmd, const char *synopsis,
                   const qb_opt *opts, int nopts);

/* Helpers for parsing values with a named context (flag, spec key...). */
qb_status qb_parse_int(const char *what, const char *text, long lo, long hi, long *out);
qb_status qb_parse_double(const char *what, const char *text, double *out);

#endif
