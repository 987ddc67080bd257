/* tokenizer: CLIP's byte-level BPE (see ../shared/docs/clip-reference.md §4). */
#ifndef VKCLIP_TOKENIZER_H
#define VKCLIP_TOKENIZER_H

#include <stdbool.h>
#include <stdint.h>

#include "util/errbuf.h"

#define CLIP_CONTEXT_LENGTH 77

typedef struct clip_tokenizer clip_tokenizer;

/* vocab.json + merges.txt from a Hugging Face model directory. */
clip_tokenizer *clip_tokenizer_load_dir(const char *model_dir, errbuf *err);
/* OpenAI's bpe_simple_vocab_16e6.txt.gz (only the first 48894 merges count). */
clip_tokenizer *clip_tokenizer_load_bpe_gz(const char *path, errbuf *err);
void clip_tokenizer_free(clip_tokenizer *tok);

int32_t clip_tokenizer_sot(const clip_tokenizer *tok);
int32_t clip_tokenizer_eot(const clip_tokenizer *tok);
int32_t clip_tokenizer_vocab_size(const clip_tokenizer *tok);

/* Writes [SOT] + ids + [EOT] into ids (at most max_ids, >= 2; the content is
 * truncated keeping EOT last) and returns the count, or -1 with err set
 * (e.g. text that is not valid UTF-8). Safe to call from several threads. */
int clip_tokenizer_encode(clip_tokenizer *tok, const char *text, int32_t *ids, int max_ids,
                          errbuf *err);

#endif
