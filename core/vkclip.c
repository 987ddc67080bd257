/* vkclip.c: the public API over the engine's pieces. */
#include "vkclip.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/dtype.h"
#include "preprocess.h"
#include "vkclip_internal.h"

#define MAX_FRAME_SIDE 32768

void export_error(vkclip_error *out, const errbuf *e)
{
    if (out)
        snprintf(out->message, sizeof out->message, "%s", e->msg);
}

int fail(vkclip_error *out, const errbuf *e)
{
    export_error(out, e);
    return -1;
}

/* ---- devices ---- */

static void fill_info(vkclip_device_info *o, const vk_device_info *d)
{
    memset(o, 0, sizeof *o);
    snprintf(o->name, sizeof o->name, "%.255s", d->name);
    o->type = vk_device_type_name(d->type);
    o->api_version = d->api_version;
    o->memory_bytes = d->device_local_bytes;
    o->storage16 = d->features.storage16;
    o->float16 = d->features.float16;
    o->subgroup_arithmetic = d->features.subgroup_arith;
    o->subgroup_size = d->features.subgroup_size;
    o->usable = d->usable;
}

int vkclip_list_devices(vkclip_device_info *out, int max, vkclip_error *err)
{
    errbuf e = {{0}};
    vk_device_info infos[16];
    int n = vk_list_devices(infos, 16, &e);
    if (n < 0)
        return fail(err, &e);
    for (int i = 0; i < n && i < max && i < 16; i++)
        fill_info(&out[i], &infos[i]);
    return n;
}

vkclip_device *vkclip_device_open(const vkclip_device_options *opts, vkclip_error *err)
{
    errbuf e = {{0}};
    vkclip_device *dev = calloc(1, sizeof *dev);
    if (!dev) {
        errbuf_set(&e, "out of memory");
        export_error(err, &e);
        return NULL;
    }
    vk_context_options o = {.device_index = opts ? opts->device_index : -1,
                            .validation = opts && opts->validation};
    if (!vk_context_create(&dev->ctx, &o, &e)) {
        free(dev);
        export_error(err, &e);
        return NULL;
    }
    kernel_cache_init(&dev->kernels, &dev->ctx);
    return dev;
}

void vkclip_device_free(vkclip_device *dev)
{
    if (!dev)
        return;
    kernel_cache_destroy(&dev->kernels);
    vk_context_destroy(&dev->ctx);
    free(dev);
}

int vkclip_device_index(const vkclip_device *dev)
{
    return dev->ctx.device_index;
}

void vkclip_device_get_info(const vkclip_device *dev, vkclip_device_info *info)
{
    vk_device_info d = {0};
    snprintf(d.name, sizeof d.name, "%s", dev->ctx.props.deviceName);
    d.type = dev->ctx.props.deviceType;
    d.api_version = dev->ctx.props.apiVersion;
    for (uint32_t i = 0; i < dev->ctx.memory.memoryHeapCount; i++)
        if ((dev->ctx.memory.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
            dev->ctx.memory.memoryHeaps[i].size > d.device_local_bytes)
            d.device_local_bytes = dev->ctx.memory.memoryHeaps[i].size;
    d.features = dev->ctx.features;
    d.usable = true;
    fill_info(info, &d);
}

uint32_t vkclip_device_validation_messages(const vkclip_device *dev)
{
    return dev->ctx.validation_messages;
}

/* ---- models ---- */

/* Register tiles: large on the CPU driver (fetches are calls, arithmetic is
 * cheap), moderate on GPUs. VKCLIP_TILES="tm,tn,wg" overrides (tests use it
 * to check the GPU packing on the CPU driver). */
matmul_tiles choose_tiles(const vk_context *ctx)
{
    matmul_tiles t = ctx->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU
                         ? (matmul_tiles){.tm = 12, .tn = 8, .wg = 8}
                         : (matmul_tiles){.tm = 4, .tn = 4, .wg = 64};
    const char *env = getenv("VKCLIP_TILES");
    unsigned tm, tn, wg;
    if (env && sscanf(env, "%u,%u,%u", &tm, &tn, &wg) == 3 && tm >= 1 && tm <= 16 && tn >= 1 &&
        tn <= 16 && wg >= 1 && wg <= 256)
        t = (matmul_tiles){.tm = tm, .tn = tn, .wg = wg};
    return t;
}

static bool format_supports_texels(const vk_context *ctx, VkFormat f)
{
    VkFormatProperties p;
    vkGetPhysicalDeviceFormatProperties(ctx->physical, f, &p);
    return p.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT;
}

static bool load_configs(vkclip_model *m, const char *dir, errbuf *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (!clip_config_load(&m->cfg, path, e))
        return false;
    snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
    if (!clip_preprocess_config_load(&m->pp, path, m->cfg.image_size, e))
        return false;
    if (m->pp.do_center_crop && (m->pp.crop_width != m->cfg.image_size || m->pp.crop_height != m->cfg.image_size))
        return errbuf_set(e, "%s: crop %dx%d does not match the model's image_size %d", path,
                          m->pp.crop_width, m->pp.crop_height, m->cfg.image_size);
    return true;
}

bool weight_loader_begin(vkclip_model *m, weight_loader *L, errbuf *e)
{
    *L = (weight_loader){
        .ctx = &m->dev->ctx, .weights = m->weights, .arena = &m->weight_arena,
        .tiles = choose_tiles(&m->dev->ctx), .matrix_type = m->matrix_type, .err = e,
    };
    return vk_uploader_init(&m->dev->ctx, &L->uploader, e);
}

bool weight_loader_end(weight_loader *L, bool ok, errbuf *e)
{
    ok = ok && vk_uploader_finish(&L->uploader, e);
    vk_uploader_destroy(&L->uploader);
    return ok;
}

static bool upload_weights(vkclip_model *m, errbuf *e)
{
    vk_context *ctx = &m->dev->ctx;
    const st_tensor *probe = model_weights_find(m->weights, "vision_model.embeddings.patch_embedding.weight", NULL);
    m->weights_dtype = probe ? st_dtype_name(probe->dtype) : "F32";
    /* fp16 matrices stay fp16 (half the memory traffic); BF16 widens to fp32 exactly. */
    m->matrix_type = probe && probe->dtype == ST_F16 &&
                             format_supports_texels(ctx, VK_FORMAT_R16G16B16A16_SFLOAT)
                         ? STORAGE_F16 : STORAGE_F32;
    vk_arena_init(&m->weight_arena, VK_MEMORY_DEVICE, 256u << 20);
    weight_loader L;
    if (!weight_loader_begin(m, &L, e))
        return false;
    bool ok = clip_vision_load(&m->vision, &L, &m->cfg);
    return weight_loader_end(&L, ok, e);
}

vkclip_model *vkclip_model_load(vkclip_device *dev, const char *dir, const vkclip_model_options *opts,
                                vkclip_error *err)
{
    errbuf e = {{0}};
    vkclip_model *m = calloc(1, sizeof *m);
    if (!m) {
        errbuf_set(&e, "out of memory");
        export_error(err, &e);
        return NULL;
    }
    m->dev = dev;
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    m->batch_size = opts && opts->batch_size > 0 ? opts->batch_size : 8;
    bool want_f16 = opts && opts->activations == VKCLIP_PRECISION_F16;
    /* fp16 activations need 16-bit stores and fp16 texel reads; else fp32. */
    m->act_type = want_f16 && dev->ctx.features.storage16 &&
                          format_supports_texels(&dev->ctx, VK_FORMAT_R16_SFLOAT) &&
                          format_supports_texels(&dev->ctx, VK_FORMAT_R16G16B16A16_SFLOAT)
                      ? STORAGE_F16 : STORAGE_F32;
    if (m->batch_size > 1024) {
        errbuf_set(&e, "batch size %d is too large (at most 1024)", m->batch_size);
        goto fail;
    }
    if (!load_configs(m, dir, &e) || !(m->weights = model_weights_open(dir, &e)) || !upload_weights(m, &e))
        goto fail;
    return m;
fail:
    export_error(err, &e);
    vkclip_model_free(m);
    return NULL;
}

void vkclip_model_free(vkclip_model *m)
{
    if (!m)
        return;
    vk_context *ctx = &m->dev->ctx;
    for (int i = 0; i < m->ngraphs; i++)
        vision_graph_free(&m->graphs[i], ctx);
    model_text_free(m);
    vk_buffer_destroy(ctx, &m->staging.frames);
    vk_buffer_destroy(ctx, &m->staging.tables);
    vk_buffer_destroy(ctx, &m->staging.rows);
    vk_buffer_destroy(ctx, &m->staging.chw);
    clip_vision_free(&m->vision);
    vk_arena_destroy(ctx, &m->weight_arena);
    model_weights_close(m->weights);
    free(m);
}

static const char *act_name(clip_act a)
{
    return a == CLIP_ACT_GELU ? "gelu" : "quick_gelu";
}

void vkclip_model_get_info(const vkclip_model *m, vkclip_model_info *info)
{
    memset(info, 0, sizeof *info);
    const clip_config *c = &m->cfg;
    info->image_size = c->image_size;
    info->patch_size = c->patch_size;
    info->vision_width = c->vision.hidden_size;
    info->vision_layers = c->vision.num_layers;
    info->vision_heads = c->vision.num_heads;
    info->vision_intermediate = c->vision.intermediate_size;
    info->vision_act = act_name(c->vision.act);
    info->text_width = c->text.hidden_size;
    info->text_layers = c->text.num_layers;
    info->text_heads = c->text.num_heads;
    info->vocab_size = c->vocab_size;
    info->context_length = c->max_position_embeddings;
    info->embed_dim = c->projection_dim;
    info->weights_dtype = m->weights_dtype;
    info->device_weights = m->matrix_type == STORAGE_F16 ? "f16" : "f32";
    info->activations = m->act_type == STORAGE_F16 ? "f16" : "f32";
    const st_tensor *ls = model_weights_find(m->weights, "logit_scale", NULL);
    info->logit_scale = NAN;
    if (ls && ls->numel == 1 && st_dtype_is_float_weight(ls->dtype)) {
        float v;
        convert_to_f32(ls, &v);
        info->logit_scale = expf(v);
    }
    info->batch_size = m->batch_size;
    info->device_bytes = m->weight_arena.total;
}

int vkclip_embedding_dim(const vkclip_model *m)
{
    return m->cfg.projection_dim;
}

int vkclip_image_size(const vkclip_model *m)
{
    return m->cfg.image_size;
}

static vision_graph *graph_for(vkclip_model *m, uint32_t batch, errbuf *e)
{
    for (int i = 0; i < m->ngraphs; i++)
        if (m->graphs[i].batch == batch)
            return &m->graphs[i];
    if (m->ngraphs == MAX_GRAPHS) { /* keep the full-batch graph, recycle the newest other */
        vision_graph_free(&m->graphs[MAX_GRAPHS - 1], &m->dev->ctx);
        m->ngraphs--;
    }
    vision_graph *g = &m->graphs[m->ngraphs];
    if (!vision_graph_build(g, &m->vision, &m->dev->ctx, &m->dev->kernels, batch, m->act_type, e))
        return NULL;
    m->ngraphs++;
    return g;
}

/* ---- frames ---- */

typedef struct format_desc {
    uint32_t bytes_per_pixel;
    uint8_t r, g, b;
} format_desc;

static const format_desc packed_formats[] = {
    [VKCLIP_FORMAT_RGB] = {3, 0, 1, 2},  [VKCLIP_FORMAT_BGR] = {3, 2, 1, 0},
    [VKCLIP_FORMAT_RGBA] = {4, 0, 1, 2}, [VKCLIP_FORMAT_BGRA] = {4, 2, 1, 0},
    [VKCLIP_FORMAT_ARGB] = {4, 1, 2, 3}, [VKCLIP_FORMAT_ABGR] = {4, 3, 2, 1},
    [VKCLIP_FORMAT_RGBX] = {4, 0, 1, 2}, [VKCLIP_FORMAT_BGRX] = {4, 2, 1, 0},
    [VKCLIP_FORMAT_XRGB] = {4, 1, 2, 3}, [VKCLIP_FORMAT_XBGR] = {4, 3, 2, 1},
};

static uint64_t align256(uint64_t v)
{
    return (v + 255) & ~(uint64_t)255;
}

/* Checks a frame and describes how it will sit in the staging buffer:
 * planes repacked one after another with tight, 4-byte aligned strides. */
static bool describe_frame(const vkclip_frame *f, frame_layout *l, errbuf *e)
{
    memset(l, 0, sizeof *l);
    if (f->width <= 0 || f->height <= 0 || f->width > MAX_FRAME_SIDE || f->height > MAX_FRAME_SIDE)
        return errbuf_set(e, "frame: size %dx%d out of range (1..%d)", f->width, f->height, MAX_FRAME_SIDE);
    if ((unsigned)f->format > VKCLIP_FORMAT_NV12)
        return errbuf_set(e, "frame: unknown pixel format %d", (int)f->format);
    uint32_t w = (uint32_t)f->width, h = (uint32_t)f->height;
    uint32_t cw = (w + 1) / 2, ch = (h + 1) / 2;
    l->width = w;
    l->height = h;
    l->matrix = f->colorimetry == VKCLIP_BT709_LIMITED || f->colorimetry == VKCLIP_BT709_FULL ? YUV_BT709 : YUV_BT601;
    l->full_range = f->colorimetry == VKCLIP_BT601_FULL || f->colorimetry == VKCLIP_BT709_FULL;
    int planes = 1;
    uint32_t row_bytes[3] = {0};
    if (f->format <= VKCLIP_FORMAT_XBGR) {
        const format_desc *d = &packed_formats[f->format];
        l->kind = d->bytes_per_pixel == 4 ? FRAME_RGBX : FRAME_PACKED;
        l->bytes_per_pixel = d->bytes_per_pixel;
        l->order = d->r | (uint32_t)d->g << 8 | (uint32_t)d->b << 16;
        row_bytes[0] = w * d->bytes_per_pixel;
    } else if (f->format == VKCLIP_FORMAT_GRAY8) {
        l->kind = FRAME_GRAY;
        row_bytes[0] = w;
    } else if (f->format == VKCLIP_FORMAT_I420) {
        l->kind = FRAME_I420;
        planes = 3;
        row_bytes[0] = w;
        row_bytes[1] = row_bytes[2] = cw;
    } else {
        l->kind = FRAME_NV12;
        planes = 2;
        row_bytes[0] = w;
        row_bytes[1] = 2 * cw;
    }
    for (int p = 0; p < planes; p++) {
        if (!f->planes[p])
            return errbuf_set(e, "frame: plane %d is missing", p);
        if (f->strides[p] < (int)row_bytes[p])
            return errbuf_set(e, "frame: stride %d of plane %d is shorter than a row (%u bytes)",
                              f->strides[p], p, row_bytes[p]);
    }
    l->stride0 = (row_bytes[0] + 3) & ~3u;
    l->stride1 = (row_bytes[1] + 3) & ~3u;
    uint64_t y_bytes = (uint64_t)l->stride0 * h;
    uint64_t c_bytes = (uint64_t)l->stride1 * ch;
    l->plane1 = (uint32_t)y_bytes;
    l->plane2 = (uint32_t)(y_bytes + c_bytes);
    l->bytes = y_bytes + (uint64_t)(planes - 1) * c_bytes;
    return true;
}

static void copy_frame(const vkclip_frame *f, const frame_layout *l, uint8_t *dst)
{
    int planes = f->format == VKCLIP_FORMAT_I420 ? 3 : f->format == VKCLIP_FORMAT_NV12 ? 2 : 1;
    for (int p = 0; p < planes; p++) {
        uint32_t rows = p == 0 ? l->height : (l->height + 1) / 2;
        uint32_t stride = p == 0 ? l->stride0 : l->stride1;
        uint32_t bytes = p == 0 ? (l->kind == FRAME_GRAY || planes > 1 ? l->width : l->width * l->bytes_per_pixel)
                                : (planes == 3 ? (l->width + 1) / 2 : 2 * ((l->width + 1) / 2));
        uint8_t *base = dst + (p == 0 ? 0 : p == 1 ? l->plane1 : l->plane2);
        for (uint32_t y = 0; y < rows; y++) {
            memcpy(base + (size_t)y * stride, f->planes[p] + (size_t)y * f->strides[p], bytes);
            memset(base + (size_t)y * stride + bytes, 0, stride - bytes);
        }
    }
}

static bool ensure_buffer(vk_context *ctx, vk_buffer *b, uint64_t bytes, vk_memory_kind kind, errbuf *e)
{
    if (b->buffer && b->size >= bytes)
        return true;
    vk_buffer_destroy(ctx, b);
    return vk_buffer_create(ctx, b, bytes, kind, e);
}

/* Plans, stages and records the preprocessing of n frames into `out`
 * (patch rows of consecutive images, or one CHW tensor), then runs it. */
static bool run_preprocess(vkclip_model *m, const vkclip_frame *frames, int n, dbuf out, uint32_t layout,
                           errbuf *e)
{
    vk_context *ctx = &m->dev->ctx;
    preprocess_plan *plans = calloc((size_t)n, sizeof *plans);
    frame_layout *layouts = calloc((size_t)n, sizeof *layouts);
    uint64_t *frame_at = calloc((size_t)n, sizeof *frame_at), *table_at = calloc((size_t)n, sizeof *table_at);
    vk_sequence seq = {0};
    bool ok = plans && layouts && frame_at && table_at;
    if (!ok)
        errbuf_set(e, "out of memory");
    uint64_t frame_bytes = 0, table_bytes = 0, rows_bytes = 16;
    for (int i = 0; ok && i < n; i++) {
        ok = describe_frame(&frames[i], &layouts[i], e) && preprocess_plan_make(&plans[i], &m->pp, &layouts[i], e);
        if (!ok)
            break;
        /* Without a crop only frames that resize to the model's square fit. */
        if (plans[i].v.crop_w != (uint32_t)m->cfg.image_size || plans[i].v.crop_h != (uint32_t)m->cfg.image_size) {
            ok = errbuf_set(e, "frame %d: preprocessing gives %ux%u, not the model's %dx%d", i,
                            plans[i].v.crop_w, plans[i].v.crop_h, m->cfg.image_size, m->cfg.image_size);
            break;
        }
        frame_at[i] = frame_bytes;
        frame_bytes = align256(frame_bytes + layouts[i].bytes);
        table_at[i] = table_bytes;
        table_bytes = align256(table_bytes + (uint64_t)plans[i].table_len * 4);
        if ((uint64_t)plans[i].rows_tmp_len * 4 > rows_bytes)
            rows_bytes = (uint64_t)plans[i].rows_tmp_len * 4;
    }
    if (ok && frame_bytes > ctx->props.limits.maxTexelBufferElements)
        ok = errbuf_set(e, "frames: %llu bytes in one batch exceed the device's limit of %u",
                        (unsigned long long)frame_bytes, ctx->props.limits.maxTexelBufferElements);
    ok = ok && ensure_buffer(ctx, &m->staging.frames, frame_bytes, VK_MEMORY_UPLOAD, e) &&
         ensure_buffer(ctx, &m->staging.tables, table_bytes, VK_MEMORY_UPLOAD, e) &&
         ensure_buffer(ctx, &m->staging.rows, rows_bytes, VK_MEMORY_DEVICE, e) &&
         vk_sequence_begin(ctx, &seq, e);
    recorder r = {.seq = &seq, .kernels = &m->dev->kernels, .err = e};
    const clip_vision *v = &m->vision;
    for (int i = 0; ok && i < n; i++) {
        copy_frame(&frames[i], &layouts[i], (uint8_t *)m->staging.frames.mapped + frame_at[i]);
        memcpy((uint8_t *)m->staging.tables.mapped + table_at[i], plans[i].table, (size_t)plans[i].table_len * 4);
        push_preprocess_v pv = plans[i].v;
        pv.layout_kind = layout;
        if (layout == LAYOUT_PATCHES) {
            pv.out_off = (uint32_t)i * v->patches * v->patch_embed.K;
            pv.patch_size = v->patch;
            pv.patches_per_side = v->patches_per_side;
        }
        ok = op_preprocess(&r, vk_buffer_slice(&m->staging.frames, frame_at[i], layouts[i].bytes),
                           vk_buffer_slice(&m->staging.tables, table_at[i], (uint64_t)plans[i].table_len * 4),
                           vk_buffer_slice(&m->staging.rows, 0, rows_bytes), out, &plans[i].h, &pv);
    }
    if (ok) {
        vk_buffer_flush(ctx, &m->staging.frames);
        vk_buffer_flush(ctx, &m->staging.tables);
        ok = vk_sequence_end(&seq, e) && vk_sequence_submit(&seq, e) && vk_sequence_wait(&seq, e);
    }
    vk_sequence_destroy(&seq);
    for (int i = 0; plans && i < n; i++)
        preprocess_plan_free(&plans[i]);
    free(plans);
    free(layouts);
    free(frame_at);
    free(table_at);
    return ok;
}

int vkclip_preprocess(vkclip_model *m, const vkclip_frame *frame, float *out, vkclip_error *err)
{
    errbuf e = {{0}};
    uint64_t bytes = 3ull * (uint64_t)m->cfg.image_size * (uint64_t)m->cfg.image_size * 4;
    vk_context *ctx = &m->dev->ctx;
    dbuf out_buf = {.type = STORAGE_F32};
    if (!ensure_buffer(ctx, &m->staging.chw, bytes, VK_MEMORY_READBACK, &e))
        return fail(err, &e);
    out_buf.slice = vk_buffer_slice(&m->staging.chw, 0, bytes);
    if (!run_preprocess(m, frame, 1, out_buf, LAYOUT_CHW, &e))
        return fail(err, &e);
    vk_buffer_invalidate(ctx, &m->staging.chw);
    memcpy(out, m->staging.chw.mapped, (size_t)bytes);
    return 0;
}

void l2_normalize(float *v, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)v[i] * v[i];
    float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
    for (int i = 0; i < n; i++)
        v[i] *= inv;
}

int vkclip_encode_images(vkclip_model *m, const vkclip_frame *frames, int n, float *out, bool normalize,
                         vkclip_error *err)
{
    errbuf e = {{0}};
    if (n < 0 || (n > 0 && (!frames || !out))) {
        errbuf_set(&e, "encode: bad arguments");
        return fail(err, &e);
    }
    int E = m->cfg.projection_dim;
    for (int done = 0; done < n;) {
        int count = n - done < m->batch_size ? n - done : m->batch_size;
        vision_graph *g = graph_for(m, (uint32_t)count, &e);
        if (!g || !run_preprocess(m, frames + done, count, g->patches, LAYOUT_PATCHES, &e) ||
            !vk_sequence_submit(&g->forward, &e) || !vk_sequence_wait(&g->forward, &e))
            return fail(err, &e);
        vk_buffer_invalidate(&m->dev->ctx, &g->embeddings);
        memcpy(out + (size_t)done * E, g->embeddings.mapped, (size_t)count * E * sizeof(float));
        if (normalize)
            for (int i = 0; i < count; i++)
                l2_normalize(out + (size_t)(done + i) * E, E);
        done += count;
    }
    return 0;
}

int vkclip_bench_batch(vkclip_model *m, vkclip_error *err)
{
    errbuf e = {{0}};
    vision_graph *g = graph_for(m, (uint32_t)m->batch_size, &e);
    if (!g || !vk_sequence_submit(&g->forward, &e) || !vk_sequence_wait(&g->forward, &e))
        return fail(err, &e);
    vk_sequence_print_profile(&g->forward);
    return 0;
}
