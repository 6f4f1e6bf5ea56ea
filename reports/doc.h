/* A document written once and rendered by one or two formats: Markdown
 * (STEM.md) and a self-contained HTML page (STEM.html, plots inlined as
 * data: URIs, no external files). Text is plain; inline **bold** and
 * `code` work in both. Files are written through common/safefile.h and only
 * appear, complete, at qb_doc_close. Errors follow common/status.h. */
#ifndef QB_DOC_H
#define QB_DOC_H

#include <stddef.h>
#include <stdio.h>
#include "status.h"

typedef struct qb_doc qb_doc;

enum { QB_DOC_MD = 1, QB_DOC_HTML = 2 };

/* Opens DIR/STEM.md and/or DIR/STEM.html (formats: QB_DOC_MD | QB_DOC_HTML). */
qb_status qb_doc_open(qb_doc **out, const char *dir, const char *stem, int formats,
                      const char *title);

void qb_doc_heading(qb_doc *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void qb_doc_para(qb_doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Consecutive bullets form one list. */
void qb_doc_bullet(qb_doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A preformatted block (shown verbatim). */
void qb_doc_code(qb_doc *d, const char *text);
/* A table: `align` has one letter per column, 'l' or 'r'. Rows follow. */
void qb_doc_table(qb_doc *d, int ncols, const char *const *head, const char *align);
void qb_doc_row(qb_doc *d, const char *const *cells);
/* An image at `rel` (relative to DIR, e.g. "plots/pareto.png"), captioned. */
void qb_doc_image(qb_doc *d, const char *rel, const char *caption);

/* A plain-text document on `stream` (a terminal: stdout), with aligned
 * tables and no inline marks; `dir` is where images' paths start. The
 * stream is not closed. */
qb_status qb_doc_open_stream(qb_doc **out, FILE *stream, const char *dir, const char *title);

/* Writes the files into place (or finishes the stream) and frees `d`. */
qb_status qb_doc_close(qb_doc *d);
/* Frees `d` and leaves any previous files untouched. */
void qb_doc_abort(qb_doc *d);

/* Opens DIR/NAME for a crash-safe write (common/safefile.h), for the
 * outputs that are not documents (CSV, XML). */
struct qb_safefile;
qb_status qb_doc_open_file(struct qb_safefile *f, const char *dir, const char *name);

/* Writes n bytes of `s` escaped for HTML or XML text and attributes
 * (& < > " and line breaks). */
void qb_doc_escape(FILE *f, const char *s, size_t n);

/* Copies a value from a CSV field for a table cell: line breaks become
 * spaces, '|' is escaped so it cannot split a Markdown row. */
const char *qb_doc_cell(const char *s, char *buf, size_t len);

#endif
