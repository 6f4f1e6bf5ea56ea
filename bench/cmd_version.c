/* `qbench version`: what was built, from which commit, with which flags. */
#include <stdio.h>
#include "commands.h"
#include "version.h"

int qb_cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("qbench %s (commit %s)\ncompiler: %s\nflags: %s\n", qb_version(), qb_git_commit(),
           qb_compiler(), qb_build_flags());
    return 0;
}
