/*
 * expr.c - the public face of expr/: compile once (dialect detection,
 * bounds, parse into an arena-held AST), evaluate many times (scratch
 * memory on the stack, results converted to JSON, text or booleans).
 *
 * A compiled expression is immutable, so evaluations may run concurrently
 * on several threads; each evaluation owns its scratch memory and frees it
 * before returning.
 */
#include "expr/expr.h"

#include <stdalign.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/arena.h"
#include "expr/expr_int.h"

#define AST_ARENA_LIMIT ((size_t)32 << 20)

static bool ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool has_juel(const char *s, size_t len) {
    for (size_t i = 0; i + 1 < len; i++)
        if ((s[i] == '$' || s[i] == '#') && s[i + 1] == '{')
            return true;
    return false;
}

baton_status baton_expr_compile(const char *text, size_t len, baton_expr_mode mode,
                                baton_expr **out, baton_error *err) {
    if (!text && len)
        return baton_error_set(err, BATON_INVALID, "expression text is NULL");
    if (len > BATON_EXPR_MAX_LEN) {
        baton_error_set(err, BATON_LIMIT, "expression is longer than %d bytes near '%.10s'",
                        BATON_EXPR_MAX_LEN, text);
        baton_error_where(err, "col 1");
        return BATON_LIMIT;
    }
    baton_expr *e = baton_calloc(1, sizeof *e);
    if (!e || !(e->src = baton_strndup(text ? text : "", len))) {
        baton_free(e);
        return baton_error_set(err, BATON_NOMEM, "out of memory compiling expression");
    }
    const char *s = e->src, *end = e->src + len;
    while (s < end && ws(*s))
        s++;
    while (end > s && ws(end[-1]))
        end--;
    baton_status st = BATON_OK;
    if (mode == BATON_EXPR_MODE_FEEL || (mode == BATON_EXPR_MODE_AUTO && s < end && *s == '=')) {
        e->lang = BATON_EXPR_FEEL;
        if (s < end && *s == '=')
            s++;
    } else if (mode == BATON_EXPR_MODE_JUEL ||
               (mode == BATON_EXPR_MODE_AUTO && has_juel(s, (size_t)(end - s)))) {
        e->lang = BATON_EXPR_JUEL;
    } else {
        e->lang = BATON_EXPR_STATIC;
        e->text = s;
        e->text_len = (size_t)(end - s);
        *out = e;
        return BATON_OK;
    }
    e->arena = baton_arena_new(1024, AST_ARENA_LIMIT);
    if (!e->arena) {
        st = baton_error_set(err, BATON_NOMEM, "out of memory compiling expression");
        goto fail;
    }
    if ((st = baton_feel_parse(e, s, (size_t)(end - s), e->lang, err)))
        goto fail;
    *out = e;
    return BATON_OK;
fail:
    baton_expr_free(e);
    return st;
}

void baton_expr_free(baton_expr *e) {
    if (!e)
        return;
    baton_arena_free(e->arena);
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
    if (!e)
        return 0;
    return sizeof *e + strlen(e->src) + 1 + (e->arena ? baton_arena_reserved(e->arena) : 0);
}

/* ---- evaluation --------------------------------------------------------------------- */

#define STACK_SCRATCH 3072

typedef struct run {
    ev x;
    alignas(16) char stack[STACK_SCRATCH];
} run;

static baton_status start(run *r, const baton_expr *e, const baton_expr_env *env, fv *out,
                          baton_error *err) {
    r->x.env = env;
    r->x.sc = NULL;
    r->x.steps = 0;
    r->x.depth = 0;
    r->x.calls = 0;
    r->x.over = false;
    r->x.why[0] = '\0';
    r->x.err = err;
    r->x.max_steps = env && env->max_steps ? env->max_steps : BATON_EXPR_MAX_STEPS;
    size_t limit = env && env->max_bytes ? env->max_bytes : BATON_EXPR_MAX_BYTES;
    baton_feel_scratch_init(&r->x.mem, r->stack, sizeof r->stack, limit);
    if (e->lang == BATON_EXPR_STATIC) {
        baton_feel_str(out, e->text, e->text_len);
        return BATON_OK;
    }
    /* errors deeper down are recorded in err; keep a local record when the caller has none */
    return baton_feel_eval(&r->x, e->root, out);
}

static void finish(run *r) {
    baton_feel_scratch_fini(&r->x.mem);
}

static baton_status check(baton_status st, baton_error *err) {
    if (st && !baton_error_isset(err))
        baton_error_set(err, st, "%s", baton_status_text(st));
    return st;
}

/* ev needs an error record to read codes from: use a local one when err is NULL. */
#define LOCAL_ERR(err)                                                                             \
    baton_error local_err_;                                                                        \
    if (!(err)) {                                                                                  \
        baton_error_clear(&local_err_);                                                            \
        (err) = &local_err_;                                                                       \
    }

baton_status baton_expr_eval_json(const baton_expr *e, const baton_expr_env *env, cJSON **out,
                                  baton_error *err) {
    LOCAL_ERR(err);
    run r;
    fv v;
    baton_status st = start(&r, e, env, &v, err);
    cJSON *j = NULL;
    size_t budget = r.x.mem.limit;
    if (!st && (st = baton_feel_to_cjson(&v, &j, 0, &budget)))
        baton_error_set(err, st,
                        st == BATON_LIMIT ? "result too large or nested too deeply"
                                          : "out of memory converting the result");
    finish(&r);
    if (check(st, err))
        return st;
    *out = j;
    return BATON_OK;
}

static void describe(char *buf, size_t cap, const fv *v, const ev *x) {
    if (v->t == T_NULL && x->why[0])
        snprintf(buf, cap, "null (%s)", x->why);
    else
        snprintf(buf, cap, "%s", baton_feel_type_name(v));
}

baton_status baton_expr_eval_bool(const baton_expr *e, const baton_expr_env *env, bool *out,
                                  baton_error *err) {
    LOCAL_ERR(err);
    run r;
    fv v;
    baton_status st = start(&r, e, env, &v, err);
    if (!st) {
        if (v.t == T_BOOL) {
            *out = v.u.b;
        } else if (e->lang == BATON_EXPR_STATIC && e->text_len == 4 &&
                   !memcmp(e->text, "true", 4)) {
            *out = true;
        } else if (e->lang == BATON_EXPR_STATIC && e->text_len == 5 &&
                   !memcmp(e->text, "false", 5)) {
            *out = false;
        } else {
            char what[200];
            describe(what, sizeof what, &v, &r.x);
            st = baton_error_set(err, BATON_EVAL, "condition evaluated to %s, not a boolean", what);
        }
    }
    finish(&r);
    return check(st, err);
}

baton_status baton_expr_eval_string(const baton_expr *e, const baton_expr_env *env, char **out,
                                    baton_error *err) {
    LOCAL_ERR(err);
    run r;
    fv v;
    baton_status st = start(&r, e, env, &v, err);
    char *s = NULL;
    if (!st) {
        if (v.t == T_NULL || v.t == T_LIST || v.t == T_CTX || v.t == T_FUNC || v.t == T_RANGE) {
            char what[200];
            describe(what, sizeof what, &v, &r.x);
            st = baton_error_set(err, BATON_EVAL, "expression evaluated to %s, not a text value",
                                 what);
        } else {
            baton_buf b;
            baton_buf_init(&b, r.x.mem.limit);
            st = baton_feel_to_text(&v, &b);
            if (!st && !(s = b.data ? baton_buf_take(&b) : baton_strdup("")))
                st = BATON_NOMEM;
            baton_buf_fini(&b);
            if (st)
                baton_error_set(err, st,
                                st == BATON_LIMIT ? "result too large"
                                                  : "out of memory converting the result");
        }
    }
    finish(&r);
    if (check(st, err))
        return st;
    *out = s;
    return BATON_OK;
}

baton_status baton_expr_eval_to_buf(const baton_expr *e, const baton_expr_env *env, int how,
                                    baton_buf *out, baton_error *err) {
    LOCAL_ERR(err);
    run r;
    fv v;
    size_t mark = out->len, saved_limit = out->limit;
    baton_status st = start(&r, e, env, &v, err);
    /* the text may not exceed the evaluation's memory bound either */
    size_t cap = out->limit ? out->limit : BATON_BUF_DEFAULT_LIMIT;
    if (cap - mark > r.x.mem.limit)
        out->limit = mark + r.x.mem.limit;
    if (!st && how == BATON_EXPR_OUT_TYPED) {
        st = baton_buf_puts(out, "{\"type\":");
        if (!st)
            st = baton_buf_json_string(out, baton_feel_type_name(&v));
        if (!st)
            st = baton_buf_puts(out, ",\"value\":");
    }
    if (!st)
        st = baton_feel_to_json_text(&v, out, 0);
    if (!st && how == BATON_EXPR_OUT_TYPED)
        st = baton_buf_putc(out, '}');
    if (st && !baton_error_isset(err))
        baton_error_set(err, st,
                        st == BATON_NOMEM ? "out of memory writing the result"
                                          : "result too large or nested too deeply");
    out->limit = saved_limit;
    finish(&r);
    if (st && out->data) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return check(st, err);
}
