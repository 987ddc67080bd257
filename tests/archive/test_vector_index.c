/* test_vector_index: the FAISS shim's three kinds of index against a
 * brute-force search written here (double-precision dot products over the
 * same vectors): exact answers for the exact index, recall@10 for the
 * approximate ones when every list is scanned, the callers' ids kept, and
 * an index written and read back answering the same. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "vector_index.h"

#define DIM 64
#define N 12000 /* product quantisers want 256 training vectors and more */
#define CLUSTERS 300
#define QUERIES 50
#define K 10
#define LISTS 32

static uint64_t state = 0x853c49e6748fea9bull;

static double uniform(void)
{
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return ((double)(state >> 11) + 0.5) / 9007199254740992.0;
}

static double gaussian(void)
{
    return sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform());
}

static void normalise(float *v)
{
    double s = 0;
    for (int i = 0; i < DIM; i++)
        s += (double)v[i] * v[i];
    for (int i = 0; i < DIM; i++)
        v[i] = (float)(v[i] / sqrt(s));
}

/* Vectors around cluster centres, as frames of one scene lie together. */
static void make_vectors(float *out, int n, const float *centres, double spread)
{
    for (int r = 0; r < n; r++) {
        const float *c = centres + (size_t)(uniform() * CLUSTERS) * DIM;
        for (int i = 0; i < DIM; i++)
            out[(size_t)r * DIM + i] = (float)(c[i] + spread * gaussian() / sqrt(DIM));
        normalise(out + (size_t)r * DIM);
    }
}

/* The K best ids of q by plain dot products, best first. */
static void brute_force(const float *base, const int64_t *ids, const float *q, int64_t *best, double *best_score)
{
    for (int j = 0; j < K; j++)
        best[j] = -1, best_score[j] = -1e9;
    for (int r = 0; r < N; r++) {
        double s = 0;
        for (int i = 0; i < DIM; i++)
            s += (double)base[(size_t)r * DIM + i] * q[i];
        if (s <= best_score[K - 1])
            continue;
        int at = K - 1;
        while (at > 0 && best_score[at - 1] < s) {
            best[at] = best[at - 1], best_score[at] = best_score[at - 1];
            at--;
        }
        best[at] = ids[r], best_score[at] = s;
    }
}

static double recall(const int64_t *truth, const int64_t *got)
{
    int hits = 0;
    for (int q = 0; q < QUERIES; q++)
        for (int i = 0; i < K; i++)
            for (int j = 0; j < K; j++)
                if (got[q * K + i] == truth[q * K + j]) {
                    hits++;
                    break;
                }
    return (double)hits / (QUERIES * K);
}

/* The score the brute force gives the id a search returned. */
static double true_score(const float *base, int64_t id, const float *q)
{
    int r = (int)((id - 1000) / 7);
    double s = 0;
    for (int i = 0; i < DIM; i++)
        s += (double)base[(size_t)r * DIM + i] * q[i];
    return s;
}

static vector_index *round_trip(const vector_index *index)
{
    char err[256];
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (!f)
        return NULL;
    CHECKF(vector_index_write(index, f, err, sizeof err) == 0, "%s", err);
    rewind(f);
    vector_index *back = vector_index_read(f, err, sizeof err);
    CHECKF(back != NULL, "%s", err);
    fclose(f);
    return back;
}

static void check_kind(vector_index_kind kind, const char *name, double min_recall, double score_tolerance,
                       const float *base, const int64_t *ids, const float *queries, const int64_t *truth)
{
    char err[256];
    vector_index *index = vector_index_new(kind, DIM, LISTS, err, sizeof err);
    CHECKF(index != NULL, "%s: %s", name, err);
    if (!index)
        return;
    if (kind != VECTOR_INDEX_EXACT) {
        CHECKF(!vector_index_is_trained(index), "%s: trained before training", name);
        CHECKF(vector_index_train(index, base, N, err, sizeof err) == 0, "%s: %s", name, err);
    }
    CHECKF(vector_index_add(index, base, ids, N, err, sizeof err) == 0, "%s: %s", name, err);
    CHECKF(vector_index_size(index) == N && vector_index_dim(index) == DIM, "%s: size %lld", name,
           (long long)vector_index_size(index));

    float scores[QUERIES * K], scores_back[QUERIES * K];
    int64_t got[QUERIES * K], got_back[QUERIES * K];
    CHECKF(vector_index_search(index, queries, QUERIES, K, LISTS, scores, got, err, sizeof err) == 0, "%s: %s",
           name, err);
    double r = recall(truth, got);
    CHECKF(r >= min_recall, "%s: recall@10 %.3f with every list scanned, want >= %.2f", name, r, min_recall);
    double worst = 0;
    for (int q = 0; q < QUERIES; q++)
        for (int j = 0; j < K; j++) {
            int64_t id = got[q * K + j];
            CHECKF(id >= 1000 && (id - 1000) % 7 == 0 && (id - 1000) / 7 < N, "%s: id %lld is none of ours", name,
                   (long long)id);
            if (id >= 1000 && (id - 1000) % 7 == 0 && (id - 1000) / 7 < N) {
                double e = fabs(scores[q * K + j] - true_score(base, id, queries + (size_t)q * DIM));
                worst = e > worst ? e : worst;
            }
            if (j > 0)
                CHECKF(scores[q * K + j] <= scores[q * K + j - 1], "%s: scores not descending", name);
        }
    CHECKF(worst <= score_tolerance, "%s: a returned score is %g from its vector's true score", name, worst);

    /* One list scanned: clearly fewer answers found (nprobe reaches the
     * inverted file), the same after writing and reading back. */
    float scores_one[QUERIES * K];
    int64_t got_one[QUERIES * K];
    if (kind != VECTOR_INDEX_EXACT) {
        CHECKF(vector_index_search(index, queries, QUERIES, K, 1, scores_one, got_one, err, sizeof err) == 0,
               "%s: %s", name, err);
        double one = recall(truth, got_one);
        CHECKF(one <= r - 0.02, "%s: recall@10 %.3f scanning one list of %d, %.3f scanning all", name, one, LISTS, r);
    }
    vector_index *back = round_trip(index);
    if (back) {
        CHECKF(vector_index_search(back, queries, QUERIES, K, LISTS, scores_back, got_back, err, sizeof err) == 0,
               "%s: %s", name, err);
        CHECKF(memcmp(got, got_back, sizeof got) == 0 && memcmp(scores, scores_back, sizeof scores) == 0,
               "%s: read back, the index answers otherwise", name);
        if (kind != VECTOR_INDEX_EXACT) {
            CHECKF(vector_index_search(back, queries, QUERIES, K, 1, scores_back, got_back, err, sizeof err) == 0,
                   "%s: %s", name, err);
            CHECKF(memcmp(got_one, got_back, sizeof got_one) == 0, "%s: read back, one list answers otherwise", name);
        }
        vector_index_free(back);
    }
    vector_index_free(index);
}

/* A file holding `bytes` is refused with a message containing `want`. */
static void expect_read_error(const char *bytes, const char *want)
{
    char err[256] = "";
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(bytes, f);
    rewind(f);
    CHECKF(vector_index_read(f, err, sizeof err) == NULL, "%s: read as an index", bytes);
    CHECKF(strstr(err, want) != NULL, "%s: message \"%s\" lacks \"%s\"", bytes, err, want);
    fclose(f);
}

static void check_errors(void)
{
    char err[256] = "";
    CHECK(vector_index_new(VECTOR_INDEX_IVF_PQ, 60, LISTS, err, sizeof err) == NULL);
    CHECKF(strstr(err, "multiple of 8") != NULL, "dimension 60 refused for codes: %s", err);
    CHECK(vector_index_new(VECTOR_INDEX_IVF, DIM, 0, err, sizeof err) == NULL);

    expect_read_error("Xnot an index", "not a vkclip vector index");
    expect_read_error("Egarbage after the tag", "vector index: read");

    /* More answers asked for than vectors stored: the rest are -1. */
    vector_index *small = vector_index_new(VECTOR_INDEX_EXACT, 4, 0, err, sizeof err);
    float v[8] = {1, 0, 0, 0, 0, 1, 0, 0}, scores[4];
    int64_t ids[2] = {5, 9}, got[4];
    CHECK(small && vector_index_add(small, v, ids, 2, err, sizeof err) == 0);
    CHECK(small && vector_index_search(small, v, 1, 4, 0, scores, got, err, sizeof err) == 0);
    CHECKF(got[0] == 5 && got[1] == 9 && got[2] == -1 && got[3] == -1, "got %lld %lld %lld %lld", (long long)got[0],
           (long long)got[1], (long long)got[2], (long long)got[3]);
    vector_index_free(small);
}

int main(void)
{
    vector_index_set_threads(2);
    float *centres = malloc((size_t)CLUSTERS * DIM * sizeof *centres);
    float *base = malloc((size_t)N * DIM * sizeof *base), *queries = malloc((size_t)QUERIES * DIM * sizeof *queries);
    int64_t *ids = malloc((size_t)N * sizeof *ids), *truth = malloc((size_t)QUERIES * K * sizeof *truth);
    for (int c = 0; c < CLUSTERS * DIM; c++)
        centres[c] = (float)gaussian();
    for (int c = 0; c < CLUSTERS; c++)
        normalise(centres + (size_t)c * DIM);
    make_vectors(base, N, centres, 0.5);
    make_vectors(queries, QUERIES, centres, 0.5);
    for (int r = 0; r < N; r++)
        ids[r] = 1000 + 7 * (int64_t)r; /* not row numbers: the index must keep ours */
    for (int q = 0; q < QUERIES; q++) {
        double s[K];
        brute_force(base, ids, queries + (size_t)q * DIM, truth + q * K, s);
    }

    /* The exact index: the brute force's answers, float rounding apart. */
    check_kind(VECTOR_INDEX_EXACT, "exact", 1.0, 1e-5, base, ids, queries, truth);
    /* fp16 vectors: scores off by fp16 rounding, near ties may swap. */
    check_kind(VECTOR_INDEX_IVF, "IVF,SQfp16", 0.97, 2e-3, base, ids, queries, truth);
    /* 8-byte codes pick candidates, fp16 copies re-score them. */
    check_kind(VECTOR_INDEX_IVF_PQ, "IVF,PQ,Refine(SQfp16)", 0.9, 2e-3, base, ids, queries, truth);
    check_errors();

    free(centres);
    free(base);
    free(queries);
    free(ids);
    free(truth);
    return check_exit();
}
