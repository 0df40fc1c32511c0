/*
 * alloc.h - the one allocation wrapper every Baton module goes through.
 *
 * Out of memory is a status, never an abort (only main() may abort). The
 * wrapper has a test hook that fails the Nth allocation from now, so the
 * torture tests can fail each allocation of an operation in turn and check
 * for a clean error and no leak (curl's torture runs, SQLite's malloc tests).
 * The counters are atomics so the hook and statistics work under threads.
 */
#ifndef BATON_COMMON_ALLOC_H
#define BATON_COMMON_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *baton_malloc(size_t n);
void *baton_calloc(size_t count, size_t size);
void *baton_realloc(void *p, size_t n);
void baton_free(void *p);
char *baton_strdup(const char *s);
char *baton_strndup(const char *s, size_t n);

/*
 * Fail the allocation that comes `n` calls from now (1 = the next one) and
 * every one after it until reset; 0 turns the hook off.
 */
void baton_alloc_fail_after(uint64_t n);
/* True once the hook has failed at least one allocation since it was set. */
int baton_alloc_hook_fired(void);
/* Number of allocations done since start (for torture loops). */
uint64_t baton_alloc_count(void);

/* Route cJSON's allocations through this wrapper (call once at start-up). */
void baton_alloc_install_cjson(void);

#endif
