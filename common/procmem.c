/* Time and peak-memory cost of a step (see procmem.h). */
#include "procmem.h"
#include "clock.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A "Key:   123 kB" line of /proc/self/status, in MB; NAN if absent. */
static double status_mb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return NAN;
    char line[256];
    double mb = NAN;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            long kb;
            if (sscanf(line + kl + 1, "%ld", &kb) == 1) mb = (double)kb / 1024.0;
            break;
        }
    fclose(f);
    return mb;
}

void qb_cost_start(qb_cost_meter *m)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f); /* resets VmHWM to the current RSS */
        fclose(f);
    }
    m->rss0_mb = status_mb("VmRSS");
    m->t0 = qb_now();
}

void qb_cost_stop(const qb_cost_meter *m, double *seconds, double *peak_mb)
{
    *seconds = qb_now() - m->t0;
    double hwm = status_mb("VmHWM");
    *peak_mb = isnan(hwm) || isnan(m->rss0_mb) ? NAN : hwm > m->rss0_mb ? hwm - m->rss0_mb : 0.0;
}
