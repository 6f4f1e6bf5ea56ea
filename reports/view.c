/* Shared views of a run (see view.h). */
#include "view.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int better_ref(const qb_result *cand, const qb_result *cur)
{
    int cl = strcmp(cand->scenario, "latency") == 0, ul = strcmp(cur->scenario, "latency") == 0;
    if (cl != ul) return cl;
    long long ct = cand->threads < 0 ? 1LL << 40 : cand->threads;
    long long ut = cur->threads < 0 ? 1LL << 40 : cur->threads;
    return ct < ut;
}

qb_status qb_view_models(const qb_run *run, qb_model_ref **out, size_t *n)
{
    qb_model_ref *m = qb_calloc(run->n_results + 1, sizeof *m);
    const qb_result **chosen = qb_calloc(run->n_results + 1, sizeof *chosen);
    if (!m || !chosen) {
        free(m);
        free(chosen);
        return QB_ERR_NOMEM;
    }
    size_t count = 0;
    for (size_t i = 0; i < run->n_results; i++) {
        const qb_result *r = &run->results[i];
        size_t k = 0;
        while (k < count && strcmp(m[k].model, r->model) != 0) k++;
        if (k == count) m[count++].model = r->model;
        /* The cell that sets the reference: the best finished one. */
        if (qb_result_ok(r) && (!chosen[k] || better_ref(r, chosen[k]))) chosen[k] = r;
    }
    for (size_t k = 0; k < count; k++) {
        if (!chosen[k]) continue;
        m[k].placement = chosen[k]->placement;
        m[k].scenario = chosen[k]->scenario;
        for (size_t i = 0; i < run->n_results && !m[k].fp32; i++)
            if (qb_result_is_fp32(&run->results[i]) && qb_view_on_ref(&m[k], &run->results[i]))
                m[k].fp32 = &run->results[i];
    }
    free(chosen);
    *out = m;
    *n = count;
    return QB_OK;
}

int qb_view_on_ref(const qb_model_ref *m, const qb_result *r)
{
    return m->placement && qb_result_ok(r) && strcmp(r->model, m->model) == 0 &&
           strcmp(r->placement, m->placement) == 0 && strcmp(r->scenario, m->scenario) == 0;
}

static int cmp_ll_desc(long long a, long long b) { return (a < b) - (a > b); }

static int cmp_rows(const void *pa, const void *pb)
{
    const qb_result *a = *(const qb_result *const *)pa, *b = *(const qb_result *const *)pb;
    int c;
    if ((c = qb_result_is_fp32(b) - qb_result_is_fp32(a))) return c;
    if ((c = strcmp(a->scheme, b->scheme))) return c;
    if ((c = cmp_ll_desc(a->wbits, b->wbits))) return c;
    if ((c = cmp_ll_desc(a->abits, b->abits))) return c;
    if ((c = strcmp(a->granularity, b->granularity))) return c;
    if ((c = strcmp(a->calib, b->calib))) return c;
    if ((c = strcmp(a->correction, b->correction))) return c;
    if ((c = strcmp(a->policy, b->policy))) return c;
    if ((c = -cmp_ll_desc(a->threads, b->threads))) return c;
    if ((c = strcmp(a->placement, b->placement))) return c;
    if ((c = strcmp(a->scenario, b->scenario))) return c;
    return (a->line > b->line) - (a->line < b->line);
}

void qb_view_sort(const qb_result **rows, size_t n) { qsort(rows, n, sizeof *rows, cmp_rows); }

typedef struct {
    double x, y;
    size_t i;
} point;

static int cmp_points(const void *pa, const void *pb)
{
    const point *a = pa, *b = pb;
    if (a->x != b->x) return a->x < b->x ? -1 : 1;
    if (a->y != b->y) return a->y > b->y ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

size_t qb_pareto_front(const double *x, const double *y, size_t n, size_t *front)
{
    point *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) return 0;
    size_t m = 0, k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i]) && !isnan(y[i])) p[m++] = (point){x[i], y[i], i};
    qsort(p, m, sizeof *p, cmp_points);
    double best = -INFINITY;
    for (size_t i = 0; i < m; i++)
        if (p[i].y > best) {
            front[k++] = p[i].i;
            best = p[i].y;
        }
    free(p);
    return k;
}

static int within_budget(const qb_model_ref *m, const qb_result *r, double budget_pp)
{
    return qb_view_on_ref(m, r) && !qb_result_is_fp32(r) && r->drop_pp <= budget_pp;
}

/* Is r's latency indistinguishable from f's (f has the lowest median)?
 * Their 95% intervals overlap; without intervals, equal medians. */
static int as_fast_as(const qb_result *r, const qb_result *f)
{
    if (r->latency_ms_median == f->latency_ms_median) return 1;
    if (isnan(r->latency_ms_ci_low) || isnan(f->latency_ms_ci_high)) return 0;
    return r->latency_ms_ci_low <= f->latency_ms_ci_high;
}

/* Ties broken by accuracy, then a fixed order: never by timing noise. */
static int better_tied(const qb_result *r, const qb_result *best, double r_key, double best_key)
{
    if (r->drop_pp != best->drop_pp) return r->drop_pp < best->drop_pp;
    if (r_key != best_key) return r_key < best_key;
    return r->line < best->line;
}

void qb_view_best_under(const qb_run *run, const qb_model_ref *m, double budget_pp,
                        const qb_result **fastest, const qb_result **smallest)
{
    const qb_result *lowest = NULL, *fast = NULL, *small = NULL;
    for (size_t i = 0; i < run->n_results; i++) {
        const qb_result *r = &run->results[i];
        if (!within_budget(m, r, budget_pp) || isnan(r->latency_ms_median)) continue;
        if (!lowest || r->latency_ms_median < lowest->latency_ms_median) lowest = r;
    }
    for (size_t i = 0; i < run->n_results; i++) {
        const qb_result *r = &run->results[i];
        if (!within_budget(m, r, budget_pp)) continue;
        if (lowest && !isnan(r->latency_ms_median) && as_fast_as(r, lowest) &&
            (!fast || better_tied(r, fast, r->size_bytes, fast->size_bytes)))
            fast = r;
        if (!isnan(r->size_bytes) &&
            (!small || r->size_bytes < small->size_bytes ||
             (r->size_bytes == small->size_bytes &&
              better_tied(r, small, r->latency_ms_median, small->latency_ms_median))))
            small = r;
    }
    *fastest = fast;
    *smallest = small;
}
