/*
 * cli.h - what the `baton` subcommands share: the command table entry, the
 * error printer and option helpers. Each subcommand lives in cmd_<name>.c.
 *
 * Exit codes: 0 success, 1 a check failed (invalid model, failed test),
 * 2 usage error, others from baton_status_exit().
 */
#ifndef BATON_CLI_CLI_H
#define BATON_CLI_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "common/error.h"

#define BATON_EXIT_OK    0
#define BATON_EXIT_FAIL  1
#define BATON_EXIT_USAGE 2

typedef int (*baton_cmd_fn)(int argc, char **argv);

typedef struct baton_cmd {
    const char *name;
    baton_cmd_fn fn;
    const char *summary;
} baton_cmd;

/* Subcommands (argv[0] is the subcommand name). */
int baton_cmd_validate(int argc, char **argv);
int baton_cmd_eval(int argc, char **argv);
int baton_cmd_run(int argc, char **argv);
int baton_cmd_test(int argc, char **argv);
int baton_cmd_serve(int argc, char **argv);
int baton_cmd_history(int argc, char **argv);
int baton_cmd_replay(int argc, char **argv);

/* "baton: <where>: error: <message>" on stderr; returns the mapped exit code. */
int baton_cli_error(const baton_error *err);
/* "baton: error: <message>" for usage problems; returns BATON_EXIT_USAGE. */
int baton_cli_usage_error(const char *cmd, const char *fmt, ...) BATON_PRINTF(2, 3);
/* True when argv[i] is "-h" or "--help". */
bool baton_cli_is_help(const char *arg);
/* Read a whole file (bounded by max bytes); caller frees with baton_free. */
baton_status baton_cli_read_file(const char *path, size_t max, char **data_out, size_t *len_out,
                                 baton_error *err);

#endif
