/*
 * test_expr.c - the expression layer: data-driven cases (the .jsonl files in tests/expr/cases:
 * expression, context, zone -> typed result or error with column), the
 * public API's conversions, every bound, and an allocation-failure torture
 * run over compile + evaluate.
 *
 * Case line: {"expr": "...", "mode": "feel|juel|auto" (default feel), "ctx": {...},
 *             "zone": "...", "want": {"type": ..., "value": ...}}
 *        or  {"expr": "...", "error": "<part of the message>", "col": N}
 * The clock is 2026-01-01T08:00:00Z.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "expr/expr.h"
#include "tests/tap.h"

#define NOW_MS INT64_C(1767254400000) /* 2026-01-01T08:00:00Z */

static const cJSON *lookup(void *cookie, const char *name, size_t len) {
    for (const cJSON *c = cookie ? ((const cJSON *)cookie)->child : NULL; c; c = c->next)
        if (c->string && strlen(c->string) == len && memcmp(c->string, name, len) == 0)
            return c;
    return NULL;
}

static baton_expr_env env_for(const cJSON *ctx, const char *zone) {
    baton_expr_env env;
    memset(&env, 0, sizeof env);
    env.lookup = lookup;
    env.cookie = (void *)ctx;
    env.now_ms = NOW_MS;
    env.zone = zone;
    return env;
}

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s)
        s[n] = '\0';
    fclose(f);
    return s;
}

static baton_expr_mode mode_of(const cJSON *c) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(c, "mode");
    if (!cJSON_IsString(m) || strcmp(m->valuestring, "feel") == 0)
        return BATON_EXPR_MODE_FEEL;
    return strcmp(m->valuestring, "juel") == 0 ? BATON_EXPR_MODE_JUEL : BATON_EXPR_MODE_AUTO;
}

static void run_case(const char *where, const cJSON *c) {
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(c, "expr");
    const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(c, "ctx");
    const cJSON *zone = cJSON_GetObjectItemCaseSensitive(c, "zone");
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(c, "want");
    const cJSON *werr = cJSON_GetObjectItemCaseSensitive(c, "error");
    const cJSON *wcol = cJSON_GetObjectItemCaseSensitive(c, "col");
    if (!cJSON_IsString(ex) || (!want && !cJSON_IsString(werr))) {
        TAP_OK(0, "%s: malformed case", where);
        return;
    }
    baton_error err;
    baton_error_clear(&err);
    baton_expr *e = NULL;
    baton_buf out;
    baton_buf_init(&out, 0);
    baton_expr_env env = env_for(ctx, cJSON_IsString(zone) ? zone->valuestring : NULL);
    baton_status st =
        baton_expr_compile(ex->valuestring, strlen(ex->valuestring), mode_of(c), &e, &err);
    if (!st)
        st = baton_expr_eval_to_buf(e, &env, BATON_EXPR_OUT_TYPED, &out, &err);
    if (werr) {
        TAP_OK(st != BATON_OK, "%s: %s fails", where, ex->valuestring);
        TAP_CONTAINS(err.message, werr->valuestring, "%s: message", where);
        if (cJSON_IsNumber(wcol)) {
            char col[32];
            snprintf(col, sizeof col, "col %d", wcol->valueint);
            TAP_EQ_STR(err.where, col, "%s: column", where);
        }
    } else {
        cJSON *got = st ? NULL : cJSON_Parse(baton_buf_str(&out));
        int same = got && cJSON_Compare(got, want, true);
        TAP_OK(same, "%s: %s", where, ex->valuestring);
        if (!same) {
            char *w = cJSON_PrintUnformatted(want);
            printf("#   got %s (%s), want %s\n", st ? err.message : baton_buf_str(&out),
                   st ? err.where : "", w ? w : "?");
            free(w);
        }
        cJSON_Delete(got);
    }
    baton_buf_fini(&out);
    baton_expr_free(e);
}

static void test_case_files(void) {
    const char *root = getenv("BATON_SOURCE_ROOT");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/expr/cases", root ? root : ".");
    DIR *d = opendir(dir);
    TAP_OK(d != NULL, "case folder %s", dir);
    if (!d)
        return;
    struct dirent *de;
    int files = 0;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 7 || strcmp(de->d_name + n - 6, ".jsonl") != 0)
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        char *text = read_all(path);
        TAP_OK(text != NULL, "read %s", de->d_name);
        files++;
        int line = 0;
        for (char *p = text, *nl; p && *p; p = nl ? nl + 1 : NULL) {
            nl = strchr(p, '\n');
            if (nl)
                *nl = '\0';
            line++;
            if (!*p)
                continue;
            cJSON *c = cJSON_Parse(p);
            char where[256];
            snprintf(where, sizeof where, "%s:%d", de->d_name, line);
            if (!c)
                TAP_OK(0, "%s: not JSON", where);
            else
                run_case(where, c);
            cJSON_Delete(c);
        }
        free(text);
    }
    closedir(d);
    TAP_OK(files >= 3, "found %d case files", files);
}

/* ---- API conversions ------------------------------------------------------------------ */

static baton_expr *compile(const char *s, baton_expr_mode mode) {
    baton_expr *e = NULL;
    baton_error err;
    baton_error_clear(&err);
    if (baton_expr_compile(s, strlen(s), mode, &e, &err) != BATON_OK)
        printf("# compile '%s': %s: %s\n", s, err.where, err.message);
    return e;
}

static void test_api(void) {
    cJSON *ctx = cJSON_Parse("{\"amount\": 150, \"status\": \"open\", \"x\": null, \"d\": 0.1}");
    baton_expr_env env = env_for(ctx, NULL);
    baton_error err;
    bool b = false;

    baton_expr *e = compile("= amount > 100 and status = \"open\"", BATON_EXPR_MODE_AUTO);
    TAP_EQ_INT(baton_expr_language(e), BATON_EXPR_FEEL, "leading = is FEEL");
    baton_error_clear(&err);
    TAP_EQ_INT(baton_expr_eval_bool(e, &env, &b, &err), BATON_OK, "condition evaluates");
    TAP_OK(b, "condition is true");
    TAP_OK(baton_expr_memory(e) > strlen(baton_expr_source(e)), "memory counts the AST");
    TAP_EQ_STR(baton_expr_source(e), "= amount > 100 and status = \"open\"", "source kept");
    baton_expr_free(e);

    e = compile("= missing > 1", BATON_EXPR_MODE_AUTO);
    baton_error_clear(&err);
    TAP_EQ_INT(baton_expr_eval_bool(e, &env, &b, &err), BATON_EVAL, "null condition is an error");
    TAP_CONTAINS(err.message, "no variable 'missing'", "the error says why");
    baton_expr_free(e);

    e = compile("= 42", BATON_EXPR_MODE_AUTO);
    baton_error_clear(&err);
    TAP_EQ_INT(baton_expr_eval_bool(e, &env, &b, &err), BATON_EVAL, "number condition is an error");
    TAP_CONTAINS(err.message, "number, not a boolean", "names the type");
    char *s = NULL;
    TAP_EQ_INT(baton_expr_eval_string(e, &env, &s, NULL), BATON_OK, "number as text");
    TAP_EQ_STR(s, "42", "canonical text");
    baton_free(s);
    baton_expr_free(e);

    e = compile("= d * 3", BATON_EXPR_MODE_AUTO);
    s = NULL;
    TAP_EQ_INT(baton_expr_eval_string(e, &env, &s, NULL), BATON_OK, "decimal as text");
    TAP_EQ_STR(s, "0.3", "0.1 from JSON stays 0.1");
    baton_free(s);
    cJSON *j = NULL;
    TAP_EQ_INT(baton_expr_eval_json(e, &env, &j, NULL), BATON_OK, "decimal as JSON");
    TAP_OK(cJSON_IsNumber(j) && j->valuedouble == 0.3, "JSON number 0.3");
    cJSON_Delete(j);
    baton_expr_free(e);

    e = compile("= [1, {a: date(\"2024-01-01\")}, null]", BATON_EXPR_MODE_AUTO);
    j = NULL;
    TAP_EQ_INT(baton_expr_eval_json(e, &env, &j, NULL), BATON_OK, "list as JSON");
    char *txt = cJSON_PrintUnformatted(j);
    TAP_EQ_STR(txt, "[1,{\"a\":\"2024-01-01\"},null]", "temporals become ISO strings");
    free(txt);
    cJSON_Delete(j);
    s = NULL;
    baton_error_clear(&err);
    TAP_EQ_INT(baton_expr_eval_string(e, &env, &s, &err), BATON_EVAL, "list is not text");
    baton_expr_free(e);

    e = compile("= x", BATON_EXPR_MODE_AUTO);
    baton_error_clear(&err);
    TAP_EQ_INT(baton_expr_eval_string(e, &env, &s, &err), BATON_EVAL, "null is not text");
    baton_expr_free(e);

    e = compile("PT10M", BATON_EXPR_MODE_AUTO);
    TAP_EQ_INT(baton_expr_language(e), BATON_EXPR_STATIC, "plain text is static");
    s = NULL;
    TAP_EQ_INT(baton_expr_eval_string(e, NULL, &s, NULL), BATON_OK, "static text, no env");
    TAP_EQ_STR(s, "PT10M", "static value is the text");
    baton_free(s);
    baton_expr_free(e);

    e = compile(" true ", BATON_EXPR_MODE_AUTO);
    TAP_EQ_INT(baton_expr_eval_bool(e, NULL, &b, NULL), BATON_OK, "static true is a condition");
    TAP_OK(b, "static true");
    baton_expr_free(e);

    e = compile("${amount > 100}", BATON_EXPR_MODE_AUTO);
    TAP_EQ_INT(baton_expr_language(e), BATON_EXPR_JUEL, "${ is JUEL");
    TAP_EQ_INT(baton_expr_eval_bool(e, &env, &b, NULL), BATON_OK, "JUEL condition");
    TAP_OK(b, "JUEL condition true");
    baton_expr_free(e);

    e = compile("${missing > 1}", BATON_EXPR_MODE_AUTO);
    baton_error_clear(&err);
    TAP_EQ_INT(baton_expr_eval_bool(e, &env, &b, &err), BATON_EVAL, "JUEL unknown variable fails");
    TAP_EQ_STR(err.where, "col 3", "with its column");
    baton_expr_free(e);

    baton_expr_free(NULL);
    TAP_EQ_INT(baton_expr_memory(NULL), 0, "memory of NULL");
    cJSON_Delete(ctx);
}

/* ---- bounds ---------------------------------------------------------------------------- */

static baton_status eval_text(const char *s, const baton_expr_env *env, baton_error *err) {
    baton_expr *e = NULL;
    baton_status st = baton_expr_compile(s, strlen(s), BATON_EXPR_MODE_FEEL, &e, err);
    if (st)
        return st;
    baton_buf b;
    baton_buf_init(&b, 0);
    st = baton_expr_eval_to_buf(e, env, BATON_EXPR_OUT_JSON, &b, err);
    baton_buf_fini(&b);
    baton_expr_free(e);
    return st;
}

static void test_bounds(void) {
    baton_error err;
    baton_expr_env env = env_for(NULL, NULL);

    size_t big = 64 * 1024 + 1;
    char *s = malloc(big + 1);
    memset(s, ' ', big);
    s[0] = '1';
    s[big] = '\0';
    baton_error_clear(&err);
    baton_expr *e = NULL;
    TAP_EQ_INT(baton_expr_compile(s, big, BATON_EXPR_MODE_FEEL, &e, &err), BATON_LIMIT,
               "length bound");
    TAP_CONTAINS(err.message, "longer than", "says too long");
    TAP_EQ_STR(err.where, "col 1", "length error has a column");

    /* nesting: 200 parentheses */
    for (int i = 0; i < 200; i++)
        s[i] = '(';
    s[200] = '1';
    for (int i = 0; i < 200; i++)
        s[201 + i] = ')';
    s[401] = '\0';
    baton_error_clear(&err);
    TAP_EQ_INT(eval_text(s, &env, &err), BATON_LIMIT, "nesting bound");
    TAP_CONTAINS(err.message, "nested too deeply", "says nested");
    TAP_OK(strncmp(err.where, "col ", 4) == 0, "nesting error has a column");

    /* a long flat chain: the AST height bound, not the parser depth */
    size_t k = 0;
    for (int i = 0; i < 2000; i++)
        k += (size_t)sprintf(s + k, "1+");
    s[k++] = '1';
    s[k] = '\0';
    baton_error_clear(&err);
    TAP_EQ_INT(eval_text(s, &env, &err), BATON_LIMIT, "AST height bound");
    strcpy(s, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1");
    baton_error_clear(&err);
    TAP_EQ_INT(eval_text(s, &env, &err), BATON_LIMIT, "deep lists bound");
    free(s);

    baton_error_clear(&err);
    TAP_EQ_INT(eval_text("count(for i in 1..100000000 return i)", &env, &err), BATON_LIMIT,
               "step bound on huge loops");
    TAP_CONTAINS(err.message, "steps", "says steps");

    baton_expr_env small = env;
    small.max_steps = 50;
    baton_error_clear(&err);
    TAP_EQ_INT(eval_text("sum(for i in 1..100 return i)", &small, &err), BATON_LIMIT,
               "env step bound");
    baton_error_clear(&err);
    TAP_EQ_INT(eval_text("1 + 1", &small, &err), BATON_OK, "small expressions fit");

    baton_error_clear(&err);
    TAP_EQ_INT(eval_text("{f: function(n) f(n + 1)}.f(1)", &env, &err), BATON_LIMIT,
               "unbounded recursion stops");

    baton_expr_env tiny = env;
    tiny.max_bytes = 64 * 1024;
    baton_error_clear(&err);
    TAP_EQ_INT(eval_text("for i in 1..100000 return \"some text\"", &tiny, &err), BATON_LIMIT,
               "result size bound");
    TAP_CONTAINS(err.message, "bytes", "says bytes");

    /* string doubling: each step doubles, the memory bound stops it */
    baton_error_clear(&err);
    TAP_EQ_INT(
        eval_text("{a: \"xxxxxxxxxxxxxxxx\", b: a + a, c: b + b, d: c + c, e: d + d, f: e + e, "
                  "g: f + f, h: g + g, i: h + h, j: i + i, k: j + j, l: k + k, m: l + l}.m",
                  &tiny, &err),
        BATON_LIMIT, "string growth bound");
    /* `partial` shares structure: 2^60 elements once written out, a few KiB in memory */
    baton_expr *dag = NULL;
    const char *dag_src = "for i in 1..60 return partial";
    baton_error_clear(&err);
    TAP_EQ_INT(baton_expr_compile(dag_src, strlen(dag_src), BATON_EXPR_MODE_FEEL, &dag, &err),
               BATON_OK, "shared-structure list compiles");
    cJSON *j = NULL;
    baton_error_clear(&err);
    TAP_EQ_INT(baton_expr_eval_json(dag, &env, &j, &err), BATON_LIMIT, "JSON result size bound");
    char *str = NULL;
    baton_error_clear(&err);
    TAP_EQ_INT(baton_expr_eval_string(dag, &env, &str, &err), BATON_EVAL, "a list is not text");
    baton_buf text;
    baton_buf_init(&text, 0);
    baton_error_clear(&err);
    TAP_EQ_INT(baton_expr_eval_to_buf(dag, &env, BATON_EXPR_OUT_JSON, &text, &err), BATON_LIMIT,
               "text result size bound");
    TAP_EQ_INT(text.len, 0, "nothing written on failure");
    baton_buf_fini(&text);
    baton_expr_free(dag);
    /* a large variable repeated in the result is charged each time it is copied */
    cJSON *bigctx = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(bigctx, "big");
    for (int i = 0; i < 20000; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString("0123456789abcdef"));
    baton_expr_env benv = env_for(bigctx, NULL);
    baton_expr *rep = compile("for i in 1..1000 return big", BATON_EXPR_MODE_FEEL);
    j = NULL;
    baton_error_clear(&err);
    TAP_EQ_INT(baton_expr_eval_json(rep, &benv, &j, &err), BATON_LIMIT, "repeated variable bound");
    baton_expr_free(rep);
    cJSON_Delete(bigctx);
    baton_error_clear(&err);
    TAP_EQ_INT(
        eval_text("{l: for i in 1..60 return partial}.l = {l: for i in 1..60 return partial}.l",
                  &env, &err),
        BATON_LIMIT, "comparing shared structures is charged");
    baton_error_clear(&err);
    baton_status ist = eval_text("(for i in 1..60 return partial) instance of "
                                 "list<list<list<list<list<list<list<list<Any>>>>>>>>",
                                 &env, &err);
    TAP_OK(ist == BATON_OK || ist == BATON_LIMIT, "instance of over shared structures ends");
    baton_error_clear(&err);
    TAP_EQ_INT(eval_text("string(for i in 1..60 return partial)", &env, &err), BATON_LIMIT,
               "string() of shared structures is bounded");
    baton_error_clear(&err);
    TAP_EQ_INT(eval_text("string join(for i in 1..2000 return \"x\", \"\") = \"x\"", &env, &err),
               BATON_OK, "moderate work fits");
    baton_error_clear(&err);
    TAP_EQ_INT(eval_text("sort(for i in 1..300000 return -i, function(a, b) a < b)", &env, &err),
               BATON_LIMIT, "sort is charged");
}

/* ---- allocation failures -------------------------------------------------------------- */

static const char *const torture_exprs[] = {
    "amount > 100 and status = \"open\"",
    "items[price > 100].name",
    "for i in 1..20 return {i: i, s: string(i) + \"x\"}",
    "sort(items, function(a, b) a.price > b.price)",
    "{f: function(x) x * 2, r: f(3), l: [1, 2, 3][item > 1]}",
    "date and time(\"2024-03-31T01:30:00@Europe/Berlin\") + duration(\"P1M\")",
    "replace(\"a-b-c\", \"-\", \"+\") + string join(split(\"a,b\", \",\"), \";\")",
    "get entries(context merge([{a: 1}, {b: [1, 2]}]))",
    "flatten([[1, [2]], 3]) = union([1, 2], [3])",
    "now() + duration(\"PT1H\")",
};

static void test_torture(void) {
    cJSON *ctx =
        cJSON_Parse("{\"amount\": 150, \"status\": \"open\", \"items\": ["
                    "{\"name\": \"a\", \"price\": 10}, {\"name\": \"b\", \"price\": 120}]}");
    baton_expr_env env = env_for(ctx, "Europe/Berlin");
    for (size_t i = 0; i < sizeof torture_exprs / sizeof torture_exprs[0]; i++) {
        int clean = 1, runs = 0;
        for (uint64_t n = 1; n < 100000; n++) {
            baton_error err;
            baton_error_clear(&err);
            baton_alloc_fail_after(n);
            baton_expr *e = NULL;
            cJSON *j = NULL;
            baton_status st = baton_expr_compile(torture_exprs[i], strlen(torture_exprs[i]),
                                                 BATON_EXPR_MODE_FEEL, &e, &err);
            if (!st)
                st = baton_expr_eval_json(e, &env, &j, &err);
            int fired = baton_alloc_hook_fired();
            baton_alloc_fail_after(0);
            cJSON_Delete(j);
            baton_expr_free(e);
            runs++;
            if (st != BATON_OK && st != BATON_NOMEM) {
                printf("# %s: fail at %llu gave %s: %s\n", torture_exprs[i], (unsigned long long)n,
                       baton_status_name(st), err.message);
                clean = 0;
            }
            if (st == BATON_NOMEM && !err.message[0])
                clean = 0;
            if (!fired) {
                if (st != BATON_OK)
                    clean = 0;
                break;
            }
        }
        TAP_OK(clean, "torture %s (%d runs)", torture_exprs[i], runs);
    }
    cJSON_Delete(ctx);
}

/* ---- threads -------------------------------------------------------------------------- */

/* One compiled expression evaluated by several threads at once; zones load concurrently. */
typedef struct worker {
    const baton_expr *e;
    const char *zone;
    const char *want;
    int bad;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    baton_expr_env env = env_for(NULL, w->zone);
    baton_buf b;
    baton_buf_init(&b, 0);
    for (int i = 0; i < 2000; i++) {
        baton_buf_reset(&b);
        if (baton_expr_eval_to_buf(w->e, &env, BATON_EXPR_OUT_JSON, &b, NULL) != BATON_OK ||
            strcmp(baton_buf_str(&b), w->want) != 0)
            w->bad++;
    }
    baton_buf_fini(&b);
    return NULL;
}

static void test_threads(void) {
    static const char *const zones[] = {"America/Sao_Paulo", "Asia/Kolkata", "Europe/Lisbon",
                                        "Africa/Nairobi"};
    static const char *const want[] = {
        "\"2026-01-01T05:00:00@America/Sao_Paulo\"", "\"2026-01-01T13:30:00@Asia/Kolkata\"",
        "\"2026-01-01T08:00:00@Europe/Lisbon\"", "\"2026-01-01T11:00:00@Africa/Nairobi\""};
    baton_expr *e = compile("now()", BATON_EXPR_MODE_FEEL);
    pthread_t t[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){e, zones[i], want[i], 0};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        TAP_EQ_INT(w[i].bad, 0, "thread in %s", zones[i]);
    }
    baton_expr_free(e);
}

int main(void) {
    baton_alloc_install_cjson();
    TAP_RUN(test_case_files);
    TAP_RUN(test_api);
    TAP_RUN(test_bounds);
    TAP_RUN(test_torture);
    TAP_RUN(test_threads);
    return tap_done();
}
