/* Model files: a qb_model's parameters as a .safetensors file (names as in
 * model.h, float32), with "__metadata__" saying how to rebuild the graph
 * ("architecture", "input_shape" "1x28x28", "n_classes") and where the model
 * came from ("dataset", "seed", "epochs", "fp32_test_accuracy",
 * "qbench_version", ...). The reference models live in workloads/models/. */
#ifndef QB_MODELFILE_H
#define QB_MODELFILE_H

#include <stddef.h>
#include "model.h"
#include "safetensors.h"

/* Writes m's parameters and `meta` (the graph keys are added) plus `extra`
 * tensors (e.g. optimizer state, named "optimizer.*"). */
qb_status qb_model_save(const char *path, const qb_model *m, const qb_meta *meta,
                        const qb_named_tensor *extra, int n_extra);

/* Rebuilds the architecture the file names and fills its parameters.
 * Every parameter must be present as float32 with its exact shape and
 * finite values; tensors the model lacks are refused unless named
 * "optimizer.*". meta (may be NULL) receives the metadata; st (may be NULL)
 * receives the whole file, for callers that want the extra tensors. */
qb_status qb_model_load(const char *path, qb_model *m, qb_meta *meta, qb_safetensors *st);

/* Where reference models are looked up: $QBENCH_MODELS, else
 * ./workloads/models, else workloads/models beside the qbench binary (or
 * two folders up, for build/<cfg>/qbench). */
const char *qb_models_dir(void);

/* `name_or_path` as a file: a path (contains '/' or ends in .safetensors)
 * is used as is; a bare name becomes <models dir>/NAME.safetensors. */
void qb_model_path(const char *name_or_path, char *out, size_t len);

#endif
