/* Test scaffolding (see qb_test.h). */
#include "qb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

void qb_test_apply_filter(void)
{
    const char *f = getenv("QB_TEST_FILTER");
    if (f && *f) cmocka_set_test_filter(f);
}

char *qb_test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *path;
    if (asprintf(&path, "%s/qbench-test-XXXXXX", base && *base ? base : "/tmp") < 0) return NULL;
    if (!mkdtemp(path)) {
        free(path);
        return NULL;
    }
    return path;
}

void qb_test_rmtree(const char *dir)
{
    if (!dir || strlen(dir) < 8) return;
    char *cmd;
    if (asprintf(&cmd, "rm -rf '%s'", dir) < 0) return;
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
    free(cmd);
}

char *qb_test_repo_path(const char *rel)
{
    const char *root = getenv("QBENCH_ROOT");
    char *path;
    if (asprintf(&path, "%s/%s", root && *root ? root : ".", rel) < 0) return NULL;
    return path;
}

char *qb_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) return NULL;
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

int qb_test_run_qbench(char **output, const char *fmt, ...)
{
    const char *bin = getenv("QBENCH_BIN");
    if (!bin || !*bin) bin = "./qbench";
    char *args, *cmd;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&args, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    if (asprintf(&cmd, "'%s' %s 2>&1", bin, args) < 0) {
        free(args);
        return -1;
    }
    free(args);
    FILE *p = popen(cmd, "r");
    free(cmd);
    if (!p) return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += r;
        if (cap - len - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    if (buf) buf[len] = '\0';
    int status = pclose(p);
    if (output) *output = buf; else free(buf);
    if (status == -1 || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}
