/*
 * strmap.h - open-addressing hash map from byte strings to uint32 values.
 *
 * Used to intern element ids to dense indices while a model is built, and
 * wherever a name must become an index once so hot paths compare integers.
 * Keys are borrowed: the caller keeps them alive as long as the map (they
 * normally live in the same arena as the map's owner).
 */
#ifndef BATON_COMMON_STRMAP_H
#define BATON_COMMON_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

typedef struct baton_strmap baton_strmap;

baton_strmap *baton_strmap_new(size_t expected);
void baton_strmap_free(baton_strmap *m);

/*
 * Insert key -> value. If the key is present, nothing changes and
 * BATON_CONFLICT is returned with the existing value in *existing_out
 * (may be NULL).
 */
baton_status baton_strmap_put(baton_strmap *m, const char *key, size_t len, uint32_t value,
                              uint32_t *existing_out);
/* 1 and *value_out when found, else 0. */
int baton_strmap_get(const baton_strmap *m, const char *key, size_t len, uint32_t *value_out);
size_t baton_strmap_count(const baton_strmap *m);
/* Bytes held by the table (for memory accounting). */
size_t baton_strmap_bytes(const baton_strmap *m);

/* The hash the map uses (FNV-1a, 32 bit), exposed for callers that cache it. */
uint32_t baton_strhash(const char *key, size_t len);

#endif
