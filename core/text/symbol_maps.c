#include "text/symbol_maps.h"

#include <stdlib.h>
#include <string.h>

struct string_id_slot {
    uint64_t hash;
    uint32_t offset, len; /* key in the arena */
    int32_t id;           /* -1: empty slot */
};

struct pair_slot {
    uint64_t key; /* UINT64_MAX: empty slot */
    merge_rule rule;
};

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static bool string_slots_grow(string_id_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    struct string_id_slot *slots = malloc(cap * sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < cap; i++)
        slots[i].id = -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].id < 0)
            continue;
        size_t j = m->slots[i].hash & (cap - 1);
        while (slots[j].id >= 0)
            j = (j + 1) & (cap - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return true;
}

static size_t string_find(const string_id_map *m, const char *key, size_t len, uint64_t hash)
{
    size_t j = hash & (m->cap - 1);
    while (m->slots[j].id >= 0) {
        const struct string_id_slot *s = &m->slots[j];
        if (s->hash == hash && s->len == len && memcmp(m->arena + s->offset, key, len) == 0)
            return j;
        j = (j + 1) & (m->cap - 1);
    }
    return j; /* the empty slot where key would go */
}

bool string_id_map_put(string_id_map *m, const char *key, size_t len, int32_t id, int32_t *existing)
{
    *existing = -1;
    if (len > UINT32_MAX || m->arena_len > UINT32_MAX - len)
        return false;
    if ((m->count + 1) * 2 > m->cap && !string_slots_grow(m))
        return false;
    uint64_t hash = hash_bytes(key, len);
    size_t j = string_find(m, key, len, hash);
    if (m->slots[j].id >= 0) {
        *existing = m->slots[j].id;
        return true;
    }
    if (m->arena_len + len > m->arena_cap) {
        size_t cap = m->arena_cap ? m->arena_cap : 4096;
        while (cap < m->arena_len + len)
            cap *= 2;
        char *arena = realloc(m->arena, cap);
        if (!arena)
            return false;
        m->arena = arena;
        m->arena_cap = cap;
    }
    if (len)
        memcpy(m->arena + m->arena_len, key, len);
    m->slots[j] = (struct string_id_slot){hash, (uint32_t)m->arena_len, (uint32_t)len, id};
    m->arena_len += len;
    m->count++;
    return true;
}

int32_t string_id_map_get(const string_id_map *m, const char *key, size_t len)
{
    if (!m->cap)
        return -1;
    return m->slots[string_find(m, key, len, hash_bytes(key, len))].id;
}

const char *string_id_map_key_of(const string_id_map *m, int32_t id, size_t *len)
{
    for (size_t j = 0; j < m->cap; j++)
        if (m->slots[j].id >= 0 && m->slots[j].id == id) {
            *len = m->slots[j].len;
            return m->arena + m->slots[j].offset;
        }
    return NULL;
}

void string_id_map_free(string_id_map *m)
{
    free(m->slots);
    free(m->arena);
    memset(m, 0, sizeof *m);
}

static uint64_t pair_key(int32_t left, int32_t right)
{
    return ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
}

static bool pair_slots_grow(pair_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    struct pair_slot *slots = malloc(cap * sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < cap; i++)
        slots[i].key = UINT64_MAX;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key == UINT64_MAX)
            continue;
        size_t j = mix64(m->slots[i].key) & (cap - 1);
        while (slots[j].key != UINT64_MAX)
            j = (j + 1) & (cap - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return true;
}

bool pair_map_put(pair_map *m, int32_t left, int32_t right, merge_rule rule)
{
    if ((m->count + 1) * 2 > m->cap && !pair_slots_grow(m))
        return false;
    uint64_t key = pair_key(left, right);
    size_t j = mix64(key) & (m->cap - 1);
    while (m->slots[j].key != UINT64_MAX && m->slots[j].key != key)
        j = (j + 1) & (m->cap - 1);
    if (m->slots[j].key == UINT64_MAX)
        m->count++;
    m->slots[j].key = key;
    m->slots[j].rule = rule;
    return true;
}

const merge_rule *pair_map_get(const pair_map *m, int32_t left, int32_t right)
{
    if (!m->cap)
        return NULL;
    uint64_t key = pair_key(left, right);
    size_t j = mix64(key) & (m->cap - 1);
    while (m->slots[j].key != UINT64_MAX) {
        if (m->slots[j].key == key)
            return &m->slots[j].rule;
        j = (j + 1) & (m->cap - 1);
    }
    return NULL;
}

void pair_map_free(pair_map *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}
