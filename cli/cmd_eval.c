/* cmd_eval.c - `baton eval`: placeholder until the expression engine lands. */
#include "cli/cli.h"

int baton_cmd_eval(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return baton_cli_usage_error("eval", "not available yet");
}
