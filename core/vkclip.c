/* vkclip.c: the public API over the engine's pieces. */
#include "vkclip.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_kernels.h"
#include "model/dtype.h"
#include "preprocess.h"
#include "vkclip_internal.h"
#include "util/regular_file.h"

/* Where the default model is installed and where it sits in the source
 * tree: core/meson.build passes both. */
#if !defined(VKCLIP_INSTALLED_MODEL_DIR) || !defined(VKCLIP_SOURCE_MODEL_DIR)
#error "VKCLIP_INSTALLED_MODEL_DIR and VKCLIP_SOURCE_MODEL_DIR come from core/meson.build"
#endif

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

/* VKCLIP_DEVICE_BEST's choice: $VKCLIP_DEVICE where set ("cpu"; an index
 * or "vulkan" choose Vulkan), else a GPU where there is one, else the CPU
 * backend (faster than a Vulkan CPU driver, and needs none). */
static bool best_is_cpu_backend(void)
{
    const char *env = getenv("VKCLIP_DEVICE");
    if (env && *env)
        return strcmp(env, "cpu") == 0;
    vk_device_info infos[16];
    errbuf e = {{0}};
    int n = vk_list_devices(infos, 16, &e);
    for (int i = 0; i < n && i < 16; i++)
        if (infos[i].usable && infos[i].type != VK_PHYSICAL_DEVICE_TYPE_CPU &&
            infos[i].type != VK_PHYSICAL_DEVICE_TYPE_OTHER)
            return false;
    return true;
}

/* The CPU backend's thread count: the option, else $VKCLIP_THREADS, else the cores available. */
static bool cpu_threads(const vkclip_device_options *opts, int *threads, errbuf *e)
{
    *threads = opts ? opts->threads : 0;
    const char *env = getenv("VKCLIP_THREADS");
    if (*threads == 0 && env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end || v < 1 || v > VKCLIP_MAX_THREADS)
            return errbuf_set(e, "VKCLIP_THREADS=%s: not a thread count (1 to %d)", env, VKCLIP_MAX_THREADS);
        *threads = (int)v;
    }
    if (*threads < 0 || *threads > VKCLIP_MAX_THREADS)
        return errbuf_set(e, "threads %d: not a thread count (1 to %d, or 0 for the cores available)", *threads,
                          VKCLIP_MAX_THREADS);
    if (*threads == 0)
        *threads = cpu_pool_cores_available();
    return true;
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
    int wanted = opts ? opts->device_index : VKCLIP_DEVICE_BEST;
    /* Cooperative matrices are enabled at device creation, only when asked for. */
    vk_context_options o = {.device_index = wanted >= 0 ? wanted : -1, .validation = opts && opts->validation,
                            .cooperative_matrix = kernel_plan_env_wants_coopmat()};
    if (wanted < VKCLIP_DEVICE_VULKAN) {
        errbuf_set(&e, "device %d: not a device index (0 and up, or -1, -2, -3)", wanted);
        free(dev);
        export_error(err, &e);
        return NULL;
    }
    bool cpu = wanted == VKCLIP_DEVICE_CPU || (wanted == VKCLIP_DEVICE_BEST && best_is_cpu_backend());
    int threads = 0;
    if ((cpu && !cpu_threads(opts, &threads, &e)) ||
        !(cpu ? vk_context_create_cpu(&dev->ctx, threads, &e) : vk_context_create(&dev->ctx, &o, &e))) {
        free(dev);
        export_error(err, &e);
        return NULL;
    }
    if (cpu)
        cpu_blas_single_threaded();
    /* The CPU backend runs no shaders: its steps are the lavapipe plan's ops. */
    kernel_plan plan = kernel_plan_from_env(cpu || dev->ctx.props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU);
    if (cpu)
        kernel_plan_make(true, NULL, &plan, &e);
    /* The shared-memory GEMM's 256 invocations a workgroup: more than the 128
     * Vulkan promises (every desktop GPU has 1024). */
    if (plan.linear.kind != MATMUL_REGISTER && dev->ctx.props.limits.maxComputeWorkGroupInvocations < 256)
        plan.linear = (matmul_tiles){.kind = MATMUL_REGISTER, .tm = 4, .tn = 4, .wg = 64};
    if (plan.linear.kind == MATMUL_COOPMAT && !dev->ctx.features.coopmat_f16) {
        fprintf(stderr, "vkclip: VKCLIP_KERNELS: gemm=coopmat needs VK_NV_cooperative_matrix with 16x16x16 fp16 "
                        "products on '%s'; using gemm=shared:4x4\n", dev->ctx.props.deviceName);
        plan.linear.kind = MATMUL_SHARED;
    }
    if (plan.row_subgroups && !dev->ctx.features.subgroup_arith) {
        fprintf(stderr, "vkclip: VKCLIP_KERNELS: rows=subgroup needs subgroup arithmetic in compute shaders on '%s'; "
                        "using rows=group\n", dev->ctx.props.deviceName);
        plan.row_subgroups = false;
    }
    dev->ctx.every_barrier = plan.every_barrier;
    kernel_cache_init(&dev->kernels, &dev->ctx, plan);
    if (cpu)
        snprintf(dev->plan_text, sizeof dev->plan_text, "the CPU backend's own steps (sgemm)");
    else
        kernel_plan_describe(&plan, dev->plan_text, sizeof dev->plan_text);
    if (!cpu && plan.upload_queue) {
        size_t used = strlen(dev->plan_text);
        snprintf(dev->plan_text + used, sizeof dev->plan_text - used, " (%s)",
                 vk_context_has_transfer_family(&dev->ctx) ? "a transfer queue of its own" : "on the compute queue");
    }
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

int vkclip_device_threads(const vkclip_device *dev)
{
    return dev->ctx.cpu ? cpu_pool_threads(dev->ctx.pool) : 0;
}

void vkclip_device_get_info(const vkclip_device *dev, vkclip_device_info *info)
{
    vk_device_info d = {0}; /* the CPU backend's context has its name and type, and no heaps */
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

const char *vkclip_device_kernels(const vkclip_device *dev)
{
    return dev->plan_text;
}

uint32_t vkclip_device_validation_messages(const vkclip_device *dev)
{
    return atomic_load(&((vkclip_device *)dev)->ctx.validation_messages);
}

/* ---- models ---- */

static bool format_supports_texels(const vk_context *ctx, VkFormat f)
{
    if (ctx->cpu) /* the CPU backend reads fp32 only */
        return false;
    VkFormatProperties p;
    vkGetPhysicalDeviceFormatProperties(ctx->physical, f, &p);
    return p.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT;
}

/* A family whose positions are resampled (DINOv2) takes its input size from
 * the preprocessing (224: the crop) rather than config.json's image_size
 * (518: what the positions were trained for). Square inputs only, for now. */
static bool input_from_preprocessing(vkclip_model *m, const char *path, errbuf *e)
{
    const clip_preprocess_config *pp = &m->pp;
    /* CLIP's defaults would be wrong here (mean, std, crop): the file must say. */
    if (!file_exists(path))
        return errbuf_set(e, "%s: missing (a %s model's input size and normalisation are read from it)", path,
                          m->cfg.family->name);
    int w = pp->do_center_crop ? pp->crop_width : pp->resize_width;
    int h = pp->do_center_crop ? pp->crop_height : pp->resize_height;
    if (w <= 0 || h <= 0)
        return errbuf_set(e, "%s: without do_center_crop the size must give the input's height and width", path);
    if (w != h)
        return errbuf_set(e, "%s: a %dx%d (width x height) input is not supported yet (square inputs only)", path,
                          w, h);
    if (w < m->cfg.patch_size || w > 4096)
        return errbuf_set(e, "%s: a %dx%d input is outside [%d, 4096] (a patch, and the largest input)", path, w,
                          h, m->cfg.patch_size);
    m->cfg.image_size = w;
    return true;
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
    if (m->cfg.family->resamples_positions && !input_from_preprocessing(m, path, e))
        return false;
    if (m->pp.do_center_crop && (m->pp.crop_width != m->cfg.image_size || m->pp.crop_height != m->cfg.image_size))
        return errbuf_set(e, "%s: crop %dx%d does not match the model's image_size %d", path,
                          m->pp.crop_width, m->pp.crop_height, m->cfg.image_size);
    if (m->pp.do_resize && m->pp.do_center_crop && m->pp.resize_width > 0 &&
        (m->pp.resize_width < m->pp.crop_width || m->pp.resize_height < m->pp.crop_height))
        return errbuf_set(e, "%s: size %dx%d (width x height) is smaller than the %dx%d crop", path,
                          m->pp.resize_width, m->pp.resize_height, m->pp.crop_width, m->pp.crop_height);
    /* size {height, width} without a crop is the model's input itself */
    if (m->pp.do_resize && !m->pp.do_center_crop && m->pp.resize_width > 0 &&
        (m->pp.resize_width != m->cfg.image_size || m->pp.resize_height != m->cfg.image_size))
        return errbuf_set(e, "%s: size %dx%d (width x height) without do_center_crop does not give the "
                          "model's %dx%d input (image_size)", path, m->pp.resize_width, m->pp.resize_height,
                          m->cfg.image_size, m->cfg.image_size);
    return true;
}

/* logit_scale (and SigLIP's logit_bias): a float scalar (shape [] or [1])
 * with a finite value. Every classifier multiplies its cosines by
 * exp(logit_scale) (and adds the bias) and `info` prints them, so a model
 * without one, or with an integer or a wider one, is refused at load time
 * (naming the file and the tensor) rather than scoring NaN. */
static bool check_logit_scalar(const model_weights *w, const char *dir, const char *name, errbuf *e)
{
    const char *file = NULL;
    const st_tensor *t = model_weights_find(w, name, &file);
    if (!t)
        return errbuf_set(e, "%s/model.safetensors: tensor %s is missing (needed for the scores)", dir, name);
    if (!st_dtype_is_float_weight(t->dtype))
        return errbuf_set(e, "%s: tensor %s has dtype %s, expected F32, F16 or BF16", file, name,
                          st_dtype_name(t->dtype));
    if (t->numel != 1 || t->ndim > 1)
        return errbuf_set(e, "%s: tensor %s has %d dimensions and %lld elements, expected shape [] or [1]", file,
                          name, t->ndim, (long long)t->numel);
    float v;
    convert_to_f32(t, &v);
    if (!isfinite(v) || !isfinite(expf(v)))
        return errbuf_set(e, "%s: tensor %s is %g; it and its exp must be finite", file, name, (double)v);
    return true;
}

static bool check_logit_scale(const model_weights *w, const char *dir, const model_family *family, errbuf *e)
{
    return check_logit_scalar(w, dir, "logit_scale", e) &&
           (!family->sigmoid_scores || check_logit_scalar(w, dir, "logit_bias", e));
}

static float scalar_of(const model_weights *w, const char *name)
{
    const st_tensor *t = model_weights_find(w, name, NULL);
    float v = NAN;
    if (t && t->numel == 1 && st_dtype_is_float_weight(t->dtype))
        convert_to_f32(t, &v);
    return v;
}

bool weight_loader_begin(vkclip_model *m, weight_loader *L, errbuf *e)
{
    *L = (weight_loader){
        .ctx = &m->dev->ctx, .weights = m->weights, .arena = &m->weight_arena,
        .plan = m->dev->kernels.plan, .matrix_type = m->matrix_type, .err = e,
    };
    return vk_uploader_init(&m->dev->ctx, &L->uploader, e);
}

bool weight_loader_end(vkclip_model *m, weight_loader *L, bool ok, errbuf *e)
{
    ok = ok && vk_uploader_finish(&L->uploader, e);
    vk_uploader_destroy(&L->uploader);
    atomic_store(&m->device_bytes, m->weight_arena.total);
    return ok;
}

static bool upload_weights(vkclip_model *m, errbuf *e)
{
    vk_context *ctx = &m->dev->ctx;
    char patch[128];
    snprintf(patch, sizeof patch, "%s.weight", m->cfg.family->vision.patch);
    const st_tensor *probe = model_weights_find(m->weights, patch, NULL);
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
    return weight_loader_end(m, &L, ok, e);
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
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->text_lock, NULL);
    atomic_init(&m->device_bytes, 0);
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
    if (!load_configs(m, dir, &e) || !(m->weights = model_weights_open(dir, &e)) ||
        (m->cfg.family->has_text && !check_logit_scale(m->weights, dir, m->cfg.family, &e)) ||
        !upload_weights(m, &e) ||
        !plan_cache_init(&m->staging.plans, 4, &e))
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
    vkclip_encoder_free(m->encoder);
    model_text_free(m);
    vk_buffer_destroy(ctx, &m->staging.frames);
    vk_buffer_destroy(ctx, &m->staging.tables);
    vk_buffer_destroy(ctx, &m->staging.rows);
    vk_buffer_destroy(ctx, &m->staging.chw);
    plan_cache_free(&m->staging.plans);
    clip_vision_free(&m->vision);
    vk_arena_destroy(ctx, &m->weight_arena);
    model_weights_close(m->weights);
    pthread_mutex_destroy(&m->lock);
    pthread_mutex_destroy(&m->text_lock);
    free(m);
}

static const char *act_name(clip_act a)
{
    return a == CLIP_ACT_GELU ? "gelu" : a == CLIP_ACT_GELU_TANH ? "gelu_pytorch_tanh" : "quick_gelu";
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
    info->logit_scale = expf(scalar_of(m->weights, "logit_scale"));
    info->logit_bias = c->family->sigmoid_scores ? scalar_of(m->weights, "logit_bias") : 0.0f;
    info->batch_size = m->batch_size;
    info->family = c->family->name;
    info->has_text = c->family->has_text;
    info->sigmoid_scores = c->family->sigmoid_scores;
    info->device_bytes = atomic_load(&((vkclip_model *)m)->device_bytes);
}

const char *vkclip_default_model_dir(void)
{
    const char *env = getenv("VKCLIP_MODEL");
    if (env && *env)
        return env;
    /* An installed copy wins over the source tree only when it is there. */
    if (file_exists(VKCLIP_INSTALLED_MODEL_DIR "/config.json"))
        return VKCLIP_INSTALLED_MODEL_DIR;
    return VKCLIP_SOURCE_MODEL_DIR;
}

int vkclip_embedding_dim(const vkclip_model *m)
{
    return m->cfg.projection_dim;
}

int vkclip_image_size(const vkclip_model *m)
{
    return m->cfg.image_size;
}

/* ---- frames ---- */

static bool ensure_buffer(vk_context *ctx, vk_buffer *b, uint64_t bytes, vk_memory_kind kind, errbuf *e)
{
    if (b->buffer && b->size >= bytes)
        return true;
    vk_buffer_destroy(ctx, b);
    return vk_buffer_create(ctx, b, bytes, kind, e);
}

/* One frame to the CHW tensor in m->staging.chw: plan, stage, record, run.
 * The caller holds m->lock. */
static bool run_preprocess(vkclip_model *m, const vkclip_frame *frame, errbuf *e)
{
    vk_context *ctx = &m->dev->ctx;
    frame_staging *st = &m->staging;
    int side = m->cfg.image_size;
    const plan_entry *p = plan_cache_get(&st->plans, &m->pp, side, frame, ctx->props.limits.maxTexelBufferElements, e);
    if (!p)
        return errbuf_prefix(e, "frame");
    uint64_t table_bytes = (uint64_t)p->plan.table_len * 4, rows_bytes = (uint64_t)p->plan.rows_tmp_len * 4 + 16;
    uint64_t chw_bytes = 3ull * (uint64_t)side * (uint64_t)side * 4;
    vk_sequence seq = {0};
    bool ok = ensure_buffer(ctx, &st->frames, p->layout.bytes, VK_MEMORY_UPLOAD, e) &&
              ensure_buffer(ctx, &st->tables, table_bytes, VK_MEMORY_UPLOAD, e) &&
              ensure_buffer(ctx, &st->rows, rows_bytes, VK_MEMORY_DEVICE, e) &&
              ensure_buffer(ctx, &st->chw, chw_bytes, VK_MEMORY_READBACK, e) && vk_sequence_begin(ctx, &seq, e);
    if (ok) {
        frame_copy(frame, &p->layout, st->frames.mapped);
        memcpy(st->tables.mapped, p->plan.table, (size_t)table_bytes);
        vk_buffer_flush(ctx, &st->frames);
        vk_buffer_flush(ctx, &st->tables);
        recorder r = {.seq = &seq, .kernels = &m->dev->kernels, .err = e};
        dbuf out = {.slice = vk_buffer_slice(&st->chw, 0, chw_bytes), .type = STORAGE_F32};
        push_preprocess_v pv = p->plan.v;
        pv.layout_kind = LAYOUT_CHW;
        ok = op_preprocess(&r, vk_buffer_slice(&st->frames, 0, p->layout.bytes),
                           vk_buffer_slice(&st->tables, 0, table_bytes), vk_buffer_slice(&st->rows, 0, rows_bytes),
                           out, &p->plan.h, &pv) &&
             vk_sequence_end(&seq, e) && vk_sequence_submit(&seq, e) && vk_sequence_wait(&seq, e);
        if (ok)
            vk_sequence_print_profile(&seq); /* VKCLIP_PROFILE=1 only */
    }
    vk_sequence_destroy(&seq);
    return ok;
}

int vkclip_preprocess(vkclip_model *m, const vkclip_frame *frame, float *out, vkclip_error *err)
{
    errbuf e = {{0}};
    if (!frame || !out) {
        errbuf_set(&e, "preprocess: bad arguments");
        return fail(err, &e);
    }
    size_t bytes = 3 * (size_t)m->cfg.image_size * (size_t)m->cfg.image_size * 4;
    pthread_mutex_lock(&m->lock);
    bool ok = run_preprocess(m, frame, &e);
    if (ok) {
        vk_buffer_invalidate(&m->dev->ctx, &m->staging.chw);
        memcpy(out, m->staging.chw.mapped, bytes);
    }
    pthread_mutex_unlock(&m->lock);
    return ok ? 0 : fail(err, &e);
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

/* The model's own encoder, made on first use; the caller holds m->lock.
 * Two batches in flight (the second slot's buffers are made only when a call
 * has more than one batch), so the host stages one while the device runs
 * the other. */
static vkclip_encoder *model_encoder(vkclip_model *m, errbuf *e)
{
    if (!m->encoder)
        m->encoder = encoder_new(m, m->batch_size, 2, true, e);
    return m->encoder;
}

static bool encode_locked(vkclip_model *m, const vkclip_frame *frames, int n, float *out, bool normalize, errbuf *e)
{
    vkclip_encoder *enc = model_encoder(m, e);
    if (!enc)
        return false;
    int E = m->cfg.projection_dim, B = m->batch_size;
    int64_t tickets[2];
    int first[2], queued = 0, head = 0;
    for (int next = 0, done = 0; done < n;) {
        /* Submit while a slot is free, then collect the oldest batch. */
        while (next < n && queued < 2) {
            int count = n - next < B ? n - next : B;
            int64_t t = encoder_submit(enc, frames + next, count, next, e);
            if (t <= 0) {
                if (t == 0)
                    errbuf_set(e, "encode: the model's encoder is busy");
                vkclip_encoder_discard(enc);
                return false;
            }
            int at = (head + queued) % 2;
            tickets[at] = t;
            first[at] = next;
            queued++;
            next += count;
        }
        int r = encoder_collect(enc, tickets[head], true, out + (size_t)first[head] * E, normalize, e);
        if (r < 0) {
            vkclip_encoder_discard(enc);
            return false;
        }
        done += n - first[head] < B ? n - first[head] : B;
        head = (head + 1) % 2;
        queued--;
    }
    return true;
}

int vkclip_encode_images(vkclip_model *m, const vkclip_frame *frames, int n, float *out, bool normalize,
                         vkclip_error *err)
{
    errbuf e = {{0}};
    if (n < 0 || (n > 0 && (!frames || !out))) {
        errbuf_set(&e, "encode: bad arguments");
        return fail(err, &e);
    }
    pthread_mutex_lock(&m->lock);
    bool ok = encode_locked(m, frames, n, out, normalize, &e);
    pthread_mutex_unlock(&m->lock);
    return ok ? 0 : fail(err, &e);
}

int vkclip_bench_batch(vkclip_model *m, vkclip_error *err)
{
    errbuf e = {{0}};
    pthread_mutex_lock(&m->lock);
    vkclip_encoder *enc = model_encoder(m, &e);
    bool ok = enc && encoder_bench(enc, &e);
    pthread_mutex_unlock(&m->lock);
    return ok ? 0 : fail(err, &e);
}
