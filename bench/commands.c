/* The table of subcommands: adding a command is one line here. */
#include "commands.h"

#include <stdio.h>
#include "status.h"

const qb_command qb_commands[] = {
    {"version", qb_cmd_version, "print version, git commit and build flags"},
    {"report", qb_cmd_report, "write report.md, report.html and plots for a run"},
    {"plot", qb_cmd_plot, "render a run's plots (PNG and SVG, gnuplot scripts kept)"},
    {"train", qb_cmd_train, "train a reference model (mlp, lenet, resnet) on Fashion-MNIST"},
    {"models", qb_cmd_models, "list the trained models with their fp32 accuracy"},
    {"eval", qb_cmd_eval, "accuracy of a model under a quantization config vs fp32 (drop, CI, KL, size)"},
    {"inspect", qb_cmd_inspect, "per-layer weight/input SQNR and sensitivity of a quantization config"},
    {"compare", qb_cmd_compare, "compare two runs cell by cell (report, CSV, plots)"},
    {"check", qb_cmd_check, "CI gate: exit 1 when a run regressed against a baseline"},
    {"sweep", qb_cmd_sweep, "run a sweep spec into a run folder (results/<time>/)"},
    {"topo", qb_cmd_topo, "print the hwloc topology and the placements a sweep would use"},
    {"counters", qb_cmd_counters, "list the PAPI events that can be counted here, and why not"},
    {"merge", qb_cmd_merge, "join the shard run folders of one sweep"},
    {"history", qb_cmd_history, "a metric of chosen cells across runs, steps flagged"},
    {"bench-reports", qb_cmd_bench_reports, "benchmark: compare and check on two 100,000-cell runs"},
    {"bench-fp32", qb_cmd_bench_fp32, "fp32 engine throughput vs the GEMM library alone; training times"},
    {"schemes", qb_cmd_schemes, "list the quantization schemes, their bit widths and parameters"},
    {"quantize", qb_cmd_quantize, "quantize a .npy tensor: dequantized copy, codes, parameters, error"},
    {"bench-quant", qb_cmd_bench_quant, "quantizer speed: fake-quantize vs memcpy, k-means, kl"},
    {"backends", qb_cmd_backends, "list kernel backends and which one this CPU runs"},
    {"bench-kernels", qb_cmd_bench_kernels, "GOP/s of the int8/4-bit/ternary/binary/bf16 kernels vs oneDNN and OpenBLAS"},
};
const int qb_n_commands = (int)(sizeof qb_commands / sizeof qb_commands[0]);

int qb_cmd_fail(const char *cmd, int status)
{
    fprintf(stderr, "qbench %s: %s\n", cmd, qb_last_error());
    return qb_exit_code((qb_status)status);
}
