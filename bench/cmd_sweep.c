/* `qbench sweep`: expand a spec into cells and run them into a run folder
 * (or, with --dry-run, print the cells and an estimated time). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "args.h"
#include "commands.h"
#include "grid.h"
#include "meta.h"
#include "runfolder.h"
#include "runner.h"
#include "csvio.h"
#include "strset.h"
#include "spec.h"
#include "spec_default.h"
#include "topo.h"

static const char *const synopsis = "[--spec FILE] [--grids NAMES] [--KEY VALUE...] [--dry-run] [--resume RUN] "
                                    "[--shard i/N] [--out DIR]";

typedef struct {
    const char *spec_path, *grids, *out, *resume, *shard, *topology;
    int dry_run, quiet, verbose;
    const char *keys[QB_SK_COUNT];
} sweep_flags;

#define N_FIXED 9

static int build_opts(qb_opt *opts, sweep_flags *f)
{
    qb_opt fixed[N_FIXED] = {
        {"--spec", QB_OPT_STR, &f->spec_path, "FILE", "sweep spec (INI); default: the built-in bench/default.ini"},
        {"--grids", QB_OPT_STR, &f->grids, "NAMES", "run only these sub-grids [grid.NAME] of the spec (none: the [grid] alone)"},
        {"--out -o", QB_OPT_STR, &f->out, "DIR", "folder for new runs (default results)"},
        {"--resume", QB_OPT_STR, &f->resume, "RUN", "continue RUN, skipping its finished cells"},
        {"--shard", QB_OPT_STR, &f->shard, "i/N", "run only part i of N of the grid"},
        {"--topology", QB_OPT_STR, &f->topology, "T", "plan on a synthetic or XML topology (with --dry-run)"},
        {"--dry-run -n", QB_OPT_FLAG, &f->dry_run, NULL, "print the cells and an estimated time; run nothing"},
        {"--quiet -q", QB_OPT_FLAG, &f->quiet, NULL, "print nothing but errors"},
        {"--verbose -v", QB_OPT_FLAG, &f->verbose, NULL, "a line per finished cell"},
    };
    memcpy(opts, fixed, sizeof fixed);
    for (int k = 0; k < QB_SK_COUNT; k++)
        opts[N_FIXED + k] = (qb_opt){qb_spec_key_flag((qb_spec_key)k), QB_OPT_STR, &f->keys[k], "V",
                                     qb_spec_key_help((qb_spec_key)k)};
    return N_FIXED + QB_SK_COUNT;
}

/* The spec: --spec FILE, else the resumed run's own spec (from its
 * meta.csv) when no flag overrides it, else the built-in default; then the
 * flag overrides. */
static qb_status load_spec(const sweep_flags *f, const qb_meta *resumed, qb_spec *spec)
{
    qb_status s = qb_spec_init(spec);
    if (s != QB_OK) return s;
    int overrides = 0;
    for (int k = 0; k < QB_SK_COUNT; k++) overrides |= f->keys[k] != NULL;
    if (f->spec_path) {
        s = qb_spec_parse_file(spec, f->spec_path);
    } else if (resumed && !overrides) {
        const char *text = qb_meta_get(resumed, "spec");
        char name[600];
        snprintf(name, sizeof name, "%s/meta.csv (spec)", f->resume);
        s = text ? qb_spec_parse_text(spec, name, text)
                 : qb_error(QB_ERR_FORMAT, "%s/meta.csv: has no spec", f->resume);
    } else {
        s = qb_spec_parse_text(spec, QB_DEFAULT_SPEC_NAME, qb_default_spec_text);
    }
    if (s == QB_OK && f->grids) s = qb_spec_keep_grids(spec, f->grids, "--grids");
    for (int k = 0; k < QB_SK_COUNT && s == QB_OK; k++)
        if (f->keys[k]) s = qb_spec_set(spec, (qb_spec_key)k, f->keys[k], qb_spec_key_flag((qb_spec_key)k));
    return s;
}

/* meta.csv of the run to resume. */
static qb_status read_resumed(const char *dir, qb_meta *m)
{
    char *mp;
    if (asprintf(&mp, "%s/meta.csv", dir) < 0) return qb_error(QB_ERR_NOMEM, "out of memory");
    qb_status s = access(mp, R_OK) == 0 ? qb_runmeta_read(mp, m)
                                        : qb_error(QB_ERR_ARG, "--resume %s: no meta.csv there; not a qbench "
                                                   "run folder (or one killed before it started)", dir);
    free(mp);
    return s;
}

/* Cell ids already in RUN/results.csv (for a dry run of --resume). */
static qb_status finished_cells(const char *dir, qb_strset *done)
{
    char *rp;
    if (asprintf(&rp, "%s/results.csv", dir) < 0) return qb_error(QB_ERR_NOMEM, "out of memory");
    qb_csv_records t;
    qb_status s = access(rp, R_OK) == 0 ? qb_csv_read_records(rp, &t) : QB_OK;
    if (s == QB_OK && access(rp, R_OK) == 0) {
        for (int r = 1; r < t.n && s == QB_OK; r++) s = qb_strset_add(done, t.rec[r].f[0], NULL);
        qb_csv_records_free(&t);
    }
    free(rp);
    return s;
}

static void print_duration(FILE *out, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 3600) fprintf(out, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else if (t >= 60) fprintf(out, "%ldm%02lds", t / 60, t % 60);
    else fprintf(out, "%lds", t);
}

static int listed(const qb_cell *c, int si, int sn, const qb_strset *done)
{
    return qb_cell_in_shard(c, si, sn) && !qb_strset_has(done, c->id);
}

static qb_status print_cell(const qb_cell *c, const qb_topo *topo)
{
    qb_placement p;
    qb_status s = qb_placement_resolve(topo, "placement", c->placement, &p);
    if (s != QB_OK) return s;
    printf("%-16s %-7s %-13s %5d %5d %-12s %-16s %-13s %-14s %-8s %-16s %7d %-10s %-10s %5d\n", c->id,
           c->q.model, c->q.scheme, c->q.wbits, c->q.abits, c->q.granularity[0] ? c->q.granularity : "-",
           c->q.calib[0] ? c->q.calib : "-", c->q.correction, c->q.policy, c->q.backend, p.name,
           p.nthreads, p.cpuset_list, c->scenario, c->batch);
    qb_placement_free(&p);
    return QB_OK;
}

/* The cells grid by grid, each under a heading with its count and time. */
static qb_status dry_run(const qb_spec *spec, const qb_grid *grid, const qb_topo *topo, int si, int sn,
                         const qb_strset *done)
{
    char hash[17], summary[256];
    qb_spec_hash(spec, hash);
    qb_topo_summary(topo, summary, sizeof summary);
    int n = 0;
    int n_done = 0;
    for (int i = 0; i < grid->n; i++)
        if (qb_cell_in_shard(&grid->cells[i], si, sn)) {
            n++;
            n_done += qb_strset_has(done, grid->cells[i].id);
        }
    int ngrids = qb_spec_n_grids(spec);
    double *per_grid = qb_calloc((size_t)ngrids, sizeof *per_grid);
    if (!per_grid) return QB_ERR_NOMEM;
    double total = qb_sweep_estimate_by_grid(spec, grid, qb_builtin_workloads(), si, sn, done, per_grid);
    printf("# %d cells", n);
    if (sn > 1) printf(" (shard %d/%d of %d)", si, sn, grid->n);
    if (n_done) printf(", %d already done (not listed)", n_done);
    printf(", %d grid%s, spec_hash %s, topology %s: %s\n", ngrids, ngrids > 1 ? "s" : "", hash,
           qb_topo_source(topo), summary);
    printf("%-16s %-7s %-13s %5s %5s %-12s %-16s %-13s %-14s %-8s %-16s %7s %-10s %-10s %5s\n", "cell_id",
           "model", "scheme", "wbits", "abits", "granularity", "calib", "correction", "policy",
           "backend", "placement", "threads", "cpuset", "scenario", "batch");
    qb_status s = QB_OK;
    for (int g = 0; g < ngrids && s == QB_OK; g++) {
        int cells = 0;
        for (int i = 0; i < grid->n; i++) cells += grid->cells[i].grid == g && listed(&grid->cells[i], si, sn, done);
        printf("# [%s]: %d cell%s%s, estimated ", qb_spec_grid_name(spec, g), cells, cells == 1 ? "" : "s",
               g > 0 ? " not in an earlier grid" : "");
        print_duration(stdout, per_grid[g]);
        printf("\n");
        for (int i = 0; i < grid->n && s == QB_OK; i++)
            if (grid->cells[i].grid == g && listed(&grid->cells[i], si, sn, done)) s = print_cell(&grid->cells[i], topo);
    }
    free(per_grid);
    if (s != QB_OK) return s;
    printf("# estimated time: ");
    print_duration(stdout, total);
    printf("\n");
    return QB_OK;
}

int qb_cmd_sweep(int argc, char **argv)
{
    sweep_flags f = {0};
    f.out = "results";
    qb_opt opts[N_FIXED + QB_SK_COUNT];
    int nopts = build_opts(opts, &f);
    qb_args a = {NULL, 0, 0, 0};
    qb_status s = qb_args_parse("sweep", argc, argv, opts, nopts, &a);
    if (s != QB_OK) return qb_cmd_fail("sweep", s);
    if (a.help) {
        qb_args_usage(stdout, "sweep", synopsis, opts, nopts);
        return 0;
    }
    if (f.quiet && f.verbose) {
        qb_error(QB_ERR_ARG, "--quiet and --verbose contradict each other; pick one");
        return qb_cmd_fail("sweep", QB_ERR_ARG);
    }
    int si = 0, sn = 0;
    qb_topo *topo = NULL;
    qb_spec spec = {0};
    qb_grid grid = {0};
    qb_meta resumed = {0};
    qb_strset done = {0};
    int rc = 0;
    if (f.resume && (s = read_resumed(f.resume, &resumed)) != QB_OK) goto fail;
    /* a resumed shard keeps its shard unless --shard says otherwise */
    const char *shard = f.shard ? f.shard : f.resume ? qb_meta_get(&resumed, "shard") : NULL;
    if (shard && *shard &&
        (s = qb_shard_parse(f.shard ? "--shard" : "meta.csv shard", shard, &si, &sn)) != QB_OK)
        goto fail;
    if ((s = qb_topo_load(&topo, f.topology)) != QB_OK) goto fail;
    if ((s = load_spec(&f, f.resume ? &resumed : NULL, &spec)) != QB_OK) goto fail;
    if ((s = qb_spec_resolve(&spec, qb_builtin_workloads(), topo)) != QB_OK) goto fail;
    if ((s = qb_grid_expand(&spec, &grid)) != QB_OK) goto fail;
    if (f.dry_run) {
        if (f.resume && (s = finished_cells(f.resume, &done)) != QB_OK) goto fail;
        if ((s = dry_run(&spec, &grid, topo, si, sn, &done)) != QB_OK) goto fail;
        goto done;
    }
    qb_sweep_opts o = {&spec, &grid, qb_builtin_workloads(), topo, si, sn, f.out, f.resume,
                       f.quiet ? 0 : f.verbose ? 2 : 1, isatty(fileno(stderr)), stderr};
    qb_sweep_summary sum;
    if ((s = qb_sweep_run(&o, &sum)) != QB_OK) {
        if (sum.run_dir[0]) fprintf(stderr, "qbench sweep: rows finished so far are in %s\n", sum.run_dir);
        goto fail;
    }
    if (!f.quiet) {
        printf("qbench sweep: %d cells", sum.cells);
        if (sum.already_done) printf(" (%d done before)", sum.already_done);
        printf(": %d ok, %d crashed, %d timeout, %d error, %d skipped in ", sum.ok, sum.crashed,
               sum.timeout, sum.error, sum.skipped);
        print_duration(stdout, sum.seconds);
        printf(" -> %s\n", sum.run_dir);
    }
    goto done;
fail:
    rc = qb_cmd_fail("sweep", s);
done:
    qb_strset_free(&done);
    qb_meta_free(&resumed);
    qb_grid_free(&grid);
    qb_spec_free(&spec);
    qb_topo_free(topo);
    return rc;
}
