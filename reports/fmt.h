/* Numbers for people: fixed decimals, sizes in KiB/MiB, and a dash for
 * "not measured" (NaN), so every table prints missing values the same way. */
#ifndef QB_FMT_H
#define QB_FMT_H

#include <stddef.h>

/* printf-formats one double (fmt like "%.2f"); "—" when v is NaN. */
const char *qb_fmt(char *buf, size_t len, const char *fmt, double v);
/* "918.5 KiB", "1.2 MiB", "512 B"; "—" when NaN. */
const char *qb_fmt_bytes(char *buf, size_t len, double bytes);
/* A value with its interval: "0.71 [0.54, 0.88]"; the interval is left out
 * when either end is NaN. */
const char *qb_fmt_ci(char *buf, size_t len, const char *fmt, double v, double lo, double hi);
/* A p-value: "0.0079", "<1e-6"; "—" when NaN. */
const char *qb_fmt_p(char *buf, size_t len, double p);
/* A signed percentage: "+23.4%", "-5.0%"; "—" when NaN. */
const char *qb_fmt_pct(char *buf, size_t len, double fraction);

#endif
