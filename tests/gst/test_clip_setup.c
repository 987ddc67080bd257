/* test_clip_setup: properties, errors, sharing and lifecycle.
 *
 * - every property documented (nick, blurb, default) as gst-inspect shows;
 * - a missing or damaged model, no labels, a template without {}, a device
 *   that does not exist: an element error with the engine's one-line
 *   message (naming the file), never a crash or a hang;
 * - two elements naming one model share it (the debug log says so), other
 *   precisions do not;
 * - device=-2 (the CPU backend) gives the Vulkan device's embedding;
 * - NULL -> PLAYING -> NULL again and again. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "clip_testlib.h"

GST_START_TEST(test_properties_documented)
{
    static const gchar *names[] = {"model", "labels", "labels-file", "templates", "templates-file", "top-k",
                                   "threshold", "interval", "mode", "batch-size", "device", "precision",
                                   "post-messages", "embedding", "inference-region"};
    GstElement *e = gst_element_factory_make("clip", NULL);
    fail_unless(e != NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
        GParamSpec *p = g_object_class_find_property(G_OBJECT_GET_CLASS(e), names[i]);
        fail_unless(p != NULL, "no property %s", names[i]);
        fail_unless(strlen(g_param_spec_get_nick(p)) > 0 && strlen(g_param_spec_get_blurb(p)) > 10,
                    "%s: nick and blurb", names[i]);
        fail_unless(p->flags & GST_PARAM_DOC_SHOW_DEFAULT);
    }
    guint top_k, interval, batch;
    gboolean post, embedding;
    gint device;
    g_object_get(e, "top-k", &top_k, "interval", &interval, "batch-size", &batch, "post-messages", &post,
                 "embedding", &embedding, "device", &device, NULL);
    fail_unless(top_k == 5 && interval == 1 && batch == 8 && post && !embedding && device == -1);
    GstElementFactory *f = gst_element_get_factory(e);
    fail_unless_equals_string(gst_element_factory_get_metadata(f, GST_ELEMENT_METADATA_KLASS),
                              "Filter/Analyzer/Video");
    gst_object_unref(e);
}
GST_END_TEST

/* The error an element with these settings stops with. */
static gchar *error_of(const gchar *model, const gchar *labels, const gchar *templates, gint device)
{
    GstElement *p = gst_parse_launch("videotestsrc num-buffers=2 ! video/x-raw,width=64,height=48 ! clip name=c ! "
                                     "fakesink",
                                     NULL);
    GstElement *clip = gst_bin_get_by_name(GST_BIN(p), "c");
    g_object_set(clip, "model", model, "labels", labels, "templates", templates, "device", device, NULL);
    gchar *error = clip_test_run_for_error(p);
    gst_object_unref(clip);
    gst_object_unref(p);
    return error;
}

static void expect_error(gchar *error, const gchar *part)
{
    fail_unless(error != NULL, "no error (expected one mentioning \"%s\")", part);
    fail_unless(strstr(error, part) != NULL, "error \"%s\" does not mention \"%s\"", error, part);
    fail_if(strchr(error, '\n') != NULL, "a one-line error: %s", error);
    g_free(error);
}

static gchar *damaged_model(const gchar *file, const gchar *contents)
{
    gchar *dir = g_dir_make_tmp("clip-bad-model-XXXXXX", NULL);
    static const gchar *files[] = {"config.json", "model.safetensors", "preprocessor_config.json", "vocab.json",
                                   "merges.txt"};
    for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
        gchar *target = g_build_filename(dir, files[i], NULL);
        if (strcmp(files[i], file) == 0) {
            fail_unless(g_file_set_contents(target, contents, -1, NULL));
        } else {
            gchar *src = g_build_filename(clip_test_model(), files[i], NULL);
            fail_unless(symlink(src, target) == 0);
            g_free(src);
        }
        g_free(target);
    }
    return dir;
}

GST_START_TEST(test_bad_settings_are_errors)
{
    expect_error(error_of("/nonexistent/model", "a;b", NULL, -1), "/nonexistent/model");
    /* No model given: the default, here $VKCLIP_MODEL naming an empty folder. */
    gchar *empty = g_dir_make_tmp("clip-no-model-XXXXXX", NULL);
    g_setenv("VKCLIP_MODEL", empty, TRUE);
    expect_error(error_of(NULL, "a;b", NULL, -1), empty);
    g_unsetenv("VKCLIP_MODEL");
    g_rmdir(empty);
    g_free(empty);
    expect_error(error_of(clip_test_model(), "", NULL, -1), "no labels");
    expect_error(error_of(clip_test_model(), " ; ;", NULL, -1), "no labels");
    expect_error(error_of(clip_test_model(), "a;b", "a photo of a cat", -1), "{}");
    expect_error(error_of(clip_test_model(), "a;b", NULL, 63), "63");

    gchar *dir = damaged_model("config.json", "{\"vision_config\": ");
    expect_error(error_of(dir, "a;b", NULL, -1), "config.json");
    clip_test_remove_dir(dir);
    g_free(dir);
    dir = damaged_model("model.safetensors", "not a safetensors file at all");
    expect_error(error_of(dir, "a;b", NULL, -1), "model.safetensors");
    clip_test_remove_dir(dir);
    g_free(dir);
}
GST_END_TEST

GST_START_TEST(test_missing_labels_file)
{
    GstElement *p = gst_parse_launch("videotestsrc num-buffers=1 ! clip name=c ! fakesink", NULL);
    GstElement *clip = gst_bin_get_by_name(GST_BIN(p), "c");
    g_object_set(clip, "model", clip_test_model(), "labels-file", "/nonexistent/labels.txt", NULL);
    expect_error(clip_test_run_for_error(p), "/nonexistent/labels.txt");
    /* Endless or binary files: the limit, and a NUL that would cut the list short. */
    g_object_set(clip, "labels-file", "/dev/zero", NULL);
    expect_error(clip_test_run_for_error(p), "16 MiB");
    gchar *nul = g_build_filename(g_get_tmp_dir(), "clip-test-nul-labels.txt", NULL);
    fail_unless(g_file_set_contents(nul, "a cat\n\0a dog\n", 14, NULL));
    g_object_set(clip, "labels-file", nul, NULL);
    expect_error(clip_test_run_for_error(p), "NUL");
    g_unlink(nul);
    g_free(nul);
    gst_object_unref(clip);
    gst_object_unref(p);
}
GST_END_TEST

/* Embedding alone needs no labels (what an indexer runs). */
GST_START_TEST(test_embedding_without_labels)
{
    GstElement *p = gst_parse_launch("videotestsrc num-buffers=2 ! video/x-raw,width=64,height=48 ! clip name=c "
                                     "embedding=true ! fakesink",
                                     NULL);
    GstElement *clip = gst_bin_get_by_name(GST_BIN(p), "c");
    g_object_set(clip, "model", clip_test_model(), NULL);
    GList *results = clip_test_run(p);
    fail_unless_equals_int(g_list_length(results), 2);
    gfloat e[REF_DIM];
    fail_unless(clip_test_embedding(results->data, e, REF_DIM));
    fail_unless_equals_int(gst_clip_result_n_labels(results->data), 0);
    g_list_free_full(results, (GDestroyNotify)gst_structure_free);
    gst_object_unref(clip);
    gst_object_unref(p);
}
GST_END_TEST

/* One frame's embedding with the element's device set to `device`. */
static void embed_one_frame(gint device, gint threads, gfloat *e)
{
    GstElement *p = gst_parse_launch("videotestsrc num-buffers=1 pattern=smpte ! video/x-raw,width=96,height=64 ! "
                                     "clip name=c embedding=true ! fakesink",
                                     NULL);
    GstElement *clip = gst_bin_get_by_name(GST_BIN(p), "c");
    g_object_set(clip, "model", clip_test_model(), "device", device, "threads", threads, NULL);
    GList *results = clip_test_run(p);
    fail_unless_equals_int(g_list_length(results), 1);
    fail_unless(clip_test_embedding(results->data, e, REF_DIM));
    g_list_free_full(results, (GDestroyNotify)gst_structure_free);
    gst_object_unref(clip);
    gst_object_unref(p);
}

/* device=-2 runs the CPU backend, on one thread or on three: the same
 * embedding as the Vulkan device's. */
GST_START_TEST(test_cpu_backend_device)
{
    gfloat vulkan[REF_DIM], cpu[REF_DIM];
    embed_one_frame(-1, 0, vulkan);
    for (gint threads = 1; threads <= 3; threads += 2) {
        embed_one_frame(-2, threads, cpu);
        double dot = 0, nv = 0, nc = 0;
        for (int i = 0; i < REF_DIM; i++) {
            dot += (double)vulkan[i] * cpu[i];
            nv += (double)vulkan[i] * vulkan[i];
            nc += (double)cpu[i] * cpu[i];
        }
        double cosine = dot / sqrt(nv * nc);
        fail_unless(cosine >= 0.99999, "CPU backend on %d thread(s) against the Vulkan device: cosine %.7f", threads,
                    cosine);
    }
}
GST_END_TEST

static GMutex log_lock;
static GString *log_text;

static void capture_log(GstDebugCategory *category, GstDebugLevel level, const gchar *file, const gchar *function,
                        gint line, GObject *object, GstDebugMessage *message, gpointer user)
{
    (void)level, (void)file, (void)function, (void)line, (void)object, (void)user;
    if (strcmp(gst_debug_category_get_name(category), "clip") != 0)
        return;
    g_mutex_lock(&log_lock);
    g_string_append_printf(log_text, "%s\n", gst_debug_message_get(message));
    g_mutex_unlock(&log_lock);
}

GST_START_TEST(test_elements_share_a_model)
{
    log_text = g_string_new(NULL);
    gst_debug_set_threshold_for_name("clip", GST_LEVEL_INFO);
    gst_debug_add_log_function(capture_log, NULL, NULL);
    GstElement *p = gst_parse_launch(
        "videotestsrc num-buffers=2 ! video/x-raw,width=64,height=48 ! tee name=t "
        "t. ! queue ! clip name=a labels=\"a;b\" ! fakesink t. ! queue ! clip name=b labels=\"c;d\" ! fakesink "
        "t. ! queue ! clip name=f precision=f16 labels=\"e;f\" ! fakesink",
        NULL);
    const gchar *names[] = {"a", "b", "f"};
    for (int i = 0; i < 3; i++) {
        GstElement *c = gst_bin_get_by_name(GST_BIN(p), names[i]);
        g_object_set(c, "model", clip_test_model(), NULL);
        gst_object_unref(c);
    }
    GList *results = clip_test_run(p);
    fail_unless_equals_int(g_list_length(results), 6);
    g_list_free_full(results, (GDestroyNotify)gst_structure_free);
    gst_debug_remove_log_function(capture_log);
    g_mutex_lock(&log_lock);
    /* a and b share one model: the second of them finds it loaded. */
    fail_unless(strstr(log_text->str, "2 element(s) share it") != NULL, "log:\n%s", log_text->str);
    fail_if(strstr(log_text->str, "3 element(s) share it") != NULL, "f16 is another model");
    g_mutex_unlock(&log_lock);
    g_string_free(log_text, TRUE);
    gst_object_unref(p);
}
GST_END_TEST

GST_START_TEST(test_restart_many_times)
{
    GstElement *p = gst_parse_launch("videotestsrc num-buffers=3 ! video/x-raw,width=64,height=48 ! clip name=c "
                                     "labels=\"a;b\" ! fakesink",
                                     NULL);
    GstElement *clip = gst_bin_get_by_name(GST_BIN(p), "c");
    g_object_set(clip, "model", clip_test_model(), NULL);
    for (int round = 0; round < 4; round++) {
        GList *results = clip_test_run(p);
        fail_unless_equals_int(g_list_length(results), 3);
        g_list_free_full(results, (GDestroyNotify)gst_structure_free);
    }
    /* And stopped in the middle of a stream. */
    fail_unless(gst_element_set_state(p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(clip);
    gst_object_unref(p);
}
GST_END_TEST

static Suite *clip_setup_suite(void)
{
    clip_test_init_fixtures();
    g_mutex_init(&log_lock);
    Suite *s = suite_create("clip_setup");
    TCase *tc = tcase_create("general");
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_properties_documented);
    tcase_add_test(tc, test_bad_settings_are_errors);
    tcase_add_test(tc, test_missing_labels_file);
    tcase_add_test(tc, test_embedding_without_labels);
    tcase_add_test(tc, test_cpu_backend_device);
    tcase_add_test(tc, test_elements_share_a_model);
    tcase_add_test(tc, test_restart_many_times);
    return s;
}

GST_CHECK_MAIN(clip_setup)
