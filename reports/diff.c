/* Joining two runs and judging each cell (see diff.h). */
#include "diff.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

void qb_diff_defaults(qb_diff_opts *o, qb_metric metric)
{
    o->max_slowdown = 0.05;
    o->max_drop = 0.2;
    o->alpha = 0.01;
    o->metric = metric;
}

const char *qb_metric_name(qb_metric m) { return m == QB_METRIC_SPEEDUP ? "speedup" : "latency"; }

const char *qb_verdict_name(qb_verdict v)
{
    static const char *const names[] = {"unchanged", "improved", "regressed", "new", "missing"};
    return v < QB_VERDICTS ? names[v] : "?";
}

qb_status qb_diff_compatible(const qb_run *base, const qb_run *cur, int allow_spec_change)
{
    const char *a = qb_run_meta(base, "spec_hash"), *b = qb_run_meta(cur, "spec_hash");
    if (allow_spec_change || !a || !b || !*a || !*b || strcmp(a, b) == 0) return QB_OK;
    return qb_error(QB_ERR_ARG, "%s and %s come from different sweep specs (spec_hash %s vs %s), "
                    "so their cells are not the same set; record a new baseline with the "
                    "current spec, or pass --allow-spec-change to compare the cells they share",
                    base->dir, cur->dir, a, b);
}

/* Samples scaled for the metric: as measured (latency), or divided by the
 * run's fp32 median on the same placement (speedup), which is the row's
 * speedup times its own median. */
static double *scaled_samples(const qb_result *r, qb_metric m)
{
    double *v = malloc((r->n_samples ? r->n_samples : 1) * sizeof *v);
    if (!v) return NULL;
    double div = m == QB_METRIC_SPEEDUP ? r->speedup * r->latency_ms_median : 1;
    for (size_t i = 0; i < r->n_samples; i++) v[i] = r->samples[i] / div;
    return v;
}

static int significant(double p, double alpha) { return isnan(p) || p < alpha; }

static void compare_time(qb_cell_diff *c, const qb_diff_opts *o)
{
    const qb_result *b = c->base, *k = c->cur;
    c->latency_change = k->latency_ms_median / b->latency_ms_median - 1;
    c->metric = o->metric;
    if (c->metric == QB_METRIC_SPEEDUP && (isnan(b->speedup) || isnan(k->speedup) ||
                                           !(b->speedup > 0) || !(k->speedup > 0)))
        c->metric = QB_METRIC_LATENCY;
    if (c->metric == QB_METRIC_SPEEDUP) {
        c->base_value = b->speedup;
        c->cur_value = k->speedup;
        c->ratio = b->speedup / k->speedup;
    } else {
        c->base_value = b->latency_ms_median;
        c->cur_value = k->latency_ms_median;
        c->ratio = k->latency_ms_median / b->latency_ms_median;
    }
    c->p_time = NAN;
    if (b->n_samples && k->n_samples) {
        double *x = scaled_samples(k, c->metric), *y = scaled_samples(b, c->metric);
        qb_mann_whitney mw;
        if (x && y && qb_mann_whitney_test(x, k->n_samples, y, b->n_samples, &mw) == 0)
            c->p_time = mw.p_two_sided;
        free(x);
        free(y);
    }
    if (isnan(c->ratio) || !significant(c->p_time, o->alpha)) return;
    if (c->ratio > 1 + o->max_slowdown) c->time_change = 1;
    else if (c->ratio < 1 / (1 + o->max_slowdown)) c->time_change = -1;
    if (c->time_change) c->severity = fmax(c->severity, fabs(log(c->ratio)) / log1p(o->max_slowdown));
}

/* Images right in base but wrong in cur (lost) and the reverse (gained). */
static void discordant(const qb_result *b, const qb_result *k, long long *lost, long long *gained)
{
    long long l = 0, g = 0;
    size_t bytes = (size_t)(b->n_outcomes + 7) / 8;
    for (size_t i = 0; i < bytes; i++) {
        l += __builtin_popcount((unsigned)(b->outcomes[i] & ~k->outcomes[i] & 0xff));
        g += __builtin_popcount((unsigned)(~b->outcomes[i] & k->outcomes[i] & 0xff));
    }
    *lost = l;
    *gained = g;
}

static void compare_accuracy(qb_cell_diff *c, const qb_diff_opts *o)
{
    const qb_result *b = c->base, *k = c->cur;
    c->acc_change = k->accuracy - b->accuracy;
    c->p_acc = NAN;
    c->acc_test = "none";
    if (isnan(c->acc_change)) return;
    if (b->outcomes && k->outcomes && b->n_outcomes == k->n_outcomes) {
        qb_mcnemar m;
        discordant(b, k, &c->lost, &c->gained);
        qb_mcnemar_test(c->lost, c->gained, &m);
        c->p_acc = m.p_mid;
        c->acc_test = "McNemar mid-p";
    } else if (!isnan(b->drop_ci_low) && !isnan(b->drop_ci_high) && !isnan(k->drop_ci_low) &&
               !isnan(k->drop_ci_high)) {
        /* 95% intervals are +-1.96 standard errors; the runs are independent. */
        double sb = (b->drop_ci_high - b->drop_ci_low) / (2 * 1.959964);
        double sk = (k->drop_ci_high - k->drop_ci_low) / (2 * 1.959964);
        double se = sqrt(sb * sb + sk * sk);
        c->p_acc = se > 0 ? 2 * qb_norm_cdf(-fabs(c->acc_change) / se) : (c->acc_change ? 0 : 1);
        c->acc_test = "z from drop CIs";
    }
    if (!significant(c->p_acc, o->alpha)) return;
    if (-c->acc_change > o->max_drop) c->acc_change_sign = 1;
    else if (c->acc_change > o->max_drop) c->acc_change_sign = -1;
    if (c->acc_change_sign && o->max_drop > 0)
        c->severity = fmax(c->severity, fabs(c->acc_change) / o->max_drop);
}

void qb_diff_cell(qb_cell_diff *c, const qb_diff_opts *o)
{
    c->ratio = c->p_time = c->p_acc = c->acc_change = c->latency_change = NAN;
    c->base_value = c->cur_value = NAN;
    c->acc_test = "none";
    c->metric = o->metric;
    if (!c->cur) {
        c->verdict = QB_MISSING;
        c->severity = 1e8;
        return;
    }
    if (!c->base) {
        c->verdict = QB_NEW;
        return;
    }
    int bok = qb_result_ok(c->base), cok = qb_result_ok(c->cur);
    if (bok != cok) {
        c->status_change = bok ? 1 : -1;
        c->verdict = bok ? QB_REGRESSED : QB_IMPROVED;
        c->severity = bok ? 1e9 : 0;
        return;
    }
    if (!bok) {
        c->verdict = QB_UNCHANGED; /* failing in both */
        return;
    }
    compare_time(c, o);
    compare_accuracy(c, o);
    if (c->time_change > 0 || c->acc_change_sign > 0) c->verdict = QB_REGRESSED;
    else if (c->time_change < 0 || c->acc_change_sign < 0) c->verdict = QB_IMPROVED;
    else c->verdict = QB_UNCHANGED;
}

qb_status qb_diff_runs(const qb_run *base, const qb_run *cur, const qb_diff_opts *o,
                       qb_diff *out)
{
    memset(out, 0, sizeof *out);
    out->opts = *o;
    out->cells = qb_calloc(base->n_results + cur->n_results + 1, sizeof *out->cells);
    if (!out->cells) return QB_ERR_NOMEM;
    for (size_t i = 0; i < base->n_results; i++) {
        qb_cell_diff *c = &out->cells[out->n++];
        c->base = &base->results[i];
        c->cur = qb_run_find(cur, c->base->id);
    }
    for (size_t i = 0; i < cur->n_results; i++)
        if (!qb_run_find(base, cur->results[i].id)) out->cells[out->n++].cur = &cur->results[i];
    out->smallest_p = 1;
    for (size_t i = 0; i < out->n; i++) {
        qb_cell_diff *c = &out->cells[i];
        qb_diff_cell(c, o);
        out->count[c->verdict]++;
        /* Mann-Whitney cannot go below 2 / C(n+m, n): with few repetitions
         * and a small alpha no slowdown can ever be significant. */
        if (c->base && c->cur && c->base->n_samples && c->cur->n_samples && !isnan(c->ratio)) {
            double n = (double)c->base->n_samples, m = (double)c->cur->n_samples;
            double pmin = 2 * exp(lgamma(n + 1) + lgamma(m + 1) - lgamma(n + m + 1));
            if (pmin >= o->alpha) {
                out->too_few_reps++;
                out->smallest_p = fmin(out->smallest_p, pmin);
            }
        }
    }
    return QB_OK;
}

void qb_diff_free(qb_diff *d)
{
    free(d->cells);
    memset(d, 0, sizeof *d);
}

static int by_severity(const void *pa, const void *pb, void *ctx)
{
    const qb_diff *d = ctx;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    double sa = d->cells[a].severity, sb = d->cells[b].severity;
    if (sa != sb) return sa > sb ? -1 : 1;
    return (a > b) - (a < b);
}

size_t qb_diff_select(const qb_diff *d, unsigned verdicts, size_t *idx)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++)
        if (verdicts & QB_BIT(d->cells[i].verdict)) idx[n++] = i;
    qsort_r(idx, n, sizeof *idx, by_severity, (void *)d);
    return n;
}

static void append(char *buf, size_t len, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
    if (*used >= len) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, len - *used, fmt, ap);
    va_end(ap);
    if (n > 0) *used += (size_t)n;
}

const char *qb_diff_describe(const qb_cell_diff *c, char *buf, size_t len)
{
    const qb_result *r = c->cur ? c->cur : c->base;
    char cfg[128];
    size_t used = 0;
    buf[0] = '\0';
    append(buf, len, &used, "%s %s @ %s/%s [%s]: ", r->model, qb_result_config(r, cfg, sizeof cfg),
           r->placement, r->scenario, r->cell_id);
    if (c->verdict == QB_MISSING) {
        append(buf, len, &used, "in the baseline, missing from the current run");
        return buf;
    }
    if (c->verdict == QB_NEW) {
        append(buf, len, &used, "new in the current run");
        return buf;
    }
    if (c->status_change) {
        const qb_result *bad = c->status_change > 0 ? c->cur : c->base;
        append(buf, len, &used, "status %s -> %s%s%s", c->base->status, c->cur->status,
               *bad->status_detail ? " (" : "", bad->status_detail);
        if (*bad->status_detail) append(buf, len, &used, ")");
        return buf;
    }
    if (!qb_result_ok(c->base)) {
        append(buf, len, &used, "not finished in either run (%s)", c->cur->status);
        return buf;
    }
    const char *sep = "";
    if (!isnan(c->ratio)) {
        int slower = c->ratio >= 1;
        double pct = 100 * (slower ? c->ratio - 1 : 1 / c->ratio - 1);
        const char *unit = c->metric == QB_METRIC_SPEEDUP ? "x" : " ms";
        char ptxt[48];
        if (isnan(c->p_time)) snprintf(ptxt, sizeof ptxt, "no samples to test");
        else snprintf(ptxt, sizeof ptxt, "Mann-Whitney p = %.2g", c->p_time);
        append(buf, len, &used, "%.1f%% %s by %s (%.4g%s -> %.4g%s, %s)", pct,
               slower ? "slower" : "faster", qb_metric_name(c->metric), c->base_value, unit,
               c->cur_value, unit, ptxt);
        sep = "; ";
    }
    if (!isnan(c->acc_change)) {
        append(buf, len, &used, "%saccuracy %+.2f pp (%.2f%% -> %.2f%%, %s", sep, c->acc_change,
               c->base->accuracy, c->cur->accuracy, c->acc_test);
        if (!isnan(c->p_acc))
            append(buf, len, &used, "%s%.2g", strncmp(c->acc_test, "McNemar", 7) == 0 ? " = " : ": p = ",
                   c->p_acc);
        append(buf, len, &used, ")");
    }
    return buf;
}
