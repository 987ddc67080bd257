/* tokenizer_internal: the tokenizer's state, shared by its loader and encoder. */
#ifndef VKCLIP_TOKENIZER_INTERNAL_H
#define VKCLIP_TOKENIZER_INTERNAL_H

#include "text/symbol_maps.h"
#include "text/tokenizer.h"
#include "text/word_cache.h"

struct clip_tokenizer {
    pair_map merges;           /* (left id, right id) -> rank, merged id */
    int32_t byte_id[256];      /* symbol of each byte inside a piece */
    int32_t byte_end_id[256];  /* the same with "</w>": the last byte of a piece */
    int32_t sot, eot;          /* <|startoftext|>, <|endoftext|> */
    int32_t vocab_size;
    uint64_t digest;           /* clip_tokenizer_digest */
    bool no_text_fixes;        /* NFC only instead of text_fix */
    word_cache cache;
};

#endif
