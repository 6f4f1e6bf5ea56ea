/* The CI gate's outputs (see check.h). */
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "compare.h"
#include "doc.h"
#include "fmt.h"
#include "report.h"
#include "safefile.h"

size_t qb_check_regressions(const qb_diff *d, size_t *idx)
{
    return qb_diff_select(d, QB_BIT(QB_REGRESSED) | QB_BIT(QB_MISSING), idx);
}

qb_status qb_parse_percent(const char *what, const char *text, double *out)
{
    char buf[64];
    size_t n = strlen(text);
    if (n == 0 || n >= sizeof buf)
        return qb_error(QB_ERR_ARG, "%s: expected a percentage such as 5%%, got '%s'", what, text);
    memcpy(buf, text, n + 1);
    if (buf[n - 1] == '%') buf[n - 1] = '\0';
    double v;
    qb_status s = qb_parse_double(what, buf, &v);
    if (s != QB_OK) return qb_error(QB_ERR_ARG, "%s: expected a percentage such as 5%%, got '%s'", what, text);
    if (!(v >= 0) || v > 10000)
        return qb_error(QB_ERR_ARG, "%s: %s is out of range (0%% to 10000%%)", what, text);
    *out = v / 100;
    return QB_OK;
}

static const char *provenance_line(const qb_run *r, char *buf, size_t len)
{
    const char *commit = qb_run_meta(r, "git_commit"), *date = qb_run_meta(r, "date");
    snprintf(buf, len, "`%s` (commit %s, %s)", qb_report_name(r->dir), commit ? commit : "?",
             date ? date : "?");
    return buf;
}

static qb_status write_markdown(const qb_diff *d, const qb_run *base, const qb_run *cur,
                                const char *dir, const size_t *reg, size_t nreg)
{
    qb_doc *doc;
    char title[64];
    snprintf(title, sizeof title, "qbench check: %s", nreg ? "FAILED" : "passed");
    qb_status s = qb_doc_open(&doc, dir, "check", QB_DOC_MD, title);
    if (s != QB_OK) return s;
    char a[512], b[512];
    qb_doc_para(doc, "Baseline %s against current %s.", provenance_line(base, a, sizeof a),
                provenance_line(cur, b, sizeof b));
    qb_doc_para(doc, "A cell regresses when it stops finishing, is missing, or changes "
                "significantly (p < %g) and by more than the threshold: slower by more than "
                "%.1f%% by %s, or less accurate by more than %.2f pp.", d->opts.alpha,
                100 * d->opts.max_slowdown, qb_metric_name(d->opts.metric), d->opts.max_drop);
    qb_compare_counts(doc, d);
    if (d->too_few_reps)
        qb_doc_para(doc, "**Warning:** %zu cells have too few repetitions for alpha %g (the "
                    "smallest p their samples allow is %.3g): their slowdowns cannot be detected.",
                    d->too_few_reps, d->opts.alpha, d->smallest_p);
    if (nreg) {
        qb_doc_heading(doc, 2, "Regressions, worst first");
        for (size_t i = 0; i < nreg; i++) {
            char line[1024];
            qb_doc_bullet(doc, "**%s** %s", qb_verdict_name(d->cells[reg[i]].verdict),
                          qb_diff_describe(&d->cells[reg[i]], line, sizeof line));
        }
    }
    size_t *imp = qb_calloc(d->n + 1, sizeof *imp);
    if (!imp) {
        qb_doc_abort(doc);
        return QB_ERR_NOMEM;
    }
    size_t nimp = qb_diff_select(d, QB_BIT(QB_IMPROVED), imp);
    if (nimp) {
        qb_doc_heading(doc, 2, "Improvements");
        for (size_t i = 0; i < nimp; i++) {
            char line[1024];
            qb_doc_bullet(doc, "%s", qb_diff_describe(&d->cells[imp[i]], line, sizeof line));
        }
    }
    free(imp);
    return qb_doc_close(doc);
}

static void xml_escape(FILE *f, const char *s) { qb_doc_escape(f, s, strlen(s)); }

/* JUnit XML as CI systems read it: one test case per cell, a <failure>
 * for each regression. */
static qb_status write_junit(const qb_diff *d, const qb_run *base, const qb_run *cur,
                             const char *dir, size_t nreg)
{
    qb_safefile sf;
    qb_status s = qb_doc_open_file(&sf, dir, "check.xml");
    if (s != QB_OK) return s;
    FILE *f = sf.fp;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<testsuites name=\"qbench check\" tests=\"%zu\" failures=\"%zu\">\n", d->n, nreg);
    fputs("  <testsuite name=\"", f);
    xml_escape(f, qb_report_name(base->dir));
    fputs(" vs ", f);
    xml_escape(f, qb_report_name(cur->dir));
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"0\">\n", d->n, nreg);
    for (size_t i = 0; i < d->n; i++) {
        const qb_cell_diff *c = &d->cells[i];
        const qb_result *r = c->cur ? c->cur : c->base;
        char cfg[128], line[1024];
        fputs("    <testcase classname=\"qbench.", f);
        xml_escape(f, r->model);
        fputs("\" name=\"", f);
        xml_escape(f, qb_result_config(r, cfg, sizeof cfg));
        fputs(" @ ", f);
        xml_escape(f, r->placement);
        fputc('/', f);
        xml_escape(f, r->scenario);
        fprintf(f, " [%s]\"", r->cell_id);
        qb_diff_describe(c, line, sizeof line);
        if (c->verdict == QB_REGRESSED || c->verdict == QB_MISSING) {
            fprintf(f, ">\n      <failure type=\"%s\" message=\"", qb_verdict_name(c->verdict));
            xml_escape(f, line);
            fputs("\"/>\n    </testcase>\n", f);
        } else {
            fputs(">\n      <system-out>", f);
            xml_escape(f, qb_verdict_name(c->verdict));
            fputs(": ", f);
            xml_escape(f, line);
            fputs("</system-out>\n    </testcase>\n", f);
        }
    }
    fputs("  </testsuite>\n</testsuites>\n", f);
    return qb_safefile_commit(&sf);
}

qb_status qb_check_write(const qb_diff *d, const qb_run *base, const qb_run *cur,
                         const char *dir)
{
    size_t *reg = qb_calloc(d->n + 1, sizeof *reg);
    if (!reg) return QB_ERR_NOMEM;
    size_t nreg = qb_check_regressions(d, reg);
    qb_status s = write_markdown(d, base, cur, dir, reg, nreg);
    if (s == QB_OK) s = write_junit(d, base, cur, dir, nreg);
    free(reg);
    return s;
}
