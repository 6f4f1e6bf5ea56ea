/* Joining run folders (the shards of one sweep) into one run folder. */
#ifndef QB_MERGE_H
#define QB_MERGE_H

#include <stdio.h>
#include "status.h"

/* Merges `n` run folders into the new folder `out` (created; it must not
 * exist or be empty). Refuses runs of different specs (spec_hash) or qbench
 * versions, runs cut in the middle of a row, and cells present twice.
 * Speedups are recomputed against the fp32 rows of the merged set. Notes
 * (e.g. different git commits) go to `log` when not NULL. */
qb_status qb_merge_runs(const char *const *runs, int n, const char *out, FILE *log);

#endif
