/* tokenizer: CLIP's byte-level BPE (see ../shared/docs/clip-reference.md §4). */
#ifndef VKCLIP_TOKENIZER_H
#define VKCLIP_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/errbuf.h"

#define CLIP_CONTEXT_LENGTH 77

typedef struct clip_tokenizer clip_tokenizer;

/* vocab.json + merges.txt from a Hugging Face model directory. merges.txt
 * may hold fewer merges than the vocabulary was made with only where it
 * still makes every token: each token of vocab.json must be one of the 512
 * byte symbols, <|startoftext|>, <|endoftext|> or the result of a merge;
 * otherwise (an empty, header-only, truncated or foreign merges.txt) loading
 * fails with an error naming merges.txt. */
clip_tokenizer *clip_tokenizer_load_dir(const char *model_dir, errbuf *err);
/* The same from the two files' contents (messages name them "vocab.json"
 * and "merges.txt"): for fuzzing and tests. */
clip_tokenizer *clip_tokenizer_load_memory(const char *vocab_json, size_t vocab_len, const char *merges_txt,
                                           size_t merges_len, errbuf *err);
/* OpenAI's bpe_simple_vocab_16e6.txt.gz (only the first 48894 merges count). */
clip_tokenizer *clip_tokenizer_load_bpe_gz(const char *path, errbuf *err);
void clip_tokenizer_free(clip_tokenizer *tok);

int32_t clip_tokenizer_sot(const clip_tokenizer *tok);
int32_t clip_tokenizer_eot(const clip_tokenizer *tok);
int32_t clip_tokenizer_vocab_size(const clip_tokenizer *tok);
/* A 64-bit hash of everything the tokenizer was made from: the bytes of
 * vocab.json and merges.txt, or of OpenAI's file as inflated. */
uint64_t clip_tokenizer_digest(const clip_tokenizer *tok);

/* Whether encoding runs ftfy's fixes (text_fixes.h; on by default) or only
 * NFC in their place, as a reference without the ftfy module does: for
 * comparing with one. Set it before the tokenizer is shared. */
void clip_tokenizer_set_text_fixes(clip_tokenizer *tok, bool on);

/* Writes [SOT] + ids + [EOT] into ids (at most max_ids, >= 2; the content is
 * truncated keeping EOT last) and returns the count, or -1 with err set
 * (e.g. text that is not well-formed UTF-8, a surrogate encoded alone
 * included). Safe to call from several threads. */
int clip_tokenizer_encode(clip_tokenizer *tok, const char *text, int32_t *ids, int max_ids,
                          errbuf *err);

#endif
