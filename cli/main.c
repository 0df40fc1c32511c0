/*
 * main.c - the `baton` executable: dispatches to one subcommand per file
 * (cmd_<name>.c). main() is the only place allowed to install process-wide
 * hooks (allocation, logging) and to abort.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "baton_config.h"
#include "cli/cli.h"
#include "common/alloc.h"

static const baton_cmd commands[] = {
#if BATON_HAVE_HTTP
    {"serve", baton_cmd_serve, "serve the HTTP API over a durable store, firing timers"},
#endif
    {"validate", baton_cmd_validate, "check BPMN files and report every problem"},
    {"run", baton_cmd_run, "run a process in memory and print its token history"},
    {"test", baton_cmd_test, "replay process test scenarios (bpmn-exec-scenario/1)"},
    {"eval", baton_cmd_eval, "evaluate a FEEL or JUEL expression"},
    {"history", baton_cmd_history, "print the token history of an instance in a store"},
    {"replay", baton_cmd_replay, "rebuild an instance from its history and compare (audit)"},
};

static void usage(FILE *out) {
    fprintf(out, "usage: baton [--version] [--help] <command> [<args>]\n\n"
                 "Baton runs BPMN 2.0 workflows.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'baton <command> --help' describes a command.\n");
}

/*
 * Output that never arrived (a full disk, a closed pipe) must not pass for
 * success: a script reading `baton history > audit.json` would keep a
 * truncated file. Every command's exit goes through here.
 */
static int finish(int rc) {
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "baton: error: cannot write the output: %s\n",
                errno ? strerror(errno) : "write error");
        return rc ? rc : BATON_EXIT_FAIL;
    }
    return rc;
}

int main(int argc, char **argv) {
    baton_alloc_install_cjson();
    if (argc < 2) {
        usage(stderr);
        return BATON_EXIT_USAGE;
    }
    if (baton_cli_is_help(argv[1])) {
        usage(stdout);
        return finish(BATON_EXIT_OK);
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("baton %s\n", BATON_VERSION);
        return finish(BATON_EXIT_OK);
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return finish(commands[i].fn(argc - 1, argv + 1));
    return baton_cli_usage_error(NULL, "unknown command '%s'", argv[1]);
}
