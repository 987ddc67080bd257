/* Token ids against the golden fixtures made with OpenAI's own tokenizer:
 *
 *   test_tokenizer_fixtures dir   vocab.json + merges.txt of clip-tiny-f32 and -f16
 *   test_tokenizer_fixtures gz    OpenAI's bpe_simple_vocab_16e6.txt.gz
 *
 * Every "texts" entry of reference.json must give exactly its "ids"; the dir
 * mode also encodes them from several threads at once. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "model/json.h"
#include "text/tokenizer.h"
#include "util/mapped_file.h"

#define MAX_TEXTS 64

typedef struct expected {
    int count;
    const char *text[MAX_TEXTS];
    int32_t ids[MAX_TEXTS][CLIP_CONTEXT_LENGTH];
    int n_ids[MAX_TEXTS];
} expected;

static json_doc *load_expected(const char *model_dir, expected *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/reference.json", model_dir);
    errbuf err;
    size_t len;
    char *text = read_text_file(path, &len, &err);
    if (!text)
        SKIP("%s (set VKCLIP_FIXTURES to the fixtures folder)", err.msg);
    json_doc *doc = json_parse(text, len, &err);
    free(text);
    CHECKF(doc, "%s", err.msg);
    if (!doc)
        return NULL;
    e->count = 0;
    const json_value *texts = json_get(json_root(doc), "texts");
    for (const json_value *t = json_first(texts); t && e->count < MAX_TEXTS; t = json_next(t)) {
        const json_value *s = json_get(t, "text"), *ids = json_get(t, "ids");
        int k = e->count++, n = 0;
        e->text[k] = s ? s->str : "";
        for (const json_value *v = json_first(ids); v && n < CLIP_CONTEXT_LENGTH; v = json_next(v)) {
            int64_t id = -1;
            json_integer(v, &id);
            e->ids[k][n++] = (int32_t)id;
        }
        e->n_ids[k] = n;
    }
    CHECKF(e->count >= 10, "only %d texts in %s", e->count, path);
    return doc;
}

static int check_all(clip_tokenizer *tok, const expected *e, const char *label)
{
    int bad = 0;
    for (int k = 0; k < e->count; k++) {
        int32_t ids[CLIP_CONTEXT_LENGTH];
        errbuf err;
        int n = clip_tokenizer_encode(tok, e->text[k], ids, CLIP_CONTEXT_LENGTH, &err);
        bool same = n == e->n_ids[k] && memcmp(ids, e->ids[k], (size_t)n * sizeof ids[0]) == 0;
        if (!same) {
            bad++;
            if (label)
                fprintf(stderr, "%s: text %d \"%s\": got %d ids (%s), expected %d\n", label, k,
                        e->text[k], n, n < 0 ? err.msg : "different", e->n_ids[k]);
        }
    }
    return bad;
}

/* The facts of the reference doc (§4): 49408 entries, SOT 49406, EOT 49407,
 * and its worked example. */
static void check_reference_facts(clip_tokenizer *tok, const char *label)
{
    CHECKF(clip_tokenizer_vocab_size(tok) == 49408, "%s: vocab size %d", label,
           clip_tokenizer_vocab_size(tok));
    CHECKF(clip_tokenizer_sot(tok) == 49406, "%s: sot %d", label, clip_tokenizer_sot(tok));
    CHECKF(clip_tokenizer_eot(tok) == 49407, "%s: eot %d", label, clip_tokenizer_eot(tok));
    static const int32_t cat[] = {49406, 320, 1125, 539, 320, 2368, 269, 49407};
    int32_t ids[CLIP_CONTEXT_LENGTH];
    int n = clip_tokenizer_encode(tok, "a photo of a cat.", ids, CLIP_CONTEXT_LENGTH, NULL);
    CHECKF(n == 8 && memcmp(ids, cat, sizeof cat) == 0, "%s: 'a photo of a cat.' gave %d ids",
           label, n);
}

/* Shorter limits keep the reference's first ids and end with EOT. */
static void check_truncation(clip_tokenizer *tok, const expected *e)
{
    for (int k = 0; k < e->count; k++) {
        for (int max = 2; max <= 12; max += 5) {
            int32_t ids[CLIP_CONTEXT_LENGTH];
            int n = clip_tokenizer_encode(tok, e->text[k], ids, max, NULL);
            int want = e->n_ids[k] < max ? e->n_ids[k] : max;
            bool ok = n == want && memcmp(ids, e->ids[k], (size_t)(want - 1) * sizeof ids[0]) == 0 &&
                      ids[n - 1] == clip_tokenizer_eot(tok);
            CHECKF(ok, "text %d with max_ids %d: %d ids, expected %d", k, max, n, want);
        }
    }
}

typedef struct thread_job {
    clip_tokenizer *tok;
    const expected *e;
    int bad;
} thread_job;

static void *encode_many(void *arg)
{
    thread_job *job = arg;
    for (int round = 0; round < 200; round++)
        job->bad += check_all(job->tok, job->e, NULL);
    return NULL;
}

static void check_threads(const char *model_dir, const expected *e)
{
    errbuf err;
    clip_tokenizer *tok = clip_tokenizer_load_dir(model_dir, &err);
    CHECKF(tok, "%s", err.msg);
    if (!tok)
        return;
    enum { THREADS = 4 };
    pthread_t threads[THREADS];
    thread_job jobs[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (thread_job){tok, e, 0};
        CHECK(pthread_create(&threads[t], NULL, encode_many, &jobs[t]) == 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        CHECKF(jobs[t].bad == 0, "thread %d: %d wrong encodings", t, jobs[t].bad);
    }
    clip_tokenizer_free(tok);
}

static const char *env_or_skip(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        SKIP("%s is not set", name);
    return v;
}

int main(int argc, char **argv)
{
    bool gz = argc > 1 && strcmp(argv[1], "gz") == 0;
    const char *fixtures = env_or_skip("VKCLIP_FIXTURES");
    static expected e;
    char model_dir[4096];
    snprintf(model_dir, sizeof model_dir, "%s/clip-tiny-f32", fixtures);
    json_doc *doc = load_expected(model_dir, &e);
    errbuf err;

    if (gz) {
        char path[4096];
        snprintf(path, sizeof path, "%s/openai-clip/bpe_simple_vocab_16e6.txt.gz",
                 env_or_skip("VKCLIP_SHARED_DATA"));
        clip_tokenizer *tok = clip_tokenizer_load_bpe_gz(path, &err);
        if (!tok && strstr(err.msg, "cannot open"))
            SKIP("%s", err.msg);
        CHECKF(tok, "%s", err.msg);
        if (tok) {
            CHECK(check_all(tok, &e, "bpe_simple_vocab_16e6.txt.gz") == 0);
            check_reference_facts(tok, "bpe_simple_vocab_16e6.txt.gz");
            check_truncation(tok, &e);
            clip_tokenizer_free(tok);
        }
    } else {
        static const char *const models[] = {"clip-tiny-f32", "clip-tiny-f16"};
        for (int m = 0; m < 2; m++) {
            static expected em;
            char dir[4096];
            snprintf(dir, sizeof dir, "%s/%s", fixtures, models[m]);
            json_doc *d = load_expected(dir, &em);
            clip_tokenizer *tok = clip_tokenizer_load_dir(dir, &err);
            CHECKF(tok, "%s", err.msg);
            if (tok) {
                CHECK(check_all(tok, &em, models[m]) == 0);
                /* a second time: now every word comes from the cache */
                CHECK(check_all(tok, &em, models[m]) == 0);
                check_reference_facts(tok, models[m]);
                check_truncation(tok, &em);
                clip_tokenizer_free(tok);
            }
            json_free(d);
        }
        check_threads(model_dir, &e);
    }
    json_free(doc);
    return check_exit();
}
