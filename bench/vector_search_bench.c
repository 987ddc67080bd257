/* vector_search_bench: the archive's search on synthetic embeddings at
 * several sizes, exact and approximate, side by side in one run: latency
 * of one query (p50, p99 over the queries) and the approximate index's
 * recall@10 against exact search.
 *
 *   vector_search_bench [--sizes 10000,1000000,10000000] [--dim 512] [--queries 200] [--threads 2]
 *                       [--exact-max-gb 8]
 *
 * The embeddings look like a video archive's: frames come in scenes of 50
 * whose embeddings lie close together (cosine about 0.9 within a scene), all
 * sharing a common direction as real CLIP embeddings do; a query is another
 * frame of one of the scenes. Vectors are generated chunk by chunk from a
 * seeded generator, so the largest size never needs its float copy in
 * memory: where the exact index would pass --exact-max-gb, exact answers are
 * computed chunk by chunk (for recall) and exact latency is not measured. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "approx_index.h"
#include "vector_index.h"

#define K 10
#define SCENE 50
#define CHUNK 262144
#define COMMON 0.8  /* weight of the shared direction */
#define SPREAD 0.35 /* a frame's distance from its scene's centre */

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* A normal deviate from a counter (Box-Muller on two hashed uniforms). */
static float gauss(uint64_t key)
{
    double u1 = ((double)(mix(key) >> 11) + 0.5) / 9007199254740992.0;
    double u2 = (double)(mix(key ^ 0x5851f42d4c957f2dull) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static void normalise(float *v, int dim)
{
    double s = 0;
    for (int i = 0; i < dim; i++)
        s += (double)v[i] * v[i];
    float inv = (float)(1.0 / sqrt(s));
    for (int i = 0; i < dim; i++)
        v[i] *= inv;
}

/* Frame `frame` of scene `scene` (frame < 0: a query's own noise). */
static void make_vector(float *v, int dim, int64_t scene, int64_t frame, uint64_t salt)
{
    double centre_scale = 1.0 / sqrt(dim), noise_scale = SPREAD / sqrt(dim);
    for (int i = 0; i < dim; i++) {
        float common = gauss(((uint64_t)i << 40) ^ 0xc0ffee);
        float centre = gauss(((uint64_t)scene << 20) ^ (uint64_t)i ^ 0xabcdef0000000000ull);
        float noise = gauss(mix(((uint64_t)frame << 20) ^ (uint64_t)i ^ salt));
        v[i] = (float)(COMMON * common * centre_scale + centre * centre_scale + noise * noise_scale);
    }
    normalise(v, dim);
}

static void make_chunk(float *out, int dim, int64_t first, int64_t n)
{
    for (int64_t r = 0; r < n; r++)
        make_vector(out + r * dim, dim, (first + r) / SCENE, first + r, 0x1111);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* A FAISS failure ends the run: figures from a broken index would mislead. */
static void or_die(int status, const char *err)
{
    if (status) {
        fprintf(stderr, "vector_search_bench: %s\n", err);
        exit(1);
    }
}

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* p50 and p99 of one query at a time, in ms; answers into ids. */
static void time_queries(const vector_index *ix, const float *q, int nq, int dim, int nprobe, int64_t *ids,
                         double *p50, double *p99)
{
    double *ms = malloc((size_t)nq * sizeof *ms);
    float scores[K];
    char err[256];
    for (int i = 0; i < nq; i++) {
        double t0 = now();
        or_die(vector_index_search(ix, q + (size_t)i * dim, 1, K, nprobe, scores, ids + (size_t)i * K, err, sizeof err),
               err);
        ms[i] = (now() - t0) * 1e3;
    }
    qsort(ms, (size_t)nq, sizeof *ms, by_double);
    *p50 = ms[nq / 2];
    *p99 = ms[(int)(nq * 0.99) < nq ? (int)(nq * 0.99) : nq - 1];
    free(ms);
}

static double recall(const int64_t *truth, const int64_t *got, int nq)
{
    int64_t hit = 0;
    for (int q = 0; q < nq; q++)
        for (int i = 0; i < K; i++)
            for (int j = 0; j < K; j++)
                if (got[q * K + i] == truth[q * K + j]) {
                    hit++;
                    break;
                }
    return (double)hit / (double)(nq * K);
}

/* Exact top-K of every query, chunk by chunk (no index of all vectors): a
 * flat index per chunk, its answers merged. */
static void streamed_truth(int64_t n, int dim, const float *q, int nq, int64_t *ids)
{
    float *best = malloc((size_t)nq * K * sizeof *best), *scores = malloc((size_t)nq * K * sizeof *scores);
    int64_t *found = malloc((size_t)nq * K * sizeof *found), *row_ids = malloc((size_t)CHUNK * sizeof *row_ids);
    for (int64_t i = 0; i < (int64_t)nq * K; i++)
        best[i] = -2.0f, ids[i] = -1;
    float *chunk = malloc((size_t)CHUNK * dim * sizeof *chunk);
    char err[256];
    for (int64_t first = 0; first < n; first += CHUNK) {
        int64_t m = n - first < CHUNK ? n - first : CHUNK;
        make_chunk(chunk, dim, first, m);
        for (int64_t r = 0; r < m; r++)
            row_ids[r] = first + r;
        vector_index *flat = vector_index_new(VECTOR_INDEX_EXACT, dim, 0, err, sizeof err);
        or_die(flat == NULL, err);
        or_die(vector_index_add(flat, chunk, row_ids, m, err, sizeof err), err);
        or_die(vector_index_search(flat, q, nq, K, 0, scores, found, err, sizeof err), err);
        vector_index_free(flat);
        for (int qi = 0; qi < nq; qi++)
            for (int j = 0; j < K; j++) {
                float sc = scores[qi * K + j];
                float *b = best + (size_t)qi * K;
                int64_t *id = ids + (size_t)qi * K;
                if (found[qi * K + j] < 0 || sc <= b[K - 1])
                    continue;
                int at = K - 1;
                while (at > 0 && b[at - 1] < sc) {
                    b[at] = b[at - 1], id[at] = id[at - 1];
                    at--;
                }
                b[at] = sc, id[at] = found[qi * K + j];
            }
    }
    free(chunk);
    free(best);
    free(scores);
    free(found);
    free(row_ids);
}

/* Every vector of the archive, generated chunk by chunk, into index. */
static void add_all(vector_index *index, int64_t n, int dim, float *chunk, int64_t *ids)
{
    char err[256];
    for (int64_t first = 0; first < n; first += CHUNK) {
        int64_t m = n - first < CHUNK ? n - first : CHUNK;
        make_chunk(chunk, dim, first, m);
        for (int64_t r = 0; r < m; r++)
            ids[r] = first + r;
        or_die(vector_index_add(index, chunk, ids, m, err, sizeof err), err);
    }
}

static void run_size(int64_t n, int dim, int nq, double exact_max_gb)
{
    char err[512];
    float *q = malloc((size_t)nq * dim * sizeof *q);
    for (int i = 0; i < nq; i++)
        make_vector(q + (size_t)i * dim, dim, (int64_t)(mix((uint64_t)i) % (uint64_t)((n + SCENE - 1) / SCENE)),
                    -1 - i, 0x2222);
    int64_t *truth = malloc((size_t)nq * K * sizeof *truth), *got = malloc((size_t)nq * K * sizeof *got);
    float *chunk = malloc((size_t)CHUNK * dim * sizeof *chunk);
    int64_t *ids = malloc((size_t)CHUNK * sizeof *ids);
    double gb = (double)n * dim * 4 / 1e9;

    if (gb <= exact_max_gb) {
        vector_index *exact = vector_index_new(VECTOR_INDEX_EXACT, dim, 0, err, sizeof err);
        or_die(exact == NULL, err);
        add_all(exact, n, dim, chunk, ids);
        double p50, p99;
        time_queries(exact, q, nq, dim, 0, truth, &p50, &p99);
        printf("| %lld | %d | exact | | %.2f | %.2f | 1.000 |\n", (long long)n, dim, p50, p99);
        fflush(stdout);
        vector_index_free(exact);
    } else {
        double t0 = now();
        streamed_truth(n, dim, q, nq, truth);
        printf("| %lld | %d | exact | | not run: %.0f GB of vectors (over --exact-max-gb); answers for recall "
               "computed chunk by chunk in %.0f s | | 1.000 |\n",
               (long long)n, dim, gb, now() - t0);
        fflush(stdout);
    }

    /* The lists and training sample search itself uses (approx_index.c). */
    int nlist = approx_index_list_count(n);
    vector_index_kind kind = approx_index_kind(n, dim);
    const char *codes = kind == VECTOR_INDEX_IVF_PQ ? "PQ,Refine(SQfp16)" : "SQfp16";
    vector_index *ivf = vector_index_new(kind, dim, nlist, err, sizeof err);
    or_die(ivf == NULL, err);
    int64_t train_n = (int64_t)nlist * APPROX_TRAIN_PER_LIST < n ? (int64_t)nlist * APPROX_TRAIN_PER_LIST : n;
    float *sample = malloc((size_t)train_n * dim * sizeof *sample);
    for (int64_t r = 0; r < train_n; r++) /* spread over the whole archive */
        make_vector(sample + r * dim, dim, (r * (n / train_n)) / SCENE, r * (n / train_n), 0x1111);
    double t0 = now();
    or_die(vector_index_train(ivf, sample, train_n, err, sizeof err), err);
    free(sample);
    double trained = now();
    add_all(ivf, n, dim, chunk, ids);
    double train = trained - t0, add = now() - trained;
    double last_recall = 0;
    for (int nprobe = 4; nprobe <= 256 && nprobe <= nlist; nprobe *= 2) {
        double p50, p99;
        time_queries(ivf, q, nq, dim, nprobe, got, &p50, &p99);
        double r = recall(truth, got, nq);
        printf("| %lld | %d | IVF%d,%s (trained in %.0f s, filled in %.0f s) | %d%s | %.2f | %.2f | %.3f |\n",
               (long long)n, dim, nlist, codes, train, add, nprobe, nprobe == APPROX_NPROBE ? " (search's)" : "",
               p50, p99, r);
        fflush(stdout);
        if (r >= 0.99 || r < last_recall + 0.002) /* more lists would not pay */
            break;
        last_recall = r;
    }
    vector_index_free(ivf);
    free(chunk);
    free(ids);
    free(q);
    free(truth);
    free(got);
}

int main(int argc, char **argv)
{
    const char *sizes = "10000,1000000,10000000";
    int dim = 512, nq = 200, threads = 2;
    double exact_max_gb = 8.0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--sizes") == 0)
            sizes = argv[i + 1];
        else if (strcmp(argv[i], "--dim") == 0)
            dim = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--queries") == 0)
            nq = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0)
            threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--exact-max-gb") == 0)
            exact_max_gb = atof(argv[i + 1]);
        else {
            fprintf(stderr, "vector_search_bench: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (dim <= 0 || nq <= 0) {
        fprintf(stderr, "vector_search_bench: --dim and --queries must be positive\n");
        return 2;
    }
    vector_index_set_threads(threads);
    printf("search: %d queries of one vector each, top %d, %d threads; recall@%d against exact search\n\n", nq, K,
           threads, K);
    printf("| stored frames | dim | index | nprobe | p50 ms | p99 ms | recall@10 |\n|---|---|---|---|---|---|---|\n");
    for (const char *s = sizes; *s;) {
        int64_t n = strtoll(s, (char **)&s, 10);
        if (n > 0)
            run_size(n, dim, nq, exact_max_gb);
        if (*s == ',')
            s++;
        else if (*s)
            break;
    }
    return 0;
}
