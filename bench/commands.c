/* The table of subcommands: adding a command is one line here. */
#include "commands.h"

#include <stdio.h>
#include "status.h"

const qb_command qb_commands[] = {
    {"version", qb_cmd_version, "print version, git commit and build flags"},
};
const int qb_n_commands = (int)(sizeof qb_commands / sizeof qb_commands[0]);

int qb_cmd_fail(const char *cmd, int status)
{
    fprintf(stderr, "qbench %s: %s\n", cmd, qb_last_error());
    return qb_exit_code((qb_status)status);
}
