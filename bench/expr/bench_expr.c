/*
 * bench_expr.c - evaluation speed of compiled expressions (not a test).
 *
 *   bench-expr [SECONDS [CASE]]    prints one JSON line per case:
 *   {"case":"...","expr":"...","evals_per_s":N,"allocs_per_eval":N}
 *
 * The context has 20 variables, looked up the way an engine would: a
 * small open-addressing hash table over the variable names built once (the
 * interpreter keeps instance variables indexed, it does not scan them).
 * Results go into one reused buffer, so a case that allocates shows up in
 * allocs_per_eval (counted with the allocation wrapper's counter). Rates
 * are per second of this thread's CPU time, so other load on the machine
 * does not lower them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "expr/expr.h"

static const char context_json[] =
    "{\"amount\": 150, \"status\": \"open\", \"customer\": \"ACME\", \"region\": \"EU\","
    " \"priority\": 2, \"approved\": false, \"score\": 0.82, \"currency\": \"EUR\","
    " \"orderId\": \"o-1001\", \"quantity\": 12, \"discount\": 0.05, \"express\": true,"
    " \"country\": \"DE\", \"channel\": \"web\", \"attempts\": 1, \"limit\": 1000,"
    " \"owner\": \"kermit\", \"createdAt\": \"2026-01-01T08:00:00Z\", \"tags\": [\"a\", \"b\"],"
    " \"items\": [{\"name\": \"i0\", \"price\": 5}, {\"name\": \"i1\", \"price\": 15},"
    "  {\"name\": \"i2\", \"price\": 25}, {\"name\": \"i3\", \"price\": 8},"
    "  {\"name\": \"i4\", \"price\": 120}, {\"name\": \"i5\", \"price\": 3},"
    "  {\"name\": \"i6\", \"price\": 42}, {\"name\": \"i7\", \"price\": 9},"
    "  {\"name\": \"i8\", \"price\": 11}, {\"name\": \"i9\", \"price\": 300}]}";

#define SLOTS 64

typedef struct vars {
    const cJSON *slot[SLOTS];
    uint32_t hash[SLOTS];
    uint32_t len[SLOTS];
} vars;

static uint32_t fnv(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static const cJSON *lookup(void *cookie, const char *name, size_t len) {
    const vars *v = cookie;
    uint32_t h = fnv(name, len);
    for (uint32_t i = h % SLOTS;; i = (i + 1) % SLOTS) {
        const cJSON *c = v->slot[i];
        if (!c)
            return NULL;
        if (v->hash[i] == h && v->len[i] == len && memcmp(c->string, name, len) == 0)
            return c;
    }
}

/* CPU time of this thread: the machine is shared, wall time would count others' work. */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct bench_case {
    const char *name;
    const char *expr;
    int how; /* 0 = eval_bool, 1 = eval_to_buf (JSON), 2 = eval_json (cJSON result) */
} bench_case;

static const bench_case cases[] = {
    {"condition", "amount > 100 and status = \"open\"", 0},
    {"list-filter", "items[price > 10]", 1},
    {"list-filter-count", "count(items[price > 10]) > 3", 0},
    {"arithmetic", "amount * (1 - discount) + quantity * 2", 1},
    {"string", "upper case(owner) + \"-\" + orderId", 1},
    {"filter-to-cjson", "items[price > 10].name", 2},
};

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    cJSON *ctx = cJSON_Parse(context_json);
    vars v;
    memset(&v, 0, sizeof v);
    int nvars = 0;
    for (const cJSON *c = ctx->child; c; c = c->next, nvars++) {
        uint32_t h = fnv(c->string, strlen(c->string));
        uint32_t i = h % SLOTS;
        while (v.slot[i])
            i = (i + 1) % SLOTS;
        v.slot[i] = c;
        v.hash[i] = h;
        v.len[i] = (uint32_t)strlen(c->string);
    }
    baton_expr_env env = {lookup, &v, INT64_C(1767254400000), NULL, 0, 0};
    baton_buf out;
    baton_buf_init(&out, 0);
    const char *only = argc > 2 ? argv[2] : NULL;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const bench_case *bc = &cases[k];
        if (only && strcmp(only, bc->name) != 0)
            continue;
        baton_error err;
        baton_error_clear(&err);
        baton_expr *e = NULL;
        if (baton_expr_compile(bc->expr, strlen(bc->expr), BATON_EXPR_MODE_FEEL, &e, &err)) {
            fprintf(stderr, "bench-expr: %s: %s: %s\n", bc->expr, err.where, err.message);
            return 1;
        }
        /* check the result once, then time batches until `seconds` have passed */
        bool yes = false;
        baton_buf_reset(&out);
        baton_status st = bc->how == 0 ? baton_expr_eval_bool(e, &env, &yes, &err)
                                       : baton_expr_eval_to_buf(e, &env, BATON_EXPR_OUT_JSON, &out, &err);
        if (st) {
            fprintf(stderr, "bench-expr: %s: %s\n", bc->expr, err.message);
            return 1;
        }
        uint64_t n = 0, allocs0 = baton_alloc_count();
        double t0 = now_s(), t;
        do {
            for (int i = 0; i < 10000; i++) {
                if (bc->how == 0) {
                    baton_expr_eval_bool(e, &env, &yes, NULL);
                } else if (bc->how == 1) {
                    baton_buf_reset(&out);
                    baton_expr_eval_to_buf(e, &env, BATON_EXPR_OUT_JSON, &out, NULL);
                } else {
                    cJSON *j = NULL;
                    baton_expr_eval_json(e, &env, &j, NULL);
                    cJSON_Delete(j);
                }
            }
            n += 10000;
            t = now_s() - t0;
        } while (t < seconds);
        double allocs = (double)(baton_alloc_count() - allocs0) / (double)n;
        printf("{\"case\":\"%s\",\"expr\":", bc->name);
        baton_buf b;
        baton_buf_init(&b, 0);
        baton_buf_json_string(&b, bc->expr);
        printf("%s,\"variables\":%d,\"evals_per_s\":%.0f,\"allocs_per_eval\":%.2f,\"result\":%s}\n",
               baton_buf_str(&b), nvars, (double)n / t, allocs,
               bc->how == 0 ? (yes ? "true" : "false") : baton_buf_str(&out));
        baton_buf_fini(&b);
        baton_expr_free(e);
    }
    baton_buf_fini(&out);
    cJSON_Delete(ctx);
    return 0;
}
