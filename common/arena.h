/*
 * arena.h - bump allocator for things that share one lifetime.
 *
 * A parsed model, one HTTP request and one expression evaluation each own
 * an arena: many small allocations, freed together. Blocks grow
 * geometrically up to a cap; an optional byte limit bounds what input can
 * make the arena hold (BATON_LIMIT when exceeded).
 */
#ifndef BATON_COMMON_ARENA_H
#define BATON_COMMON_ARENA_H

#include <stddef.h>

typedef struct baton_arena baton_arena;

/* `limit` = maximum bytes the arena may hold in total (0 = no limit). */
baton_arena *baton_arena_new(size_t first_block, size_t limit);
void baton_arena_free(baton_arena *a);

/* Aligned to max_align_t; NULL on out of memory or limit. Memory is not zeroed. */
void *baton_arena_alloc(baton_arena *a, size_t n);
/* Zeroed memory. */
void *baton_arena_zalloc(baton_arena *a, size_t n);
/* Copy of s[0..n) plus a NUL terminator. */
char *baton_arena_strndup(baton_arena *a, const char *s, size_t n);
char *baton_arena_strdup(baton_arena *a, const char *s);
/* Copy of n bytes. */
void *baton_arena_memdup(baton_arena *a, const void *p, size_t n);

/* Bytes handed out and bytes reserved from the system. */
size_t baton_arena_used(const baton_arena *a);
size_t baton_arena_reserved(const baton_arena *a);
/* True if the last failure was the byte limit, not the system allocator. */
int baton_arena_hit_limit(const baton_arena *a);

/* Forget everything allocated; keeps the first block for reuse. */
void baton_arena_reset(baton_arena *a);

#endif
