/*
 * test_torture.c - allocation torture for the loader (curl's torture runs,
 * SQLite's malloc tests): load representative files failing the 1st, 2nd,
 * ... allocation in turn until a load completes without the hook firing.
 * Every run must end in BATON_NOMEM with an "out of memory" message, or in
 * the file's normal outcome when no allocation failed; never a crash, and
 * never a leak (the sanitizer build checks leaks at exit). libxml2
 * allocates with its own allocator, which the hook does not reach.
 *
 * Usage: test_torture DATA_DIR
 */
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "parser/bpmn.h"
#include "tests/parser/helpers.h"
#include "tests/tap.h"

static const char *data_dir;

static void torture(const char *file, baton_status normal) {
    char path[1024];
    data_path(path, sizeof path, data_dir, file);
    uint32_t runs = 0, nomem = 0, wrong = 0, bad_message = 0;
    for (uint64_t n = 1; n < 100000; n++) {
        baton_diags d;
        baton_diags_init(&d, 0);
        baton_error err;
        baton_error_clear(&err);
        baton_model *m = NULL;
        baton_load_opts o = {.name = file};
        baton_alloc_fail_after(n);
        baton_status st = baton_bpmn_load_file(path, &o, &d, &m, &err);
        bool fired = baton_alloc_hook_fired();
        baton_alloc_fail_after(0);
        runs++;
        if (fired) {
            nomem += st == BATON_NOMEM;
            if (st != BATON_NOMEM || m) {
                if (wrong++ < 5)
                    printf("#   %s: failing allocation %llu gave %s (%s)\n", file,
                           (unsigned long long)n, baton_status_name(st), err.message);
            } else if (!strstr(err.message, "out of memory")) {
                if (bad_message++ < 5)
                    printf("#   %s: allocation %llu: message \"%s\"\n", file, (unsigned long long)n,
                           err.message);
            }
        }
        if (m) {
            /* the model a successful load returns is whole */
            TAP_EQ_INT(graph_invariants(m, NULL), 0, "%s: invariants after the torture", file);
            baton_model_unref(m);
        }
        baton_diags_fini(&d);
        if (!fired) {
            TAP_EQ_STR(baton_status_name(st), baton_status_name(normal),
                       "%s: the load that no failure touched has its normal outcome", file);
            break;
        }
    }
    TAP_OK(runs > 20, "%s: %u allocations failed in turn", file, runs - 1);
    TAP_EQ_INT(wrong, 0, "%s: every failed allocation gave BATON_NOMEM and no model", file);
    TAP_EQ_INT(bad_message, 0, "%s: and says \"out of memory\"", file);
    TAP_EQ_INT(nomem, runs - 1, "%s: %u clean NOMEM outcomes", file, nomem);
}

static void test_torture(void) {
    torture("events.bpmn", BATON_OK);
    torture("zeebe.bpmn", BATON_OK);
    torture("camunda7.bpmn", BATON_OK);
    torture("collaboration.bpmn", BATON_OK);
    torture("not-executable.bpmn", BATON_OK);
    torture("bad/structure.bpmn", BATON_MODEL);
    torture("bad/execution.bpmn", BATON_MODEL);
}

int main(int argc, char **argv) {
    data_dir = argc > 1 ? argv[1] : "tests/parser/data";
    TAP_RUN(test_torture);
    return tap_done();
}
