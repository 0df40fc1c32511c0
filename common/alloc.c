/* alloc.c - allocation wrapper with a fail-the-Nth-call hook; see alloc.h. */
#include "common/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static _Atomic uint64_t alloc_calls;
static _Atomic uint64_t fail_at; /* 0 = off, otherwise the call number that fails */
static _Atomic int hook_fired;

static int should_fail(void) {
    uint64_t call = atomic_fetch_add_explicit(&alloc_calls, 1, memory_order_relaxed) + 1;
    uint64_t at = atomic_load_explicit(&fail_at, memory_order_relaxed);
    if (at != 0 && call >= at) {
        atomic_store_explicit(&hook_fired, 1, memory_order_relaxed);
        return 1;
    }
    return 0;
}

void *baton_malloc(size_t n) {
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *baton_calloc(size_t count, size_t size) {
    if (should_fail())
        return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *baton_realloc(void *p, size_t n) {
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void baton_free(void *p) {
    free(p);
}

char *baton_strndup(const char *s, size_t n) {
    char *d = baton_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *baton_strdup(const char *s) {
    return s ? baton_strndup(s, strlen(s)) : NULL;
}

void baton_alloc_fail_after(uint64_t n) {
    atomic_store(&hook_fired, 0);
    atomic_store(&fail_at, n ? atomic_load(&alloc_calls) + n : 0);
}

int baton_alloc_hook_fired(void) {
    return atomic_load(&hook_fired);
}

uint64_t baton_alloc_count(void) {
    return atomic_load(&alloc_calls);
}

static void *cjson_malloc(size_t n) {
    return baton_malloc(n);
}

void baton_alloc_install_cjson(void) {
    cJSON_Hooks hooks = {cjson_malloc, baton_free};
    cJSON_InitHooks(&hooks);
}
