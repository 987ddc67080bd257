/* config.json and preprocessor_config.json: the fixture (numbers from the
 * fixture README), the forms real downloads use, transformers' defaults and
 * override rule, and errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "model/config.h"

#define CHECK_MSG(msg, part) CHECKF(strstr((msg), (part)) != NULL, "message \"%s\" lacks \"%s\"", (msg), (part))

static bool parse(clip_config *c, const char *json, errbuf *err)
{
    return clip_config_parse(c, json, strlen(json), "config.json", err);
}

static void expect_config_error(const char *json, const char *part)
{
    clip_config c;
    errbuf err = { "" };
    CHECKF(!parse(&c, json, &err), "accepted %s", json);
    CHECKF(strncmp(err.msg, "config.json: ", 13) == 0, "\"%s\" does not name the file", err.msg);
    CHECK_MSG(err.msg, part);
}

static void check_tower(const clip_tower_config *t, int hidden, int inter, int heads, int layers,
                        clip_act act)
{
    CHECKF(t->hidden_size == hidden && t->intermediate_size == inter && t->num_heads == heads &&
               t->num_layers == layers && t->act == act && t->layer_norm_eps == 1e-5f,
           "got %d %d %d %d act %d eps %g", t->hidden_size, t->intermediate_size, t->num_heads,
           t->num_layers, (int)t->act, (double)t->layer_norm_eps);
}

static void test_fixture_config(const char *fixtures)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/clip-tiny-f32/config.json", fixtures);
    clip_config c;
    errbuf err = { "" };
    CHECKF(clip_config_load(&c, path, &err), "%s", err.msg);
    /* README: vision width 128, 2 layers, 2 heads, patch 32, image 224; text
     * width 64, 2 layers, 2 heads; embed 32; quick_gelu; vocabulary 49408.
     * MLP width is 4x (docs/clip-reference.md: fc1 [4D, D]). */
    check_tower(&c.vision, 128, 512, 2, 2, CLIP_ACT_QUICK_GELU);
    check_tower(&c.text, 64, 256, 2, 2, CLIP_ACT_QUICK_GELU);
    CHECK(c.projection_dim == 32 && c.image_size == 224 && c.patch_size == 32);
    CHECK(c.num_channels == 3 && c.vocab_size == 49408 && c.max_position_embeddings == 77);

    snprintf(path, sizeof path, "%s/clip-tiny-f32/preprocessor_config.json", fixtures);
    clip_preprocess_config pp;
    CHECKF(clip_preprocess_config_load(&pp, path, 224, &err), "%s", err.msg);
    /* CLIP's preprocessing, docs/clip-reference.md section 3 */
    CHECK(pp.shortest_edge == 224 && pp.crop_width == 224 && pp.crop_height == 224);
    CHECK(pp.resample == 3 && pp.do_resize && pp.do_center_crop && pp.do_rescale && pp.do_normalize);
    CHECK(fabsf(pp.rescale_factor - 1.0f / 255.0f) < 1e-9f);
    const float mean[3] = { 0.48145466f, 0.4578275f, 0.40821073f };
    const float std[3] = { 0.26862954f, 0.26130258f, 0.27577711f };
    CHECK(memcmp(pp.mean, mean, sizeof mean) == 0 && memcmp(pp.std, std, sizeof std) == 0);
}

static void test_forms(void)
{
    clip_config c;
    errbuf err = { "" };

    /* no keys at all: transformers' defaults, i.e. ViT-B/32 */
    CHECKF(parse(&c, "{}", &err), "%s", err.msg);
    check_tower(&c.text, 512, 2048, 8, 12, CLIP_ACT_QUICK_GELU);
    check_tower(&c.vision, 768, 3072, 12, 12, CLIP_ACT_QUICK_GELU);
    CHECK(c.projection_dim == 512 && c.image_size == 224 && c.patch_size == 32);
    CHECK(c.vocab_size == 49408 && c.max_position_embeddings == 77 && c.num_channels == 3);

    /* openai/clip-vit-base-patch32: full objects, *_config_dict null */
    CHECKF(parse(&c, "{\"projection_dim\": 512, \"text_config_dict\": null, \"vision_config_dict\": null,"
                     " \"text_config\": {\"hidden_size\": 512, \"intermediate_size\": 2048,"
                     " \"num_attention_heads\": 8, \"num_hidden_layers\": 12, \"hidden_act\": \"quick_gelu\","
                     " \"layer_norm_eps\": 1e-05, \"vocab_size\": 49408, \"max_position_embeddings\": 77},"
                     " \"vision_config\": {\"hidden_size\": 768, \"intermediate_size\": 3072,"
                     " \"num_attention_heads\": 12, \"num_hidden_layers\": 12, \"patch_size\": 32,"
                     " \"image_size\": 224, \"hidden_act\": \"quick_gelu\", \"layer_norm_eps\": 1e-05}}",
                 &err),
           "%s", err.msg);
    check_tower(&c.vision, 768, 3072, 12, 12, CLIP_ACT_QUICK_GELU);

    /* openai/clip-vit-large-patch14: *_config_dict beside full *_config */
    CHECKF(parse(&c, "{\"projection_dim\": 768,"
                     " \"text_config\": {\"hidden_size\": 768, \"intermediate_size\": 3072,"
                     " \"num_attention_heads\": 12, \"num_hidden_layers\": 12},"
                     " \"text_config_dict\": {\"hidden_size\": 768, \"intermediate_size\": 3072,"
                     " \"num_attention_heads\": 12, \"num_hidden_layers\": 12, \"projection_dim\": 768},"
                     " \"vision_config\": {\"hidden_size\": 1024, \"intermediate_size\": 4096,"
                     " \"num_attention_heads\": 16, \"num_hidden_layers\": 24, \"patch_size\": 14},"
                     " \"vision_config_dict\": {\"hidden_size\": 1024, \"intermediate_size\": 4096,"
                     " \"num_attention_heads\": 16, \"num_hidden_layers\": 24, \"patch_size\": 14,"
                     " \"projection_dim\": 768}}",
                 &err),
           "%s", err.msg);
    check_tower(&c.text, 768, 3072, 12, 12, CLIP_ACT_QUICK_GELU);
    check_tower(&c.vision, 1024, 4096, 16, 24, CLIP_ACT_QUICK_GELU);
    CHECK(c.projection_dim == 768 && c.patch_size == 14 && c.image_size == 224);

    /* transformers builds the tower from defaults + *_config_dict and lets
     * that replace every key of *_config: "gelu" and 1024 below are lost */
    CHECKF(parse(&c, "{\"text_config\": {\"hidden_size\": 1024, \"num_attention_heads\": 16,"
                     " \"hidden_act\": \"gelu\"},"
                     " \"text_config_dict\": {\"hidden_size\": 256, \"num_attention_heads\": 4}}",
                 &err),
           "%s", err.msg);
    check_tower(&c.text, 256, 2048, 4, 12, CLIP_ACT_QUICK_GELU);

    /* gelu (OpenCLIP/LAION), integral floats, unknown keys ignored */
    CHECKF(parse(&c, "{\"vision_config\": {\"hidden_act\": \"gelu\", \"hidden_size\": 1280.0,"
                     " \"num_attention_heads\": 16, \"image_size\": 336, \"patch_size\": 14,"
                     " \"layer_norm_eps\": 1e-6, \"whatever\": [1, {}]}, \"logit_scale_init_value\": 2.6592}",
                 &err),
           "%s", err.msg);
    CHECK(c.vision.act == CLIP_ACT_GELU && c.vision.hidden_size == 1280 && c.image_size == 336);
    CHECK(c.vision.layer_norm_eps == 1e-6f && c.text.act == CLIP_ACT_QUICK_GELU);

    /* a null *_config means defaults, as in transformers */
    CHECKF(parse(&c, "{\"text_config\": null, \"vision_config\": {\"hidden_size\": null}}", &err), "%s",
           err.msg);
    CHECK(c.text.hidden_size == 512 && c.vision.hidden_size == 768);
}

static void test_config_errors(void)
{
    expect_config_error("{\"a\" 1}", "config.json: invalid JSON at byte 5: expected ':'");
    expect_config_error("", "config.json: invalid JSON at byte 0");
    expect_config_error("[]", "top level is an array, expected an object");
    expect_config_error("{\"text_config\": {\"hidden_size\": \"big\"}}",
                        "text_config.hidden_size is a string, expected an integer");
    expect_config_error("{\"vision_config\": {\"num_hidden_layers\": 2.5}}",
                        "vision_config.num_hidden_layers is not an integer, expected an integer");
    expect_config_error("{\"vision_config_dict\": {\"patch_size\": true}}",
                        "vision_config_dict.patch_size is true, expected an integer");
    expect_config_error("{\"projection_dim\": \"512\"}", "config.json: projection_dim is a string");
    expect_config_error("{\"text_config\": {\"layer_norm_eps\": \"1e-5\"}}",
                        "text_config.layer_norm_eps is a string, expected a number");
    expect_config_error("{\"text_config\": 5}", "text_config is a number, expected an object");
    expect_config_error("{\"vision_config_dict\": []}", "vision_config_dict is an array, expected an object");
    expect_config_error("{\"vision_config\": {\"hidden_act\": \"relu\"}}",
                        "vision_config.hidden_act 'relu' is not supported (expected quick_gelu, gelu, gelu_pytorch_tanh or gelu_new)");
    expect_config_error("{\"text_config\": {\"hidden_act\": \"silu\"}}", "'silu' is not supported");
    expect_config_error("{\"text_config\": {\"hidden_act\": 1}}", "text_config.hidden_act is a number");
    expect_config_error("{\"text_config\": {\"hidden_size\": 100, \"num_attention_heads\": 3}}",
                        "text_config.hidden_size 100 is not divisible by num_attention_heads 3");
    expect_config_error("{\"text_config\": {\"hidden_size\": 20000}}", "text_config.hidden_size = 20000 is outside");
    expect_config_error("{\"text_config\": {\"hidden_size\": 0}}", "text_config.hidden_size = 0 is outside");
    expect_config_error("{\"text_config\": {\"hidden_size\": -64}}", "hidden_size = -64 is outside");
    expect_config_error("{\"text_config\": {\"hidden_size\": 1e12}}", "hidden_size = 1000000000000 is out of range");
    expect_config_error("{\"vision_config\": {\"num_hidden_layers\": 0}}", "num_hidden_layers = 0 is outside");
    expect_config_error("{\"vision_config\": {\"num_hidden_layers\": 1000}}", "num_hidden_layers = 1000 is outside");
    expect_config_error("{\"vision_config\": {\"num_attention_heads\": 0}}", "num_attention_heads = 0 is outside");
    expect_config_error("{\"vision_config\": {\"layer_norm_eps\": 0}}", "vision_config.layer_norm_eps 0 is not in (0, 1)");
    expect_config_error("{\"vision_config\": {\"layer_norm_eps\": -1e-5}}", "layer_norm_eps -1e-05 is not in (0, 1)");
    expect_config_error("{\"vision_config\": {\"num_channels\": 1}}", "vision_config.num_channels = 1 is outside [3, 3]");
    expect_config_error("{\"vision_config\": {\"patch_size\": 300}}", "vision_config.patch_size = 300 is outside [1, 224]");
    expect_config_error("{\"vision_config\": {\"image_size\": 5000}}", "vision_config.image_size = 5000 is outside");
    expect_config_error("{\"text_config\": {\"vocab_size\": 0}}", "text_config.vocab_size = 0 is outside");
    expect_config_error("{\"text_config\": {\"max_position_embeddings\": -1}}", "max_position_embeddings = -1 is outside");
    /* issue 8, item 11: a context of 1 (or 0) cannot hold the start and end tokens; it used to
     * load and fail every prompt later with an internal function's name */
    expect_config_error("{\"text_config\": {\"max_position_embeddings\": 1}}",
                        "text_config.max_position_embeddings = 1 is outside [2, 16384]: a prompt needs at least 2 positions");
    expect_config_error("{\"text_config\": {\"max_position_embeddings\": 0}}",
                        "max_position_embeddings = 0 is outside [2, 16384]");
    expect_config_error("{\"text_config\": {\"max_position_embeddings\": 16385}}",
                        "max_position_embeddings = 16385 is outside [2, 16384]");
    expect_config_error("{\"projection_dim\": 0}", "config.json: projection_dim = 0 is outside");

    clip_config c;
    errbuf err = { "" };
    CHECK(!clip_config_load(&c, "/nonexistent-vkclip/config.json", &err));
    CHECK_MSG(err.msg, "/nonexistent-vkclip/config.json: cannot open");
}

static bool pparse(clip_preprocess_config *pp, const char *json, int image_size, errbuf *err)
{
    return clip_preprocess_config_parse(pp, json, strlen(json), "preprocessor_config.json", image_size, err);
}

static void expect_pp_error(const char *json, const char *part)
{
    clip_preprocess_config pp;
    errbuf err = { "" };
    CHECKF(!pparse(&pp, json, 224, &err), "accepted %s", json);
    CHECKF(strncmp(err.msg, "preprocessor_config.json: ", 26) == 0, "\"%s\" does not name the file", err.msg);
    CHECK_MSG(err.msg, part);
}

static void test_preprocess(void)
{
    clip_preprocess_config pp;
    errbuf err = { "" };
    const float mean[3] = { 0.48145466f, 0.4578275f, 0.40821073f };
    const float std[3] = { 0.26862954f, 0.26130258f, 0.27577711f };

    /* no file: CLIP's values at the model's image size */
    CHECKF(clip_preprocess_config_load(&pp, "/nonexistent-vkclip/preprocessor_config.json", 336, &err),
           "%s", err.msg);
    CHECK(pp.shortest_edge == 336 && pp.crop_width == 336 && pp.crop_height == 336 && pp.resample == 3);
    CHECK(pp.do_resize && pp.do_center_crop && pp.do_rescale && pp.do_normalize);
    CHECK(memcmp(pp.mean, mean, sizeof mean) == 0 && memcmp(pp.std, std, sizeof std) == 0);
    CHECK(pp.rescale_factor == 1.0f / 255.0f);
    clip_preprocess_config dflt;
    clip_preprocess_config_default(&dflt, 336);
    CHECK(memcmp(&dflt, &pp, sizeof pp) == 0);

    /* old form: plain integers */
    CHECKF(pparse(&pp, "{\"size\": 336, \"crop_size\": 320, \"resample\": 2, \"do_center_crop\": false}", 224, &err),
           "%s", err.msg);
    CHECK(pp.shortest_edge == 336 && pp.crop_width == 320 && pp.crop_height == 320 && pp.resample == 2);
    CHECK(!pp.do_center_crop && pp.do_resize);

    /* new form */
    CHECKF(pparse(&pp, "{\"size\": {\"shortest_edge\": 224}, \"crop_size\": {\"height\": 200, \"width\": 210},"
                       " \"image_mean\": [0.5, 0.25, 0.125], \"image_std\": [2, 4, 8],"
                       " \"rescale_factor\": 0.5, \"do_normalize\": false}", 224, &err),
           "%s", err.msg);
    CHECK(pp.shortest_edge == 224 && pp.crop_height == 200 && pp.crop_width == 210);
    CHECK(pp.mean[0] == 0.5f && pp.mean[1] == 0.25f && pp.mean[2] == 0.125f);
    CHECK(pp.std[0] == 2.0f && pp.std[1] == 4.0f && pp.std[2] == 8.0f);
    CHECK(pp.rescale_factor == 0.5f && !pp.do_normalize);

    /* {"height", "width"} sizes read as the shorter side */
    CHECKF(pparse(&pp, "{\"size\": {\"height\": 384, \"width\": 256}}", 224, &err), "%s", err.msg);
    CHECK(pp.shortest_edge == 256 && pp.crop_width == 224);

    /* one number for all channels; missing keys keep the image-size defaults */
    CHECKF(pparse(&pp, "{\"image_mean\": 0.5, \"image_std\": 0.5}", 336, &err), "%s", err.msg);
    CHECK(pp.mean[2] == 0.5f && pp.std[1] == 0.5f && pp.shortest_edge == 336 && pp.crop_height == 336);

    expect_pp_error("{\"image_std\": [0.2, 0, 0.2]}", "image_std[1] is zero");
    expect_pp_error("{\"image_std\": 0}", "image_std[0] is zero");
    expect_pp_error("{\"image_mean\": [0.5, 0.5]}", "image_mean must be an array of 3 numbers");
    expect_pp_error("{\"image_std\": [0.5, \"x\", 0.5]}", "image_std[1] is a string, expected a number");
    expect_pp_error("{\"image_mean\": \"imagenet\"}", "image_mean must be an array of 3 numbers");
    expect_pp_error("{\"resample\": 9}", "resample = 9 is outside [0, 5]");
    expect_pp_error("{\"resample\": \"bicubic\"}", "resample is a string, expected an integer");
    expect_pp_error("{\"size\": \"big\"}", "size is a string, expected an integer or an object");
    expect_pp_error("{\"size\": {\"longest_edge\": 5}}", "size is an object, expected an integer or an object with");
    expect_pp_error("{\"size\": {\"shortest_edge\": 0}}", "size = 0 is outside");
    expect_pp_error("{\"size\": {\"shortest_edge\": 1.5}}", "size.shortest_edge is not an integer");
    expect_pp_error("{\"crop_size\": {\"height\": 224}}", "crop_size is an object, expected an integer or an object with height");
    expect_pp_error("{\"crop_size\": {\"height\": 224, \"width\": -1}}", "crop_size width = -1 is outside");
    expect_pp_error("{\"crop_size\": [224, 224]}", "crop_size is an array");
    expect_pp_error("{\"do_resize\": \"yes\"}", "do_resize is a string, expected true or false");
    expect_pp_error("{\"do_rescale\": 1}", "do_rescale is a number, expected true or false");
    expect_pp_error("{\"rescale_factor\": 0}", "rescale_factor 0 is not a positive number");
    expect_pp_error("{\"rescale_factor\": 1e300}", "rescale_factor inf is not a positive number");
    expect_pp_error("{\"image_mean\": [1e300, 0, 0]}", "image_mean[0] is not finite");
    expect_pp_error("[1]", "top level is an array");
    expect_pp_error("{,}", "preprocessor_config.json: invalid JSON at byte 1");
}

/* Dinov2Config as transformers defines it: one tower at the top level, the
 * MLP hidden_size * mlp_ratio truncated, the embedding the hidden size. */
static void test_dinov2(void)
{
    clip_config c;
    errbuf err = { "" };
    CHECKF(parse(&c, "{\"model_type\": \"dinov2\"}", &err), "%s", err.msg);
    CHECK(c.family == &family_dinov2 && !c.family->has_text);
    CHECKF(c.vision.hidden_size == 768 && c.vision.intermediate_size == 3072 && c.vision.num_heads == 12 &&
               c.vision.num_layers == 12 && c.vision.act == CLIP_ACT_GELU && c.vision.layer_norm_eps == 1e-6f,
           "defaults %d %d %d %d", c.vision.hidden_size, c.vision.intermediate_size, c.vision.num_heads,
           c.vision.num_layers);
    CHECK(c.image_size == 224 && c.patch_size == 14 && c.position_grid == 16 && c.register_tokens == 0 &&
          c.qkv_bias && c.projection_dim == 768);
    /* facebook/dinov2-small's numbers; 384 * 2.5 = 960, 100 * 2.55 = 254.99... -> 254 */
    CHECKF(parse(&c, "{\"model_type\": \"dinov2\", \"hidden_size\": 384, \"num_attention_heads\": 6, "
                     "\"image_size\": 518, \"patch_size\": 14, \"mlp_ratio\": 2.5, \"qkv_bias\": false}", &err),
           "%s", err.msg);
    CHECK(c.vision.intermediate_size == 960 && c.position_grid == 37 && !c.qkv_bias && c.projection_dim == 384);
    CHECKF(parse(&c, "{\"model_type\": \"dinov2\", \"hidden_size\": 100, \"num_attention_heads\": 4, "
                     "\"mlp_ratio\": 2.55}", &err), "%s", err.msg);
    CHECKF(c.vision.intermediate_size == 254, "int(100 * 2.55) is 254, got %d", c.vision.intermediate_size);
    /* The registers config: 4 registers and patch 16 by default. */
    CHECKF(parse(&c, "{\"model_type\": \"dinov2_with_registers\"}", &err), "%s", err.msg);
    CHECK(c.family == &family_dinov2_registers && c.register_tokens == 4 && c.patch_size == 16);
    CHECKF(parse(&c, "{\"model_type\": \"dinov2_with_registers\", \"num_register_tokens\": 0}", &err), "%s",
           err.msg);
    CHECK(c.register_tokens == 0);
    /* A plain model's num_register_tokens means nothing (transformers ignores it). */
    CHECKF(parse(&c, "{\"model_type\": \"dinov2\", \"num_register_tokens\": 4}", &err), "%s", err.msg);
    CHECK(c.register_tokens == 0);
    /* giant: 1536 * 4 = 6144, two thirds 4096, already a multiple of 8 */
    CHECKF(parse(&c, "{\"model_type\": \"dinov2\", \"hidden_size\": 1536, \"num_attention_heads\": 24, "
                     "\"use_swiglu_ffn\": true}", &err), "%s", err.msg);
    CHECK(c.vision.swiglu && c.vision.intermediate_size == 4096);
    CHECKF(parse(&c, "{\"model_type\": \"dinov2\", \"hidden_size\": 64, \"num_attention_heads\": 4, "
                     "\"use_swiglu_ffn\": true}", &err), "%s", err.msg);
    CHECKF(c.vision.intermediate_size == 176, "(int(256 * 2 / 3) + 7) // 8 * 8 is 176, got %d",
           c.vision.intermediate_size);
    expect_config_error("{\"model_type\": \"dinov2\", \"mlp_ratio\": 0}", "mlp_ratio");
    expect_config_error("{\"model_type\": \"siglip2\"}", "model_type 'siglip2' (SigLIP 2 NaFlex: variable resolution "
                                                       "and aspect) is not supported");
    expect_config_error("{\"model_type\": \"blip\"}",
                        "model_type 'blip' is not supported (expected clip, siglip, dinov2 or dinov2_with_registers)");
    expect_config_error("{\"model_type\": 3}", "model_type is a number");
    CHECKF(parse(&c, "{\"model_type\": \"clip\"}", &err) && c.family == &family_clip && c.family->has_text, "%s",
           err.msg);
}

/* SiglipConfig: CLIP's keys with SigLIP's defaults (tanh GELU, eps 1e-6,
 * patch 16, 64 text positions, 32000 tokens); the embedding is the vision
 * tower's width (the pooling head's output). */
static void test_siglip(void)
{
    clip_config c;
    errbuf err = { "" };
    CHECKF(parse(&c, "{\"model_type\": \"siglip\"}", &err), "%s", err.msg);
    CHECK(c.family == &family_siglip && c.vision.act == CLIP_ACT_GELU_TANH && c.text.act == CLIP_ACT_GELU_TANH &&
          c.vision.layer_norm_eps == 1e-6f && c.patch_size == 16 && c.image_size == 224 && c.position_grid == 14 &&
          c.max_position_embeddings == 64 && c.vocab_size == 32000 && c.projection_dim == 768);
    CHECKF(parse(&c, "{\"model_type\": \"siglip\", \"vision_config\": {\"hidden_size\": 1152, "
                     "\"num_attention_heads\": 16, \"intermediate_size\": 4304, \"image_size\": 384, "
                     "\"patch_size\": 14, \"hidden_act\": \"gelu_pytorch_tanh\"}}", &err), "%s", err.msg);
    CHECK(c.vision.hidden_size == 1152 && c.projection_dim == 1152 && c.position_grid == 27);
    expect_config_error("{\"model_type\": \"siglip\", \"vision_config\": {\"vision_use_head\": false}}",
                        "vision_config.vision_use_head is false");
}

int main(void)
{
    test_forms();
    test_dinov2();
    test_siglip();
    test_config_errors();
    test_preprocess();
    const char *fixtures = getenv("VKCLIP_FIXTURES");
    if (!fixtures)
        SKIP("VKCLIP_FIXTURES is not set (run through meson test)");
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/clip-tiny-f32/config.json", fixtures);
    FILE *f = fopen(probe, "r");
    if (!f)
        SKIP("fixtures absent at %s", fixtures);
    fclose(f);
    test_fixture_config(fixtures);
    return check_exit();
}
