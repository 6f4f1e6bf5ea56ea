/* The real thing: `qbench sweep` on a real (quickly trained) model, killed
 * with SIGKILL at several points, then `qbench sweep --resume` until it
 * finishes. The CSV must parse after every kill, and the finished run must
 * hold exactly the cells --dry-run lists, each once. A resume with another
 * spec is refused and changes nothing. */
#include "qb_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_workloads.h"
#include "csvio.h"
#include "strset.h"

#define FLAGS "--grids none --models mlp --schemes uniform-sym,binary --wbits 8,1 --min-time 0 --repetitions 3 --warmup 1"

/* Starts `qbench ARGS` in the background; returns its pid. */
static pid_t spawn(const char *args)
{
    const char *bin = getenv("QBENCH_BIN");
    char *cmd;
    assert_true(asprintf(&cmd, "exec '%s' %s >/dev/null 2>&1", bin && *bin ? bin : "./qbench", args) > 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    free(cmd);
    return pid;
}

static void test_kill_a_real_sweep_and_resume(void **state)
{
    (void)state;
    char *dir = qb_test_tmpdir(), models[600], results[600], latest[700], run[1100];
    snprintf(models, sizeof models, "%s/models", dir);
    snprintf(results, sizeof results, "%s/results", dir);
    snprintf(latest, sizeof latest, "%s/latest", results);
    assert_int_equal(mkdir(models, 0755), 0);
    char *out = NULL;
    int rc = qb_test_run_qbench(&out, "train mlp --epochs 1 --limit 2000 --seed 1 --quiet -o '%s/mlp.safetensors'",
                                models);
    if (rc != 0) fail_msg("training the test model failed: %s", out ? out : "");
    free(out);
    setenv("QBENCH_MODELS", models, 1);

    /* the cells the run must end with */
    rc = qb_test_run_qbench(&out, "sweep --dry-run " FLAGS "%s", "");
    assert_int_equal(rc, 0);
    qb_strset want = {0};
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (line[0] != '#' && strncmp(line, "cell_id", 7) != 0) {
            line[16] = '\0';
            assert_int_equal(qb_strset_add(&want, line, NULL), QB_OK);
        }
    free(out);
    assert_int_equal((int)want.n, 3 * 2 * 2);

    /* kill points: when results.csv has reached `rows` rows, `ms` later */
    const struct { int rows, ms; } kills[] = {{0, 0}, {1, 0}, {3, 5}, {5, 17}, {7, 1}, {9, 31}};
    char args[1400];
    int mid_run = 0;
    for (size_t k = 0; k < sizeof kills / sizeof kills[0]; k++) {
        if (k == 0) snprintf(args, sizeof args, "sweep " FLAGS " --out '%s' --quiet", results);
        else snprintf(args, sizeof args, "sweep --resume '%s' --quiet", run);
        pid_t pid = spawn(args);
        if (k == 0) {
            char meta[800];
            snprintf(meta, sizeof meta, "%s/meta.csv", latest);
            for (int i = 0; i < 20000 && access(meta, F_OK) != 0; i++) tw_sleep_ms(1);
            assert_int_equal(access(meta, F_OK), 0);
            char target[300];
            ssize_t n = readlink(latest, target, sizeof target - 1);
            assert_true(n > 0);
            target[n] = '\0';
            snprintf(run, sizeof run, "%s/%s", results, target);
        }
        char rp[1200];
        snprintf(rp, sizeof rp, "%s/results.csv", run);
        int rows = 0, alive = 1;
        while (alive && rows < kills[k].rows) {
            qb_csv_records t;
            if (qb_csv_read_records(rp, &t) == QB_OK) {
                rows = t.n - 1;
                qb_csv_records_free(&t);
            }
            alive = waitpid(pid, NULL, WNOHANG) == 0;
            tw_sleep_ms(2);
        }
        if (!alive) break; /* it finished first: nothing left to kill */
        tw_sleep_ms(kills[k].ms);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        tw_expect_run_parses(run);
        qb_csv_records t;
        if (qb_csv_read_records(rp, &t) == QB_OK) {
            mid_run += t.n - 1 > 0 && t.n - 1 < (int)want.n;
            qb_csv_records_free(&t);
        }
    }
    assert_true(mid_run > 0);
    /* the run's own spec (from meta.csv) finishes it */
    rc = qb_test_run_qbench(&out, "sweep --resume '%s'", run);
    if (rc != 0) fail_msg("resume: %s", out ? out : "");
    free(out);

    char path[1200];
    snprintf(path, sizeof path, "%s/results.csv", run);
    qb_csv_records r;
    assert_int_equal(qb_csv_read_records(path, &r), QB_OK);
    assert_int_equal(r.n - 1, (int)want.n);
    qb_strset seen = {0};
    int st = qb_csv_records_col(&r, "status");
    for (int i = 1; i < r.n; i++) {
        int added;
        assert_int_equal(qb_strset_add(&seen, r.rec[i].f[0], &added), QB_OK);
        if (!added) fail_msg("cell %s is in results.csv twice", r.rec[i].f[0]);
        assert_true(qb_strset_has(&want, r.rec[i].f[0]));
        assert_string_equal(qb_csv_records_get(&r, i, st), "ok");
    }
    qb_csv_records_free(&r);

    /* another spec is refused, and nothing changes */
    size_t l0, l1;
    char *before = qb_test_read_file(path, &l0);
    rc = qb_test_run_qbench(&out, "sweep --resume '%s' --batch 32", run);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "made from another spec"));
    free(out);
    char *after = qb_test_read_file(path, &l1);
    assert_int_equal(l0, l1);
    assert_memory_equal(before, after, l0);
    free(before);
    free(after);
    /* an output folder that cannot be made: exit 2, naming the flag */
    rc = qb_test_run_qbench(&out, "sweep " FLAGS " --out /dev/null/results%s", "");
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "--out /dev/null/results: /dev/null is not a folder"));
    free(out);
    unsetenv("QBENCH_MODELS");
    qb_strset_free(&want);
    qb_strset_free(&seen);
    qb_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_a_real_sweep_and_resume),
    };
    qb_test_apply_filter();
    return cmocka_run_group_tests_name("sweep_kill", tests, NULL, NULL);
}
