/* Mixed-precision bit allocation by dynamic programming (see bitalloc.h). */
#include "bitalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TABLE (1u << 18) /* sizes (in units) the table may span */

static uint64_t units(uint64_t bytes, uint64_t unit) { return (bytes + unit - 1) / unit; }

static qb_status check_layers(const qb_bitalloc_layer *l, int n)
{
    if (n < 1) return qb_error(QB_ERR_ARG, "bit allocation: no layers");
    for (int i = 0; i < n; i++) {
        if (l[i].n_options < 1 || l[i].n_options > 64)
            return qb_error(QB_ERR_ARG, "bit allocation: layer %d has %d options (1 to 64)", i,
                            l[i].n_options);
        for (int o = 0; o < l[i].n_options; o++)
            if (!isfinite(l[i].cost[o]))
                return qb_error(QB_ERR_ARG, "bit allocation: layer %d, %d bits: sensitivity %g is "
                                "not finite", i, l[i].bits[o], l[i].cost[o]);
    }
    return QB_OK;
}

void qb_bitalloc_frontier_free(qb_bitalloc_frontier *f)
{
    if (!f) return;
    free(f->points);
    free(f->choices);
    memset(f, 0, sizeof *f);
}

static int by_size(const void *a, const void *b)
{
    const qb_bitalloc_point *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? -1 : 1;
    return x->cost < y->cost ? -1 : x->cost > y->cost;
}

qb_status qb_bitalloc_frontier_build(const qb_bitalloc_layer *l, int n, uint64_t unit,
                                     qb_bitalloc_frontier *f)
{
    memset(f, 0, sizeof *f);
    qb_status s = check_layers(l, n);
    if (s != QB_OK) return s;
    uint64_t max_bytes = 0;
    for (int i = 0; i < n; i++) {
        uint64_t m = 0;
        for (int o = 0; o < l[i].n_options; o++)
            if (l[i].size[o] > m) m = l[i].size[o];
        max_bytes += m;
    }
    if (unit == 0) unit = max_bytes / MAX_TABLE + 1;
    uint64_t span = 0;
    for (int i = 0; i < n; i++) {
        uint64_t m = 0;
        for (int o = 0; o < l[i].n_options; o++)
            if (units(l[i].size[o], unit) > m) m = units(l[i].size[o], unit);
        span += m;
    }
    if (span >= 4 * (uint64_t)MAX_TABLE)
        return qb_error(QB_ERR_ARG, "bit allocation: %llu size steps of %llu bytes is too fine; "
                        "use a larger unit", (unsigned long long)span, (unsigned long long)unit);
    size_t S = (size_t)span + 1;
    double *prev = qb_malloc(S, sizeof *prev), *cur = qb_malloc(S, sizeof *cur);
    uint8_t *choice = qb_malloc((size_t)n * S, 1);
    int *frontier = qb_malloc(S, sizeof *frontier);
    if (!prev || !cur || !choice || !frontier) {
        s = QB_ERR_NOMEM;
        goto done;
    }
    for (size_t k = 0; k < S; k++) prev[k] = INFINITY;
    prev[0] = 0;
    for (int i = 0; i < n; i++) {
        uint8_t *ch = choice + (size_t)i * S;
        for (size_t k = 0; k < S; k++) {
            cur[k] = INFINITY;
            ch[k] = 0;
        }
        for (int o = 0; o < l[i].n_options; o++) {
            size_t u = (size_t)units(l[i].size[o], unit);
            double c = l[i].cost[o];
            for (size_t k = u; k < S; k++)
                if (prev[k - u] + c < cur[k]) {
                    cur[k] = prev[k - u] + c;
                    ch[k] = (uint8_t)o;
                }
        }
        double *t = prev;
        prev = cur;
        cur = t;
    }
    int np = 0;
    double best = INFINITY;
    for (size_t k = 0; k < S; k++)
        if (prev[k] < best) {
            best = prev[k];
            frontier[np++] = (int)k;
        }
    f->n_layers = n;
    f->points = qb_calloc((size_t)np, sizeof *f->points);
    f->choices = qb_malloc((size_t)np * (size_t)n, sizeof *f->choices);
    if (!f->points || !f->choices) {
        s = QB_ERR_NOMEM;
        goto done;
    }
    for (int p = 0; p < np; p++) {
        qb_bitalloc_point *pt = &f->points[p];
        pt->choice = f->choices + (size_t)p * (size_t)n;
        size_t k = (size_t)frontier[p];
        for (int i = n - 1; i >= 0; i--) {
            int o = choice[(size_t)i * S + k];
            pt->choice[i] = o;
            pt->size += l[i].size[o];
            pt->cost += l[i].cost[o];
            k -= (size_t)units(l[i].size[o], unit);
        }
    }
    /* exact sizes can reorder points that rounding made look alike */
    qsort(f->points, (size_t)np, sizeof *f->points, by_size);
    int kept = 0;
    best = INFINITY;
    for (int p = 0; p < np; p++)
        if (f->points[p].cost < best) {
            best = f->points[p].cost;
            f->points[kept++] = f->points[p];
        }
    f->n_points = kept;
done:
    free(prev);
    free(cur);
    free(choice);
    free(frontier);
    if (s != QB_OK) qb_bitalloc_frontier_free(f);
    return s;
}

qb_status qb_bitalloc_for_size(const qb_bitalloc_frontier *f, uint64_t budget, int *point)
{
    *point = -1;
    for (int p = 0; p < f->n_points && f->points[p].size <= budget; p++) *point = p;
    if (*point < 0)
        return qb_error(QB_ERR_ARG, "no bit allocation fits in %llu bytes (the smallest takes %llu)",
                        (unsigned long long)budget,
                        (unsigned long long)(f->n_points ? f->points[0].size : 0));
    return QB_OK;
}

qb_status qb_bitalloc_for_cost(const qb_bitalloc_frontier *f, double budget, int *point)
{
    *point = -1;
    for (int p = 0; p < f->n_points; p++)
        if (f->points[p].cost <= budget) {
            *point = p;
            return QB_OK;
        }
    return qb_error(QB_ERR_ARG, "no bit allocation keeps the sensitivity within %g (the least is %g)",
                    budget, f->n_points ? f->points[f->n_points - 1].cost : NAN);
}
