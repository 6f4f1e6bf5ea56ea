/* The models `qbench sweep` knows: one entry per model. This is the file
 * where the evaluation (workloads/) and the integer executor
 * (workloads/kernels/) plug into the harness. */
#include <cblas.h>
#include <stdio.h>
#include "workload.h"

static const char *blas_name(void)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s (%s)", openblas_get_config(), openblas_get_corename());
    return buf;
}

static const qb_workload *const builtin[] = {NULL};

static const qb_workload_set set = {builtin, 0, blas_name, NULL};

const qb_workload_set *qb_builtin_workloads(void) { return &set; }
