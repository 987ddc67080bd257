#include "text/siglip_tokenizer.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text/spm_shim.h"
#include "util/regular_file.h"

#define UNK "<unk>"
#define WORD_BOUNDARY 0x2581 /* "▁", SentencePiece's word boundary */

/* How each SigLIP generation's checkpoint turns text into ids. */
typedef struct {
    const char *file; /* the SentencePiece model in the checkpoint */
    const char *eos, *pad;
    bool big_vision_clean; /* SigLIP: punctuation out, whitespace squeezed, "<unk>" prefix trick */
    unsigned version;      /* bumped when these rules change: cached classifiers go stale */
} text_rules;

/* SiglipTokenizer: T5's pieces, padded with </s>. */
static const text_rules SIGLIP_RULES = {"spiece.model", "</s>", "</s>", true, 2};
/* SigLIP 2 (Gemma's tokenizer): text lowercased, nothing else changed, no
 * <bos>, <eos> always appended, padded with <pad>. */
static const text_rules SIGLIP2_RULES = {"tokenizer.model", "<eos>", "<pad>", false, 1};

struct siglip_tokenizer {
    spm_model *spm;
    const text_rules *rules;
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

#define CAPITAL_I_WITH_DOT 0x130
#define COMBINING_DOT_ABOVE 0x307

/* c lowercased alone, as Python's str.lower of one character and Rust's
 * char::to_lowercase (the tokenizers library's Lowercase) do it: İ is the one
 * code point that becomes two (i + U+0307). Returns the bytes written. */
static size_t put_lowercase(utf8proc_int32_t c, char *w)
{
    size_t n = 0;
    if (c == CAPITAL_I_WITH_DOT) {
        n += (size_t)utf8proc_encode_char('i', (utf8proc_uint8_t *)w);
        c = COMBINING_DOT_ABOVE;
    } else {
        c = utf8proc_tolower(c);
    }
    return n + (size_t)utf8proc_encode_char(c, (utf8proc_uint8_t *)w + n);
}

/* The code point at text[*i] (of len bytes) into *c, *i moved past it;
 * false where the text is not UTF-8. */
static bool next_code_point(const char *text, size_t len, size_t *i, utf8proc_int32_t *c)
{
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)text + *i, (utf8proc_ssize_t)(len - *i), c);
    if (n <= 0)
        return false;
    *i += (size_t)n;
    return true;
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
        if (!next_code_point(text, len, &i, &c)) {
            free(out);
            return NULL;
        }
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
        w += put_lowercase(c, w);
    }
    *w = 0;
    return out;
}

static bool utf8_valid(const char *text)
{
    size_t len = strlen(text);
    utf8proc_int32_t c;
    for (size_t i = 0; i < len;)
        if (!next_code_point(text, len, &i, &c))
            return false;
    return true;
}

char *siglip2_lowercase_text(const char *text)
{
    size_t len = strlen(text);
    /* Lowercasing grows a code point's bytes by half at most (İ: 2 become 3, Ⱥ: 2 become 3). */
    char *out = malloc(len * 2 + 1), *w = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t c;
        if (!next_code_point(text, len, &i, &c)) {
            free(out);
            return NULL;
        }
        w += put_lowercase(c, w);
    }
    *w = 0;
    return out;
}

/* SigLIP's spiece.model, else SigLIP 2's tokenizer.model (its path in
 * path), else NULL. */
static const text_rules *rules_of(const char *dir, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", dir, SIGLIP_RULES.file);
    if (file_exists(path))
        return &SIGLIP_RULES;
    char gemma[4200];
    snprintf(gemma, sizeof gemma, "%s/%s", dir, SIGLIP2_RULES.file);
    if (!file_exists(gemma))
        return NULL;
    snprintf(path, size, "%s", gemma);
    return &SIGLIP2_RULES;
}

siglip_tokenizer *siglip_tokenizer_load(const char *dir, int context, errbuf *err)
{
    char path[4200];
    siglip_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        errbuf_set(err, "out of memory");
        return NULL;
    }
    t->context = context;
    if (!(t->rules = rules_of(dir, path, sizeof path)))
        errbuf_set(err, "%s: no %s (SigLIP) or %s (SigLIP 2): the text tower's tokenizer is missing", dir,
                   SIGLIP_RULES.file, SIGLIP2_RULES.file);
    if (!t->rules || !(t->spm = spm_model_load(path, err))) {
        free(t);
        return NULL;
    }
    int32_t probe[16];
    t->eos = spm_model_piece_id(t->spm, t->rules->eos);
    t->pad = spm_model_piece_id(t->spm, t->rules->pad);
    t->unk_ids = t->rules->big_vision_clean ? spm_model_encode(t->spm, UNK, probe, 16, err) : 0;
    if (t->eos < 0 || t->pad < 0 || t->unk_ids < 0) {
        if (t->unk_ids >= 0)
            errbuf_set(err, "%s: no %s piece (SigLIP ends every text with %s and pads it with %s)", path,
                       t->eos < 0 ? t->rules->eos : t->rules->pad, t->rules->eos, t->rules->pad);
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

uint64_t siglip_tokenizer_digest(const siglip_tokenizer *t)
{
    return spm_model_digest(t->spm) ^ ((uint64_t)t->context << 40) ^ ((uint64_t)t->rules->version << 56);
}

/* The text SentencePiece is given: SigLIP's canonical text behind "<unk>"
 * (whose ids are then dropped), or SigLIP 2's lowercased text. */
static char *prepared_text(const siglip_tokenizer *t, const char *text)
{
    if (!t->rules->big_vision_clean)
        return siglip2_lowercase_text(text);
    char *canon = siglip_canonical_text(text);
    if (!canon)
        return NULL;
    size_t n = strlen(canon);
    char *with_unk = malloc(n + sizeof UNK);
    if (with_unk) {
        memcpy(with_unk, UNK, sizeof UNK - 1);
        memcpy(with_unk + sizeof UNK - 1, canon, n + 1);
    }
    free(canon);
    return with_unk;
}

int siglip_tokenizer_encode(const siglip_tokenizer *t, const char *text, int32_t *ids, int max, errbuf *err)
{
    if (max < t->context) {
        errbuf_set(err, "room for %d ids, a SigLIP text is %d", max, t->context);
        return -1;
    }
    if (!utf8_valid(text)) {
        errbuf_set(err, "the text is not valid UTF-8");
        return -1;
    }
    char *input = prepared_text(t, text);
    size_t n = input ? strlen(input) : 0;
    int32_t *all = input ? malloc((n * 4 + 64) * sizeof *all) : NULL;
    int count = -1;
    if (all)
        count = spm_model_encode(t->spm, input, all, (int)(n * 4 + 64), err);
    else
        errbuf_set(err, "out of memory");
    if (count >= 0) {
        int first = count >= t->unk_ids ? t->unk_ids : 0;
        int kept = count - first;
        if (kept > t->context - 1) /* truncated, leaving room for the end token */
            kept = t->context - 1;
        memcpy(ids, all + first, (size_t)kept * sizeof *ids);
        if (kept == 0 || ids[kept - 1] != t->eos)
            ids[kept++] = t->eos;
        for (int i = kept; i < t->context; i++)
            ids[i] = t->pad;
        count = t->context;
    }
    free(input);
    free(all);
    return count;
}
