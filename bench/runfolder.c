/* Run folder creation, crash-safe appends and repair on resume (see runfolder.h). */
#include "runfolder.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "results.h"
#include "safefile.h"
#include "strset.h"

static const char *const file_names[QB_RUN_NFILES] = {"results.csv", "samples.csv", "outcomes.csv"};

const char *qb_run_file_name(int file) { return file_names[file]; }

static char *path_join(const char *dir, const char *name)
{
    char *p;
    if (asprintf(&p, "%s/%s", dir, name) < 0) return NULL;
    return p;
}

qb_status qb_mkdirs(const char *what, const char *path)
{
    char *copy = strdup(path);
    if (!copy) return qb_error(QB_ERR_NOMEM, "out of memory");
    qb_status s = QB_OK;
    for (char *p = copy + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        struct stat st;
        if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
            s = qb_error(QB_ERR_IO, "%s %s: cannot create folder %s (%s); choose a writable folder",
                         what, path, copy, strerror(errno));
            break;
        }
        if (stat(copy, &st) != 0 || !S_ISDIR(st.st_mode)) {
            s = qb_error(QB_ERR_IO, "%s %s: %s is not a folder", what, path, copy);
            break;
        }
        *p = c;
        if (c == '\0') break;
    }
    free(copy);
    return s;
}

static qb_status write_whole(const char *dir, const char *name, const char *text)
{
    char *path = path_join(dir, name);
    if (!path) return qb_error(QB_ERR_NOMEM, "out of memory");
    qb_safefile f;
    qb_status s = qb_safefile_open(&f, path);
    free(path);
    if (s != QB_OK) return s;
    fputs(text, f.fp);
    return qb_safefile_commit(&f);
}

static const char *plain_header(int file, qb_csv_line *l)
{
    if (file == QB_RUN_SAMPLES) qb_samples_header(l);
    else qb_outcomes_header(l);
    return l->buf;
}

static qb_status take_lock(qb_run *run)
{
    char *path = path_join(run->dir, ".lock");
    if (!path) return qb_error(QB_ERR_NOMEM, "out of memory");
    run->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    free(path);
    if (run->lock_fd < 0)
        return qb_error(QB_ERR_IO, "%s: cannot create a lock file (%s); is the folder writable?",
                        run->dir, strerror(errno));
    /* a POSIX record lock: unlike flock(), the cells' child processes do not
     * inherit it, so it ends exactly when the sweep's own process does */
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(run->lock_fd, F_SETLK, &fl) != 0)
        return qb_error(QB_ERR_ARG, "%s: another qbench sweep is writing this run folder", run->dir);
    return QB_OK;
}

static qb_status open_appends(qb_run *run)
{
    for (int i = 0; i < QB_RUN_NFILES; i++) {
        char *path = path_join(run->dir, file_names[i]);
        if (!path) return qb_error(QB_ERR_NOMEM, "out of memory");
        run->fd[i] = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (run->fd[i] < 0) {
            qb_status s = qb_error(QB_ERR_IO, "%s: %s", path, strerror(errno));
            free(path);
            return s;
        }
        free(path);
    }
    return QB_OK;
}

static void run_init(qb_run *run)
{
    memset(run, 0, sizeof *run);
    run->lock_fd = -1;
    for (int i = 0; i < QB_RUN_NFILES; i++) run->fd[i] = -1;
}

qb_status qb_run_link_latest(const char *parent, const char *dir)
{
    char *copy = strdup(dir);
    char *tmp = NULL, *link = path_join(parent, "latest");
    if (!copy || !link || asprintf(&tmp, "%s/.latest.%ld", parent, (long)getpid()) < 0) {
        free(copy);
        free(link);
        return qb_error(QB_ERR_NOMEM, "out of memory");
    }
    qb_status s = QB_OK;
    unlink(tmp);
    if (symlink(basename(copy), tmp) != 0 || rename(tmp, link) != 0) {
        s = qb_error(QB_ERR_IO, "%s: cannot point it at %s (%s)", link, dir, strerror(errno));
        unlink(tmp);
    }
    free(copy);
    free(tmp);
    free(link);
    return s;
}

qb_status qb_run_create(qb_run *run, const char *parent, const qb_meta *meta, const qb_topo *topo,
                        const char *results_header)
{
    run_init(run);
    qb_status s = qb_mkdirs("--out", parent);
    if (s != QB_OK) return s;
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    for (int k = 1; k < 1000; k++) {
        char *dir;
        if ((k == 1 ? asprintf(&dir, "%s/%s", parent, stamp) : asprintf(&dir, "%s/%s-%d", parent, stamp, k)) < 0)
            return qb_error(QB_ERR_NOMEM, "out of memory");
        if (mkdir(dir, 0755) == 0) {
            run->dir = dir;
            break;
        }
        int e = errno;
        free(dir);
        if (e != EEXIST)
            return qb_error(QB_ERR_IO, "--out %s: cannot create a run folder there (%s); choose a "
                            "writable folder", parent, strerror(e));
    }
    if (!run->dir) return qb_error(QB_ERR_IO, "--out %s: too many runs started this second", parent);
    qb_csv_line l = {0};
    char *xml = path_join(run->dir, "topology.xml");
    s = xml ? take_lock(run) : qb_error(QB_ERR_NOMEM, "out of memory");
    if (s == QB_OK) s = qb_topo_export_xml(topo, xml);
    free(xml);
    if (s == QB_OK) s = write_whole(run->dir, file_names[QB_RUN_RESULTS], results_header);
    for (int f = QB_RUN_SAMPLES; s == QB_OK && f < QB_RUN_NFILES; f++)
        s = write_whole(run->dir, file_names[f], plain_header(f, &l));
    qb_csv_line_free(&l);
    /* meta.csv last: its presence marks a complete, resumable folder */
    if (s == QB_OK) {
        char *mp = path_join(run->dir, "meta.csv");
        s = mp ? qb_runmeta_write(meta, mp) : qb_error(QB_ERR_NOMEM, "out of memory");
        free(mp);
    }
    if (s == QB_OK) s = open_appends(run);
    if (s == QB_OK) qb_fsync_dir(run->dir);
    if (s == QB_OK) s = qb_run_link_latest(parent, run->dir);
    if (s != QB_OK) qb_run_close(run);
    return s;
}

/* Rewrites `file` keeping the header and the records whose first field is a
 * finished cell (and each (cell, key) once), when anything must go. */
static qb_status repair_plain(qb_run *run, int file, const qb_csv_records *results)
{
    char *path = path_join(run->dir, file_names[file]);
    if (!path) return qb_error(QB_ERR_NOMEM, "out of memory");
    qb_csv_line l = {0};
    struct stat st;
    qb_status s = QB_OK;
    if (stat(path, &st) != 0) { /* never created: start it */
        s = write_whole(run->dir, file_names[file], plain_header(file, &l));
        qb_csv_line_free(&l);
        free(path);
        return s;
    }
    qb_csv_records t;
    s = qb_csv_read_records(path, &t);
    if (s != QB_OK) {
        free(path);
        return qb_error_context(s, "--resume %s", run->dir);
    }
    int drop = t.partial;
    int *keep = qb_calloc((size_t)t.n + 1, sizeof *keep);
    qb_strset done = {0}, seen = {0};
    if (!keep) s = QB_ERR_NOMEM;
    for (int r = 1; s == QB_OK && r < results->n; r++) s = qb_strset_add(&done, results->rec[r].f[0], NULL);
    for (int i = 1; s == QB_OK && i < t.n; i++) {
        /* a row of a finished cell, seen once per (cell, second field) */
        char key[600];
        snprintf(key, sizeof key, "%s\x1f%s", t.rec[i].f[0], t.rec[i].n > 1 ? t.rec[i].f[1] : "");
        int added = 0;
        if (qb_strset_has(&done, t.rec[i].f[0])) s = qb_strset_add(&seen, key, &added);
        keep[i] = added;
        drop |= !added;
    }
    qb_strset_free(&done);
    qb_strset_free(&seen);
    if (s == QB_OK && drop) {
        qb_safefile f;
        s = qb_safefile_open(&f, path);
        for (int i = 0; s == QB_OK && i < t.n; i++) {
            if (i > 0 && !keep[i]) continue;
            qb_csv_line_reset(&l);
            for (int j = 0; j < t.rec[i].n; j++) qb_csv_str(&l, t.rec[i].f[j]);
            qb_csv_end(&l);
            if ((s = qb_csv_line_status(&l)) == QB_OK) fwrite(l.buf, 1, l.len, f.fp);
        }
        if (s == QB_OK && t.n == 0) fputs(plain_header(file, &l), f.fp);
        if (s == QB_OK) s = qb_safefile_commit(&f);
        else qb_safefile_abort(&f);
    }
    free(keep);
    qb_csv_line_free(&l);
    qb_csv_records_free(&t);
    free(path);
    return s;
}

qb_status qb_run_check(const char *dir, const char *spec_hash, const char *shard)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return qb_error(QB_ERR_ARG, "--resume %s: no such run folder", dir);
    char *mp = path_join(dir, "meta.csv");
    if (!mp) return qb_error(QB_ERR_NOMEM, "out of memory");
    qb_meta meta = {0};
    qb_status s = stat(mp, &st) == 0 ? qb_runmeta_read(mp, &meta)
                                     : qb_error(QB_ERR_ARG, "--resume %s: no meta.csv there; not a "
                                                "qbench run folder (or one killed before it started)", dir);
    free(mp);
    if (s != QB_OK) return s;
    const char *h = qb_meta_get(&meta, "spec_hash"), *sh = qb_meta_get(&meta, "shard");
    if (!h || strcmp(h, spec_hash) != 0)
        s = qb_error(QB_ERR_ARG, "--resume %s: this run was made from another spec (spec_hash %s, "
                     "this spec %s); resume with the same spec and flags, or start a new run",
                     dir, h ? h : "missing", spec_hash);
    else if (strcmp(sh ? sh : "", shard ? shard : "") != 0)
        s = qb_error(QB_ERR_ARG, "--resume %s: this run is shard '%s', not '%s'; pass the same --shard",
                     dir, sh ? sh : "", shard ? shard : "");
    qb_meta_free(&meta);
    return s;
}

qb_status qb_run_open(qb_run *run, const char *dir, const char *spec_hash, const char *shard,
                      const char *results_header, qb_csv_records *results)
{
    run_init(run);
    memset(results, 0, sizeof *results);
    struct stat st;
    qb_status s = qb_run_check(dir, spec_hash, shard);
    if (s != QB_OK) return s;
    run->dir = strdup(dir);
    if (!run->dir) return qb_error(QB_ERR_NOMEM, "out of memory");
    if ((s = take_lock(run)) != QB_OK) goto fail;

    char *rp = path_join(dir, file_names[QB_RUN_RESULTS]);
    if (!rp) {
        s = qb_error(QB_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (stat(rp, &st) != 0) {
        s = write_whole(dir, file_names[QB_RUN_RESULTS], results_header);
    }
    if (s == QB_OK) s = qb_csv_read_records(rp, results);
    if (s == QB_OK && (results->n < 1 || strlen(results_header) == 0)) {
        s = qb_error(QB_ERR_FORMAT, "--resume %s: results.csv has no header", dir);
    } else if (s == QB_OK) {
        qb_csv_line l = {0};
        for (int j = 0; j < results->rec[0].n; j++) qb_csv_str(&l, results->rec[0].f[j]);
        qb_csv_end(&l);
        if (l.buf && strcmp(l.buf, results_header) != 0)
            s = qb_error(QB_ERR_FORMAT, "--resume %s: results.csv has other columns than this spec "
                         "writes; was it edited?", dir);
        qb_csv_line_free(&l);
    }
    if (s == QB_OK && results->partial && truncate(rp, (off_t)results->complete_bytes) != 0)
        s = qb_error(QB_ERR_IO, "%s: cannot cut the unfinished last row (%s)", rp, strerror(errno));
    free(rp);
    if (s != QB_OK) goto fail;
    for (int f = QB_RUN_SAMPLES; s == QB_OK && f < QB_RUN_NFILES; f++) s = repair_plain(run, f, results);
    if (s == QB_OK) s = open_appends(run);
    if (s == QB_OK) return QB_OK;
fail:
    qb_csv_records_free(results);
    qb_run_close(run);
    return s;
}

qb_status qb_run_append(qb_run *run, int file, const char *data, size_t len)
{
    int fd = run->fd[file];
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            return qb_error(QB_ERR_IO, "%s/%s: write failed (%s); rows written before are intact",
                            run->dir, file_names[file], w < 0 ? strerror(errno) : "no space?");
        done += (size_t)w;
    }
    if (fsync(fd) != 0)
        return qb_error(QB_ERR_IO, "%s/%s: fsync failed (%s)", run->dir, file_names[file], strerror(errno));
    return QB_OK;
}

void qb_run_close(qb_run *run)
{
    for (int i = 0; i < QB_RUN_NFILES; i++)
        if (run->fd[i] >= 0) close(run->fd[i]);
    if (run->lock_fd >= 0) close(run->lock_fd);
    free(run->dir);
    run_init(run);
}
