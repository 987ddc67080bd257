// vector_index.cpp: the C interface over FAISS (see vector_index.h). Every
// FAISS call may throw; exceptions stop here and become an error string.
#include "vector_index.h"

#include <faiss/IndexIVF.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <omp.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <string>

struct vector_index {
    std::unique_ptr<faiss::Index> index;
    vector_index_kind kind;
};

namespace {

void set_error(char *err, size_t cap, const char *what, const char *why)
{
    if (err && cap)
        std::snprintf(err, cap, "%s: %s", what, why);
}

} // namespace

extern "C" vector_index *vector_index_new(vector_index_kind kind, int dim, int nlist, char *err, size_t cap)
{
    if (dim <= 0 || (kind == VECTOR_INDEX_IVF && nlist <= 0)) {
        set_error(err, cap, "vector index", "the dimension and list count must be positive");
        return nullptr;
    }
    try {
        // The exact index keeps ids in a map beside the vectors; the IVF
        // stores them in its lists.
        std::string description = kind == VECTOR_INDEX_IVF ? "IVF" + std::to_string(nlist) + ",SQ8" : "IDMap2,Flat";
        auto index = std::make_unique<vector_index>();
        index->kind = kind;
        index->index.reset(faiss::index_factory(dim, description.c_str(), faiss::METRIC_INNER_PRODUCT));
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
        if (index->kind == VECTOR_INDEX_IVF) {
            faiss::SearchParametersIVF params;
            params.nprobe = nprobe > 0 ? (size_t)nprobe : 1;
            index->index->search(nq, queries, k, scores, out, &params);
        } else {
            index->index->search(nq, queries, k, scores, out);
        }
        return 0;
    } catch (const std::exception &e) {
        set_error(err, cap, "vector index: search", e.what());
        return -1;
    }
}

extern "C" int vector_index_write(const vector_index *index, FILE *f, char *err, size_t cap)
{
    try {
        std::fputc(index->kind == VECTOR_INDEX_IVF ? 'I' : 'E', f);
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
        int kind = std::fgetc(f);
        if (kind != 'I' && kind != 'E') {
            set_error(err, cap, "vector index: read", "not a vkclip vector index");
            return nullptr;
        }
        auto index = std::make_unique<vector_index>();
        index->kind = kind == 'I' ? VECTOR_INDEX_IVF : VECTOR_INDEX_EXACT;
        index->index.reset(faiss::read_index(f));
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
