/* CSV files into memory with libcsv (see csvread.h). */
#include "csvread.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parser state shared with libcsv's callbacks. Line numbers are counted from
 * the callbacks: every unquoted line end is reported (CSV_REPALL_NL) and line
 * ends inside quoted fields are counted in the field text. */
typedef struct {
    qb_csv_table *t;
    size_t text_cap, field_cap, line_cap;
    size_t cur_line;        /* physical line the parser has reached */
    size_t rec_line;        /* line the current record started on */
    int rec_fields;         /* fields seen in the current record */
    size_t rec_first;       /* index in t->field of the record's first field */
    int header_done;
    size_t *header_off;     /* header names as offsets (text may move) */
    qb_status err;          /* first error; parsing stops at the next chunk */
} reader;

static int grow(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 1024;
    while (n < need) n *= 2;
    void *p = realloc(*buf, n * elem);
    if (!p) return -1;
    *buf = p;
    *cap = n;
    return 0;
}

static void on_field(void *data, size_t len, void *ctx)
{
    reader *r = ctx;
    qb_csv_table *t = r->t;
    if (r->err) return;
    if (r->rec_fields == 0) r->rec_line = r->cur_line;
    size_t nfield = r->rec_first + (size_t)r->rec_fields + 1;
    if (grow((void **)&t->text, &r->text_cap, t->text_len + len + 1, 1) ||
        grow((void **)&t->field, &r->field_cap, nfield, sizeof *t->field)) {
        r->err = qb_error(QB_ERR_NOMEM, "%s: out of memory reading the file", t->path);
        return;
    }
    t->field[nfield - 1] = t->text_len;
    if (len) memcpy(t->text + t->text_len, data, len);
    t->text[t->text_len + len] = '\0';
    t->text_len += len + 1;
    for (const char *p = data, *end = p + len; (p = memchr(p, '\n', (size_t)(end - p))); p++)
        r->cur_line++;
    r->rec_fields++;
}

static void end_header(reader *r, int fields)
{
    qb_csv_table *t = r->t;
    t->ncols = fields;
    r->header_off = malloc((size_t)t->ncols * sizeof *r->header_off);
    if (!r->header_off) {
        r->err = qb_error(QB_ERR_NOMEM, "%s: out of memory", t->path);
        return;
    }
    for (int i = 0; i < t->ncols; i++) {
        r->header_off[i] = t->field[i];
        for (int j = 0; j < i; j++)
            if (strcmp(t->text + t->field[i], t->text + t->field[j]) == 0) {
                r->err = qb_error(QB_ERR_FORMAT, "%s:%zu: column '%s' appears twice in the header",
                                  t->path, r->rec_line, t->text + t->field[i]);
                return;
            }
    }
    r->header_done = 1;
    r->rec_first = 0; /* data records reuse the header's slots in t->field */
}

static void on_record(int c, void *ctx)
{
    reader *r = ctx;
    qb_csv_table *t = r->t;
    if (r->err) return;
    int fields = r->rec_fields;
    if (c == '\n') r->cur_line++;
    if (fields == 0) return; /* a blank line, or the '\n' of a "\r\n" */
    r->rec_fields = 0;
    if (!r->header_done) {
        end_header(r, fields);
        return;
    }
    if (fields != t->ncols) {
        r->err = qb_error(QB_ERR_FORMAT, "%s:%zu: %d field%s, but the header has %d; "
                          "the file is truncated or was edited by hand",
                          t->path, r->rec_line, fields, fields == 1 ? "" : "s", t->ncols);
        return;
    }
    if (grow((void **)&t->line, &r->line_cap, t->nrows + 1, sizeof *t->line)) {
        r->err = qb_error(QB_ERR_NOMEM, "%s: out of memory", t->path);
        return;
    }
    t->line[t->nrows++] = r->rec_line;
    r->rec_first += (size_t)t->ncols;
}

static size_t line_at(const char *buf, size_t pos)
{
    size_t line = 1;
    for (const char *p = buf, *end = buf + pos; (p = memchr(p, '\n', (size_t)(end - p))); p++)
        line++;
    return line;
}

static qb_status read_all(const char *path, char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return qb_error(QB_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
    size_t cap = 1 << 16, n = 0, got;
    char *b = malloc(cap);
    while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!b) return qb_error(QB_ERR_NOMEM, "%s: out of memory reading the file", path);
    if (bad) {
        free(b);
        return qb_error(QB_ERR_IO, "%s: read error", path);
    }
    *buf = b;
    *len = n;
    return QB_OK;
}

static qb_status parse(reader *r, const char *buf, size_t len)
{
    qb_csv_table *t = r->t;
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL) != 0)
        return qb_error(QB_ERR_NOMEM, "%s: cannot start the CSV parser", t->path);
    size_t off = 0;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) off = 3; /* UTF-8 BOM */
    const size_t chunk = 1 << 20;
    while (off < len && !r->err) {
        size_t n = len - off < chunk ? len - off : chunk;
        size_t done = csv_parse(&p, buf + off, n, on_field, on_record, r);
        if (done != n) {
            r->err = qb_error(QB_ERR_FORMAT, "%s:%zu: malformed CSV (%s): a quote inside an "
                              "unquoted field or text after a closing quote",
                              t->path, line_at(buf, off + done), csv_strerror(csv_error(&p)));
            break;
        }
        off += n;
    }
    if (!r->err && csv_fini(&p, on_field, on_record, r) != 0 && !r->err)
        r->err = qb_error(QB_ERR_FORMAT, "%s:%zu: malformed CSV: a quoted field is not closed "
                          "before the end of the file", t->path,
                          r->rec_fields ? r->rec_line : r->cur_line);
    csv_free(&p);
    return r->err;
}

qb_status qb_csv_read(const char *path, qb_csv_table *out)
{
    memset(out, 0, sizeof *out);
    reader r = {.t = out, .cur_line = 1, .rec_line = 1};
    out->path = strdup(path);
    if (!out->path) return qb_error(QB_ERR_NOMEM, "out of memory");
    char *buf = NULL;
    size_t len = 0;
    qb_status s = read_all(path, &buf, &len);
    if (s != QB_OK) goto fail;
    s = parse(&r, buf, len);
    free(buf);
    if (s != QB_OK) goto fail;
    if (!r.header_done) {
        s = qb_error(QB_ERR_FORMAT, "%s: empty file (no header row); the run folder is "
                     "incomplete", path);
        goto fail;
    }
    out->header = malloc((size_t)out->ncols * sizeof *out->header);
    if (!out->header) {
        s = qb_error(QB_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    for (int i = 0; i < out->ncols; i++) out->header[i] = out->text + r.header_off[i];
    free(r.header_off);
    return QB_OK;
fail:
    free(r.header_off);
    qb_csv_free(out);
    out->path = NULL;
    return s;
}

void qb_csv_free(qb_csv_table *t)
{
    free(t->path);
    free(t->header);
    free(t->line);
    free(t->field);
    free(t->text);
    memset(t, 0, sizeof *t);
}

int qb_csv_column(const qb_csv_table *t, const char *name)
{
    for (int i = 0; i < t->ncols; i++)
        if (strcmp(t->header[i], name) == 0) return i;
    return -1;
}

const char *qb_csv_get(const qb_csv_table *t, size_t row, int col)
{
    if (col < 0) return "";
    return t->text + t->field[row * (size_t)t->ncols + (size_t)col];
}

qb_status qb_csv_error(const qb_csv_table *t, size_t row, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return qb_error(QB_ERR_FORMAT, "%s:%zu: %s", t->path, t->line[row], msg);
}

qb_status qb_csv_double(const qb_csv_table *t, size_t row, int col, double *out)
{
    const char *s = qb_csv_get(t, row, col);
    if (!*s) {
        *out = NAN;
        return QB_OK;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || (errno == ERANGE && fabs(v) > 1))
        return qb_csv_error(t, row, "column %s: expected a number, got '%.40s'",
                            t->header[col], s);
    *out = v;
    return QB_OK;
}

qb_status qb_csv_long(const qb_csv_table *t, size_t row, int col, long long missing,
                      long long *out)
{
    const char *s = qb_csv_get(t, row, col);
    if (!*s) {
        *out = missing;
        return QB_OK;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE)
        return qb_csv_error(t, row, "column %s: expected an integer, got '%.40s'",
                            t->header[col], s);
    *out = v;
    return QB_OK;
}

void qb_csv_put(FILE *f, const char *s, int last)
{
    if (strpbrk(s, ",\"\r\n")) csv_fwrite(f, s, strlen(s));
    else fputs(s, f);
    fputc(last ? '\n' : ',', f);
}
