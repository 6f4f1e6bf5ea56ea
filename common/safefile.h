/* Write a file so that it is never seen half-written: data goes to a
 * temporary file beside the target, is flushed and fsync'ed, then renamed
 * over the target. If anything fails, the target keeps its old contents. */
#ifndef QB_SAFEFILE_H
#define QB_SAFEFILE_H

#include <stdio.h>
#include "status.h"

typedef struct qb_safefile {
    FILE *fp;          /* write through this */
    char *path;        /* final path */
    char *tmp_path;    /* temporary path in the same directory */
} qb_safefile;

/* Opens a temporary file next to `path`. */
qb_status qb_safefile_open(qb_safefile *f, const char *path);
/* Flushes, syncs and renames into place. Frees `f`'s strings either way. */
qb_status qb_safefile_commit(qb_safefile *f);
/* Removes the temporary file and leaves the target untouched. */
void qb_safefile_abort(qb_safefile *f);

/* fsync a directory so a rename or a new file in it survives a crash. */
qb_status qb_fsync_dir(const char *dir);

#endif
