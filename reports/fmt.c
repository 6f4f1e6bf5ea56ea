/* Number formatting for tables (see fmt.h). */
#include "fmt.h"

#include <math.h>
#include <stdio.h>

#define DASH "\xe2\x80\x94" /* em dash, UTF-8 */

const char *qb_fmt(char *buf, size_t len, const char *fmt, double v)
{
    if (isnan(v)) snprintf(buf, len, DASH);
    else snprintf(buf, len, fmt, v);
    return buf;
}

const char *qb_fmt_bytes(char *buf, size_t len, double bytes)
{
    if (isnan(bytes)) snprintf(buf, len, DASH);
    else if (bytes < 1024) snprintf(buf, len, "%.0f B", bytes);
    else if (bytes < 1024.0 * 1024) snprintf(buf, len, "%.1f KiB", bytes / 1024);
    else if (bytes < 1024.0 * 1024 * 1024) snprintf(buf, len, "%.2f MiB", bytes / (1024.0 * 1024));
    else snprintf(buf, len, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
    return buf;
}

const char *qb_fmt_ci(char *buf, size_t len, const char *fmt, double v, double lo, double hi)
{
    char a[64], b[64], c[64];
    if (isnan(v)) snprintf(buf, len, DASH);
    else if (isnan(lo) || isnan(hi)) snprintf(buf, len, "%s", qb_fmt(a, sizeof a, fmt, v));
    else
        snprintf(buf, len, "%s [%s, %s]", qb_fmt(a, sizeof a, fmt, v), qb_fmt(b, sizeof b, fmt, lo),
                 qb_fmt(c, sizeof c, fmt, hi));
    return buf;
}

const char *qb_fmt_p(char *buf, size_t len, double p)
{
    if (isnan(p)) snprintf(buf, len, DASH);
    else if (p < 1e-6) snprintf(buf, len, "<1e-6");
    else if (p < 0.001) snprintf(buf, len, "%.1e", p);
    else snprintf(buf, len, "%.4f", p);
    return buf;
}

const char *qb_fmt_pct(char *buf, size_t len, double fraction)
{
    if (isnan(fraction)) snprintf(buf, len, DASH);
    else snprintf(buf, len, "%+.1f%%", 100 * fraction);
    return buf;
}
