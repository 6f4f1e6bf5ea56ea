/* PAPI counters around the timed region, on every thread of a pool.
 *
 * Any PAPI event name works: presets (PAPI_TOT_CYC), native events
 * (perf::CYCLES) and Software Defined Events. qbench's own work counters
 * (common/workcount.h) are registered with PAPI's libsde as library
 * "qbench", so they are read like any other event:
 *   sde:::qbench::macs  sde:::qbench::weight_bytes  sde:::qbench::requantized
 * Hardware events are per thread and are summed over the pool's threads;
 * SDE counters are process-wide and are read once (by thread 0).
 * An event PAPI cannot count here gets no value and a reason in PAPI's own
 * words (PAPI_strerror, plus the disabled component's reason), e.g.
 *   "PAPI_TOT_CYC: Event does not exist (perf_event: Error libpfm4 no default PMU found)". */
#ifndef QB_COUNTERS_H
#define QB_COUNTERS_H

#include <stddef.h>
#include "pool.h"
#include "status.h"

/* Registers the SDE counters and initializes PAPI for threads; idempotent
 * within a process. Failure is not an error for callers that only want
 * counters: every event then reports why. */
qb_status qb_counters_library_init(void);

typedef struct qb_counters qb_counters;

/* Prepares `n` events for a pool (the calling thread must be the pool's
 * thread 0). Events that cannot be counted are noted, not fatal. */
qb_status qb_counters_create(qb_counters **out, const char *const *events, int n, qb_pool *pool);
/* Starts / stops counting on every pool thread. */
qb_status qb_counters_start(qb_counters *c);
qb_status qb_counters_stop(qb_counters *c);
int qb_counters_n(const qb_counters *c);
/* Sum over threads after stop; returns 0 (and leaves *v) when not counted. */
int qb_counters_value(const qb_counters *c, int i, long long *v);
/* "ok" or "EVENT: reason; EVENT: reason" for the events not counted. */
const char *qb_counters_status(const qb_counters *c);
/* Frees the event sets on their threads. */
void qb_counters_free(qb_counters *c);

/* Can `event` be counted here? Returns 1, or 0 and the reason. */
int qb_counters_probe(const char *event, char *reason, size_t len);

/* PAPI version ("7.0.0.0") and components
 * ("perf_event:disabled (Error libpfm4 ...);sde:enabled"), for meta.csv. */
void qb_papi_describe(char *version, size_t vlen, char *components, size_t clen);

/* The events of the default spec, for `qbench counters`. */
extern const char *const qb_sde_events[3];

#endif
