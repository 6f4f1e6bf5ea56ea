/* Temp-file-then-rename writer (see safefile.h). */
#include "safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dup_dirname(const char *path)
{
    char *copy = strdup(path);
    if (!copy) return NULL;
    char *d = strdup(dirname(copy));
    free(copy);
    return d;
}

qb_status qb_safefile_open(qb_safefile *f, const char *path)
{
    memset(f, 0, sizeof *f);
    size_t n = strlen(path);
    f->path = strdup(path);
    f->tmp_path = malloc(n + 16);
    if (!f->path || !f->tmp_path) {
        qb_safefile_abort(f);
        return qb_error(QB_ERR_NOMEM, "out of memory");
    }
    snprintf(f->tmp_path, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(f->tmp_path);
    if (fd < 0) {
        qb_status s = qb_error(QB_ERR_IO, "%s: cannot create a file there (%s); "
                               "check that the folder exists and is writable",
                               path, strerror(errno));
        free(f->tmp_path);
        f->tmp_path = NULL;
        qb_safefile_abort(f);
        return s;
    }
    fchmod(fd, 0644);
    f->fp = fdopen(fd, "wb");
    if (!f->fp) {
        close(fd);
        qb_safefile_abort(f);
        return qb_error(QB_ERR_IO, "%s: %s", path, strerror(errno));
    }
    return QB_OK;
}

qb_status qb_safefile_commit(qb_safefile *f)
{
    qb_status s = QB_OK;
    if (fflush(f->fp) != 0 || ferror(f->fp) || fsync(fileno(f->fp)) != 0) {
        s = qb_error(QB_ERR_IO, "%s: write failed (%s); the previous file, if any, is unchanged",
                     f->path, strerror(errno));
        qb_safefile_abort(f);
        return s;
    }
    fclose(f->fp);
    f->fp = NULL;
    if (rename(f->tmp_path, f->path) != 0) {
        s = qb_error(QB_ERR_IO, "%s: cannot rename into place (%s)", f->path, strerror(errno));
        qb_safefile_abort(f);
        return s;
    }
    char *dir = dup_dirname(f->path);
    if (dir) {
        qb_fsync_dir(dir);
        free(dir);
    }
    free(f->path);
    free(f->tmp_path);
    f->path = f->tmp_path = NULL;
    return QB_OK;
}

void qb_safefile_abort(qb_safefile *f)
{
    if (f->fp) fclose(f->fp);
    if (f->tmp_path) unlink(f->tmp_path);
    free(f->path);
    free(f->tmp_path);
    memset(f, 0, sizeof *f);
}

qb_status qb_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return qb_error(QB_ERR_IO, "%s: %s", dir, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? QB_OK : qb_error(QB_ERR_IO, "%s: fsync: %s", dir, strerror(errno));
}
