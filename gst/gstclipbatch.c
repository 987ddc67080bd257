/* gstclipbatch.c: archive mode's ordered batching (see the header).
 *
 * One lock guards the queues. The streaming thread gathers and submits; the
 * output thread alone collects tickets and sends frames on, so each ticket
 * has one collector and the encoder's fences are only waited on, never
 * reset, by anyone else. */
#include "gstclipbatch.h"

#include <string.h>

GST_DEBUG_CATEGORY_EXTERN(gst_clip_debug);
#define GST_CAT_DEFAULT gst_clip_debug

/* How long the output thread waits on the device before looking again at
 * its queues (a flush or a stop may have arrived). */
#define WAIT_STEP_NS (50 * 1000 * 1000ull)

typedef struct Image {
    GstClipPending *owner;
    guint index;      /* among the owner's images */
    vkclip_rect crop; /* zero: the whole frame */
} Image;

typedef struct Batch {
    gint64 ticket;
    guint n;
    Image *images;
} Batch;

void gst_clip_pending_free(GstClipPending *p)
{
    if (!p)
        return;
    gst_clear_buffer(&p->buffer);
    if (p->regions)
        g_array_unref(p->regions);
    g_free(p->embeddings);
    g_free(p);
}

static void batch_free(Batch *batch)
{
    g_free(batch->images);
    g_free(batch);
}

static gboolean head_ready(GstClipBatcher *b)
{
    GstClipPending *head = g_queue_peek_head(&b->frames);
    /* A selected frame still gathering has images counted but not done. */
    return head && (!head->selected || head->ndone == head->nimages);
}

/* Copies a finished batch's embeddings into the frames they belong to. */
static void spread(GstClipBatcher *b, Batch *batch, const gfloat *out)
{
    for (guint i = 0; i < batch->n; i++) {
        Image *im = &batch->images[i];
        memcpy(im->owner->embeddings + (gsize)im->index * (gsize)b->dim, out + (gsize)i * (gsize)b->dim,
               (gsize)b->dim * sizeof *out);
        im->owner->ndone++;
    }
}

static void set_error(GstClipBatcher *b, const gchar *message)
{
    if (!b->error)
        b->error = g_strdup(message);
    b->flow = GST_FLOW_ERROR;
}

/* Output thread, lock held: retires every batch and drops every frame. */
static void discard_all(GstClipBatcher *b)
{
    while (!g_queue_is_empty(&b->batches)) {
        Batch *batch = g_queue_pop_head(&b->batches);
        g_mutex_unlock(&b->lock);
        vkclip_encoder_wait(b->encoder, batch->ticket, NULL, false, NULL);
        g_mutex_lock(&b->lock);
        batch_free(batch);
    }
    g_queue_clear_full(&b->frames, (GDestroyNotify)gst_clip_pending_free);
    g_ptr_array_set_size(b->gathering, 0);
}

static gpointer output_loop(gpointer data)
{
    GstClipBatcher *b = data;
    g_mutex_lock(&b->lock);
    while (!b->stopping) {
        if (b->discard_requested) {
            discard_all(b);
            b->discard_requested = FALSE;
            g_cond_broadcast(&b->changed);
            continue;
        }
        if (!b->flushing && head_ready(b)) {
            GstClipPending *p = g_queue_pop_head(&b->frames);
            b->sending++; /* a drain waits for this push too */
            g_mutex_unlock(&b->lock);
            GstBuffer *buf = b->release(b->user, p);
            GstFlowReturn ret = b->push(b->user, buf);
            g_mutex_lock(&b->lock);
            b->sending--;
            if (ret != GST_FLOW_OK && b->flow == GST_FLOW_OK)
                b->flow = ret;
            g_cond_broadcast(&b->changed);
            continue;
        }
        if (!b->flushing && !g_queue_is_empty(&b->batches)) {
            Batch *batch = g_queue_peek_head(&b->batches);
            gint64 ticket = batch->ticket;
            g_mutex_unlock(&b->lock);
            vkclip_error err = {{0}};
            int r = vkclip_encoder_wait_ready(b->encoder, ticket, WAIT_STEP_NS, &err);
            g_mutex_lock(&b->lock);
            if (r == 0 || g_queue_peek_head(&b->batches) != batch)
                continue; /* still running, or flushed meanwhile */
            gfloat *out = g_new(gfloat, (gsize)batch->n * (gsize)b->dim);
            if (r == 1 && vkclip_encoder_poll(b->encoder, ticket, out, true, &err) == 1) {
                spread(b, batch, out);
            } else {
                set_error(b, err.message);
                GST_ERROR("%s", err.message);
            }
            g_free(out);
            batch_free(g_queue_pop_head(&b->batches));
            g_cond_broadcast(&b->changed); /* room on the device */
            continue;
        }
        g_cond_wait(&b->changed, &b->lock);
    }
    g_mutex_unlock(&b->lock);
    return NULL;
}

void gst_clip_batcher_start(GstClipBatcher *b, vkclip_encoder *encoder, gint dim, GstClipReleaseFunc release,
                            GstClipPushFunc push, gpointer user)
{
    memset(b, 0, sizeof *b);
    b->encoder = encoder;
    b->dim = dim;
    b->release = release;
    b->push = push;
    b->user = user;
    b->flow = GST_FLOW_OK;
    g_mutex_init(&b->lock);
    g_cond_init(&b->changed);
    g_queue_init(&b->frames);
    g_queue_init(&b->batches);
    b->gathering = g_ptr_array_new_with_free_func(g_free);
    b->thread = g_thread_new("clip-output", output_loop, b);
}

gboolean gst_clip_batcher_running(const GstClipBatcher *b)
{
    return b->thread != NULL;
}

void gst_clip_batcher_stop(GstClipBatcher *b)
{
    if (!b->thread)
        return;
    g_mutex_lock(&b->lock);
    b->stopping = TRUE;
    g_cond_broadcast(&b->changed);
    g_mutex_unlock(&b->lock);
    g_thread_join(b->thread);
    g_mutex_lock(&b->lock);
    discard_all(b); /* the thread is gone: this thread collects now */
    g_mutex_unlock(&b->lock);
    g_ptr_array_unref(b->gathering);
    g_free(b->error);
    g_mutex_clear(&b->lock);
    g_cond_clear(&b->changed);
    memset(b, 0, sizeof *b);
}

/* The flow the streaming thread reports, lock held. */
static GstFlowReturn current_flow(GstClipBatcher *b, gchar **error)
{
    if (b->flushing)
        return GST_FLOW_FLUSHING;
    if (b->flow == GST_FLOW_ERROR && error && !*error)
        *error = g_strdup(b->error ? b->error : "inference failed");
    return b->flow;
}

/* Lock held. Maps each frame of the gathered images once, crops, submits;
 * while the device is full, waits for the output thread to retire a batch. */
static GstFlowReturn submit(GstClipBatcher *b, GstClipFrameConverter *conv, gchar **error)
{
    guint n = b->gathering->len;
    if (n == 0)
        return GST_FLOW_OK;
    vkclip_frame *frames = g_new0(vkclip_frame, n);
    GstClipFrame *mapped = g_new0(GstClipFrame, n);
    guint nmapped = 0;
    GstFlowReturn ret = GST_FLOW_OK;
    for (guint i = 0; i < n; i++) {
        Image *im = g_ptr_array_index(b->gathering, i);
        if (nmapped == 0 || mapped[nmapped - 1].video.buffer != im->owner->buffer) {
            if (!gst_clip_frame_map(&mapped[nmapped], conv, im->owner->buffer)) {
                *error = g_strdup("cannot map a video frame for reading");
                ret = GST_FLOW_ERROR;
                break;
            }
            nmapped++;
        }
        frames[i] = mapped[nmapped - 1].frame;
        frames[i].crop = im->crop;
    }
    gint64 ticket = 0;
    while (ret == GST_FLOW_OK) {
        vkclip_error err = {{0}};
        ticket = vkclip_encoder_submit(b->encoder, frames, (int)n, &err);
        if (ticket > 0)
            break;
        if (ticket < 0) {
            *error = g_strdup(err.message);
            ret = GST_FLOW_ERROR;
            break;
        }
        g_cond_wait(&b->changed, &b->lock); /* back-pressure */
        ret = current_flow(b, error);
        if (ret == GST_FLOW_EOS || ret == GST_FLOW_NOT_LINKED)
            ret = GST_FLOW_OK; /* downstream's answer is for frames already sent: keep inferring */
    }
    for (guint i = 0; i < nmapped; i++)
        gst_clip_frame_unmap(&mapped[i]);
    g_free(mapped);
    g_free(frames);
    if (ret != GST_FLOW_OK)
        return ret;
    Batch *batch = g_new0(Batch, 1);
    batch->ticket = ticket;
    batch->n = n;
    batch->images = g_new(Image, n);
    for (guint i = 0; i < n; i++)
        batch->images[i] = *(Image *)g_ptr_array_index(b->gathering, i);
    g_queue_push_tail(&b->batches, batch);
    g_ptr_array_set_size(b->gathering, 0);
    g_cond_broadcast(&b->changed);
    return GST_FLOW_OK;
}

static void gather(GstClipBatcher *b, GstClipPending *p, vkclip_rect crop)
{
    Image *im = g_new(Image, 1);
    *im = (Image){.owner = p, .index = p->nimages++, .crop = crop};
    g_ptr_array_add(b->gathering, im);
}

GstFlowReturn gst_clip_batcher_add(GstClipBatcher *b, GstClipFrameConverter *conv, GstBuffer *buffer,
                                   gboolean selected, GArray *regions, gchar **error)
{
    GstClipPending *p = g_new0(GstClipPending, 1);
    p->buffer = buffer;
    p->selected = selected;
    p->roi = regions != NULL;
    p->regions = regions;
    gint width = GST_VIDEO_INFO_WIDTH(&conv->info), height = GST_VIDEO_INFO_HEIGHT(&conv->info);
    guint images = regions ? regions->len : 1;
    if (selected)
        p->embeddings = g_new0(gfloat, (gsize)MAX(images, 1u) * (gsize)b->dim);
    guint batch_size = (guint)vkclip_encoder_batch_size(b->encoder);

    g_mutex_lock(&b->lock);
    GstFlowReturn ret = current_flow(b, error);
    if (ret == GST_FLOW_FLUSHING || ret == GST_FLOW_ERROR) {
        g_mutex_unlock(&b->lock);
        gst_clip_pending_free(p);
        return ret;
    }
    ret = GST_FLOW_OK;
    g_queue_push_tail(&b->frames, p);
    for (guint r = 0; selected && r < images && ret == GST_FLOW_OK; r++) {
        vkclip_rect crop = {0};
        if (regions) {
            GstClipRegion *region = &g_array_index(regions, GstClipRegion, r);
            vkclip_frame whole = {.width = width, .height = height}, cropped;
            if (!gst_clip_frame_crop(&whole, region->x, region->y, region->width, region->height, &cropped)) {
                region->image = -1;
                continue;
            }
            region->image = (gint)p->nimages;
            crop = cropped.crop;
        }
        gather(b, p, crop);
        if (b->gathering->len >= batch_size)
            ret = submit(b, conv, error);
    }
    g_cond_broadcast(&b->changed);
    if (ret == GST_FLOW_OK)
        ret = current_flow(b, error);
    g_mutex_unlock(&b->lock);
    return ret;
}

GstFlowReturn gst_clip_batcher_drain(GstClipBatcher *b, GstClipFrameConverter *conv, gchar **error)
{
    g_mutex_lock(&b->lock);
    GstFlowReturn ret = b->flushing ? GST_FLOW_FLUSHING : submit(b, conv, error);
    while (ret == GST_FLOW_OK && (!g_queue_is_empty(&b->frames) || b->sending > 0)) {
        g_cond_wait(&b->changed, &b->lock);
        ret = current_flow(b, error);
    }
    g_mutex_unlock(&b->lock);
    return ret;
}

void gst_clip_batcher_flush_start(GstClipBatcher *b)
{
    g_mutex_lock(&b->lock);
    b->flushing = TRUE;
    g_cond_broadcast(&b->changed);
    g_mutex_unlock(&b->lock);
}

void gst_clip_batcher_flush_stop(GstClipBatcher *b)
{
    g_mutex_lock(&b->lock);
    b->flushing = TRUE; /* a flush-stop without a flush-start still drops everything */
    b->discard_requested = TRUE;
    g_cond_broadcast(&b->changed);
    while (b->discard_requested)
        g_cond_wait(&b->changed, &b->lock);
    b->flushing = FALSE;
    b->flow = GST_FLOW_OK;
    g_mutex_unlock(&b->lock);
}
