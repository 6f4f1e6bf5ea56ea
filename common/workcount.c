/* Storage and names of the work counters (see workcount.h). */
#include "workcount.h"

_Atomic long long qb_work_counters[QB_WORK_COUNT];

const char *qb_work_name(qb_work_kind k)
{
    static const char *names[QB_WORK_COUNT] = {"macs", "weight_bytes", "requantized"};
    return k < QB_WORK_COUNT ? names[k] : "?";
}
