/* A set of strings (open addressing, FNV-1a): finished cell ids on resume,
 * duplicate rows in merges. Strings are copied. */
#ifndef QB_STRSET_H
#define QB_STRSET_H

#include <stddef.h>
#include "status.h"

typedef struct {
    char **slot;
    size_t cap, n;
} qb_strset;

/* Adds s; *added (if not NULL) is 1 when it was new. */
qb_status qb_strset_add(qb_strset *set, const char *s, int *added);
int qb_strset_has(const qb_strset *set, const char *s);
void qb_strset_free(qb_strset *set);

#endif
