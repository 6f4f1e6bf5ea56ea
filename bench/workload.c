/* Model lookup in a workload set (see workload.h). */
#include "workload.h"

#include <stdio.h>
#include <string.h>

qb_status qb_workload_find(const qb_workload_set *set, const char *name, const qb_workload **out)
{
    *out = NULL;
    for (int i = 0; set && i < set->n; i++)
        if (strcmp(set->items[i]->name, name) == 0) {
            *out = set->items[i];
            return QB_OK;
        }
    char known[512] = "";
    size_t used = 0;
    for (int i = 0; set && i < set->n && used < sizeof known; i++)
        used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "",
                                 set->items[i]->name);
    return qb_error(QB_ERR_ARG, "unknown model '%s' (known: %s)", name,
                    used ? known : "none - this qbench has no models built in");
}
