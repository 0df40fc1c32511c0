/*
 * cmd_validate.c - `baton validate FILE...`: load and check BPMN files,
 * report every problem of every file, compiler style:
 *
 *   FILE: ok: process 'id' (N elements)         stdout, per process of a valid file
 *   FILE:LINE: element 'ID': message            stderr, per error
 *   FILE:LINE: element 'ID': warning: message   stderr, per warning
 *   FILE:LINE:COL: message                      stderr, XML, size and I/O failures
 *
 * Exit 0 when every file is valid, 1 otherwise, 2 on usage errors.
 * `--json` prints one JSON document on stdout for scripts instead:
 *
 *   {"files": [{"file": F, "valid": true, "dialect": "bpmn|camunda7|camunda8",
 *               "processes": [{"id", "name"?, "executable", "elements"}],
 *               "diagnostics": [...]},
 *              {"file": F, "valid": false,
 *               "error": {"code", "message", "where"},      (the first error)
 *               "diagnostics": [{"severity": "error|warning", "line",
 *                                "element" (or null), "message"}]}],
 *    "valid": N, "invalid": N}
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/diag.h"
#include "parser/bpmn.h"

static const char usage_text[] =
    "usage: baton validate [--json] [--quiet] [--max-bytes N] FILE...\n"
    "\n"
    "Load each BPMN 2.0 file, check it, and report every problem:\n"
    "  FILE: ok: process 'ID' (N elements)      for each process of a valid file\n"
    "  FILE:LINE: element 'ID': message         for each error\n"
    "  FILE:LINE: element 'ID': warning: ...    for each warning\n"
    "\n"
    "options:\n"
    "  --json         one JSON document on standard output instead of text\n"
    "  --quiet        print errors only (no ok lines, no warnings)\n"
    "  --max-bytes N  refuse files larger than N bytes (default 16 MiB)\n"
    "\n"
    "exit status: 0 all files valid, 1 some file invalid, 2 usage error\n";

/* Flow elements (nodes and sequence flows) of one process, all scopes. */
static uint32_t process_elements(const baton_graph *g, baton_idx p) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < g->n_nodes; i++)
        n += g->nodes[i].process == p;
    for (uint32_t i = 0; i < g->n_flows; i++)
        n += g->scopes[g->flows[i].scope].process == p;
    return n;
}

static void print_diags(const baton_diags *d, const char *file, bool quiet) {
    baton_buf b;
    baton_buf_init(&b, 0);
    for (uint32_t i = 0; i < d->n; i++) {
        if (quiet && d->items[i].severity != BATON_SEV_ERROR)
            continue;
        baton_buf_reset(&b);
        if (baton_diag_format(&d->items[i], file, &b) == BATON_OK)
            fprintf(stderr, "%s\n", baton_buf_str(&b));
    }
    uint32_t shown = d->n;
    uint32_t total = d->n_errors + d->n_warnings;
    if (total > shown)
        fprintf(stderr, "%s: %u more diagnostics not shown\n", file, total - shown);
    baton_buf_fini(&b);
}

static cJSON *diags_json(const baton_diags *d) {
    cJSON *arr = cJSON_CreateArray();
    for (uint32_t i = 0; arr && i < d->n; i++) {
        const baton_diag *dg = &d->items[i];
        cJSON *o = cJSON_CreateObject();
        if (!o)
            break;
        cJSON_AddStringToObject(o, "severity",
                                dg->severity == BATON_SEV_ERROR ? "error" : "warning");
        cJSON_AddNumberToObject(o, "line", dg->line);
        if (dg->element)
            cJSON_AddStringToObject(o, "element", dg->element);
        else
            cJSON_AddNullToObject(o, "element");
        cJSON_AddStringToObject(o, "message", dg->message);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

int baton_cmd_validate(int argc, char **argv) {
    bool json = false, quiet = false;
    baton_load_opts opts;
    memset(&opts, 0, sizeof opts);
    int first = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (baton_cli_is_help(a)) {
            fputs(usage_text, stdout);
            return BATON_EXIT_OK;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            quiet = true;
        } else if (strcmp(a, "--max-bytes") == 0) {
            char *end;
            if (i + 1 >= argc)
                return baton_cli_usage_error("validate", "--max-bytes needs a value");
            unsigned long long v = strtoull(argv[++i], &end, 10);
            if (*end || v == 0)
                return baton_cli_usage_error("validate", "--max-bytes needs a positive number");
            opts.max_bytes = (size_t)v;
        } else if (strcmp(a, "--") == 0) {
            first = i + 1;
            break;
        } else if (a[0] == '-' && a[1]) {
            return baton_cli_usage_error("validate", "unknown option '%s'", a);
        } else {
            first = i;
            break;
        }
    }
    if (first >= argc)
        return baton_cli_usage_error("validate", "no file given");
    for (int i = first; i < argc; i++)
        if (argv[i][0] == '-' && argv[i][1] && strcmp(argv[i], "--") != 0)
            return baton_cli_usage_error("validate", "options must come before the files ('%s')",
                                         argv[i]);

    int n_files = argc - first, n_bad = 0;
    bool progress = !json && n_files > 20 && isatty(STDERR_FILENO);
    cJSON *jroot = json ? cJSON_CreateObject() : NULL;
    cJSON *jfiles = json ? cJSON_AddArrayToObject(jroot, "files") : NULL;

    for (int i = first; i < argc; i++) {
        const char *file = argv[i];
        if (progress)
            fprintf(stderr, "\r[%d/%d] %s\033[K", i - first + 1, n_files, file);
        baton_diags diags;
        baton_diags_init(&diags, 0);
        baton_error err;
        baton_error_clear(&err);
        baton_model *m = NULL;
        opts.name = file;
        baton_status st = baton_bpmn_load_file(file, &opts, &diags, &m, &err);
        if (progress)
            fprintf(stderr, "\r\033[K");
        cJSON *jf = NULL;
        if (json) {
            jf = cJSON_CreateObject();
            cJSON_AddStringToObject(jf, "file", file);
            cJSON_AddBoolToObject(jf, "valid", st == BATON_OK);
            cJSON_AddItemToArray(jfiles, jf);
        }
        if (st != BATON_OK) {
            n_bad++;
            if (json) {
                /* the first error, whatever its kind; diagnostics list them all */
                cJSON *o = cJSON_AddObjectToObject(jf, "error");
                cJSON_AddStringToObject(o, "code", baton_status_name(err.code));
                cJSON_AddStringToObject(o, "message", err.message);
                cJSON_AddStringToObject(o, "where", err.where);
                cJSON_AddItemToObject(jf, "diagnostics", diags_json(&diags));
            } else if (diags.n_errors == 0) {
                /* not a model-level failure: XML, limits, I/O */
                fprintf(stderr, "%s: %s\n", err.where[0] ? err.where : file, err.message);
            } else {
                print_diags(&diags, file, quiet);
            }
            baton_diags_fini(&diags);
            fflush(stderr);
            continue;
        }
        const baton_graph *g = baton_model_graph(m);
        fflush(stdout); /* keep a file's lines in order when both streams share a terminal */
        if (json) {
            cJSON_AddStringToObject(jf, "dialect", baton_dialect_name((baton_dialect)g->dialect));
            cJSON *jp = cJSON_AddArrayToObject(jf, "processes");
            for (uint32_t p = 0; p < g->n_processes; p++) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "id", g->processes[p].id);
                if (g->processes[p].name)
                    cJSON_AddStringToObject(o, "name", g->processes[p].name);
                cJSON_AddBoolToObject(o, "executable", g->processes[p].executable);
                cJSON_AddNumberToObject(o, "elements", process_elements(g, p));
                cJSON_AddItemToArray(jp, o);
            }
            cJSON_AddItemToObject(jf, "diagnostics", diags_json(&diags));
        } else {
            if (!quiet)
                print_diags(&diags, file, false);
            if (!quiet) {
                for (uint32_t p = 0; p < g->n_processes; p++) {
                    uint32_t n = process_elements(g, p);
                    printf("%s: ok: process '%s' (%u element%s)%s\n", file, g->processes[p].id, n,
                           n == 1 ? "" : "s",
                           g->processes[p].executable ? "" : " [not executable]");
                }
                if (g->n_processes == 0)
                    printf("%s: ok: no process\n", file);
            }
        }
        baton_diags_fini(&diags);
        baton_model_unref(m);
        fflush(stdout);
    }
    if (json) {
        cJSON_AddNumberToObject(jroot, "valid", n_files - n_bad);
        cJSON_AddNumberToObject(jroot, "invalid", n_bad);
        char *s = cJSON_Print(jroot);
        if (s) {
            puts(s);
            cJSON_free(s);
        }
        cJSON_Delete(jroot);
    }
    fflush(stdout);
    return n_bad ? BATON_EXIT_FAIL : BATON_EXIT_OK;
}
