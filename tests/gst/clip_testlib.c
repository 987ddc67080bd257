/* clip_testlib.c: shared pieces of the element tests (see the header). */
#include "clip_testlib.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "model/json.h"

static gchar *fixtures_dir;

/* Setup runs before any test (outside GstCheck's fail_unless): a broken
 * fixture stops the whole test program. */
#define need(cond, ...)                                                                                    \
    do {                                                                                                   \
        if (!(cond)) {                                                                                     \
            fprintf(stderr, __VA_ARGS__);                                                                  \
            fputc('\n', stderr);                                                                           \
            exit(1);                                                                                       \
        }                                                                                                  \
    } while (0)
static ClipReference reference;

const gchar *clip_test_fixture(const gchar *relative)
{
    static gchar ring[8][4096];
    static guint next;
    gchar *out = ring[next++ % 8];
    g_snprintf(out, sizeof ring[0], "%s/%s", fixtures_dir, relative);
    return out;
}

const gchar *clip_test_model(void)
{
    static gchar path[4096];
    g_snprintf(path, sizeof path, "%s/clip-tiny-f32", fixtures_dir);
    return path;
}

const ClipReference *clip_test_reference(void)
{
    return &reference;
}

static void read_floats(const json_value *arr, float *out, int n)
{
    need(arr && arr->type == JSON_ARRAY && (int)arr->count == n, "reference: expected %d numbers", n);
    int i = 0;
    for (const json_value *v = json_first(arr); v; v = json_next(v))
        out[i++] = (float)v->number;
}

static void load_reference(void)
{
    gchar *text = NULL;
    gsize len = 0;
    const gchar *path = clip_test_fixture("clip-tiny-f32/reference.json");
    need(g_file_get_contents(path, &text, &len, NULL), "cannot read %s", path);
    errbuf e = {{0}};
    json_doc *doc = json_parse(text, len, &e);
    need(doc != NULL, "%s: %s", path, e.msg);
    const json_value *images = json_get(json_root(doc), "images");
    static const char *names[REF_IMAGES] = {"chelsea.png", "coffee.png"};
    for (int i = 0; i < REF_IMAGES; i++) {
        const json_value *im = json_at(images, (size_t)i);
        need(im && strcmp(json_get(im, "file")->str, names[i]) == 0, "reference: image %d", i);
        reference.image_files[i] = names[i];
        read_floats(json_get(im, "embedding_normalized"), reference.embedding[i], REF_DIM);
        const json_value *row = json_at(json_get(json_root(doc), "probs"), (size_t)i);
        float p[REF_TEXTS];
        read_floats(row, p, REF_TEXTS);
        for (int j = 0; j < REF_TEXTS; j++)
            reference.probs[i][j] = p[j];
    }
    json_free(doc);
    g_free(text);
}

void clip_test_remove_dir(const gchar *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d)
        return;
    const gchar *name;
    while ((name = g_dir_read_name(d))) {
        gchar *path = g_build_filename(dir, name, NULL);
        g_unlink(path);
        g_free(path);
    }
    g_dir_close(d);
    g_rmdir(dir);
}

static gchar *private_cache;
static pid_t private_cache_owner;

/* At exit of the process that made it, not of GstCheck's forked tests,
 * which share it. */
static void remove_private_cache(void)
{
    if (getpid() != private_cache_owner)
        return;
    clip_test_remove_dir(private_cache);
    g_free(private_cache);
}

void clip_test_init_fixtures(void)
{
    const gchar *dir = g_getenv("VKCLIP_FIXTURES");
    gchar *model = dir ? g_build_filename(dir, "clip-tiny-f32", "model.safetensors", NULL) : NULL;
    if (!model || !g_file_test(model, G_FILE_TEST_EXISTS)) {
        printf("SKIP: the fixtures (VKCLIP_FIXTURES=%s) are absent\n", dir ? dir : "");
        exit(77);
    }
    g_free(model);
    fixtures_dir = g_strdup(dir);
    load_reference();
    /* A cold, private classifier cache: tests must not see each other's. */
    private_cache = g_dir_make_tmp("clip-test-cache-XXXXXX", NULL);
    g_setenv("VKCLIP_CACHE_DIR", private_cache, TRUE);
    private_cache_owner = getpid();
    atexit(remove_private_cache);
}

GstHarness *clip_test_harness(const gchar *props)
{
    gchar *launch = g_strdup_printf("clip model=\"%s\" %s", clip_test_model(), props);
    GstHarness *h = gst_harness_new_parse(launch);
    g_free(launch);
    return h;
}

GstBuffer *clip_test_frame(gint width, gint height, guint seed, GstClockTime pts)
{
    gsize stride = GST_ROUND_UP_4((gsize)width * 3);
    GstBuffer *buf = gst_buffer_new_allocate(NULL, stride * (gsize)height, NULL);
    GstMapInfo map;
    gst_buffer_map(buf, &map, GST_MAP_WRITE);
    for (gint y = 0; y < height; y++)
        for (gint x = 0; x < width; x++) {
            guint8 *p = map.data + (gsize)y * stride + (gsize)x * 3;
            p[0] = (guint8)(x * 255 / MAX(width - 1, 1) + seed * 37);
            p[1] = (guint8)(y * 255 / MAX(height - 1, 1) + seed * 91);
            p[2] = (guint8)(((x / 8 + y / 8) & 1) * 200 + seed * 13);
        }
    gst_buffer_unmap(buf, &map);
    GST_BUFFER_PTS(buf) = pts;
    GST_BUFFER_DURATION(buf) = GST_SECOND / 30;
    return buf;
}

gchar *clip_test_caps(const gchar *format, gint width, gint height)
{
    return g_strdup_printf("video/x-raw,format=%s,width=%d,height=%d,framerate=30/1", format, width, height);
}

GList *clip_test_run(GstElement *pipeline)
{
    GstBus *bus = gst_element_get_bus(pipeline);
    GList *results = NULL;
    /* A failed state change leaves its reason on the bus: read it below. */
    gst_element_set_state(pipeline, GST_STATE_PLAYING);
    for (;;) {
        GstMessage *m = gst_bus_timed_pop_filtered(bus, 120 * GST_SECOND,
                                                   GST_MESSAGE_ELEMENT | GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
        fail_unless(m != NULL, "the pipeline neither ended nor failed in 120 s");
        if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
            GError *err = NULL;
            gchar *debug = NULL;
            gst_message_parse_error(m, &err, &debug);
            fail("pipeline error: %s (%s)", err->message, debug ? debug : "");
        }
        gboolean eos = GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS;
        const GstStructure *s = gst_message_get_structure(m);
        if (!eos && s && gst_structure_has_name(s, "clip"))
            results = g_list_append(results, gst_structure_copy(s));
        gst_message_unref(m);
        if (eos)
            break;
    }
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(bus);
    return results;
}

gchar *clip_test_run_for_error(GstElement *pipeline)
{
    GstBus *bus = gst_element_get_bus(pipeline);
    gst_element_set_state(pipeline, GST_STATE_PLAYING);
    GstMessage *m =
        gst_bus_timed_pop_filtered(bus, 120 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    fail_unless(m != NULL, "the pipeline neither ended nor failed in 120 s");
    gchar *text = NULL;
    if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
        GError *err = NULL;
        gst_message_parse_error(m, &err, NULL);
        text = g_strdup(err->message);
        g_error_free(err);
    }
    gst_message_unref(m);
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(bus);
    return text;
}

gdouble clip_test_cosine(const gfloat *a, const gfloat *b, gint n)
{
    double ab = 0, aa = 0, bb = 0;
    for (gint i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

gboolean clip_test_embedding(const GstStructure *result, gfloat *out, gint n)
{
    const GValue *e = gst_structure_get_value(result, "embedding");
    if (!e || !GST_VALUE_HOLDS_ARRAY(e) || (gint)gst_value_array_get_size(e) != n)
        return FALSE;
    for (gint i = 0; i < n; i++)
        out[i] = g_value_get_float(gst_value_array_get_value(e, (guint)i));
    return TRUE;
}

gboolean clip_test_inferred(GstBuffer *buf)
{
    const GstStructure *s = gst_clip_meta_get_structure(buf);
    gboolean inferred = FALSE;
    fail_unless(s != NULL, "a buffer without results");
    fail_unless(gst_structure_get_boolean(s, "inferred", &inferred));
    return inferred;
}

guint64 clip_test_timestamp(GstBuffer *buf)
{
    const GstStructure *s = gst_clip_meta_get_structure(buf);
    guint64 t = 0;
    fail_unless(s != NULL, "a buffer without results");
    fail_unless(gst_structure_get_uint64(s, "timestamp", &t));
    return t;
}
