/* Run-folder fixtures (see run_fixture.h). */
#include "run_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csvread.h"
#include "qb_test.h"

char *qb_fixture_copy(const char *name)
{
    char *tmp = qb_test_tmpdir(), *src = qb_test_repo_path("tests/data"), *cmd, *copy;
    if (!tmp || !src) return NULL;
    if (asprintf(&cmd, "cp -r '%s/%s' '%s/'", src, name, tmp) < 0) return NULL;
    int rc = system(cmd);
    free(cmd);
    free(src);
    if (rc != 0 || asprintf(&copy, "%s/%s", tmp, name) < 0) return NULL;
    free(tmp);
    return copy;
}

char *qb_fixture_root(const char *copy)
{
    char *root = strdup(copy), *slash = strrchr(root, '/');
    if (slash) *slash = '\0';
    return root;
}

typedef enum { EDIT_SCALE, EDIT_SET, EDIT_DROP } edit_kind;

/* Rewrites FILE row by row, applying the edit to matching rows. */
static int edit(const char *dir, const char *file, const char *cell_id, const char *column,
                edit_kind kind, double factor, const char *value)
{
    char *path;
    if (asprintf(&path, "%s/%s", dir, file) < 0) return -1;
    qb_csv_table t;
    if (qb_csv_read(path, &t) != QB_OK) {
        fprintf(stderr, "fixture: %s\n", qb_last_error());
        free(path);
        return -1;
    }
    int id_col = qb_csv_column(&t, "cell_id");
    int col = column ? qb_csv_column(&t, column) : -1;
    FILE *f = fopen(path, "w");
    int rc = (id_col < 0 || (column && col < 0) || !f) ? -1 : 0;
    for (size_t r = 0; f && rc == 0 && r <= t.nrows; r++) {
        int match = r > 0 && (!cell_id || strcmp(qb_csv_get(&t, r - 1, id_col), cell_id) == 0);
        if (match && kind == EDIT_DROP) continue;
        for (int c = 0; c < t.ncols; c++) {
            const char *v = r == 0 ? t.header[c] : qb_csv_get(&t, r - 1, c);
            char buf[64];
            if (match && c == col && kind == EDIT_SET) v = value;
            if (match && c == col && kind == EDIT_SCALE && *v) {
                snprintf(buf, sizeof buf, "%.9g", strtod(v, NULL) * factor);
                v = buf;
            }
            qb_csv_put(f, v, c == t.ncols - 1);
        }
    }
    if (f && fclose(f) != 0) rc = -1;
    qb_csv_free(&t);
    free(path);
    return rc;
}

int qb_fixture_scale(const char *dir, const char *file, const char *cell_id,
                     const char *column, double factor)
{
    return edit(dir, file, cell_id, column, EDIT_SCALE, factor, NULL);
}

int qb_fixture_set(const char *dir, const char *file, const char *cell_id,
                   const char *column, const char *value)
{
    return edit(dir, file, cell_id, column, EDIT_SET, 0, value);
}

int qb_fixture_drop(const char *dir, const char *file, const char *cell_id)
{
    return edit(dir, file, cell_id, NULL, EDIT_DROP, 0, NULL);
}

int qb_fixture_write(const char *dir, const char *file, const char *text)
{
    char *path;
    if (asprintf(&path, "%s/%s", dir, file) < 0) return -1;
    FILE *f = fopen(path, "w");
    free(path);
    if (!f) return -1;
    fputs(text, f);
    return fclose(f) == 0 ? 0 : -1;
}

void qb_fixture_slow_down(const char *dir, const char *cell, double factor)
{
    assert_int_equal(qb_fixture_scale(dir, "samples.csv", cell, "latency_ms", factor), 0);
    static const char *const cols[] = {"latency_ms_median", "latency_ms_mad", "latency_ms_ci_low",
                                       "latency_ms_ci_high"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(qb_fixture_scale(dir, "results.csv", cell, cols[i], factor), 0);
    assert_int_equal(qb_fixture_scale(dir, "results.csv", cell, "speedup", 1 / factor), 0);
}

void qb_fixture_lose_images(const char *dir, const char *cell, int n)
{
    char *path;
    assert_true(asprintf(&path, "%s/outcomes.csv", dir) > 0);
    qb_csv_table t;
    assert_int_equal(qb_csv_read(path, &t), QB_OK);
    int id_col = qb_csv_column(&t, "cell_id"), hex_col = qb_csv_column(&t, "correct_hex");
    char *hex = NULL;
    for (size_t i = 0; i < t.nrows && !hex; i++)
        if (strcmp(qb_csv_get(&t, i, id_col), cell) == 0) hex = strdup(qb_csv_get(&t, i, hex_col));
    qb_csv_free(&t);
    assert_non_null(hex);
    for (size_t k = 0; hex[k] && n > 0; k += 2) {
        unsigned v;
        assert_int_equal(sscanf(hex + k, "%2x", &v), 1);
        for (int b = 0; b < 8 && n > 0; b++)
            if (v >> b & 1) {
                v &= ~(1u << b);
                n--;
            }
        char two[3];
        snprintf(two, sizeof two, "%02x", v);
        hex[k] = two[0];
        hex[k + 1] = two[1];
    }
    assert_int_equal(qb_fixture_set(dir, "outcomes.csv", cell, "correct_hex", hex), 0);
    free(hex);
    free(path);
}

void qb_fixture_set_date(const char *dir, const char *date)
{
    char *path;
    assert_true(asprintf(&path, "%s/meta.csv", dir) > 0);
    qb_csv_table t;
    assert_int_equal(qb_csv_read(path, &t), QB_OK);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("key,value\n", f);
    for (size_t i = 0; i < t.nrows; i++) {
        const char *key = qb_csv_get(&t, i, 0);
        qb_csv_put(f, key, 0);
        qb_csv_put(f, strcmp(key, "date") == 0 ? date : qb_csv_get(&t, i, 1), 1);
    }
    fclose(f);
    qb_csv_free(&t);
    free(path);
}
