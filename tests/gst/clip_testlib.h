/* clip_testlib.h: what the `clip` element's GstCheck tests share: the
 * fixtures and their reference outputs (made by OpenAI's code, read from
 * ../shared/fixtures), synthetic frames, pipelines run to EOS, and the
 * results read back from meta and messages. */
#ifndef CLIP_TESTLIB_H
#define CLIP_TESTLIB_H

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include "gstclipmeta.h"

#define REF_IMAGES 2
#define REF_TEXTS 13
#define REF_DIM 32

typedef struct ClipReference {
    const char *image_files[REF_IMAGES]; /* chelsea.png, coffee.png */
    float embedding[REF_IMAGES][REF_DIM];  /* normalised */
    double probs[REF_IMAGES][REF_TEXTS];   /* softmax over texts.txt as prompts */
} ClipReference;

/* Exits 77 (skip) when the fixtures are absent. */
void clip_test_init_fixtures(void);
void clip_test_remove_dir(const gchar *dir); /* a folder of files, not of folders */
const gchar *clip_test_fixture(const gchar *relative); /* a path under the fixtures (static buffer ring) */
const gchar *clip_test_model(void);                    /* clip-tiny-f32 */
const ClipReference *clip_test_reference(void);

/* A harness around `clip model=<fixture> PROPS` (properties in launch
 * syntax: the element starts as soon as the harness is made). */
GstHarness *clip_test_harness(const gchar *props);

/* An RGB frame of w×h with a pattern decided by seed. */
GstBuffer *clip_test_frame(gint width, gint height, guint seed, GstClockTime pts);
gchar *clip_test_caps(const gchar *format, gint width, gint height);

/* Runs a pipeline to EOS; returns the `clip` messages' structures (copies).
 * The test fails on an ERROR message. */
GList *clip_test_run(GstElement *pipeline);
/* Sets a pipeline to PLAYING and returns the first ERROR's text (g_free),
 * or NULL when it reached EOS without one. */
gchar *clip_test_run_for_error(GstElement *pipeline);

gdouble clip_test_cosine(const gfloat *a, const gfloat *b, gint n);
/* The `embedding` field of a result, into out (n floats); FALSE when absent. */
gboolean clip_test_embedding(const GstStructure *result, gfloat *out, gint n);
gboolean clip_test_inferred(GstBuffer *buf);
guint64 clip_test_timestamp(GstBuffer *buf);

#endif
