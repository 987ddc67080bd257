/* safetensors: the fixture models (names and shapes derived from the fixture
 * README's dimensions; F16 values against the F32 file rounded to half), and
 * hand-made files for every error path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "model/dtype.h"
#include "model/safetensors.h"
#include "test_files.h"

/* ---- the fixture models ------------------------------------------------ */

typedef struct expected {
    char name[96];
    int ndim;
    int64_t shape[4];
} expected;

static void add(expected *e, size_t *n, const char *name, int ndim, int64_t a, int64_t b,
                int64_t c, int64_t d)
{
    snprintf(e[*n].name, sizeof e[*n].name, "%s", name);
    e[*n].ndim = ndim;
    int64_t s[4] = { a, b, c, d };
    memcpy(e[*n].shape, s, sizeof s);
    (*n)++;
}

static void add_block(expected *e, size_t *n, const char *tower, int layer, int64_t d)
{
    char p[96];
    static const char *proj[] = { "q_proj", "k_proj", "v_proj", "out_proj" };
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s.encoder.layers.%d.layer_norm%d.weight", tower, layer, i + 1);
        add(e, n, p, 1, d, 0, 0, 0);
        snprintf(p, sizeof p, "%s.encoder.layers.%d.layer_norm%d.bias", tower, layer, i + 1);
        add(e, n, p, 1, d, 0, 0, 0);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s.encoder.layers.%d.self_attn.%s.weight", tower, layer, proj[i]);
        add(e, n, p, 2, d, d, 0, 0);
        snprintf(p, sizeof p, "%s.encoder.layers.%d.self_attn.%s.bias", tower, layer, proj[i]);
        add(e, n, p, 1, d, 0, 0, 0);
    }
    snprintf(p, sizeof p, "%s.encoder.layers.%d.mlp.fc1.weight", tower, layer);
    add(e, n, p, 2, 4 * d, d, 0, 0);
    snprintf(p, sizeof p, "%s.encoder.layers.%d.mlp.fc1.bias", tower, layer);
    add(e, n, p, 1, 4 * d, 0, 0, 0);
    snprintf(p, sizeof p, "%s.encoder.layers.%d.mlp.fc2.weight", tower, layer);
    add(e, n, p, 2, d, 4 * d, 0, 0);
    snprintf(p, sizeof p, "%s.encoder.layers.%d.mlp.fc2.bias", tower, layer);
    add(e, n, p, 1, d, 0, 0, 0);
}

/* The tensor list of the tiny CLIP from fixtures/README.md: vision width 128,
 * 2 layers, patch 32, image 224 (1 + 7*7 = 50 positions); text width 64,
 * 2 layers, 77 positions, vocabulary 49408; embed 32. Names and layouts from
 * docs/clip-reference.md section 1. 16 tensors a block: 3 + 2 + 32 + 2 + 1 = 40
 * vision, 2 + 32 + 2 + 1 = 37 text, plus logit_scale: 78. */
static size_t tiny_clip_tensors(expected *e)
{
    size_t n = 0;
    const int64_t dv = 128, dt = 64, p = 32, emb = 32;
    add(e, &n, "vision_model.embeddings.class_embedding", 1, dv, 0, 0, 0);
    add(e, &n, "vision_model.embeddings.patch_embedding.weight", 4, dv, 3, p, p);
    add(e, &n, "vision_model.embeddings.position_embedding.weight", 2, 50, dv, 0, 0);
    add(e, &n, "vision_model.pre_layrnorm.weight", 1, dv, 0, 0, 0);
    add(e, &n, "vision_model.pre_layrnorm.bias", 1, dv, 0, 0, 0);
    for (int l = 0; l < 2; l++)
        add_block(e, &n, "vision_model", l, dv);
    add(e, &n, "vision_model.post_layernorm.weight", 1, dv, 0, 0, 0);
    add(e, &n, "vision_model.post_layernorm.bias", 1, dv, 0, 0, 0);
    add(e, &n, "visual_projection.weight", 2, emb, dv, 0, 0);
    add(e, &n, "text_model.embeddings.token_embedding.weight", 2, 49408, dt, 0, 0);
    add(e, &n, "text_model.embeddings.position_embedding.weight", 2, 77, dt, 0, 0);
    for (int l = 0; l < 2; l++)
        add_block(e, &n, "text_model", l, dt);
    add(e, &n, "text_model.final_layer_norm.weight", 1, dt, 0, 0, 0);
    add(e, &n, "text_model.final_layer_norm.bias", 1, dt, 0, 0, 0);
    add(e, &n, "text_projection.weight", 2, emb, dt, 0, 0);
    return n;
}

static void check_fixture(const st_file *f, st_dtype dtype, size_t esize)
{
    expected e[128];
    size_t n = tiny_clip_tensors(e);
    CHECK(n == 77);
    CHECKF(f->count == 78, "%zu tensors", f->count);
    for (size_t i = 0; i < n; i++) {
        const st_tensor *t = st_find(f, e[i].name);
        CHECKF(t != NULL, "%s missing", e[i].name);
        if (!t)
            continue;
        CHECKF(t->dtype == dtype && t->ndim == e[i].ndim, "%s", e[i].name);
        int64_t numel = 1;
        for (int d = 0; d < e[i].ndim; d++) {
            CHECKF(t->shape[d] == e[i].shape[d], "%s dim %d", e[i].name, d);
            numel *= e[i].shape[d];
        }
        CHECK(t->numel == numel && t->nbytes == (size_t)numel * esize);
    }
    /* logit_scale is ln(1/0.07) = 2.65926 (README); its shape is [] or [1] */
    const st_tensor *ls = st_find(f, "logit_scale");
    CHECK(ls && ls->numel == 1 && ls->ndim <= 1);
    if (ls) {
        float v;
        convert_to_f32(ls, &v);
        CHECKF(fabsf(v - logf(1.0f / 0.07f)) < 2e-3f, "logit_scale %g", (double)v);
    }
    /* tensors are sorted by name and their data lies inside the mapping */
    for (size_t i = 0; i < f->count; i++) {
        const st_tensor *t = &f->tensors[i];
        if (i)
            CHECK(strcmp(f->tensors[i - 1].name, t->name) < 0);
        const unsigned char *p = t->data;
        CHECK(p >= f->map.data && p + t->nbytes <= f->map.data + f->map.size);
    }
}

/* The F16 file was written by PyTorch from the same weights: each value must
 * be the F32 value rounded to nearest even half. */
static void check_f16_matches_f32(const st_file *f32, const st_file *f16)
{
    size_t checked = 0, mismatches = 0;
    for (size_t i = 0; i < f32->count; i++) {
        const st_tensor *a = &f32->tensors[i];
        const st_tensor *b = st_find(f16, a->name);
        CHECKF(b && b->numel == a->numel, "%s", a->name);
        if (!b || b->numel != a->numel)
            continue;
        float *fa = malloc((size_t)a->numel * sizeof *fa);
        uint16_t *ha = malloc((size_t)a->numel * sizeof *ha);
        float *fb = malloc((size_t)b->numel * sizeof *fb);
        convert_to_f32(a, fa);
        convert_to_f16(a, ha);
        convert_to_f32(b, fb);
        for (int64_t k = 0; k < a->numel; k++) {
            uint16_t hb;
            memcpy(&hb, (const unsigned char *)b->data + 2 * k, 2);
            if (ha[k] != hb || f16_to_f32(ha[k]) != fb[k])
                mismatches++;
            checked++;
        }
        free(fa);
        free(ha);
        free(fb);
    }
    CHECKF(mismatches == 0, "%zu of %zu values differ", mismatches, checked);
    CHECK(checked > 3000000); /* every weight of the tiny model */
}

static void test_fixtures(void)
{
    const char *fixtures = getenv("VKCLIP_FIXTURES");
    if (!fixtures)
        SKIP("VKCLIP_FIXTURES is not set (run through meson test)");
    char p32[1024], p16[1024];
    snprintf(p32, sizeof p32, "%s/clip-tiny-f32/model.safetensors", fixtures);
    snprintf(p16, sizeof p16, "%s/clip-tiny-f16/model.safetensors", fixtures);
    errbuf err = { "" };
    st_file *f32 = st_open(p32, &err);
    if (!f32 && strstr(err.msg, "cannot open"))
        SKIP("fixtures absent: %s", err.msg);
    CHECKF(f32 != NULL, "%s", err.msg);
    st_file *f16 = st_open(p16, &err);
    CHECKF(f16 != NULL, "%s", err.msg);
    if (f32)
        check_fixture(f32, ST_F32, 4);
    if (f16)
        check_fixture(f16, ST_F16, 2);
    if (f32 && f16)
        check_f16_matches_f32(f32, f16);
    st_close(f32);
    st_close(f16);
}

/* ---- hand-made files ---------------------------------------------------- */

/* A well-formed file with what real writers do: tensors listed out of
 * offset order, padding between and after them, a scalar, an empty tensor,
 * metadata with non-string values, header padded with spaces. */
static void test_good_file(void)
{
    const char *hdr = "{\"__metadata__\":{\"format\":\"pt\",\"n\":1},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                      "\"a\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[0,2]},"
                      "\"z\":{\"dtype\":\"I8\",\"shape\":[0,3],\"data_offsets\":[2,2]},"
                      "\"y\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[2,3],\"extra\":0}}    ";
    unsigned char data[24] = { 0 };
    data[0] = 0x00, data[1] = 0x3C; /* half 1.0 */
    data[2] = 1;
    float b[2] = { 1.5f, -2.0f };
    memcpy(data + 8, b, sizeof b);
    size_t size;
    unsigned char *img = st_image_ok(hdr, data, sizeof data, &size);
    errbuf err = { "" };
    st_file *f = st_parse(img, size, "good.safetensors", &err);
    CHECKF(f != NULL, "%s", err.msg);
    if (f) {
        CHECK(f->count == 4);
        CHECK(strcmp(f->path, "good.safetensors") == 0);
        const unsigned char *base = img + 8 + strlen(hdr);
        const st_tensor *ta = st_find(f, "a"), *tb = st_find(f, "b"), *tz = st_find(f, "z");
        const st_tensor *ty = st_find(f, "y");
        CHECK(ta && ta->dtype == ST_F16 && ta->ndim == 0 && ta->numel == 1 && ta->data == base);
        CHECK(tb && tb->dtype == ST_F32 && tb->ndim == 1 && tb->shape[0] == 2 && tb->data == base + 8);
        CHECK(tz && tz->dtype == ST_I8 && tz->ndim == 2 && tz->numel == 0 && tz->nbytes == 0);
        CHECK(ty && ty->dtype == ST_BOOL && ty->nbytes == 1);
        CHECK(st_find(f, "__metadata__") == NULL);
        CHECK(st_find(f, "c") == NULL && st_find(f, "") == NULL);
        if (ta && tb) {
            float va, vb[2];
            convert_to_f32(ta, &va);
            convert_to_f32(tb, vb);
            CHECK(va == 1.0f && vb[0] == 1.5f && vb[1] == -2.0f);
        }
    }
    st_close(f);
    free(img);

    /* no tensors at all is a valid (empty) file */
    img = st_image_ok("{}", NULL, 0, &size);
    f = st_parse(img, size, "empty.safetensors", &err);
    CHECK(f && f->count == 0 && st_find(f, "x") == NULL);
    st_close(f);
    free(img);

    /* every dtype name the format defines, with its size */
    static const struct { const char *name; st_dtype dt; size_t size; } dts[] = {
        { "F32", ST_F32, 4 }, { "F16", ST_F16, 2 }, { "BF16", ST_BF16, 2 }, { "F64", ST_F64, 8 },
        { "I64", ST_I64, 8 }, { "I32", ST_I32, 4 }, { "I16", ST_I16, 2 }, { "I8", ST_I8, 1 },
        { "U64", ST_U64, 8 }, { "U32", ST_U32, 4 }, { "U16", ST_U16, 2 }, { "U8", ST_U8, 1 },
        { "BOOL", ST_BOOL, 1 }, { "F8_E4M3", ST_F8_E4M3, 1 }, { "F8_E5M2", ST_F8_E5M2, 1 },
    };
    for (size_t i = 0; i < sizeof dts / sizeof dts[0]; i++) {
        char h[160];
        snprintf(h, sizeof h, "{\"t\":{\"dtype\":\"%s\",\"shape\":[3],\"data_offsets\":[0,%zu]}}",
                 dts[i].name, 3 * dts[i].size);
        unsigned char zeros[24] = { 0 };
        img = st_image_ok(h, zeros, 3 * dts[i].size, &size);
        f = st_parse(img, size, "dt.safetensors", &err);
        CHECKF(f && f->tensors[0].dtype == dts[i].dt && f->tensors[0].nbytes == 3 * dts[i].size,
               "%s: %s", dts[i].name, f ? "" : err.msg);
        CHECK(strcmp(st_dtype_name(dts[i].dt), dts[i].name) == 0);
        CHECK(st_dtype_size(dts[i].dt) == dts[i].size);
        CHECK(st_dtype_is_float_weight(dts[i].dt) == (i < 3));
        st_close(f);
        free(img);
    }
}

/* Writes the file into dir, opens it with st_open and checks the message
 * names the file and holds `problem`. */
static void expect_open_error(const char *dir, const unsigned char *bytes, size_t n,
                              const char *problem)
{
    const char *path = write_bytes(dir, "bad.safetensors", bytes, n);
    errbuf err = { "" };
    st_file *f = st_open(path, &err);
    CHECKF(f == NULL, "accepted a file that should fail with \"%s\"", problem);
    st_close(f);
    CHECKF(strncmp(err.msg, path, strlen(path)) == 0 && err.msg[strlen(path)] == ':',
           "message \"%s\" does not start with the path", err.msg);
    CHECK_MSG(err.msg, problem);
    CHECKF(strchr(err.msg, '\n') == NULL, "multi-line message \"%s\"", err.msg);
}

static void expect_header_error(const char *dir, const char *hdr, size_t data_len,
                                const char *problem)
{
    unsigned char *data = calloc(1, data_len + 1);
    size_t size;
    unsigned char *img = st_image_ok(hdr, data, data_len, &size);
    expect_open_error(dir, img, size, problem);
    free(img);
    free(data);
}

#define ENTRY(name, dtype, shape, offs) \
    "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offs "}"

static void test_bad_files(void)
{
    char *dir = temp_dir_make();
    size_t size;
    unsigned char *img;

    expect_open_error(dir, (const unsigned char *)"", 0, "file is 0 bytes, too small");
    expect_open_error(dir, (const unsigned char *)"\x10\0\0\0\0", 5, "file is 5 bytes, too small");

    img = st_image("{}", 100, NULL, 0, &size); /* N = 100 but 2 bytes follow */
    expect_open_error(dir, img, size, "header length 100 exceeds file size 10");
    free(img);
    img = st_image("{}", UINT64_MAX, NULL, 0, &size);
    expect_open_error(dir, img, size, "header length 18446744073709551615 exceeds the limit");
    free(img);
    img = st_image("{}", 200000000, NULL, 0, &size);
    expect_open_error(dir, img, size, "header length 200000000 exceeds the limit of 100000000 bytes");
    free(img);

    expect_header_error(dir, "{\"a\" 1}", 0, "header: invalid JSON at byte 5");
    expect_header_error(dir, "\x01\x02garbage", 0, "header: invalid JSON at byte 0");
    expect_header_error(dir, "", 0, "header: invalid JSON at byte 0: unexpected end");
    expect_header_error(dir, "[1,2]", 0, "header is an array, expected an object");
    expect_header_error(dir, "\"text\"", 0, "header is a string, expected an object");
    expect_header_error(dir, "{\"__metadata__\":[1]}", 0, "\"__metadata__\" is an array");
    expect_header_error(dir, "{\"w\":[]}", 0, "tensor 'w': entry is an array, expected an object");
    expect_header_error(dir, "{" ENTRY("w", "F12", "[2]", "[0,8]") "}", 8,
                        "unknown dtype 'F12' for tensor 'w'");
    expect_header_error(dir, "{" ENTRY("w", "f32", "[2]", "[0,8]") "}", 8,
                        "unknown dtype 'f32' for tensor 'w'");
    expect_header_error(dir, "{\"w\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                        "tensor 'w': \"dtype\" is not a string");
    expect_header_error(dir, "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                        "tensor 'w': \"dtype\" is missing");
    expect_header_error(dir, "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8,
                        "tensor 'w': \"shape\" is missing");
    expect_header_error(dir, "{" ENTRY("w", "F32", "2", "[0,8]") "}", 8,
                        "tensor 'w': \"shape\" is not an array");
    expect_header_error(dir, "{" ENTRY("w", "F32", "[-2]", "[0,8]") "}", 8,
                        "tensor 'w': shape[0] is not a non-negative integer");
    expect_header_error(dir, "{" ENTRY("w", "F32", "[1,2.5]", "[0,8]") "}", 8,
                        "tensor 'w': shape[1] is not a non-negative integer");
    expect_header_error(dir, "{" ENTRY("w", "F32", "[\"2\"]", "[0,8]") "}", 8,
                        "tensor 'w': shape[0] is not a non-negative integer");
    expect_header_error(dir, "{" ENTRY("w", "F32", "[1,1,1,1,1,1,1,1,2]", "[0,8]") "}", 8,
                        "tensor 'w': shape has 9 dimensions (at most 8 supported)");
    expect_header_error(dir, "{" ENTRY("w", "F32", "[4294967296,4294967296,16]", "[0,8]") "}", 8,
                        "tensor 'w': element count overflows 64 bits");
    expect_header_error(dir, "{" ENTRY("w", "F64", "[4294967296,1073741824]", "[0,8]") "}", 8,
                        "tensor 'w': byte size overflows 64 bits");
    expect_header_error(dir, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8,
                        "tensor 'w': \"data_offsets\" is missing");
    expect_header_error(dir, "{" ENTRY("w", "F32", "[2]", "[0,8,9]") "}", 8,
                        "tensor 'w': \"data_offsets\" must be [begin, end]");
    expect_header_error(dir, "{" ENTRY("w", "F32", "[2]", "[-8,0]") "}", 8,
                        "tensor 'w': \"data_offsets\" must be [begin, end]");
    expect_header_error(dir, "{" ENTRY("w", "F32", "[2]", "[0.5,8]") "}", 8,
                        "tensor 'w': \"data_offsets\" must be [begin, end]");
    expect_header_error(dir, "{" ENTRY("w", "F32", "[2]", "{}") "}", 8,
                        "tensor 'w': \"data_offsets\" must be [begin, end]");
    expect_header_error(dir, "{" ENTRY("w", "F32", "[20]", "[0,80]") "}", 40,
                        "tensor 'w' data_offsets [0, 80] end past the data (40 bytes)");
    expect_header_error(dir, "{" ENTRY("w", "F32", "[2]", "[0,8]") "}", 7,
                        "tensor 'w' data_offsets [0, 8] end past the data (7 bytes)");
    expect_header_error(dir, "{" ENTRY("w", "F32", "[1]", "[8,4]") "}", 16,
                        "tensor 'w' data_offsets [8, 4]: begin after end");
    expect_header_error(dir, "{" ENTRY("w", "F32", "[3]", "[0,8]") "}", 16,
                        "tensor 'w' data_offsets [0, 8] hold 8 bytes but its shape and dtype F32 need 12");
    expect_header_error(dir, "{" ENTRY("w", "F32", "[2]", "[0,8]") "," ENTRY("w", "F32", "[2]", "[8,16]") "}",
                        16, "duplicate key \"w\"");
    expect_header_error(dir, "{" ENTRY("a", "F32", "[2]", "[0,8]") "," ENTRY("b", "F32", "[2]", "[4,12]") "}",
                        16, "tensors 'a' [0, 8] and 'b' [4, 12] overlap in the data");
    /* overlap found even when a long tensor covers a later short one */
    expect_header_error(dir, "{" ENTRY("big", "F32", "[4]", "[0,16]") "," ENTRY("c", "F32", "[1]", "[4,8]")
                        "," ENTRY("d", "F32", "[1]", "[12,16]") "}",
                        16, "tensors 'big' [0, 16] and 'c' [4, 8] overlap");
    expect_header_error(dir, "{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                        "tensor name 'a?b' contains a NUL byte");

    /* a missing file */
    errbuf err = { "" };
    char path[1024];
    snprintf(path, sizeof path, "%s/absent.safetensors", dir);
    CHECK(st_open(path, &err) == NULL);
    CHECK_MSG(err.msg, path);
    CHECK_MSG(err.msg, "cannot open");

    /* st_parse: same checks on a caller buffer, named by the caller */
    img = st_image("{}", 100, NULL, 0, &size);
    CHECK(st_parse(img, size, "buffer", &err) == NULL);
    CHECK(strcmp(err.msg, "buffer: header length 100 exceeds file size 10") == 0);
    free(img);
    /* and with err == NULL nothing breaks */
    CHECK(st_parse("", 0, "buffer", NULL) == NULL);

    temp_dir_remove(dir);
}

/* Zero-size tensors may sit anywhere, even on top of others; touching
 * ranges are not an overlap. */
static void test_edges(void)
{
    const char *hdr = "{" ENTRY("a", "F32", "[2]", "[0,8]") "," ENTRY("b", "F32", "[2]", "[8,16]")
                      "," ENTRY("e", "F32", "[0]", "[4,4]") "," ENTRY("f", "U8", "[0,7]", "[16,16]") "}";
    unsigned char data[16] = { 0 };
    size_t size;
    unsigned char *img = st_image_ok(hdr, data, sizeof data, &size);
    errbuf err = { "" };
    st_file *f = st_parse(img, size, "edges", &err);
    CHECKF(f && f->count == 4, "%s", err.msg);
    st_close(f);
    free(img);
}

int main(void)
{
    test_good_file();
    test_bad_files();
    test_edges();
    test_fixtures(); /* last: it may SKIP */
    return check_exit();
}
