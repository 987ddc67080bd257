/* image_encoder: vkclip_encoder, batches of frames in flight on the device.
 *
 * Each slot is one batch's worth of everything: the frames' staging buffer
 * (and an upload buffer where device-local memory is not host-visible), the
 * resampling tables, the activations and the recorded forward pass
 * (vision_graph), a recorded preprocessing command buffer and a fence. A
 * submission is one vkQueueSubmit of [preprocessing, forward] with the slot's
 * fence; where frames go through the upload buffer and the plan says
 * upload=queue, their copy is submitted just before on the transfer queue
 * (vk_transfer), so it overlaps the previous batch's compute. Collecting a
 * ticket waits for (or polls) that fence and reads the embeddings. On the CPU backend a slot has a job on the encoder's
 * cpu_queue in place of a fence.
 * The preprocessing command buffer is recorded again only when
 * the batch's geometries (size, format, strides, colorimetry, chroma siting,
 * crop, which frames share an upload) differ from what it was recorded for. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_queue.h"
#include "vk/vk_transfer.h"
#include "vkclip_internal.h"

#define MAX_IN_FLIGHT 8
#define MAX_BATCH 1024
#define PARTIAL_FORWARDS 3 /* forward passes kept per slot for batches smaller than the full one */

/* How frame i of a batch was recorded: its geometry, which upload holds its
 * bytes and which table its weights. Compared with memcmp (no padding). */
typedef struct frame_use {
    frame_geometry key;
    int upload, table;
} frame_use;

typedef struct enc_slot {
    bool ready; /* buffers made */
    bool busy;  /* submitted, not yet collected */
    int64_t ticket;
    int count;
    VkFence fence;
    cpu_job job; /* the CPU backend's fence */
    vision_graph graph; /* activations for the full batch and its forward pass */
    vk_sequence partial[PARTIAL_FORWARDS];
    uint32_t partial_count[PARTIAL_FORWARDS]; /* 0: unused */
    uint64_t partial_used[PARTIAL_FORWARDS];
    vk_buffer frames; /* device-local; mapped where the device allows */
    vk_buffer upload; /* host-visible staging, only where `frames` is not mapped */
    vk_buffer tables; /* host-visible */
    vk_buffer rows;   /* between the two resampling passes */
    vk_sequence prep;
    vk_transfer copy;     /* upload -> frames on the transfer queue (upload=queue) */
    vk_sequence *forward; /* the forward pass submitted with prep */
    bool prep_recorded;
    int rec_n;
    frame_use *rec; /* [batch]: what prep was recorded for */
} enc_slot;

struct vkclip_encoder {
    /* Guards the slots: submit, collect and wait_ready may come from
     * different threads (an element submits on its streaming thread and
     * collects on its output thread). Never held while waiting on a fence. */
    pthread_mutex_t lock;
    vkclip_model *m;
    vk_context *ctx;
    int batch, max_in_flight;
    enc_slot slots[MAX_IN_FLIGHT];
    int64_t next_ticket;
    uint64_t clock;
    /* VKCLIP_FORCE_UPLOAD=1: go through the upload buffer and a copy even
     * where device-local memory is mapped (tests the discrete-GPU path). */
    bool force_upload;
    plan_cache plans;
    cpu_queue queue; /* the CPU backend's */
    /* Scratch for one submission, [batch] each. */
    const plan_entry **plan_of;
    frame_use *use;
    uint64_t *upload_at, *table_at;
    int *upload_frame, *table_frame;
};

static uint64_t align256(uint64_t v)
{
    return (v + 255) & ~(uint64_t)255;
}

static void slot_free(vkclip_encoder *enc, enc_slot *s)
{
    vk_context *ctx = enc->ctx;
    if (s->busy && s->fence)
        vkWaitForFences(ctx->device, 1, &s->fence, VK_TRUE, UINT64_MAX);
    if (s->busy && ctx->cpu)
        cpu_queue_wait(&enc->queue, &s->job, UINT64_MAX);
    vk_sequence_destroy(&s->prep);
    vk_transfer_destroy(&s->copy);
    for (int i = 0; i < PARTIAL_FORWARDS; i++)
        vk_sequence_destroy(&s->partial[i]);
    if (s->ready)
        vision_graph_free(&s->graph, ctx);
    vk_buffer_destroy(ctx, &s->frames);
    vk_buffer_destroy(ctx, &s->upload);
    vk_buffer_destroy(ctx, &s->tables);
    vk_buffer_destroy(ctx, &s->rows);
    if (s->fence)
        vkDestroyFence(ctx->device, s->fence, NULL);
    free(s->rec);
    memset(s, 0, sizeof *s);
}

static bool slot_init(vkclip_encoder *enc, enc_slot *s, errbuf *e)
{
    vkclip_model *m = enc->m;
    memset(s, 0, sizeof *s);
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkResult r = enc->ctx->cpu ? VK_SUCCESS : vkCreateFence(enc->ctx->device, &fci, NULL, &s->fence);
    if (r != VK_SUCCESS) {
        s->fence = VK_NULL_HANDLE;
        return errbuf_set(e, "vulkan: cannot create a fence: %s", vk_result_name(r));
    }
    s->rec = calloc((size_t)enc->batch, sizeof *s->rec);
    if (!s->rec) {
        slot_free(enc, s);
        return errbuf_set(e, "out of memory");
    }
    if (!vision_graph_build(&s->graph, &m->vision, enc->ctx, &m->dev->kernels, (uint32_t)enc->batch, m->act_type,
                            e)) {
        slot_free(enc, s);
        return false;
    }
    s->ready = true;
    return true;
}

vkclip_encoder *encoder_new(vkclip_model *m, int batch_size, int max_in_flight, bool lazy, errbuf *e)
{
    if (batch_size == 0)
        batch_size = m->batch_size;
    if (max_in_flight == 0)
        max_in_flight = 2;
    if (batch_size < 1 || batch_size > MAX_BATCH) {
        errbuf_set(e, "encoder: batch size %d out of range (1..%d)", batch_size, MAX_BATCH);
        return NULL;
    }
    if (max_in_flight < 1 || max_in_flight > MAX_IN_FLIGHT) {
        errbuf_set(e, "encoder: max_in_flight %d out of range (1..%d)", max_in_flight, MAX_IN_FLIGHT);
        return NULL;
    }
    vkclip_encoder *enc = calloc(1, sizeof *enc);
    if (!enc) {
        errbuf_set(e, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&enc->lock, NULL);
    enc->m = m;
    enc->ctx = &m->dev->ctx;
    enc->batch = batch_size;
    enc->max_in_flight = max_in_flight;
    enc->next_ticket = 1;
    const char *force = getenv("VKCLIP_FORCE_UPLOAD");
    enc->force_upload = force && *force && strcmp(force, "0") != 0;
    size_t n = (size_t)batch_size;
    enc->plan_of = calloc(n, sizeof *enc->plan_of);
    enc->use = calloc(n, sizeof *enc->use);
    enc->upload_at = calloc(n, sizeof *enc->upload_at);
    enc->table_at = calloc(n, sizeof *enc->table_at);
    enc->upload_frame = calloc(n, sizeof *enc->upload_frame);
    enc->table_frame = calloc(n, sizeof *enc->table_frame);
    bool ok = enc->plan_of && enc->use && enc->upload_at && enc->table_at && enc->upload_frame && enc->table_frame;
    if (!ok)
        errbuf_set(e, "out of memory");
    /* Room for two batches of distinct geometries: a batch never evicts its own plans. */
    ok = ok && plan_cache_init(&enc->plans, batch_size < 8 ? 16 : 2 * batch_size, e);
    ok = ok && (!enc->ctx->cpu || cpu_queue_start(&enc->queue, e));
    for (int i = 0; ok && i < (lazy ? 1 : max_in_flight); i++)
        ok = slot_init(enc, &enc->slots[i], e);
    if (!ok) {
        vkclip_encoder_free(enc);
        return NULL;
    }
    return enc;
}

vkclip_encoder *vkclip_encoder_create(vkclip_model *model, int batch_size, int max_in_flight, vkclip_error *err)
{
    errbuf e = {{0}};
    if (!model) {
        errbuf_set(&e, "encoder: no model");
        export_error(err, &e);
        return NULL;
    }
    vkclip_encoder *enc = encoder_new(model, batch_size, max_in_flight, false, &e);
    if (!enc)
        export_error(err, &e);
    return enc;
}

void vkclip_encoder_free(vkclip_encoder *enc)
{
    if (!enc)
        return;
    for (int i = 0; i < MAX_IN_FLIGHT; i++)
        slot_free(enc, &enc->slots[i]);
    cpu_queue_stop(&enc->queue);
    plan_cache_free(&enc->plans);
    free(enc->plan_of);
    free(enc->use);
    free(enc->upload_at);
    free(enc->table_at);
    free(enc->upload_frame);
    free(enc->table_frame);
    pthread_mutex_destroy(&enc->lock);
    free(enc);
}

int vkclip_encoder_batch_size(const vkclip_encoder *enc)
{
    return enc->batch;
}

int vkclip_encoder_in_flight(const vkclip_encoder *enc)
{
    vkclip_encoder *e = (vkclip_encoder *)enc; /* the lock, not the state, changes */
    pthread_mutex_lock(&e->lock);
    int n = 0;
    for (int i = 0; i < enc->max_in_flight; i++)
        n += enc->slots[i].busy;
    pthread_mutex_unlock(&e->lock);
    return n;
}

/* Whether the slot's frames go through the upload buffer and a copy (where
 * its device-local buffer is not mapped: discrete GPUs). */
static bool slot_uploads(const vkclip_encoder *enc, const enc_slot *s)
{
    return !s->frames.mapped || enc->force_upload;
}

/* Whether that copy goes on its own before the batch (upload=queue). */
static bool slot_copies_apart(const vkclip_encoder *enc, const enc_slot *s)
{
    return slot_uploads(enc, s) && enc->m->dev->kernels.plan.upload_queue;
}

/* Makes b hold at least `bytes`; *grown tells that it is a new buffer (the
 * recorded commands that bound the old one are stale). */
static bool ensure_buffer(vk_context *ctx, vk_buffer *b, uint64_t bytes, vk_memory_kind kind, bool *grown,
                          errbuf *e)
{
    if (b->buffer && b->size >= bytes)
        return true;
    vk_buffer_destroy(ctx, b);
    *grown = true;
    return vk_buffer_create(ctx, b, bytes, kind, e);
}

/* The forward pass over `count` images: the full one, or one kept for that count. */
static vk_sequence *forward_for(vkclip_encoder *enc, enc_slot *s, uint32_t count, errbuf *e)
{
    if (count == s->graph.batch)
        return &s->graph.forward;
    int pick = 0;
    for (int i = 0; i < PARTIAL_FORWARDS; i++) {
        if (s->partial_count[i] == count) {
            s->partial_used[i] = ++enc->clock;
            return &s->partial[i];
        }
        if (s->partial_used[i] < s->partial_used[pick])
            pick = i;
    }
    vk_sequence *seq = &s->partial[pick];
    s->partial_count[pick] = 0;
    bool ok = seq->ctx ? vk_sequence_reset(seq, e) : vk_sequence_begin(enc->ctx, seq, e);
    ok = ok && vision_graph_record(&s->graph, &enc->m->vision, &enc->m->dev->kernels, count, seq, e) &&
         vk_sequence_end(seq, e);
    if (!ok) {
        vk_sequence_destroy(seq);
        return NULL;
    }
    s->partial_count[pick] = count;
    s->partial_used[pick] = ++enc->clock;
    return seq;
}

/* Records the slot's preprocessing of the batch described by enc->use:
 * the upload's copy to device-local memory where there is one, then both
 * resampling passes of each frame into the patch rows of its image. */
static bool record_prep(vkclip_encoder *enc, enc_slot *s, int n, uint64_t frame_bytes, uint64_t rows_bytes,
                        errbuf *e)
{
    const clip_vision *v = &enc->m->vision;
    vk_sequence *seq = &s->prep;
    s->prep_recorded = false;
    if (!(seq->ctx ? vk_sequence_reset(seq, e) : vk_sequence_begin(enc->ctx, seq, e)))
        return false;
    vk_slice from = vk_buffer_slice(&s->upload, 0, frame_bytes), to = vk_buffer_slice(&s->frames, 0, frame_bytes);
    if (slot_copies_apart(enc, s)) {
        if (!s->copy.ctx && !vk_transfer_init(enc->ctx, &s->copy, e))
            return false;
        if (!vk_transfer_record(&s->copy, &from, &to, 1, e))
            return false;
    } else if (slot_uploads(enc, s)) {
        vk_sequence_copy(seq, from, to);
    }
    recorder r = {.seq = seq, .kernels = &enc->m->dev->kernels, .err = e};
    bool ok = true;
    for (int i = 0; ok && i < n; i++) {
        const plan_entry *p = enc->plan_of[i];
        push_preprocess_v pv = p->plan.v;
        pv.layout_kind = LAYOUT_PATCHES;
        pv.out_off = (uint32_t)i * v->patches * v->patch_embed.K;
        pv.patch_size = v->patch;
        pv.patches_per_side = v->patches_per_side;
        uint64_t table_bytes = (uint64_t)p->plan.table_len * 4;
        ok = op_preprocess(&r, vk_buffer_slice(&s->frames, enc->upload_at[enc->use[i].upload], p->layout.bytes),
                           vk_buffer_slice(&s->tables, enc->table_at[enc->use[i].table], table_bytes),
                           vk_buffer_slice(&s->rows, 0, rows_bytes), s->graph.patches, &p->plan.h, &pv);
    }
    if (!ok || !vk_sequence_end(seq, e)) {
        vk_sequence_destroy(seq);
        return false;
    }
    memcpy(s->rec, enc->use, (size_t)n * sizeof *s->rec);
    s->rec_n = n;
    s->prep_recorded = true;
    return true;
}

static int64_t submit_locked(vkclip_encoder *enc, const vkclip_frame *frames, int n, int first_index, errbuf *e)
{
    if (n < 1 || n > enc->batch || !frames) {
        errbuf_set(e, "encoder: %d frames submitted (1..%d)", n, enc->batch);
        return -1;
    }
    enc_slot *s = NULL;
    for (int i = 0; i < enc->max_in_flight && !s; i++)
        if (!enc->slots[i].busy)
            s = &enc->slots[i];
    if (!s)
        return 0;
    if (!s->ready && !slot_init(enc, s, e))
        return -1;
    vkclip_model *m = enc->m;
    vk_context *ctx = enc->ctx;
    int side = m->cfg.image_size;
    uint32_t max_texels = ctx->props.limits.maxTexelBufferElements;
    uint64_t frame_bytes = 0, table_bytes = 0, rows_bytes = 16;
    int uploads = 0, tables = 0;
    memset(enc->use, 0, (size_t)n * sizeof *enc->use);
    for (int i = 0; i < n; i++) {
        const plan_entry *p = plan_cache_get(&enc->plans, &m->pp, side, &frames[i], max_texels, e);
        if (!p) {
            errbuf_prefix(e, "frame %d", first_index + i);
            return -1;
        }
        enc->plan_of[i] = p;
        frame_use *u = &enc->use[i];
        u->key = p->key;
        u->upload = u->table = -1;
        for (int j = 0; j < i && u->upload < 0; j++)
            if (frame_same_pixels(&frames[j], &frames[i]))
                u->upload = enc->use[j].upload;
        for (int j = 0; j < i && u->table < 0; j++)
            if (frame_geometry_equal(&enc->use[j].key, &u->key))
                u->table = enc->use[j].table;
        if (u->upload < 0) {
            u->upload = uploads;
            enc->upload_frame[uploads] = i;
            enc->upload_at[uploads++] = frame_bytes;
            frame_bytes = align256(frame_bytes + p->layout.bytes);
        }
        if (u->table < 0) {
            u->table = tables;
            enc->table_frame[tables] = i;
            enc->table_at[tables++] = table_bytes;
            table_bytes = align256(table_bytes + (uint64_t)p->plan.table_len * 4);
        }
        if ((uint64_t)p->plan.rows_tmp_len * 4 > rows_bytes)
            rows_bytes = (uint64_t)p->plan.rows_tmp_len * 4;
    }
    bool grown = false;
    if (!ensure_buffer(ctx, &s->frames, frame_bytes, VK_MEMORY_DEVICE, &grown, e) ||
        (slot_uploads(enc, s) && !ensure_buffer(ctx, &s->upload, frame_bytes, VK_MEMORY_UPLOAD, &grown, e)) ||
        !ensure_buffer(ctx, &s->tables, table_bytes, VK_MEMORY_UPLOAD, &grown, e) ||
        !ensure_buffer(ctx, &s->rows, rows_bytes, VK_MEMORY_DEVICE, &grown, e)) {
        s->prep_recorded = false;
        return -1;
    }
    if (grown || !s->prep_recorded || s->rec_n != n || memcmp(s->rec, enc->use, (size_t)n * sizeof *s->rec) != 0) {
        /* The tables of a reused recording are already in place (the device only reads them). */
        for (int t = 0; t < tables; t++) {
            const preprocess_plan *p = &enc->plan_of[enc->table_frame[t]]->plan;
            memcpy((uint8_t *)s->tables.mapped + enc->table_at[t], p->table, (size_t)p->table_len * 4);
        }
        vk_buffer_flush(ctx, &s->tables);
        if (!record_prep(enc, s, n, frame_bytes, rows_bytes, e))
            return -1;
    }
    vk_buffer *host = slot_uploads(enc, s) ? &s->upload : &s->frames;
    for (int u = 0; u < uploads; u++) {
        int i = enc->upload_frame[u];
        frame_copy(&frames[i], &enc->plan_of[i]->layout, (uint8_t *)host->mapped + enc->upload_at[u]);
    }
    vk_buffer_flush(ctx, host);
    vk_sequence *forward = forward_for(enc, s, (uint32_t)n, e);
    if (!forward)
        return -1;
    VkCommandBuffer cmds[2] = {s->prep.cmd, forward->cmd};
    s->job = (cpu_job){.programs = {&s->prep.host, &forward->host}, .count = 2};
    if (ctx->cpu && !cpu_queue_push(&enc->queue, &s->job)) { /* a slot's job at most each: never */
        errbuf_set(e, "encoder: the CPU queue is full");
        return -1;
    }

    if (!ctx->cpu && !(slot_copies_apart(enc, s) ? vk_transfer_submit_then(&s->copy, cmds, 2, s->fence, e)
                                                  : vk_submit(ctx, cmds, 2, s->fence, e)))
        return -1;
    s->busy = true;
    s->forward = forward;
    s->count = n;
    s->ticket = enc->next_ticket++;
    return s->ticket;
}

int64_t encoder_submit(vkclip_encoder *enc, const vkclip_frame *frames, int n, int first_index, errbuf *e)
{
    pthread_mutex_lock(&enc->lock);
    int64_t t = submit_locked(enc, frames, n, first_index, e);
    pthread_mutex_unlock(&enc->lock);
    return t;
}

int64_t vkclip_encoder_submit(vkclip_encoder *enc, const vkclip_frame *frames, int n, vkclip_error *err)
{
    errbuf e = {{0}};
    int64_t t = encoder_submit(enc, frames, n, 0, &e);
    if (t < 0)
        export_error(err, &e);
    return t;
}

static enc_slot *slot_of(vkclip_encoder *enc, int64_t ticket, errbuf *e)
{
    for (int i = 0; i < enc->max_in_flight; i++)
        if (enc->slots[i].busy && enc->slots[i].ticket == ticket)
            return &enc->slots[i];
    errbuf_set(e, "encoder: ticket %lld is not in flight (never issued, or already collected)", (long long)ticket);
    return NULL;
}

int encoder_collect(vkclip_encoder *enc, int64_t ticket, bool block, float *out, bool normalize, errbuf *e)
{
    pthread_mutex_lock(&enc->lock);
    enc_slot *s = slot_of(enc, ticket, e);
    VkDevice dev = enc->ctx->device;
    VkResult r = VK_ERROR_UNKNOWN;
    if (s && enc->ctx->cpu) {
        cpu_job *job = &s->job; /* waited for without the lock, as a fence */
        pthread_mutex_unlock(&enc->lock);
        r = cpu_queue_wait(&enc->queue, job, block ? UINT64_MAX : 0) ? VK_SUCCESS : VK_NOT_READY;
        pthread_mutex_lock(&enc->lock);
    } else if (s && block) {
        /* Wait without the lock: other tickets may be submitted meanwhile. A
         * ticket has one collector, so the slot stays ours. */
        VkFence fence = s->fence;
        pthread_mutex_unlock(&enc->lock);
        r = vkWaitForFences(dev, 1, &fence, VK_TRUE, UINT64_MAX);
        pthread_mutex_lock(&enc->lock);
    } else if (s) {
        r = vkGetFenceStatus(dev, s->fence);
    }
    int result = s ? 1 : -1;
    if (s && (r == VK_NOT_READY || r == VK_TIMEOUT)) {
        result = 0;
    } else if (s) {
        s->busy = false; /* done or failed: the ticket retires either way */
        if (r == VK_SUCCESS && s->fence)
            r = vkResetFences(dev, 1, &s->fence);
        if (r != VK_SUCCESS) {
            errbuf_set(e, "vulkan: waiting for the device failed: %s", vk_result_name(r));
            result = -1;
        } else {
            vk_sequence_print_profile(&s->prep); /* VKCLIP_PROFILE=1 only */
            vk_sequence_print_profile(s->forward);
        }
        if (result == 1 && out) {
            int E = enc->m->cfg.projection_dim;
            vk_buffer_invalidate(enc->ctx, &s->graph.embeddings);
            memcpy(out, s->graph.embeddings.mapped, (size_t)s->count * E * sizeof *out);
            if (normalize)
                for (int i = 0; i < s->count; i++)
                    l2_normalize(out + (size_t)i * E, E);
        }
    }
    pthread_mutex_unlock(&enc->lock);
    return result;
}

int vkclip_encoder_wait_ready(vkclip_encoder *enc, int64_t ticket, uint64_t timeout_ns, vkclip_error *err)
{
    errbuf e = {{0}};
    pthread_mutex_lock(&enc->lock);
    enc_slot *s = slot_of(enc, ticket, &e);
    VkFence fence = s ? s->fence : VK_NULL_HANDLE;
    pthread_mutex_unlock(&enc->lock);
    if (!s)
        return fail(err, &e);
    if (enc->ctx->cpu)
        return cpu_queue_wait(&enc->queue, &s->job, timeout_ns) ? 1 : 0;
    VkResult r = vkWaitForFences(enc->ctx->device, 1, &fence, VK_TRUE, timeout_ns);
    if (r == VK_TIMEOUT)
        return 0;
    if (r != VK_SUCCESS) {
        errbuf_set(&e, "vulkan: waiting for the device failed: %s", vk_result_name(r));
        return fail(err, &e);
    }
    return 1;
}

int vkclip_encoder_poll(vkclip_encoder *enc, int64_t ticket, float *out, bool normalize, vkclip_error *err)
{
    errbuf e = {{0}};
    int r = encoder_collect(enc, ticket, false, out, normalize, &e);
    if (r < 0)
        export_error(err, &e);
    return r;
}

int vkclip_encoder_wait(vkclip_encoder *enc, int64_t ticket, float *out, bool normalize, vkclip_error *err)
{
    errbuf e = {{0}};
    int r = encoder_collect(enc, ticket, true, out, normalize, &e);
    if (r < 0)
        export_error(err, &e);
    return r < 0 ? -1 : 0;
}

void vkclip_encoder_discard(vkclip_encoder *enc)
{
    pthread_mutex_lock(&enc->lock);
    for (int i = 0; i < enc->max_in_flight; i++) {
        enc_slot *s = &enc->slots[i];
        if (!s->busy)
            continue;
        if (s->fence) {
            vkWaitForFences(enc->ctx->device, 1, &s->fence, VK_TRUE, UINT64_MAX);
            vkResetFences(enc->ctx->device, 1, &s->fence);
        } else if (enc->ctx->cpu) {
            cpu_queue_wait(&enc->queue, &s->job, UINT64_MAX);
        }
        s->busy = false;
    }
    pthread_mutex_unlock(&enc->lock);
}

bool encoder_bench(vkclip_encoder *enc, errbuf *e)
{
    enc_slot *s = &enc->slots[0];
    if (s->busy)
        return errbuf_set(e, "encoder: busy");
    if (!s->ready && !slot_init(enc, s, e))
        return false;
    if (!vk_sequence_submit(&s->graph.forward, e) || !vk_sequence_wait(&s->graph.forward, e))
        return false;
    vk_sequence_print_profile(&s->graph.forward);
    return true;
}
