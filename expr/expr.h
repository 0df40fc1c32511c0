/*
 * expr.h - expressions in diagrams: FEEL (Camunda 8, leading '=') and a JUEL
 * subset (Camunda 7, `${...}`), compiled once to one AST and evaluated many
 * times against a variable context.
 *
 * Layer: expr/ sits on common/ only; models/ holds compiled expressions,
 * the parser compiles them at deploy time, the interpreter evaluates them.
 * Evaluation is pure: no I/O, no wall clock (the clock comes in the env),
 * no globals, bounded steps and result size.
 */
#ifndef BATON_EXPR_EXPR_H
#define BATON_EXPR_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/buf.h"
#include "common/error.h"

typedef struct baton_expr baton_expr;

/* What a compiled expression is. */
typedef enum baton_expr_lang {
    BATON_EXPR_STATIC = 0, /* plain text with no expression syntax: evaluates to itself */
    BATON_EXPR_FEEL,       /* "= ..." */
    BATON_EXPR_JUEL,       /* "${...}" or a text template mixing text and ${...} */
} baton_expr_lang;

/* How to read the source text. */
typedef enum baton_expr_mode {
    BATON_EXPR_MODE_AUTO = 0, /* '=' prefix -> FEEL; ${ or #{ -> JUEL; otherwise static text */
    BATON_EXPR_MODE_FEEL,     /* the whole text is FEEL, no '=' needed */
    BATON_EXPR_MODE_JUEL,     /* the whole text is a JUEL template */
} baton_expr_mode;

/*
 * Compile `text[0..len)`. Leading and trailing white space is ignored (some
 * tools put the expression on its own line inside CDATA). On a syntax error
 * returns BATON_EXPR with err->where = "col N" (1-based, counted in the text
 * as given) and a message ending in "near 'tok'".
 */
baton_status baton_expr_compile(const char *text, size_t len, baton_expr_mode mode,
                                baton_expr **out, baton_error *err);
void baton_expr_free(baton_expr *e);

baton_expr_lang baton_expr_language(const baton_expr *e);
/* The source text as given to compile (borrowed, valid while e lives). */
const char *baton_expr_source(const baton_expr *e);
/* Heap bytes held by the compiled expression (memory accounting). */
size_t baton_expr_memory(const baton_expr *e);

/*
 * Variable lookup: return the value of `name` (borrowed, valid during the
 * evaluation) or NULL when the variable does not exist.
 */
typedef const cJSON *(*baton_expr_lookup_fn)(void *cookie, const char *name, size_t len);

typedef struct baton_expr_env {
    baton_expr_lookup_fn lookup; /* may be NULL: no variables */
    void *cookie;
    int64_t now_ms;     /* the injected clock: ms since 1970-01-01T00:00:00Z */
    const char *zone;   /* zone for now()/today() and zone-less date-times; NULL = UTC */
    uint32_t max_steps; /* evaluation step bound; 0 = default (1,000,000) */
    size_t max_bytes;   /* memory one evaluation may use (result size bound); 0 = 16 MiB */
} baton_expr_env;

/*
 * Evaluate to a JSON value (owned by the caller, cJSON_Delete). Temporal
 * values and durations become ISO 8601 strings, null becomes a JSON null.
 */
baton_status baton_expr_eval_json(const baton_expr *e, const baton_expr_env *env, cJSON **out,
                                  baton_error *err);

/*
 * Evaluate a condition. A non-boolean result (null included) is an error:
 * the interpreter raises an incident rather than guessing.
 */
baton_status baton_expr_eval_bool(const baton_expr *e, const baton_expr_env *env, bool *out,
                                  baton_error *err);

/*
 * Evaluate to text (for job types, names, correlation keys, timer specs,
 * assignees): strings as they are, numbers, booleans and temporals in their
 * canonical text; null and lists/contexts are errors. The result is
 * allocated with baton_malloc (free with baton_free).
 */
baton_status baton_expr_eval_string(const baton_expr *e, const baton_expr_env *env, char **out,
                                    baton_error *err);

/* Output forms of baton_expr_eval_to_buf. */
enum {
    BATON_EXPR_OUT_JSON = 0,  /* the value as plain JSON (numbers keep their decimal digits) */
    BATON_EXPR_OUT_TYPED = 1, /* {"type":"<FEEL type>","value":<plain JSON>} */
};

/*
 * Evaluate and append the result to `out` in the form `how` (one of
 * BATON_EXPR_OUT_*). Unlike baton_expr_eval_json this keeps decimal numbers
 * exact (0.1 + 0.2 prints 0.3, 1/3 prints 34 digits) and allocates nothing
 * beyond the buffer's growth, so a caller reusing one buffer evaluates
 * without touching the heap in the common cases. FEEL type names are those
 * of DMN 1.4: null, number, string, boolean, date, time, date and time,
 * days and time duration, years and months duration, list, context, range,
 * function.
 */
baton_status baton_expr_eval_to_buf(const baton_expr *e, const baton_expr_env *env, int how,
                                    baton_buf *out, baton_error *err);

#endif
