/* Monotonic wall-clock time, for timing and profiling. */
#ifndef QB_CLOCK_H
#define QB_CLOCK_H

/* Seconds since an arbitrary start (CLOCK_MONOTONIC). */
double qb_now(void);

#endif
