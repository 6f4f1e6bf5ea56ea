/* `qbench backends`: the kernel backends compiled in, which ones this CPU
 * can run (and what is missing otherwise), and which one would be used. */
#include <stdio.h>
#include "args.h"
#include "backend.h"
#include "commands.h"

int qb_cmd_backends(int argc, char **argv)
{
    qb_args a = {NULL, 0, 0, 0};
    qb_status st = qb_args_parse("backends", argc, argv, NULL, 0, &a);
    if (st) return qb_cmd_fail("backends", st);
    if (a.help) {
        qb_args_usage(stdout, "backends", "", NULL, 0);
        printf("QBENCH_BACKEND=NAME forces a backend for every command.\n");
        return 0;
    }
    const qb_backend *chosen;
    st = qb_backend_select(NULL, &chosen);
    printf("cpu features: %s\n", *qb_cpu_features() ? qb_cpu_features() : "(none qbench uses)");
    for (int i = 0; i < qb_backend_count(); i++) {
        const qb_backend *b = qb_backend_at(i);
        const char *missing = qb_backend_missing_isa(b);
        printf("%c %-12s score %2d  %-28s %s\n", b == chosen ? '*' : ' ', b->name, b->score,
               missing ? "unsupported: needs" : "supported", missing ? missing : b->summary);
    }
    if (st) return qb_cmd_fail("backends", st);
    return 0;
}
