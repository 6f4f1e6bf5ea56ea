/* qbench: benchmarking and analysis of neural-network quantization.
 * Dispatches to the subcommand named by argv[1] (see commands.c). */
#include <stdio.h>
#include <string.h>
#include "commands.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: qbench COMMAND [flags]   (qbench COMMAND --help for its flags)\n\ncommands:\n");
    for (int i = 0; i < qb_n_commands; i++)
        fprintf(f, "  %-14s %s\n", qb_commands[i].name, qb_commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) return qb_cmd_version(0, NULL);
    for (int i = 0; i < qb_n_commands; i++)
        if (strcmp(argv[1], qb_commands[i].name) == 0)
            return qb_commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "qbench: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
