/* meta.csv: a run's provenance as key,value rows (docs/csv-schema.md). */
#ifndef QB_META_H
#define QB_META_H

#include "safetensors.h" /* qb_meta: ordered key/value strings */
#include "spec.h"
#include "status.h"
#include "topo.h"
#include "workload.h"

/* Everything the schema lists, for a run of `spec` (resolved) on `topo`.
 * `shard` is "i/N" or "". */
qb_status qb_runmeta_collect(qb_meta *m, const qb_spec *spec, const char *shard, const qb_topo *topo,
                          const qb_workload_set *models);

qb_status qb_runmeta_write(const qb_meta *m, const char *path);  /* temp file + rename */
/* Reads meta.csv; QB_ERR_FORMAT with path:line when malformed, or when its
 * schema_version is newer than this qbench knows. */
qb_status qb_runmeta_read(const char *path, qb_meta *m);

#endif
