/* The plots of one run (see run_plots.h). Each function writes one data
 * file in gnuplot's block format and fills one template. */
#include "run_plots.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"
#include "view.h"

/* ---- plot list ---- */

qb_plot_info *qb_plot_list_add(qb_plot_list *l, const char *name, const char *caption)
{
    if (l->n == QB_MAX_PLOTS) return NULL;
    qb_plot_info *p = &l->item[l->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->caption, sizeof p->caption, "%s", caption);
    return p;
}

void qb_plot_list_render(qb_plot_list *l, const char *dir)
{
    for (int i = 0; i < l->n; i++) {
        qb_plot_info *p = &l->item[i];
        qb_status s = qb_plot_render(dir, p->name, p->problem, sizeof p->problem);
        p->rendered = s == QB_OK;
        if (s == QB_ERR_UNSUPPORTED) l->gnuplot_missing = 1;
        else if (s != QB_OK) l->n_failed++;
        if (s != QB_OK) snprintf(p->problem, sizeof p->problem, "%s", qb_last_error());
    }
}

void qb_panels_init(qb_panels *p, int xlog, int ylog, int yzero)
{
    memset(p, 0, sizeof *p);
    p->xlog = xlog;
    p->ylog = ylog;
    p->yzero = yzero;
}

void qb_panels_point(qb_panels *p, double x, double y)
{
    if (!isnan(x) && (!p->xlog || x > 0)) {
        p->x0 = p->nx ? fmin(p->x0, x) : x;
        p->x1 = p->nx++ ? fmax(p->x1, x) : x;
    }
    if (!isnan(y) && (!p->ylog || y > 0)) {
        p->y0 = p->ny ? fmin(p->y0, y) : y;
        p->y1 = p->ny++ ? fmax(p->y1, y) : y;
    }
}

/* A padded range around [lo, hi] that is never empty. */
static void pad_range(int n, double lo, double hi, int log, int zero, double *a, double *b)
{
    if (!n) {
        *a = log ? 1 : 0;
        *b = log ? 10 : 1;
        return;
    }
    if (zero && !log) {
        lo = fmin(lo, 0);
        hi = fmax(hi, 0);
    }
    if (log) {
        *a = lo / 1.3;
        *b = hi * 1.3;
        return;
    }
    /* at least a thousandth of the value, so that printed bounds differ */
    double span = hi - lo, pad = fmax(0.08 * span, fabs(hi) > 0 ? 1e-3 * fabs(hi) : 0.5);
    *a = zero && lo == 0 ? 0 : lo - pad;
    *b = hi + pad;
}

static void append_word(char *list, size_t len, double v)
{
    size_t n = strlen(list);
    snprintf(list + n, len - n, "%s%.10g", n ? " " : "", v);
}

void qb_panels_add(qb_panels *p, const char *title, int blocks)
{
    char clean[128];
    size_t n = strlen(p->panels), m = strlen(p->blocks);
    qb_plot_clean(title, clean, sizeof clean);
    for (char *c = clean; *c; c++)
        if (*c == '\'') *c = ' '; /* the list is a single-quoted gnuplot string */
    snprintf(p->panels + n, sizeof p->panels - n, "%s\"%s\"", n ? " " : "", clean);
    snprintf(p->blocks + m, sizeof p->blocks - m, "%s%d", m ? " " : "", blocks);
    double a, b;
    pad_range(p->nx, p->x0, p->x1, p->xlog, 0, &a, &b);
    append_word(p->xlo, sizeof p->xlo, a);
    append_word(p->xhi, sizeof p->xhi, b);
    if (p->xlog) { /* 1, 2, 5 times powers of ten inside the range */
        size_t t = strlen(p->xtics);
        int first = 1;
        snprintf(p->xtics + t, sizeof p->xtics - t, "%s", t ? " " : "");
        for (int e = (int)floor(log10(a)); e <= (int)ceil(log10(b)); e++)
            for (int k = 0; k < 3; k++) {
                double v = (k == 0 ? 1 : k == 1 ? 2 : 5) * pow(10, e);
                if (v < a || v > b) continue;
                t = strlen(p->xtics);
                snprintf(p->xtics + t, sizeof p->xtics - t, "%s%g", first ? "" : ",", v);
                first = 0;
            }
        if (first) { /* no nice value inside: the middle */
            t = strlen(p->xtics);
            snprintf(p->xtics + t, sizeof p->xtics - t, "%.3g", sqrt(a * b));
        }
    }
    pad_range(p->ny, p->y0, p->y1, p->ylog, p->yzero, &a, &b);
    append_word(p->ylo, sizeof p->ylo, a);
    append_word(p->yhi, sizeof p->yhi, b);
    p->nx = p->ny = 0;
    p->npanels++;
}

void qb_panels_color(qb_panels *p, int linetype)
{
    size_t n = strlen(p->colors);
    snprintf(p->colors + n, sizeof p->colors - n, "%s%d", n ? " " : "", linetype);
}

/* ---- small helpers ---- */

/* Starts a data block (two blank lines apart) with an optional title row
 * for `title columnheader(1)`. */
static void block(FILE *f, int *nblocks, const char *title)
{
    if ((*nblocks)++) fputs("\n\n", f);
    if (title) {
        qb_plot_quote(f, title);
        fputc('\n', f);
    }
}

/* Distinct strings in first-seen order (model, scheme, label...). */
typedef struct {
    char **s;
    size_t n, cap;
} strlist;

static int strlist_find(const strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->s[i], s) == 0) return (int)i;
    return -1;
}

static int strlist_add(strlist *l, const char *s)
{
    int k = strlist_find(l, s);
    if (k >= 0) return k;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **ns = realloc(l->s, cap * sizeof *ns);
        if (!ns) return -1;
        l->s = ns;
        l->cap = cap;
    }
    l->s[l->n] = strdup(s);
    return l->s[l->n] ? (int)l->n++ : -1;
}

static void strlist_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->s[i]);
    free(l->s);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strlist_sort(strlist *l)
{
    if (l->n) qsort(l->s, l->n, sizeof *l->s, cmp_str); /* an empty list has no array */
}

int qb_panels_width(int panels) { return panels <= 1 ? 800 : 120 + 440 * (panels > 4 ? 4 : panels); }

static qb_status finish(qb_plot *p, qb_panels *pan, const char *title, qb_plot_list *list,
                        const char *caption)
{
    qb_plot_set(p, "PANELS", "%s", pan->panels);
    qb_plot_set(p, "BLOCKS", "%s", pan->blocks);
    qb_plot_set(p, "COLORS", "%s", pan->colors);
    qb_plot_set(p, "XLO", "%s", pan->xlo);
    qb_plot_set(p, "XHI", "%s", pan->xhi);
    qb_plot_set(p, "YLO", "%s", pan->ylo);
    qb_plot_set(p, "YHI", "%s", pan->yhi);
    qb_plot_set(p, "XTICS", "%s", pan->xtics);
    qb_plot_set(p, "TITLE", "%s", title);
    qb_plot_set(p, "WIDTH", "%d", qb_panels_width(pan->npanels));
    char name[64];
    snprintf(name, sizeof name, "%s", p->name);
    qb_status s = qb_plot_finish(p);
    if (s == QB_OK) qb_plot_list_add(list, name, caption);
    return s;
}

/* ---- accuracy drop vs weight bits ---- */

static qb_status plot_accuracy_bits(const qb_run *run, const qb_model_ref *m, size_t nm,
                                    const char *dir, qb_plot_list *list)
{
    qb_plot p;
    qb_status s = qb_plot_begin(&p, dir, "accuracy_bits", "accuracy_bits.gp");
    if (s != QB_OK) return s;
    FILE *f = qb_plot_data(&p);
    qb_panels pan;
    qb_panels_init(&pan, 1, 0, 1); /* log2 bits; drops from 0 */
    int nblocks = 0;
    strlist all = {0}; /* every scheme, for colours that agree across panels */
    for (size_t i = 0; i < run->n_results; i++)
        if (!qb_result_is_fp32(&run->results[i])) strlist_add(&all, run->results[i].scheme);
    strlist_sort(&all);
    for (size_t k = 0; k < nm; k++) {
        strlist schemes = {0};
        for (size_t i = 0; i < run->n_results; i++) {
            const qb_result *r = &run->results[i];
            if (qb_result_ok(r) && !qb_result_is_fp32(r) && strcmp(r->model, m[k].model) == 0 &&
                !isnan(r->drop_pp))
                strlist_add(&schemes, r->scheme);
        }
        strlist_sort(&schemes);
        for (size_t j = 0; j < schemes.n; j++) {
            block(f, &nblocks, schemes.s[j]);
            qb_panels_color(&pan, strlist_find(&all, schemes.s[j]) + 1);
            /* best drop per weight bit width, widths ascending */
            for (long long bits = 1; bits <= 32; bits++) {
                double best = NAN;
                for (size_t i = 0; i < run->n_results; i++) {
                    const qb_result *r = &run->results[i];
                    if (qb_result_ok(r) && r->wbits == bits && strcmp(r->model, m[k].model) == 0 &&
                        strcmp(r->scheme, schemes.s[j]) == 0 && !(r->drop_pp >= best))
                        best = r->drop_pp;
                }
                if (isnan(best)) continue;
                fprintf(f, "%lld %.6g\n", bits, best);
                qb_panels_point(&pan, (double)bits, best);
            }
        }
        if (schemes.n) qb_panels_add(&pan, m[k].model, (int)schemes.n);
        strlist_free(&schemes);
    }
    strlist_free(&all);
    if (!pan.npanels) {
        qb_plot_abort(&p);
        return QB_OK;
    }
    return finish(&p, &pan, "Accuracy drop vs weight bits", list,
                  "Accuracy drop (pp, vs fp32) against weight bits: one line per scheme, its "
                  "best configuration at each width; dotted lines mark the 0.5, 1 and 2 pp "
                  "budgets.");
}

/* ---- accuracy vs latency / size, with the Pareto front ---- */

typedef enum { BY_LATENCY, BY_SIZE } pareto_axis;

/* Accuracy points shown below the best configuration of a panel. */
#define PARETO_SPAN_PP 20.0

static double pareto_x(const qb_result *r, pareto_axis axis)
{
    return axis == BY_LATENCY ? r->latency_ms_median : r->size_bytes / 1024;
}

/* A front label takes about a third of a panel's width and 4% of its
 * height: one that would print over another is left blank. */
#define LABEL_MIN_DX 0.33
#define LABEL_MIN_DY 0.045

/* Labels of the front's points: the two ends in the frame first (the most
 * accurate, the smallest or fastest), then the others from the most accurate down, each
 * only where it prints over no label already placed; blank below the frame. */
static void front_labels(const qb_result **pts, const double *x, const double *y, size_t n,
                         const size_t *front, size_t nf, char (*labels)[128])
{
    if (nf == 0) return;
    double lx0 = INFINITY, lx1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        lx0 = fmin(lx0, log10(x[i]));
        lx1 = fmax(lx1, log10(x[i]));
        y0 = fmin(y0, y[i]);
        y1 = fmax(y1, y[i]);
    }
    if (y1 - y0 > PARETO_SPAN_PP) y0 = y1 - PARETO_SPAN_PP;
    double wx = lx1 > lx0 ? lx1 - lx0 : 1, wy = y1 > y0 ? y1 - y0 : 1;
    size_t lo = 0; /* the lowest point in the frame */
    while (lo + 1 < nf && y[front[lo]] < y0) lo++;
    for (size_t i = 0; i < nf; i++) labels[i][0] = '\0';
    for (size_t k = 0; k <= nf; k++) {
        size_t i = k == 0 ? nf - 1 : k == 1 ? lo : nf - k; /* top, bottom, then downwards */
        if (labels[i][0] || y[front[i]] < y0) continue;
        double lx = log10(x[front[i]]), py = y[front[i]];
        int room = 1;
        for (size_t j = 0; j < nf && room; j++)
            if (labels[j][0])
                room = fabs(log10(x[front[j]]) - lx) / wx >= LABEL_MIN_DX || fabs(y[front[j]] - py) / wy >= LABEL_MIN_DY;
        if (room) qb_result_config(pts[front[i]], labels[i], sizeof labels[i]);
    }
}

static qb_status plot_pareto(const qb_run *run, const qb_model_ref *m, size_t nm,
                             const char *dir, pareto_axis axis, qb_plot_list *list)
{
    const char *name = axis == BY_LATENCY ? "pareto_latency" : "pareto_size";
    qb_plot p;
    qb_status s = qb_plot_begin(&p, dir, name, "pareto.gp");
    if (s != QB_OK) return s;
    FILE *f = qb_plot_data(&p);
    qb_panels pan;
    qb_panels_init(&pan, 1, 0, 0); /* log latency or size */
    int nblocks = 0;
    const qb_result **pts = qb_calloc(run->n_results + 1, sizeof *pts);
    double *x = qb_calloc(run->n_results + 1, sizeof *x), *y = qb_calloc(run->n_results + 1, sizeof *y);
    size_t *front = qb_calloc(run->n_results + 1, sizeof *front);
    char (*labels)[128] = qb_calloc(run->n_results + 1, sizeof *labels);
    strlist all = {0}; /* every scheme in file order, for colours */
    int clipped = 0;
    if (!pts || !x || !y || !front || !labels) {
        s = QB_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < run->n_results; i++) strlist_add(&all, run->results[i].scheme);
    for (size_t k = 0; k < nm; k++) {
        size_t n = 0;
        strlist schemes = {0};
        for (size_t i = 0; i < run->n_results; i++) {
            const qb_result *r = &run->results[i];
            if (!qb_view_on_ref(&m[k], r) || isnan(pareto_x(r, axis)) || isnan(r->accuracy))
                continue;
            pts[n] = r;
            x[n] = pareto_x(r, axis);
            y[n++] = r->accuracy;
            strlist_add(&schemes, r->scheme);
        }
        if (n == 0) {
            strlist_free(&schemes);
            continue;
        }
        for (size_t j = 0; j < schemes.n; j++) {
            block(f, &nblocks, schemes.s[j]);
            qb_panels_color(&pan, strlist_find(&all, schemes.s[j]) + 1);
            for (size_t i = 0; i < n; i++)
                if (strcmp(pts[i]->scheme, schemes.s[j]) == 0) {
                    fprintf(f, "%.6g %.6g\n", x[i], y[i]);
                    qb_panels_point(&pan, x[i], y[i]);
                }
        }
        size_t nf = qb_pareto_front(x, y, n, front);
        block(f, &nblocks, NULL);
        qb_panels_color(&pan, 0);
        front_labels(pts, x, y, n, front, nf, labels);
        for (size_t i = 0; i < nf; i++) {
            fprintf(f, "%.6g %.6g ", x[front[i]], y[front[i]]);
            qb_plot_quote(f, labels[i]);
            fputc('\n', f);
        }
        char title[160];
        snprintf(title, sizeof title, "%s (%s, %s)", m[k].model, m[k].placement, m[k].scenario);
        /* The trade-off is near the top: configurations far below the best
         * would squeeze it into a sliver, so the frame stops there. */
        if (pan.y1 - pan.y0 > PARETO_SPAN_PP) {
            pan.y0 = pan.y1 - PARETO_SPAN_PP;
            clipped = 1;
        }
        qb_panels_add(&pan, title, (int)schemes.n + 1);
        strlist_free(&schemes);
    }
    if (!pan.npanels) {
        qb_plot_abort(&p);
        goto done;
    }
    qb_plot_set(&p, "XWHAT", axis == BY_LATENCY ? "latency" : "model size");
    qb_plot_set(&p, "BETTER", axis == BY_LATENCY ? "faster" : "smaller");
    qb_plot_set(&p, "XLABEL", axis == BY_LATENCY ? "median latency per repetition (ms, log scale)"
                                                 : "model size (KiB, log scale)");
    char caption[400];
    snprintf(caption, sizeof caption, "%s%s",
             axis == BY_LATENCY
                 ? "Accuracy against median latency on each model's reference placement; the "
                   "dashed staircase is the Pareto front (no other configuration is both "
                   "faster and more accurate), its points labelled where there is room."
                 : "Accuracy against model size; the dashed staircase is the Pareto front (no "
                   "other configuration is both smaller and more accurate), its points "
                   "labelled where there is room.",
             clipped ? " Configurations more than 20 pp below the best are below the frame." : "");
    s = finish(&p, &pan, axis == BY_LATENCY ? "Accuracy vs latency" : "Accuracy vs model size",
               list, caption);
done:
    strlist_free(&all);
    free(pts);
    free(x);
    free(y);
    free(front);
    free(labels);
    return s;
}

/* ---- speedup per placement ---- */

static double median_speedup(const qb_run *run, const char *model, const char *label,
                             const char *placement, const char *scenario)
{
    double v[64];
    size_t n = 0;
    char buf[128];
    for (size_t i = 0; i < run->n_results && n < 64; i++) {
        const qb_result *r = &run->results[i];
        if (qb_result_ok(r) && !isnan(r->speedup) && strcmp(r->model, model) == 0 &&
            strcmp(r->placement, placement) == 0 && strcmp(r->scenario, scenario) == 0 &&
            strcmp(qb_result_config(r, buf, sizeof buf), label) == 0)
            v[n++] = r->speedup;
    }
    if (n == 0) return NAN;
    /* insertion sort: a handful of values */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static qb_status plot_speedup(const qb_run *run, const qb_model_ref *m, size_t nm,
                              const char *dir, qb_plot_list *list)
{
    /* Placements ordered by threads, then first appearance; configuration
     * labels over all models (table order) give each line its colour. */
    strlist places = {0}, all = {0};
    long long *threads = qb_calloc(run->n_results + 1, sizeof *threads);
    const qb_result **rows = qb_calloc(run->n_results + 1, sizeof *rows);
    size_t nr = 0;
    if (!threads || !rows) {
        free(threads);
        free(rows);
        return QB_ERR_NOMEM;
    }
    for (size_t i = 0; i < run->n_results; i++) {
        const qb_result *r = &run->results[i];
        if (!qb_result_ok(r) || isnan(r->speedup)) continue;
        size_t before = places.n;
        int k = strlist_add(&places, r->placement);
        if (k >= 0 && places.n > before) threads[k] = r->threads;
        if (!qb_result_is_fp32(r)) rows[nr++] = r;
    }
    for (size_t i = 1; i < places.n; i++) /* stable insertion sort by threads */
        for (size_t j = i; j > 0 && threads[j - 1] > threads[j]; j--) {
            long long t = threads[j];
            char *n = places.s[j];
            threads[j] = threads[j - 1];
            places.s[j] = places.s[j - 1];
            threads[j - 1] = t;
            places.s[j - 1] = n;
        }
    qb_view_sort(rows, nr);
    char buf[128];
    for (size_t i = 0; i < nr; i++) strlist_add(&all, qb_result_config(rows[i], buf, sizeof buf));
    free(rows);
    qb_plot p;
    qb_status s = places.n ? qb_plot_begin(&p, dir, "speedup", "speedup.gp") : QB_OK;
    if (s != QB_OK || !places.n) {
        strlist_free(&places);
        strlist_free(&all);
        free(threads);
        return s;
    }
    FILE *f = qb_plot_data(&p);
    qb_panels pan;
    qb_panels_init(&pan, 0, 0, 0);
    int nblocks = 0;
    for (size_t k = 0; k < nm; k++) {
        if (!m[k].scenario) continue;
        strlist labels = {0}; /* this model's configurations, in table order */
        for (size_t j = 0; j < all.n; j++)
            for (size_t i = 0; i < run->n_results; i++) {
                const qb_result *r = &run->results[i];
                if (qb_result_ok(r) && !qb_result_is_fp32(r) && !isnan(r->speedup) &&
                    strcmp(r->model, m[k].model) == 0 && strcmp(r->scenario, m[k].scenario) == 0 &&
                    strcmp(qb_result_config(r, buf, sizeof buf), all.s[j]) == 0) {
                    strlist_add(&labels, all.s[j]);
                    break;
                }
            }
        for (size_t j = 0; j < labels.n; j++) {
            block(f, &nblocks, labels.s[j]);
            qb_panels_color(&pan, strlist_find(&all, labels.s[j]) + 1);
            for (size_t pl = 0; pl < places.n; pl++) {
                double v = median_speedup(run, m[k].model, labels.s[j], places.s[pl], m[k].scenario);
                if (isnan(v)) continue;
                char tick[160];
                snprintf(tick, sizeof tick, "%s (%lld)", places.s[pl], threads[pl]);
                fprintf(f, "%zu %.6g ", pl, v);
                qb_panels_point(&pan, (double)pl, v);
                qb_plot_quote(f, tick);
                fputc('\n', f);
            }
        }
        if (labels.n) {
            char title[160];
            snprintf(title, sizeof title, "%s (%s)", m[k].model, m[k].scenario);
            qb_panels_add(&pan, title, (int)labels.n);
        }
        strlist_free(&labels);
    }
    qb_plot_set(&p, "NPLACE", "%zu", places.n);
    qb_plot_set(&p, "HEIGHT", "620");
    strlist_free(&places);
    strlist_free(&all);
    free(threads);
    if (!pan.npanels) {
        qb_plot_abort(&p);
        return QB_OK;
    }
    return finish(&p, &pan, "Speedup over fp32 per placement", list,
                  "Speedup over fp32 (same model, placement and scenario, same run) on each "
                  "placement, one line per configuration.");
}

/* ---- counters ---- */

static qb_status plot_counters(const qb_run *run, const qb_model_ref *m, size_t nm,
                               const char *dir, qb_plot_list *list)
{
    int shown[64], ns = qb_run_measured(run, 1, shown, 64);
    if (ns == 0) return QB_OK;
    /* rows: configuration labels over all models (table order); columns: models */
    const qb_result **rows = qb_calloc(run->n_results + 1, sizeof *rows);
    if (!rows) return QB_ERR_NOMEM;
    size_t nr = 0;
    for (size_t i = 0; i < run->n_results; i++)
        for (size_t k = 0; k < nm; k++)
            if (qb_view_on_ref(&m[k], &run->results[i])) rows[nr++] = &run->results[i];
    qb_view_sort(rows, nr);
    strlist labels = {0};
    char buf[128];
    for (size_t i = 0; i < nr; i++) strlist_add(&labels, qb_result_config(rows[i], buf, sizeof buf));
    /* grid[label][model]: the reference cell with that configuration */
    const qb_result **grid = qb_calloc(labels.n * nm + 1, sizeof *grid);
    char *used = qb_calloc(labels.n + nm + 1, 1);
    qb_plot p;
    qb_status s = grid && used ? qb_plot_begin(&p, dir, "counters", "counters.gp") : QB_ERR_NOMEM;
    if (s != QB_OK) goto done;
    for (size_t i = 0; i < nr; i++) {
        int j = strlist_find(&labels, qb_result_config(rows[i], buf, sizeof buf));
        for (size_t k = 0; k < nm; k++)
            if (strcmp(rows[i]->model, m[k].model) == 0) grid[(size_t)j * nm + k] = rows[i];
    }
    FILE *f = qb_plot_data(&p);
    qb_panels pan;
    qb_panels_init(&pan, 0, 0, 1);
    char logy[512] = "", ncols[512] = "";
    int nblocks = 0, npanels = 0;
    for (int c = 0; c < ns; c++) {
        /* only the models and configurations with a value for this counter */
        char *use_label = used, *use_model = used + labels.n;
        memset(used, 0, labels.n + nm);
        int nmod = 0;
        for (size_t j = 0; j < labels.n; j++)
            for (size_t k = 0; k < nm; k++) {
                const qb_result *r = grid[j * nm + k];
                if (r && !isnan(qb_run_value(run, r, shown[c]))) {
                    use_label[j] = 1;
                    nmod += !use_model[k];
                    use_model[k] = 1;
                }
            }
        if (!nmod) continue;
        block(f, &nblocks, NULL);
        fputs("configuration", f);
        for (size_t k = 0; k < nm; k++)
            if (use_model[k]) {
                fputc(' ', f);
                qb_plot_quote(f, m[k].model);
            }
        fputc('\n', f);
        double lo = INFINITY, hi = 0;
        for (size_t j = 0; j < labels.n; j++) {
            if (!use_label[j]) continue;
            qb_plot_quote(f, labels.s[j]);
            for (size_t k = 0; k < nm; k++) {
                if (!use_model[k]) continue;
                const qb_result *r = grid[j * nm + k];
                double v = r ? qb_run_value(run, r, shown[c]) : NAN;
                if (isnan(v)) {
                    fputs(" ?", f);
                    continue;
                }
                fprintf(f, " %.6g", v);
                if (v > 0 && v < lo) lo = v;
                if (v > hi) hi = v;
            }
            fputc('\n', f);
        }
        const char *cname = qb_run_column_name(run, shown[c]);
        size_t l = strlen(logy), n = strlen(ncols);
        int log = hi > 50 * lo;
        pan.ylog = log;
        pan.y0 = log ? lo : 0;
        pan.y1 = hi;
        pan.ny = hi > 0 || lo < INFINITY;
        qb_panels_add(&pan, cname, 1);
        snprintf(logy + l, sizeof logy - l, "%s%d", l ? " " : "", log);
        snprintf(ncols + n, sizeof ncols - n, "%s%d", n ? " " : "", nmod);
        npanels++;
    }
    if (!npanels) {
        qb_plot_abort(&p);
        goto done;
    }
    ns = npanels;
    int cols = ns < 2 ? 1 : 2, rws = (ns + cols - 1) / cols;
    qb_plot_set(&p, "PANELS", "%s", pan.panels);
    qb_plot_set(&p, "YLO", "%s", pan.ylo);
    qb_plot_set(&p, "YHI", "%s", pan.yhi);
    qb_plot_set(&p, "LOGY", "%s", logy);
    qb_plot_set(&p, "LAYOUT", "%d, %d", rws, cols);
    qb_plot_set(&p, "NCOLS", "%s", ncols);
    qb_plot_set(&p, "TITLE", "Counters per configuration");
    qb_plot_set(&p, "WIDTH", "%d", cols == 1 ? 900 : 1400);
    qb_plot_set(&p, "HEIGHT", "%d", 120 + 420 * rws);
    s = qb_plot_finish(&p);
    if (s == QB_OK)
        qb_plot_list_add(list, "counters",
                         "Counters per configuration on each model's reference placement (per "
                         "inference where the harness wrote /inf columns; log scale where values "
                         "span decades). Counters that were not counted are left out.");
done:
    free(grid);
    free(used);
    strlist_free(&labels);
    free(rows);
    return s;
}

/* ---- per-layer sensitivity ---- */

static qb_status plot_layers(const qb_run *run, const char *dir, qb_plot_list *list)
{
    if (!run->has_layers || run->n_layers == 0) return QB_OK;
    qb_plot p;
    qb_status s = qb_plot_begin(&p, dir, "layers", "layers.gp");
    if (s != QB_OK) return s;
    FILE *f = qb_plot_data(&p);
    strlist models = {0};
    for (size_t i = 0; i < run->n_layers; i++) strlist_add(&models, run->layers[i].model);
    qb_panels pan;
    qb_panels_init(&pan, 0, 0, 1);
    int nblocks = 0;
    for (size_t k = 0; k < models.n; k++) {
        strlist cells = {0};
        for (size_t i = 0; i < run->n_layers; i++)
            if (strcmp(run->layers[i].model, models.s[k]) == 0) strlist_add(&cells, run->layers[i].cell_id);
        for (size_t c = 0; c < cells.n; c++) {
            const qb_layer *first = NULL;
            for (size_t i = 0; i < run->n_layers && !first; i++)
                if (strcmp(run->layers[i].cell_id, cells.s[c]) == 0) first = &run->layers[i];
            char label[128];
            uint64_t id = 0;
            const qb_result *r = qb_cell_id_parse(cells.s[c], &id) == 0 ? qb_run_find(run, id) : NULL;
            if (r) qb_result_config(r, label, sizeof label);
            else snprintf(label, sizeof label, "w%llda%lld", first->wbits, first->abits);
            block(f, &nblocks, label);
            qb_panels_color(&pan, (int)c + 1);
            for (size_t i = 0; i < run->n_layers; i++) {
                const qb_layer *l = &run->layers[i];
                if (strcmp(l->cell_id, cells.s[c]) != 0 || isnan(l->sensitivity_pp)) continue;
                fprintf(f, "%lld %.6g ", l->layer_index, l->sensitivity_pp);
                qb_panels_point(&pan, (double)l->layer_index, l->sensitivity_pp);
                qb_plot_quote(f, l->layer);
                fputc('\n', f);
            }
        }
        qb_panels_add(&pan, models.s[k], (int)cells.n);
        strlist_free(&cells);
    }
    strlist_free(&models);
    return finish(&p, &pan, "Per-layer sensitivity", list,
                  "Per-layer sensitivity from layers.csv: accuracy lost (pp) when only that "
                  "layer is quantized, one line per quantized cell.");
}

qb_status qb_run_plots(const qb_run *run, const char *dir, int render, qb_plot_list *out)
{
    memset(out, 0, sizeof *out);
    qb_model_ref *m;
    size_t nm;
    qb_status s = qb_view_models(run, &m, &nm);
    if (s != QB_OK) return s;
    if ((s = plot_accuracy_bits(run, m, nm, dir, out)) == QB_OK &&
        (s = plot_pareto(run, m, nm, dir, BY_LATENCY, out)) == QB_OK &&
        (s = plot_pareto(run, m, nm, dir, BY_SIZE, out)) == QB_OK &&
        (s = plot_speedup(run, m, nm, dir, out)) == QB_OK &&
        (s = plot_counters(run, m, nm, dir, out)) == QB_OK)
        s = plot_layers(run, dir, out);
    free(m);
    if (s == QB_OK && render) qb_plot_list_render(out, dir);
    return s;
}
