/*
 * fuzz_bpmn.c - libFuzzer target for the BPMN loader: parse and validate
 * arbitrary bytes; must never crash, leak or hang, and a model it accepts
 * must keep the graph invariants the interpreter relies on (a broken one
 * aborts, so the fuzzer reports it). Its corpus (corpus/bpmn) replays as a
 * plain test through replay_main.c.
 *
 * Run the real fuzzer (clang):
 *   CC=clang meson setup _build/fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false
 *   ninja -C _build/fuzz tests/fuzz/fuzz-bpmn
 *   _build/fuzz/tests/fuzz/fuzz-bpmn -dict=tests/fuzz/bpmn.dict -max_len=16384 \
 *       -timeout=10 NEW_DIR tests/fuzz/corpus/bpmn
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/diag.h"
#include "parser/bpmn.h"
#include "tests/parser/helpers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    baton_diags diags;
    baton_diags_init(&diags, 64);
    baton_error err;
    baton_error_clear(&err);
    baton_model *m = NULL;
    /* the input's length picks the option set, so both paths get fuzzed */
    baton_load_opts opts = {
        .name = "fuzz.bpmn", .max_elements = 20000, .unexecutable_as_warnings = (size & 1) != 0};
    if (baton_bpmn_load((const char *)data, size, &opts, &diags, &m, &err) == BATON_OK) {
        if (graph_invariants(m, NULL) != 0)
            abort();
        baton_model_unref(m);
    }
    baton_diags_fini(&diags);
    return 0;
}
