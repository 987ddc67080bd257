/* Encoding: clean the text, split it into pieces, BPE each piece (through
 * the word cache), and frame the ids with <|startoftext|> ... <|endoftext|>. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "text/bpe_merge.h"
#include "text/pretokenize.h"
#include "text/text_clean.h"
#include "text/tokenizer_internal.h"
#include "text/unicode_text.h"

#define SOT_TEXT "<|startoftext|>"
#define EOT_TEXT "<|endoftext|>"
#define SMALL_PIECE 64 /* pieces up to this many bytes use a stack buffer */

void clip_tokenizer_free(clip_tokenizer *tok)
{
    if (!tok)
        return;
    pair_map_free(&tok->merges);
    word_cache_free(&tok->cache);
    free(tok);
}

int32_t clip_tokenizer_sot(const clip_tokenizer *tok) { return tok->sot; }
int32_t clip_tokenizer_eot(const clip_tokenizer *tok) { return tok->eot; }
int32_t clip_tokenizer_vocab_size(const clip_tokenizer *tok) { return tok->vocab_size; }
uint64_t clip_tokenizer_digest(const clip_tokenizer *tok) { return tok->digest; }
void clip_tokenizer_set_text_fixes(clip_tokenizer *tok, bool on) { tok->no_text_fixes = !on; }

static bool piece_is(const char *piece, size_t len, const char *literal)
{
    return len == strlen(literal) && memcmp(piece, literal, len) == 0;
}

/* Appends the ids of one piece to ids[*count..max); false when memory runs out. */
static bool encode_piece(clip_tokenizer *tok, const char *piece, size_t len, int32_t *ids,
                         int *count, int max)
{
    int room = max - *count;
    /* The special strings map straight to their ids (the reference seeds its
     * cache with them); variants matched with U+017F for 's' do not. */
    if (piece_is(piece, len, SOT_TEXT) || piece_is(piece, len, EOT_TEXT)) {
        ids[(*count)++] = piece_is(piece, len, SOT_TEXT) ? tok->sot : tok->eot;
        return true;
    }
    int32_t small[SMALL_PIECE];
    int n = word_cache_get(&tok->cache, piece, len, small, SMALL_PIECE);
    int32_t *symbols = small;
    if (n < 0) {
        /* Each byte starts as one symbol; the last one carries "</w>". */
        if (len > SMALL_PIECE && !(symbols = malloc(len * sizeof *symbols)))
            return false;
        for (size_t i = 0; i < len; i++) {
            unsigned char b = (unsigned char)piece[i];
            symbols[i] = i + 1 < len ? tok->byte_id[b] : tok->byte_end_id[b];
        }
        n = bpe_merge_symbols(&tok->merges, symbols, (int)len);
        if (n < 0) {
            if (symbols != small)
                free(symbols);
            return false;
        }
        word_cache_put(&tok->cache, piece, len, symbols, n);
    }
    int take = n < room ? n : room;
    memcpy(ids + *count, symbols, (size_t)take * sizeof *ids);
    *count += take;
    if (symbols != small)
        free(symbols);
    return true;
}

int clip_tokenizer_encode(clip_tokenizer *tok, const char *text, int32_t *ids, int max_ids,
                          errbuf *err)
{
    if (!tok || !text || !ids || max_ids < 2) {
        errbuf_set(err, "clip_tokenizer_encode: %s", max_ids < 2 ? "max_ids must be at least 2"
                                                                 : "NULL argument");
        return -1;
    }
    size_t len = strlen(text), bad_at;
    if (len > INT_MAX / 2) {
        errbuf_set(err, "text is too long (%zu bytes)", len);
        return -1;
    }
    /* Well-formed UTF-8 only, as Python's strict decoding of a file or an
     * argument: a surrogate encoded alone is an error here (text_fix could
     * repair it, see text_fixes.h). */
    if (!utf8_is_valid(text, len, &bad_at)) {
        errbuf_set(err, "text is not valid UTF-8 at byte %zu", bad_at);
        return -1;
    }
    byte_buffer clean = {0};
    if (!clip_text_clean_ex(text, len, !tok->no_text_fixes, &clean)) {
        byte_buffer_free(&clean);
        errbuf_set(err, "out of memory while cleaning the text");
        return -1;
    }
    /* Pieces after the last one that fits change nothing: stop there. */
    int count = 0, content_max = max_ids - 1;
    ids[count++] = tok->sot;
    piece_scanner scan = {clean.data, clean.len, 0};
    size_t start, n;
    bool ok = true;
    while (ok && count < content_max && piece_scanner_next(&scan, &start, &n))
        ok = encode_piece(tok, clean.data + start, n, ids, &count, content_max);
    byte_buffer_free(&clean);
    if (!ok) {
        errbuf_set(err, "out of memory while encoding the text");
        return -1;
    }
    ids[count++] = tok->eot;
    return count;
}
