/* siglip_tokenizer: SigLIP's text to ids with padding="max_length", for
 * both generations:
 * - SigLIP (spiece.model), as transformers' SiglipTokenizer: a leading "▁",
 *   the text lowercased, ASCII punctuation removed, whitespace runs made one
 *   space and the ends stripped; SentencePiece ids (add_dummy_prefix off) of
 *   "<unk>" + text with the pieces of "<unk>" dropped; truncated to leave
 *   room for </s>, which is appended; padded with </s>.
 * - SigLIP 2 (Gemma's tokenizer.model), as Siglip2Tokenizer: each code point
 *   lowercased, SentencePiece ids of that (Gemma's model adds no prefix and
 *   keeps whitespace as it is), no <bos>, truncated to leave room for <eos>,
 *   which is appended; padded with <pad>.
 * A special token's name typed in a text is tokenized as text. */
#ifndef VKCLIP_SIGLIP_TOKENIZER_H
#define VKCLIP_SIGLIP_TOKENIZER_H

#include <stdint.h>

#include "util/errbuf.h"

typedef struct siglip_tokenizer siglip_tokenizer;

/* DIR/spiece.model, else DIR/tokenizer.model; context: the ids a text
 * becomes (64 for SigLIP). */
siglip_tokenizer *siglip_tokenizer_load(const char *dir, int context, errbuf *err);
void siglip_tokenizer_free(siglip_tokenizer *t);
/* Writes exactly context ids when max >= context; returns context, or -1
 * (text that is not UTF-8). */
int siglip_tokenizer_encode(const siglip_tokenizer *t, const char *text, int32_t *ids, int max, errbuf *err);
int siglip_tokenizer_vocab_size(const siglip_tokenizer *t);
/* What the ids depend on: the model file's bytes, the context and the
 * rules' version (for the classifier cache key). */
uint64_t siglip_tokenizer_digest(const siglip_tokenizer *t);

/* The canonical text (a leading "▁" included), malloc'd; NULL when text is
 * not UTF-8 or out of memory. For tests. */
char *siglip_canonical_text(const char *text);
/* SigLIP 2's lowercasing: code point by code point, as the tokenizers
 * library's Lowercase normalizer (İ becomes i + U+0307; a final Σ stays σ).
 * malloc'd; NULL when text is not UTF-8 or out of memory. */
char *siglip2_lowercase_text(const char *text);

#endif
