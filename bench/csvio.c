/* libcsv line writer and table reader (see csvio.h). */
#include "csvio.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void grow(qb_csv_line *l, size_t extra)
{
    if (l->failed || l->len + extra + 1 <= l->cap) return;
    size_t cap = l->cap ? l->cap : 256;
    while (cap < l->len + extra + 1) cap *= 2;
    char *b = realloc(l->buf, cap);
    if (!b) {
        l->failed = 1;
        return;
    }
    l->buf = b;
    l->cap = cap;
}

void qb_csv_line_reset(qb_csv_line *l)
{
    l->len = 0;
    l->nfields = 0;
    l->failed = 0;
    if (l->buf) l->buf[0] = '\0';
}

void qb_csv_line_free(qb_csv_line *l)
{
    free(l->buf);
    memset(l, 0, sizeof *l);
}

static void sep(qb_csv_line *l)
{
    if (l->nfields++ == 0) return;
    grow(l, 1);
    if (!l->failed) l->buf[l->len++] = ',';
}

void qb_csv_str(qb_csv_line *l, const char *s)
{
    sep(l);
    if (!s || !*s) {
        grow(l, 0);
        if (!l->failed) l->buf[l->len] = '\0';
        return;
    }
    size_t n = strlen(s);
    /* quoted when RFC 4180 needs it, and when libcsv would trim spaces */
    if (strpbrk(s, ",\"\r\n") || s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t') {
        size_t need = csv_write(NULL, 0, s, n);
        grow(l, need);
        if (l->failed) return;
        l->len += csv_write(l->buf + l->len, need, s, n);
    } else {
        grow(l, n);
        if (l->failed) return;
        memcpy(l->buf + l->len, s, n);
        l->len += n;
    }
    l->buf[l->len] = '\0';
}

void qb_csv_int(qb_csv_line *l, long long v, int present)
{
    char b[32];
    if (present) snprintf(b, sizeof b, "%lld", v);
    qb_csv_str(l, present ? b : NULL);
}

void qb_csv_num(qb_csv_line *l, double v)
{
    char b[40];
    if (isfinite(v)) snprintf(b, sizeof b, "%.9g", v);
    qb_csv_str(l, isfinite(v) ? b : NULL);
}

void qb_csv_end(qb_csv_line *l)
{
    grow(l, 1);
    if (l->failed) return;
    l->buf[l->len++] = '\n';
    l->buf[l->len] = '\0';
}

qb_status qb_csv_line_status(const qb_csv_line *l)
{
    return l->failed ? qb_error(QB_ERR_NOMEM, "out of memory formatting a CSV line") : QB_OK;
}

/* ---- reading ---- */

typedef struct {
    qb_csv_records *t;
    char **fields;
    int nf, capf;
    int records_done; /* records completed while parsing the current chunk */
    int oom;
    int line;         /* line where the current record started */
} reader;

static void on_field(void *s, size_t len, void *data)
{
    reader *r = data;
    if (r->oom) return;
    if (r->nf == r->capf) {
        int cap = r->capf ? r->capf * 2 : 32;
        char **f = realloc(r->fields, (size_t)cap * sizeof *f);
        if (!f) { r->oom = 1; return; }
        r->fields = f;
        r->capf = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) { r->oom = 1; return; }
    if (len) memcpy(copy, s, len);
    copy[len] = '\0';
    r->fields[r->nf++] = copy;
}

static void on_record(int c, void *data)
{
    (void)c;
    reader *r = data;
    if (r->oom) return;
    qb_csv_records *t = r->t;
    qb_csv_record *rec = realloc(t->rec, ((size_t)t->n + 1) * sizeof *rec);
    if (!rec) { r->oom = 1; return; }
    t->rec = rec;
    rec[t->n].f = r->fields;
    rec[t->n].n = r->nf;
    rec[t->n].line = r->line;
    rec[t->n].end = 0;
    t->n++;
    r->fields = NULL;
    r->nf = r->capf = 0;
    r->records_done++;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *b = realloc(buf, cap * 2);
            if (!b) { free(buf); buf = NULL; break; }
            buf = b;
            cap *= 2;
        }
    }
    if (buf && ferror(f)) { free(buf); buf = NULL; }
    fclose(f);
    *len = n;
    return buf;
}

qb_status qb_csv_read_records(const char *path, qb_csv_records *t)
{
    memset(t, 0, sizeof *t);
    size_t len;
    errno = 0;
    char *buf = slurp(path, &len);
    if (!buf)
        return qb_error(errno == ENOMEM ? QB_ERR_NOMEM : QB_ERR_IO, "%s: %s", path,
                        errno ? strerror(errno) : "read error");
    t->file_bytes = len;
    struct csv_parser p;
    csv_init(&p, CSV_STRICT | CSV_APPEND_NULL);
    reader r = {t, NULL, 0, 0, 0, 0, 1};
    qb_status s = QB_OK;
    int line = 1;
    /* Feed one physical line at a time: a record that ends inside a chunk
     * ends at the chunk's newline, which gives its byte offset. */
    for (size_t off = 0; off < len;) {
        const char *nl = memchr(buf + off, '\n', len - off);
        size_t chunk = nl ? (size_t)(nl - (buf + off)) + 1 : len - off;
        if (!nl) break; /* no newline: an incomplete last record */
        r.records_done = 0;
        if (csv_parse(&p, buf + off, chunk, on_field, on_record, &r) != chunk) {
            s = qb_error(QB_ERR_FORMAT, "%s:%d: malformed CSV (%s)", path, line,
                         csv_strerror(csv_error(&p)));
            break;
        }
        if (r.oom) {
            s = qb_error(QB_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        off += chunk;
        line++;
        if (r.records_done) {
            t->rec[t->n - 1].end = off;
            t->complete_bytes = off;
            r.line = line;
        }
    }
    for (int i = 0; i < r.nf; i++) free(r.fields[i]);
    free(r.fields);
    csv_free(&p);
    free(buf);
    t->partial = s == QB_OK && t->complete_bytes < len;
    for (int i = 1; s == QB_OK && i < t->n; i++)
        if (t->rec[i].n != t->rec[0].n)
            s = qb_error(QB_ERR_FORMAT, "%s:%d: %d fields where the header has %d", path,
                         t->rec[i].line, t->rec[i].n, t->rec[0].n);
    if (s != QB_OK) qb_csv_records_free(t);
    return s;
}

void qb_csv_records_free(qb_csv_records *t)
{
    for (int i = 0; i < t->n; i++) {
        for (int j = 0; j < t->rec[i].n; j++) free(t->rec[i].f[j]);
        free(t->rec[i].f);
    }
    free(t->rec);
    memset(t, 0, sizeof *t);
}

int qb_csv_records_col(const qb_csv_records *t, const char *name)
{
    if (t->n == 0) return -1;
    for (int j = 0; j < t->rec[0].n; j++)
        if (strcmp(t->rec[0].f[j], name) == 0) return j;
    return -1;
}

const char *qb_csv_records_get(const qb_csv_records *t, int r, int c)
{
    if (r < 0 || r >= t->n || c < 0 || c >= t->rec[r].n) return "";
    return t->rec[r].f[c];
}
