/* config.c: config.json and preprocessor_config.json, read as Hugging Face
 * transformers reads them, then range-checked. */
#include "model/config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/json.h"
#include "util/mapped_file.h"

/* Where a value came from, for messages: "<file>: <section>.<key> ...". */
typedef struct source {
    const char *file;
    const char *section; /* "" at the top level */
} source;

static const char *dot(const source *s)
{
    return s->section[0] ? "." : "";
}

/* A present integer key into *out (absent keys leave *out alone). A JSON null
 * counts as absent: transformers replaces None with the default too. */
static bool read_int(const json_value *obj, const char *key, int *out, const source *s,
                     errbuf *err)
{
    const json_value *v = json_get(obj, key);
    if (!v || v->type == JSON_NULL)
        return true;
    int64_t n;
    if (!json_integer(v, &n))
        return errbuf_set(err, "%s: %s%s%s is %s, expected an integer", s->file, s->section,
                          dot(s), key, v->type == JSON_NUMBER ? "not an integer" : json_type_phrase(v->type));
    if (n < INT_MIN || n > INT_MAX)
        return errbuf_set(err, "%s: %s%s%s = %lld is out of range", s->file, s->section, dot(s),
                          key, (long long)n);
    *out = (int)n;
    return true;
}

static bool read_float(const json_value *obj, const char *key, float *out, const source *s,
                       errbuf *err)
{
    const json_value *v = json_get(obj, key);
    if (!v || v->type == JSON_NULL)
        return true;
    if (v->type != JSON_NUMBER)
        return errbuf_set(err, "%s: %s%s%s is %s, expected a number", s->file, s->section,
                          dot(s), key, json_type_phrase(v->type));
    *out = (float)v->number;
    return true;
}

/* As read_float, kept in double (transformers multiplies in double). */
static bool read_double(const json_value *obj, const char *key, double *out, const source *s, errbuf *err)
{
    const json_value *v = json_get(obj, key);
    if (!v || v->type == JSON_NULL)
        return true;
    if (v->type != JSON_NUMBER)
        return errbuf_set(err, "%s: %s%s%s is %s, expected a number", s->file, s->section, dot(s), key,
                          json_type_phrase(v->type));
    *out = v->number;
    return true;
}

static bool read_bool(const json_value *obj, const char *key, bool *out, const source *s,
                      errbuf *err)
{
    const json_value *v = json_get(obj, key);
    if (!v || v->type == JSON_NULL)
        return true;
    if (v->type != JSON_TRUE && v->type != JSON_FALSE)
        return errbuf_set(err, "%s: %s%s%s is %s, expected true or false", s->file, s->section,
                          dot(s), key, json_type_phrase(v->type));
    *out = v->type == JSON_TRUE;
    return true;
}

static bool read_act(const json_value *obj, clip_act *out, const source *s, errbuf *err)
{
    const json_value *v = json_get(obj, "hidden_act");
    if (!v || v->type == JSON_NULL)
        return true;
    if (v->type != JSON_STRING)
        return errbuf_set(err, "%s: %s%shidden_act is %s, expected a string", s->file, s->section, dot(s),
                          json_type_phrase(v->type));
    if (strcmp(v->str, "quick_gelu") == 0 && v->str_len == 10)
        *out = CLIP_ACT_QUICK_GELU;
    else if (strcmp(v->str, "gelu") == 0 && v->str_len == 4)
        *out = CLIP_ACT_GELU;
    else if ((strcmp(v->str, "gelu_pytorch_tanh") == 0 || strcmp(v->str, "gelu_new") == 0) &&
             strlen(v->str) == v->str_len)
        *out = CLIP_ACT_GELU_TANH;
    else {
        char shown[48];
        json_printable(shown, sizeof shown, v->str, v->str_len);
        return errbuf_set(err, "%s: %s%shidden_act '%s' is not supported "
                               "(expected quick_gelu, gelu, gelu_pytorch_tanh or gelu_new)",
                          s->file, s->section, dot(s), shown);
    }
    return true;
}

static bool check_range(int v, int lo, int hi, const char *key, const source *s, errbuf *err)
{
    if (v < lo || v > hi)
        return errbuf_set(err, "%s: %s%s%s = %d is outside [%d, %d]", s->file, s->section, dot(s),
                          key, v, lo, hi);
    return true;
}

/* The text context: every prompt is <|startoftext|> ... <|endoftext|>, so
 * fewer than 2 positions leave no room even for an empty prompt. */
static bool check_context(int v, const source *s, errbuf *err)
{
    if (v < 2)
        return errbuf_set(err, "%s: %s%smax_position_embeddings = %d is outside [2, 16384]: a prompt needs at "
                          "least 2 positions (the start and end tokens)", s->file, s->section, dot(s), v);
    return check_range(v, 2, 16384, "max_position_embeddings", s, err);
}

static bool read_tower(const json_value *obj, clip_tower_config *t, const source *s, errbuf *err)
{
    return read_int(obj, "hidden_size", &t->hidden_size, s, err) &&
           read_int(obj, "intermediate_size", &t->intermediate_size, s, err) &&
           read_int(obj, "num_attention_heads", &t->num_heads, s, err) &&
           read_int(obj, "num_hidden_layers", &t->num_layers, s, err) &&
           read_float(obj, "layer_norm_eps", &t->layer_norm_eps, s, err) &&
           read_act(obj, &t->act, s, err);
}

static bool check_tower(const clip_tower_config *t, const source *s, errbuf *err)
{
    if (!check_range(t->hidden_size, 1, 16384, "hidden_size", s, err) ||
        !check_range(t->intermediate_size, 1, 65536, "intermediate_size", s, err) ||
        !check_range(t->num_heads, 1, t->hidden_size, "num_attention_heads", s, err) ||
        !check_range(t->num_layers, 1, 256, "num_hidden_layers", s, err))
        return false;
    if (t->hidden_size % t->num_heads != 0)
        return errbuf_set(err, "%s: %s%shidden_size %d is not divisible by num_attention_heads %d",
                          s->file, s->section, dot(s), t->hidden_size, t->num_heads);
    if (!(t->layer_norm_eps > 0.0f && t->layer_norm_eps < 1.0f))
        return errbuf_set(err, "%s: %s%slayer_norm_eps %g is not in (0, 1)", s->file, s->section, dot(s),
                          (double)t->layer_norm_eps);
    return true;
}

/* transformers: a non-null "<tower>_config_dict" is read on top of the
 * tower's defaults and then replaces every key of "<tower>_config", so the
 * latter counts only when the former is absent or null. */
static bool pick_section(const json_value *root, const char *plain, const char *dict,
                         const json_value **obj, source *s, errbuf *err)
{
    const char *names[2] = { dict, plain };
    for (int i = 0; i < 2; i++) {
        const json_value *v = json_get(root, names[i]);
        if (!v || v->type == JSON_NULL)
            continue;
        if (v->type != JSON_OBJECT)
            return errbuf_set(err, "%s: %s is %s, expected an object", s->file, names[i],
                              json_type_phrase(v->type));
        if (!*obj) {
            *obj = v;
            s->section = names[i];
        }
    }
    return true;
}

static bool read_model_type(const json_value *root, const model_family **family, const source *s, errbuf *err)
{
    const json_value *v = json_get(root, "model_type");
    if (!v || v->type == JSON_NULL) {
        *family = &family_clip;
        return true;
    }
    if (v->type != JSON_STRING)
        return errbuf_set(err, "%s: model_type is %s, expected a string", s->file, json_type_phrase(v->type));
    *family = strlen(v->str) == v->str_len ? family_of_model_type(v->str) : NULL;
    if (*family)
        return true;
    if (strcmp(v->str, "siglip2") == 0)
        return errbuf_set(err, "%s: model_type 'siglip2' (SigLIP 2 NaFlex: variable resolution and aspect) is not "
                               "supported; SigLIP 2 checkpoints of fixed resolution (model_type siglip) are",
                          s->file);
    char shown[48];
    json_printable(shown, sizeof shown, v->str, v->str_len);
    return errbuf_set(err, "%s: model_type '%s' is not supported (expected clip, siglip, dinov2 or "
                           "dinov2_with_registers)", s->file, shown);
}

/* Dinov2Config: one tower, its keys at the top level; the MLP's width is
 * hidden_size * mlp_ratio; the embedding is the pooled class token. */
static bool parse_dinov2(clip_config *cfg, const json_value *root, const char *model_type, const source *s,
                         errbuf *err)
{
    cfg->vision = (clip_tower_config){768, 0, 12, 12, CLIP_ACT_GELU, 1e-6f, false};
    cfg->image_size = 224;
    bool registers = strcmp(model_type, "dinov2_with_registers") == 0;
    cfg->patch_size = registers ? 16 : 14; /* the two configs' defaults */
    cfg->register_tokens = registers ? 4 : 0;
    double mlp_ratio = 4.0;
    bool swiglu = false;
    if (!read_tower(root, &cfg->vision, s, err) || !read_double(root, "mlp_ratio", &mlp_ratio, s, err) ||
        !read_int(root, "image_size", &cfg->image_size, s, err) ||
        !read_int(root, "patch_size", &cfg->patch_size, s, err) ||
        !read_int(root, "num_channels", &cfg->num_channels, s, err) ||
        !read_bool(root, "qkv_bias", &cfg->qkv_bias, s, err) ||
        !read_bool(root, "use_swiglu_ffn", &swiglu, s, err) ||
        (cfg->register_tokens && !read_int(root, "num_register_tokens", &cfg->register_tokens, s, err)))
        return false;
    if (!(mlp_ratio > 0.0 && mlp_ratio <= 64.0))
        return errbuf_set(err, "%s: mlp_ratio %g is not in (0, 64]", s->file, mlp_ratio);
    /* As Python's int(hidden_size * mlp_ratio): truncated. */
    cfg->vision.intermediate_size = (int)((double)cfg->vision.hidden_size * mlp_ratio);
    cfg->vision.swiglu = swiglu;
    if (swiglu) /* transformers' Dinov2SwiGLUFFN: two thirds of it, rounded up to a multiple of 8 */
        cfg->vision.intermediate_size = ((int)(cfg->vision.intermediate_size * 2.0 / 3.0) + 7) / 8 * 8;
    cfg->projection_dim = cfg->vision.hidden_size;
    return check_range(cfg->register_tokens, 0, 64, "num_register_tokens", s, err);
}

/* A SigLIP vision tower without its pooling head has no image embedding. */
static bool check_siglip_head(const json_value *vision, const source *s, errbuf *err)
{
    bool head = true;
    if (!read_bool(vision, "vision_use_head", &head, s, err))
        return false;
    return head || errbuf_set(err, "%s: %s.vision_use_head is false: a tower without its pooling head gives no "
                                   "image embedding (not supported)", s->file, s->section);
}

/* SiglipTextConfig / SiglipVisionConfig defaults, in place of CLIP's; the
 * keys are CLIP's. */
static void siglip_defaults(clip_config *cfg)
{
    cfg->vision = (clip_tower_config){768, 3072, 12, 12, CLIP_ACT_GELU_TANH, 1e-6f, false};
    cfg->text = cfg->vision;
    cfg->patch_size = 16;
    cfg->vocab_size = 32000;
    cfg->max_position_embeddings = 64;
}

bool clip_config_parse(clip_config *cfg, const char *json, size_t len, const char *name,
                       errbuf *err)
{
    /* CLIPConfig / CLIPTextConfig / CLIPVisionConfig defaults */
    *cfg = (clip_config){
        .projection_dim = 512,
        .vision = { 768, 3072, 12, 12, CLIP_ACT_QUICK_GELU, 1e-5f, false },
        .image_size = 224,
        .patch_size = 32,
        .num_channels = 3,
        .text = { 512, 2048, 8, 12, CLIP_ACT_QUICK_GELU, 1e-5f, false },
        .vocab_size = 49408,
        .max_position_embeddings = 77,
        .qkv_bias = true,
    };
    json_doc *doc = json_parse(json, len, err);
    if (!doc)
        return errbuf_prefix(err, "%s", name);
    const json_value *root = json_root(doc);
    source top = { name, "" };
    source text = { name, "text_config" }, vision = { name, "vision_config" };
    const json_value *text_obj = NULL, *vision_obj = NULL;
    bool ok = root->type == JSON_OBJECT
                  ? read_model_type(root, &cfg->family, &top, err)
                  : errbuf_set(err, "%s: top level is %s, expected an object", name, json_type_phrase(root->type));
    if (ok && cfg->family == &family_siglip)
        siglip_defaults(cfg);
    if (ok && cfg->family->resamples_positions) /* the DINOv2 family */
        ok = parse_dinov2(cfg, root, json_get(root, "model_type")->str, &top, err) &&
             check_tower(&cfg->vision, &top, err) &&
             check_range(cfg->image_size, 1, 4096, "image_size", &top, err) &&
             check_range(cfg->patch_size, 1, cfg->image_size, "patch_size", &top, err) &&
             check_range(cfg->num_channels, 3, 3, "num_channels", &top, err);
    else if (ok)
        ok = read_int(root, "projection_dim", &cfg->projection_dim, &top, err) &&
             pick_section(root, "text_config", "text_config_dict", &text_obj, &text, err) &&
             pick_section(root, "vision_config", "vision_config_dict", &vision_obj, &vision, err) &&
             read_tower(text_obj, &cfg->text, &text, err) &&
             read_int(text_obj, "vocab_size", &cfg->vocab_size, &text, err) &&
             read_int(text_obj, "max_position_embeddings", &cfg->max_position_embeddings, &text, err) &&
             read_tower(vision_obj, &cfg->vision, &vision, err) &&
             read_int(vision_obj, "image_size", &cfg->image_size, &vision, err) &&
             read_int(vision_obj, "patch_size", &cfg->patch_size, &vision, err) &&
             read_int(vision_obj, "num_channels", &cfg->num_channels, &vision, err) &&
             check_range(cfg->projection_dim, 1, 16384, "projection_dim", &top, err) &&
             check_tower(&cfg->text, &text, err) &&
             check_range(cfg->vocab_size, 1, 1 << 20, "vocab_size", &text, err) &&
             check_context(cfg->max_position_embeddings, &text, err) &&
             check_tower(&cfg->vision, &vision, err) &&
             check_range(cfg->image_size, 1, 4096, "image_size", &vision, err) &&
             check_range(cfg->patch_size, 1, cfg->image_size, "patch_size", &vision, err) &&
             check_range(cfg->num_channels, 3, 3, "num_channels", &vision, err) &&
             (cfg->family != &family_siglip || check_siglip_head(vision_obj, &vision, err));
    if (ok && cfg->family == &family_siglip)
        cfg->projection_dim = cfg->vision.hidden_size; /* the pooling head's output */
    cfg->position_grid = ok ? cfg->image_size / cfg->patch_size : 0;
    json_free(doc);
    return ok;
}

bool clip_config_load(clip_config *cfg, const char *path, errbuf *err)
{
    size_t len;
    char *text = read_text_file(path, &len, err);
    if (!text)
        return false;
    bool ok = clip_config_parse(cfg, text, len, path, err);
    free(text);
    return ok;
}

/* ---- preprocessor_config.json ------------------------------------------ */

void clip_preprocess_config_default(clip_preprocess_config *pp, int image_size)
{
    *pp = (clip_preprocess_config){
        .shortest_edge = image_size,
        .crop_width = image_size,
        .crop_height = image_size,
        .resample = 3, /* bicubic */
        .do_resize = true,
        .do_center_crop = true,
        .do_rescale = true,
        .do_normalize = true,
        .rescale_factor = 1.0f / 255.0f,
        .mean = { 0.48145466f, 0.4578275f, 0.40821073f },
        .std = { 0.26862954f, 0.26130258f, 0.27577711f },
    };
}

/* "size": 224, {"shortest_edge": 224}, or {"height": h, "width": w}. The last
 * is a resize to exactly w x h, the aspect not kept (transformers'
 * CLIPImageProcessor.resize with size {height, width}); the centre crop, if
 * any, applies after it. */
static bool read_size(const json_value *root, clip_preprocess_config *pp, const source *s,
                      errbuf *err)
{
    const json_value *v = json_get(root, "size");
    if (!v || v->type == JSON_NULL)
        return true;
    pp->resize_width = pp->resize_height = 0;
    if (v->type == JSON_NUMBER)
        return read_int(root, "size", &pp->shortest_edge, s, err);
    source inner = { s->file, "size" };
    if (v->type == JSON_OBJECT && json_get(v, "shortest_edge"))
        return read_int(v, "shortest_edge", &pp->shortest_edge, &inner, err);
    if (v->type == JSON_OBJECT && json_get(v, "height") && json_get(v, "width")) {
        int h = 0, w = 0;
        if (!read_int(v, "height", &h, &inner, err) || !read_int(v, "width", &w, &inner, err))
            return false;
        pp->shortest_edge = h < w ? h : w;
        pp->resize_height = h;
        pp->resize_width = w;
        return true;
    }
    return errbuf_set(err, "%s: size is %s, expected an integer or an object with shortest_edge "
                      "or height and width", s->file, json_type_phrase(v->type));
}

/* "crop_size": 224 or {"height": h, "width": w} */
static bool read_crop(const json_value *root, clip_preprocess_config *pp, const source *s,
                      errbuf *err)
{
    const json_value *v = json_get(root, "crop_size");
    if (!v || v->type == JSON_NULL)
        return true;
    if (v->type == JSON_NUMBER) {
        if (!read_int(root, "crop_size", &pp->crop_width, s, err))
            return false;
        pp->crop_height = pp->crop_width;
        return true;
    }
    source inner = { s->file, "crop_size" };
    if (v->type == JSON_OBJECT && json_get(v, "height") && json_get(v, "width"))
        return read_int(v, "height", &pp->crop_height, &inner, err) &&
               read_int(v, "width", &pp->crop_width, &inner, err);
    return errbuf_set(err, "%s: crop_size is %s, expected an integer or an object with height "
                      "and width", s->file, json_type_phrase(v->type));
}

/* "image_mean"/"image_std": three numbers, or one for all channels. */
static bool read_triple(const json_value *root, const char *key, float out[3], const source *s,
                        errbuf *err)
{
    const json_value *v = json_get(root, key);
    if (!v || v->type == JSON_NULL)
        return true;
    if (v->type == JSON_NUMBER) {
        out[0] = out[1] = out[2] = (float)v->number;
        return true;
    }
    if (v->type != JSON_ARRAY || v->count != 3)
        return errbuf_set(err, "%s: %s must be an array of 3 numbers", s->file, key);
    int i = 0;
    for (const json_value *e = json_first(v); e; e = json_next(e), i++) {
        if (e->type != JSON_NUMBER)
            return errbuf_set(err, "%s: %s[%d] is %s, expected a number", s->file, key, i,
                              json_type_phrase(e->type));
        out[i] = (float)e->number;
    }
    return true;
}

static bool check_preprocess(const clip_preprocess_config *pp, const source *s, errbuf *err)
{
    if ((pp->resize_width || pp->resize_height) &&
        (!check_range(pp->resize_height, 1, 16384, "size height", s, err) ||
         !check_range(pp->resize_width, 1, 16384, "size width", s, err)))
        return false;
    if (!check_range(pp->shortest_edge, 1, 16384, "size", s, err) ||
        !check_range(pp->crop_width, 1, 16384, "crop_size width", s, err) ||
        !check_range(pp->crop_height, 1, 16384, "crop_size height", s, err) ||
        !check_range(pp->resample, 0, 5, "resample", s, err))
        return false;
    if (!isfinite(pp->rescale_factor) || pp->rescale_factor <= 0.0f)
        return errbuf_set(err, "%s: rescale_factor %g is not a positive number", s->file,
                          (double)pp->rescale_factor);
    for (int c = 0; c < 3; c++) {
        if (!isfinite(pp->mean[c]))
            return errbuf_set(err, "%s: image_mean[%d] is not finite", s->file, c);
        if (!isfinite(pp->std[c]))
            return errbuf_set(err, "%s: image_std[%d] is not finite", s->file, c);
        if (pp->std[c] == 0.0f)
            return errbuf_set(err, "%s: image_std[%d] is zero", s->file, c);
    }
    return true;
}

bool clip_preprocess_config_parse(clip_preprocess_config *pp, const char *json, size_t len,
                                  const char *name, int image_size, errbuf *err)
{
    clip_preprocess_config_default(pp, image_size);
    json_doc *doc = json_parse(json, len, err);
    if (!doc)
        return errbuf_prefix(err, "%s", name);
    const json_value *root = json_root(doc);
    source s = { name, "" };
    bool ok;
    if (root->type != JSON_OBJECT)
        ok = errbuf_set(err, "%s: top level is %s, expected an object", name,
                        json_type_phrase(root->type));
    else
        ok = read_size(root, pp, &s, err) && read_crop(root, pp, &s, err) &&
             read_int(root, "resample", &pp->resample, &s, err) &&
             read_bool(root, "do_resize", &pp->do_resize, &s, err) &&
             read_bool(root, "do_center_crop", &pp->do_center_crop, &s, err) &&
             read_bool(root, "do_rescale", &pp->do_rescale, &s, err) &&
             read_bool(root, "do_normalize", &pp->do_normalize, &s, err) &&
             read_float(root, "rescale_factor", &pp->rescale_factor, &s, err) &&
             read_triple(root, "image_mean", pp->mean, &s, err) &&
             read_triple(root, "image_std", pp->std, &s, err) &&
             check_preprocess(pp, &s, err);
    json_free(doc);
    return ok;
}

bool clip_preprocess_config_load(clip_preprocess_config *pp, const char *path, int image_size,
                                 errbuf *err)
{
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) {
        clip_preprocess_config_default(pp, image_size);
        return true;
    }
    size_t len;
    char *text = read_text_file(path, &len, err);
    if (!text)
        return false;
    bool ok = clip_preprocess_config_parse(pp, text, len, path, image_size, err);
    free(text);
    return ok;
}
