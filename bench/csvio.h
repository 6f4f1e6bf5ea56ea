/* CSV lines and tables through libcsv, as docs/csv-schema.md fixes them:
 * RFC 4180, fields quoted only when they hold a comma, quote or newline,
 * "\n" line ends, empty field = not measured.
 *
 * Reading keeps the byte offset where each record ends, so a file cut by a
 * crash in the middle of a record can be repaired by truncating it to its
 * last complete record (the run folder does this on --resume). */
#ifndef QB_CSVIO_H
#define QB_CSVIO_H

#include <stddef.h>
#include "status.h"

/* A line being built: fields are appended, then qb_csv_end adds "\n". */
typedef struct {
    char *buf;
    size_t len, cap;
    int nfields;
    int failed;      /* an allocation failed; the line is unusable */
} qb_csv_line;

void qb_csv_line_reset(qb_csv_line *l);
void qb_csv_line_free(qb_csv_line *l);
void qb_csv_str(qb_csv_line *l, const char *s);       /* NULL = empty */
void qb_csv_int(qb_csv_line *l, long long v, int present);
void qb_csv_num(qb_csv_line *l, double v);            /* NAN/inf = empty; %.9g */
void qb_csv_end(qb_csv_line *l);
qb_status qb_csv_line_status(const qb_csv_line *l);

typedef struct {
    char **f;        /* fields, NUL-terminated */
    int n;
    int line;        /* line number where the record starts (1-based) */
    size_t end;      /* byte offset just past its terminating newline */
} qb_csv_record;

typedef struct {
    qb_csv_record *rec; /* rec[0] is the header */
    int n;
    size_t complete_bytes; /* bytes up to the end of the last complete record */
    size_t file_bytes;
    int partial;        /* bytes after the last complete record (cut by a crash) */
} qb_csv_records;

/* Reads a whole file. Malformed CSV or a record whose field count differs
 * from the header's is QB_ERR_FORMAT naming path:line. A partial last
 * record (no final newline) is not an error: it is left out and `partial`
 * is set. A missing file is QB_ERR_IO. */
qb_status qb_csv_read_records(const char *path, qb_csv_records *t);
void qb_csv_records_free(qb_csv_records *t);
/* Column index of `name` in the header, or -1. */
int qb_csv_records_col(const qb_csv_records *t, const char *name);
/* Field of data row r (1-based: rec[r]) in column c, "" if c < 0. */
const char *qb_csv_records_get(const qb_csv_records *t, int r, int c);

#endif
