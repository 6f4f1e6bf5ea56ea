/* `qbench inspect`: per-layer analysis of a quantization config. For each
 * conv/dense layer: weight SQNR, input-activation SQNR, and the accuracy
 * drop when only that layer is quantized (its sensitivity). Writes
 * layers.csv in the run-folder schema (docs/csv-schema.md) with --out, and
 * prints the same CSV instead of the table with --format csv. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "evalflags.h"
#include "layerscsv.h"

int qb_cmd_inspect(int argc, char **argv)
{
    qb_evalflags f;
    qb_opt opts[QB_EVALFLAGS_N + 1];
    qb_evalflags_init(&f, opts);
    const char *out = NULL;
    opts[QB_EVALFLAGS_N] = (qb_opt){"--out -o", QB_OPT_STR, &out, "FILE", "write layers.csv here"};
    int nopts = QB_EVALFLAGS_N + 1;
    const char *synopsis = "--model M [--scheme S --wbits B --abits A --granularity G --calib C] "
                           "[--out layers.csv] [--format text|csv]";
    qb_evalsetup setup;
    int rc = qb_evalflags_start("inspect", synopsis, argc, argv, opts, nopts, &f, &setup);
    if (rc >= 0) return rc;
    qb_layer_report *rows = NULL;
    int n = 0;
    qb_status s = qb_qeval_layers(setup.ev, &setup.config, &rows, &n);
    const char *model = qb_qeval_model(setup.ev)->arch;
    if (s == QB_OK && out) s = qb_write_layers_csv(out, NULL, model, rows, n);
    if (s == QB_OK && strcmp(f.format, "csv") == 0) {
        s = qb_print_layers_csv(stdout, "standard output", NULL, model, rows, n);
        if (s == QB_OK && fflush(stdout) != 0) s = qb_error(QB_ERR_IO, "standard output: write failed");
    } else if (s == QB_OK) {
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
