/*
 * cmd_eval.c - `baton eval`: compile and evaluate one FEEL or JUEL
 * expression against a JSON context, or many from JSON lines:
 *
 *   baton eval '= amount > 100' --context '{"amount": 150}'   -> true
 *   baton eval --json 'date("2026-01-01") + duration("P1D")'  ->
 * {"type":"date","value":"2026-01-02"} baton eval --jsonl < cases.jsonl                         ->
 * one result line per input line
 *
 * The clock (now(), today()) is the wall clock unless --now is given, so
 * scripted checks can pin it. Exit 0 ok, 1 compile/evaluation error, 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "expr/expr.h"
#include "expr/isotime.h"

#define LINE_MAX_BYTES ((size_t)1 << 20)

static const char usage_text[] =
    "usage: baton eval [options] EXPRESSION\n"
    "       baton eval --jsonl [options] < CASES.jsonl\n"
    "\n"
    "Evaluate a FEEL or JUEL expression and print the result as JSON.\n"
    "\n"
    "options:\n"
    "  --context JSON   variables as a JSON object (default {})\n"
    "  --dialect D      feel, juel or auto (default: juel when the text has ${...} or\n"
    "                   #{...}, else feel; auto reads text without '=' or ${} as a static\n"
    "                   value, as diagrams do)\n"
    "  --json           print {\"type\":\"<FEEL type>\",\"value\":<value>}, and errors as\n"
    "                   {\"error\":\"<message>\",\"column\":N}\n"
    "  --jsonl          read {\"expression\":..., \"context\":...} per line from standard input\n"
    "                   (optional \"dialect\"), write one --json result per line, in order\n"
    "  --now ISO        the clock for now() and today() (default: the current time)\n"
    "  --zone ZONE      time zone for now()/today() and zone-less date-times (default UTC)\n"
    "  --max-steps N    evaluation step bound (default 1000000)\n"
    "\n"
    "Values print as plain JSON: numbers as numbers (exact decimals), temporals and\n"
    "durations as ISO 8601 strings, lists as arrays, contexts as objects.\n"
    "\n"
    "exit status: 0 evaluated, 1 compile or evaluation error, 2 usage error\n";

typedef struct opts {
    const char *dialect;
    const char *context;
    bool json, jsonl;
    baton_expr_env env;
} opts;

static const cJSON *lookup(void *cookie, const char *name, size_t len) {
    const cJSON *ctx = cookie;
    for (const cJSON *c = ctx ? ctx->child : NULL; c; c = c->next)
        if (c->string && strncmp(c->string, name, len) == 0 && c->string[len] == '\0')
            return c;
    return NULL;
}

static bool has_template(const char *s) {
    return strstr(s, "${") || strstr(s, "#{");
}

static bool mode_of(const char *dialect, const char *text, baton_expr_mode *mode) {
    if (!dialect)
        *mode = has_template(text) ? BATON_EXPR_MODE_JUEL : BATON_EXPR_MODE_FEEL;
    else if (strcmp(dialect, "feel") == 0)
        *mode = BATON_EXPR_MODE_FEEL;
    else if (strcmp(dialect, "juel") == 0)
        *mode = BATON_EXPR_MODE_JUEL;
    else if (strcmp(dialect, "auto") == 0)
        *mode = BATON_EXPR_MODE_AUTO;
    else
        return false;
    return true;
}

static long column_of(const baton_error *err) {
    long col = 0;
    if (strncmp(err->where, "col ", 4) == 0)
        col = strtol(err->where + 4, NULL, 10);
    return col;
}

static void error_json(baton_buf *b, const baton_error *err) {
    baton_buf_puts(b, "{\"error\":");
    baton_buf_json_string(b, err->message);
    baton_buf_printf(b, ",\"column\":%ld}", column_of(err));
}

/* Compile and evaluate one case into `b` (typed JSON or plain JSON). */
static baton_status eval_one(const char *text, size_t len, baton_expr_mode mode, const cJSON *ctx,
                             const opts *o, bool typed, baton_buf *b, baton_error *err) {
    baton_expr *e = NULL;
    baton_status st = baton_expr_compile(text, len, mode, &e, err);
    if (st)
        return st;
    baton_expr_env env = o->env;
    env.lookup = lookup;
    env.cookie = (void *)ctx;
    st =
        baton_expr_eval_to_buf(e, &env, typed ? BATON_EXPR_OUT_TYPED : BATON_EXPR_OUT_JSON, b, err);
    baton_expr_free(e);
    return st;
}

static int run_jsonl(const opts *o) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int failures = 0;
    baton_buf out;
    baton_buf_init(&out, 0);
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        size_t k = 0;
        while (k < len && (line[k] == ' ' || line[k] == '\t'))
            k++;
        if (k == len)
            continue;
        baton_buf_reset(&out);
        baton_error err;
        baton_error_clear(&err);
        cJSON *c = len <= LINE_MAX_BYTES ? cJSON_ParseWithLength(line, len) : NULL;
        const cJSON *ex = cJSON_GetObjectItemCaseSensitive(c, "expression");
        const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(c, "context");
        const cJSON *dia = cJSON_GetObjectItemCaseSensitive(c, "dialect");
        const char *dialect = dia ? dia->valuestring : o->dialect; /* o's is known good */
        baton_expr_mode mode;
        if (!cJSON_IsObject(c) || !cJSON_IsString(ex) ||
            (ctx && !cJSON_IsObject(ctx) && !cJSON_IsNull(ctx)) || (dia && !cJSON_IsString(dia))) {
            baton_error_set(&err, BATON_PARSE,
                            "input line is not {\"expression\": string, \"context\": object}");
            error_json(&out, &err);
        } else if (!mode_of(dialect, ex->valuestring, &mode)) {
            baton_error_set(&err, BATON_USAGE, "unknown dialect '%s'", dialect);
            error_json(&out, &err);
        } else if (eval_one(ex->valuestring, strlen(ex->valuestring), mode, ctx, o, true, &out,
                            &err)) {
            error_json(&out, &err);
        }
        if (baton_error_isset(&err))
            failures++;
        cJSON_Delete(c);
        fputs(baton_buf_str(&out), stdout);
        fputc('\n', stdout);
    }
    free(line);
    baton_buf_fini(&out);
    fflush(stdout);
    return failures ? BATON_EXIT_FAIL : BATON_EXIT_OK;
}

int baton_cmd_eval(int argc, char **argv) {
    opts o;
    memset(&o, 0, sizeof o);
    const char *text = NULL, *now = NULL;
    bool now_set = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (baton_cli_is_help(a)) {
            fputs(usage_text, stdout);
            return BATON_EXIT_OK;
        } else if (strcmp(a, "--json") == 0) {
            o.json = true;
        } else if (strcmp(a, "--jsonl") == 0) {
            o.jsonl = true;
        } else if (strcmp(a, "--context") == 0 || strcmp(a, "--dialect") == 0 ||
                   strcmp(a, "--now") == 0 || strcmp(a, "--zone") == 0 ||
                   strcmp(a, "--max-steps") == 0) {
            if (i + 1 >= argc)
                return baton_cli_usage_error("eval", "%s needs a value", a);
            const char *v = argv[++i];
            if (a[2] == 'c')
                o.context = v;
            else if (a[2] == 'd')
                o.dialect = v;
            else if (a[2] == 'n')
                now = v, now_set = true;
            else if (a[2] == 'z')
                o.env.zone = v;
            else {
                char *end;
                errno = 0;
                unsigned long s = strtoul(v, &end, 10);
                if (*end || s == 0 || s > UINT32_MAX || errno)
                    return baton_cli_usage_error("eval", "--max-steps needs a positive number");
                o.env.max_steps = (uint32_t)s;
            }
        } else if (strcmp(a, "--") == 0) {
            if (i + 1 < argc)
                text = argv[++i];
            if (i + 1 < argc)
                return baton_cli_usage_error("eval", "only one expression can be given");
            break;
        } else if (a[0] == '-' && a[1] == '-') {
            return baton_cli_usage_error("eval", "unknown option '%s'", a);
        } else if (text) {
            return baton_cli_usage_error("eval", "only one expression can be given");
        } else {
            text = a;
        }
    }
    baton_expr_mode mode = BATON_EXPR_MODE_FEEL;
    if (o.dialect && !mode_of(o.dialect, "", &mode))
        return baton_cli_usage_error("eval", "--dialect must be feel, juel or auto");
    if (o.jsonl && (text || o.context))
        return baton_cli_usage_error("eval",
                                     "--jsonl reads expressions and contexts from standard input");
    if (!o.jsonl && !text)
        return baton_cli_usage_error("eval", "no expression given");
    baton_error err;
    baton_error_clear(&err);
    if (now_set) {
        int64_t now_ms; /* &o.env.now_ms would make all of o look changed to the analyzer */
        if (baton_iso_parse_instant(now, o.env.zone, &now_ms, &err))
            return baton_cli_usage_error("eval", "--now: %s", err.message);
        o.env.now_ms = now_ms;
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        o.env.now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    if (o.jsonl)
        return run_jsonl(&o);

    cJSON *ctx = NULL;
    if (o.context) {
        ctx = cJSON_Parse(o.context);
        if (!cJSON_IsObject(ctx)) {
            cJSON_Delete(ctx);
            return baton_cli_usage_error("eval", "--context must be a JSON object");
        }
    }
    mode_of(o.dialect, text, &mode);
    baton_buf out;
    baton_buf_init(&out, 0);
    baton_status st = eval_one(text, strlen(text), mode, ctx, &o, o.json, &out, &err);
    cJSON_Delete(ctx);
    int rc = BATON_EXIT_OK;
    if (st) {
        if (o.json) {
            baton_buf_reset(&out);
            error_json(&out, &err);
            puts(baton_buf_str(&out));
        } else {
            baton_cli_error(&err);
        }
        rc = BATON_EXIT_FAIL;
    } else {
        puts(baton_buf_str(&out));
    }
    baton_buf_fini(&out);
    fflush(stdout);
    return rc;
}
