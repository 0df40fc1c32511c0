/*
 * arena.c - bump allocator; see arena.h.
 *
 * Invariant: `cur` is the block being carved; the other blocks hang off it
 * in a singly linked list. Requests larger than a quarter of the block
 * size get a block of their own so they do not waste the current one.
 */
#include "common/arena.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"

#define ARENA_ALIGN     (alignof(max_align_t))
#define ARENA_MAX_BLOCK ((size_t)1 << 20)

typedef struct block {
    struct block *next;
    size_t size; /* usable bytes after the header */
    size_t used;
} block;

struct baton_arena {
    block *cur;
    size_t next_size;
    size_t first_size;
    size_t limit;
    size_t reserved;
    size_t used;
    int hit_limit;
};

static size_t header_size(void) {
    return (sizeof(block) + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
}

static unsigned char *block_data(block *b) {
    return (unsigned char *)b + header_size();
}

baton_arena *baton_arena_new(size_t first_block, size_t limit) {
    baton_arena *a = baton_calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->first_size = first_block ? first_block : 4096;
    a->next_size = a->first_size;
    a->limit = limit;
    return a;
}

void baton_arena_free(baton_arena *a) {
    if (!a)
        return;
    block *b = a->cur;
    while (b) {
        block *n = b->next;
        baton_free(b);
        b = n;
    }
    baton_free(a);
}

static block *new_block(baton_arena *a, size_t need) {
    size_t size = a->next_size;
    if (size < need)
        size = need;
    if (a->limit && a->reserved + size > a->limit) {
        if (a->reserved + need > a->limit) {
            a->hit_limit = 1;
            return NULL;
        }
        size = need;
    }
    block *b = baton_malloc(header_size() + size);
    if (!b)
        return NULL;
    b->size = size;
    b->used = 0;
    a->reserved += size;
    if (a->next_size < ARENA_MAX_BLOCK)
        a->next_size *= 2;
    return b;
}

void *baton_arena_alloc(baton_arena *a, size_t n) {
    if (n > SIZE_MAX / 2)
        return NULL;
    size_t need = (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
    if (need == 0)
        need = ARENA_ALIGN;
    block *b = a->cur;
    if (!b || b->size - b->used < need) {
        block *nb = new_block(a, need);
        if (!nb)
            return NULL;
        if (b && need > b->size / 4 && b->size - b->used >= ARENA_ALIGN) {
            /* big request: keep carving the current block afterwards */
            nb->next = b->next;
            b->next = nb;
            nb->used = need;
            a->used += need;
            return block_data(nb);
        }
        nb->next = b;
        a->cur = nb;
        b = nb;
    }
    void *p = block_data(b) + b->used;
    b->used += need;
    a->used += need;
    return p;
}

void *baton_arena_zalloc(baton_arena *a, size_t n) {
    void *p = baton_arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *baton_arena_strndup(baton_arena *a, const char *s, size_t n) {
    char *d = baton_arena_alloc(a, n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *baton_arena_strdup(baton_arena *a, const char *s) {
    return baton_arena_strndup(a, s, strlen(s));
}

void *baton_arena_memdup(baton_arena *a, const void *p, size_t n) {
    void *d = baton_arena_alloc(a, n);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

size_t baton_arena_used(const baton_arena *a) {
    return a->used;
}

size_t baton_arena_reserved(const baton_arena *a) {
    return a->reserved;
}

int baton_arena_hit_limit(const baton_arena *a) {
    return a->hit_limit;
}

void baton_arena_reset(baton_arena *a) {
    /* keep the current block (the one being carved), free the rest */
    block *keep = a->cur;
    block *b = keep ? keep->next : NULL;
    while (b) {
        block *n = b->next;
        a->reserved -= b->size;
        baton_free(b);
        b = n;
    }
    if (keep) {
        keep->used = 0;
        keep->next = NULL;
    }
    a->used = 0;
    a->hit_limit = 0;
}
