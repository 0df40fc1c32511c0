/*
 * fuzz_bpmn.c - libFuzzer target for the BPMN loader: parse and validate
 * arbitrary bytes; must never crash, leak or hang.
 */
#include <stdint.h>
#include <stdlib.h>

#include "common/diag.h"
#include "parser/bpmn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    baton_diags diags;
    baton_diags_init(&diags, 64);
    baton_error err;
    baton_error_clear(&err);
    baton_model *m = NULL;
    baton_load_opts opts = {.name = "fuzz.bpmn", .max_elements = 20000};
    if (baton_bpmn_load((const char *)data, size, &opts, &diags, &m, &err) == BATON_OK)
        baton_model_unref(m);
    baton_diags_fini(&diags);
    return 0;
}
