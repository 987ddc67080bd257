/* bpe_merge: byte-pair encoding of one piece, in O(n log n).
 *
 * Same result as the reference's loop (take the pair with the lowest rank,
 * merge every occurrence of it left to right, repeat): a heap of candidate
 * pairs ordered by (rank, position), and all pairs of one rank are merged
 * as one pass before pairs created by that pass are considered. */
#ifndef VKCLIP_BPE_MERGE_H
#define VKCLIP_BPE_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text/symbol_maps.h"

/* The symbols of one piece: ids[0..n) are its bytes' symbols (the last one
 * with "</w>"). Merges them in place and returns the new count, or -1 when
 * memory runs out. */
int bpe_merge_symbols(const pair_map *merges, int32_t *ids, int n);

#endif
