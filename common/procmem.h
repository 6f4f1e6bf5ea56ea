/* The cost of a preparation step in time and memory, as results.csv's
 * prep_seconds and prep_peak_mb report it: wall time, and the growth of the
 * process's peak resident memory (Linux /proc/self/status VmHWM, whose
 * high-water mark is reset at the start through /proc/self/clear_refs, so
 * earlier peaks do not hide this step's). Where /proc is missing the
 * memory figure is NAN (not measured). */
#ifndef QB_PROCMEM_H
#define QB_PROCMEM_H

typedef struct {
    double t0;      /* monotonic seconds at the start */
    double rss0_mb; /* resident memory at the start */
} qb_cost_meter;

void qb_cost_start(qb_cost_meter *m);
/* Seconds since the start, and peak resident growth since then in MB
 * (>= 0; NAN when unknown). */
void qb_cost_stop(const qb_cost_meter *m, double *seconds, double *peak_mb);

#endif
