// vector_index.cpp: the C interface over FAISS (see vector_index.h). Every
// FAISS call may throw; exceptions stop here and become an error string.
#include "vector_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <omp.h>

#include <cstdio>
#include <exception>
#include <memory>

struct vector_index {
    std::unique_ptr<faiss::Index> inner; // owned by the id map below
    std::unique_ptr<faiss::IndexIDMap2> map;
    vector_index_kind kind;
};

namespace {

// HNSW links per node: 32 keeps recall@10 above 0.95 on CLIP-like
// embeddings at moderate search breadth.
constexpr int kHnswLinks = 32;
constexpr int kHnswBuildBreadth = 80;

void set_error(char *err, size_t cap, const char *what, const char *why)
{
    if (err && cap)
        std::snprintf(err, cap, "%s: %s", what, why);
}

} // namespace

extern "C" vector_index *vector_index_new(vector_index_kind kind, int dim, char *err, size_t cap)
{
    if (dim <= 0) {
        set_error(err, cap, "vector index", "the dimension must be positive");
        return nullptr;
    }
    try {
        auto index = std::make_unique<vector_index>();
        index->kind = kind;
        if (kind == VECTOR_INDEX_HNSW) {
            auto hnsw = std::make_unique<faiss::IndexHNSWFlat>(dim, kHnswLinks, faiss::METRIC_INNER_PRODUCT);
            hnsw->hnsw.efConstruction = kHnswBuildBreadth;
            index->inner = std::move(hnsw);
        } else {
            index->inner = std::make_unique<faiss::IndexFlatIP>(dim);
        }
        index->map = std::make_unique<faiss::IndexIDMap2>(index->inner.get());
        return index.release();
    } catch (const std::exception &e) {
        set_error(err, cap, "vector index", e.what());
        return nullptr;
    }
}

extern "C" void vector_index_free(vector_index *index)
{
    if (!index)
        return;
    index->map.reset(); // before the index it refers to
    delete index;
}

extern "C" int64_t vector_index_size(const vector_index *index)
{
    return index->map->ntotal;
}

extern "C" int vector_index_dim(const vector_index *index)
{
    return index->map->d;
}

extern "C" int vector_index_add(vector_index *index, const float *vectors, const int64_t *ids, int64_t n, char *err,
                                size_t cap)
{
    try {
        static_assert(sizeof(faiss::Index::idx_t) == sizeof(int64_t), "FAISS ids are 64-bit");
        index->map->add_with_ids(n, vectors, reinterpret_cast<const faiss::Index::idx_t *>(ids));
        return 0;
    } catch (const std::exception &e) {
        set_error(err, cap, "vector index: add", e.what());
        return -1;
    }
}

extern "C" int vector_index_search(const vector_index *index, const float *queries, int64_t nq, int k, int hnsw_ef,
                                   float *scores, int64_t *ids, char *err, size_t cap)
{
    try {
        auto *out = reinterpret_cast<faiss::Index::idx_t *>(ids);
        if (index->kind == VECTOR_INDEX_HNSW && hnsw_ef > 0) {
            faiss::SearchParametersHNSW params;
            params.efSearch = hnsw_ef;
            index->map->search(nq, queries, k, scores, out, &params);
        } else {
            index->map->search(nq, queries, k, scores, out);
        }
        return 0;
    } catch (const std::exception &e) {
        set_error(err, cap, "vector index: search", e.what());
        return -1;
    }
}

extern "C" void vector_index_set_threads(int threads)
{
    if (threads > 0)
        omp_set_num_threads(threads);
}
