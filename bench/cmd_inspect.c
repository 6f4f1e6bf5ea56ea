/* `qbench inspect`: per-layer analysis of a quantization config. For each
 * conv/dense layer: weight SQNR, input-activation SQNR, and the accuracy
 * drop when only that layer is quantized (its sensitivity). Writes
 * layers.csv in the run-folder schema (docs/csv-schema.md) with --out. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "csvio.h"
#include "evalflags.h"
#include "safefile.h"

/* Appends the finished line to fp and starts the next one. */
static qb_status flush_line(qb_csv_line *l, FILE *fp, const char *path)
{
    qb_status s = qb_csv_line_status(l);
    if (s == QB_OK && fwrite(l->buf, 1, l->len, fp) != l->len)
        s = qb_error(QB_ERR_IO, "%s: write failed", path);
    qb_csv_line_reset(l);
    return s;
}

/* SQNRs are empty where not measured: a layer kept float, or exact. */
static qb_status write_layers_csv(const char *path, const char *model, const qb_layer_report *rows,
                                  int n)
{
    qb_safefile sf;
    qb_status s = qb_safefile_open(&sf, path);
    if (s != QB_OK) return s;
    static const char *cols[] = {"cell_id", "model", "layer_index", "layer", "kind", "wbits",
                                 "abits", "weight_sqnr_db", "act_sqnr_db", "sensitivity_pp"};
    qb_csv_line l = {0};
    for (size_t i = 0; i < QB_ARRAY_LEN(cols); i++) qb_csv_str(&l, cols[i]);
    qb_csv_end(&l);
    s = flush_line(&l, sf.fp, path);
    for (int i = 0; i < n && s == QB_OK; i++) {
        const qb_layer_report *r = &rows[i];
        qb_csv_str(&l, NULL); /* no sweep cell: a standalone analysis */
        qb_csv_str(&l, model);
        qb_csv_int(&l, r->layer, 1);
        qb_csv_str(&l, r->name);
        qb_csv_str(&l, qb_layer_kind_name(r->kind));
        qb_csv_int(&l, r->wbits, 1);
        qb_csv_int(&l, r->abits, 1);
        qb_csv_num(&l, r->weight_sqnr_db);
        qb_csv_num(&l, r->act_sqnr_db);
        qb_csv_num(&l, r->sensitivity_pp);
        qb_csv_end(&l);
        s = flush_line(&l, sf.fp, path);
    }
    qb_csv_line_free(&l);
    if (s != QB_OK) {
        qb_safefile_abort(&sf);
        return s;
    }
    return qb_safefile_commit(&sf);
}

int qb_cmd_inspect(int argc, char **argv)
{
    qb_evalflags f;
    qb_opt opts[QB_EVALFLAGS_N + 1];
    qb_evalflags_init(&f, opts);
    const char *out = NULL;
    opts[QB_EVALFLAGS_N] = (qb_opt){"--out -o", QB_OPT_STR, &out, "FILE", "write layers.csv here"};
    int nopts = QB_EVALFLAGS_N + 1;
    const char *synopsis = "--model M [--scheme S --wbits B --abits A --granularity G --calib C] "
                           "[--out layers.csv]";
    qb_evalsetup setup;
    int rc = qb_evalflags_start("inspect", synopsis, argc, argv, opts, nopts, &f, &setup);
    if (rc >= 0) return rc;
    qb_layer_report *rows = NULL;
    int n = 0;
    qb_status s = qb_qeval_layers(setup.ev, &setup.config, &rows, &n);
    const char *model = qb_qeval_model(setup.ev)->arch;
    if (s == QB_OK && out) s = write_layers_csv(out, model, rows, n);
    if (s == QB_OK) {
        char d[256];
        printf("%s: %s; each layer quantized alone (fp32 top-1 %.2f%%)\n", model,
               qb_evalflags_describe(&f, d, sizeof d), qb_qeval_fp32_accuracy(setup.ev));
        printf("  %3s %-24s %-6s %5s %5s %12s %12s %14s\n", "#", "layer", "kind", "wbits", "abits",
               "weight SQNR", "input SQNR", "sensitivity");
        for (int i = 0; i < n; i++)
            printf("  %3d %-24s %-6s %5d %5d %9.1f dB %9.1f dB %+11.2f pp\n", rows[i].layer,
                   rows[i].name, qb_layer_kind_name(rows[i].kind), rows[i].wbits, rows[i].abits,
                   rows[i].weight_sqnr_db, rows[i].act_sqnr_db, rows[i].sensitivity_pp);
        if (out) printf("wrote %s\n", out);
    }
    free(rows);
    qb_evalsetup_close(&setup);
    return s == QB_OK ? 0 : qb_cmd_fail("inspect", s);
}
