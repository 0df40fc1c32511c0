/*
 * fuzz_expr.c - libFuzzer target for the expression compiler and evaluator:
 * each input is compiled as diagram text (AUTO: '=' FEEL, ${} JUEL, else
 * static) and as bare FEEL, and whatever compiles is evaluated against a
 * small context through every output path, with tight step and memory
 * bounds so slow inputs end quickly instead of timing the fuzzer out.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "expr/expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char context_json[] =
    "{\"amount\": 150, \"status\": \"open\", \"n\": 0.1, \"flag\": true, \"none\": null,"
    " \"items\": [{\"name\": \"a\", \"price\": 10}, {\"name\": \"b\", \"price\": 120}],"
    " \"nums\": [3, 1, 2], \"person\": {\"name\": \"Ada\", \"tags\": [\"x\"]},"
    " \"when\": \"2026-01-01T08:00:00Z\", \"loopCounter\": 2}";

static cJSON *context;

static const cJSON *lookup(void *cookie, const char *name, size_t len) {
    for (const cJSON *c = ((const cJSON *)cookie)->child; c; c = c->next)
        if (c->string && strlen(c->string) == len && memcmp(c->string, name, len) == 0)
            return c;
    return NULL;
}

static void run(const char *text, size_t len, baton_expr_mode mode) {
    baton_error err;
    baton_error_clear(&err);
    baton_expr *e = NULL;
    if (baton_expr_compile(text, len, mode, &e, &err) != BATON_OK)
        return;
    baton_expr_env env = {lookup, context, INT64_C(1767254400000), "Europe/Berlin", 20000, 1 << 20};
    baton_buf b;
    baton_buf_init(&b, 1 << 20);
    baton_error_clear(&err);
    baton_expr_eval_to_buf(e, &env, BATON_EXPR_OUT_TYPED, &b, &err);
    baton_buf_fini(&b);
    bool yes;
    baton_expr_eval_bool(e, &env, &yes, NULL);
    char *s = NULL;
    if (baton_expr_eval_string(e, &env, &s, NULL) == BATON_OK)
        baton_free(s);
    cJSON *j = NULL;
    if (baton_expr_eval_json(e, &env, &j, NULL) == BATON_OK)
        cJSON_Delete(j);
    (void)baton_expr_memory(e);
    baton_expr_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!context)
        context = cJSON_Parse(context_json);
    if (size > 4096)
        return 0;
    run((const char *)data, size, BATON_EXPR_MODE_AUTO);
    run((const char *)data, size, BATON_EXPR_MODE_FEEL);
    return 0;
}
