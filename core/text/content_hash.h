/* content_hash: a fast 64-bit hash of byte strings (XXH64, seed 0), for the
 * classifier cache key: the tokenizer files and the text tower's weights are
 * hashed in full, at several GB/s. Not cryptographic: it tells contents
 * apart, it does not stand against someone crafting a collision. */
#ifndef VKCLIP_CONTENT_HASH_H
#define VKCLIP_CONTENT_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t content_hash64(const void *data, size_t len);

#endif
