/* qbench's own work counters: multiply-accumulates done, weight bytes read,
 * elements requantized. Kernels and the fp32 engine add to them once per
 * call (not per element), so the cost is one relaxed atomic add. They are
 * process-wide, like hardware counters; the harness reads them as PAPI
 * Software Defined Events (component "sde", library "qbench"), which is how
 * they stay measurable on machines where PAPI sees no hardware counter. */
#ifndef QB_WORKCOUNT_H
#define QB_WORKCOUNT_H

#include <stdatomic.h>

typedef enum {
    QB_WORK_MACS,          /* multiply-accumulates (any precision) */
    QB_WORK_WEIGHT_BYTES,  /* bytes of weights read by kernels (packed size) */
    QB_WORK_REQUANT,       /* output elements requantized to the next layer's input */
    QB_WORK_COUNT
} qb_work_kind;

extern _Atomic long long qb_work_counters[QB_WORK_COUNT];

static inline void qb_work_add(qb_work_kind k, long long n)
{
    atomic_fetch_add_explicit(&qb_work_counters[k], n, memory_order_relaxed);
}

static inline long long qb_work_read(qb_work_kind k)
{
    return atomic_load_explicit(&qb_work_counters[k], memory_order_relaxed);
}

/* "macs", "weight_bytes", "requantized": the SDE event names. */
const char *qb_work_name(qb_work_kind k);

#endif
