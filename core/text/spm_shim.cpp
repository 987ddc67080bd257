// spm_shim.cpp: the only C++ of the tokenizers. SentencePiece may throw (it
// uses std containers); nothing escapes: every failure becomes an errbuf line.
#include "text/spm_shim.h"

#include <sentencepiece_processor.h>

#include <exception>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

struct spm_model {
    sentencepiece::SentencePieceProcessor processor;
    uint64_t digest;
};

// ModelProto field 3 (normalizer_spec) holding only field 3 (add_dummy_prefix)
// = false. Protobuf merges a repeated message field into the first one, so
// appending these bytes to the file changes that one setting, as
// SiglipTokenizer's NormalizerSpec MergeFrom does (no protobuf headers needed).
static const char NO_DUMMY_PREFIX[] = {0x1a, 0x02, 0x18, 0x00};

extern "C" spm_model *spm_model_load(const char *path, errbuf *err)
{
    try {
        std::ifstream in(path, std::ios::binary);
        if (!in) {
            errbuf_set(err, "%s: cannot open", path);
            return nullptr;
        }
        std::string proto((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        auto model = std::make_unique<spm_model>();
        model->digest = content_hash64(proto.data(), proto.size());
        proto.append(NO_DUMMY_PREFIX, sizeof NO_DUMMY_PREFIX);
        auto status = model->processor.LoadFromSerializedProto(proto);
        if (!status.ok()) {
            errbuf_set(err, "%s: not a SentencePiece model (%s)", path, status.ToString().c_str());
            return nullptr;
        }
        return model.release();
    } catch (const std::exception &e) {
        errbuf_set(err, "%s: %s", path, e.what());
        return nullptr;
    }
}

extern "C" void spm_model_free(spm_model *m)
{
    delete m;
}

extern "C" int spm_model_encode(const spm_model *m, const char *text, int32_t *ids, int max, errbuf *err)
{
    try {
        std::vector<int> out;
        auto status = m->processor.Encode(text, &out);
        if (!status.ok()) {
            errbuf_set(err, "SentencePiece: %s", status.ToString().c_str());
            return -1;
        }
        for (size_t i = 0; i < out.size() && (int)i < max; i++)
            ids[i] = out[i];
        return (int)out.size();
    } catch (const std::exception &e) {
        errbuf_set(err, "SentencePiece: %s", e.what());
        return -1;
    }
}

extern "C" int spm_model_piece_id(const spm_model *m, const char *piece)
{
    int id = m->processor.PieceToId(piece);
    // PieceToId answers unk_id for a piece it lacks: only unk's own name maps there.
    return id == m->processor.unk_id() && m->processor.IdToPiece(id) != piece ? -1 : id;
}

extern "C" int spm_model_size(const spm_model *m)
{
    return m->processor.GetPieceSize();
}

extern "C" uint64_t spm_model_digest(const spm_model *m)
{
    return m->digest;
}
