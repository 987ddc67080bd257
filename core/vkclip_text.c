/* vkclip_text.c: the public text API: tokenizing, text embeddings and
 * zero-shot classifiers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "classifier.h"
#include "model/dtype.h"
#include "text/content_hash.h"
#include "text/siglip_tokenizer.h"
#include "vkclip_internal.h"
#include "util/regular_file.h"

struct vkclip_tokenizer {
    clip_tokenizer *tok;     /* CLIP's BPE, or */
    siglip_tokenizer *spm;   /* SigLIP's SentencePiece */
    int context;
};

static const char *const default_templates[] = {"a photo of a {}."};

static clip_tokenizer *open_tokenizer(const char *dir, errbuf *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    if (file_exists(path)) /* never opened here: the loader refuses a FIFO */
        return clip_tokenizer_load_dir(dir, e);
    snprintf(path, sizeof path, "%s/bpe_simple_vocab_16e6.txt.gz", dir);
    if (file_exists(path))
        return clip_tokenizer_load_bpe_gz(path, e);
    errbuf_set(e, "%s: no tokenizer (vocab.json + merges.txt, or bpe_simple_vocab_16e6.txt.gz)", dir);
    return NULL;
}

static bool ensure_tokenizer(vkclip_model *m, errbuf *e)
{
    if (!m->cfg.family->has_text)
        return errbuf_set(e, "%s: a %s model %s: labels, text prompts and text search need a CLIP model",
                          m->dir, m->cfg.family->name, m->cfg.family->no_text);
    if (m->cfg.family->text.whole_context) { /* SigLIP's SentencePiece */
        if (!m->text.spm && !(m->text.spm = siglip_tokenizer_load(m->dir, m->cfg.max_position_embeddings, e)))
            return false;
        if (siglip_tokenizer_vocab_size(m->text.spm) > m->cfg.vocab_size)
            return errbuf_set(e, "%s: spiece.model has %d pieces but config.json's vocab_size is %d", m->dir,
                              siglip_tokenizer_vocab_size(m->text.spm), m->cfg.vocab_size);
        return true;
    }
    if (!m->text.tokenizer && !(m->text.tokenizer = open_tokenizer(m->dir, e)))
        return false;
    if (clip_tokenizer_vocab_size(m->text.tokenizer) > m->cfg.vocab_size)
        return errbuf_set(e, "%s: the tokenizer has %d tokens but config.json's vocab_size is %d", m->dir,
                          clip_tokenizer_vocab_size(m->text.tokenizer), m->cfg.vocab_size);
    return true;
}

/* A text's ids with the model's tokenizer (after ensure_tokenizer). */
static int model_tokenize(vkclip_model *m, const char *text, int32_t *ids, int max, errbuf *e)
{
    return m->text.spm ? siglip_tokenizer_encode(m->text.spm, text, ids, max, e)
                       : clip_tokenizer_encode(m->text.tokenizer, text, ids, max, e);
}

static bool ensure_text(vkclip_model *m, errbuf *e)
{
    if (m->text.loaded)
        return true;
    if (!ensure_tokenizer(m, e))
        return false;
    weight_loader L;
    if (!weight_loader_begin(m, &L, e))
        return false;
    bool ok = clip_text_load(&m->text.tower, &L, &m->cfg);
    if (!weight_loader_end(m, &L, ok, e))
        return false;
    if (!text_graph_init(&m->text.graph, &m->text.tower, &m->dev->ctx, TEXT_BATCH, m->act_type, e))
        return false;
    m->text.loaded = true;
    return true;
}

void model_text_free(vkclip_model *m)
{
    if (m->text.loaded)
        text_graph_free(&m->text.graph, &m->dev->ctx);
    clip_text_free(&m->text.tower);
    clip_tokenizer_free(m->text.tokenizer);
    siglip_tokenizer_free(m->text.spm);
    memset(&m->text, 0, sizeof m->text);
}

vkclip_tokenizer *vkclip_tokenizer_load(const char *dir, vkclip_error *err)
{
    errbuf e = {{0}};
    vkclip_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        errbuf_set(&e, "out of memory");
        export_error(err, &e);
        return NULL;
    }
    t->context = CLIP_CONTEXT_LENGTH;
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    clip_config cfg;
    if (file_exists(path)) {
        if (!clip_config_load(&cfg, path, &e)) {
            export_error(err, &e);
            free(t);
            return NULL;
        }
        t->context = cfg.max_position_embeddings;
        if (cfg.family->text.whole_context) { /* SigLIP's SentencePiece */
            if (!(t->spm = siglip_tokenizer_load(dir, t->context, &e))) {
                export_error(err, &e);
                free(t);
                return NULL;
            }
            return t;
        }
        if (!cfg.family->has_text) {
            errbuf_set(&e, "%s: a %s model %s", dir, cfg.family->name, cfg.family->no_text);
            export_error(err, &e);
            free(t);
            return NULL;
        }
    }
    if (!(t->tok = open_tokenizer(dir, &e))) {
        export_error(err, &e);
        free(t);
        return NULL;
    }
    return t;
}

void vkclip_tokenizer_free(vkclip_tokenizer *t)
{
    if (!t)
        return;
    clip_tokenizer_free(t->tok);
    siglip_tokenizer_free(t->spm);
    free(t);
}

int vkclip_tokenizer_context(const vkclip_tokenizer *t)
{
    return t->context;
}

int vkclip_tokenize(vkclip_tokenizer *t, const char *text, int32_t *ids, int max_ids, vkclip_error *err)
{
    errbuf e = {{0}};
    int n = t->spm ? siglip_tokenizer_encode(t->spm, text, ids, max_ids, &e)
                   : clip_tokenizer_encode(t->tok, text, ids, max_ids, &e);
    return n < 0 ? fail(err, &e) : n;
}

typedef struct by_length_entry {
    int length, index;
} by_length_entry;

typedef struct tokenized {
    int32_t *ids; /* n × context */
    int *lengths, *pool;
    by_length_entry *order;
    int n, context;
} tokenized;

static void tokenized_free(tokenized *t)
{
    free(t->ids);
    free(t->lengths);
    free(t->pool);
    free(t->order);
}

static int by_length(const void *a, const void *b)
{
    const by_length_entry *x = a, *y = b;
    return x->length != y->length ? x->length - y->length : x->index - y->index;
}

/* The caller holds m->text_lock (as for everything below that touches
 * m->text). Tokenizes every prompt, finds where each is pooled (its first end-of-text
 * token, as the reference's argmax over ids finds it), and orders them by
 * length so that batches waste little padding. */
static bool tokenize_all(vkclip_model *m, const char *const *texts, int n, tokenized *t, errbuf *e)
{
    memset(t, 0, sizeof *t);
    t->n = n;
    t->context = m->cfg.max_position_embeddings;
    t->ids = malloc((size_t)n * t->context * sizeof *t->ids);
    t->lengths = malloc((size_t)n * sizeof *t->lengths);
    t->pool = malloc((size_t)n * sizeof *t->pool);
    t->order = malloc((size_t)n * sizeof *t->order);
    if (!t->ids || !t->lengths || !t->pool || !t->order)
        return errbuf_set(e, "out of memory");
    int32_t eot = m->text.tokenizer ? clip_tokenizer_eot(m->text.tokenizer) : -1;
    for (int i = 0; i < n; i++) {
        int32_t *ids = t->ids + (size_t)i * t->context;
        int len = model_tokenize(m, texts[i], ids, t->context, e);
        if (len < 0)
            return errbuf_prefix(e, "prompt %d", i + 1);
        t->lengths[i] = len;
        t->pool[i] = len - 1; /* SigLIP: the last of the context's positions */
        for (int k = 0; k < len && eot >= 0; k++)
            if (ids[k] == eot) {
                t->pool[i] = k;
                break;
            }
        t->order[i] = (by_length_entry){.length = len, .index = i};
    }
    qsort(t->order, (size_t)n, sizeof *t->order, by_length);
    return true;
}

/* What a build reports to and listens to between text batches. */
typedef struct progress_fn {
    void (*fn)(void *user, int done, int total);
    void *user;
    const volatile int *cancel;
} progress_fn;

static bool cancelled(const progress_fn *p, errbuf *e)
{
    if (!p || !p->cancel || !*p->cancel)
        return false;
    errbuf_set(e, "classifier build cancelled");
    return true;
}

static bool encode_texts(vkclip_model *m, const char *const *texts, int n, float *out, const progress_fn *progress,
                         errbuf *e)
{
    if (cancelled(progress, e) || !ensure_text(m, e))
        return false;
    tokenized t;
    bool ok = tokenize_all(m, texts, n, &t, e);
    int E = m->cfg.projection_dim;
    const int32_t *ids[TEXT_BATCH];
    int lengths[TEXT_BATCH], pool[TEXT_BATCH];
    float *batch_out = malloc((size_t)TEXT_BATCH * E * sizeof *batch_out);
    if (!batch_out)
        ok = ok && errbuf_set(e, "out of memory");
    for (int done = 0; ok && done < n; done += TEXT_BATCH) {
        if (cancelled(progress, e)) {
            ok = false;
            break;
        }
        int count = n - done < TEXT_BATCH ? n - done : TEXT_BATCH;
        for (int b = 0; b < count; b++) {
            int i = t.order[done + b].index;
            ids[b] = t.ids + (size_t)i * t.context;
            lengths[b] = t.lengths[i];
            pool[b] = t.pool[i];
        }
        ok = text_encode(&m->text.graph, &m->text.tower, &m->dev->ctx, &m->dev->kernels, ids, lengths, pool,
                         count, batch_out, e);
        for (int b = 0; ok && b < count; b++)
            memcpy(out + (size_t)t.order[done + b].index * E, batch_out + (size_t)b * E, (size_t)E * sizeof *out);
        if (ok && progress && progress->fn)
            progress->fn(progress->user, done + count, n);
    }
    free(batch_out);
    tokenized_free(&t);
    return ok;
}

int vkclip_encode_texts(vkclip_model *m, const char *const *texts, int n, float *out, bool normalize,
                        vkclip_error *err)
{
    errbuf e = {{0}};
    if (n < 0 || (n > 0 && (!texts || !out))) {
        errbuf_set(&e, "encode: bad arguments");
        return fail(err, &e);
    }
    pthread_mutex_lock(&m->text_lock);
    bool ok = encode_texts(m, texts, n, out, NULL, &e);
    pthread_mutex_unlock(&m->text_lock);
    if (!ok)
        return fail(err, &e);
    if (normalize)
        for (int i = 0; i < n; i++)
            l2_normalize(out + (size_t)i * m->cfg.projection_dim, m->cfg.projection_dim);
    return 0;
}

/* ---- zero-shot classifiers ---- */

/* The tensors a classifier depends on: the text tower's, the projection
 * and the logit scale and bias (what clip_text_load and build_classifier read). */
#define FIXED_KEY_TENSORS 8
#define KEY_TENSORS_PER_LAYER 16

static int key_tensor_names(const vkclip_model *m, char (*names)[160], int cap)
{
    const text_names *tn = &m->cfg.family->text;
    char norm_w[160], norm_b[160], proj_w[160], proj_b[160];
    snprintf(norm_w, sizeof norm_w, "%.120s.weight", tn->final_norm);
    snprintf(norm_b, sizeof norm_b, "%.120s.bias", tn->final_norm);
    snprintf(proj_w, sizeof proj_w, "%.120s.weight", tn->projection);
    snprintf(proj_b, sizeof proj_b, "%.120s.bias", tn->projection);
    const char *const fixed[] = {tn->token_embedding, tn->positions, norm_w, norm_b, proj_w,
                                 tn->projection_bias ? proj_b : NULL, "logit_scale",
                                 m->cfg.family->sigmoid_scores ? "logit_bias" : NULL};
    int n = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0] && n < cap; i++)
        if (fixed[i])
            snprintf(names[n++], sizeof names[0], "%s", fixed[i]);
    for (int l = 0; l < m->cfg.text.num_layers; l++) {
        char block[BLOCK_TENSORS][128];
        block_tensor_names(&m->cfg.family->text.block, l, true, false, block);
        for (int i = 0; i < BLOCK_TENSORS && n < cap; i++)
            if (block[i][0])
                snprintf(names[n++], sizeof names[0], "%.127s", block[i]);
    }
    return n;
}

/* A cheap look at a tensor's bytes (all of them up to 4 KiB, else 64 runs
 * of 64 bytes evenly spaced): it checks a digest record against the mapping
 * in use, it is no key. */
static uint64_t sample_tensor(uint64_t h, const st_tensor *t)
{
    const unsigned char *data = t->data;
    if (t->nbytes <= 4096)
        return fnv1a64(h, data, t->nbytes);
    for (size_t i = 0; i < 64; i++)
        h = fnv1a64(h, data + (t->nbytes - 64) / 63 * i, 64);
    return h;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    return fnv1a64(h, &v, sizeof v);
}

/* The digest of the key tensors that one weight file holds (names[i] for
 * the i with file_of[i] == file): the full hash of their bytes, taken from
 * the mapping the model uses, or from the file's record in the cache dir
 * when the record matches the file as it is now (same inode, size, mtime and
 * ctime, same tensors, same sample), so a second run reads no gigabytes. */
static uint64_t digest_of_file(const char *dir, const char *file, const st_tensor *const *tensors,
                               const char *const *file_of, int n)
{
    uint64_t what = FNV1A64_INIT, sample = FNV1A64_INIT;
    for (int i = 0; i < n; i++) {
        if (file_of[i] != file)
            continue;
        const st_tensor *t = tensors[i];
        what = fnv1a64(what, t->name, strlen(t->name) + 1);
        what = fnv1a64(what, &t->dtype, sizeof t->dtype);
        what = fnv1a64(what, &t->ndim, sizeof t->ndim);
        what = fnv1a64(what, t->shape, (size_t)t->ndim * sizeof t->shape[0]);
        what = mix(what, (uint64_t)t->nbytes);
        sample = sample_tensor(sample, t);
    }
    file_identity before, after;
    bool known = file_identity_of(file, &before);
    uint64_t digest;
    if (known && digest_record_load(dir, &before, what, sample, &digest))
        return digest;
    digest = FNV1A64_INIT;
    for (int i = 0; i < n; i++)
        if (file_of[i] == file)
            digest = mix(digest, content_hash64(tensors[i]->data, tensors[i]->nbytes));
    /* Remember it only if the file did not change while it was read. */
    if (known && file_identity_of(file, &after) && file_identity_equal(&before, &after))
        digest_record_save(dir, &before, what, sample, digest);
    return digest;
}

/* What a classifier of this model depends on besides labels and templates:
 * every byte of every tensor above (and each one's name, type and shape),
 * the tokenizer files' contents, the text config, and the storage and
 * activation types. dir is the cache dir (for the digest records). */
static bool model_fingerprint(const vkclip_model *m, const char *dir, uint64_t *out, errbuf *e)
{
    int cap = FIXED_KEY_TENSORS + KEY_TENSORS_PER_LAYER * (m->cfg.text.num_layers > 0 ? m->cfg.text.num_layers : 0);
    char(*names)[160] = malloc((size_t)cap * sizeof *names);
    const st_tensor **tensors = calloc((size_t)cap, sizeof *tensors);
    const char **file_of = calloc((size_t)cap, sizeof *file_of);
    if (!names || !tensors || !file_of) {
        free(names);
        free(tensors);
        free(file_of);
        return errbuf_set(e, "out of memory");
    }
    int n = key_tensor_names(m, names, cap);
    uint64_t h = FNV1A64_INIT;
    int found = 0;
    for (int i = 0; i < n; i++) {
        const char *file = NULL;
        const st_tensor *t = model_weights_find(m->weights, names[i], &file);
        h = fnv1a64(h, names[i], strlen(names[i]) + 1);
        h = mix(h, t ? 1 : 0); /* a missing one fails the build anyway */
        if (t && file) {
            tensors[found] = t;
            file_of[found++] = file;
        }
    }
    /* Each weight file once, in the order its first tensor comes. */
    for (int i = 0; i < found; i++) {
        bool first = true;
        for (int j = 0; j < i && first; j++)
            first = file_of[j] != file_of[i];
        if (first)
            h = mix(h, digest_of_file(dir, file_of[i], tensors, file_of, found));
    }
    free(names);
    free(tensors);
    free(file_of);
    const clip_tower_config *t = &m->cfg.text;
    int64_t facts[11] = {t->hidden_size, t->intermediate_size, t->num_heads, t->num_layers, t->act,
                         m->cfg.vocab_size, m->cfg.max_position_embeddings, m->cfg.projection_dim,
                         m->act_type, m->matrix_type, 0};
    memcpy(&facts[10], &t->layer_norm_eps, sizeof t->layer_norm_eps);
    h = fnv1a64(h, facts, sizeof facts);
    *out = mix(h, m->text.spm ? siglip_tokenizer_digest(m->text.spm) : clip_tokenizer_digest(m->text.tokenizer));
    return true;
}

/* Each label's prompts embedded, normalised, averaged, normalised. */
static bool build_classifier(vkclip_model *m, classifier *c, const char *const *labels, int nlabels,
                             const char *const *templates, int ntemplates, const progress_fn *progress,
                             errbuf *e)
{
    size_t nprompts = (size_t)nlabels * ntemplates;
    char **prompts = calloc(nprompts, sizeof *prompts);
    float *emb = malloc(nprompts * (size_t)m->cfg.projection_dim * sizeof *emb);
    bool ok = prompts && emb;
    if (!ok)
        errbuf_set(e, "out of memory");
    for (size_t i = 0; ok && i < nprompts; i++)
        ok = (prompts[i] = prompt_from_template(templates[i % ntemplates], labels[i / ntemplates], e)) != NULL;
    ok = ok && encode_texts(m, (const char *const *)prompts, (int)nprompts, emb, progress, e);
    int E = m->cfg.projection_dim;
    if (ok) {
        c->labels = nlabels;
        c->dim = E;
        vkclip_model_info info;
        vkclip_model_get_info(m, &info); /* takes no lock */
        c->scale = info.logit_scale;
        c->sigmoid = info.sigmoid_scores;
        c->bias = info.logit_bias;
        c->weights = calloc((size_t)nlabels * E, sizeof *c->weights);
        c->names = calloc((size_t)nlabels, sizeof *c->names);
        ok = c->weights && c->names;
        for (int l = 0; ok && l < nlabels; l++) {
            float *w = c->weights + (size_t)l * E;
            for (int t = 0; t < ntemplates; t++) {
                float *p = emb + ((size_t)l * ntemplates + t) * E;
                l2_normalize(p, E);
                for (int d = 0; d < E; d++)
                    w[d] += p[d] / (float)ntemplates;
            }
            l2_normalize(w, E);
            ok = (c->names[l] = strdup(labels[l])) != NULL;
        }
        if (!ok)
            errbuf_set(e, "out of memory");
    }
    for (size_t i = 0; prompts && i < nprompts; i++)
        free(prompts[i]);
    free(prompts);
    free(emb);
    return ok;
}

/* Each label and template must tokenize (valid UTF-8): said here with its
 * number, rather than later as a prompt's. */
static bool check_texts(vkclip_model *m, const char *const *texts, int n, const char *what, errbuf *e)
{
    if (!ensure_tokenizer(m, e))
        return false;
    int context = m->cfg.max_position_embeddings;
    int32_t *ids = malloc((size_t)context * sizeof *ids);
    if (!ids)
        return errbuf_set(e, "out of memory");
    bool ok = true;
    for (int i = 0; ok && i < n; i++)
        if (model_tokenize(m, texts[i], ids, context, e) < 0)
            ok = errbuf_prefix(e, "%s %d", what, i + 1);
    free(ids);
    return ok;
}

static vkclip_classifier *create_locked(vkclip_model *m, const char *const *labels, int nlabels,
                                        const char *const *templates, int ntemplates,
                                        const vkclip_classifier_options *opts, errbuf *e_out);

vkclip_classifier *vkclip_classifier_create(vkclip_model *m, const char *const *labels, int nlabels,
                                            const char *const *templates, int ntemplates,
                                            const vkclip_classifier_options *opts, vkclip_error *err)
{
    errbuf e = {{0}};
    if (!templates || ntemplates <= 0) {
        templates = default_templates;
        ntemplates = 1;
    }
    if (nlabels <= 0 || !labels) {
        errbuf_set(&e, "the label list is empty");
        export_error(err, &e);
        return NULL;
    }
    for (int i = 0; i < nlabels; i++)
        if (!labels[i] || !labels[i][0]) {
            errbuf_set(&e, "label %d is empty", i + 1);
            export_error(err, &e);
            return NULL;
        }
    for (int i = 0; i < ntemplates; i++) {
        char *p = prompt_from_template(templates[i], "", &e);
        if (!p) {
            export_error(err, &e);
            return NULL;
        }
        free(p);
    }
    /* One build at a time on a model: the text side is loaded once and its
     * buffers are shared. Image encoding takes other locks and goes on. */
    pthread_mutex_lock(&m->text_lock);
    vkclip_classifier *vc = create_locked(m, labels, nlabels, templates, ntemplates, opts, &e);
    pthread_mutex_unlock(&m->text_lock);
    if (!vc)
        export_error(err, &e);
    return vc;
}

static vkclip_classifier *create_locked(vkclip_model *m, const char *const *labels, int nlabels,
                                        const char *const *templates, int ntemplates,
                                        const vkclip_classifier_options *opts, errbuf *e_out)
{
    errbuf e = {{0}};
    if (!check_texts(m, labels, nlabels, "label", &e) || !check_texts(m, templates, ntemplates, "template", &e)) {
        *e_out = e;
        return NULL;
    }
    vkclip_classifier *vc = calloc(1, sizeof *vc);
    classifier_key key = {0};
    char dir[4096] = "";
    if (!opts || !opts->no_cache) {
        if (opts && opts->cache_dir)
            snprintf(dir, sizeof dir, "%s", opts->cache_dir);
        else
            classifier_cache_dir(dir, sizeof dir);
    }
    uint64_t fingerprint = 0;
    bool ok = vc && (!dir[0] || (model_fingerprint(m, dir, &fingerprint, &e) &&
                                 classifier_key_make(&key, fingerprint, labels, nlabels, templates, ntemplates, &e)));
    if (ok && !(dir[0] && classifier_cache_load(&vc->c, dir, &key, nlabels, m->cfg.projection_dim))) {
        progress_fn progress = {opts ? opts->progress : NULL, opts ? opts->progress_user : NULL,
                                opts ? opts->cancel : NULL};
        ok = build_classifier(m, &vc->c, labels, nlabels, templates, ntemplates, &progress, &e);
        if (ok && dir[0])
            classifier_cache_save(&vc->c, dir, &key);
    }
    classifier_key_free(&key);
    if (!ok) {
        if (!vc)
            errbuf_set(&e, "out of memory");
        *e_out = e;
        vkclip_classifier_free(vc);
        return NULL;
    }
    return vc;
}

void vkclip_classifier_free(vkclip_classifier *c)
{
    if (!c)
        return;
    classifier_free(&c->c);
    free(c);
}

int vkclip_classifier_size(const vkclip_classifier *c)
{
    return c->c.labels;
}

const char *vkclip_classifier_label(const vkclip_classifier *c, int i)
{
    return i >= 0 && i < c->c.labels ? c->c.names[i] : NULL;
}

bool vkclip_classifier_from_cache(const vkclip_classifier *c)
{
    return c->c.from_cache;
}

void vkclip_classifier_probs(const vkclip_classifier *c, const float *embedding, float *probs)
{
    classifier_probs(&c->c, embedding, probs);
}
