/*
 * test_cli.c - `baton validate` as a user and a script see it: exit codes
 * (0 valid, 1 invalid, 2 usage), the exact compiler-style lines, every
 * error of a file in one run, --quiet, the --json document's shape,
 * --help and --version.
 *
 * Usage: test_cli_validate BATON_EXE DATA_DIR
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "baton_config.h"
#include "common/alloc.h"
#include "tests/parser/helpers.h"
#include "tests/tap.h"

extern char **environ;

static const char *baton, *data_dir;
static char out_path[600], err_path[600];

typedef struct run {
    int code;
    char *out, *err;
    size_t out_len, err_len;
} run;

/* Run baton with args (NULL-terminated), capturing both streams. */
static run run_baton(const char *const *args) {
    run r = {.code = -1};
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)baton;
    for (; args[n - 1] && n < 31; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path, O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err_path, O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    pid_t pid;
    int status = 0;
    if (posix_spawn(&pid, baton, &fa, NULL, argv, environ) == 0 &&
        waitpid(pid, &status, 0) == pid && WIFEXITED(status))
        r.code = WEXITSTATUS(status);
    posix_spawn_file_actions_destroy(&fa);
    r.out = slurp(out_path, &r.out_len);
    r.err = slurp(err_path, &r.err_len);
    return r;
}

static void run_free(run *r) {
    baton_free(r->out);
    baton_free(r->err);
}

static unsigned count_lines(const char *s) {
    unsigned n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

static char *path_of(const char *file) {
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    data_path(buf[k], sizeof buf[k], data_dir, file);
    return buf[k];
}

/*
 * Output that cannot be written fails the command: stdout is /dev/full
 * (every write there fails with ENOSPC), stderr is captured.
 */
static void test_output_lost(void) {
    const char *argv[] = {baton, "validate", path_of("events.bpmn"), NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/full", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err_path, O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    pid_t pid;
    int status = 0, code = -1;
    if (posix_spawn(&pid, baton, &fa, NULL, (char **)argv, environ) == 0 &&
        waitpid(pid, &status, 0) == pid && WIFEXITED(status))
        code = WEXITSTATUS(status);
    posix_spawn_file_actions_destroy(&fa);
    size_t n = 0;
    char *err = slurp(err_path, &n);
    TAP_EQ_INT(code, 1, "stdout on a full disk: exit 1, not success");
    TAP_CONTAINS(err, "cannot write the output: No space left on device", "and says why");
    baton_free(err);
}

static void test_valid(void) {
    const char *f = path_of("events.bpmn");
    run r = run_baton((const char *[]){"validate", f, NULL});
    TAP_EQ_INT(r.code, 0, "valid file: exit 0");
    char want[1200];
    snprintf(want, sizeof want, "%s: ok: process 'events' (73 elements)\n", f);
    TAP_EQ_STR(r.out, want, "valid file: one ok line per process");
    TAP_EQ_STR(r.err, "", "valid file: nothing on stderr");
    run_free(&r);

    f = path_of("collaboration.bpmn");
    r = run_baton((const char *[]){"validate", f, NULL});
    TAP_EQ_INT(r.code, 0, "three processes: exit 0");
    TAP_EQ_INT(count_lines(r.out), 3, "three ok lines");
    snprintf(want, sizeof want, "%s: ok: process 'customer' (5 elements) [not executable]\n", f);
    TAP_CONTAINS(r.out, want, "a drawing says so");
    run_free(&r);
}

static void test_invalid(void) {
    const char *f = path_of("bad/structure.bpmn");
    run r = run_baton((const char *[]){"validate", f, NULL});
    TAP_EQ_INT(r.code, 1, "invalid file: exit 1");
    TAP_EQ_STR(r.out, "", "invalid file: nothing on stdout");
    char want[1200];
    snprintf(want, sizeof want,
             "%s:8: element 'dup': duplicate id: task 'dup' already defined at line 7\n", f);
    TAP_CONTAINS(r.err, want, "FILE:LINE: element 'ID': message");
    snprintf(want, sizeof want,
             "%s:19: element 'call': warning: calls process 'other_process', which is not in "
             "this file: it must be deployed before the call runs\n",
             f);
    TAP_CONTAINS(r.err, want, "FILE:LINE: element 'ID': warning: message");
    TAP_EQ_INT(count_lines(r.err), 13, "all twelve errors and the warning in one run");
    TAP_OK(r.err && strncmp(r.err, f, strlen(f)) == 0 && strstr(r.err, ":8: element 'dup'") &&
               strstr(r.err, ":8: element 'dup'") < strstr(r.err, ":28: element 'm1'"),
           "in line order");
    run_free(&r);

    r = run_baton((const char *[]){"validate", "--quiet", f, NULL});
    TAP_EQ_INT(r.code, 1, "--quiet: still exit 1");
    TAP_EQ_INT(count_lines(r.err), 12, "--quiet: errors only");
    run_free(&r);

    f = path_of("bad/malformed.bpmn");
    r = run_baton((const char *[]){"validate", f, NULL});
    TAP_EQ_INT(r.code, 1, "malformed XML: exit 1");
    snprintf(want, sizeof want,
             "%s:5:18: malformed XML: opening and ending tag mismatch: startEvent line 4 and "
             "process\n",
             f);
    TAP_EQ_STR(r.err, want, "FILE:LINE:COL: message for XML errors");
    run_free(&r);

    /* libxml2 prints encoding errors itself unless silenced: one line, ours */
    f = path_of("bad/bad-cp1252.bpmn");
    r = run_baton((const char *[]){"validate", f, NULL});
    snprintf(want, sizeof want,
             "%s:2:71: bytes 0x81 0x62 0x22 0x2F cannot be read as windows-1252, the encoding "
             "the document declares\n",
             f);
    TAP_EQ_STR(r.err, want, "encoding error: our one line, nothing from libxml2");
    run_free(&r);

    r = run_baton((const char *[]){"validate", "no/such/file.bpmn", NULL});
    TAP_EQ_INT(r.code, 1, "missing file: exit 1");
    TAP_EQ_STR(r.err, "no/such/file.bpmn: cannot open: No such file or directory\n",
               "missing file: named");
    run_free(&r);

    f = path_of("events.bpmn");
    r = run_baton((const char *[]){"validate", "--max-bytes", "100", f, NULL});
    TAP_EQ_INT(r.code, 1, "--max-bytes: exit 1");
    TAP_CONTAINS(r.err, "more than the limit of 100\n", "--max-bytes: the limit is named");
    run_free(&r);

    /* several files: each reported, one exit code for all */
    const char *g = path_of("bad/no-start.bpmn");
    r = run_baton((const char *[]){"validate", f, g, NULL});
    TAP_EQ_INT(r.code, 1, "one bad file among two: exit 1");
    TAP_EQ_INT(count_lines(r.out), 1, "the good one's ok line");
    TAP_EQ_INT(count_lines(r.err), 1, "the bad one's error");
    run_free(&r);
}

static void test_json(void) {
    const char *f = path_of("zeebe.bpmn");
    const char *g = path_of("bad/structure.bpmn");
    const char *h = path_of("bad/malformed.bpmn");
    run r = run_baton((const char *[]){"validate", "--json", f, g, h, NULL});
    TAP_EQ_INT(r.code, 1, "--json: exit code as without");
    cJSON *doc = cJSON_Parse(r.out ? r.out : "");
    TAP_OK(doc != NULL, "--json: stdout is one JSON document");
    TAP_EQ_STR(r.err, "", "--json: nothing on stderr");
    if (!doc) {
        run_free(&r);
        return;
    }
    TAP_EQ_INT(cJSON_GetObjectItem(doc, "valid")->valueint, 1, "valid count");
    TAP_EQ_INT(cJSON_GetObjectItem(doc, "invalid")->valueint, 2, "invalid count");
    cJSON *files = cJSON_GetObjectItem(doc, "files");
    TAP_EQ_INT(cJSON_GetArraySize(files), 3, "one entry per file");
    cJSON *a = cJSON_GetArrayItem(files, 0), *b = cJSON_GetArrayItem(files, 1),
          *c = cJSON_GetArrayItem(files, 2);
    TAP_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a, "file")), f, "file name");
    TAP_OK(cJSON_IsTrue(cJSON_GetObjectItem(a, "valid")), "valid: true");
    TAP_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(a, "dialect")), "camunda8", "dialect");
    cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(a, "processes"), 0);
    TAP_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(p, "id")), "order", "process id");
    TAP_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(p, "name")), "Order", "process name");
    TAP_OK(cJSON_IsTrue(cJSON_GetObjectItem(p, "executable")), "executable");
    TAP_EQ_INT(cJSON_GetObjectItem(p, "elements")->valueint, 18, "elements");
    cJSON *w = cJSON_GetArrayItem(cJSON_GetObjectItem(a, "diagnostics"), 0);
    TAP_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(w, "severity")), "warning",
               "a valid file's warnings");
    TAP_EQ_INT(cJSON_GetObjectItem(w, "line")->valueint, 54, "warning line");
    TAP_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(w, "element")), "ship_each",
               "warning element");

    TAP_OK(cJSON_IsFalse(cJSON_GetObjectItem(b, "valid")), "invalid: false");
    cJSON *e = cJSON_GetObjectItem(b, "error");
    TAP_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e, "code")), "MODEL", "error code");
    TAP_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e, "message")),
               "duplicate id: task 'dup' already defined at line 7", "first error message");
    TAP_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(e, "where")),
                 "structure.bpmn:8: element 'dup'", "first error where");
    cJSON *ds = cJSON_GetObjectItem(b, "diagnostics");
    TAP_EQ_INT(cJSON_GetArraySize(ds), 13, "every diagnostic");
    cJSON *d0 = cJSON_GetArrayItem(ds, 0);
    TAP_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(d0, "severity")), "error", "severity");
    TAP_EQ_INT(cJSON_GetObjectItem(d0, "line")->valueint, 8, "line");
    TAP_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(d0, "element")), "dup", "element");
    TAP_OK(cJSON_GetStringValue(cJSON_GetObjectItem(d0, "message")) != NULL, "message");

    e = cJSON_GetObjectItem(c, "error");
    TAP_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e, "code")), "PARSE", "XML error code");
    TAP_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(e, "where")), "malformed.bpmn:5:18",
                 "XML error where");
    TAP_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(c, "diagnostics")), 0,
               "an XML error has no diagnostics list");
    cJSON_Delete(doc);
    run_free(&r);
}

static void test_usage(void) {
    const char *const *cases[] = {
        (const char *[]){NULL},
        (const char *[]){"validate", NULL},
        (const char *[]){"validate", "--frobnicate", "x.bpmn", NULL},
        (const char *[]){"validate", "--max-bytes", "lots", "x.bpmn", NULL},
        (const char *[]){"validate", "--max-bytes", NULL},
        (const char *[]){"validate", "x.bpmn", "--json", NULL},
        (const char *[]){"frobnicate", NULL},
    };
    const char *const names[] = {
        "no command",         "no file",         "unknown option", "bad number", "missing value",
        "option after files", "unknown command",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        run r = run_baton(cases[i]);
        TAP_EQ_INT(r.code, 2, "usage error (%s): exit 2", names[i]);
        TAP_OK(r.err && r.err_len > 0 && r.out_len == 0, "usage error (%s): said on stderr",
               names[i]);
        run_free(&r);
    }
    run r = run_baton((const char *[]){"validate", "--frobnicate", "x.bpmn", NULL});
    TAP_CONTAINS(r.err, "unknown option '--frobnicate'", "the option is named");
    TAP_CONTAINS(r.err, "Try 'baton validate --help'", "and help is offered");
    run_free(&r);
}

static void test_help_version(void) {
    run r = run_baton((const char *[]){"--help", NULL});
    TAP_EQ_INT(r.code, 0, "--help: exit 0");
    TAP_CONTAINS(r.out, "usage: baton", "--help: usage on stdout");
    TAP_CONTAINS(r.out, "validate", "--help: lists validate");
    run_free(&r);
    r = run_baton((const char *[]){"validate", "--help", NULL});
    TAP_EQ_INT(r.code, 0, "validate --help: exit 0");
    TAP_CONTAINS(r.out, "usage: baton validate", "validate --help: its usage");
    TAP_CONTAINS(r.out, "--json", "validate --help: names --json");
    run_free(&r);
    r = run_baton((const char *[]){"--version", NULL});
    TAP_EQ_INT(r.code, 0, "--version: exit 0");
    TAP_EQ_STR(r.out, "baton " BATON_VERSION "\n", "--version: name and version");
    run_free(&r);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        printf("Bail out! usage: test_cli_validate BATON_EXE DATA_DIR\n");
        return 1;
    }
    baton = argv[1];
    data_dir = argv[2];
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/baton-cli-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        printf("Bail out! cannot make a temporary folder\n");
        return 1;
    }
    snprintf(out_path, sizeof out_path, "%s/out", dir);
    snprintf(err_path, sizeof err_path, "%s/err", dir);
    TAP_RUN(test_valid);
    TAP_RUN(test_invalid);
    TAP_RUN(test_json);
    TAP_RUN(test_usage);
    TAP_RUN(test_help_version);
    TAP_RUN(test_output_lost);
    unlink(out_path);
    unlink(err_path);
    rmdir(dir);
    return tap_done();
}
