/* approx_index: an archive's approximate vector index, for archives too
 * large to compare every frame at each query: an inverted file of about
 * 4 sqrt(n) lists holding product-quantised codes whose best candidates are
 * re-scored from fp16 copies (FAISS IVF,PQ,Refine(SQfp16); fp16 vectors in
 * the lists for small archives, where the codes could not be trained),
 * built from the database's frames and cached beside it (DB.ivf;
 * DB.all.ivf with the blank frames), rebuilt when the database changed
 * since (its generation). The index's ids are the frames' row ids. */
#ifndef VKCLIP_APPROX_INDEX_H
#define VKCLIP_APPROX_INDEX_H

#include <stdbool.h>
#include <stddef.h>

#include "archive_db.h"
#include "vector_index.h"

/* Archives of this many frames or more are searched approximately unless
 * --exact (bench/archive-bench.sh measures where exact search gets slow). */
#define APPROX_FROM_FRAMES 1000000
/* Lists scanned per query (bench/archive-bench.sh: recall@10 against exact). */
#define APPROX_NPROBE 16
/* From this many frames the lists hold product-quantised codes (their
 * quantisers want tens of thousands of training vectors). */
#define APPROX_PQ_FROM_FRAMES 65536
/* Training vectors per list (FAISS wants at least 39). */
#define APPROX_TRAIN_PER_LIST 64

/* The IVF's list count for n frames: about 4 sqrt(n), a power of two, at
 * most 4096, and with at least 39 frames a list. */
int approx_index_list_count(int64_t n);
/* The kind of index for n frames of dim floats. */
vector_index_kind approx_index_kind(int64_t n, int dim);

/* The cached index when it is current, else a new one (saved for next
 * time; a cache that cannot be written is a warning). *built says which.
 * NULL on failure, with the reason in err. */
vector_index *approx_index_open(archive_db *db, int dim, bool keep_blank, bool *built, char *err, size_t cap);

#endif
