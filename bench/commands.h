/* The qbench subcommands. Each lives in its own bench/cmd_*.c, parses its own
 * flags with common/args.h and returns the process exit status:
 * 0 success, 1 a negative verdict (e.g. `check` found a regression),
 * 2 bad input (the message says what to fix), 3 internal error. */
#ifndef QB_COMMANDS_H
#define QB_COMMANDS_H

typedef int (*qb_cmd_fn)(int argc, char **argv);

typedef struct {
    const char *name;
    qb_cmd_fn run;
    const char *summary;
} qb_command;

extern const qb_command qb_commands[];
extern const int qb_n_commands;

/* Prints "qbench CMD: <message>" for a failed status and returns its exit code. */
int qb_cmd_fail(const char *cmd, int status);

int qb_cmd_version(int argc, char **argv);
int qb_cmd_report(int argc, char **argv);
int qb_cmd_plot(int argc, char **argv);
int qb_cmd_train(int argc, char **argv);
int qb_cmd_models(int argc, char **argv);
int qb_cmd_eval(int argc, char **argv);
int qb_cmd_inspect(int argc, char **argv);
int qb_cmd_compare(int argc, char **argv);
int qb_cmd_check(int argc, char **argv);
int qb_cmd_sweep(int argc, char **argv);
int qb_cmd_topo(int argc, char **argv);
int qb_cmd_counters(int argc, char **argv);
int qb_cmd_merge(int argc, char **argv);
int qb_cmd_history(int argc, char **argv);
int qb_cmd_bench_reports(int argc, char **argv);
int qb_cmd_bench_fp32(int argc, char **argv);
int qb_cmd_schemes(int argc, char **argv);
int qb_cmd_quantize(int argc, char **argv);
int qb_cmd_bench_quant(int argc, char **argv);
int qb_cmd_backends(int argc, char **argv);
int qb_cmd_bench_kernels(int argc, char **argv);

#endif
