/* approx_index: the cached IVF index of an archive (see approx_index.h). */
#include "approx_index.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC "vkclip-ivf 3\n"
#define ADD_CHUNK 65536


int approx_index_list_count(int64_t n)
{
    int nlist = 1;
    while (nlist < 4096 && (double)(2 * nlist) * (2 * nlist) <= 16.0 * (double)n && 2 * nlist * 39 <= n)
        nlist *= 2;
    return nlist;
}

vector_index_kind approx_index_kind(int64_t n, int dim)
{
    return n >= APPROX_PQ_FROM_FRAMES && dim % 8 == 0 ? VECTOR_INDEX_IVF_PQ : VECTOR_INDEX_IVF;
}

static char *cache_path(archive_db *db, bool keep_blank)
{
    return g_strdup_printf("%s%s", archive_db_path(db), keep_blank ? ".all.ivf" : ".ivf");
}

static vector_index *load_cache(const char *path, const char *identity, int64_t generation, int64_t count)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char magic[sizeof MAGIC - 1];
    int64_t stored[2];
    char stored_id[40];
    vector_index *index = NULL;
    char err[256];
    if (fread(magic, 1, sizeof magic, f) == sizeof magic && memcmp(magic, MAGIC, sizeof magic) == 0 &&
        fread(stored_id, sizeof stored_id, 1, f) == 1 && memcmp(stored_id, identity, sizeof stored_id) == 0 &&
        fread(stored, sizeof stored, 1, f) == 1 && stored[0] == generation && stored[1] == count)
        index = vector_index_read(f, err, sizeof err);
    fclose(f);
    return index;
}

static void save_cache(const char *path, const vector_index *index, const char *identity, int64_t generation,
                       int64_t count)
{
    char *tmp = g_strdup_printf("%s.tmp%d", path, (int)getpid()), err[256] = "";
    FILE *f = fopen(tmp, "wb");
    int64_t stored[2] = {generation, count};
    bool ok = f && fwrite(MAGIC, 1, sizeof MAGIC - 1, f) == sizeof MAGIC - 1 && fwrite(identity, 40, 1, f) == 1 &&
              fwrite(stored, sizeof stored, 1, f) == 1 &&
              vector_index_write(index, f, err, sizeof err) == 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "vkclip: warning: cannot write the search index cache %s%s%s; it is rebuilt next time\n",
                path, err[0] ? ": " : "", err);
        remove(tmp);
    }
    g_free(tmp);
}

/* Every stride-th frame, for training. */
typedef struct sampler {
    int dim;
    int64_t stride, seen, n, cap;
    float *vectors;
} sampler;

static int take_sample(void *user, int64_t frame_id, int64_t video_id, int64_t pts_ns, uint32_t flags,
                       const float *embedding)
{
    (void)frame_id, (void)video_id, (void)pts_ns, (void)flags;
    sampler *s = user;
    if (s->seen++ % s->stride == 0 && s->n < s->cap)
        memcpy(s->vectors + (size_t)s->n++ * (size_t)s->dim, embedding, (size_t)s->dim * sizeof(float));
    return 0;
}

/* Frames added in chunks. */
typedef struct adder {
    vector_index *index;
    int dim;
    int64_t n;
    int64_t ids[ADD_CHUNK];
    float *vectors;
    char *err;
    size_t cap;
} adder;

static int flush_chunk(adder *a)
{
    int status = a->n ? vector_index_add(a->index, a->vectors, a->ids, a->n, a->err, a->cap) : 0;
    a->n = 0;
    return status;
}

static int add_frame(void *user, int64_t frame_id, int64_t video_id, int64_t pts_ns, uint32_t flags,
                     const float *embedding)
{
    (void)video_id, (void)pts_ns, (void)flags;
    adder *a = user;
    a->ids[a->n] = frame_id;
    memcpy(a->vectors + (size_t)a->n++ * (size_t)a->dim, embedding, (size_t)a->dim * sizeof(float));
    return a->n == ADD_CHUNK ? flush_chunk(a) : 0;
}

static vector_index *build(archive_db *db, int dim, bool keep_blank, int64_t count, char *err, size_t cap)
{
    int nlist = approx_index_list_count(count);
    vector_index *index = vector_index_new(approx_index_kind(count, dim), dim, nlist, err, cap);
    if (!index)
        return NULL;
    sampler s = {dim, 1, 0, 0, (int64_t)nlist * APPROX_TRAIN_PER_LIST, NULL};
    if (s.cap > count)
        s.cap = count;
    s.stride = count / s.cap > 0 ? count / s.cap : 1;
    s.vectors = malloc((size_t)s.cap * (size_t)dim * sizeof(float));
    int status = s.vectors ? archive_db_each_frame(db, keep_blank, ARCHIVE_ALL_VIDEOS, take_sample, &s, err, cap) : -1;
    /* A small archive has fewer frames than FAISS wants per list: the sample
     * repeated (the centroids come out the same) spares its warning. */
    int64_t want = (int64_t)nlist * 39, train_n = s.n;
    float *train = s.vectors;
    if (status == 0 && s.n > 0 && s.n < want && (train = malloc((size_t)want * (size_t)dim * sizeof(float)))) {
        for (int64_t i = 0; i < want; i++)
            memcpy(train + (size_t)i * (size_t)dim, s.vectors + (size_t)(i % s.n) * (size_t)dim,
                   (size_t)dim * sizeof(float));
        train_n = want;
    }
    if (status == 0)
        status = train ? vector_index_train(index, train, train_n, err, cap) : -1;
    if (train != s.vectors)
        free(train);
    free(s.vectors);
    adder *a = calloc(1, sizeof *a);
    if (!a)
        status = -1;
    if (status == 0) {
        *a = (adder){.index = index, .dim = dim, .err = err, .cap = cap};
        a->vectors = malloc((size_t)ADD_CHUNK * (size_t)dim * sizeof(float));
        status = a->vectors ? archive_db_each_frame(db, keep_blank, ARCHIVE_ALL_VIDEOS, add_frame, a, err, cap) : -1;
        if (status == 0)
            status = flush_chunk(a);
        free(a->vectors);
    }
    free(a);
    if (status != 0) {
        if (!err[0])
            snprintf(err, cap, "out of memory building the search index");
        vector_index_free(index);
        return NULL;
    }
    return index;
}

vector_index *approx_index_open(archive_db *db, int dim, bool keep_blank, bool *built, char *err, size_t cap)
{
    int64_t count = 0, generation = archive_db_generation(db);
    if (archive_db_count_frames(db, keep_blank, &count, err, cap) != 0)
        return NULL;
    char identity[40] = {0};
    archive_db_identity(db, identity);
    char *path = cache_path(db, keep_blank);
    vector_index *index = load_cache(path, identity, generation, count);
    *built = index == NULL;
    if (!index && count > 0 && (index = build(db, dim, keep_blank, count, err, cap)))
        save_cache(path, index, identity, generation, count);
    g_free(path);
    return index;
}
