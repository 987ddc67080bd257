/* gstclipbatch.c: archive mode's ordered batching (see the header). */
#include "gstclipbatch.h"

#include <string.h>

typedef struct Image {
    GstClipPending *owner;
    guint index;     /* among the owner's images */
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

void gst_clip_batcher_init(GstClipBatcher *b, vkclip_encoder *encoder, gint dim)
{
    memset(b, 0, sizeof *b);
    b->encoder = encoder;
    b->dim = dim;
    g_queue_init(&b->frames);
    g_queue_init(&b->batches);
    b->gathering = g_ptr_array_new_with_free_func(g_free);
}

static void batch_free(Batch *batch)
{
    g_free(batch->images);
    g_free(batch);
}

void gst_clip_batcher_discard(GstClipBatcher *b)
{
    if (b->encoder)
        vkclip_encoder_discard(b->encoder);
    g_queue_clear_full(&b->batches, (GDestroyNotify)batch_free);
    g_queue_clear_full(&b->frames, (GDestroyNotify)gst_clip_pending_free);
    if (b->gathering)
        g_ptr_array_set_size(b->gathering, 0);
}

void gst_clip_batcher_clear(GstClipBatcher *b)
{
    gst_clip_batcher_discard(b);
    if (b->gathering)
        g_ptr_array_unref(b->gathering);
    memset(b, 0, sizeof *b);
}

guint gst_clip_batcher_held(const GstClipBatcher *b)
{
    return g_queue_get_length((GQueue *)&b->frames);
}

/* Writes a finished batch's embeddings into the frames they belong to. */
static gboolean retire(GstClipBatcher *b, Batch *batch, gboolean wait, gboolean *done, gchar **error)
{
    gfloat *out = g_new(gfloat, (gsize)batch->n * (gsize)b->dim);
    vkclip_error err = {{0}};
    int r = wait ? vkclip_encoder_wait(b->encoder, batch->ticket, out, true, &err) == 0 ? 1 : -1
                 : vkclip_encoder_poll(b->encoder, batch->ticket, out, true, &err);
    *done = r == 1;
    if (r == 1) {
        for (guint i = 0; i < batch->n; i++) {
            Image *im = &batch->images[i];
            memcpy(im->owner->embeddings + (gsize)im->index * (gsize)b->dim, out + (gsize)i * (gsize)b->dim,
                   (gsize)b->dim * sizeof *out);
            im->owner->ndone++;
        }
    }
    g_free(out);
    if (r < 0)
        *error = g_strdup(err.message);
    return r >= 0;
}

gboolean gst_clip_batcher_collect(GstClipBatcher *b, gboolean wait, gchar **error)
{
    while (!g_queue_is_empty(&b->batches)) {
        Batch *batch = g_queue_peek_head(&b->batches);
        gboolean done = FALSE;
        if (!retire(b, batch, wait, &done, error))
            return FALSE;
        if (!done)
            break; /* batches finish in order: the later ones are not done either */
        batch_free(g_queue_pop_head(&b->batches));
    }
    return TRUE;
}

/* Maps each frame of the gathered images once, crops, submits; when the
 * engine is busy, waits for the oldest batch first. */
static gboolean submit(GstClipBatcher *b, GstClipFrameConverter *conv, gchar **error)
{
    guint n = b->gathering->len;
    if (n == 0)
        return TRUE;
    vkclip_frame *frames = g_new0(vkclip_frame, n);
    GstClipFrame *mapped = g_new0(GstClipFrame, n);
    guint nmapped = 0;
    gboolean ok = TRUE;
    for (guint i = 0; i < n && ok; i++) {
        Image *im = g_ptr_array_index(b->gathering, i);
        if (nmapped == 0 || mapped[nmapped - 1].video.buffer != im->owner->buffer) {
            if (!gst_clip_frame_map(&mapped[nmapped], conv, im->owner->buffer)) {
                *error = g_strdup("cannot map a video frame for reading");
                ok = FALSE;
                break;
            }
            nmapped++;
        }
        frames[i] = mapped[nmapped - 1].frame;
        frames[i].crop = im->crop;
    }
    gint64 ticket = 0;
    while (ok) {
        vkclip_error err = {{0}};
        ticket = vkclip_encoder_submit(b->encoder, frames, (int)n, &err);
        if (ticket > 0)
            break;
        if (ticket < 0) {
            *error = g_strdup(err.message);
            ok = FALSE;
        } else if (g_queue_is_empty(&b->batches)) {
            *error = g_strdup("the engine is busy with no batch of ours in flight");
            ok = FALSE;
        } else { /* back-pressure: the oldest batch must finish first */
            gboolean done = FALSE;
            Batch *oldest = g_queue_peek_head(&b->batches);
            ok = retire(b, oldest, TRUE, &done, error);
            if (ok)
                batch_free(g_queue_pop_head(&b->batches));
        }
    }
    for (guint i = 0; i < nmapped; i++)
        gst_clip_frame_unmap(&mapped[i]);
    g_free(mapped);
    g_free(frames);
    if (!ok)
        return FALSE;
    Batch *batch = g_new0(Batch, 1);
    batch->ticket = ticket;
    batch->n = n;
    batch->images = g_new(Image, n);
    for (guint i = 0; i < n; i++)
        batch->images[i] = *(Image *)g_ptr_array_index(b->gathering, i);
    g_queue_push_tail(&b->batches, batch);
    g_ptr_array_set_size(b->gathering, 0);
    return TRUE;
}

static void gather(GstClipBatcher *b, GstClipPending *p, vkclip_rect crop)
{
    Image *im = g_new(Image, 1);
    *im = (Image){.owner = p, .index = p->nimages++, .crop = crop};
    g_ptr_array_add(b->gathering, im);
}

gboolean gst_clip_batcher_add(GstClipBatcher *b, GstClipFrameConverter *conv, GstBuffer *buffer,
                              gboolean selected, GArray *regions, gchar **error)
{
    GstClipPending *p = g_new0(GstClipPending, 1);
    p->buffer = buffer;
    p->selected = selected;
    p->roi = regions != NULL;
    p->regions = regions;
    g_queue_push_tail(&b->frames, p);
    if (!selected)
        return TRUE;
    gint width = GST_VIDEO_INFO_WIDTH(&conv->info), height = GST_VIDEO_INFO_HEIGHT(&conv->info);
    guint images = regions ? regions->len : 1;
    p->embeddings = g_new0(gfloat, (gsize)MAX(images, 1u) * (gsize)b->dim);
    guint batch_size = (guint)vkclip_encoder_batch_size(b->encoder);
    for (guint r = 0; r < images; r++) {
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
        if (b->gathering->len >= batch_size && !submit(b, conv, error))
            return FALSE;
    }
    return TRUE;
}

gboolean gst_clip_batcher_submit_partial(GstClipBatcher *b, GstClipFrameConverter *conv, gchar **error)
{
    return submit(b, conv, error);
}

GstClipPending *gst_clip_batcher_pop_ready(GstClipBatcher *b)
{
    GstClipPending *head = g_queue_peek_head(&b->frames);
    if (!head || (head->selected && head->ndone < head->nimages))
        return NULL;
    /* A selected frame still gathering (not yet submitted) is not ready
     * either: ndone < nimages covers it, since its images count already. */
    return g_queue_pop_head(&b->frames);
}
