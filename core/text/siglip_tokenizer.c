#include "text/siglip_tokenizer.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text/spm_shim.h"
#include "util/regular_file.h"

#define UNK "<unk>"
#define EOS "</s>"
#define PAD "</s>"
#define WORD_BOUNDARY 0x2581 /* "▁", SentencePiece's word boundary */

struct siglip_tokenizer {
    spm_model *spm;
    int context, eos, pad;
    int unk_ids; /* how many ids "<unk>" alone becomes (dropped from each text's front) */
};

/* Python's str.isspace: categories Zs, and the controls of bidirectional
 * class B, S or WS. */
static bool is_space(utf8proc_int32_t c)
{
    if ((c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85)
        return true;
    return utf8proc_category(c) == UTF8PROC_CATEGORY_ZS || c == 0x2028 || c == 0x2029;
}

/* string.punctuation */
static bool is_ascii_punctuation(utf8proc_int32_t c)
{
    return c < 128 && strchr("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", (int)c) && c != 0;
}

char *siglip_canonical_text(const char *text)
{
    size_t len = strlen(text);
    /* At most 4 bytes a code point, plus the leading "▁" (3 bytes). */
    char *out = malloc(len * 4 + 8), *w = out;
    if (!out)
        return NULL;
    w += utf8proc_encode_char(WORD_BOUNDARY, (utf8proc_uint8_t *)w);
    bool pending_space = false;
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), &c);
        if (n <= 0) {
            free(out);
            return NULL;
        }
        i += (size_t)n;
        if (c == WORD_BOUNDARY) /* a "▁" in the text is a space, as the reference replaces it */
            c = ' ';
        if (is_ascii_punctuation(c))
            continue;
        if (is_space(c)) { /* runs become one space; none at the end */
            pending_space = true;
            continue;
        }
        if (pending_space)
            *w++ = ' ';
        pending_space = false;
        w += utf8proc_encode_char(utf8proc_tolower(c), (utf8proc_uint8_t *)w);
    }
    *w = 0;
    return out;
}

siglip_tokenizer *siglip_tokenizer_load(const char *dir, int context, errbuf *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/spiece.model", dir);
    siglip_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        errbuf_set(err, "out of memory");
        return NULL;
    }
    t->context = context;
    char gemma[4200];
    snprintf(gemma, sizeof gemma, "%s/tokenizer.model", dir);
    if (!file_exists(path) && file_exists(gemma)) { /* a SigLIP 2 checkpoint */
        errbuf_set(err, "%s: Gemma's tokenizer (SigLIP 2's text) is not supported yet (image embeddings work)", gemma);
        free(t);
        return NULL;
    }
    if (!(t->spm = spm_model_load(path, err))) {
        free(t);
        return NULL;
    }
    int32_t probe[16];
    t->eos = spm_model_piece_id(t->spm, EOS);
    t->pad = spm_model_piece_id(t->spm, PAD);
    t->unk_ids = spm_model_encode(t->spm, UNK, probe, 16, err);
    if (t->eos < 0 || t->pad < 0 || t->unk_ids < 0) {
        if (t->unk_ids >= 0)
            errbuf_set(err, "%s: no %s piece (SigLIP ends and pads every text with it)", path, EOS);
        siglip_tokenizer_free(t);
        return NULL;
    }
    return t;
}

void siglip_tokenizer_free(siglip_tokenizer *t)
{
    if (!t)
        return;
    spm_model_free(t->spm);
    free(t);
}

int siglip_tokenizer_vocab_size(const siglip_tokenizer *t)
{
    return spm_model_size(t->spm);
}

/* Bumped when the canonicalisation above changes: cached classifiers then go stale. */
#define RULES_VERSION 1u

uint64_t siglip_tokenizer_digest(const siglip_tokenizer *t)
{
    return spm_model_digest(t->spm) ^ ((uint64_t)t->context << 40) ^ ((uint64_t)RULES_VERSION << 56);
}

int siglip_tokenizer_encode(const siglip_tokenizer *t, const char *text, int32_t *ids, int max, errbuf *err)
{
    if (max < t->context) {
        errbuf_set(err, "room for %d ids, a SigLIP text is %d", max, t->context);
        return -1;
    }
    char *canon = siglip_canonical_text(text);
    if (!canon) {
        errbuf_set(err, "the text is not valid UTF-8");
        return -1;
    }
    size_t n = strlen(canon);
    char *with_unk = malloc(n + sizeof UNK);
    int32_t *all = malloc(((size_t)n * 4 + 64) * sizeof *all);
    int count = -1;
    if (with_unk && all) {
        memcpy(with_unk, UNK, sizeof UNK - 1);
        memcpy(with_unk + sizeof UNK - 1, canon, n + 1);
        count = spm_model_encode(t->spm, with_unk, all, (int)(n * 4 + 64), err);
    } else {
        errbuf_set(err, "out of memory");
    }
    if (count >= 0) {
        int first = count >= t->unk_ids ? t->unk_ids : 0;
        int kept = count - first;
        if (kept > t->context - 1) /* truncated, leaving room for </s> */
            kept = t->context - 1;
        memcpy(ids, all + first, (size_t)kept * sizeof *ids);
        if (kept == 0 || ids[kept - 1] != t->eos)
            ids[kept++] = t->eos;
        for (int i = kept; i < t->context; i++)
            ids[i] = t->pad;
        count = t->context;
    }
    free(canon);
    free(with_unk);
    free(all);
    return count;
}
