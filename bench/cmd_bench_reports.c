/* `qbench bench-reports`: how fast `qbench compare` and `qbench check` are on
 * big runs. Writes two synthetic run folders of N cells each (default
 * 100,000; 5 timed repetitions per cell; the current run has 1% of its cells
 * 20% slower), then runs this qbench binary's compare and check on them as
 * separate processes and prints their wall-clock times against the 2 s
 * target. The runs are benchmark input only, made with a fixed seed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "clock.h"
#include "commands.h"
#include "rng.h"
#include "status.h"

static const char *const models[] = {"mlp", "lenet", "resnet"};
static const char *const schemes[] = {"fp32", "uniform-sym", "uniform-asym", "pow2", "kmeans",
                                      "binary", "ternary", "fp8-e4m3"};
static const char *const placements[] = {"core", "cores:2", "numa:0", "all"};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static FILE *open_in(const char *dir, const char *file)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "w");
    if (!f) qb_error(QB_ERR_IO, "%s: %s", path, strerror(errno));
    return f;
}

/* One run folder. Cell i's configuration comes from i; its latency is a
 * fixed per-cell base times noise, times 1.2 for the slowed cells. */
static qb_status write_run(const char *dir, long cells, int reps, uint64_t seed, int slow)
{
    if (mkdir(dir, 0755) != 0) return qb_error(QB_ERR_IO, "%s: cannot create (%s)", dir, strerror(errno));
    FILE *meta = open_in(dir, "meta.csv"), *res = open_in(dir, "results.csv"),
         *smp = open_in(dir, "samples.csv");
    if (!meta || !res || !smp) {
        if (meta) fclose(meta);
        if (res) fclose(res);
        if (smp) fclose(smp);
        return QB_ERR_IO;
    }
    fprintf(meta, "key,value\nschema_version,1\nqbench_version,bench\ngit_commit,%s\n"
                  "date,2026-01-01T00:00:00Z\nhost,bench\nspec_hash,00000000b3ac4e00\n",
            slow ? "current" : "baseline");
    fputs("cell_id,model,scheme,granularity,calib,correction,policy,wbits,abits,backend,"
          "placement,threads,cpuset,scenario,batch,status,status_detail,accuracy,fp32_accuracy,"
          "drop_pp,drop_ci_low,drop_ci_high,agreement,kl,size_bytes,compression,"
          "latency_ms_median,latency_ms_mad,latency_ms_ci_low,latency_ms_ci_high,reps,"
          "throughput_ips,speedup,prep_seconds,prep_peak_mb,counter_status\n", res);
    fputs("cell_id,rep,latency_ms\n", smp);
    qb_rng rng, base_rng;
    qb_rng_seed(&rng, seed);
    qb_rng_seed(&base_rng, 7);
    double lat[64];
    for (long i = 0; i < cells; i++) {
        const char *model = models[i % 3], *scheme = schemes[(i / 3) % 8];
        const char *pl = placements[(i / 24) % 4];
        long variant = i / 96;
        int wbits = scheme[0] == 'f' && scheme[1] == 'p' && scheme[2] == '3' ? 32 : 1 + (int)(variant % 8);
        char ident[256];
        snprintf(ident, sizeof ident, "%s;%s;%d;%s;%ld", model, scheme, wbits, pl, variant);
        double base_ms = 0.02 + 2.0 * qb_rng_uniform_d(&base_rng);
        double factor = slow && i % 100 == 37 ? 1.2 : 1.0;
        for (int r = 0; r < reps; r++)
            lat[r] = base_ms * factor * (1 + 0.03 * qb_rng_uniform_d(&rng));
        /* median of reps (reps is small and odd in practice) */
        double s[64];
        memcpy(s, lat, (size_t)reps * sizeof *s);
        for (int a = 1; a < reps; a++)
            for (int b = a; b > 0 && s[b - 1] > s[b]; b--) {
                double t = s[b];
                s[b] = s[b - 1];
                s[b - 1] = t;
            }
        double med = reps % 2 ? s[reps / 2] : (s[reps / 2 - 1] + s[reps / 2]) / 2;
        double acc = 80 + 10 * qb_rng_uniform_d(&base_rng), fp32_ms = base_ms * 2;
        fprintf(res, "%016llx,%s,%s,tensor,minmax,none,uniform,%d,8,ref,%s,1,0,latency,1,ok,,"
                     "%.4f,90.0,%.4f,%.4f,%.4f,99.0,0.001,100000,4.0,%.9g,%.9g,%.9g,%.9g,%d,"
                     "%.9g,%.9g,0.1,1.0,ok\n",
                (unsigned long long)fnv1a(ident), model, scheme, wbits, pl, acc, 90 - acc,
                90 - acc - 0.3, 90 - acc + 0.3, med, med * 0.01, s[0], s[reps - 1], reps,
                1000 / med, fp32_ms / med);
        for (int r = 0; r < reps; r++)
            fprintf(smp, "%016llx,%d,%.9g\n", (unsigned long long)fnv1a(ident), r, lat[r]);
    }
    int bad = fclose(meta) | fclose(res) | fclose(smp);
    return bad ? qb_error(QB_ERR_IO, "%s: write failed", dir) : QB_OK;
}

/* Runs `self args...` quietly; returns its exit status, its wall time and
 * its CPU time (user + system, with the gnuplot processes it waited for):
 * on a shared machine the wall time also counts other people's work. */
static int timed(const char *self, char *const args[], double *seconds, double *cpu)
{
    fflush(stdout); /* or the child repeats what is buffered */
    double t0 = qb_now();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout)) _exit(126);
        execv(self, args);
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR) return -1;
    *seconds = qb_now() - t0;
    *cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int qb_cmd_bench_reports(int argc, char **argv)
{
    int cells = 100000, reps = 5, keep = 0;
    const qb_opt opts[] = {
        {"--cells", QB_OPT_INT, &cells, "N", "cells per run (default 100000)"},
        {"--reps", QB_OPT_INT, &reps, "R", "timed repetitions per cell (default 5)"},
        {"--keep", QB_OPT_FLAG, &keep, NULL, "keep the generated runs"},
    };
    const char *pos[1];
    qb_args a = {pos, 0, 0, 0};
    qb_status s = qb_args_parse("bench-reports", argc, argv, opts, 3, &a);
    if (s != QB_OK) return qb_cmd_fail("bench-reports", s);
    if (a.help) {
        qb_args_usage(stdout, "bench-reports", "[flags]\nTimes compare and check on two big runs.",
                      opts, 3);
        return 0;
    }
    if (cells < 1 || reps < 1 || reps > 64)
        return qb_cmd_fail("bench-reports", qb_error(QB_ERR_ARG, "qbench bench-reports: --cells "
                           "must be 1 or more and --reps 1 to 64"));
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return qb_cmd_fail("bench-reports", qb_error(QB_ERR_IO, "cannot find this binary"));
    self[n] = '\0';
    const char *tmp = getenv("TMPDIR");
    char root[4096];
    snprintf(root, sizeof root, "%s/qbench-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) return qb_cmd_fail("bench-reports", qb_error(QB_ERR_IO, "%s: %s", root, strerror(errno)));
    char base[4200], cur[4200], out[4200];
    snprintf(base, sizeof base, "%s/base", root);
    snprintf(cur, sizeof cur, "%s/cur", root);
    snprintf(out, sizeof out, "%s/out", root);
    double t0 = qb_now();
    if ((s = write_run(base, cells, reps, 1, 0)) != QB_OK || (s = write_run(cur, cells, reps, 2, 1)) != QB_OK)
        return qb_cmd_fail("bench-reports", s);
    printf("generated two runs of %d cells x %d repetitions in %.2f s (%s)\n", cells, reps,
           qb_now() - t0, root);
    char *check_args[] = {self, "check", base, cur, "-o", out, NULL};
    char *compare_args[] = {self, "compare", base, cur, "-o", out, NULL};
    double tc = 0, tm = 0, cc = 0, cm = 0;
    if (mkdir(out, 0755) != 0) return qb_cmd_fail("bench-reports", qb_error(QB_ERR_IO, "%s: %s", out, strerror(errno)));
    int rc_check = timed(self, check_args, &tc, &cc), rc_compare = timed(self, compare_args, &tm, &cm);
    double load[1] = {0};
    getloadavg(load, 1);
    printf("qbench check:   %.3f s wall, %.3f s CPU (exit %d: the 1%% of cells made 20%% slower "
           "must fail it)\n", tc, cc, rc_check);
    printf("qbench compare: %.3f s wall, %.3f s CPU (exit %d)\n", tm, cm, rc_compare);
    printf("target: each under 2 s on two runs of 100,000 cells; wall / target: check %.2f, "
           "compare %.2f (load average %.1f on %ld CPUs)\n", tc / 2, tm / 2, load[0],
           sysconf(_SC_NPROCESSORS_ONLN));
    if (!keep) {
        char cmd[4300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        if (system(cmd) != 0) fprintf(stderr, "bench-reports: could not remove %s\n", root);
    }
    return rc_check == 1 && (rc_compare == 0 || rc_compare == 2) ? 0 : 3;
}
