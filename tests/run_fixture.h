/* Run-folder fixtures for the report, compare and check tests: copy the
 * committed tests/data/run-small into a temporary folder, then change it the
 * way a test needs (slow a cell down, drop a row, bump the schema). Edits go
 * through libcsv, so quoting survives them. */
#ifndef QB_RUN_FIXTURE_H
#define QB_RUN_FIXTURE_H

/* A fresh copy of tests/data/NAME in a new temporary folder; returns the
 * copy's path (malloc'ed; remove with qb_test_rmtree on its parent, which
 * qb_fixture_root gives). */
char *qb_fixture_copy(const char *name);
/* The temporary folder that holds a copy (malloc'ed). */
char *qb_fixture_root(const char *copy);

/* Multiplies numeric `column` of every row of FILE whose cell_id is
 * `cell_id` (all rows when NULL) by `factor`; empty fields stay empty.
 * Returns 0, or -1 on failure. */
int qb_fixture_scale(const char *dir, const char *file, const char *cell_id,
                     const char *column, double factor);
/* Sets `column` to `value` in rows of FILE with this cell_id (NULL: all). */
int qb_fixture_set(const char *dir, const char *file, const char *cell_id,
                   const char *column, const char *value);
/* Removes the rows of FILE with this cell_id. */
int qb_fixture_drop(const char *dir, const char *file, const char *cell_id);
/* Makes a cell `factor` times slower, as a real slowdown shows: every
 * sample, the latency summary columns and its speedup. */
void qb_fixture_slow_down(const char *dir, const char *cell_id, double factor);
/* Clears the first `n` right answers of a cell in outcomes.csv. */
void qb_fixture_lose_images(const char *dir, const char *cell_id, int n);
/* Sets meta.csv's date (runs are ordered by it). */
void qb_fixture_set_date(const char *dir, const char *date);

/* Replaces FILE's contents. */
int qb_fixture_write(const char *dir, const char *file, const char *text);

#endif
