/* test_clipoverlay.c: the `clipoverlay` element against references it did
 * not produce: the input frames themselves (what must stay byte-identical),
 * the geometry of what a label box or a region outline must cover, and
 * comparisons between renderings of different results.
 *
 * The results are attached here as the `clip` element would attach them: a
 * "GstClipMeta" custom meta (registered when the plugin loads) whose
 * structure is filled field by field (see gst/gstclipmeta.h). */
#include <string.h>

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include "gstclipmeta.h"

#define W 640
#define H 480

static const gchar *const all_formats[] = {"RGB",  "BGR",  "RGBA", "BGRA",  "RGBx", "BGRx", "xRGB",
                                           "xBGR", "ARGB", "ABGR", "GRAY8", "I420", "NV12"};

typedef struct {
    gint x0, y0, x1, y1; /* x1, y1 exclusive */
} Rect;

/* ---- frames ---- */

/* A frame of mid-level noise (every byte in 100..199), so that a dark box
 * and white text both change every pixel they cover. */
static GstBuffer *make_frame(const GstVideoInfo *info, guint32 seed)
{
    GstBuffer *buf = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(info), NULL);
    GstMapInfo map;
    fail_unless(gst_buffer_map(buf, &map, GST_MAP_WRITE));
    guint32 s = seed * 2654435761u + 12345u;
    for (gsize i = 0; i < map.size; i++) {
        s = s * 1664525u + 1013904223u;
        map.data[i] = (guint8)(100 + (s >> 24) % 100);
    }
    gst_buffer_unmap(buf, &map);
    gst_buffer_add_video_meta_full(buf, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT(info),
                                   (guint)GST_VIDEO_INFO_WIDTH(info), (guint)GST_VIDEO_INFO_HEIGHT(info),
                                   GST_VIDEO_INFO_N_PLANES(info), (gsize *)info->offset, (gint *)info->stride);
    return buf;
}

static void video_info(GstVideoInfo *info, const gchar *format, gint w, gint h)
{
    gst_video_info_init(info);
    fail_unless(gst_video_info_set_format(info, gst_video_format_from_string(format), (guint)w, (guint)h));
}

static guint comp_value(const GstVideoFrame *f, guint c, gint x, gint y)
{
    const GstVideoFormatInfo *fi = f->info.finfo;
    const guint8 *data = GST_VIDEO_FRAME_COMP_DATA(f, c);
    gint stride = GST_VIDEO_FRAME_COMP_STRIDE(f, c);
    gint ps = GST_VIDEO_FRAME_COMP_PSTRIDE(f, c);
    gint cx = x >> GST_VIDEO_FORMAT_INFO_W_SUB(fi, c), cy = y >> GST_VIDEO_FORMAT_INFO_H_SUB(fi, c);
    return data[cy * stride + cx * ps];
}

/* Brightness of a pixel, 0..255: the mean of R, G, B, or Y. */
static guint lum(const GstVideoFrame *f, gint x, gint y)
{
    if (GST_VIDEO_FORMAT_INFO_IS_RGB(f->info.finfo))
        return (comp_value(f, 0, x, y) + comp_value(f, 1, x, y) + comp_value(f, 2, x, y)) / 3;
    return comp_value(f, 0, x, y);
}

static gboolean pixel_differs(const GstVideoFrame *a, const GstVideoFrame *b, gint x, gint y)
{
    for (guint c = 0; c < GST_VIDEO_FRAME_N_COMPONENTS(a); c++)
        if (comp_value(a, c, x, y) != comp_value(b, c, x, y))
            return TRUE;
    return FALSE;
}

typedef struct {
    GstVideoFrame a, b;
} FramePair;

static void map_pair(FramePair *p, const GstVideoInfo *info, GstBuffer *a, GstBuffer *b)
{
    fail_unless(gst_video_frame_map(&p->a, info, a, GST_MAP_READ));
    fail_unless(gst_video_frame_map(&p->b, info, b, GST_MAP_READ));
}

static void unmap_pair(FramePair *p)
{
    gst_video_frame_unmap(&p->a);
    gst_video_frame_unmap(&p->b);
}

/* Pixels of @r where any component (colour, alpha, chroma) of @a and @b differs. */
static guint count_changed(const GstVideoInfo *info, GstBuffer *a, GstBuffer *b, Rect r)
{
    FramePair p;
    map_pair(&p, info, a, b);
    guint n = 0;
    for (gint y = r.y0; y < r.y1; y++)
        for (gint x = r.x0; x < r.x1; x++)
            n += pixel_differs(&p.a, &p.b, x, y);
    unmap_pair(&p);
    return n;
}

static guint rect_area(Rect r)
{
    return (guint)((r.x1 - r.x0) * (r.y1 - r.y0));
}

/* The bounding box of the pixels that differ within @r; FALSE if none. */
static gboolean changed_bounds(const GstVideoInfo *info, GstBuffer *a, GstBuffer *b, Rect r, Rect *bounds)
{
    FramePair p;
    map_pair(&p, info, a, b);
    Rect bb = {G_MAXINT, G_MAXINT, -1, -1};
    for (gint y = r.y0; y < r.y1; y++)
        for (gint x = r.x0; x < r.x1; x++)
            if (pixel_differs(&p.a, &p.b, x, y)) {
                bb.x0 = MIN(bb.x0, x);
                bb.y0 = MIN(bb.y0, y);
                bb.x1 = MAX(bb.x1, x + 1);
                bb.y1 = MAX(bb.y1, y + 1);
            }
    unmap_pair(&p);
    *bounds = bb;
    return bb.x1 >= 0;
}

static gdouble mean_lum(const GstVideoInfo *info, GstBuffer *buf, Rect r)
{
    GstVideoFrame f;
    fail_unless(gst_video_frame_map(&f, info, buf, GST_MAP_READ));
    guint64 sum = 0;
    for (gint y = r.y0; y < r.y1; y++)
        for (gint x = r.x0; x < r.x1; x++)
            sum += lum(&f, x, y);
    gst_video_frame_unmap(&f);
    return (gdouble)sum / rect_area(r);
}

/* Pixels of @r brighter than anything in the input noise (which stays below
 * 200): white text on the box. Returns their count; *right: the column just
 * past the rightmost one. */
static guint bright_pixels(const GstVideoInfo *info, GstBuffer *buf, Rect r, gint *right)
{
    GstVideoFrame f;
    fail_unless(gst_video_frame_map(&f, info, buf, GST_MAP_READ));
    guint n = 0;
    gint rx = -1;
    for (gint y = r.y0; y < r.y1; y++)
        for (gint x = r.x0; x < r.x1; x++)
            if (lum(&f, x, y) >= 215) {
                n++;
                rx = MAX(rx, x + 1);
            }
    gst_video_frame_unmap(&f);
    if (right)
        *right = rx;
    return n;
}

/* Whether every pixel of @r has the same components (an opaque solid line
 * over the input noise). */
static gboolean uniform(const GstVideoInfo *info, GstBuffer *buf, Rect r)
{
    GstVideoFrame f;
    fail_unless(gst_video_frame_map(&f, info, buf, GST_MAP_READ));
    gboolean same = TRUE;
    for (gint y = r.y0; y < r.y1 && same; y++)
        for (gint x = r.x0; x < r.x1 && same; x++)
            for (guint c = 0; c < GST_VIDEO_FRAME_N_COMPONENTS(&f); c++)
                if (comp_value(&f, c, x, y) != comp_value(&f, c, r.x0, r.y0))
                    same = FALSE;
    gst_video_frame_unmap(&f);
    return same;
}

static gboolean buffers_equal(GstBuffer *a, GstBuffer *b)
{
    GstMapInfo ma, mb;
    fail_unless(gst_buffer_map(a, &ma, GST_MAP_READ));
    fail_unless(gst_buffer_map(b, &mb, GST_MAP_READ));
    gboolean eq = ma.size == mb.size && memcmp(ma.data, mb.data, ma.size) == 0;
    gst_buffer_unmap(a, &ma);
    gst_buffer_unmap(b, &mb);
    return eq;
}

/* ---- results, as `clip` attaches them ---- */

static GstStructure *add_meta(GstBuffer *buf)
{
    GstCustomMeta *meta = gst_buffer_add_custom_meta(buf, GST_CLIP_META_NAME);
    fail_unless(meta != NULL, "GstClipMeta is not registered (the plugin did not load?)");
    return gst_custom_meta_get_structure(meta);
}

static void take_string_array(GstStructure *s, const gchar *field, const gchar *const *strs, guint n)
{
    GValue arr = G_VALUE_INIT;
    g_value_init(&arr, GST_TYPE_ARRAY);
    for (guint i = 0; i < n; i++) {
        GValue v = G_VALUE_INIT;
        g_value_init(&v, G_TYPE_STRING);
        g_value_set_string(&v, strs[i]);
        gst_value_array_append_and_take_value(&arr, &v);
    }
    gst_structure_take_value(s, field, &arr);
}

static void take_double_array(GstStructure *s, const gchar *field, const gdouble *vals, guint n)
{
    GValue arr = G_VALUE_INIT;
    g_value_init(&arr, GST_TYPE_ARRAY);
    for (guint i = 0; i < n; i++) {
        GValue v = G_VALUE_INIT;
        g_value_init(&v, G_TYPE_DOUBLE);
        g_value_set_double(&v, vals[i]);
        gst_value_array_append_and_take_value(&arr, &v);
    }
    gst_structure_take_value(s, field, &arr);
}

static void take_int_array(GstStructure *s, const gchar *field, guint n)
{
    GValue arr = G_VALUE_INIT;
    g_value_init(&arr, GST_TYPE_ARRAY);
    for (guint i = 0; i < n; i++) {
        GValue v = G_VALUE_INIT;
        g_value_init(&v, G_TYPE_INT);
        g_value_set_int(&v, (gint)(i * 7));
        gst_value_array_append_and_take_value(&arr, &v);
    }
    gst_structure_take_value(s, field, &arr);
}

static void set_labels(GstStructure *s, const gchar *const *labels, const gdouble *scores, guint n)
{
    take_string_array(s, "labels", labels, n);
    take_double_array(s, "scores", scores, n);
    take_int_array(s, "indices", n);
}

static void set_result(GstStructure *s, const gchar *const *labels, const gdouble *scores, guint n,
                       gboolean inferred)
{
    set_labels(s, labels, scores, n);
    gst_structure_set(s, "inferred", G_TYPE_BOOLEAN, inferred, "timestamp", G_TYPE_UINT64, (guint64)0, NULL);
}

static const gchar *const six_labels[] = {"a dog", "a cat", "a horse", "a bird", "a car", "a tree"};
static const gdouble six_scores[] = {0.87, 0.05, 0.03, 0.02, 0.02, 0.01};

/* ---- the element ---- */

static GstHarness *new_harness(const gchar *format, gint w, gint h)
{
    GstHarness *hr = gst_harness_new("clipoverlay");
    gchar *caps = g_strdup_printf("video/x-raw,format=%s,width=%d,height=%d,framerate=30/1", format, w, h);
    gst_harness_set_src_caps_str(hr, caps);
    g_free(caps);
    return hr;
}

/* Pushes @in (taken) and returns what comes out; *ref gets a deep copy of
 * the input, taken before the push. */
static GstBuffer *push(GstHarness *hr, GstBuffer *in, GstBuffer **ref)
{
    *ref = gst_buffer_copy_deep(in);
    GstBuffer *out = gst_harness_push_and_pull(hr, in);
    fail_unless(out != NULL);
    return out;
}

/* One frame of @format through a fresh clipoverlay with @props set (a
 * NULL-terminated name/value list), carrying the top @n of six_labels. */
static GstBuffer *overlay_six(const gchar *format, guint n, gboolean inferred, GstBuffer **ref,
                              const gchar *first_prop, ...)
{
    GstHarness *hr = new_harness(format, W, H);
    if (first_prop) {
        va_list args;
        va_start(args, first_prop);
        g_object_set_valist(G_OBJECT(hr->element), first_prop, args);
        va_end(args);
    }
    GstVideoInfo info;
    video_info(&info, format, W, H);
    GstBuffer *in = make_frame(&info, 1);
    set_result(add_meta(in), six_labels, six_scores, n, inferred);
    GstBuffer *out = push(hr, in, ref);
    gst_harness_teardown(hr);
    return out;
}

/* ---- tests ---- */

GST_START_TEST(test_element_metadata)
{
    GstElementFactory *f = gst_element_factory_find("clipoverlay");
    fail_unless(f != NULL);
    ck_assert_str_eq(gst_element_factory_get_metadata(f, GST_ELEMENT_METADATA_KLASS), "Filter/Editor/Video");

    GstElement *e = gst_element_factory_create(f, NULL);
    fail_unless(e != NULL);
    static const struct {
        const gchar *name;
        GType type;
    } props[] = {{"max-labels", G_TYPE_UINT},
                 {"font-desc", G_TYPE_STRING},
                 {"show-scores", G_TYPE_BOOLEAN},
                 {"silent", G_TYPE_BOOLEAN}};
    for (guint i = 0; i < G_N_ELEMENTS(props); i++) {
        GParamSpec *p = g_object_class_find_property(G_OBJECT_GET_CLASS(e), props[i].name);
        fail_unless(p != NULL, "no property %s", props[i].name);
        fail_unless(G_PARAM_SPEC_VALUE_TYPE(p) == props[i].type);
        fail_unless((p->flags & G_PARAM_READWRITE) == G_PARAM_READWRITE);
        fail_unless(p->flags & GST_PARAM_MUTABLE_PLAYING, "%s is not mutable in PLAYING", props[i].name);
        fail_unless((p->flags & G_PARAM_STATIC_STRINGS) == G_PARAM_STATIC_STRINGS);
        fail_unless(g_param_spec_get_nick(p) && *g_param_spec_get_nick(p));
        fail_unless(g_param_spec_get_blurb(p) && *g_param_spec_get_blurb(p));
    }
    GParamSpecUInt *ml = G_PARAM_SPEC_UINT(g_object_class_find_property(G_OBJECT_GET_CLASS(e), "max-labels"));
    ck_assert_uint_eq(ml->minimum, 1);
    ck_assert_uint_eq(ml->maximum, 20);

    guint max_labels;
    gchar *font;
    gboolean show_scores, silent;
    g_object_get(e, "max-labels", &max_labels, "font-desc", &font, "show-scores", &show_scores, "silent", &silent,
                 NULL);
    ck_assert_uint_eq(max_labels, 3);
    ck_assert_str_eq(font, "Sans 14");
    fail_unless(show_scores);
    fail_unless(!silent);
    g_free(font);

    /* Same caps on both sides: the formats `clip` takes. */
    GstPad *sink = gst_element_get_static_pad(e, "sink");
    GstCaps *tmpl = gst_pad_get_pad_template_caps(sink);
    for (guint i = 0; i < G_N_ELEMENTS(all_formats); i++) {
        gchar *s = g_strdup_printf("video/x-raw,format=%s,width=640,height=480,framerate=30/1", all_formats[i]);
        GstCaps *c = gst_caps_from_string(s);
        fail_unless(gst_caps_can_intersect(tmpl, c), "%s not accepted", all_formats[i]);
        gst_caps_unref(c);
        g_free(s);
    }
    GstCaps *gl = gst_caps_from_string("video/x-raw(memory:GLMemory),format=RGBA,width=64,height=64");
    fail_if(gst_caps_can_intersect(tmpl, gl), "only system memory is supported");
    gst_caps_unref(gl);
    gst_caps_unref(tmpl);
    gst_object_unref(sink);
    gst_object_unref(e);
    gst_object_unref(f);
}
GST_END_TEST

GST_START_TEST(test_no_meta_passes_through)
{
    for (guint i = 0; i < G_N_ELEMENTS(all_formats); i++) {
        GstHarness *hr = new_harness(all_formats[i], W, H);
        GstVideoInfo info;
        video_info(&info, all_formats[i], W, H);
        for (guint32 k = 0; k < 3; k++) {
            GstBuffer *ref, *out = push(hr, make_frame(&info, k), &ref);
            fail_unless(buffers_equal(ref, out), "%s frame %u without meta was changed", all_formats[i], k);
            gst_buffer_unref(ref);
            gst_buffer_unref(out);
        }
        gst_harness_teardown(hr);
    }
}
GST_END_TEST

/* A meta that shows nothing (no labels) changes nothing either. */
GST_START_TEST(test_empty_result_passes_through)
{
    GstHarness *hr = new_harness("RGB", W, H);
    GstVideoInfo info;
    video_info(&info, "RGB", W, H);
    GstBuffer *in = make_frame(&info, 4);
    gst_structure_set(add_meta(in), "inferred", G_TYPE_BOOLEAN, TRUE, NULL);
    GstBuffer *ref, *out = push(hr, in, &ref);
    fail_unless(buffers_equal(ref, out));
    gst_buffer_unref(ref);
    gst_buffer_unref(out);
    gst_harness_teardown(hr);
}
GST_END_TEST

GST_START_TEST(test_labels_drawn_in_box)
{
    /* Inside the box for sure: the first line's first characters (the box
     * starts near the corner and is at least one line tall). */
    const Rect in_box = {12, 12, 40, 24};
    const Rect bottom_right = {W / 2, H / 2, W, H};
    for (guint i = 0; i < G_N_ELEMENTS(all_formats); i++) {
        const gchar *fmt = all_formats[i];
        GstVideoInfo info;
        video_info(&info, fmt, W, H);
        GstBuffer *ref, *out = overlay_six(fmt, 3, TRUE, &ref, NULL);

        guint changed = count_changed(&info, ref, out, in_box);
        fail_unless(changed > rect_area(in_box) * 9 / 10, "%s: only %u of %u box pixels changed", fmt, changed,
                    rect_area(in_box));
        ck_assert_uint_eq(count_changed(&info, ref, out, bottom_right), 0);
        /* The box is dark: the area under it got darker (text included). */
        const Rect box_line = {12, 12, 60, 30};
        fail_unless(mean_lum(&info, out, box_line) < mean_lum(&info, ref, box_line) - 20, "%s: box not dark", fmt);
        /* and the text is light: pixels brighter than any of the input. */
        fail_unless(bright_pixels(&info, out, (Rect){8, 8, 200, 120}, NULL) > 50, "%s: no white text", fmt);
        ck_assert_uint_eq(bright_pixels(&info, ref, (Rect){0, 0, W, H}, NULL), 0);

        /* Everything that changed lies in the top-left region. */
        Rect bb;
        fail_unless(changed_bounds(&info, ref, out, (Rect){0, 0, W, H}, &bb));
        fail_unless(bb.x0 <= 12 && bb.y0 <= 12, "%s: box starts at %d,%d", fmt, bb.x0, bb.y0);
        fail_unless(bb.x1 < W / 2 && bb.y1 < H / 2, "%s: box ends at %d,%d", fmt, bb.x1, bb.y1);
        gst_buffer_unref(ref);
        gst_buffer_unref(out);
    }
}
GST_END_TEST

/* The meta is per frame: a frame without it after one with it stays as it is. */
GST_START_TEST(test_meta_then_no_meta)
{
    GstHarness *hr = new_harness("I420", W, H);
    GstVideoInfo info;
    video_info(&info, "I420", W, H);
    GstBuffer *in = make_frame(&info, 1);
    set_result(add_meta(in), six_labels, six_scores, 3, TRUE);
    GstBuffer *ref, *out = push(hr, in, &ref);
    fail_if(buffers_equal(ref, out));
    gst_buffer_unref(ref);
    gst_buffer_unref(out);

    out = push(hr, make_frame(&info, 2), &ref);
    fail_unless(buffers_equal(ref, out));
    gst_buffer_unref(ref);
    gst_buffer_unref(out);
    gst_harness_teardown(hr);
}
GST_END_TEST

GST_START_TEST(test_more_labels_taller_box)
{
    const gchar *fmts[] = {"RGB", "NV12"};
    for (guint i = 0; i < G_N_ELEMENTS(fmts); i++) {
        GstVideoInfo info;
        video_info(&info, fmts[i], W, H);
        GstBuffer *ref1, *out1 = overlay_six(fmts[i], 6, TRUE, &ref1, "max-labels", 1, NULL);
        GstBuffer *ref5, *out5 = overlay_six(fmts[i], 6, TRUE, &ref5, "max-labels", 5, NULL);
        Rect b1, b5;
        fail_unless(changed_bounds(&info, ref1, out1, (Rect){0, 0, W, H}, &b1));
        fail_unless(changed_bounds(&info, ref5, out5, (Rect){0, 0, W, H}, &b5));
        gint h1 = b1.y1 - b1.y0, h5 = b5.y1 - b5.y0;
        /* Five lines against one (plus the same padding). */
        fail_unless(h5 > 3 * h1, "%s: 5 labels %d px tall, 1 label %d px", fmts[i], h5, h1);
        /* The rows below the one-label box are darkened by the five-label one. */
        Rect below = {b1.x0 + 4, b1.y1 + 2, b1.x0 + 30, b5.y1 - 8};
        ck_assert_uint_eq(count_changed(&info, ref1, out1, below), 0);
        fail_unless(mean_lum(&info, out5, below) < mean_lum(&info, ref5, below) - 20);
        gst_buffer_unref(ref1);
        gst_buffer_unref(out1);
        gst_buffer_unref(ref5);
        gst_buffer_unref(out5);
    }

    /* max-labels past the result's own count: as many lines as there are labels. */
    GstVideoInfo info;
    video_info(&info, "RGB", W, H);
    GstBuffer *ref2, *out2 = overlay_six("RGB", 2, TRUE, &ref2, "max-labels", 2, NULL);
    GstBuffer *ref20, *out20 = overlay_six("RGB", 2, TRUE, &ref20, "max-labels", 20, NULL);
    fail_unless(buffers_equal(out2, out20));
    gst_buffer_unref(ref2);
    gst_buffer_unref(out2);
    gst_buffer_unref(ref20);
    gst_buffer_unref(out20);
}
GST_END_TEST

GST_START_TEST(test_font_desc_and_show_scores)
{
    GstVideoInfo info;
    video_info(&info, "BGRx", W, H);
    Rect small, big, bare;
    GstBuffer *ref, *out = overlay_six("BGRx", 1, TRUE, &ref, "font-desc", "Sans 8", NULL);
    fail_unless(changed_bounds(&info, ref, out, (Rect){0, 0, W, H}, &small));
    gst_buffer_unref(ref);
    gst_buffer_unref(out);
    out = overlay_six("BGRx", 1, TRUE, &ref, "font-desc", "Sans 30", NULL);
    fail_unless(changed_bounds(&info, ref, out, (Rect){0, 0, W, H}, &big));
    gst_buffer_unref(ref);
    gst_buffer_unref(out);
    fail_unless(big.y1 - big.y0 > 2 * (small.y1 - small.y0));
    fail_unless(big.x1 - big.x0 > 2 * (small.x1 - small.x0));

    /* Without scores the line is shorter ("a dog" against "a dog  0.87"). */
    Rect scored;
    out = overlay_six("BGRx", 1, TRUE, &ref, "show-scores", TRUE, NULL);
    fail_unless(changed_bounds(&info, ref, out, (Rect){0, 0, W, H}, &scored));
    gst_buffer_unref(ref);
    gst_buffer_unref(out);
    out = overlay_six("BGRx", 1, TRUE, &ref, "show-scores", FALSE, NULL);
    fail_unless(changed_bounds(&info, ref, out, (Rect){0, 0, W, H}, &bare));
    gst_buffer_unref(ref);
    gst_buffer_unref(out);
    ck_assert_int_eq(bare.y1 - bare.y0, scored.y1 - scored.y0);
    fail_unless(bare.x1 < scored.x1 - 15, "scores hidden: %d, shown: %d", bare.x1, scored.x1);
}
GST_END_TEST

GST_START_TEST(test_text_really_rendered)
{
    GstVideoInfo info;
    video_info(&info, "RGB", W, H);
    GstHarness *hr = new_harness("RGB", W, H);
    const gdouble score[] = {0.5};
    const gchar *dog[] = {"dog"}, *cat[] = {"cat"}, *longer[] = {"a very long label indeed"};

    GstBuffer *in, *ref, *out_dog, *out_cat, *out_dog2, *out_long, *ref_long;
    in = make_frame(&info, 7);
    set_result(add_meta(in), dog, score, 1, TRUE);
    out_dog = push(hr, in, &ref);
    gst_buffer_unref(ref);

    in = make_frame(&info, 7);
    set_result(add_meta(in), cat, score, 1, TRUE);
    out_cat = push(hr, in, &ref);
    gst_buffer_unref(ref);

    in = make_frame(&info, 7);
    set_result(add_meta(in), dog, score, 1, TRUE);
    out_dog2 = push(hr, in, &ref);
    gst_buffer_unref(ref);

    in = make_frame(&info, 7);
    set_result(add_meta(in), longer, score, 1, TRUE);
    out_long = push(hr, in, &ref_long);

    /* Same input frame and labels: the same picture, after a different one. */
    fail_unless(buffers_equal(out_dog, out_dog2));
    /* Different labels: different pixels, and in the box. */
    const Rect box = {0, 0, W / 2, H / 4};
    fail_unless(count_changed(&info, out_dog, out_cat, box) > 20);
    ck_assert_uint_eq(count_changed(&info, out_dog, out_cat, (Rect){0, H / 4, W, H}), 0);
    /* Longer text: more white glyph pixels, reaching further right. */
    gint right_dog, right_long;
    guint n_dog = bright_pixels(&info, out_dog, box, &right_dog);
    guint n_long = bright_pixels(&info, out_long, box, &right_long);
    fail_unless(n_long > 2 * n_dog, "%u white pixels for the long label, %u for \"dog\"", n_long, n_dog);
    fail_unless(right_long > right_dog + 100, "long label ends at %d, \"dog\" at %d", right_long, right_dog);
    /* The white pixels are glyphs, not the box: well under half the box. */
    Rect bb;
    fail_unless(changed_bounds(&info, ref_long, out_long, (Rect){0, 0, W, H}, &bb));
    fail_unless(n_long < rect_area(bb) / 2);
    gst_buffer_unref(ref_long);
    gst_buffer_unref(out_dog);
    gst_buffer_unref(out_cat);
    gst_buffer_unref(out_dog2);
    gst_buffer_unref(out_long);
    gst_harness_teardown(hr);
}
GST_END_TEST

GST_START_TEST(test_scores_rendered)
{
    GstVideoInfo info;
    video_info(&info, "RGB", W, H);
    GstHarness *hr = new_harness("RGB", W, H);
    const gchar *lab[] = {"dog"};
    const gdouble s87[] = {0.87}, s12[] = {0.12}, s871[] = {0.871};
    GstBuffer *in, *ref, *a, *b, *c;
    in = make_frame(&info, 3);
    set_result(add_meta(in), lab, s87, 1, TRUE);
    a = push(hr, in, &ref);
    gst_buffer_unref(ref);
    in = make_frame(&info, 3);
    set_result(add_meta(in), lab, s12, 1, TRUE);
    b = push(hr, in, &ref);
    gst_buffer_unref(ref);
    in = make_frame(&info, 3);
    set_result(add_meta(in), lab, s871, 1, TRUE);
    c = push(hr, in, &ref);
    gst_buffer_unref(ref);
    fail_if(buffers_equal(a, b), "0.87 and 0.12 look the same");
    fail_unless(buffers_equal(a, c), "0.87 and 0.871 both show as 0.87");
    gst_buffer_unref(a);
    gst_buffer_unref(b);
    gst_buffer_unref(c);
    gst_harness_teardown(hr);
}
GST_END_TEST

/* A reused result (inferred=FALSE) keeps the box's geometry but draws its
 * scores dimmed: fewer white pixels, and only within the box. */
GST_START_TEST(test_reused_result_marked)
{
    GstVideoInfo info;
    video_info(&info, "RGB", W, H);
    GstBuffer *ref_i, *out_i = overlay_six("RGB", 3, TRUE, &ref_i, NULL);
    GstBuffer *ref_r, *out_r = overlay_six("RGB", 3, FALSE, &ref_r, NULL);
    fail_unless(buffers_equal(ref_i, ref_r));
    Rect bi, br;
    fail_unless(changed_bounds(&info, ref_i, out_i, (Rect){0, 0, W, H}, &bi));
    fail_unless(changed_bounds(&info, ref_r, out_r, (Rect){0, 0, W, H}, &br));
    fail_unless(memcmp(&bi, &br, sizeof bi) == 0, "the box moved");
    fail_unless(count_changed(&info, out_i, out_r, bi) > 20);
    guint white_i = bright_pixels(&info, out_i, bi, NULL), white_r = bright_pixels(&info, out_r, bi, NULL);
    fail_unless(white_r < white_i, "reused: %u white pixels, inferred: %u", white_r, white_i);
    /* The labels themselves stay white: at least half of the white remains. */
    fail_unless(white_r > white_i / 3);
    gst_buffer_unref(ref_i);
    gst_buffer_unref(out_i);
    gst_buffer_unref(ref_r);
    gst_buffer_unref(out_r);
}
GST_END_TEST

static void add_region(GValue *regions, gint id, gint x, gint y, gint w, gint h, const gchar *label, gdouble score)
{
    GstStructure *r = gst_structure_new("region", "id", G_TYPE_INT, id, "x", G_TYPE_INT, x, "y", G_TYPE_INT, y,
                                        "width", G_TYPE_INT, w, "height", G_TYPE_INT, h, NULL);
    if (label)
        set_labels(r, &label, &score, 1);
    GValue v = G_VALUE_INIT;
    g_value_init(&v, GST_TYPE_STRUCTURE);
    g_value_take_boxed(&v, r);
    gst_value_array_append_and_take_value(regions, &v);
}

GST_START_TEST(test_roi_regions)
{
    const gchar *fmts[] = {"RGB", "BGRx", "I420", "NV12", "GRAY8"};
    for (guint i = 0; i < G_N_ELEMENTS(fmts); i++) {
        const gchar *fmt = fmts[i];
        GstVideoInfo info;
        video_info(&info, fmt, W, H);
        GstHarness *hr = new_harness(fmt, W, H);
        GstBuffer *in = make_frame(&info, 9);
        GstStructure *s = add_meta(in);
        GValue regions = G_VALUE_INIT;
        g_value_init(&regions, GST_TYPE_ARRAY);
        add_region(&regions, 1, 300, 200, 200, 150, "a car", 0.9);
        add_region(&regions, 2, 600, -20, 100, 100, NULL, 0); /* partly outside the frame, no labels */
        add_region(&regions, 3, 100, 100, 0, 50, "empty", 0.5); /* no area: nothing */
        gst_structure_take_value(s, "regions", &regions);
        gst_structure_set(s, "inferred", G_TYPE_BOOLEAN, TRUE, "timestamp", G_TYPE_UINT64, (guint64)0, NULL);

        GstBuffer *ref, *out = push(hr, in, &ref);
        /* Along each edge of region 1 (x 300..499, y 200..349): an opaque
         * line of one colour where the input was noise. (Not "every pixel
         * changed": in GRAY8 a few noise pixels already have the line's grey.) */
        const Rect edges[] = {
            {320, 200, 480, 201}, /* top */
            {320, 349, 480, 350}, /* bottom */
            {300, 230, 301, 330}, /* left */
            {499, 230, 500, 330}, /* right */
        };
        for (guint e = 0; e < G_N_ELEMENTS(edges); e++) {
            guint n = count_changed(&info, ref, out, edges[e]);
            ck_assert_msg(n > rect_area(edges[e]) * 9 / 10, "%s: edge %u: %u of %u pixels changed", fmt, e, n,
                          rect_area(edges[e]));
            fail_unless(uniform(&info, out, edges[e]), "%s: edge %u is not one solid colour", fmt, e);
            fail_if(uniform(&info, ref, edges[e]));
        }
        /* Its inside, away from the border, stays as it was. */
        ck_assert_uint_eq(count_changed(&info, ref, out, (Rect){310, 210, 490, 340}), 0);
        /* Far from it: the bottom-left, and the top-left where a frame-level
         * box would go (roi-list results have no frame-level labels). */
        ck_assert_uint_eq(count_changed(&info, ref, out, (Rect){0, 380, 280, H}), 0);
        ck_assert_uint_eq(count_changed(&info, ref, out, (Rect){0, 0, 280, 180}), 0);
        /* Below and right of the region. */
        ck_assert_uint_eq(count_changed(&info, ref, out, (Rect){300, 360, W, H}), 0);
        /* Its tag, with "a car", just above its top-left corner. */
        fail_unless(count_changed(&info, ref, out, (Rect){302, 180, 330, 198}) > 100, "%s: no tag", fmt);
        fail_unless(bright_pixels(&info, out, (Rect){300, 160, 500, 200}, NULL) > 20, "%s: no tag text", fmt);
        /* Region 2's visible part: its left edge at x 600..601 from the top. */
        fail_unless(count_changed(&info, ref, out, (Rect){600, 0, 601, 70}) > 63);
        fail_unless(uniform(&info, out, (Rect){600, 0, 602, 70}), "%s: region 2's left edge", fmt);
        ck_assert_uint_eq(count_changed(&info, ref, out, (Rect){606, 4, 634, 70}), 0);
        gst_buffer_unref(ref);
        gst_buffer_unref(out);
        gst_harness_teardown(hr);
    }
}
GST_END_TEST

GST_START_TEST(test_silent)
{
    const gchar *fmts[] = {"RGB", "I420"};
    for (guint i = 0; i < G_N_ELEMENTS(fmts); i++) {
        GstVideoInfo info;
        video_info(&info, fmts[i], W, H);
        GstHarness *hr = new_harness(fmts[i], W, H);
        g_object_set(hr->element, "silent", TRUE, NULL);
        GstBuffer *in = make_frame(&info, 5);
        set_result(add_meta(in), six_labels, six_scores, 6, TRUE);
        GstBuffer *ref, *out = push(hr, in, &ref);
        fail_unless(buffers_equal(ref, out), "%s: silent changed the frame", fmts[i]);
        fail_unless(gst_clip_meta_get_structure(out) != NULL, "the meta stays on the buffer");
        gst_buffer_unref(ref);
        gst_buffer_unref(out);

        /* and drawing again once it is off, while playing */
        g_object_set(hr->element, "silent", FALSE, NULL);
        in = make_frame(&info, 5);
        set_result(add_meta(in), six_labels, six_scores, 6, TRUE);
        out = push(hr, in, &ref);
        fail_if(buffers_equal(ref, out));
        gst_buffer_unref(ref);
        gst_buffer_unref(out);
        gst_harness_teardown(hr);
    }
}
GST_END_TEST

/* Properties set while playing take effect on the next frame. */
GST_START_TEST(test_properties_while_playing)
{
    GstVideoInfo info;
    video_info(&info, "RGB", W, H);
    GstHarness *hr = new_harness("RGB", W, H);
    gint heights[3];
    const gchar *fonts[] = {"Sans 10", "Sans 24", "Sans 10"};
    for (guint i = 0; i < 3; i++) {
        g_object_set(hr->element, "font-desc", fonts[i], NULL);
        GstBuffer *in = make_frame(&info, 1);
        set_result(add_meta(in), six_labels, six_scores, 6, TRUE);
        GstBuffer *ref, *out = push(hr, in, &ref);
        Rect bb;
        fail_unless(changed_bounds(&info, ref, out, (Rect){0, 0, W, H}, &bb));
        heights[i] = bb.y1 - bb.y0;
        gst_buffer_unref(ref);
        gst_buffer_unref(out);
    }
    fail_unless(heights[1] > heights[0] + 20);
    ck_assert_int_eq(heights[0], heights[2]);

    /* No font description: back to the default. */
    g_object_set(hr->element, "font-desc", NULL, NULL);
    gchar *font;
    g_object_get(hr->element, "font-desc", &font, NULL);
    ck_assert_str_eq(font, "Sans 14");
    g_free(font);
    GstBuffer *in = make_frame(&info, 1);
    set_result(add_meta(in), six_labels, six_scores, 6, TRUE);
    GstBuffer *ref, *out = push(hr, in, &ref);
    fail_if(buffers_equal(ref, out));
    gst_buffer_unref(ref);
    gst_buffer_unref(out);
    gst_harness_teardown(hr);
}
GST_END_TEST

/* A buffer someone else still holds is not drawn on: the element draws on
 * its own copy (in place only when the buffer is writable). */
GST_START_TEST(test_shared_buffer_untouched)
{
    GstHarness *hr = new_harness("NV12", W, H);
    GstVideoInfo info;
    video_info(&info, "NV12", W, H);
    GstBuffer *in = make_frame(&info, 6);
    set_result(add_meta(in), six_labels, six_scores, 3, TRUE);
    GstBuffer *ref = gst_buffer_copy_deep(in);
    GstBuffer *held = gst_buffer_ref(in);
    GstBuffer *out = gst_harness_push_and_pull(hr, in);
    fail_unless(out != held);
    fail_unless(buffers_equal(held, ref), "the shared input buffer was written to");
    fail_unless(count_changed(&info, ref, out, (Rect){12, 12, 40, 24}) > 250);
    ck_assert_uint_eq(count_changed(&info, ref, out, (Rect){W / 2, H / 2, W, H}), 0);
    gst_buffer_unref(held);
    gst_buffer_unref(ref);
    gst_buffer_unref(out);
    gst_harness_teardown(hr);
}
GST_END_TEST

/* New caps mid-stream: the overlay follows the new frame size. */
GST_START_TEST(test_caps_change)
{
    GstHarness *hr = new_harness("RGB", W, H);
    GstVideoInfo info;
    video_info(&info, "RGB", W, H);
    GstBuffer *in = make_frame(&info, 1), *ref, *out;
    set_result(add_meta(in), six_labels, six_scores, 3, TRUE);
    out = push(hr, in, &ref);
    gst_buffer_unref(ref);
    gst_buffer_unref(out);

    gst_harness_set_src_caps_str(hr, "video/x-raw,format=NV12,width=160,height=120,framerate=30/1");
    video_info(&info, "NV12", 160, 120);
    in = make_frame(&info, 2);
    set_result(add_meta(in), six_labels, six_scores, 3, TRUE);
    out = push(hr, in, &ref);
    fail_unless(count_changed(&info, ref, out, (Rect){12, 12, 30, 20}) > 100);
    ck_assert_uint_eq(count_changed(&info, ref, out, (Rect){120, 90, 160, 120}), 0);
    /* The box fits the smaller frame: nothing drawn past its margin. */
    ck_assert_uint_eq(count_changed(&info, ref, out, (Rect){156, 0, 160, 120}), 0);
    gst_buffer_unref(ref);
    gst_buffer_unref(out);
    gst_harness_teardown(hr);
}
GST_END_TEST

/* Tiny frames: the box is cut to the frame, nothing breaks. */
GST_START_TEST(test_tiny_frames)
{
    const gint sizes[][2] = {{1, 1}, {2, 2}, {16, 16}, {33, 17}};
    for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
        GstHarness *hr = new_harness("I420", sizes[i][0], sizes[i][1]);
        GstVideoInfo info;
        video_info(&info, "I420", sizes[i][0], sizes[i][1]);
        GstBuffer *in = make_frame(&info, 1), *ref, *out;
        set_result(add_meta(in), six_labels, six_scores, 6, TRUE);
        out = push(hr, in, &ref);
        gst_buffer_unref(ref);
        gst_buffer_unref(out);
        gst_harness_teardown(hr);
    }
}
GST_END_TEST

/* ---- rendering only when the result changes ---- */

static gint renders;

static void count_renders(GstDebugCategory *category, GstDebugLevel level, const gchar *file,
                          const gchar *function, gint line, GObject *object, GstDebugMessage *message,
                          gpointer user_data)
{
    (void)level;
    (void)file;
    (void)function;
    (void)line;
    (void)object;
    (void)user_data;
    if (strcmp(gst_debug_category_get_name(category), "clipoverlay") == 0 &&
        g_str_has_prefix(gst_debug_message_get(message), "rendering a new overlay"))
        g_atomic_int_inc(&renders);
}

GST_START_TEST(test_renders_only_on_change)
{
#ifdef GST_DISABLE_GST_DEBUG
    return; /* the count comes from the element's debug log */
#endif
    gst_debug_remove_log_function(gst_debug_log_default);
    gst_debug_add_log_function(count_renders, NULL, NULL);
    gst_debug_set_threshold_for_name("clipoverlay", GST_LEVEL_DEBUG);

    GstVideoInfo info;
    video_info(&info, "RGB", W, H);
    GstHarness *hr = new_harness("RGB", W, H);
    const gchar *dog[] = {"dog", "cat"}, *horse[] = {"horse", "cat"};
    const gdouble s1[] = {0.81, 0.1}, s2[] = {0.8149, 0.1001}, s3[] = {0.6, 0.3};
    struct {
        const gchar **labels;
        const gdouble *scores;
        gboolean inferred;
        gint renders_after;
    } frames[] = {
        {dog, s1, TRUE, 1},   {dog, s1, TRUE, 1},    {dog, s2, TRUE, 1}, /* 0.8149 shows as 0.81 */
        {dog, s1, FALSE, 2},  {dog, s1, FALSE, 2},   {dog, s1, TRUE, 3},   {horse, s1, TRUE, 4},
        {horse, s3, TRUE, 5}, {horse, s3, TRUE, 5},
    };
    GstBuffer *first = NULL;
    for (guint i = 0; i < G_N_ELEMENTS(frames); i++) {
        GstBuffer *in = make_frame(&info, 11), *ref, *out;
        set_result(add_meta(in), frames[i].labels, frames[i].scores, 2, frames[i].inferred);
        out = push(hr, in, &ref);
        ck_assert_int_eq(g_atomic_int_get(&renders), frames[i].renders_after);
        if (i == 0)
            first = gst_buffer_ref(out);
        else if (i <= 2)
            fail_unless(buffers_equal(first, out), "a cached overlay draws the same picture");
        gst_buffer_unref(ref);
        gst_buffer_unref(out);
    }
    /* A frame without meta between two equal results renders nothing. */
    GstBuffer *ref, *out = push(hr, make_frame(&info, 1), &ref);
    gst_buffer_unref(ref);
    gst_buffer_unref(out);
    ck_assert_int_eq(g_atomic_int_get(&renders), 5);
    /* A property that changes the drawing renders again. */
    g_object_set(hr->element, "show-scores", FALSE, NULL);
    GstBuffer *in = make_frame(&info, 11);
    set_result(add_meta(in), horse, s3, 2, TRUE);
    out = push(hr, in, &ref);
    ck_assert_int_eq(g_atomic_int_get(&renders), 6);
    gst_buffer_unref(ref);
    gst_buffer_unref(out);
    gst_buffer_unref(first);
    gst_harness_teardown(hr);

    gst_debug_set_threshold_for_name("clipoverlay", GST_LEVEL_NONE);
    gst_debug_remove_log_function(count_renders);
    gst_debug_add_log_function(gst_debug_log_default, NULL, NULL);
}
GST_END_TEST

/* ---- state changes ---- */

static GstPadProbeReturn attach_meta(GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
    (void)pad;
    guint *count = user_data;
    GstBuffer *buf = gst_buffer_make_writable(GST_PAD_PROBE_INFO_BUFFER(info));
    GST_PAD_PROBE_INFO_DATA(info) = buf;
    /* A new result every third frame, reused in between. */
    guint k = (*count)++;
    const gchar *labels[] = {six_labels[(k / 3) % 6], six_labels[(k / 3 + 1) % 6]};
    const gdouble scores[] = {0.7, 0.2};
    set_result(add_meta(buf), labels, scores, 2, k % 3 == 0);
    return GST_PAD_PROBE_OK;
}

GST_START_TEST(test_state_cycles)
{
    /* The bare element. */
    GstElement *e = gst_element_factory_make("clipoverlay", NULL);
    for (guint i = 0; i < 5; i++) {
        ck_assert_int_eq(gst_element_set_state(e, GST_STATE_PLAYING), GST_STATE_CHANGE_SUCCESS);
        ck_assert_int_eq(gst_element_set_state(e, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
    }
    gst_object_unref(e);

    /* A pipeline that draws, run to the end five times. */
    GError *err = NULL;
    GstElement *pipe = gst_parse_launch("videotestsrc num-buffers=12 ! video/x-raw,format=I420,width=320,height=240 ! "
                                        "clipoverlay name=o max-labels=2 ! fakesink",
                                        &err);
    fail_unless(pipe != NULL, "%s", err ? err->message : "?");
    GstElement *o = gst_bin_get_by_name(GST_BIN(pipe), "o");
    GstPad *sink = gst_element_get_static_pad(o, "sink");
    guint count = 0;
    gulong probe = gst_pad_add_probe(sink, GST_PAD_PROBE_TYPE_BUFFER, attach_meta, &count, NULL);
    GstBus *bus = gst_element_get_bus(pipe);
    for (guint i = 0; i < 5; i++) {
        ck_assert_int_ne(gst_element_set_state(pipe, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
        GstMessage *msg =
            gst_bus_timed_pop_filtered(bus, 30 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
        fail_unless(msg != NULL, "no EOS");
        ck_assert_int_eq(GST_MESSAGE_TYPE(msg), GST_MESSAGE_EOS);
        gst_message_unref(msg);
        ck_assert_int_eq(gst_element_set_state(pipe, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
    }
    ck_assert_uint_eq(count, 60);
    gst_pad_remove_probe(sink, probe);
    gst_object_unref(bus);
    gst_object_unref(sink);
    gst_object_unref(o);
    gst_object_unref(pipe);
}
GST_END_TEST

static Suite *clipoverlay_suite(void)
{
    Suite *s = suite_create("clipoverlay");
    TCase *t = tcase_create("general");
    suite_add_tcase(s, t);
    tcase_add_test(t, test_element_metadata);
    tcase_add_test(t, test_no_meta_passes_through);
    tcase_add_test(t, test_empty_result_passes_through);
    tcase_add_test(t, test_labels_drawn_in_box);
    tcase_add_test(t, test_meta_then_no_meta);
    tcase_add_test(t, test_more_labels_taller_box);
    tcase_add_test(t, test_font_desc_and_show_scores);
    tcase_add_test(t, test_text_really_rendered);
    tcase_add_test(t, test_scores_rendered);
    tcase_add_test(t, test_reused_result_marked);
    tcase_add_test(t, test_roi_regions);
    tcase_add_test(t, test_silent);
    tcase_add_test(t, test_properties_while_playing);
    tcase_add_test(t, test_shared_buffer_untouched);
    tcase_add_test(t, test_caps_change);
    tcase_add_test(t, test_tiny_frames);
    tcase_add_test(t, test_renders_only_on_change);
    tcase_add_test(t, test_state_cycles);
    return s;
}

GST_CHECK_MAIN(clipoverlay)
