/* weights: one-file and sharded model directories, lookups and the
 * messages of model_weights_expect. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "model/weights.h"
#include "test_files.h"

static void expect_open_error(const char *dir, const char *part1, const char *part2)
{
    errbuf err = { "" };
    model_weights *w = model_weights_open(dir, &err);
    CHECKF(w == NULL, "opened %s, expected \"%s\"", dir, part2);
    model_weights_close(w);
    CHECK_MSG(err.msg, part1);
    CHECK_MSG(err.msg, part2);
}

/* Splits the fixture model into two shards (names before "text_model" and
 * the rest) plus an index, and checks every tensor reads back identical. */
static void test_sharded(const char *model_dir)
{
    char src[1100];
    snprintf(src, sizeof src, "%s/model.safetensors", model_dir);
    errbuf err = { "" };
    st_file *whole = st_open(src, &err);
    CHECKF(whole != NULL, "%s", err.msg);
    if (!whole)
        return;

    char *dir = temp_dir_make();
    test_tensor *parts[2];
    size_t counts[2] = { 0, 0 };
    parts[0] = calloc(whole->count, sizeof(test_tensor));
    parts[1] = calloc(whole->count, sizeof(test_tensor));
    size_t index_cap = 256 + whole->count * 160, index_len = 0;
    char *index = malloc(index_cap);
    index_len += (size_t)snprintf(index, index_cap,
                                  "{\"metadata\": {\"total_size\": 1}, \"weight_map\": {");
    static const char *shard_names[2] = { "model-00001-of-00002.safetensors",
                                          "model-00002-of-00002.safetensors" };
    for (size_t i = 0; i < whole->count; i++) {
        const st_tensor *t = &whole->tensors[i];
        int s = strcmp(t->name, "text_model") >= 0;
        test_tensor *tt = &parts[s][counts[s]++];
        tt->name = t->name;
        tt->dtype = st_dtype_name(t->dtype);
        tt->ndim = t->ndim;
        memcpy(tt->shape, t->shape, sizeof tt->shape);
        tt->data = t->data;
        tt->nbytes = t->nbytes;
        index_len += (size_t)snprintf(index + index_len, index_cap - index_len, "%s\"%s\": \"%s\"",
                                      i ? ", " : "", t->name, shard_names[s]);
    }
    snprintf(index + index_len, index_cap - index_len, "}}");
    CHECK(counts[0] > 0 && counts[1] > 0);
    char path[1024];
    for (int s = 0; s < 2; s++) {
        snprintf(path, sizeof path, "%s/%s", dir, shard_names[s]);
        st_write_file(path, parts[s], counts[s]);
    }
    write_text(dir, "model.safetensors.index.json", index);

    model_weights *w = model_weights_open(dir, &err);
    CHECKF(w != NULL, "%s", err.msg);
    for (size_t i = 0; w && i < whole->count; i++) {
        const st_tensor *a = &whole->tensors[i];
        const char *file = NULL;
        const st_tensor *b = model_weights_find(w, a->name, &file);
        CHECKF(b != NULL, "%s missing", a->name);
        if (!b)
            continue;
        int s = strcmp(a->name, "text_model") >= 0;
        snprintf(path, sizeof path, "%s/%s", dir, shard_names[s]);
        CHECKF(file && strcmp(file, path) == 0, "%s in %s", a->name, file ? file : "(null)");
        CHECK(b->dtype == a->dtype && b->ndim == a->ndim && b->numel == a->numel);
        CHECK(memcmp(b->shape, a->shape, sizeof a->shape) == 0);
        CHECK(b->nbytes == a->nbytes && memcmp(b->data, a->data, a->nbytes) == 0);
    }
    if (w) {
        const int64_t shape[1] = { 7 };
        CHECK(model_weights_expect(w, "no.such.tensor", 1, shape, &err) == NULL);
        char want[1100];
        snprintf(want, sizeof want, "%s/model.safetensors.index.json: tensor 'no.such.tensor' is missing", dir);
        CHECK_MSG(err.msg, want);
        CHECK(model_weights_bytes(w, "") == model_weights_bytes(w, "text_") +
                                             model_weights_bytes(w, "vision_") +
                                             model_weights_bytes(w, "visual_") +
                                             model_weights_bytes(w, "logit_scale"));
    }
    model_weights_close(w);

    /* bad indexes, each replacing the good one */
    const char *first = whole->tensors[0].name; /* lives in shard 1 */
    char bad[1024];
    snprintf(bad, sizeof bad, "{\"weight_map\": {\"%s\": \"model-00002-of-00002.safetensors\"}}", first);
    write_text(dir, "model.safetensors.index.json", bad);
    expect_open_error(dir, "model.safetensors.index.json: tensor '", "' is not in its shard 'model-00002-of-00002.safetensors'");

    snprintf(bad, sizeof bad, "{\"weight_map\": {\"%s\": \"model-00003-of-00002.safetensors\"}}", first);
    write_text(dir, "model.safetensors.index.json", bad);
    expect_open_error(dir, "model-00003-of-00002.safetensors", "cannot open");

    snprintf(bad, sizeof bad, "{\"weight_map\": {\"%s\": \"../model-00001-of-00002.safetensors\"}}", first);
    write_text(dir, "model.safetensors.index.json", bad);
    expect_open_error(dir, "model.safetensors.index.json: shard '../model-00001-of-00002.safetensors'",
                      "is not a plain file name");
    snprintf(bad, sizeof bad, "{\"weight_map\": {\"%s\": \"sub/x.safetensors\"}}", first);
    write_text(dir, "model.safetensors.index.json", bad);
    expect_open_error(dir, "shard 'sub/x.safetensors'", "is not a plain file name");
    snprintf(bad, sizeof bad, "{\"weight_map\": {\"%s\": \"..\"}}", first);
    write_text(dir, "model.safetensors.index.json", bad);
    expect_open_error(dir, "shard '..'", "is not a plain file name");
    snprintf(bad, sizeof bad, "{\"weight_map\": {\"%s\": \"\"}}", first);
    write_text(dir, "model.safetensors.index.json", bad);
    expect_open_error(dir, "shard ''", "is not a plain file name");
    snprintf(bad, sizeof bad, "{\"weight_map\": {\"%s\": 3}}", first);
    write_text(dir, "model.safetensors.index.json", bad);
    expect_open_error(dir, "weight_map entry for '", "is a number, expected a file name");
    write_text(dir, "model.safetensors.index.json", "{\"metadata\": {}}");
    expect_open_error(dir, "model.safetensors.index.json", "\"weight_map\" is missing");
    write_text(dir, "model.safetensors.index.json", "{\"weight_map\": []}");
    expect_open_error(dir, "model.safetensors.index.json", "\"weight_map\" is not an object");
    write_text(dir, "model.safetensors.index.json", "{\"weight_map\": {}}");
    expect_open_error(dir, "model.safetensors.index.json", "\"weight_map\" is empty");
    write_text(dir, "model.safetensors.index.json", "[]");
    expect_open_error(dir, "model.safetensors.index.json", "top level is an array");
    write_text(dir, "model.safetensors.index.json", "{\"weight_map\": {\"a\": \"b\",}}");
    expect_open_error(dir, "model.safetensors.index.json: invalid JSON at byte 25", "expected a string key");

    free(index);
    free(parts[0]);
    free(parts[1]);
    temp_dir_remove(dir);
    st_close(whole);
}

static void test_fixture(const char *fixtures)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/clip-tiny-f32", fixtures);
    errbuf err = { "" };
    model_weights *w = model_weights_open(dir, &err);
    if (!w && strstr(err.msg, "cannot open"))
        SKIP("fixtures absent: %s", err.msg);
    CHECKF(w != NULL, "%s", err.msg);
    if (!w)
        return;
    char file_want[1100];
    snprintf(file_want, sizeof file_want, "%s/model.safetensors", dir);
    const char *file = NULL;
    const st_tensor *t = model_weights_find(w, "vision_model.post_layernorm.weight", &file);
    CHECK(t && t->ndim == 1 && t->shape[0] == 128);
    CHECK(file && strcmp(file, file_want) == 0);
    CHECK(model_weights_find(w, "vision_model.post_layernorm", NULL) == NULL);
    CHECK(model_weights_find(w, "zzz", &file) == NULL && file == NULL);

    const int64_t ok_shape[4] = { 128, 3, 32, 32 };
    CHECK(model_weights_expect(w, "vision_model.embeddings.patch_embedding.weight", 4, ok_shape, &err) != NULL);
    const int64_t wrong[1] = { 128 };
    CHECK(model_weights_expect(w, "vision_model.embeddings.patch_embedding.weight", 1, wrong, &err) == NULL);
    char want[1300];
    snprintf(want, sizeof want, "%s: tensor 'vision_model.embeddings.patch_embedding.weight' has shape "
             "[128, 3, 32, 32] but config.json implies [128]", file_want);
    CHECKF(strcmp(err.msg, want) == 0, "got \"%s\"", err.msg);
    const int64_t wrong2[2] = { 128, 4 };
    CHECK(model_weights_expect(w, "visual_projection.weight", 2, wrong2, &err) == NULL);
    CHECK_MSG(err.msg, "tensor 'visual_projection.weight' has shape [32, 128] but config.json implies [128, 4]");
    CHECK(model_weights_expect(w, "vision_model.post_layernorm.bias2", 1, wrong, &err) == NULL);
    snprintf(want, sizeof want, "%s: tensor 'vision_model.post_layernorm.bias2' is missing", file_want);
    CHECKF(strcmp(err.msg, want) == 0, "got \"%s\"", err.msg);

    /* vision_model.* holds 796800 values (hand sum from the README's sizes:
     * 128 + 128*3*32*32 + 50*128 + 2*128 + 2 layers * 198272 + 2*128), 4 bytes each */
    CHECK(model_weights_bytes(w, "vision_model.") == 796800ull * 4);
    CHECK(model_weights_bytes(w, "nothing") == 0);
    model_weights_close(w);

    snprintf(dir, sizeof dir, "%s/clip-tiny-f16", fixtures);
    w = model_weights_open(dir, &err);
    CHECKF(w != NULL, "%s", err.msg);
    CHECK(model_weights_bytes(w, "vision_model.") == 796800ull * 2);
    model_weights_close(w);

    snprintf(dir, sizeof dir, "%s/clip-tiny-f32", fixtures);
    test_sharded(dir);
}

/* dtype checks need tensors the fixtures do not have */
static void test_dtypes(void)
{
    char *dir = temp_dir_make();
    int64_t ids[3] = { 1, 2, 3 };
    uint16_t halfs[2] = { 0x3F80, 0x4000 };
    test_tensor t[2] = {
        { "text_model.embeddings.position_ids", "I64", 1, { 3 }, ids, sizeof ids },
        { "w", "BF16", 2, { 1, 2 }, halfs, sizeof halfs },
    };
    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    st_write_file(path, t, 2);
    errbuf err = { "" };
    model_weights *w = model_weights_open(dir, &err);
    CHECKF(w != NULL, "%s", err.msg);
    const int64_t s3[1] = { 3 }, s12[2] = { 1, 2 };
    CHECK(model_weights_expect(w, "text_model.embeddings.position_ids", 1, s3, &err) == NULL);
    char want[1200];
    snprintf(want, sizeof want, "%s: tensor 'text_model.embeddings.position_ids' has dtype I64, "
             "expected F32, F16 or BF16", path);
    CHECKF(strcmp(err.msg, want) == 0, "got \"%s\"", err.msg);
    CHECK(model_weights_expect(w, "w", 2, s12, &err) != NULL);
    CHECK(model_weights_bytes(w, "") == 4); /* the I64 tensor does not count */
    model_weights_close(w);

    /* a directory with neither file */
    unlink(path);
    expect_open_error(dir, "model.safetensors", "cannot open");
    temp_dir_remove(dir);
}

int main(void)
{
    test_dtypes();
    const char *fixtures = getenv("VKCLIP_FIXTURES");
    if (!fixtures)
        SKIP("VKCLIP_FIXTURES is not set (run through meson test)");
    test_fixture(fixtures);
    return check_exit();
}
