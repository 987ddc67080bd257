/* spm_shim: a SentencePiece model (Debian's libsentencepiece) behind a C
 * interface, loaded as transformers' SiglipTokenizer loads it: with the
 * model's add_dummy_prefix switched off. */
#ifndef VKCLIP_SPM_SHIM_H
#define VKCLIP_SPM_SHIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "text/content_hash.h" /* C headers: their functions keep C linkage here */
#include "util/errbuf.h"

typedef struct spm_model spm_model;

/* NULL with the reason (naming path) in err. */
spm_model *spm_model_load(const char *path, errbuf *err);
void spm_model_free(spm_model *m);
/* The ids of text (UTF-8), at most max of them written; returns how many the
 * text has (may exceed max), or -1 with the reason in err. */
int spm_model_encode(const spm_model *m, const char *text, int32_t *ids, int max, errbuf *err);
/* A piece's id, or -1 when the vocabulary has no such piece. */
int spm_model_piece_id(const spm_model *m, const char *piece);
int spm_model_size(const spm_model *m);
/* content_hash64 of the model file's bytes (for the classifier cache key). */
uint64_t spm_model_digest(const spm_model *m);

#ifdef __cplusplus
}
#endif

#endif
