/*
 * intmap.h - open-addressing hash map from int64 keys to uint32 values,
 * with deletion (backward-shift, no tombstones).
 *
 * The interpreter finds element instances, jobs, timers and subscriptions
 * by key on every event; with thousands of parallel tokens a linear scan
 * would make each step O(n). Key 0 is reserved (it marks empty slots).
 */
#ifndef BATON_COMMON_INTMAP_H
#define BATON_COMMON_INTMAP_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

typedef struct baton_intmap {
    int64_t *keys; /* 0 = empty */
    uint32_t *values;
    uint32_t cap; /* power of two, or 0 before the first put */
    uint32_t count;
} baton_intmap;

void baton_intmap_init(baton_intmap *m);
void baton_intmap_fini(baton_intmap *m);
/* Insert or overwrite. key must not be 0. */
baton_status baton_intmap_put(baton_intmap *m, int64_t key, uint32_t value);
/* 1 and *value_out when present. */
int baton_intmap_get(const baton_intmap *m, int64_t key, uint32_t *value_out);
/* Remove; returns 1 if it was present. */
int baton_intmap_del(baton_intmap *m, int64_t key);
void baton_intmap_clear(baton_intmap *m);

#endif
