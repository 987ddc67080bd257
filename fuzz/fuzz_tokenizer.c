/* libFuzzer target: the tokenizer files. The input is vocab.json, a NUL
 * byte, then merges.txt (no NUL: all of it is vocab.json, merges.txt empty).
 * A load either fails with one line naming one of the two files, or gives a
 * tokenizer whose encodings are framed by <|startoftext|> ... <|endoftext|>
 * with every id inside the vocabulary. The merges part is also encoded as a
 * prompt, and text_fix (ftfy's steps) runs on it; its output must be
 * well-formed UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/text_fixes.h"
#include "text/tokenizer.h"
#include "text/unicode_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IDS 77

static void check_encoding(clip_tokenizer *tok, const char *text, size_t len)
{
    /* clip_tokenizer_encode takes a C string */
    char *s = malloc(len + 1);
    if (!s)
        return;
    memcpy(s, text, len);
    s[len] = '\0';
    int32_t ids[MAX_IDS];
    errbuf err = {{0}};
    int max = 2 + (int)(len % (MAX_IDS - 1)); /* 2 .. 77 */
    int n = clip_tokenizer_encode(tok, s, ids, max, &err);
    size_t bad;
    bool valid = utf8_is_valid(s, strlen(s), &bad); /* what encode sees: up to a NUL */
    if (n < 0) {
        if (valid || !err.msg[0] || strchr(err.msg, '\n'))
            abort();
    } else {
        if (!valid || n < 2 || n > max || ids[0] != clip_tokenizer_sot(tok) ||
            ids[n - 1] != clip_tokenizer_eot(tok))
            abort();
        for (int i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= clip_tokenizer_vocab_size(tok))
                abort();
    }
    free(s);
}

static void check_text_fix(const char *text, size_t len)
{
    size_t bad;
    if (!utf8_is_valid_or_surrogate(text, len, &bad))
        return;
    byte_buffer out = {0};
    if (text_fix(text, len, &out) && out.len && !utf8_is_valid(out.data, out.len, &bad))
        abort();
    byte_buffer_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    size_t vocab_len = nul ? (size_t)(nul - text) : size;
    const char *merges = nul ? nul + 1 : text + size;
    size_t merges_len = nul ? size - vocab_len - 1 : 0;

    errbuf err = {{0}};
    clip_tokenizer *tok = clip_tokenizer_load_memory(text, vocab_len, merges, merges_len, &err);
    if (!tok) {
        if (!err.msg[0] || strchr(err.msg, '\n') ||
            (strncmp(err.msg, "vocab.json", 10) != 0 && strncmp(err.msg, "merges.txt", 10) != 0))
            abort();
    } else {
        if (clip_tokenizer_vocab_size(tok) <= 0 || clip_tokenizer_sot(tok) < 0 || clip_tokenizer_eot(tok) < 0)
            abort();
        static const char *const prompts[] = {"a photo of a cat.", "hello world", "<|endoftext|>x", ""};
        for (size_t i = 0; i < sizeof prompts / sizeof prompts[0]; i++)
            check_encoding(tok, prompts[i], strlen(prompts[i]));
        check_encoding(tok, merges, merges_len < 4096 ? merges_len : 4096);
        clip_tokenizer_free(tok);
    }
    check_text_fix(merges, merges_len < 65536 ? merges_len : 65536);
    return 0;
}
