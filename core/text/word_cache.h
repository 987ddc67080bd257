/* word_cache: piece text -> its BPE ids, shared by every thread that encodes
 * with one tokenizer (a mutex guards it). Bounded: when it fills up it is
 * emptied and starts over, which costs only speed. */
#ifndef VKCLIP_WORD_CACHE_H
#define VKCLIP_WORD_CACHE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WORD_CACHE_SLOTS 32768   /* holds up to 3/4 of this many words */
#define WORD_CACHE_MAX_KEY 64    /* longer pieces are not cached */

typedef struct word_cache {
    pthread_mutex_t lock;
    struct word_cache_slot *slots; /* WORD_CACHE_SLOTS of them */
    size_t count;
} word_cache;

bool word_cache_init(word_cache *c);
void word_cache_free(word_cache *c);

/* Copies the cached ids of key into ids (room for max) and returns their
 * count, or -1 when key is not cached or has more than max ids. */
int word_cache_get(word_cache *c, const char *key, size_t len, int32_t *ids, int max);
/* Remembers key -> ids (silently does nothing when memory is short). */
void word_cache_put(word_cache *c, const char *key, size_t len, const int32_t *ids, int n);

#endif
