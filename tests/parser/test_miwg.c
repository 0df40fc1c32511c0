/*
 * test_miwg.c - conformance over the OMG BPMN MIWG corpus: every diagram
 * loads without crash, leak or hang, and its outcome (valid, or the exact
 * errors) matches the committed table miwg-expected.tsv, so a change in
 * what the loader accepts or says shows up as a failure to review.
 *
 * The corpus is third-party data read in place from $BATON_CORPUS/miwg
 * (the meson option `corpus`); it is never copied into the project. When
 * it is absent the test says so loudly and skips, unless
 * BATON_REQUIRE_CORPUS=1 (CI), where absence is a failure.
 *
 * Usage: test_miwg EXPECTED.tsv            compare
 *        test_miwg --write EXPECTED.tsv    rewrite the table from this run
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "parser/bpmn.h"
#include "tests/parser/helpers.h"
#include "tests/tap.h"

#define MAX_FILES 512

static const char *current;

static void on_alarm(int sig) {
    (void)sig;
    char msg[600];
    int n = snprintf(msg, sizeof msg, "not ok - %s: still loading after 10 s (a hang)\n",
                     current ? current : "?");
    if (n > 0 && write(STDOUT_FILENO, msg, (size_t)n) < 0) {
        /* nothing more to do */
    }
    _exit(1);
}

static int is_bpmn(const struct dirent *e) {
    size_t n = strlen(e->d_name);
    return n > 5 && strcmp(e->d_name + n - 5, ".bpmn") == 0;
}

/*
 * One file's outcome as the table spells it: "valid", or "invalid" with
 * every error as "L<line> <message>", or the status name ("parse",
 * "limit", ...) with the position and message of the failure.
 */
static void outcome_of(const char *dir, const char *file, baton_buf *result, baton_buf *detail,
                       uint32_t *warnings_out, int *invariants_out) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    baton_diags d;
    baton_diags_init(&d, 0);
    baton_error err;
    baton_error_clear(&err);
    baton_model *m = NULL;
    baton_load_opts o = {.name = file};
    baton_status st = baton_bpmn_load_file(path, &o, &d, &m, &err);
    baton_buf_reset(result);
    baton_buf_reset(detail);
    *warnings_out = d.n_warnings;
    *invariants_out = 0;
    if (st == BATON_OK) {
        baton_buf_puts(result, "valid");
        *invariants_out = graph_invariants(m, NULL);
    } else if (st == BATON_MODEL && d.n_errors) {
        baton_buf_puts(result, "invalid");
        bool first = true;
        for (uint32_t i = 0; i < d.n; i++) {
            const baton_diag *dg = &d.items[i];
            if (dg->severity != BATON_SEV_ERROR)
                continue;
            baton_buf_printf(detail, "%sL%u %s", first ? "" : " | ", dg->line, dg->message);
            first = false;
        }
    } else {
        char name[32];
        snprintf(name, sizeof name, "%s", baton_status_name(st));
        for (char *p = name; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        baton_buf_puts(result, name);
        const char *where = err.where;
        size_t fl = strlen(file);
        if (strncmp(where, file, fl) == 0 && where[fl] == ':')
            where += fl + 1;
        baton_buf_printf(detail, "%s%s%s", where, *where ? " " : "", err.message);
    }
    baton_model_unref(m);
    baton_diags_fini(&d);
}

typedef struct expected {
    char *file, *result, *detail;
    bool seen;
} expected;

static int read_table(const char *path, expected *rows, int max) {
    size_t len;
    char *text = slurp(path, &len);
    if (!text)
        return -1;
    int n = 0;
    for (char *line = text, *next; line && *line && n < max; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *t1 = strchr(line, '\t');
        char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t1)
            continue;
        *t1 = '\0';
        if (t2)
            *t2 = '\0';
        rows[n].file = baton_strdup(line);
        rows[n].result = baton_strdup(t1 + 1);
        rows[n].detail = baton_strdup(t2 ? t2 + 1 : "");
        rows[n].seen = false;
        n++;
    }
    baton_free(text);
    return n;
}

int main(int argc, char **argv) {
    bool write_mode = argc > 2 && strcmp(argv[1], "--write") == 0;
    const char *table = write_mode ? argv[2] : argc > 1 ? argv[1] : NULL;
    if (!table) {
        printf("Bail out! usage: test_miwg [--write] EXPECTED.tsv\n");
        return 1;
    }
    const char *corpus = getenv("BATON_CORPUS");
    const char *require = getenv("BATON_REQUIRE_CORPUS");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/miwg", corpus && *corpus ? corpus : "../shared/corpus");
    struct dirent **list = NULL;
    int n_files = scandir(dir, &list, is_bpmn, alphasort);
    if (n_files <= 0) {
        if (require && strcmp(require, "1") == 0) {
            printf("Bail out! the MIWG corpus is required but %s holds no .bpmn file "
                   "(set the meson option corpus)\n",
                   dir);
            return 1;
        }
        fprintf(stderr, "*** MIWG corpus ABSENT at %s: conformance NOT checked ***\n", dir);
        printf("1..0 # SKIP MIWG corpus absent at %s (meson option corpus)\n", dir);
        return 0;
    }

    static expected rows[MAX_FILES];
    int n_rows = 0;
    FILE *out = NULL;
    if (write_mode) {
        out = fopen(table, "w");
        if (!out) {
            printf("Bail out! cannot write %s\n", table);
            return 1;
        }
        fprintf(
            out,
            "# Expected outcome of loading each OMG BPMN MIWG diagram (tests/parser/test_miwg.c).\n"
            "# file\tresult\terrors: \"L<line> <message>\" joined by \" | \", or the failure\n"
            "# Regenerate after a deliberate change, then review the diff and\n"
            "# docs/conformance.md: BATON_CORPUS=<corpus> test_miwg --write <this file>\n");
    } else {
        n_rows = read_table(table, rows, MAX_FILES);
        if (n_rows < 0) {
            printf("Bail out! cannot read %s\n", table);
            return 1;
        }
    }

    signal(SIGALRM, on_alarm);
    tap_case = "miwg";
    baton_buf result, detail;
    baton_buf_init(&result, 0);
    baton_buf_init(&detail, 0);
    int valid = 0, invalid = 0, other = 0;
    for (int i = 0; i < n_files; i++) {
        const char *file = list[i]->d_name;
        current = file;
        uint32_t warnings;
        int broken;
        alarm(10);
        outcome_of(dir, file, &result, &detail, &warnings, &broken);
        alarm(0);
        const char *res = baton_buf_str(&result);
        valid += strcmp(res, "valid") == 0;
        invalid += strcmp(res, "invalid") == 0;
        other += strcmp(res, "valid") != 0 && strcmp(res, "invalid") != 0;
        TAP_EQ_INT(broken, 0, "%s: model invariants", file);
        if (write_mode) {
            fprintf(out, "%s\t%s\t%s\n", file, res, baton_buf_str(&detail));
            continue;
        }
        expected *e = NULL;
        for (int k = 0; k < n_rows && !e; k++)
            if (strcmp(rows[k].file, file) == 0)
                e = &rows[k];
        if (!e) {
            TAP_OK(0, "%s: in the expectations table (%s)", file, res);
            continue;
        }
        e->seen = true;
        TAP_EQ_STR(res, e->result, "%s: %s (%u warnings)", file, e->result, warnings);
        TAP_EQ_STR(baton_buf_str(&detail), e->detail, "%s: errors as expected", file);
    }
    for (int k = 0; k < n_rows; k++) {
        if (!rows[k].seen)
            TAP_OK(0, "%s: listed in the table but not in the corpus", rows[k].file);
        baton_free(rows[k].file);
        baton_free(rows[k].result);
        baton_free(rows[k].detail);
    }
    printf("# %d files: %d valid, %d invalid, %d refused before validation\n", n_files, valid,
           invalid, other);
    if (out)
        fclose(out);
    for (int i = 0; i < n_files; i++)
        free(list[i]);
    free(list);
    baton_buf_fini(&result);
    baton_buf_fini(&detail);
    return tap_done();
}
