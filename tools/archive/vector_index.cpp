// vector_index.cpp: the C interface over FAISS (see vector_index.h). Every
// FAISS call may throw; exceptions stop here and become an error string.
#include "vector_index.h"

#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexRefine.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <omp.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>

struct vector_index {
    std::unique_ptr<faiss::Index> index;
    vector_index_kind kind;
    faiss::IndexIVF *ivf; // inside index (approximate kinds), where nprobe is set
};

namespace {

// A file's first byte: the kind it holds (vector_index_kind order).
constexpr char KIND_TAGS[] = "EFP";

void set_error(char *err, size_t cap, const char *what, const char *why)
{
    if (err && cap)
        std::snprintf(err, cap, "%s: %s", what, why);
}

// Candidates re-scored with fp16 vectors per answer wanted (IVF_PQ):
// bench/vector_search_bench measured recall@10 0.97 at 10 against 0.87 at 4.
constexpr float PQ_REFINE_FACTOR = 10;

// The FAISS index of a kind, ids included.
faiss::Index *make_index(vector_index_kind kind, int dim, int nlist)
{
    if (kind == VECTOR_INDEX_EXACT)
        return faiss::index_factory(dim, "IDMap2,Flat", faiss::METRIC_INNER_PRODUCT);
    std::string lists = "IVF" + std::to_string(nlist);
    // "np": no polysemous training, which orders the codes for Hamming-distance
    // filtering (unused here) and took nearly all of the 5 minutes training took.
    std::string description = kind == VECTOR_INDEX_IVF ? lists + ",SQfp16"
                                                       : lists + ",PQ" + std::to_string(dim / 8) + "np,Refine(SQfp16)";
    std::unique_ptr<faiss::Index> inner(faiss::index_factory(dim, description.c_str(), faiss::METRIC_INNER_PRODUCT));
    if (auto *refine = dynamic_cast<faiss::IndexRefine *>(inner.get()))
        refine->k_factor = PQ_REFINE_FACTOR;
    // The ids live in a map in front, built here rather than by the factory
    // (which would put the map inside the refinement, where ids cannot be added).
    auto *map = new faiss::IndexIDMap(inner.release());
    map->own_fields = true;
    return map;
}

// The inverted file inside an index built by description_of, or null.
faiss::IndexIVF *find_ivf(faiss::Index *index)
{
    for (;;) {
        if (auto *map = dynamic_cast<faiss::IndexIDMap *>(index))
            index = map->index;
        else if (auto *refine = dynamic_cast<faiss::IndexRefine *>(index))
            index = refine->base_index;
        else
            return dynamic_cast<faiss::IndexIVF *>(index);
    }
}

} // namespace

extern "C" vector_index *vector_index_new(vector_index_kind kind, int dim, int nlist, char *err, size_t cap)
{
    if (dim <= 0 || (kind != VECTOR_INDEX_EXACT && nlist <= 0)) {
        set_error(err, cap, "vector index", "the dimension and list count must be positive");
        return nullptr;
    }
    if (kind == VECTOR_INDEX_IVF_PQ && dim % 8 != 0) {
        set_error(err, cap, "vector index", "product-quantised codes need a dimension that is a multiple of 8");
        return nullptr;
    }
    try {
        auto index = std::make_unique<vector_index>();
        index->kind = kind;
        index->index.reset(make_index(kind, dim, nlist));
        index->ivf = find_ivf(index->index.get());
        return index.release();
    } catch (const std::exception &e) {
        set_error(err, cap, "vector index", e.what());
        return nullptr;
    }
}

extern "C" void vector_index_free(vector_index *index)
{
    delete index;
}

extern "C" int64_t vector_index_size(const vector_index *index)
{
    return index->index->ntotal;
}

extern "C" int vector_index_dim(const vector_index *index)
{
    return index->index->d;
}

extern "C" bool vector_index_is_trained(const vector_index *index)
{
    return index->index->is_trained;
}

extern "C" int vector_index_train(vector_index *index, const float *vectors, int64_t n, char *err, size_t cap)
{
    try {
        index->index->train(n, vectors);
        return 0;
    } catch (const std::exception &e) {
        set_error(err, cap, "vector index: train", e.what());
        return -1;
    }
}

extern "C" int vector_index_add(vector_index *index, const float *vectors, const int64_t *ids, int64_t n, char *err,
                                size_t cap)
{
    try {
        static_assert(sizeof(faiss::Index::idx_t) == sizeof(int64_t), "FAISS ids are 64-bit");
        index->index->add_with_ids(n, vectors, reinterpret_cast<const faiss::Index::idx_t *>(ids));
        return 0;
    } catch (const std::exception &e) {
        set_error(err, cap, "vector index: add", e.what());
        return -1;
    }
}

extern "C" int vector_index_search(const vector_index *index, const float *queries, int64_t nq, int k, int nprobe,
                                   float *scores, int64_t *ids, char *err, size_t cap)
{
    try {
        auto *out = reinterpret_cast<faiss::Index::idx_t *>(ids);
        // FAISS 1.7.3's IndexRefine passes no search parameters on, so the
        // list count is set on the inverted file itself (one search at a time).
        if (index->ivf)
            index->ivf->nprobe = nprobe > 0 ? (size_t)nprobe : 1;
        index->index->search(nq, queries, k, scores, out);
        return 0;
    } catch (const std::exception &e) {
        set_error(err, cap, "vector index: search", e.what());
        return -1;
    }
}

extern "C" int vector_index_write(const vector_index *index, FILE *f, char *err, size_t cap)
{
    try {
        std::fputc(KIND_TAGS[index->kind], f);
        faiss::write_index(index->index.get(), f);
        return std::ferror(f) ? -1 : 0;
    } catch (const std::exception &e) {
        set_error(err, cap, "vector index: write", e.what());
        return -1;
    }
}

extern "C" vector_index *vector_index_read(FILE *f, char *err, size_t cap)
{
    try {
        int tag = std::fgetc(f);
        const char *known = tag > 0 ? std::strchr(KIND_TAGS, tag) : nullptr;
        if (!known) {
            set_error(err, cap, "vector index: read", "not a vkclip vector index");
            return nullptr;
        }
        auto index = std::make_unique<vector_index>();
        index->kind = (vector_index_kind)(known - KIND_TAGS);
        index->index.reset(faiss::read_index(f));
        index->ivf = find_ivf(index->index.get());
        if (index->kind != VECTOR_INDEX_EXACT && !index->ivf) {
            set_error(err, cap, "vector index: read", "an approximate index without its inverted file");
            return nullptr;
        }
        return index.release();
    } catch (const std::exception &e) {
        set_error(err, cap, "vector index: read", e.what());
        return nullptr;
    }
}

extern "C" void vector_index_set_threads(int threads)
{
    if (threads > 0)
        omp_set_num_threads(threads);
}
