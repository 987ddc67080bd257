/* test_clip_results: what the element reports, against OpenAI's reference.
 *
 * - The fixture images, decoded by GStreamer's pngdec and converted by its
 *   videoconvert to each packed RGB order, give the reference embedding
 *   (cosine >= 0.9999) and the reference probabilities over texts.txt
 *   (within 0.005, same ranking), in messages and in the buffer meta.
 * - Message fields follow level/zbar: timestamp, stream-time, running-time,
 *   duration.
 * - roi-list: two regions on one buffer; each region's embedding equals the
 *   full-frame embedding of the same pixels cut out by the test (the
 *   full-frame path being the one checked against the reference above). */
#include <string.h>

#include "clip_testlib.h"

static GstElement *fixture_pipeline(const gchar *image, const gchar *format, GstElement **clip)
{
    gchar *relative = g_strconcat("images/", image, NULL);
    gchar *launch = g_strdup_printf("filesrc location=\"%s\" ! pngdec ! videoconvert ! "
                                    "video/x-raw,format=%s ! clip name=c ! fakesink",
                                    clip_test_fixture(relative), format);
    g_free(relative);
    GError *err = NULL;
    GstElement *p = gst_parse_launch(launch, &err);
    fail_unless(p != NULL, "%s: %s", launch, err ? err->message : "");
    g_free(launch);
    *clip = gst_bin_get_by_name(GST_BIN(p), "c");
    g_object_set(*clip, "model", clip_test_model(), "labels-file", clip_test_fixture("texts.txt"),
                 "templates", "{}", "top-k", REF_TEXTS, "embedding", TRUE, NULL);
    return p;
}

/* The label index of every reported label, with its score, against probs. */
static void check_scores(const GstStructure *s, const double *probs)
{
    const GValue *indices = gst_structure_get_value(s, "indices");
    fail_unless(indices && gst_value_array_get_size(indices) == REF_TEXTS);
    double previous = 2;
    for (guint k = 0; k < REF_TEXTS; k++) {
        gint index = g_value_get_int(gst_value_array_get_value(indices, k));
        double score = gst_clip_result_score(s, k);
        fail_unless(index >= 0 && index < REF_TEXTS);
        fail_unless(fabs(score - probs[index]) <= 0.005, "label %d: score %f, reference %f", index, score,
                    probs[index]);
        fail_unless(score <= previous, "labels not best first");
        previous = score;
    }
    /* The best label is the reference's best. */
    gint best = 0;
    for (gint j = 1; j < REF_TEXTS; j++)
        if (probs[j] > probs[best])
            best = j;
    fail_unless_equals_int(g_value_get_int(gst_value_array_get_value(indices, 0)), best);
}

GST_START_TEST(test_rgb_family_matches_reference)
{
    static const gchar *formats[] = {"RGB", "BGR", "RGBA", "BGRA", "RGBx", "BGRx", "xRGB", "xBGR", "ARGB", "ABGR"};
    const ClipReference *ref = clip_test_reference();
    for (gsize f = 0; f < G_N_ELEMENTS(formats); f++)
        for (int i = 0; i < REF_IMAGES; i++) {
            GstElement *clip;
            GstElement *p = fixture_pipeline(ref->image_files[i], formats[f], &clip);
            GList *results = clip_test_run(p);
            fail_unless_equals_int(g_list_length(results), 1);
            const GstStructure *s = results->data;
            gfloat e[REF_DIM];
            fail_unless(clip_test_embedding(s, e, REF_DIM));
            double cos = clip_test_cosine(e, ref->embedding[i], REF_DIM);
            GST_INFO("%s %s: cosine %.8f", formats[f], ref->image_files[i], cos);
            fail_unless(cos >= 0.9999, "%s %s: cosine %f", formats[f], ref->image_files[i], cos);
            check_scores(s, ref->probs[i]);
            g_list_free_full(results, (GDestroyNotify)gst_structure_free);
            gst_object_unref(clip);
            gst_object_unref(p);
        }
}
GST_END_TEST

/* Buffers carry the same results as GstCustomMeta (here through a harness
 * whose chain decodes a PNG). */
GST_START_TEST(test_meta_carries_reference)
{
    const ClipReference *ref = clip_test_reference();
    gchar *launch = g_strdup_printf("pngdec ! videoconvert ! video/x-raw,format=BGRx ! clip model=\"%s\" "
                                    "labels-file=\"%s\" templates=\"{}\" top-k=%d embedding=true mode=archive "
                                    "batch-size=1",
                                    clip_test_model(), clip_test_fixture("texts.txt"), REF_TEXTS);
    GstHarness *h = gst_harness_new_parse(launch);
    g_free(launch);
    gst_harness_set_src_caps_str(h, "image/png");
    gchar *png = NULL;
    gsize len = 0;
    fail_unless(g_file_get_contents(clip_test_fixture("images/coffee.png"), &png, &len, NULL));
    GstBuffer *in = gst_buffer_new_wrapped(png, len);
    GST_BUFFER_PTS(in) = 5 * GST_SECOND;
    GstBuffer *out = gst_harness_push_and_pull(h, in);
    const GstStructure *s = gst_clip_meta_get_structure(out);
    fail_unless(s != NULL);
    gfloat e[REF_DIM];
    fail_unless(clip_test_embedding(s, e, REF_DIM));
    fail_unless(clip_test_cosine(e, ref->embedding[1], REF_DIM) >= 0.9999);
    check_scores(s, ref->probs[1]);
    fail_unless(clip_test_inferred(out));
    fail_unless_equals_uint64(clip_test_timestamp(out), 5 * GST_SECOND);
    gst_buffer_unref(out);
    gst_harness_teardown(h);
}
GST_END_TEST

GST_START_TEST(test_message_fields)
{
    GError *err = NULL;
    GstElement *p = gst_parse_launch(
        "videotestsrc num-buffers=3 pattern=ball ! video/x-raw,width=96,height=64,framerate=10/1 ! "
        "clip name=c labels=\"a ball;a square\" ! fakesink",
        &err);
    fail_unless(p != NULL);
    GstElement *clip = gst_bin_get_by_name(GST_BIN(p), "c");
    g_object_set(clip, "model", clip_test_model(), NULL);
    GList *results = clip_test_run(p);
    fail_unless_equals_int(g_list_length(results), 3);
    guint64 expected = 0;
    for (GList *l = results; l; l = l->next) {
        const GstStructure *s = l->data;
        guint64 ts, st, rt, dur;
        fail_unless(gst_structure_get_uint64(s, "timestamp", &ts));
        fail_unless(gst_structure_get_uint64(s, "stream-time", &st));
        fail_unless(gst_structure_get_uint64(s, "running-time", &rt));
        fail_unless(gst_structure_get_uint64(s, "duration", &dur));
        fail_unless_equals_uint64(ts, expected);
        fail_unless_equals_uint64(st, expected);
        fail_unless_equals_uint64(rt, expected);
        fail_unless_equals_uint64(dur, GST_SECOND / 10);
        fail_unless_equals_int(gst_clip_result_n_labels(s), 2);
        fail_unless(gst_clip_result_score(s, 0) + gst_clip_result_score(s, 1) > 0.999);
        fail_if(gst_structure_has_field(s, "embedding"), "embedding only when asked");
        expected += GST_SECOND / 10;
    }
    g_list_free_full(results, (GDestroyNotify)gst_structure_free);
    gst_object_unref(clip);
    gst_object_unref(p);
}
GST_END_TEST

/* threshold drops low scores; top-k cuts the list. */
GST_START_TEST(test_top_k_and_threshold)
{
    const ClipReference *ref = clip_test_reference();
    GstElement *clip;
    GstElement *p = fixture_pipeline("chelsea.png", "RGB", &clip);
    g_object_set(clip, "top-k", 3, NULL);
    GList *results = clip_test_run(p);
    fail_unless_equals_int(gst_clip_result_n_labels(results->data), 3);
    g_list_free_full(results, (GDestroyNotify)gst_structure_free);
    gst_object_unref(clip);
    gst_object_unref(p);

    /* A threshold between the reference's second and third best. */
    double sorted[REF_TEXTS];
    memcpy(sorted, ref->probs[0], sizeof sorted);
    for (int i = 0; i < REF_TEXTS; i++)
        for (int j = i + 1; j < REF_TEXTS; j++)
            if (sorted[j] > sorted[i]) {
                double t = sorted[i];
                sorted[i] = sorted[j];
                sorted[j] = t;
            }
    fail_unless(sorted[1] - sorted[2] > 0.01, "the reference's 2nd and 3rd scores are too close for this test");
    p = fixture_pipeline("chelsea.png", "RGB", &clip);
    g_object_set(clip, "threshold", (sorted[1] + sorted[2]) / 2, NULL);
    results = clip_test_run(p);
    fail_unless_equals_int(gst_clip_result_n_labels(results->data), 2);
    g_list_free_full(results, (GDestroyNotify)gst_structure_free);
    gst_object_unref(clip);
    gst_object_unref(p);
}
GST_END_TEST

/* Cuts the region (x, y, w, h) out of an RGB buffer of the given stride. */
static GstBuffer *cut(GstBuffer *frame, gint stride, gint x, gint y, gint w, gint h)
{
    gint out_stride = GST_ROUND_UP_4(w * 3);
    GstBuffer *out = gst_buffer_new_allocate(NULL, (gsize)out_stride * (gsize)h, NULL);
    GstMapInfo in, o;
    gst_buffer_map(frame, &in, GST_MAP_READ);
    gst_buffer_map(out, &o, GST_MAP_WRITE);
    for (gint r = 0; r < h; r++)
        memcpy(o.data + (gsize)r * out_stride, in.data + (gsize)(y + r) * stride + (gsize)x * 3, (gsize)w * 3);
    gst_buffer_unmap(out, &o);
    gst_buffer_unmap(frame, &in);
    return out;
}

static void embedding_of_frame(GstBuffer *frame, gint w, gint h, gfloat *out)
{
    GstHarness *h2 = clip_test_harness("labels=\"a;b\" embedding=true mode=archive batch-size=1");
    gchar *caps = clip_test_caps("RGB", w, h);
    gst_harness_set_src_caps_str(h2, caps);
    g_free(caps);
    GstBuffer *res = gst_harness_push_and_pull(h2, frame);
    const GstStructure *s = gst_clip_meta_get_structure(res);
    fail_unless(s && clip_test_embedding(s, out, REF_DIM));
    gst_buffer_unref(res);
    gst_harness_teardown(h2);
}

GST_START_TEST(test_roi_list)
{
    const gint W = 320, H = 240;
    static const gint rects[2][4] = {{10, 20, 150, 100}, {161, 33, 120, 180}};
    GstHarness *h = clip_test_harness("labels=\"a cat;a dog;a cup\" embedding=true inference-region=roi-list "
                                      "mode=archive batch-size=4");
    gchar *caps = clip_test_caps("RGB", W, H);
    gst_harness_set_src_caps_str(h, caps);
    g_free(caps);
    GstBuffer *frame = clip_test_frame(W, H, 3, 0);
    GstBuffer *in = gst_buffer_copy(frame);
    for (int r = 0; r < 2; r++) {
        GstVideoRegionOfInterestMeta *m = gst_buffer_add_video_region_of_interest_meta(
            in, "object", (guint)rects[r][0], (guint)rects[r][1], (guint)rects[r][2], (guint)rects[r][3]);
        m->id = 40 + r;
    }
    /* Two regions do not fill a batch of four: EOS sends the batch. */
    fail_unless_equals_int(gst_harness_push(h, in), GST_FLOW_OK);
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    GstBuffer *out = gst_harness_pull(h);
    const GstStructure *s = gst_clip_meta_get_structure(out);
    fail_unless(s != NULL);
    fail_if(gst_structure_has_field(s, "labels"), "roi-list: no full-frame labels");
    const GValue *regions = gst_structure_get_value(s, "regions");
    fail_unless(regions && gst_value_array_get_size(regions) == 2);
    for (int r = 0; r < 2; r++) {
        const GstStructure *region = gst_value_get_structure(gst_value_array_get_value(regions, (guint)r));
        gint id, x, y, w, hh;
        fail_unless(gst_structure_get(region, "id", G_TYPE_INT, &id, "x", G_TYPE_INT, &x, "y", G_TYPE_INT, &y,
                                      "width", G_TYPE_INT, &w, "height", G_TYPE_INT, &hh, NULL));
        fail_unless_equals_int(id, 40 + r);
        fail_unless(x == rects[r][0] && y == rects[r][1] && w == rects[r][2] && hh == rects[r][3]);
        fail_unless_equals_int(gst_clip_result_n_labels(region), 3);
        gfloat got[REF_DIM], want[REF_DIM];
        fail_unless(clip_test_embedding(region, got, REF_DIM));
        embedding_of_frame(cut(frame, GST_ROUND_UP_4(W * 3), x, y, w, hh), w, hh, want);
        double cos = clip_test_cosine(got, want, REF_DIM);
        fail_unless(cos >= 0.9999, "region %d: cosine %f against the cut-out frame", r, cos);
        /* DL Streamer's convention: the result on the region meta too. */
        GstVideoRegionOfInterestMeta *roi = gst_buffer_get_video_region_of_interest_meta_id(out, id);
        fail_unless(roi != NULL);
        GstStructure *param = gst_video_region_of_interest_meta_get_param(roi, GST_CLIP_ROI_PARAM_NAME);
        fail_unless(param != NULL, "no clip param on region %d", id);
        fail_unless_equals_string(gst_clip_result_label(param, 0), gst_clip_result_label(region, 0));
    }
    gst_buffer_unref(out);
    gst_buffer_unref(frame);
    gst_harness_teardown(h);
}
GST_END_TEST

/* The same pixels with padded rows, told by GstVideoMeta: the same embedding
 * as the tightly packed frame. */
GST_START_TEST(test_video_meta_strides)
{
    const gint W = 97, H = 61, PAD = 40, OFFSET = 64;
    GstBuffer *tight = clip_test_frame(W, H, 5, 0);
    gint tight_stride = GST_ROUND_UP_4(W * 3), padded_stride = tight_stride + PAD;
    GstBuffer *padded = gst_buffer_new_allocate(NULL, OFFSET + (gsize)padded_stride * H, NULL);
    gst_buffer_memset(padded, 0, 0xAB, gst_buffer_get_size(padded)); /* padding that must not be read */
    GstMapInfo in, out;
    gst_buffer_map(tight, &in, GST_MAP_READ);
    gst_buffer_map(padded, &out, GST_MAP_WRITE);
    for (gint y = 0; y < H; y++)
        memcpy(out.data + OFFSET + (gsize)y * padded_stride, in.data + (gsize)y * tight_stride, (gsize)W * 3);
    gst_buffer_unmap(padded, &out);
    gst_buffer_unmap(tight, &in);
    gsize offsets[GST_VIDEO_MAX_PLANES] = {OFFSET};
    gint strides[GST_VIDEO_MAX_PLANES] = {padded_stride};
    gst_buffer_add_video_meta_full(padded, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_FORMAT_RGB, W, H, 1, offsets,
                                   strides);
    gfloat want[REF_DIM], got[REF_DIM];
    embedding_of_frame(tight, W, H, want);
    embedding_of_frame(padded, W, H, got);
    double cos = clip_test_cosine(got, want, REF_DIM);
    fail_unless(cos >= 0.999999, "padded rows: cosine %f", cos);
}
GST_END_TEST

static Suite *clip_results_suite(void)
{
    clip_test_init_fixtures();
    Suite *s = suite_create("clip_results");
    TCase *tc = tcase_create("general");
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_rgb_family_matches_reference);
    tcase_add_test(tc, test_meta_carries_reference);
    tcase_add_test(tc, test_message_fields);
    tcase_add_test(tc, test_top_k_and_threshold);
    tcase_add_test(tc, test_roi_list);
    tcase_add_test(tc, test_video_meta_strides);
    return s;
}

GST_CHECK_MAIN(clip_results)
