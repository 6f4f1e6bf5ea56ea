/* `qbench counters`: which PAPI events can be counted here, and why the
 * others cannot (in PAPI's own words). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "commands.h"
#include "counters.h"
#include "spec.h"

int qb_cmd_counters(int argc, char **argv)
{
    const char *events = NULL;
    qb_opt opts[] = {
        {"--events", QB_OPT_STR, &events, "LIST", "events to check (default: the default spec's)"},
    };
    qb_args a = {NULL, 0, 0, 0};
    qb_status s = qb_args_parse("counters", argc, argv, opts, 1, &a);
    if (s != QB_OK) return qb_cmd_fail("counters", s);
    if (a.help) {
        qb_args_usage(stdout, "counters", "[--events LIST]", opts, 1);
        return 0;
    }
    qb_spec spec;
    if ((s = qb_spec_init(&spec)) != QB_OK) return qb_cmd_fail("counters", s);
    if (events && (s = qb_spec_set(&spec, QB_SK_EVENTS, events, "--events")) != QB_OK) {
        qb_spec_free(&spec);
        return qb_cmd_fail("counters", s);
    }
    char version[64], comps[4096];
    qb_papi_describe(version, sizeof version, comps, sizeof comps);
    printf("PAPI %s\ncomponents:\n", version);
    for (char *save = NULL, *c = strtok_r(comps, ";", &save); c; c = strtok_r(NULL, ";", &save))
        printf("  %s\n", c);
    const qb_strlist *ev = qb_spec_list(&spec, QB_SK_EVENTS);
    int counted = 0, total = 0;
    printf("events:\n");
    for (int i = 0; i < ev->n; i++) {
        if (strcmp(ev->items[i], "none") == 0) continue;
        char reason[512];
        int ok = qb_counters_probe(ev->items[i], reason, sizeof reason);
        printf("  %-28s %s%s\n", ev->items[i], ok ? "counted" : "not counted: ", ok ? "" : reason);
        counted += ok;
        total++;
    }
    printf("%d of %d events can be counted here.\n", counted, total);
    printf("qbench's own work counters (PAPI SDE, library \"qbench\"): %s, %s, %s\n", qb_sde_events[0],
           qb_sde_events[1], qb_sde_events[2]);
    qb_spec_free(&spec);
    return 0;
}
