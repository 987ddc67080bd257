/* symbol_maps: the two lookups BPE needs, as open-addressing hash tables:
 * token text -> vocabulary id, and a pair of ids -> (merge rank, merged id). */
#ifndef VKCLIP_SYMBOL_MAPS_H
#define VKCLIP_SYMBOL_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct string_id_map {
    struct string_id_slot *slots;
    size_t cap, count; /* cap is a power of two */
    char *arena;       /* the keys, back to back */
    size_t arena_len, arena_cap;
} string_id_map;

/* Adds key -> id. If the key is already there, nothing changes and
 * *existing gets its id (else -1). False when memory runs out. */
bool string_id_map_put(string_id_map *m, const char *key, size_t len, int32_t id, int32_t *existing);
/* The id of key, or -1. */
int32_t string_id_map_get(const string_id_map *m, const char *key, size_t len);
/* The key with this id (not NUL-terminated; *len gets its length), or NULL.
 * A linear search, for messages. */
const char *string_id_map_key_of(const string_id_map *m, int32_t id, size_t *len);
void string_id_map_free(string_id_map *m);

typedef struct merge_rule {
    int32_t rank;   /* lower merges first */
    int32_t result; /* id of the merged symbol */
} merge_rule;

typedef struct pair_map {
    struct pair_slot *slots;
    size_t cap, count;
} pair_map;

/* Sets (left, right) -> rule, replacing an earlier rule for the same pair
 * (as a Python dict built from the merges list does). False when memory runs out. */
bool pair_map_put(pair_map *m, int32_t left, int32_t right, merge_rule rule);
/* The rule for (left, right), or NULL. */
const merge_rule *pair_map_get(const pair_map *m, int32_t left, int32_t right);
void pair_map_free(pair_map *m);

#endif
