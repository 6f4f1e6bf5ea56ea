/* Shared scaffolding for qbench's cmocka tests: the main() wrapper that
 * honours QB_TEST_FILTER (make test F=pattern), and small helpers for
 * temporary folders and running the qbench binary. */
#ifndef QB_TEST_H
#define QB_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Runs a cmocka group named after the file, filtered by $QB_TEST_FILTER. */
#define QB_TEST_MAIN(tests) \
    int main(void) { qb_test_apply_filter(); return cmocka_run_group_tests_name(__FILE__, tests, NULL, NULL); }

void qb_test_apply_filter(void);

/* A fresh temporary directory (removed by qb_test_rmtree). Returned string
 * is malloc'ed. */
char *qb_test_tmpdir(void);
void qb_test_rmtree(const char *dir);

/* Path inside the repository root ($QBENCH_ROOT or "."); malloc'ed. */
char *qb_test_repo_path(const char *rel);

/* Runs `$QBENCH_BIN args...` (a shell command line appended to the binary
 * path), capturing stdout+stderr into *output (malloc'ed, may be NULL).
 * Returns the exit status, or -1 if it did not exit normally. */
int qb_test_run_qbench(char **output, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reads a whole file (malloc'ed, NUL-terminated); NULL if missing. */
char *qb_test_read_file(const char *path, size_t *len);

#endif
