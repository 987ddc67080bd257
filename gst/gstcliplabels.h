/* gstcliplabels.h: the classifier an element scores with, and its rebuilds.
 *
 * A classifier is immutable once built; a change of labels or templates
 * while PLAYING builds a new one on a thread of its own and swaps it in
 * between two frames, so the streaming thread never waits for the text
 * tower. A newer change cancels a build still running. */
#ifndef GST_CLIP_LABELS_H
#define GST_CLIP_LABELS_H

#include <gst/gst.h>

#include "vkclip.h"

G_BEGIN_DECLS

/* What decides a classifier: the properties, as set. */
typedef struct GstClipLabelConfig {
    gchar *labels;         /* ';'-separated */
    gchar *labels_file;    /* one label a line */
    gchar *templates;      /* ';'-separated, each with "{}" */
    gchar *templates_file; /* one template a line */
    gchar *examples_dir;   /* few-shot: DIR/LABEL/ images; NULL: zero-shot */
    gdouble examples_weight;
} GstClipLabelConfig;

void gst_clip_label_config_copy(GstClipLabelConfig *dst, const GstClipLabelConfig *src);
void gst_clip_label_config_clear(GstClipLabelConfig *c);
/* No labels at all (neither property names any). */
gboolean gst_clip_label_config_is_empty(const GstClipLabelConfig *c);

typedef struct GstClipLabels {
    GstElement *owner; /* for the debug log and warnings */
    vkclip_model *model;
    GMutex lock;
    vkclip_classifier *current; /* what frames are scored with; NULL: none yet */
    GThread *thread;            /* the rebuild in progress, if any */
    GstClipLabelConfig wanted;  /* the newest request */
    guint64 wanted_generation, thread_generation;
    volatile int cancel;
    gboolean stopping;
} GstClipLabels;

void gst_clip_labels_init(GstClipLabels *l, GstElement *owner);
/* Builds the first classifier now (at start: errors stop the element).
 * Returns FALSE with *error set (g_free it). */
gboolean gst_clip_labels_build(GstClipLabels *l, vkclip_model *model, const GstClipLabelConfig *config,
                               gchar **error);
/* Starts with no classifier (embedding only); a later request builds one. */
void gst_clip_labels_start_empty(GstClipLabels *l, vkclip_model *model);
/* Asks for a rebuild off the streaming thread; frames keep the current
 * classifier until the new one is ready. A bad configuration is posted as a
 * warning and the current classifier stays. */
void gst_clip_labels_request(GstClipLabels *l, const GstClipLabelConfig *config);
/* Cancels and joins a rebuild, frees the classifier. */
void gst_clip_labels_stop(GstClipLabels *l);

/* The result structure for a normalised embedding: the top_k labels whose
 * score reaches threshold, best first (see gstclipmeta.h for the fields),
 * and the embedding itself when with_embedding. */
GstStructure *gst_clip_labels_score(GstClipLabels *l, const float *embedding, gint dim, guint top_k,
                                    gdouble threshold, gboolean with_embedding);

G_END_DECLS

#endif
