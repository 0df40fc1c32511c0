/*
 * fuzz_expr.c - libFuzzer target for the expression compiler and evaluator.
 */
#include <stdint.h>
#include <stdlib.h>

#include "expr/expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    baton_error err;
    baton_error_clear(&err);
    baton_expr *e = NULL;
    if (baton_expr_compile((const char *)data, size, BATON_EXPR_MODE_AUTO, &e, &err) == BATON_OK)
        baton_expr_free(e);
    return 0;
}
