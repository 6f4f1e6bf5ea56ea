/* `qbench check`: the CI gate's verdict on a comparison. A regression is a
 * cell that regressed (stopped finishing, got significantly slower or less
 * accurate beyond the thresholds) or is missing from the current run. The
 * gate writes a Markdown summary (check.md) and JUnit XML (check.xml, one
 * test case per cell) for CI systems. */
#ifndef QB_CHECK_H
#define QB_CHECK_H

#include <stddef.h>
#include "diff.h"
#include "run.h"
#include "status.h"

/* Indices of the regressions, worst first, into `idx` (room for d->n). */
size_t qb_check_regressions(const qb_diff *d, size_t *idx);

/* Writes DIR/check.md and DIR/check.xml. */
qb_status qb_check_write(const qb_diff *d, const qb_run *base, const qb_run *cur,
                         const char *dir);

/* "5%", "5" (percent) or "0.5%": a slowdown threshold as a fraction. */
qb_status qb_parse_percent(const char *what, const char *text, double *out);

#endif
