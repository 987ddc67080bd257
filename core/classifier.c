#include "classifier.h"

#include "util/regular_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_MAGIC "VKCLIPZS"
#define CACHE_VERSION 4u /* 3: the key covers all text-tower bytes and the tokenizer files; 4: bias, sigmoid */
#define RECORD_MAGIC "VKCLIPWD"
#define RECORD_VERSION 1u

uint64_t fnv1a64(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

void classifier_free(classifier *c)
{
    for (int i = 0; c->names && i < c->labels; i++)
        free(c->names[i]);
    free(c->names);
    free(c->weights);
    memset(c, 0, sizeof *c);
}

void classifier_probs(const classifier *c, const float *e, float *probs)
{
    if (c->sigmoid) {
        for (int i = 0; i < c->labels; i++) {
            const float *w = c->weights + (size_t)i * c->dim;
            double dot = 0;
            for (int d = 0; d < c->dim; d++)
                dot += (double)w[d] * e[d];
            probs[i] = (float)(1.0 / (1.0 + exp(-(c->scale * dot + c->bias))));
        }
        return;
    }
    double mx = -INFINITY;
    for (int i = 0; i < c->labels; i++) {
        const float *w = c->weights + (size_t)i * c->dim;
        double dot = 0;
        for (int d = 0; d < c->dim; d++)
            dot += (double)w[d] * e[d];
        probs[i] = (float)(c->scale * dot);
        if (probs[i] > mx)
            mx = probs[i];
    }
    double sum = 0;
    for (int i = 0; i < c->labels; i++)
        sum += exp(probs[i] - mx);
    for (int i = 0; i < c->labels; i++)
        probs[i] = (float)(exp(probs[i] - mx) / sum);
}

char *prompt_from_template(const char *t, const char *label, errbuf *err)
{
    size_t count = 0;
    for (const char *p = t; (p = strstr(p, "{}")); p += 2)
        count++;
    if (count == 0) {
        errbuf_set(err, "template '%s' has no {} for the label", t);
        return NULL;
    }
    size_t len = strlen(t) + count * strlen(label) + 1;
    char *out = malloc(len), *o = out;
    if (!out) {
        errbuf_set(err, "out of memory");
        return NULL;
    }
    for (const char *p = t; *p;) {
        if (p[0] == '{' && p[1] == '}') {
            size_t n = strlen(label);
            memcpy(o, label, n);
            o += n;
            p += 2;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

void classifier_cache_dir(char *out, size_t cap)
{
    const char *v = getenv("VKCLIP_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (v && *v)
        snprintf(out, cap, "%s", v);
    else if (xdg && *xdg == '/')
        snprintf(out, cap, "%s/vkclip", xdg);
    else if (home && *home)
        snprintf(out, cap, "%s/.cache/vkclip", home);
    else if (cap)
        out[0] = '\0';
}

/* Appends s and a separator byte that cannot occur in UTF-8 text. */
static bool key_append(classifier_key *k, size_t *cap, const char *s, char sep)
{
    size_t n = strlen(s);
    if (k->len + n + 2 > *cap) {
        size_t c = (*cap + n + 2) * 2;
        char *grown = realloc(k->text, c);
        if (!grown)
            return false;
        k->text = grown;
        *cap = c;
    }
    memcpy(k->text + k->len, s, n);
    k->len += n;
    k->text[k->len++] = sep;
    k->text[k->len] = '\0';
    return true;
}

bool classifier_key_make(classifier_key *k, uint64_t model_fingerprint, const char *const *labels,
                         int nlabels, const char *const *templates, int ntemplates, errbuf *err)
{
    memset(k, 0, sizeof *k);
    size_t cap = 0;
    char head[64];
    snprintf(head, sizeof head, "vkclip classifier v%u model %016llx", CACHE_VERSION,
             (unsigned long long)model_fingerprint);
    bool ok = key_append(k, &cap, head, '\xff');
    for (int i = 0; ok && i < nlabels; i++)
        ok = key_append(k, &cap, labels[i], '\xfe');
    ok = ok && key_append(k, &cap, "", '\xff');
    for (int i = 0; ok && i < ntemplates; i++)
        ok = key_append(k, &cap, templates[i], '\xfe');
    if (!ok) {
        classifier_key_free(k);
        return errbuf_set(err, "out of memory");
    }
    k->hash = fnv1a64(FNV1A64_INIT, k->text, k->len);
    return true;
}

void classifier_key_free(classifier_key *k)
{
    free(k->text);
    memset(k, 0, sizeof *k);
}

/* fopen(path, "rb") of a regular file, or NULL: never blocks on a FIFO
 * (opened non-blocking, checked with fstat, then made blocking again). */
static atomic_bool cache_warned;

void classifier_cache_warn(const char *dir, int errnum)
{
    if (atomic_exchange(&cache_warned, true))
        return;
    /* One line whatever the name holds. */
    char shown[1024];
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)dir; *p && o + 5 < sizeof shown; p++) {
        if (*p < 0x20 || *p == 0x7F)
            o += (size_t)snprintf(shown + o, sizeof shown - o, "\\x%02X", *p);
        else
            shown[o++] = (char)*p;
    }
    shown[o] = '\0';
    fprintf(stderr, "vkclip: warning: cannot write the classifier cache in %s: %s; classifiers will be built "
                    "again on every run\n", shown, strerror(errnum));
}

static void cache_path(char *out, size_t cap, const char *dir, const classifier_key *k)
{
    snprintf(out, cap, "%s/classifier-%016llx.bin", dir, (unsigned long long)k->hash);
}

/* 48 bytes, no padding: the key follows, then the weights. */
typedef struct cache_header {
    char magic[8];
    uint32_t version;
    uint32_t dim;
    uint32_t labels;
    uint32_t sigmoid; /* 1: SigLIP's scores */
    float scale;
    float bias;
    uint64_t key_len;
    uint64_t weights_hash; /* of the weights that follow the key */
} cache_header;
_Static_assert(sizeof(cache_header) == 48, "the cache header has no padding");

/* The label names come back from the key text (they are its first fields). */
static bool names_from_key(classifier *c, const classifier_key *k)
{
    c->names = calloc((size_t)c->labels, sizeof *c->names);
    if (!c->names)
        return false;
    const char *p = memchr(k->text, '\xff', k->len);
    for (int i = 0; p && i < c->labels; i++) {
        const char *start = p + 1, *end = memchr(start, '\xfe', k->len - (size_t)(start - k->text));
        if (!end || !(c->names[i] = strndup(start, (size_t)(end - start))))
            return false;
        p = end;
    }
    return p != NULL;
}

bool classifier_cache_load(classifier *c, const char *dir, const classifier_key *k, int labels, int dim)
{
    char path[4200];
    if (!*dir)
        return false;
    cache_path(path, sizeof path, dir, k);
    FILE *f = regular_file_fopen(path, NULL);
    if (!f)
        return false;
    cache_header h;
    char *key = NULL;
    bool ok = fread(&h, sizeof h, 1, f) == 1 && memcmp(h.magic, CACHE_MAGIC, 8) == 0 &&
              h.version == CACHE_VERSION && h.dim == (uint32_t)dim && h.key_len == k->len &&
              h.labels == (uint32_t)labels && isfinite(h.scale) && isfinite(h.bias) && h.sigmoid <= 1;
    if (ok) {
        key = malloc(k->len);
        ok = key && fread(key, 1, k->len, f) == k->len && memcmp(key, k->text, k->len) == 0;
    }
    if (ok) {
        memset(c, 0, sizeof *c);
        c->labels = (int)h.labels;
        c->dim = dim;
        c->scale = h.scale;
        c->bias = h.bias;
        c->sigmoid = h.sigmoid == 1;
        c->weights = malloc((size_t)h.labels * dim * sizeof *c->weights);
        ok = c->weights && fread(c->weights, sizeof *c->weights, (size_t)h.labels * dim, f) ==
                               (size_t)h.labels * dim &&
             fgetc(f) == EOF &&
             fnv1a64(FNV1A64_INIT, c->weights, (size_t)h.labels * dim * sizeof *c->weights) == h.weights_hash &&
             names_from_key(c, k);
        if (!ok)
            classifier_free(c);
    }
    free(key);
    fclose(f);
    if (ok)
        c->from_cache = true;
    return ok;
}

/* mkdir -p; 0, or the errno of the first mkdir that failed for another
 * reason than the folder being there. */
static int make_dirs(const char *dir)
{
    char tmp[4096];
    int failure = 0;
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1;; p++) {
        if ((*p != '/' && *p != '\0') || p[-1] == '/') { /* inside a name, or an empty one */
            if (*p == '\0')
                break;
            continue;
        }
        char c = *p;
        *p = '\0';
        int e = mkdir(tmp, 0755) == 0 ? 0 : errno;
        struct stat st;
        if (e == EEXIST && c == '\0' && stat(tmp, &st) == 0 && !S_ISDIR(st.st_mode))
            e = ENOTDIR;
        if (e && e != EEXIST && !failure)
            failure = e;
        *p = c;
        if (c == '\0')
            break;
    }
    return failure;
}

/* Writes len bytes as dir/name through a temporary file renamed into place
 * last, so that a reader never sees half a file; warns (once) on failure. */
static void write_whole(const char *dir, const char *path, const void *head, size_t head_len, const void *a,
                        size_t a_len, const void *b, size_t b_len)
{
    int mkdir_err = make_dirs(dir);
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        classifier_cache_warn(dir, mkdir_err ? mkdir_err : errno);
        return;
    }
    errno = 0;
    bool ok = fwrite(head, 1, head_len, f) == head_len && (!a_len || fwrite(a, 1, a_len, f) == a_len) &&
              (!b_len || fwrite(b, 1, b_len, f) == b_len);
    int err = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        unlink(tmp);
        classifier_cache_warn(dir, err ? err : EIO);
    }
}

void classifier_cache_save(const classifier *c, const char *dir, const classifier_key *k)
{
    if (!*dir)
        return;
    char path[4200];
    cache_path(path, sizeof path, dir, k);
    size_t n = (size_t)c->labels * c->dim;
    cache_header h = {.version = CACHE_VERSION, .dim = (uint32_t)c->dim, .labels = (uint32_t)c->labels,
                      .scale = c->scale, .bias = c->bias, .sigmoid = c->sigmoid, .key_len = k->len,
                      .weights_hash = fnv1a64(FNV1A64_INIT, c->weights, n * sizeof *c->weights)};
    memcpy(h.magic, CACHE_MAGIC, 8);
    write_whole(dir, path, &h, sizeof h, k->text, k->len, c->weights, n * sizeof *c->weights);
}

/* ---- digest records ---- */

bool file_identity_of(const char *path, file_identity *id)
{
    struct stat st;
    memset(id, 0, sizeof *id);
    if (stat(path, &st) != 0)
        return false;
    *id = (file_identity){(uint64_t)st.st_dev, (uint64_t)st.st_ino, (uint64_t)st.st_size,
                          (int64_t)st.st_mtim.tv_sec, (int64_t)st.st_mtim.tv_nsec,
                          (int64_t)st.st_ctim.tv_sec, (int64_t)st.st_ctim.tv_nsec};
    return true;
}

bool file_identity_equal(const file_identity *a, const file_identity *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_s == b->mtime_s &&
           a->mtime_ns == b->mtime_ns && a->ctime_s == b->ctime_s && a->ctime_ns == b->ctime_ns;
}

typedef struct digest_record {
    char magic[8];
    uint32_t version, reserved;
    file_identity id;
    uint64_t what, sample, digest;
    uint64_t check; /* fnv1a64 of everything above */
} digest_record;

static void record_path(char *out, size_t cap, const char *dir, const file_identity *id)
{
    uint64_t h = fnv1a64(FNV1A64_INIT, &id->dev, sizeof id->dev);
    h = fnv1a64(h, &id->ino, sizeof id->ino);
    snprintf(out, cap, "%s/weights-%016llx.digest", dir, (unsigned long long)h);
}

static void record_fill(digest_record *r, const file_identity *id, uint64_t what, uint64_t sample,
                        uint64_t digest)
{
    memset(r, 0, sizeof *r);
    memcpy(r->magic, RECORD_MAGIC, 8);
    r->version = RECORD_VERSION;
    r->id = *id;
    r->what = what;
    r->sample = sample;
    r->digest = digest;
    r->check = fnv1a64(FNV1A64_INIT, r, offsetof(digest_record, check));
}

bool digest_record_load(const char *dir, const file_identity *id, uint64_t what, uint64_t sample,
                        uint64_t *digest)
{
    if (!*dir)
        return false;
    char path[4200];
    record_path(path, sizeof path, dir, id);
    FILE *f = regular_file_fopen(path, NULL);
    if (!f)
        return false;
    digest_record r, want;
    bool ok = fread(&r, sizeof r, 1, f) == 1 && fgetc(f) == EOF;
    fclose(f);
    record_fill(&want, id, what, sample, r.digest);
    ok = ok && memcmp(&r, &want, sizeof r) == 0;
    if (ok)
        *digest = r.digest;
    return ok;
}

void digest_record_save(const char *dir, const file_identity *id, uint64_t what, uint64_t sample,
                        uint64_t digest)
{
    if (!*dir)
        return;
    char path[4200];
    record_path(path, sizeof path, dir, id);
    digest_record r;
    record_fill(&r, id, what, sample, digest);
    write_whole(dir, path, &r, sizeof r, NULL, 0, NULL, 0);
}

bool classifier_blend(classifier *c, int label, const double *sum, float weight)
{
    double mean_norm = 0, blended_norm = 0;
    for (int i = 0; i < c->dim; i++)
        mean_norm += sum[i] * sum[i];
    mean_norm = mean_norm > 0 ? sqrt(mean_norm) : 1.0;
    float *w = c->weights + (size_t)label * (size_t)c->dim;
    double *blended = malloc((size_t)c->dim * sizeof *blended);
    if (!blended)
        return false;
    for (int i = 0; i < c->dim; i++) {
        blended[i] = (1.0 - weight) * w[i] + weight * sum[i] / mean_norm;
        blended_norm += blended[i] * blended[i];
    }
    blended_norm = blended_norm > 0 ? sqrt(blended_norm) : 1.0;
    for (int i = 0; i < c->dim; i++)
        w[i] = (float)(blended[i] / blended_norm);
    free(blended);
    return true;
}
