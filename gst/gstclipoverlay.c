/* gstclipoverlay.c: the `clipoverlay` element: draws the results of the
 * `clip` element (the "GstClipMeta" custom meta, see gstclipmeta.h) onto
 * the video.
 *
 * The text is laid out with Pango, drawn with Cairo into premultiplied
 * ARGB surfaces and blended onto the frame with a
 * GstVideoOverlayComposition, as textoverlay does. The composition is kept
 * between frames and rebuilt only when what it shows changes: each frame's
 * result is reduced to a short description (the text of the lines as they
 * are drawn, the reuse mark and the regions' rectangles), and only a
 * description that differs from the last one is rendered again. */

/**
 * SECTION:element-clipoverlay
 * @title: clipoverlay
 * @see_also: clip, textoverlay
 *
 * Draws the zero-shot labels that the `clip` element attaches to each buffer
 * (a #GstCustomMeta named "GstClipMeta") onto the video, so that a person can
 * watch the tags in a window.
 *
 * In the top-left corner, on a semi-transparent dark box, it draws one line
 * per label, best first, for the top #GstClipOverlay:max-labels labels:
 * `label  0.87` (the score with two decimals; only the label when
 * #GstClipOverlay:show-scores is %FALSE). A result that `clip` reused from an
 * earlier frame (its `inferred` field is %FALSE) is drawn with its scores
 * dimmed (at 55% opacity; the labels themselves, when scores are hidden), so
 * that a fresh result stands out without the box moving or changing size.
 *
 * With `clip inference-region=roi-list` the result has a `regions` array
 * instead of frame-level labels: each region gets its rectangle outlined
 * (in one of six colours, chosen by the region's id) and its top label, on
 * a dark tag, just above the rectangle (inside its top edge when there is no
 * room above).
 *
 * Frames without the meta pass through unchanged; so does every frame while
 * #GstClipOverlay:silent is %TRUE. The caps are the same on both sides:
 * system-memory `video/x-raw` in RGB, BGR, RGBA, BGRA, RGBx, BGRx, xRGB, xBGR,
 * ARGB, ABGR, GRAY8, I420 or NV12 (the formats `clip` takes; all of them can
 * be blended). The overlay is always blended into the frame: the element does
 * not hand a #GstVideoOverlayCompositionMeta downstream.
 *
 * The text is rendered again only when the drawn text changes: a score that
 * moves by less than its last shown decimal, or the same labels on the next
 * frame, reuse the previous rendering.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! clip model=/path/to/model labels="a dog;a cat;a person" ! clipoverlay ! videoconvert ! autovideosink
 * ]| Tags a webcam's picture and shows the top three labels with their scores.
 * |[
 * gst-launch-1.0 filesrc location=video.mp4 ! decodebin ! videoconvert ! clip model=/path/to/model labels-file=labels.txt ! clipoverlay max-labels=5 font-desc="Sans Bold 20" ! videoconvert ! autovideosink
 * ]| Shows the top five labels of a file's frames in a larger bold font.
 * |[
 * gst-launch-1.0 filesrc location=video.mp4 ! decodebin ! videoconvert ! clip model=/path/to/model labels="a dog;a cat" ! clipoverlay show-scores=false ! videoconvert ! x264enc ! mp4mux ! filesink location=tagged.mp4
 * ]| Burns the labels, without scores, into a new file.
 */
#include "gstclipoverlay.h"

#include <string.h>

#include <gst/video/video.h>
#include <pango/pangocairo.h>

#include "gstclipmeta.h"

GST_DEBUG_CATEGORY_STATIC(gst_clip_overlay_debug);
#define GST_CAT_DEFAULT gst_clip_overlay_debug

#define DEFAULT_MAX_LABELS 3
#define MAX_MAX_LABELS 20
#define DEFAULT_FONT_DESC "Sans 14"
#define DEFAULT_SHOW_SCORES TRUE
#define DEFAULT_SILENT FALSE

/* Geometry and colours, in frame pixels. */
#define BOX_MARGIN 8        /* the label box's distance from the frame's top-left corner */
#define BOX_PAD 6           /* text to box edge */
#define TAG_PAD 3           /* the same, for a region's tag */
#define BOX_ALPHA 0.6       /* opacity of the dark box */
#define DIM_ALPHA 0.55      /* opacity of the text that marks a reused result */

#define CLIP_OVERLAY_FORMATS \
    "{ RGB, BGR, RGBA, BGRA, RGBx, BGRx, xRGB, xBGR, ARGB, ABGR, GRAY8, I420, NV12 }"

/* Region outline colours, 0xRRGGBB, opaque. */
static const guint32 region_colours[] = {0x00ff7f, 0xffd700, 0x00bfff, 0xff4081, 0xff8c00, 0xb388ff};

enum {
    PROP_0,
    PROP_MAX_LABELS,
    PROP_FONT_DESC,
    PROP_SHOW_SCORES,
    PROP_SILENT,
};

struct _GstClipOverlay {
    GstVideoFilter parent;

    /* Properties, under the object lock. */
    guint max_labels;
    gchar *font_desc;
    gboolean show_scores;
    gboolean silent;
    gboolean font_changed; /* font_desc was set since the streaming thread last read it */

    /* Streaming thread only (and stop/finalize, when it does not run). */
    PangoFontMap *font_map;
    PangoContext *context;
    PangoFontDescription *font;
    gint width, height;                       /* of the negotiated frames; 0 before caps */
    gchar *cache_key;                         /* what `composition` shows; NULL: nothing cached */
    GstVideoOverlayComposition *composition;  /* NULL with a key: nothing to draw */
};

G_DEFINE_TYPE(GstClipOverlay, gst_clip_overlay, GST_TYPE_VIDEO_FILTER)
GST_ELEMENT_REGISTER_DEFINE(clipoverlay, "clipoverlay", GST_RANK_NONE, GST_TYPE_CLIP_OVERLAY)

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(CLIP_OVERLAY_FORMATS)));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(CLIP_OVERLAY_FORMATS)));

static void clear_cache(GstClipOverlay *self)
{
    g_clear_pointer(&self->cache_key, g_free);
    if (self->composition) {
        gst_video_overlay_composition_unref(self->composition);
        self->composition = NULL;
    }
}

/* ---- what a result shows ---- */

/* A label as one line of valid UTF-8: control characters become spaces. */
static void append_label(GString *text, const gchar *label)
{
    gchar *valid = g_utf8_make_valid(label, -1);
    for (const gchar *p = valid; *p; p++) {
        guchar c = (guchar)*p;
        g_string_append_c(text, c < 0x20 || c == 0x7f ? ' ' : (gchar)c);
    }
    g_free(valid);
}

/* Appends the lines for the top @max labels of @result ("label  0.87", one a
 * line) to @text. With @attrs and @dim, marks the scores (the labels, when
 * there are no scores) to be drawn dimmed. Returns the number of lines. */
static guint append_result_lines(GString *text, PangoAttrList *attrs, const GstStructure *result,
                                 guint max, gboolean show_scores, gboolean dim)
{
    guint n = MIN(gst_clip_result_n_labels(result), max);
    for (guint i = 0; i < n; i++) {
        if (i > 0)
            g_string_append_c(text, '\n');
        gsize line_start = text->len;
        const gchar *label = gst_clip_result_label(result, i);
        append_label(text, label ? label : "?");
        gsize dim_start = line_start;
        gdouble score = gst_clip_result_score(result, i);
        if (show_scores && score >= 0.0) {
            gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
            g_string_append(text, "  ");
            dim_start = text->len;
            g_string_append(text, g_ascii_formatd(buf, sizeof buf, "%.2f", score));
        }
        if (attrs && dim && text->len > dim_start) {
            PangoAttribute *a = pango_attr_foreground_alpha_new((guint16)(DIM_ALPHA * 65535));
            a->start_index = (guint)dim_start;
            a->end_index = (guint)text->len;
            pango_attr_list_insert(attrs, a);
        }
    }
    return n;
}

/* A region's rectangle, from a "region" structure of the `regions` array. */
static gboolean region_rect(const GValue *v, guint index, gint *id, gint *x, gint *y, gint *w, gint *h,
                            const GstStructure **region)
{
    if (!GST_VALUE_HOLDS_STRUCTURE(v))
        return FALSE;
    const GstStructure *r = gst_value_get_structure(v);
    if (!r || !gst_structure_get_int(r, "x", x) || !gst_structure_get_int(r, "y", y) ||
        !gst_structure_get_int(r, "width", w) || !gst_structure_get_int(r, "height", h))
        return FALSE;
    if (!gst_structure_get_int(r, "id", id))
        *id = (gint)index;
    *region = r;
    return TRUE;
}

static gboolean result_inferred(const GstStructure *result)
{
    gboolean inferred = TRUE;
    gst_structure_get_boolean(result, "inferred", &inferred);
    return inferred;
}

/* The description of what @result shows; equal descriptions draw equal
 * pictures (at one frame size and font). */
static gchar *describe(const GstStructure *result, guint max_labels, gboolean show_scores)
{
    GString *key = g_string_sized_new(128);
    g_string_append(key, result_inferred(result) ? "I" : "R");
    g_string_append_printf(key, "%u%c\x1e", max_labels, show_scores ? 's' : '-');
    append_result_lines(key, NULL, result, max_labels, show_scores, FALSE);
    const GValue *regions = gst_structure_get_value(result, "regions");
    if (regions && GST_VALUE_HOLDS_ARRAY(regions)) {
        guint n = gst_value_array_get_size(regions);
        for (guint i = 0; i < n; i++) {
            gint id, x, y, w, h;
            const GstStructure *r;
            if (!region_rect(gst_value_array_get_value(regions, i), i, &id, &x, &y, &w, &h, &r))
                continue;
            g_string_append_printf(key, "\x1e%d %d %d %d %d\x1f", id, x, y, w, h);
            append_result_lines(key, NULL, r, 1, show_scores, FALSE);
        }
    }
    return g_string_free(key, FALSE);
}

/* ---- rendering ---- */

/* A rectangle of premultiplied ARGB pixels at (x, y) of the frame, drawn by
 * @draw (on a cleared surface of w x h); NULL if it cannot be made. */
typedef void (*DrawFunc)(cairo_t *cr, gint w, gint h, gpointer data);

static GstVideoOverlayRectangle *new_rectangle(gint x, gint y, gint w, gint h, DrawFunc draw, gpointer data)
{
    if (w <= 0 || h <= 0)
        return NULL;
    gint stride = cairo_format_stride_for_width(CAIRO_FORMAT_ARGB32, w);
    if (stride <= 0)
        return NULL;
    GstBuffer *pixels = gst_buffer_new_allocate(NULL, (gsize)stride * (gsize)h, NULL);
    if (!pixels)
        return NULL;
    GstMapInfo map;
    if (!gst_buffer_map(pixels, &map, GST_MAP_WRITE)) {
        gst_buffer_unref(pixels);
        return NULL;
    }
    memset(map.data, 0, map.size);
    cairo_surface_t *surface =
        cairo_image_surface_create_for_data(map.data, CAIRO_FORMAT_ARGB32, w, h, stride);
    cairo_t *cr = cairo_create(surface);
    draw(cr, w, h, data);
    cairo_status_t status = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_flush(surface);
    cairo_surface_destroy(surface);
    gst_buffer_unmap(pixels, &map);
    if (status != CAIRO_STATUS_SUCCESS) {
        GST_WARNING("cairo: %s", cairo_status_to_string(status));
        gst_buffer_unref(pixels);
        return NULL;
    }

    gsize offset[GST_VIDEO_MAX_PLANES] = {0};
    gint strides[GST_VIDEO_MAX_PLANES] = {stride};
    gst_buffer_add_video_meta_full(pixels, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB,
                                   (guint)w, (guint)h, 1, offset, strides);
    GstVideoOverlayRectangle *rect = gst_video_overlay_rectangle_new_raw(
        pixels, x, y, (guint)w, (guint)h, GST_VIDEO_OVERLAY_FORMAT_FLAG_PREMULTIPLIED_ALPHA);
    gst_buffer_unref(pixels);
    return rect;
}

typedef struct {
    PangoLayout *layout;
    PangoRectangle logical;
    gint pad;
} TextBox;

static void draw_text_box(cairo_t *cr, gint w, gint h, gpointer data)
{
    const TextBox *box = data;
    cairo_set_source_rgba(cr, 0.0, 0.0, 0.0, BOX_ALPHA);
    cairo_rectangle(cr, 0, 0, w, h);
    cairo_fill(cr);
    cairo_move_to(cr, box->pad - box->logical.x, box->pad - box->logical.y);
    cairo_set_source_rgba(cr, 1.0, 1.0, 1.0, 1.0);
    pango_cairo_update_layout(cr, box->layout);
    pango_cairo_show_layout(cr, box->layout);
}

typedef struct {
    double r, g, b;
} Colour;

static void draw_solid(cairo_t *cr, gint w, gint h, gpointer data)
{
    const Colour *c = data;
    cairo_set_source_rgb(cr, c->r, c->g, c->b);
    cairo_rectangle(cr, 0, 0, w, h);
    cairo_fill(cr);
}

static GstVideoOverlayComposition *add_rectangle(GstVideoOverlayComposition *comp, GstVideoOverlayRectangle *rect)
{
    if (!rect)
        return comp;
    if (!comp)
        comp = gst_video_overlay_composition_new(rect);
    else
        gst_video_overlay_composition_add_rectangle(comp, rect);
    gst_video_overlay_rectangle_unref(rect);
    return comp;
}

static void ensure_pango(GstClipOverlay *self, const gchar *font_desc)
{
    if (!self->context) {
        self->font_map = pango_cairo_font_map_new();
        self->context = pango_font_map_create_context(self->font_map);
        cairo_font_options_t *options = cairo_font_options_create();
        cairo_font_options_set_antialias(options, CAIRO_ANTIALIAS_GRAY);
        cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_SLIGHT);
        pango_cairo_context_set_font_options(self->context, options);
        cairo_font_options_destroy(options);
    }
    if (font_desc || !self->font) {
        if (self->font)
            pango_font_description_free(self->font);
        self->font = pango_font_description_from_string(font_desc ? font_desc : DEFAULT_FONT_DESC);
    }
}

/* A text box with @text at most @max_w x @max_h pixels (longer lines end in
 * an ellipsis, lines past the bottom are cut); NULL when it would be empty.
 * Returns its size in *w, *h; the caller places it with
 * gst_video_overlay_rectangle_set_render_rectangle(). */
static GstVideoOverlayRectangle *text_rectangle(GstClipOverlay *self, const gchar *text, PangoAttrList *attrs,
                                                gint pad, gint max_w, gint max_h, gint *w, gint *h)
{
    if (!*text || max_w <= 2 * pad || max_h <= 2 * pad)
        return NULL;
    TextBox box = {.layout = pango_layout_new(self->context), .pad = pad};
    pango_layout_set_font_description(box.layout, self->font);
    pango_layout_set_text(box.layout, text, -1);
    pango_layout_set_attributes(box.layout, attrs);
    pango_layout_set_width(box.layout, (max_w - 2 * pad) * PANGO_SCALE);
    pango_layout_set_ellipsize(box.layout, PANGO_ELLIPSIZE_END);
    pango_layout_get_pixel_extents(box.layout, NULL, &box.logical);
    *w = MIN(box.logical.width + 2 * pad, max_w);
    *h = MIN(box.logical.height + 2 * pad, max_h);
    GstVideoOverlayRectangle *rect = NULL;
    if (box.logical.width > 0 && box.logical.height > 0)
        rect = new_rectangle(0, 0, *w, *h, draw_text_box, &box);
    g_object_unref(box.layout);
    return rect;
}

static GstVideoOverlayComposition *add_region(GstClipOverlay *self, GstVideoOverlayComposition *comp,
                                              const GstStructure *region, gint id, gint x, gint y, gint w, gint h,
                                              gboolean show_scores, gboolean dim)
{
    const gint fw = self->width, fh = self->height;
    /* The part of the rectangle inside the frame. */
    gint x0 = CLAMP(x, 0, fw), y0 = CLAMP(y, 0, fh);
    gint x1 = (gint)CLAMP((gint64)x + w, 0, fw), y1 = (gint)CLAMP((gint64)y + h, 0, fh);
    if (x1 <= x0 || y1 <= y0)
        return comp;
    gint rw = x1 - x0, rh = y1 - y0;
    gint t = MAX(2, MIN(fw, fh) / 240); /* line width */

    guint32 rgb = region_colours[(guint)ABS(id) % G_N_ELEMENTS(region_colours)];
    Colour c = {((rgb >> 16) & 0xff) / 255.0, ((rgb >> 8) & 0xff) / 255.0, (rgb & 0xff) / 255.0};
    if (rw <= 2 * t || rh <= 2 * t) {
        comp = add_rectangle(comp, new_rectangle(x0, y0, rw, rh, draw_solid, &c));
    } else {
        comp = add_rectangle(comp, new_rectangle(x0, y0, rw, t, draw_solid, &c));
        comp = add_rectangle(comp, new_rectangle(x0, y1 - t, rw, t, draw_solid, &c));
        comp = add_rectangle(comp, new_rectangle(x0, y0 + t, t, rh - 2 * t, draw_solid, &c));
        comp = add_rectangle(comp, new_rectangle(x1 - t, y0 + t, t, rh - 2 * t, draw_solid, &c));
    }

    GString *text = g_string_new(NULL);
    PangoAttrList *attrs = pango_attr_list_new();
    append_result_lines(text, attrs, region, 1, show_scores, dim);
    gint tw = 0, th = 0;
    GstVideoOverlayRectangle *tag = text_rectangle(self, text->str, attrs, TAG_PAD, fw, fh, &tw, &th);
    if (tag) {
        gint tx = x0 + tw > fw ? MAX(0, fw - tw) : x0;
        gint ty = y0 - th >= 0 ? y0 - th : MIN(y0 + t, MAX(0, fh - th));
        gst_video_overlay_rectangle_set_render_rectangle(tag, tx, ty, (guint)tw, (guint)th);
        comp = add_rectangle(comp, tag);
    }
    pango_attr_list_unref(attrs);
    g_string_free(text, TRUE);
    return comp;
}

/* Everything @result shows, or NULL when it shows nothing. */
static GstVideoOverlayComposition *render(GstClipOverlay *self, const GstStructure *result, guint max_labels,
                                          gboolean show_scores)
{
    GstVideoOverlayComposition *comp = NULL;
    gboolean dim = !result_inferred(result);

    const GValue *regions = gst_structure_get_value(result, "regions");
    if (regions && GST_VALUE_HOLDS_ARRAY(regions)) {
        guint n = gst_value_array_get_size(regions);
        for (guint i = 0; i < n; i++) {
            gint id, x, y, w, h;
            const GstStructure *r;
            if (region_rect(gst_value_array_get_value(regions, i), i, &id, &x, &y, &w, &h, &r))
                comp = add_region(self, comp, r, id, x, y, w, h, show_scores, dim);
        }
    }

    /* The frame's labels last, so that they are drawn over any outline. */
    GString *text = g_string_new(NULL);
    PangoAttrList *attrs = pango_attr_list_new();
    append_result_lines(text, attrs, result, max_labels, show_scores, dim);
    gint w = 0, h = 0;
    GstVideoOverlayRectangle *box = text_rectangle(self, text->str, attrs, BOX_PAD, self->width - 2 * BOX_MARGIN,
                                                   self->height - 2 * BOX_MARGIN, &w, &h);
    if (box) {
        gst_video_overlay_rectangle_set_render_rectangle(box, BOX_MARGIN, BOX_MARGIN, (guint)w, (guint)h);
        comp = add_rectangle(comp, box);
    }
    pango_attr_list_unref(attrs);
    g_string_free(text, TRUE);
    return comp;
}

/* ---- GstBaseTransform / GstVideoFilter ---- */

static GstFlowReturn gst_clip_overlay_transform_ip(GstBaseTransform *trans, GstBuffer *buf)
{
    GstClipOverlay *self = GST_CLIP_OVERLAY(trans);
    GstVideoFilter *filter = GST_VIDEO_FILTER(trans);

    if (G_UNLIKELY(!filter->negotiated)) {
        GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, (NULL), ("no caps negotiated before the first buffer"));
        return GST_FLOW_NOT_NEGOTIATED;
    }

    const GstStructure *result = gst_clip_meta_get_structure(buf);
    if (!result)
        return GST_FLOW_OK; /* frames without results stay as they are */

    GST_OBJECT_LOCK(self);
    gboolean silent = self->silent;
    guint max_labels = self->max_labels;
    gboolean show_scores = self->show_scores;
    gchar *font_desc = self->font_changed ? g_strdup(self->font_desc) : NULL;
    gboolean font_changed = self->font_changed;
    self->font_changed = FALSE;
    GST_OBJECT_UNLOCK(self);
    if (silent) {
        g_free(font_desc);
        return GST_FLOW_OK;
    }

    if (font_changed || !self->context) {
        ensure_pango(self, font_desc);
        clear_cache(self);
    }
    g_free(font_desc);

    gchar *key = describe(result, max_labels, show_scores);
    if (g_strcmp0(key, self->cache_key) != 0) {
        /* tests/gst/test_clipoverlay.c counts these messages: keep the wording. */
        GST_DEBUG_OBJECT(self, "rendering a new overlay for %" GST_PTR_FORMAT, result);
        clear_cache(self);
        self->composition = render(self, result, max_labels, show_scores);
        self->cache_key = key;
    } else {
        g_free(key);
    }

    if (!self->composition)
        return GST_FLOW_OK;

    GstVideoFrame frame;
    if (!gst_video_frame_map(&frame, &filter->in_info, buf, GST_MAP_READWRITE | GST_VIDEO_FRAME_MAP_FLAG_NO_REF)) {
        GST_ELEMENT_WARNING(self, STREAM, FAILED, (NULL), ("could not map the video frame for writing"));
        return GST_FLOW_OK;
    }
    if (!gst_video_overlay_composition_blend(self->composition, &frame))
        GST_WARNING_OBJECT(self, "could not blend the overlay onto a %s frame",
                           gst_video_format_to_string(GST_VIDEO_FRAME_FORMAT(&frame)));
    gst_video_frame_unmap(&frame);
    return GST_FLOW_OK;
}

static gboolean gst_clip_overlay_set_info(GstVideoFilter *filter, GstCaps *incaps, GstVideoInfo *in_info,
                                          GstCaps *outcaps, GstVideoInfo *out_info)
{
    GstClipOverlay *self = GST_CLIP_OVERLAY(filter);
    (void)incaps;
    (void)outcaps;
    if (GST_VIDEO_INFO_FORMAT(in_info) != GST_VIDEO_INFO_FORMAT(out_info) ||
        GST_VIDEO_INFO_WIDTH(in_info) != GST_VIDEO_INFO_WIDTH(out_info) ||
        GST_VIDEO_INFO_HEIGHT(in_info) != GST_VIDEO_INFO_HEIGHT(out_info))
        return FALSE;
    self->width = GST_VIDEO_INFO_WIDTH(in_info);
    self->height = GST_VIDEO_INFO_HEIGHT(in_info);
    clear_cache(self);
    return TRUE;
}

static gboolean gst_clip_overlay_stop(GstBaseTransform *trans)
{
    GstClipOverlay *self = GST_CLIP_OVERLAY(trans);
    clear_cache(self);
    return TRUE;
}

/* ---- GObject ---- */

static void gst_clip_overlay_set_property(GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
    GstClipOverlay *self = GST_CLIP_OVERLAY(object);
    switch (prop_id) {
    case PROP_MAX_LABELS:
        GST_OBJECT_LOCK(self);
        self->max_labels = g_value_get_uint(value);
        GST_OBJECT_UNLOCK(self);
        break;
    case PROP_FONT_DESC: {
        const gchar *desc = g_value_get_string(value);
        GST_OBJECT_LOCK(self);
        g_free(self->font_desc);
        self->font_desc = g_strdup(desc ? desc : DEFAULT_FONT_DESC);
        self->font_changed = TRUE;
        GST_OBJECT_UNLOCK(self);
        break;
    }
    case PROP_SHOW_SCORES:
        GST_OBJECT_LOCK(self);
        self->show_scores = g_value_get_boolean(value);
        GST_OBJECT_UNLOCK(self);
        break;
    case PROP_SILENT: {
        gboolean silent = g_value_get_boolean(value);
        GST_OBJECT_LOCK(self);
        self->silent = silent;
        GST_OBJECT_UNLOCK(self);
        /* Silent: not even the (cheap) copy of a non-writable buffer. */
        gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), silent);
        break;
    }
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        break;
    }
}

static void gst_clip_overlay_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
    GstClipOverlay *self = GST_CLIP_OVERLAY(object);
    GST_OBJECT_LOCK(self);
    switch (prop_id) {
    case PROP_MAX_LABELS:
        g_value_set_uint(value, self->max_labels);
        break;
    case PROP_FONT_DESC:
        g_value_set_string(value, self->font_desc);
        break;
    case PROP_SHOW_SCORES:
        g_value_set_boolean(value, self->show_scores);
        break;
    case PROP_SILENT:
        g_value_set_boolean(value, self->silent);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        break;
    }
    GST_OBJECT_UNLOCK(self);
}

static void gst_clip_overlay_finalize(GObject *object)
{
    GstClipOverlay *self = GST_CLIP_OVERLAY(object);
    clear_cache(self);
    g_clear_pointer(&self->font, pango_font_description_free);
    g_clear_object(&self->context);
    g_clear_object(&self->font_map);
    g_free(self->font_desc);
    G_OBJECT_CLASS(gst_clip_overlay_parent_class)->finalize(object);
}

static void gst_clip_overlay_class_init(GstClipOverlayClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    GstElementClass *ec = GST_ELEMENT_CLASS(klass);
    GstBaseTransformClass *bc = GST_BASE_TRANSFORM_CLASS(klass);
    GstVideoFilterClass *vc = GST_VIDEO_FILTER_CLASS(klass);

    GST_DEBUG_CATEGORY_INIT(gst_clip_overlay_debug, "clipoverlay", 0, "CLIP label overlay");

    oc->set_property = gst_clip_overlay_set_property;
    oc->get_property = gst_clip_overlay_get_property;
    oc->finalize = gst_clip_overlay_finalize;

    const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING;
    g_object_class_install_property(
        oc, PROP_MAX_LABELS,
        g_param_spec_uint("max-labels", "Maximum labels", "How many of the result's labels to draw, best first", 1,
                          MAX_MAX_LABELS, DEFAULT_MAX_LABELS, flags));
    g_object_class_install_property(
        oc, PROP_FONT_DESC,
        g_param_spec_string("font-desc", "Font description",
                            "Pango font description of the labels' font, e.g. \"Sans Bold 20\"", DEFAULT_FONT_DESC,
                            flags));
    g_object_class_install_property(oc, PROP_SHOW_SCORES,
                                    g_param_spec_boolean("show-scores", "Show scores",
                                                         "Draw each label's score after it", DEFAULT_SHOW_SCORES,
                                                         flags));
    g_object_class_install_property(
        oc, PROP_SILENT,
        g_param_spec_boolean("silent", "Silent", "Draw nothing: pass every frame through untouched",
                             DEFAULT_SILENT, flags));

    gst_element_class_set_static_metadata(ec, "CLIP label overlay", "Filter/Editor/Video",
                                          "Draws the labels and scores of the clip element's results onto the video",
                                          "vkclip");
    gst_element_class_add_static_pad_template(ec, &sink_template);
    gst_element_class_add_static_pad_template(ec, &src_template);

    bc->transform_ip = GST_DEBUG_FUNCPTR(gst_clip_overlay_transform_ip);
    bc->transform_ip_on_passthrough = FALSE;
    bc->passthrough_on_same_caps = FALSE;
    bc->stop = GST_DEBUG_FUNCPTR(gst_clip_overlay_stop);
    vc->set_info = GST_DEBUG_FUNCPTR(gst_clip_overlay_set_info);
}

static void gst_clip_overlay_init(GstClipOverlay *self)
{
    self->max_labels = DEFAULT_MAX_LABELS;
    self->font_desc = g_strdup(DEFAULT_FONT_DESC);
    self->show_scores = DEFAULT_SHOW_SCORES;
    self->silent = DEFAULT_SILENT;
    self->font_changed = TRUE;
    gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
}
