#include "text/word_cache.h"

#include <stdlib.h>
#include <string.h>

struct word_cache_slot {
    uint64_t hash;
    char *key;      /* NULL: empty slot; the ids follow the key in the same block */
    uint32_t len;
    uint32_t n_ids;
};

static uint64_t hash_key(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 31);
}

static const int32_t *slot_ids(const struct word_cache_slot *s)
{
    /* The key is padded to a multiple of 4 so the ids are aligned. */
    return (const int32_t *)(s->key + ((s->len + 3) & ~(size_t)3));
}

bool word_cache_init(word_cache *c)
{
    c->slots = calloc(WORD_CACHE_SLOTS, sizeof *c->slots);
    c->count = 0;
    if (!c->slots)
        return false;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c->slots);
        c->slots = NULL;
        return false;
    }
    return true;
}

static void clear_slots(word_cache *c)
{
    for (size_t i = 0; i < WORD_CACHE_SLOTS; i++) {
        free(c->slots[i].key);
        c->slots[i].key = NULL;
    }
    c->count = 0;
}

void word_cache_free(word_cache *c)
{
    if (!c->slots)
        return;
    clear_slots(c);
    free(c->slots);
    c->slots = NULL;
    pthread_mutex_destroy(&c->lock);
}

/* The slot holding key, or the empty slot where it would go. */
static struct word_cache_slot *find_slot(word_cache *c, const char *key, size_t len, uint64_t hash)
{
    size_t j = hash & (WORD_CACHE_SLOTS - 1);
    for (;;) {
        struct word_cache_slot *s = &c->slots[j];
        if (!s->key || (s->hash == hash && s->len == len && memcmp(s->key, key, len) == 0))
            return s;
        j = (j + 1) & (WORD_CACHE_SLOTS - 1);
    }
}

int word_cache_get(word_cache *c, const char *key, size_t len, int32_t *ids, int max)
{
    if (len > WORD_CACHE_MAX_KEY)
        return -1;
    uint64_t hash = hash_key(key, len);
    int n = -1;
    pthread_mutex_lock(&c->lock);
    struct word_cache_slot *s = find_slot(c, key, len, hash);
    if (s->key && (int)s->n_ids <= max) {
        n = (int)s->n_ids;
        memcpy(ids, slot_ids(s), (size_t)n * sizeof *ids);
    }
    pthread_mutex_unlock(&c->lock);
    return n;
}

void word_cache_put(word_cache *c, const char *key, size_t len, const int32_t *ids, int n)
{
    if (len > WORD_CACHE_MAX_KEY || n < 0)
        return;
    uint64_t hash = hash_key(key, len);
    size_t padded = (len + 3) & ~(size_t)3;
    char *block = malloc(padded + (size_t)n * sizeof *ids + 1);
    if (!block)
        return;
    memcpy(block, key, len);
    memcpy(block + padded, ids, (size_t)n * sizeof *ids);
    pthread_mutex_lock(&c->lock);
    if (c->count >= WORD_CACHE_SLOTS / 4 * 3)
        clear_slots(c);
    struct word_cache_slot *s = find_slot(c, key, len, hash);
    if (s->key) { /* another thread got there first */
        free(block);
    } else {
        *s = (struct word_cache_slot){hash, block, (uint32_t)len, (uint32_t)n};
        c->count++;
    }
    pthread_mutex_unlock(&c->lock);
}
