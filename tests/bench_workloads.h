/* Small real workloads for the harness tests, behind the same vtable as the
 * built-in models (bench/workload.h):
 *
 *   matmul   y = x W with W 64x64 fp32 (or W quantized to wbits, symmetric
 *            per tensor); 4096 multiply-accumulates per input, added to
 *            qbench's work counters once per call like the real kernels;
 *            accuracy = argmax agreement of the quantized product with the
 *            fp32 one on 200 fixed inputs
 *   crash    prepares, then dies with SIGSEGV in run()
 *   hang     prepares, then never returns from run()
 *   failing  prepare() fails with a message holding a comma, a quote and a
 *            newline (CSV quoting is exercised on every row)
 *   notimed  evaluates, but run() reports QB_ERR_UNSUPPORTED (no real path)
 */
#ifndef QB_TEST_BENCH_WORKLOADS_H
#define QB_TEST_BENCH_WORKLOADS_H

#include "workload.h"

#define TW_K 64
#define TW_N 64
#define TW_MACS_PER_INF ((long long)TW_K * TW_N)
#define TW_EVAL_IMAGES 200
#define TW_FAIL_MESSAGE "weights \"w\" missing,\nsee the log"

extern const qb_workload tw_matmul, tw_crash, tw_hang, tw_failing, tw_notimed;
/* All five, as a set. */
extern const qb_workload_set tw_set;

/* Weight bytes one matmul call reads at `wbits` (packed). */
long long tw_weight_bytes(int wbits);

/* Helpers for the tests that kill sweeps. */
void tw_sleep_ms(int ms);
/* Every CSV file of run folder `run` parses with libcsv (a record cut at the
 * end is allowed: the run folder repairs it on resume); the test fails
 * otherwise, naming file and line. */
void tw_expect_run_parses(const char *run);

#endif
