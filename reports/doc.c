/* Markdown and HTML documents (see doc.h): one vtable per format. */
#include "doc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safefile.h"

typedef struct doc_out doc_out;

/* What a format must do for each kind of block. */
typedef struct {
    const char *ext;
    void (*begin)(FILE *f, const char *title);
    void (*heading)(FILE *f, int level, const char *text);
    void (*para)(FILE *f, const char *text);
    void (*list_begin)(FILE *f);
    void (*bullet)(FILE *f, const char *text);
    void (*list_end)(FILE *f);
    void (*code)(FILE *f, const char *text);
    void (*table_begin)(FILE *f, int ncols, const char *const *head, const char *align);
    void (*row)(FILE *f, int ncols, const char *const *cells, const char *align);
    void (*table_end)(FILE *f);
    void (*image)(FILE *f, const char *dir, const char *rel, const char *caption);
    void (*end)(FILE *f);
    /* Set by formats that lay a table out only once they have seen all of
     * it (aligned columns); rows are then buffered and this replaces
     * table_begin, row and table_end. `cells` holds nrows * ncols. */
    void (*whole_table)(FILE *f, int ncols, const char *const *head, char *const *cells,
                        int nrows, const char *align);
} doc_format;

struct doc_out {
    const doc_format *fmt;
    qb_safefile file;
    FILE *stream; /* a stream we do not own (stdout) instead of a file */
};

/* A table kept whole for formats with whole_table. */
typedef struct {
    char **head, **cells;
    int nrows, cap;
} doc_table;

struct qb_doc {
    char *dir;
    doc_out out[2];
    int nout;
    int in_list, in_table, ncols;
    char align[64];
    doc_table table;
};

static FILE *out_fp(const doc_out *o) { return o->stream ? o->stream : o->file.fp; }

/* ---- Markdown ---- */

static void md_begin(FILE *f, const char *title) { fprintf(f, "# %s\n", title); }
static void md_heading(FILE *f, int level, const char *text)
{
    fprintf(f, "\n%.*s %s\n", level > 6 ? 6 : level, "######", text);
}
static void md_para(FILE *f, const char *text) { fprintf(f, "\n%s\n", text); }
static void md_list_begin(FILE *f) { fputc('\n', f); }
static void md_bullet(FILE *f, const char *text) { fprintf(f, "- %s\n", text); }
static void md_nothing(FILE *f) { (void)f; }
static void md_code(FILE *f, const char *text)
{
    size_t n = strlen(text);
    fprintf(f, "\n```\n%s%s```\n", text, n && text[n - 1] == '\n' ? "" : "\n");
}
static void md_table_begin(FILE *f, int ncols, const char *const *head, const char *align)
{
    fputs("\n|", f);
    for (int i = 0; i < ncols; i++) fprintf(f, " %s |", head[i]);
    fputs("\n|", f);
    for (int i = 0; i < ncols; i++) fputs(align[i] == 'r' ? "---:|" : "---|", f);
    fputc('\n', f);
}
static void md_row(FILE *f, int ncols, const char *const *cells, const char *align)
{
    (void)align;
    fputc('|', f);
    for (int i = 0; i < ncols; i++) fprintf(f, " %s |", cells[i]);
    fputc('\n', f);
}
static void md_image(FILE *f, const char *dir, const char *rel, const char *caption)
{
    (void)dir;
    fprintf(f, "\n![%s](%s)\n", caption, rel);
}

static const doc_format markdown = {
    ".md", md_begin, md_heading, md_para, md_list_begin, md_bullet, md_nothing, md_code,
    md_table_begin, md_row, md_nothing, md_image, md_nothing, NULL,
};

/* ---- HTML ---- */

void qb_doc_escape(FILE *f, const char *s, size_t n)
{
    /* Copies runs of ordinary characters in one go: reports can be large. */
    static const char special[] = "&<>\"\n";
    const char *end = s + n;
    while (s < end) {
        size_t run = strcspn(s, special);
        if (run > (size_t)(end - s)) run = (size_t)(end - s);
        fwrite(s, 1, run, f);
        s += run;
        if (s >= end || !*s) break;
        switch (*s++) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputs("&#10;", f); break;
        }
    }
}


/* Escapes text and turns **bold** and `code` into tags. */
static void html_inline(FILE *f, const char *s)
{
    while (*s) {
        const char *bold = strstr(s, "**"), *code = strchr(s, '`');
        const char *mark = bold && (!code || bold < code) ? bold : code;
        if (!mark) break;
        const char *tag = mark == bold ? "strong" : "code";
        size_t mlen = mark == bold ? 2 : 1;
        const char *close = mark == bold ? strstr(mark + 2, "**") : strchr(mark + 1, '`');
        if (!close) break;
        qb_doc_escape(f, s, (size_t)(mark - s));
        fprintf(f, "<%s>", tag);
        qb_doc_escape(f, mark + mlen, (size_t)(close - mark - (ptrdiff_t)mlen));
        fprintf(f, "</%s>", tag);
        s = close + mlen;
    }
    qb_doc_escape(f, s, strlen(s));
}

static void html_begin(FILE *f, const char *title)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
    qb_doc_escape(f, title, strlen(title));
    fputs("</title>\n<style>\n"
          "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;"
          "color:#222;line-height:1.45}\n"
          "table{border-collapse:collapse;margin:1em 0;font-size:90%}\n"
          "th,td{border:1px solid #ccc;padding:.25em .6em}th{background:#f0f0f0}\n"
          "tr:nth-child(even) td{background:#fafafa}td.r,th.r{text-align:right}\n"
          "code,pre{background:#f4f4f4;border-radius:3px}pre{padding:.6em;overflow-x:auto}\n"
          "strong{color:#a40000}figure{margin:1em 0}img{max-width:100%;border:1px solid #ddd}\n"
          "figcaption{font-size:90%;color:#555}\n"
          "</style>\n</head>\n<body>\n<h1>", f);
    qb_doc_escape(f, title, strlen(title));
    fputs("</h1>\n", f);
}
static void html_heading(FILE *f, int level, const char *text)
{
    level = level > 6 ? 6 : level;
    fprintf(f, "<h%d>", level);
    html_inline(f, text);
    fprintf(f, "</h%d>\n", level);
}
static void html_para(FILE *f, const char *text)
{
    fputs("<p>", f);
    html_inline(f, text);
    fputs("</p>\n", f);
}
static void html_list_begin(FILE *f) { fputs("<ul>\n", f); }
static void html_bullet(FILE *f, const char *text)
{
    fputs("<li>", f);
    html_inline(f, text);
    fputs("</li>\n", f);
}
static void html_list_end(FILE *f) { fputs("</ul>\n", f); }
static void html_code(FILE *f, const char *text)
{
    fputs("<pre>", f);
    qb_doc_escape(f, text, strlen(text));
    fputs("</pre>\n", f);
}
static void html_table_begin(FILE *f, int ncols, const char *const *head, const char *align)
{
    fputs("<table>\n<tr>", f);
    for (int i = 0; i < ncols; i++) {
        fputs(align[i] == 'r' ? "<th class=\"r\">" : "<th>", f);
        html_inline(f, head[i]);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
}
static void html_row(FILE *f, int ncols, const char *const *cells, const char *align)
{
    fputs("<tr>", f);
    for (int i = 0; i < ncols; i++) {
        fputs(align[i] == 'r' ? "<td class=\"r\">" : "<td>", f);
        /* Markdown escapes for '|' are not needed in HTML. */
        char buf[1024];
        size_t n = 0;
        for (const char *s = cells[i]; *s && n + 1 < sizeof buf; s++)
            if (!(s[0] == '\\' && s[1] == '|')) buf[n++] = *s;
        buf[n] = '\0';
        html_inline(f, buf);
        fputs("</td>", f);
    }
    fputs("</tr>\n", f);
}
static void html_table_end(FILE *f) { fputs("</table>\n", f); }

static void base64(FILE *f, const unsigned char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        fputc(tab[v >> 18 & 63], f);
        fputc(tab[v >> 12 & 63], f);
        fputc(i + 1 < n ? tab[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? tab[v & 63] : '=', f);
    }
}

static void html_image(FILE *f, const char *dir, const char *rel, const char *caption)
{
    char *path;
    unsigned char *data = NULL;
    size_t n = 0;
    if (asprintf(&path, "%s/%s", dir, rel) >= 0) {
        FILE *in = fopen(path, "rb");
        if (in && fseek(in, 0, SEEK_END) == 0) {
            long len = ftell(in);
            rewind(in);
            data = len > 0 ? malloc((size_t)len) : NULL;
            if (data && fread(data, 1, (size_t)len, in) == (size_t)len) n = (size_t)len;
        }
        if (in) fclose(in);
        free(path);
    }
    fputs("<figure>", f);
    if (n) {
        fputs("<img alt=\"", f);
        qb_doc_escape(f, caption, strlen(caption));
        fputs("\" src=\"data:image/png;base64,", f);
        base64(f, data, n);
        fputs("\">", f);
    } else {
        fputs("<p><em>(image missing: ", f);
        qb_doc_escape(f, rel, strlen(rel));
        fputs(")</em></p>", f);
    }
    fputs("<figcaption>", f);
    html_inline(f, caption);
    fputs("</figcaption></figure>\n", f);
    free(data);
}
static void html_end(FILE *f) { fputs("</body>\n</html>\n", f); }

static const doc_format html = {
    ".html", html_begin, html_heading, html_para, html_list_begin, html_bullet, html_list_end,
    html_code, html_table_begin, html_row, html_table_end, html_image, html_end, NULL,
};

/* ---- plain text, for terminals ---- */

/* Text without the inline marks (** and `) and Markdown's \| escape. */
static size_t text_plain(const char *s, char *buf, size_t len)
{
    size_t n = 0;
    for (; *s && n + 1 < len; s++) {
        if ((s[0] == '*' && s[1] == '*') || (s[0] == '\\' && s[1] == '|')) {
            if (s[0] == '*') s++;
            continue;
        }
        if (*s != '`') buf[n++] = *s;
    }
    buf[n] = '\0';
    return n;
}
static void text_put(FILE *f, const char *prefix, const char *text, const char *suffix)
{
    char buf[4096];
    text_plain(text, buf, sizeof buf);
    fprintf(f, "%s%s%s", prefix, buf, suffix);
}
static void text_begin(FILE *f, const char *title) { text_put(f, "", title, "\n"); }
static void text_heading(FILE *f, int level, const char *text)
{
    text_put(f, "\n", text, level <= 2 ? "\n" : ":\n");
    if (level <= 2) {
        char buf[4096];
        for (size_t i = text_plain(text, buf, sizeof buf); i > 0; i--) fputc('-', f);
        fputc('\n', f);
    }
}
static void text_para(FILE *f, const char *text) { text_put(f, "", text, "\n"); }
static void text_bullet(FILE *f, const char *text) { text_put(f, "  - ", text, "\n"); }
static void text_code(FILE *f, const char *text) { text_put(f, "", text, "\n"); }
static void text_image(FILE *f, const char *dir, const char *rel, const char *caption)
{
    fprintf(f, "  [plot %s/%s] ", dir, rel);
    text_put(f, "", caption, "\n");
}
static void text_row(FILE *f, int ncols, char *const *cells, const int *width, const char *align)
{
    fputs("  ", f);
    for (int c = 0; c < ncols; c++) {
        char buf[1024];
        text_plain(cells[c], buf, sizeof buf);
        int pad = width[c] - (int)strlen(buf);
        if (align[c] == 'r') fprintf(f, "%*s%s", pad > 0 ? pad : 0, "", buf);
        else fprintf(f, "%s%*s", buf, c + 1 < ncols && pad > 0 ? pad : 0, "");
        fputs(c + 1 < ncols ? "  " : "\n", f);
    }
}
static void text_table(FILE *f, int ncols, const char *const *head, char *const *cells, int nrows,
                       const char *align)
{
    int width[64] = {0};
    char buf[1024];
    for (int c = 0; c < ncols; c++) {
        width[c] = (int)text_plain(head[c], buf, sizeof buf);
        for (int r = 0; r < nrows; r++) {
            int w = (int)text_plain(cells[r * ncols + c], buf, sizeof buf);
            if (w > width[c]) width[c] = w;
        }
    }
    fputc('\n', f);
    text_row(f, ncols, (char *const *)head, width, align);
    for (int r = 0; r < nrows; r++) text_row(f, ncols, cells + r * ncols, width, align);
}

static const doc_format text = {
    ".txt", text_begin, text_heading, text_para, md_nothing, text_bullet, md_nothing, text_code,
    NULL, NULL, NULL, text_image, md_nothing, text_table,
};

/* ---- the document ---- */

qb_status qb_doc_open(qb_doc **out, const char *dir, const char *stem, int formats,
                      const char *title)
{
    qb_doc *d = calloc(1, sizeof *d);
    if (!d || !(d->dir = strdup(dir))) {
        free(d);
        return qb_error(QB_ERR_NOMEM, "out of memory");
    }
    const doc_format *fmts[] = {&markdown, &html};
    for (int i = 0; i < 2; i++) {
        if (!(formats & (i == 0 ? QB_DOC_MD : QB_DOC_HTML))) continue;
        char *path;
        if (asprintf(&path, "%s/%s%s", dir, stem, fmts[i]->ext) < 0) {
            qb_doc_abort(d);
            return qb_error(QB_ERR_NOMEM, "out of memory");
        }
        qb_status s = qb_safefile_open(&d->out[d->nout].file, path);
        free(path);
        if (s != QB_OK) {
            qb_doc_abort(d);
            return s;
        }
        d->out[d->nout].fmt = fmts[i];
        fmts[i]->begin(d->out[d->nout].file.fp, title);
        d->nout++;
    }
    *out = d;
    return QB_OK;
}

qb_status qb_doc_open_stream(qb_doc **out, FILE *stream, const char *dir, const char *title)
{
    qb_doc *d = calloc(1, sizeof *d);
    if (!d || !(d->dir = strdup(dir))) {
        free(d);
        return qb_error(QB_ERR_NOMEM, "out of memory");
    }
    d->out[0].fmt = &text;
    d->out[0].stream = stream;
    d->nout = 1;
    text.begin(stream, title);
    *out = d;
    return QB_OK;
}

static void table_free(doc_table *t, int ncols)
{
    for (int i = 0; t->head && i < ncols; i++) free(t->head[i]);
    for (int i = 0; i < t->nrows * ncols; i++) free(t->cells[i]);
    free(t->head);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

/* Copies `n` strings (NULL when out of memory; the table then drops them). */
static char **copy_cells(const char *const *src, int n, char **dst)
{
    for (int i = 0; dst && i < n; i++) dst[i] = strdup(src[i] ? src[i] : "");
    return dst;
}

/* Closes an open list or table before another block starts. */
static void settle(qb_doc *d, int list, int table)
{
    for (int i = 0; i < d->nout; i++) {
        FILE *f = out_fp(&d->out[i]);
        const doc_format *F = d->out[i].fmt;
        if (d->in_list && !list) F->list_end(f);
        if (d->in_table && !table) {
            if (F->whole_table && d->table.head)
                F->whole_table(f, d->ncols, (const char *const *)d->table.head, d->table.cells,
                               d->table.nrows, d->align);
            else if (!F->whole_table) F->table_end(f);
        }
    }
    if (!list) d->in_list = 0;
    if (!table) {
        if (d->in_table) table_free(&d->table, d->ncols);
        d->in_table = 0;
    }
}

static char *vformat(const char *fmt, va_list ap)
{
    char *s;
    return vasprintf(&s, fmt, ap) < 0 ? NULL : s;
}

#define WITH_TEXT(d, fmt, body)                       \
    do {                                              \
        va_list ap;                                   \
        va_start(ap, fmt);                            \
        char *text = vformat(fmt, ap);                \
        va_end(ap);                                   \
        if (!text) return;                            \
        for (int i_ = 0; i_ < (d)->nout; i_++) {      \
            FILE *f = out_fp(&(d)->out[i_]);          \
            const doc_format *F = (d)->out[i_].fmt;   \
            body;                                     \
        }                                             \
        free(text);                                   \
    } while (0)

void qb_doc_heading(qb_doc *d, int level, const char *fmt, ...)
{
    settle(d, 0, 0);
    WITH_TEXT(d, fmt, F->heading(f, level, text));
}

void qb_doc_para(qb_doc *d, const char *fmt, ...)
{
    settle(d, 0, 0);
    WITH_TEXT(d, fmt, F->para(f, text));
}

void qb_doc_bullet(qb_doc *d, const char *fmt, ...)
{
    settle(d, 1, 0);
    int start = !d->in_list;
    d->in_list = 1;
    WITH_TEXT(d, fmt, {
        if (start) F->list_begin(f);
        F->bullet(f, text);
    });
}

void qb_doc_code(qb_doc *d, const char *text)
{
    settle(d, 0, 0);
    for (int i = 0; i < d->nout; i++) d->out[i].fmt->code(out_fp(&d->out[i]), text);
}

void qb_doc_table(qb_doc *d, int ncols, const char *const *head, const char *align)
{
    settle(d, 0, 0);
    d->in_table = 1;
    d->ncols = ncols < (int)sizeof d->align ? ncols : (int)sizeof d->align - 1;
    snprintf(d->align, sizeof d->align, "%s", align);
    int whole = 0;
    for (int i = 0; i < d->nout; i++) {
        if (d->out[i].fmt->whole_table) whole = 1;
        else d->out[i].fmt->table_begin(out_fp(&d->out[i]), d->ncols, head, d->align);
    }
    if (whole) d->table.head = copy_cells(head, d->ncols, calloc((size_t)d->ncols, sizeof(char *)));
}

void qb_doc_row(qb_doc *d, const char *const *cells)
{
    for (int i = 0; i < d->nout; i++)
        if (!d->out[i].fmt->whole_table) d->out[i].fmt->row(out_fp(&d->out[i]), d->ncols, cells, d->align);
    doc_table *t = &d->table;
    if (!t->head) return;
    if (t->nrows == t->cap) {
        int cap = t->cap ? 2 * t->cap : 16;
        char **c = realloc(t->cells, (size_t)cap * (size_t)d->ncols * sizeof *c);
        if (!c) return; /* out of memory: the row is left out of the terminal view */
        t->cells = c;
        t->cap = cap;
    }
    copy_cells(cells, d->ncols, t->cells + t->nrows * d->ncols);
    t->nrows++;
}

void qb_doc_image(qb_doc *d, const char *rel, const char *caption)
{
    settle(d, 0, 0);
    for (int i = 0; i < d->nout; i++)
        d->out[i].fmt->image(out_fp(&d->out[i]), d->dir, rel, caption);
}

qb_status qb_doc_close(qb_doc *d)
{
    settle(d, 0, 0);
    qb_status s = QB_OK;
    for (int i = 0; i < d->nout; i++) {
        d->out[i].fmt->end(out_fp(&d->out[i]));
        if (d->out[i].stream) {
            if ((fflush(d->out[i].stream) != 0 || ferror(d->out[i].stream)) && s == QB_OK)
                s = qb_error(QB_ERR_IO, "writing to the output stream failed");
            continue;
        }
        qb_status si = s == QB_OK ? qb_safefile_commit(&d->out[i].file) : QB_OK;
        if (s != QB_OK) qb_safefile_abort(&d->out[i].file);
        if (si != QB_OK) s = si;
    }
    d->nout = 0;
    qb_doc_abort(d);
    return s;
}

void qb_doc_abort(qb_doc *d)
{
    if (!d) return;
    for (int i = 0; i < d->nout; i++)
        if (!d->out[i].stream) qb_safefile_abort(&d->out[i].file);
    table_free(&d->table, d->ncols);
    free(d->dir);
    free(d);
}

const char *qb_doc_cell(const char *s, char *buf, size_t len)
{
    size_t n = 0;
    for (; *s && n + 2 < len; s++) {
        if (*s == '|') buf[n++] = '\\';
        buf[n++] = (*s == '\n' || *s == '\r') ? ' ' : *s;
    }
    buf[n] = '\0';
    return buf;
}

qb_status qb_doc_open_file(qb_safefile *f, const char *dir, const char *name)
{
    char *path;
    if (asprintf(&path, "%s/%s", dir, name) < 0) return qb_error(QB_ERR_NOMEM, "out of memory");
    qb_status s = qb_safefile_open(f, path);
    free(path);
    return s;
}
