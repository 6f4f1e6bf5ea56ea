/* `qbench merge RUN... -o OUT`: join the shard folders of one sweep. */
#include <stdio.h>
#include "args.h"
#include "commands.h"
#include "merge.h"

int qb_cmd_merge(int argc, char **argv)
{
    const char *out = NULL;
    qb_opt opts[] = {{"--out -o", QB_OPT_STR, &out, "OUT", "the merged run folder (new or empty)"}};
    const char *runs[256];
    qb_args a = {runs, 256, 0, 0};
    qb_status s = qb_args_parse("merge", argc, argv, opts, 1, &a);
    if (s != QB_OK) return qb_cmd_fail("merge", s);
    if (a.help) {
        qb_args_usage(stdout, "merge", "RUN... -o OUT", opts, 1);
        return 0;
    }
    if (!out || a.n_positional == 0) {
        qb_error(QB_ERR_ARG, "give the run folders and -o OUT (qbench merge results/a results/b -o results/all)");
        return qb_cmd_fail("merge", QB_ERR_ARG);
    }
    if ((s = qb_merge_runs(runs, a.n_positional, out, stderr)) != QB_OK) return qb_cmd_fail("merge", s);
    printf("qbench merge: %d runs -> %s\n", a.n_positional, out);
    return 0;
}
