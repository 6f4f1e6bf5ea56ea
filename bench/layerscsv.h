/* Writers of the per-layer and mixed-precision CSV files of
 * docs/csv-schema.md (layers.csv, pareto.csv), for `qbench inspect`,
 * `qbench eval` and sweeps. Each file is written whole through a temporary
 * file and renamed (common/safefile.h). cell_id may be NULL (a standalone
 * analysis: the column is empty). Error convention: common/status.h. */
#ifndef QB_LAYERSCSV_H
#define QB_LAYERSCSV_H

#include <stdio.h>

#include "mixedprec.h"
#include "qeval.h"

qb_status qb_write_layers_csv(const char *path, const char *cell_id, const char *model,
                              const qb_layer_report *rows, int n);
/* The same rows on an open stream (`name` for messages: "standard output"). */
qb_status qb_print_layers_csv(FILE *fp, const char *name, const char *cell_id, const char *model,
                              const qb_layer_report *rows, int n);

/* One row per measured point of the search's curve, ascending size. */
qb_status qb_write_pareto_csv(const char *path, const char *cell_id, const char *model,
                              const qb_model *m, const qb_mixed_result *mix, uint64_t fp32_size);

#endif
