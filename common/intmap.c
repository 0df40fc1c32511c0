/*
 * intmap.c - linear probing with backward-shift deletion; see intmap.h.
 * Invariant: at most 3/4 of the slots are used, so probes terminate.
 */
#include "common/intmap.h"

#include <string.h>

#include "common/alloc.h"

static uint32_t slot_of(int64_t key, uint32_t cap) {
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 32) & (cap - 1);
}

void baton_intmap_init(baton_intmap *m) {
    memset(m, 0, sizeof *m);
}

void baton_intmap_fini(baton_intmap *m) {
    baton_free(m->keys);
    baton_free(m->values);
    memset(m, 0, sizeof *m);
}

void baton_intmap_clear(baton_intmap *m) {
    if (m->cap)
        memset(m->keys, 0, m->cap * sizeof *m->keys);
    m->count = 0;
}

static baton_status resize(baton_intmap *m, uint32_t cap) {
    int64_t *keys = baton_calloc(cap, sizeof *keys);
    uint32_t *values = baton_malloc(cap * sizeof *values);
    if (!keys || !values) {
        baton_free(keys);
        baton_free(values);
        return BATON_NOMEM;
    }
    for (uint32_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        uint32_t s = slot_of(m->keys[i], cap);
        while (keys[s])
            s = (s + 1) & (cap - 1);
        keys[s] = m->keys[i];
        values[s] = m->values[i];
    }
    baton_free(m->keys);
    baton_free(m->values);
    m->keys = keys;
    m->values = values;
    m->cap = cap;
    return BATON_OK;
}

baton_status baton_intmap_put(baton_intmap *m, int64_t key, uint32_t value) {
    if (key == 0)
        return BATON_INVALID;
    if ((m->count + 1) * 4 > m->cap * 3) {
        baton_status st = resize(m, m->cap ? m->cap * 2 : 8);
        if (st)
            return st;
    }
    uint32_t s = slot_of(key, m->cap);
    while (m->keys[s] && m->keys[s] != key)
        s = (s + 1) & (m->cap - 1);
    if (!m->keys[s]) {
        m->keys[s] = key;
        m->count++;
    }
    m->values[s] = value;
    return BATON_OK;
}

int baton_intmap_get(const baton_intmap *m, int64_t key, uint32_t *value_out) {
    if (!m->cap || key == 0)
        return 0;
    uint32_t s = slot_of(key, m->cap);
    while (m->keys[s]) {
        if (m->keys[s] == key) {
            if (value_out)
                *value_out = m->values[s];
            return 1;
        }
        s = (s + 1) & (m->cap - 1);
    }
    return 0;
}

int baton_intmap_del(baton_intmap *m, int64_t key) {
    if (!m->cap || key == 0)
        return 0;
    uint32_t mask = m->cap - 1;
    uint32_t s = slot_of(key, m->cap);
    while (m->keys[s] && m->keys[s] != key)
        s = (s + 1) & mask;
    if (!m->keys[s])
        return 0;
    /* backward-shift: move later members of the cluster into the hole */
    uint32_t hole = s;
    uint32_t j = s;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->keys[j])
            break;
        uint32_t home = slot_of(m->keys[j], m->cap);
        /* can the entry at j move to hole? only if home is not in (hole, j] cyclically */
        int between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (between)
            continue;
        m->keys[hole] = m->keys[j];
        m->values[hole] = m->values[j];
        hole = j;
    }
    m->keys[hole] = 0;
    m->count--;
    return 1;
}
