/* The run folder on disk: results/<YYYYmmdd-HHMMSS>/ with meta.csv,
 * topology.xml, results.csv, samples.csv, outcomes.csv, and the symlink
 * results/latest (docs/csv-schema.md).
 *
 * Crash safety: headers, meta.csv and topology.xml are written whole (temp
 * file + rename); rows are appended with one write() per file per cell and
 * fsync'ed - samples and outcomes first, the results row last, so a cell
 * counts as done exactly when its results row is on disk. Opening a run
 * for --resume repairs what a SIGKILL can leave: a cut last record is
 * truncated, samples/outcomes rows of cells without a results row are
 * dropped. A lock file keeps two sweeps out of one folder. */
#ifndef QB_RUNFOLDER_H
#define QB_RUNFOLDER_H

#include <stddef.h>
#include "csvio.h"
#include "meta.h"
#include "status.h"
#include "topo.h"

enum { QB_RUN_RESULTS, QB_RUN_SAMPLES, QB_RUN_OUTCOMES, QB_RUN_NFILES };

typedef struct {
    char *dir;
    int fd[QB_RUN_NFILES];
    int lock_fd;
} qb_run;

/* File name of one of the appendable files ("results.csv", ...). */
const char *qb_run_file_name(int file);

/* Creates parent/<UTC timestamp>[-k]/ (and parent if needed) with
 * topology.xml, the CSV headers and meta.csv, points parent/latest at it,
 * and opens the CSV files for appending. results_header is the full header
 * line of results.csv. */
qb_status qb_run_create(qb_run *run, const char *parent, const qb_meta *meta, const qb_topo *topo,
                        const char *results_header);

/* QB_OK when `dir` is a run of this spec and shard (reads meta.csv only);
 * else QB_ERR_ARG saying what differs. */
qb_status qb_run_check(const char *dir, const char *spec_hash, const char *shard);

/* Opens an existing run for --resume. Refuses (QB_ERR_ARG) a folder whose
 * meta.csv has another spec_hash or shard; repairs the CSV files; returns
 * the results table (caller frees) so the caller can skip finished cells. */
qb_status qb_run_open(qb_run *run, const char *dir, const char *spec_hash, const char *shard,
                      const char *results_header, qb_csv_records *results);

/* Appends bytes to one file in one write and fsyncs it. */
qb_status qb_run_append(qb_run *run, int file, const char *data, size_t len);
void qb_run_close(qb_run *run);

/* Points parent/latest at `dir` (a relative symlink, replaced atomically). */
qb_status qb_run_link_latest(const char *parent, const char *dir);

/* mkdir -p; the error names `what` (a flag) and the path. */
qb_status qb_mkdirs(const char *what, const char *path);

#endif
