/* Reads one CSV file (RFC 4180, header row first) with libcsv into memory:
 * every field as a NUL-terminated string and every record with the line it
 * starts on, so that later checks can say "results.csv:12: ...". Blank
 * lines are skipped; a record with a different number of fields than the
 * header, or broken quoting, is an error naming the file and line.
 * Errors follow common/status.h. Also the one helper qbench needs to write
 * the small CSV tables it derives. */
#ifndef QB_CSVREAD_H
#define QB_CSVREAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "status.h"

typedef struct {
    char *path;        /* as given, for messages */
    int ncols;
    char **header;     /* ncols column names (point into text) */
    size_t nrows;      /* data records, header excluded */
    size_t *line;      /* nrows: 1-based line each record starts on */
    size_t *field;     /* nrows * ncols offsets into text */
    char *text;        /* every field, NUL-terminated, one after another */
    size_t text_len;
} qb_csv_table;

/* Reads `path`. A missing file is QB_ERR_IO, a malformed one
 * QB_ERR_FORMAT. On failure `out` is left empty (safe to free). */
qb_status qb_csv_read(const char *path, qb_csv_table *out);
void qb_csv_free(qb_csv_table *t);

/* Index of the column named `name`, or -1 if the file has none. */
int qb_csv_column(const qb_csv_table *t, const char *name);

/* The field at (row, col); "" when col is -1 (an absent optional column). */
const char *qb_csv_get(const qb_csv_table *t, size_t row, int col);

/* Typed fields. An empty field (or col -1) means "not measured": NaN for
 * doubles, `missing` for integers. Anything else that does not parse is
 * QB_ERR_FORMAT with "FILE:LINE: column NAME: expected ..., got '...'". */
qb_status qb_csv_double(const qb_csv_table *t, size_t row, int col, double *out);
qb_status qb_csv_long(const qb_csv_table *t, size_t row, int col, long long missing,
                      long long *out);

/* Writes one field for a CSV qbench derives (compare.csv, history.csv):
 * quoted only when it holds a comma, quote or line break. */
void qb_csv_put(FILE *f, const char *s, int last);

/* Records "FILE:LINE: message" for a record and returns QB_ERR_FORMAT. */
qb_status qb_csv_error(const qb_csv_table *t, size_t row, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
