/* bench_tokenizer: prompts per second (not a test).
 *
 *   bench_tokenizer VOCAB [PROMPTS]
 *
 * VOCAB: a model directory or bpe_simple_vocab_16e6.txt.gz. Encodes PROMPTS
 * (default 20000) distinct zero-shot style prompts: first with an empty word
 * cache (cold), then again with the cache filled (warm); and one
 * 10,000-character single word. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text/tokenizer.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *const templates[] = {
    "a photo of a %s%s.", "a blurry photo of the %s%s.", "itap of my %s%s",
    "a black and white photo of a %s%s, a type of bird.", "a tattoo of the %s%s!",
    "art of a %s%s in the style of Ukiyo-e & Art Nouveau",
};
static const char *const syllables[] = {
    "ka", "lo", "mer", "sun", "tri", "vel", "quo", "zan", "ph", "ix", "ol", "ber", "ston", "ra",
    "gu", "ell", "nd", "wy", "th", "ux", "ce", "ö", "é", "ñ",
};

/* A made-up word from the bits of i, so prompts rarely share words. */
static void make_word(unsigned i, char *out, size_t cap)
{
    out[0] = '\0';
    unsigned n = sizeof syllables / sizeof syllables[0];
    for (int k = 0; k < 3; k++) {
        strncat(out, syllables[i % n], cap - strlen(out) - 1);
        i /= n;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_tokenizer VOCAB [PROMPTS]\n");
        return 2;
    }
    int count = argc > 2 ? atoi(argv[2]) : 20000;
    if (count <= 0)
        count = 20000;
    size_t len = strlen(argv[1]);
    errbuf err;
    double t0 = now();
    clip_tokenizer *tok = len > 3 && strcmp(argv[1] + len - 3, ".gz") == 0
                              ? clip_tokenizer_load_bpe_gz(argv[1], &err)
                              : clip_tokenizer_load_dir(argv[1], &err);
    if (!tok) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("load: %.1f ms\n", (now() - t0) * 1e3);

    char **prompts = malloc((size_t)count * sizeof *prompts);
    for (int i = 0; i < count; i++) {
        char word[64], buf[256];
        make_word((unsigned)i * 2654435761u, word, sizeof word);
        snprintf(buf, sizeof buf, templates[i % 6], word, i % 7 ? "" : "s");
        prompts[i] = strdup(buf);
    }
    int32_t ids[CLIP_CONTEXT_LENGTH];
    long total_ids = 0;
    for (int pass = 0; pass < 3; pass++) {
        t0 = now();
        for (int i = 0; i < count; i++)
            total_ids += clip_tokenizer_encode(tok, prompts[i], ids, CLIP_CONTEXT_LENGTH, NULL);
        double dt = now() - t0;
        printf("%s: %d prompts in %.1f ms = %.0f prompts/s\n", pass == 0 ? "cold cache" : "warm cache",
               count, dt * 1e3, count / dt);
    }
    char *word = malloc(10001);
    unsigned x = 12345;
    for (int i = 0; i < 10000; i++) {
        x = x * 1103515245u + 12345u;
        word[i] = (char)('a' + (x >> 16) % 26);
    }
    word[10000] = '\0';
    t0 = now();
    clip_tokenizer_encode(tok, word, ids, CLIP_CONTEXT_LENGTH, NULL);
    printf("one 10,000-letter word: %.2f ms\n", (now() - t0) * 1e3);
    printf("(%ld ids)\n", total_ids);
    free(word);
    for (int i = 0; i < count; i++)
        free(prompts[i]);
    free(prompts);
    clip_tokenizer_free(tok);
    return 0;
}
