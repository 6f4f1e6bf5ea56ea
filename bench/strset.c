/* String set (see strset.h). */
#include "strset.h"

#include <stdlib.h>
#include <string.h>
#include "spec.h"

static size_t find(char *const *slot, size_t cap, const char *s)
{
    size_t i = (size_t)qb_fnv1a64(s) & (cap - 1);
    while (slot[i] && strcmp(slot[i], s) != 0) i = (i + 1) & (cap - 1);
    return i;
}

int qb_strset_has(const qb_strset *set, const char *s)
{
    return set->cap && set->slot[find(set->slot, set->cap, s)] != NULL;
}

qb_status qb_strset_add(qb_strset *set, const char *s, int *added)
{
    if (added) *added = 0;
    if ((set->n + 1) * 2 > set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 64;
        char **slot = calloc(cap, sizeof *slot);
        if (!slot) return qb_error(QB_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < set->cap; i++)
            if (set->slot[i]) slot[find(slot, cap, set->slot[i])] = set->slot[i];
        free(set->slot);
        set->slot = slot;
        set->cap = cap;
    }
    size_t i = find(set->slot, set->cap, s);
    if (set->slot[i]) return QB_OK;
    set->slot[i] = strdup(s);
    if (!set->slot[i]) return qb_error(QB_ERR_NOMEM, "out of memory");
    set->n++;
    if (added) *added = 1;
    return QB_OK;
}

void qb_strset_free(qb_strset *set)
{
    for (size_t i = 0; i < set->cap; i++) free(set->slot[i]);
    free(set->slot);
    memset(set, 0, sizeof *set);
}
