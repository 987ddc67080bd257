/* classifier: a zero-shot classifier is one normalised text embedding per
 * label (its prompts' embeddings normalised, averaged, normalised again: the
 * CLIP paper's prompt ensembling) and the model's logit scale (and SigLIP's
 * bias). Scoring an image is a matrix-vector product and a softmax (SigLIP:
 * a sigmoid of each label's logit): 0.4 MFLOP for 700 labels,
 * done on the host where the normalised image embedding already is.
 * Classifiers are cached on disk, keyed by everything that decides them:
 * the text tower's tensors (every byte, through a digest each weight file's
 * record in the cache dir remembers), the tokenizer files, the text config,
 * the compute types, the labels and the templates. */
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
    float bias;     /* logit_bias (SigLIP), else 0 */
    bool sigmoid;   /* independent probabilities (SigLIP), else a softmax over the labels */
    bool from_cache;
} classifier;

void classifier_free(classifier *c);

/* The public handle (vkclip.h) is this classifier. */
struct vkclip_classifier {
    classifier c;
};

/* Few-shot: label's weight becomes normalise((1 - weight) w + weight m) for
 * the normalised mean m of its examples' embeddings (sum: their sum).
 * False when out of memory. */
bool classifier_blend(classifier *c, int label, const double *sum, float weight);

/* softmax(scale · W · e), or with sigmoid each label's sigmoid(scale · w·e +
 * bias), for a normalised image embedding e. */
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
 * (or it is damaged: then it is rebuilt). Only a regular file is read. */
bool classifier_cache_load(classifier *c, const char *dir, const classifier_key *k, int labels, int dim);
/* Best effort: a cache that cannot be written is not an error, but the first
 * failure of the process is said on stderr (classifier_cache_warn). */
void classifier_cache_save(const classifier *c, const char *dir, const classifier_key *k);

/* One line on stderr, the first time a write into the cache dir fails in
 * this process: "vkclip: warning: cannot write the classifier cache in DIR:
 * REASON; ...". errnum is the errno of the failure. */
void classifier_cache_warn(const char *dir, int errnum);

/* What tells a file has not changed since its digest was taken: its device,
 * inode, size, and modification and status-change times (ctime changes on
 * every write, even when the mtime is set back). */
typedef struct file_identity {
    uint64_t dev, ino, size;
    int64_t mtime_s, mtime_ns, ctime_s, ctime_ns;
} file_identity;

/* stat() of path (following links); false when it fails. */
bool file_identity_of(const char *path, file_identity *id);
bool file_identity_equal(const file_identity *a, const file_identity *b);

/* Digest records: dir/weights-<16 hex digits>.digest, one per weight file
 * (named by its device and inode), so that the full hash of a text tower is
 * computed once, not on every run. A record holds the file's identity, a
 * hash of what was digested (`what`: which tensors, their types and shapes),
 * a cheap `sample` of the bytes to check the record against the mapping in
 * use, and the digest. Load is true only when all of them match. */
bool digest_record_load(const char *dir, const file_identity *id, uint64_t what, uint64_t sample,
                        uint64_t *digest);
/* Best effort, as classifier_cache_save (a failure is warned about once). */
void digest_record_save(const char *dir, const file_identity *id, uint64_t what, uint64_t sample,
                        uint64_t digest);

uint64_t fnv1a64(uint64_t h, const void *data, size_t len);
#define FNV1A64_INIT 0xcbf29ce484222325ull

#endif
