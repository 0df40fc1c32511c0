/*
 * expr_stub.c - placeholder until the expression engine lands: compiles by
 * keeping the text, so the loader and model can be built and tested.
 */
#include "expr/expr.h"

#include <string.h>

#include "common/alloc.h"

struct baton_expr {
    baton_expr_lang lang;
    char *src;
};

baton_status baton_expr_compile(const char *text, size_t len, baton_expr_mode mode,
                                baton_expr **out, baton_error *err) {
    (void)err;
    baton_expr *e = baton_calloc(1, sizeof *e);
    if (!e || !(e->src = baton_strndup(text, len))) {
        baton_free(e);
        return BATON_NOMEM;
    }
    const char *p = e->src;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (mode == BATON_EXPR_MODE_FEEL || *p == '=')
        e->lang = BATON_EXPR_FEEL;
    else if (mode == BATON_EXPR_MODE_JUEL || strstr(p, "${") || strstr(p, "#{"))
        e->lang = BATON_EXPR_JUEL;
    else
        e->lang = BATON_EXPR_STATIC;
    *out = e;
    return BATON_OK;
}

void baton_expr_free(baton_expr *e) {
    if (!e)
        return;
    baton_free(e->src);
    baton_free(e);
}

baton_expr_lang baton_expr_language(const baton_expr *e) {
    return e->lang;
}

const char *baton_expr_source(const baton_expr *e) {
    return e->src;
}

size_t baton_expr_memory(const baton_expr *e) {
    return sizeof *e + strlen(e->src) + 1;
}

baton_status baton_expr_eval_json(const baton_expr *e, const baton_expr_env *env, cJSON **out,
                                  baton_error *err) {
    (void)env;
    (void)out;
    return baton_error_set(err, BATON_UNSUPPORTED, "expression evaluation not available: %s",
                           e->src);
}

baton_status baton_expr_eval_bool(const baton_expr *e, const baton_expr_env *env, bool *out,
                                  baton_error *err) {
    (void)env;
    (void)out;
    return baton_error_set(err, BATON_UNSUPPORTED, "expression evaluation not available: %s",
                           e->src);
}

baton_status baton_expr_eval_string(const baton_expr *e, const baton_expr_env *env, char **out,
                                    baton_error *err) {
    (void)env;
    if (e->lang != BATON_EXPR_STATIC)
        return baton_error_set(err, BATON_UNSUPPORTED, "expression evaluation not available: %s",
                               e->src);
    *out = baton_strdup(e->src);
    return *out ? BATON_OK : BATON_NOMEM;
}
