/* test_clip_modes: how frames flow through the element.
 *
 * - archive: every selected frame inferred, in order, none dropped; frames
 *   held until their batch is done; interval: the frames between carry the
 *   last result marked reused, with the timestamp of the frame inferred;
 * - live: a frame arriving while the device is busy is not inferred, and
 *   later buffers carry the newest result with its own frame's timestamp;
 * - EOS drains; a flushing seek drops what is held; caps change mid-stream;
 * - labels changed while PLAYING: frames keep flowing with the old
 *   classifier while the new one builds, then switch;
 * - the latency query counts the frames archive mode holds. */
#include <string.h>

#include "clip_testlib.h"

enum { MODE_AUTO, MODE_LIVE, MODE_ARCHIVE };

static GstHarness *clip_harness(gint mode, guint batch, guint interval, const gchar *labels)
{
    static const gchar *modes[] = {"auto", "live", "archive"};
    gchar *props = g_strdup_printf("labels=\"%s\" mode=%s batch-size=%u interval=%u", labels, modes[mode], batch,
                                   interval);
    GstHarness *h = clip_test_harness(props);
    g_free(props);
    gchar *caps = clip_test_caps("RGB", 64, 48);
    gst_harness_set_src_caps_str(h, caps);
    g_free(caps);
    return h;
}

static GstClockTime pts_of(guint i)
{
    return i * (GST_SECOND / 30);
}

GST_START_TEST(test_archive_interval)
{
    const guint N = 10;
    GstHarness *h = clip_harness(MODE_ARCHIVE, 2, 3, "red;green;blue");
    for (guint i = 0; i < N; i++)
        fail_unless_equals_int(gst_harness_push(h, clip_test_frame(64, 48, i, pts_of(i))), GST_FLOW_OK);
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    fail_unless_equals_int(gst_harness_buffers_received(h), N);
    guint inferred = 0;
    for (guint i = 0; i < N; i++) {
        GstBuffer *b = gst_harness_pull(h);
        fail_unless_equals_uint64(GST_BUFFER_PTS(b), pts_of(i)); /* in order */
        gboolean expect = i % 3 == 0;
        fail_unless_equals_int(clip_test_inferred(b), expect);
        fail_unless_equals_uint64(clip_test_timestamp(b), pts_of(i - i % 3));
        inferred += expect;
        gst_buffer_unref(b);
    }
    fail_unless_equals_int(inferred, 4);
    gst_harness_teardown(h);
}
GST_END_TEST

/* Frames wait for their batch, then all leave at once, in order. */
GST_START_TEST(test_archive_holds_until_batch_done)
{
    GstHarness *h = clip_harness(MODE_ARCHIVE, 4, 1, "red;green");
    for (guint i = 0; i < 3; i++)
        gst_harness_push(h, clip_test_frame(64, 48, i, pts_of(i)));
    fail_unless_equals_int(gst_harness_buffers_received(h), 0); /* the batch is not full */
    gst_harness_push(h, clip_test_frame(64, 48, 3, pts_of(3)));
    /* Full: submitted. They leave once the device is done, at the latest
     * when the next frame arrives or at EOS. */
    for (guint i = 4; i < 20; i++)
        gst_harness_push(h, clip_test_frame(64, 48, i, pts_of(i)));
    fail_unless(gst_harness_buffers_received(h) >= 4);
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    fail_unless_equals_int(gst_harness_buffers_received(h), 20);
    for (guint i = 0; i < 20; i++) {
        GstBuffer *b = gst_harness_pull(h);
        fail_unless_equals_uint64(GST_BUFFER_PTS(b), pts_of(i));
        fail_unless(clip_test_inferred(b));
        fail_unless_equals_uint64(clip_test_timestamp(b), pts_of(i));
        gst_buffer_unref(b);
    }
    gst_harness_teardown(h);
}
GST_END_TEST

/* Equal frames give equal results, whatever batch they were in. */
GST_START_TEST(test_archive_batches_agree)
{
    GstHarness *h = clip_harness(MODE_ARCHIVE, 3, 1, "red;green;blue;a cat");
    for (guint i = 0; i < 7; i++)
        gst_harness_push(h, clip_test_frame(64, 48, i % 2, pts_of(i)));
    gst_harness_push_event(h, gst_event_new_eos());
    gdouble first[2][4];
    for (guint i = 0; i < 7; i++) {
        GstBuffer *b = gst_harness_pull(h);
        const GstStructure *s = gst_clip_meta_get_structure(b);
        for (guint k = 0; k < 4; k++) {
            if (i < 2)
                first[i][k] = gst_clip_result_score(s, k);
            else
                fail_unless(fabs(first[i % 2][k] - gst_clip_result_score(s, k)) < 1e-6);
        }
        gst_buffer_unref(b);
    }
    gst_harness_teardown(h);
}
GST_END_TEST

GST_START_TEST(test_live_skips_busy_frames)
{
    GstHarness *h = clip_harness(MODE_LIVE, 1, 1, "red;green;blue");
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(h->element, bus);
    /* Frame 0 goes to the device; frame 1, right behind it, finds it busy. */
    GstBuffer *b0 = gst_harness_push_and_pull(h, clip_test_frame(64, 48, 0, pts_of(0)));
    GstBuffer *b1 = gst_harness_push_and_pull(h, clip_test_frame(64, 48, 1, pts_of(1)));
    fail_if(gst_clip_meta_get_structure(b0) != NULL, "no result can exist before the first inference");
    fail_if(gst_clip_meta_get_structure(b1) != NULL && clip_test_timestamp(b1) == pts_of(1),
            "frame 1 arrived while the device was busy: it cannot carry its own result");
    gst_buffer_unref(b0);
    gst_buffer_unref(b1);
    /* Later frames pass at once; the first fresh result carries frame 0's
     * timestamp, since frame 0 was the one on the device. */
    guint i = 2;
    GstBuffer *fresh = NULL;
    for (; i < 2000 && !fresh; i++) {
        GstBuffer *b = gst_harness_push_and_pull(h, clip_test_frame(64, 48, i, pts_of(i)));
        if (gst_clip_meta_get_structure(b) && clip_test_inferred(b))
            fresh = b;
        else
            gst_buffer_unref(b);
        g_usleep(2000);
    }
    fail_unless(fresh != NULL, "no result in 2000 frames");
    fail_unless_equals_uint64(clip_test_timestamp(fresh), pts_of(0));
    gst_buffer_unref(fresh);
    /* The next buffer reuses it. */
    GstBuffer *next = gst_harness_push_and_pull(h, clip_test_frame(64, 48, i, pts_of(i)));
    if (gst_clip_meta_get_structure(next) && !clip_test_inferred(next))
        fail_unless(clip_test_timestamp(next) <= pts_of(i));
    gst_buffer_unref(next);
    /* One message per inferred frame, no more. */
    gst_harness_push_event(h, gst_event_new_eos());
    guint messages = 0;
    GstMessage *m;
    while ((m = gst_bus_pop_filtered(bus, GST_MESSAGE_ELEMENT))) {
        messages++;
        gst_message_unref(m);
    }
    fail_unless(messages >= 1 && messages < i, "%u messages for %u frames", messages, i);
    gst_element_set_bus(h->element, NULL);
    gst_object_unref(bus);
    gst_harness_teardown(h);
}
GST_END_TEST

GST_START_TEST(test_flushing_seek_drops_held_frames)
{
    GstHarness *h = clip_harness(MODE_ARCHIVE, 4, 1, "red;green");
    for (guint i = 0; i < 3; i++)
        gst_harness_push(h, clip_test_frame(64, 48, i, pts_of(i)));
    fail_unless(gst_harness_push_event(h, gst_event_new_flush_start()));
    fail_unless(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
    GstSegment segment;
    gst_segment_init(&segment, GST_FORMAT_TIME);
    fail_unless(gst_harness_push_event(h, gst_event_new_segment(&segment)));
    for (guint i = 10; i < 12; i++)
        gst_harness_push(h, clip_test_frame(64, 48, i, pts_of(i)));
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    fail_unless_equals_int(gst_harness_buffers_received(h), 2);
    for (guint i = 10; i < 12; i++) {
        GstBuffer *b = gst_harness_pull(h);
        fail_unless_equals_uint64(GST_BUFFER_PTS(b), pts_of(i));
        fail_unless(clip_test_inferred(b));
        gst_buffer_unref(b);
    }
    gst_harness_teardown(h);
}
GST_END_TEST

static GstBuffer *i420_frame(gint w, gint h, GstClockTime pts)
{
    GstVideoInfo info;
    gst_video_info_set_format(&info, GST_VIDEO_FORMAT_I420, w, h);
    GstBuffer *b = gst_buffer_new_allocate(NULL, GST_VIDEO_INFO_SIZE(&info), NULL);
    gst_buffer_memset(b, 0, 90, GST_VIDEO_INFO_SIZE(&info));
    GST_BUFFER_PTS(b) = pts;
    return b;
}

GST_START_TEST(test_caps_change)
{
    GstHarness *h = clip_harness(MODE_ARCHIVE, 4, 1, "red;green");
    for (guint i = 0; i < 2; i++)
        gst_harness_push(h, clip_test_frame(64, 48, i, pts_of(i)));
    /* The held RGB frames leave before the new caps. */
    gst_harness_set_src_caps_str(h, "video/x-raw,format=I420,width=90,height=50,framerate=30/1");
    fail_unless_equals_int(gst_harness_buffers_received(h), 2);
    for (guint i = 2; i < 4; i++)
        gst_harness_push(h, i420_frame(90, 50, pts_of(i)));
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    fail_unless_equals_int(gst_harness_buffers_received(h), 4);
    for (guint i = 0; i < 4; i++) {
        GstBuffer *b = gst_harness_pull(h);
        fail_unless(clip_test_inferred(b));
        gst_buffer_unref(b);
    }
    gst_harness_teardown(h);
}
GST_END_TEST

static gboolean label_in(const GstStructure *s, const gchar *const *set)
{
    const gchar *best = gst_clip_result_label(s, 0);
    for (; *set; set++)
        if (g_strcmp0(best, *set) == 0)
            return TRUE;
    return FALSE;
}

GST_START_TEST(test_labels_change_while_playing)
{
    static const gchar *const old_set[] = {"red", "green", NULL};
    GstHarness *h = clip_harness(MODE_ARCHIVE, 1, 1, "red;green");
    GstBuffer *b = gst_harness_push_and_pull(h, clip_test_frame(64, 48, 0, pts_of(0)));
    fail_unless(label_in(gst_clip_meta_get_structure(b), old_set));
    gst_buffer_unref(b);
    /* A classifier that takes a while to build: 1500 labels × 4 templates. */
    GString *labels = g_string_new(NULL);
    for (int i = 0; i < 1500; i++)
        g_string_append_printf(labels, "%sobject number %d", i ? ";" : "", i);
    GstElement *clip = gst_harness_find_element(h, "clip");
    g_object_set(clip, "templates", "a photo of a {}.;a drawing of a {}.;{} in a video;a {}", NULL);
    g_object_set(clip, "labels", labels->str, NULL);
    gst_object_unref(clip);
    g_string_free(labels, TRUE);
    /* The stream goes on meanwhile, with the old classifier. */
    guint old_after_change = 0, i = 1;
    gboolean switched = FALSE;
    gint64 deadline = g_get_monotonic_time() + 240 * G_TIME_SPAN_SECOND;
    for (; !switched && g_get_monotonic_time() < deadline; i++) {
        b = gst_harness_push_and_pull(h, clip_test_frame(64, 48, i, pts_of(i)));
        const GstStructure *s = gst_clip_meta_get_structure(b);
        if (label_in(s, old_set))
            old_after_change++;
        else
            switched = g_str_has_prefix(gst_clip_result_label(s, 0), "object number ");
        gst_buffer_unref(b);
    }
    fail_unless(switched, "the new labels never arrived");
    fail_unless(old_after_change >= 1, "frames waited for the rebuild");
    GST_INFO("%u frames passed with the old labels while the new classifier was built", old_after_change);
    gst_harness_teardown(h);
}
GST_END_TEST

GST_START_TEST(test_latency_counts_held_frames)
{
    GstHarness *h = clip_harness(MODE_ARCHIVE, 4, 1, "red;green");
    gst_harness_set_upstream_latency(h, 0);
    gst_harness_push(h, clip_test_frame(64, 48, 0, 0)); /* makes the encoder */
    GstQuery *q = gst_query_new_latency();
    fail_unless(gst_pad_peer_query(h->sinkpad, q));
    GstClockTime min, max;
    gboolean live;
    gst_query_parse_latency(q, &live, &min, &max);
    fail_unless_equals_uint64(min, 3 * (GST_SECOND / 30)); /* three frames wait for the fourth */
    gst_query_unref(q);
    gst_harness_teardown(h);
}
GST_END_TEST

/* Upstream pools are asked for the buffers archive mode may hold. */
GST_START_TEST(test_allocation_counts_held_buffers)
{
    GstHarness *h = clip_harness(MODE_ARCHIVE, 4, 1, "red;green");
    GstCaps *caps = gst_caps_from_string("video/x-raw,format=RGB,width=64,height=48,framerate=30/1");
    GstQuery *q = gst_query_new_allocation(caps, TRUE);
    fail_unless(gst_pad_peer_query(h->srcpad, q));
    fail_unless(gst_query_get_n_allocation_pools(q) >= 1);
    guint size, min, max;
    gst_query_parse_nth_allocation_pool(q, 0, NULL, &size, &min, &max);
    fail_unless(min >= 4 * 3, "min buffers %u: archive mode holds up to 12", min);
    fail_unless(max == 0 || max >= min);
    gst_query_unref(q);
    gst_caps_unref(caps);
    gst_harness_teardown(h);
}
GST_END_TEST

static Suite *clip_modes_suite(void)
{
    clip_test_init_fixtures();
    Suite *s = suite_create("clip_modes");
    TCase *tc = tcase_create("general");
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_archive_interval);
    tcase_add_test(tc, test_archive_holds_until_batch_done);
    tcase_add_test(tc, test_archive_batches_agree);
    tcase_add_test(tc, test_live_skips_busy_frames);
    tcase_add_test(tc, test_flushing_seek_drops_held_frames);
    tcase_add_test(tc, test_caps_change);
    tcase_add_test(tc, test_labels_change_while_playing);
    tcase_add_test(tc, test_latency_counts_held_frames);
    tcase_add_test(tc, test_allocation_counts_held_buffers);
    return s;
}

GST_CHECK_MAIN(clip_modes)
