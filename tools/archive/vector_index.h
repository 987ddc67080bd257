/* vector_index: nearest neighbours by inner product (cosine on normalised
 * embeddings) through FAISS, behind a C interface (Debian's libfaiss-dev has
 * no compiled C API). Exact (every vector compared) or approximate (an
 * inverted file: a query scans the lists of its nprobe nearest centroids),
 * each vector carrying the 64-bit id the caller gives it. */
#ifndef VKCLIP_VECTOR_INDEX_H
#define VKCLIP_VECTOR_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vector_index vector_index;

typedef enum vector_index_kind {
    VECTOR_INDEX_EXACT = 0,
    /* Approximate; both need training before vectors are added. */
    VECTOR_INDEX_IVF = 1,    /* lists of fp16 vectors: quick to train, slow to scan */
    VECTOR_INDEX_IVF_PQ = 2, /* lists of 8-bit product-quantised codes (dim / 8 bytes), the best
                                candidates re-scored from fp16 copies: quick to scan; needs at
                                least 256 training vectors (tens of thousands to train well)
                                and dim % 8 == 0 */
} vector_index_kind;

/* nlist: the inverted file's lists (approximate kinds). NULL on failure, with the
 * reason in err. */
vector_index *vector_index_new(vector_index_kind kind, int dim, int nlist, char *err, size_t cap);
void vector_index_free(vector_index *index);
int64_t vector_index_size(const vector_index *index);
int vector_index_dim(const vector_index *index);
bool vector_index_is_trained(const vector_index *index);
/* Learns the inverted file's centroids and the codes' quantisers from n
 * sample vectors. */
int vector_index_train(vector_index *index, const float *vectors, int64_t n, char *err, size_t cap);
/* Adds n vectors (n x dim floats) with their ids. Returns 0 or -1. */
int vector_index_add(vector_index *index, const float *vectors, const int64_t *ids, int64_t n, char *err,
                     size_t cap);
/* For each of nq queries the k best: scores[nq][k] descending, ids[nq][k]
 * (-1 past what was found). nprobe: lists scanned (approximate; 0: 1),
 * ignored by the exact index. Not for two threads at once on one index.
 * Returns 0 or -1. */
int vector_index_search(const vector_index *index, const float *queries, int64_t nq, int k, int nprobe,
                        float *scores, int64_t *ids, char *err, size_t cap);
/* Writes the index to an open file (FAISS's format) / reads one back; the
 * caller places anything of its own before it. Returns 0 / the index, or
 * -1 / NULL with the reason in err. */
#include <stdio.h>
int vector_index_write(const vector_index *index, FILE *f, char *err, size_t cap);
vector_index *vector_index_read(FILE *f, char *err, size_t cap);
/* Threads FAISS may use (OpenMP); 0 leaves its default. */
void vector_index_set_threads(int threads);

#ifdef __cplusplus
}
#endif

#endif
