/* Merge of run folders (see merge.h). */
#include "merge.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "csvio.h"
#include "meta.h"
#include "results.h"
#include "runfolder.h"
#include "safefile.h"
#include "strset.h"

static char *join_path(const char *dir, const char *name)
{
    char *p;
    return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

static qb_status check_out_empty(const char *out)
{
    DIR *d = opendir(out);
    if (!d) return errno == ENOENT ? QB_OK : qb_error(QB_ERR_IO, "-o %s: %s", out, strerror(errno));
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) empty = 0;
    closedir(d);
    return empty ? QB_OK : qb_error(QB_ERR_ARG, "-o %s: folder exists and is not empty; merge into "
                                    "a new folder", out);
}

static qb_status write_line(FILE *fp, qb_csv_line *l, char **f, int n)
{
    qb_csv_line_reset(l);
    for (int j = 0; j < n; j++) qb_csv_str(l, f[j]);
    qb_csv_end(l);
    qb_status s = qb_csv_line_status(l);
    if (s == QB_OK) fwrite(l->buf, 1, l->len, fp);
    return s;
}

static qb_status copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in) return qb_error(QB_ERR_IO, "%s: %s", from, strerror(errno));
    qb_safefile f;
    qb_status s = qb_safefile_open(&f, to);
    char buf[65536];
    size_t n;
    while (s == QB_OK && (n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, f.fp);
    fclose(in);
    return s == QB_OK ? qb_safefile_commit(&f) : s;
}

/* Speedup of every row against the fp32 row of its model, placement,
 * scenario and batch, across all merged runs. */
static void recompute_speedups(qb_csv_records *t, int nt)
{
    const qb_csv_records *h = &t[0];
    int c_scheme = qb_csv_records_col(h, "scheme"), c_model = qb_csv_records_col(h, "model"),
        c_pl = qb_csv_records_col(h, "placement"), c_sc = qb_csv_records_col(h, "scenario"), c_b = qb_csv_records_col(h, "batch"),
        c_med = qb_csv_records_col(h, "latency_ms_median"), c_sp = qb_csv_records_col(h, "speedup"),
        c_st = qb_csv_records_col(h, "status");
    if (c_sp < 0 || c_med < 0) return;
    for (int a = 0; a < nt; a++)
        for (int r = 1; r < t[a].n; r++) {
            double med = atof(qb_csv_records_get(&t[a], r, c_med)), base = NAN;
            for (int b = 0; b < nt && isnan(base); b++)
                for (int q = 1; q < t[b].n; q++) {
                    if (strcmp(qb_csv_records_get(&t[b], q, c_scheme), "fp32") != 0 ||
                        strcmp(qb_csv_records_get(&t[b], q, c_st), "ok") != 0)
                        continue;
                    int same = 1;
                    const int cols[] = {c_model, c_pl, c_sc, c_b};
                    for (int k = 0; k < 4; k++)
                        same &= strcmp(qb_csv_records_get(&t[a], r, cols[k]), qb_csv_records_get(&t[b], q, cols[k])) == 0;
                    if (same) {
                        base = atof(qb_csv_records_get(&t[b], q, c_med));
                        break;
                    }
                }
            double sp = qb_speedup(base, med);
            char buf[40] = "";
            if (isfinite(sp)) snprintf(buf, sizeof buf, "%.9g", sp);
            char *copy = strdup(buf);
            if (!copy) continue;
            free(t[a].rec[r].f[c_sp]);
            t[a].rec[r].f[c_sp] = copy;
        }
}

/* Writes `name` of every run into out/name: one header, the rows of the
 * merged cells. */
static qb_status merge_plain(const char *const *runs, int n, const char *out, const char *name,
                             const qb_strset *cells)
{
    char *path = join_path(out, name);
    if (!path) return qb_error(QB_ERR_NOMEM, "out of memory");
    qb_safefile f;
    qb_status s = qb_safefile_open(&f, path);
    free(path);
    qb_csv_line l = {0};
    int header_done = 0;
    for (int i = 0; i < n && s == QB_OK; i++) {
        char *p = join_path(runs[i], name);
        qb_csv_records t;
        s = p ? qb_csv_read_records(p, &t) : QB_ERR_NOMEM;
        free(p);
        if (s != QB_OK) break;
        for (int r = header_done; r < t.n && s == QB_OK; r++)
            if (r == 0 || qb_strset_has(cells, t.rec[r].f[0])) s = write_line(f.fp, &l, t.rec[r].f, t.rec[r].n);
        header_done = header_done || t.n > 0;
        qb_csv_records_free(&t);
    }
    qb_csv_line_free(&l);
    if (s != QB_OK) {
        if (f.fp) qb_safefile_abort(&f);
        return s;
    }
    return qb_safefile_commit(&f);
}

qb_status qb_merge_runs(const char *const *runs, int n, const char *out, FILE *log)
{
    if (n < 1) return qb_error(QB_ERR_ARG, "qbench merge: give at least one run folder");
    qb_meta *metas = qb_calloc((size_t)n, sizeof *metas);
    qb_csv_records *tables = qb_calloc((size_t)n, sizeof *tables);
    qb_strset cells = {0};
    qb_csv_line l = {0};
    qb_status s = metas && tables ? QB_OK : QB_ERR_NOMEM;
    for (int i = 0; i < n && s == QB_OK; i++) {
        char *mp = join_path(runs[i], "meta.csv");
        struct stat st;
        s = !mp ? QB_ERR_NOMEM
            : stat(mp, &st) == 0 ? qb_runmeta_read(mp, &metas[i])
                                 : qb_error(QB_ERR_ARG, "%s: no meta.csv; not a qbench run folder", runs[i]);
        free(mp);
        if (s != QB_OK) break;
        const char *keys[] = {"spec_hash", "qbench_version"};
        const char *what[] = {"another spec", "another qbench version"};
        for (int k = 0; k < 2 && s == QB_OK && i > 0; k++) {
            const char *a = qb_meta_get(&metas[0], keys[k]), *b = qb_meta_get(&metas[i], keys[k]);
            if (!a || !b || strcmp(a, b) != 0)
                s = qb_error(QB_ERR_ARG, "%s comes from %s than %s (%s %s vs %s); only shards of one "
                             "sweep can be merged", runs[i], what[k], runs[0], keys[k], b ? b : "missing",
                             a ? a : "missing");
        }
        if (s != QB_OK) break;
        const char *ga = qb_meta_get(&metas[0], "git_commit"), *gb = qb_meta_get(&metas[i], "git_commit");
        if (log && i > 0 && ga && gb && strcmp(ga, gb) != 0)
            fprintf(log, "qbench merge: note: %s was built from commit %s, %s from %s\n", runs[0], ga,
                    runs[i], gb);
        char *rp = join_path(runs[i], "results.csv");
        s = rp ? qb_csv_read_records(rp, &tables[i]) : QB_ERR_NOMEM;
        if (s == QB_OK && tables[i].partial)
            s = qb_error(QB_ERR_ARG, "%s: ends in an unfinished row (the sweep was killed); run "
                         "`qbench sweep --resume %s` first", rp, runs[i]);
        if (s == QB_OK && tables[i].n < 1) s = qb_error(QB_ERR_FORMAT, "%s: no header", rp);
        if (s == QB_OK && i > 0) {
            int same = tables[i].rec[0].n == tables[0].rec[0].n;
            for (int j = 0; same && j < tables[0].rec[0].n; j++)
                same = strcmp(tables[i].rec[0].f[j], tables[0].rec[0].f[j]) == 0;
            if (!same) s = qb_error(QB_ERR_FORMAT, "%s: other columns than %s/results.csv", rp, runs[0]);
        }
        for (int r = 1; r < tables[i].n && s == QB_OK; r++) {
            int added;
            s = qb_strset_add(&cells, tables[i].rec[r].f[0], &added);
            if (s == QB_OK && !added)
                s = qb_error(QB_ERR_ARG, "%s:%d: cell %s is in an earlier run too; merge each shard once",
                             rp, tables[i].rec[r].line, tables[i].rec[r].f[0]);
        }
        free(rp);
    }
    if (s == QB_OK) s = check_out_empty(out);
    if (s == QB_OK) s = qb_mkdirs("-o", out);
    if (s == QB_OK) {
        recompute_speedups(tables, n);
        char *rp = join_path(out, "results.csv");
        qb_safefile f;
        s = rp ? qb_safefile_open(&f, rp) : QB_ERR_NOMEM;
        free(rp);
        for (int i = 0; i < n && s == QB_OK; i++)
            for (int r = i == 0 ? 0 : 1; r < tables[i].n && s == QB_OK; r++)
                s = write_line(f.fp, &l, tables[i].rec[r].f, tables[i].rec[r].n);
        if (s == QB_OK) s = qb_safefile_commit(&f);
        else if (f.fp) qb_safefile_abort(&f);
    }
    if (s == QB_OK) s = merge_plain(runs, n, out, "samples.csv", &cells);
    if (s == QB_OK) s = merge_plain(runs, n, out, "outcomes.csv", &cells);
    if (s == QB_OK) {
        char *from = join_path(runs[0], "topology.xml"), *to = join_path(out, "topology.xml");
        s = from && to ? copy_file(from, to) : QB_ERR_NOMEM;
        free(from);
        free(to);
    }
    if (s == QB_OK) {
        size_t len = 1;
        for (int i = 0; i < n; i++) len += strlen(runs[i]) + 1;
        char *list = calloc(len, 1);
        for (int i = 0; list && i < n; i++) {
            if (i) strcat(list, ";");
            strcat(list, runs[i]);
        }
        s = list ? qb_meta_set(&metas[0], "shard", "") : QB_ERR_NOMEM;
        if (s == QB_OK) s = qb_meta_set(&metas[0], "merged_from", list);
        free(list);
        char *mp = join_path(out, "meta.csv");
        if (s == QB_OK) s = mp ? qb_runmeta_write(&metas[0], mp) : QB_ERR_NOMEM;
        free(mp);
    }
    for (int i = 0; i < n; i++) {
        if (metas) qb_meta_free(&metas[i]);
        if (tables) qb_csv_records_free(&tables[i]);
    }
    free(metas);
    free(tables);
    qb_strset_free(&cells);
    qb_csv_line_free(&l);
    return s;
}
