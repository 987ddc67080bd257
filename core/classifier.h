/* classifier: a zero-shot classifier is one normalised text embedding per
 * label (its prompts' embeddings normalised, averaged, normalised again: the
 * CLIP paper's prompt ensembling) and the model's logit scale. Scoring an
 * image is a matrix-vector product and a softmax: 0.4 MFLOP for 700 labels,
 * done on the host where the normalised image embedding already is.
 * Classifiers are cached on disk, keyed by model, labels and templates. */
#ifndef VKCLIP_CLASSIFIER_H
#define VKCLIP_CLASSIFIER_H

#include <stdbool.h>
#include <stdint.h>

#include "util/errbuf.h"

typedef struct classifier {
    int labels, dim;
    char **names;
    float *weights; /* [labels][dim], rows of unit length */
    float scale;    /* exp(logit_scale) */
    bool from_cache;
} classifier;

void classifier_free(classifier *c);

/* softmax(scale · W · e) for a normalised image embedding e. */
void classifier_probs(const classifier *c, const float *embedding, float *probs);

/* Replaces each "{}" in template by label; NULL (err set) without "{}". */
char *prompt_from_template(const char *template_text, const char *label, errbuf *err);

/* Where cached classifiers live: $VKCLIP_CACHE_DIR, else $XDG_CACHE_HOME/vkclip,
 * else $HOME/.cache/vkclip. Writes "" when none can be named. */
void classifier_cache_dir(char *out, size_t cap);

/* The cache key: what the classifier depends on, as text, and its hash. */
typedef struct classifier_key {
    char *text;
    size_t len;
    uint64_t hash;
} classifier_key;

bool classifier_key_make(classifier_key *k, uint64_t model_fingerprint, const char *const *labels,
                         int nlabels, const char *const *templates, int ntemplates, errbuf *err);
void classifier_key_free(classifier_key *k);

/* Loads a cached classifier with exactly this key; false when there is none
 * (or it is damaged: then it is rebuilt). */
bool classifier_cache_load(classifier *c, const char *dir, const classifier_key *k, int labels, int dim);
/* Best effort: a cache that cannot be written is not an error. */
void classifier_cache_save(const classifier *c, const char *dir, const classifier_key *k);

uint64_t fnv1a64(uint64_t h, const void *data, size_t len);
#define FNV1A64_INIT 0xcbf29ce484222325ull

#endif
