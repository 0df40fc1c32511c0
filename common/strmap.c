/*
 * strmap.c - linear-probing hash table; see strmap.h.
 *
 * Invariant: the slot array has a power-of-two size and is at most 3/4 full,
 * so a probe always finds an empty slot. Entries store the full hash to skip
 * most key compares.
 */
#include "common/strmap.h"

#include <string.h>

#include "common/alloc.h"

typedef struct slot {
    const char *key; /* NULL = empty */
    uint32_t len;
    uint32_t hash;
    uint32_t value;
} slot;

struct baton_strmap {
    slot *slots;
    size_t cap; /* power of two */
    size_t count;
};

uint32_t baton_strhash(const char *key, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 16777619u;
    }
    return h;
}

baton_strmap *baton_strmap_new(size_t expected) {
    baton_strmap *m = baton_calloc(1, sizeof *m);
    if (!m)
        return NULL;
    size_t cap = 16;
    while (cap < expected + expected / 3 + 1)
        cap *= 2;
    m->slots = baton_calloc(cap, sizeof(slot));
    if (!m->slots) {
        baton_free(m);
        return NULL;
    }
    m->cap = cap;
    return m;
}

void baton_strmap_free(baton_strmap *m) {
    if (!m)
        return;
    baton_free(m->slots);
    baton_free(m);
}

static slot *find(slot *slots, size_t cap, const char *key, size_t len, uint32_t h) {
    size_t i = h & (cap - 1);
    for (;;) {
        slot *s = &slots[i];
        if (!s->key || (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0))
            return s;
        i = (i + 1) & (cap - 1);
    }
}

static baton_status grow(baton_strmap *m) {
    size_t cap = m->cap * 2;
    slot *ns = baton_calloc(cap, sizeof(slot));
    if (!ns)
        return BATON_NOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        slot *o = &m->slots[i];
        if (o->key)
            *find(ns, cap, o->key, o->len, o->hash) = *o;
    }
    baton_free(m->slots);
    m->slots = ns;
    m->cap = cap;
    return BATON_OK;
}

baton_status baton_strmap_put(baton_strmap *m, const char *key, size_t len, uint32_t value,
                              uint32_t *existing_out) {
    if (len > UINT32_MAX)
        return BATON_LIMIT;
    uint32_t h = baton_strhash(key, len);
    slot *s = find(m->slots, m->cap, key, len, h);
    if (s->key) {
        if (existing_out)
            *existing_out = s->value;
        return BATON_CONFLICT;
    }
    if ((m->count + 1) * 4 > m->cap * 3) {
        baton_status st = grow(m);
        if (st)
            return st;
        s = find(m->slots, m->cap, key, len, h);
    }
    s->key = key;
    s->len = (uint32_t)len;
    s->hash = h;
    s->value = value;
    m->count++;
    return BATON_OK;
}

int baton_strmap_get(const baton_strmap *m, const char *key, size_t len, uint32_t *value_out) {
    if (!m || len > UINT32_MAX)
        return 0;
    slot *s = find(m->slots, m->cap, key, len, baton_strhash(key, len));
    if (!s->key)
        return 0;
    if (value_out)
        *value_out = s->value;
    return 1;
}

size_t baton_strmap_count(const baton_strmap *m) {
    return m->count;
}

size_t baton_strmap_bytes(const baton_strmap *m) {
    return sizeof *m + m->cap * sizeof(slot);
}
