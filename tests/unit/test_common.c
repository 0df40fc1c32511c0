/* test_common.c - status table, error records, arena, buffer, string map, diagnostics. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/diag.h"
#include "common/error.h"
#include "common/status.h"
#include "common/strmap.h"
#include "tests/tap.h"

static void test_status(void) {
    TAP_EQ_STR(baton_status_name(BATON_NOTFOUND), "NOTFOUND", "name from the X-macro");
    TAP_EQ_INT(baton_status_http(BATON_NOTFOUND), 404, "404 for not found");
    TAP_EQ_INT(baton_status_http(BATON_MODEL), 422, "422 for an invalid model");
    TAP_EQ_INT(baton_status_http(BATON_LIMIT), 413, "413 for a limit");
    TAP_EQ_INT(baton_status_exit(BATON_USAGE), 2, "exit 2 for usage");
    TAP_EQ_STR(baton_status_name((baton_status)999), "UNKNOWN", "out-of-range status");
}

static void test_error_first_wins(void) {
    baton_error e;
    baton_error_clear(&e);
    TAP_OK(!baton_error_isset(&e), "clear error is unset");
    TAP_EQ_INT(baton_error_set(&e, BATON_PARSE, "inner %d", 1), BATON_PARSE, "set returns code");
    baton_error_set(&e, BATON_IO, "outer");
    TAP_EQ_STR(e.message, "inner 1", "first message wins");
    TAP_EQ_INT(e.code, BATON_PARSE, "first code wins");
    baton_error_where(&e, "a.bpmn:%d", 3);
    baton_error_where(&e, "b.bpmn:4");
    TAP_EQ_STR(e.where, "a.bpmn:3", "first where wins");
    baton_error_prefix(&e, "expression: ");
    TAP_EQ_STR(e.message, "expression: inner 1", "prefix adds context");
    TAP_EQ_INT(baton_error_set(NULL, BATON_NOMEM, "x"), BATON_NOMEM, "NULL error ok");
}

static void test_arena(void) {
    baton_arena *a = baton_arena_new(64, 0);
    char *s = baton_arena_strdup(a, "hello");
    TAP_EQ_STR(s, "hello", "strdup");
    void *big = baton_arena_alloc(a, 10000);
    TAP_OK(big != NULL, "large block");
    memset(big, 1, 10000);
    int misaligned = 0;
    for (int i = 0; i < 1000; i++)
        misaligned +=
            ((uintptr_t)baton_arena_alloc(a, (size_t)i % 7 + 1) % _Alignof(max_align_t)) != 0;
    TAP_EQ_INT(misaligned, 0, "every allocation aligned");
    TAP_OK(baton_arena_used(a) > 10000, "used counts");
    baton_arena_reset(a);
    TAP_EQ_INT(baton_arena_used(a), 0, "reset empties");
    TAP_OK(baton_arena_alloc(a, 100) != NULL, "usable after reset");
    baton_arena_free(a);

    baton_arena *lim = baton_arena_new(64, 1000);
    TAP_OK(baton_arena_alloc(lim, 500) != NULL, "within limit");
    TAP_OK(baton_arena_alloc(lim, 800) == NULL, "over limit fails");
    TAP_OK(baton_arena_hit_limit(lim), "limit reported");
    baton_arena_free(lim);
    baton_arena_free(NULL);
}

static void test_buf(void) {
    baton_buf b;
    baton_buf_init(&b, 16);
    TAP_EQ_INT(baton_buf_puts(&b, "0123456789"), BATON_OK, "append within limit");
    TAP_EQ_INT(baton_buf_printf(&b, "%d", 12345), BATON_OK, "printf within limit");
    TAP_EQ_INT(baton_buf_puts(&b, "xx"), BATON_LIMIT, "append over limit refused");
    TAP_EQ_STR(baton_buf_str(&b), "012345678912345", "content intact after refusal");
    baton_buf_reset(&b);
    baton_buf_json_string(&b, "a\"\n\x01");
    TAP_EQ_STR(baton_buf_str(&b), "\"a\\\"\\n\\u0001\"", "json escaping");
    char *t = baton_buf_take(&b);
    TAP_EQ_STR(t, "\"a\\\"\\n\\u0001\"", "take hands over");
    TAP_EQ_INT(b.len, 0, "empty after take");
    baton_free(t);
    baton_buf_fini(&b);
}

static void test_strmap(void) {
    baton_strmap *m = baton_strmap_new(2);
    char keys[2000][16];
    int failed = 0;
    for (int i = 0; i < 2000; i++) {
        snprintf(keys[i], sizeof keys[i], "id_%d", i);
        failed += baton_strmap_put(m, keys[i], strlen(keys[i]), (uint32_t)i, NULL) != BATON_OK;
    }
    TAP_EQ_INT(failed, 0, "2000 puts");
    uint32_t v = 0, ex = 0;
    TAP_OK(baton_strmap_get(m, "id_1234", 7, &v) && v == 1234, "get after growth");
    TAP_OK(!baton_strmap_get(m, "id_2000", 7, &v), "absent key");
    TAP_EQ_INT(baton_strmap_put(m, keys[5], strlen(keys[5]), 99, &ex), BATON_CONFLICT,
               "duplicate refused");
    TAP_EQ_INT(ex, 5, "duplicate reports existing value");
    TAP_EQ_INT(baton_strmap_count(m), 2000, "count");
    baton_strmap_free(m);
}

static void test_diags(void) {
    baton_diags d;
    baton_diags_init(&d, 2);
    baton_diags_add(&d, BATON_SEV_ERROR, 9, 0, "b", "second");
    baton_diags_add(&d, BATON_SEV_WARNING, 3, 0, NULL, "first");
    baton_diags_add(&d, BATON_SEV_ERROR, 1, 0, "c", "dropped");
    TAP_EQ_INT(d.n, 2, "bounded list");
    TAP_EQ_INT(d.n_errors, 2, "errors still counted");
    baton_diags_sort(&d);
    baton_buf b;
    baton_buf_init(&b, 0);
    baton_diag_format(&d.items[0], "x.bpmn", &b);
    TAP_EQ_STR(baton_buf_str(&b), "x.bpmn:3: warning: first", "warning format");
    baton_buf_reset(&b);
    baton_diag_format(&d.items[1], "x.bpmn", &b);
    TAP_EQ_STR(baton_buf_str(&b), "x.bpmn:9: element 'b': second", "error format");
    baton_buf_fini(&b);
    baton_diags_fini(&d);
}

static void test_alloc_hook(void) {
    baton_alloc_fail_after(2);
    void *a = baton_malloc(8);
    void *b = baton_malloc(8);
    TAP_OK(a != NULL && b == NULL, "second allocation fails");
    TAP_OK(baton_alloc_hook_fired(), "hook reports firing");
    baton_alloc_fail_after(0);
    void *c = baton_malloc(8);
    TAP_OK(c != NULL, "hook off again");
    baton_free(a);
    baton_free(c);
}

int main(void) {
    TAP_RUN(test_status);
    TAP_RUN(test_error_first_wins);
    TAP_RUN(test_arena);
    TAP_RUN(test_buf);
    TAP_RUN(test_strmap);
    TAP_RUN(test_diags);
    TAP_RUN(test_alloc_hook);
    return tap_done();
}
