/* gstcliplabels.c: label lists, classifier builds and their swaps. */
#include "gstcliplabels.h"

#include "util/mapped_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

GST_DEBUG_CATEGORY_EXTERN(gst_clip_debug);
#define GST_CAT_DEFAULT gst_clip_debug

/* Label and template files are text a person wrote: 16 MiB is far more
 * than Kinetics-700's names, and stops /dev/zero from eating memory. */
#define TEXT_FILE_LIMIT (16u << 20)

void gst_clip_label_config_copy(GstClipLabelConfig *dst, const GstClipLabelConfig *src)
{
    dst->labels = g_strdup(src->labels);
    dst->labels_file = g_strdup(src->labels_file);
    dst->templates = g_strdup(src->templates);
    dst->templates_file = g_strdup(src->templates_file);
    dst->examples_dir = g_strdup(src->examples_dir);
    dst->examples_weight = src->examples_weight;
}

void gst_clip_label_config_clear(GstClipLabelConfig *c)
{
    g_free(c->labels);
    g_free(c->labels_file);
    g_free(c->templates);
    g_free(c->templates_file);
    g_free(c->examples_dir);
    memset(c, 0, sizeof *c);
}

static gboolean has_text(const gchar *s)
{
    return s && *s;
}

gboolean gst_clip_label_config_is_empty(const GstClipLabelConfig *c)
{
    return !has_text(c->labels) && !has_text(c->labels_file);
}

/* Splits on sep, trims each piece, skips empty ones (as the CLI does). */
static void split_into(GPtrArray *out, const gchar *text, const gchar *sep)
{
    gchar **parts = g_strsplit(text, sep, -1);
    for (gchar **p = parts; *p; p++) {
        g_strstrip(*p);
        if (**p)
            g_ptr_array_add(out, g_strdup(*p));
    }
    g_strfreev(parts);
}

/* The file's text through the engine's bounded reader (pipes and FIFOs
 * allowed, as for the CLI's --labels-file). */
static gchar *read_list_file(const gchar *path, gchar **error)
{
    errbuf e = {{0}};
    size_t len = 0;
    char *text = read_text_file_limited(path, TEXT_FILE_LIMIT, true, &len, &e);
    if (!text) {
        *error = g_strdup(e.msg);
        return NULL;
    }
    if (strlen(text) != len)
        *error = g_strdup_printf("%s: contains a NUL byte, not a label or template list", path);
    else if (!g_utf8_validate(text, (gssize)len, NULL))
        *error = g_strdup_printf("%s: not UTF-8 text", path);
    gchar *out = *error ? NULL : g_strndup(text, len);
    free(text);
    return out;
}

static gboolean collect(GPtrArray *out, const gchar *list, const gchar *file, gchar **error)
{
    if (has_text(list))
        split_into(out, list, ";");
    if (has_text(file)) {
        gchar *text = read_list_file(file, error);
        if (!text)
            return FALSE;
        split_into(out, text, "\n");
        g_free(text);
    }
    return TRUE;
}

static void on_progress(void *user, int done, int total)
{
    GstClipLabels *l = user;
    GST_DEBUG_OBJECT(l->owner, "classifier: %d of %d prompts embedded", done, total);
}

static vkclip_classifier *build(GstClipLabels *l, vkclip_model *model, const GstClipLabelConfig *config,
                                gchar **error)
{
    GPtrArray *labels = g_ptr_array_new_with_free_func(g_free);
    GPtrArray *templates = g_ptr_array_new_with_free_func(g_free);
    vkclip_classifier *c = NULL;
    if (collect(labels, config->labels, config->labels_file, error) &&
        collect(templates, config->templates, config->templates_file, error)) {
        if (labels->len == 0) {
            *error = has_text(config->labels_file)
                         ? g_strdup_printf("%s: no labels in the file", config->labels_file)
                         : g_strdup("no labels: set `labels` (a;b;c) or `labels-file`");
        } else {
            vkclip_classifier_options opts = {.progress = on_progress, .progress_user = l,
                                              .cancel = &l->cancel};
            vkclip_error err = {{0}};
            gint64 started = g_get_monotonic_time();
            c = vkclip_classifier_create(model, (const char *const *)labels->pdata, (int)labels->len,
                                         (const char *const *)templates->pdata, (int)templates->len, &opts,
                                         &err);
            if (!c)
                *error = g_strdup(err.message);
            else
                GST_INFO_OBJECT(l->owner, "classifier: %u labels x %u templates %s in %.2f s", labels->len,
                                MAX(templates->len, 1u),
                                vkclip_classifier_from_cache(c) ? "read from the cache" : "built",
                                (double)(g_get_monotonic_time() - started) / 1e6);
            if (c && has_text(config->examples_dir)) {
                int n = vkclip_classifier_add_examples(c, model, config->examples_dir,
                                                       (float)config->examples_weight, &err);
                if (n < 0) {
                    *error = g_strdup(err.message);
                    vkclip_classifier_free(c);
                    c = NULL;
                } else {
                    GST_INFO_OBJECT(l->owner, "classifier: %d example images blended in (weight %.2f)", n,
                                    config->examples_weight);
                }
            }
        }
    }
    g_ptr_array_free(labels, TRUE);
    g_ptr_array_free(templates, TRUE);
    return c;
}

void gst_clip_labels_init(GstClipLabels *l, GstElement *owner)
{
    memset(l, 0, sizeof *l);
    l->owner = owner;
    g_mutex_init(&l->lock);
}

gboolean gst_clip_labels_build(GstClipLabels *l, vkclip_model *model, const GstClipLabelConfig *config,
                               gchar **error)
{
    gst_clip_labels_stop(l);
    l->model = model;
    l->stopping = FALSE;
    l->cancel = 0;
    vkclip_classifier *c = build(l, model, config, error);
    if (!c)
        return FALSE;
    g_mutex_lock(&l->lock);
    l->current = c;
    g_mutex_unlock(&l->lock);
    return TRUE;
}

void gst_clip_labels_start_empty(GstClipLabels *l, vkclip_model *model)
{
    gst_clip_labels_stop(l);
    g_mutex_lock(&l->lock);
    l->model = model;
    l->stopping = FALSE;
    g_mutex_unlock(&l->lock);
}

/* The rebuild thread: builds the newest request until none is newer. */
static gpointer rebuild_loop(gpointer data)
{
    GstClipLabels *l = data;
    g_mutex_lock(&l->lock);
    while (!l->stopping && l->thread_generation != l->wanted_generation) {
        guint64 generation = l->wanted_generation;
        GstClipLabelConfig config;
        gst_clip_label_config_copy(&config, &l->wanted);
        l->cancel = 0;
        g_mutex_unlock(&l->lock);

        gchar *error = NULL;
        vkclip_classifier *c = build(l, l->model, &config, &error);
        vkclip_classifier *old = NULL;

        g_mutex_lock(&l->lock);
        gboolean newest = generation == l->wanted_generation && !l->stopping;
        if (c && newest) {
            old = l->current;
            l->current = c;
            GST_INFO_OBJECT(l->owner, "classifier swapped in (%d labels)", vkclip_classifier_size(c));
        } else {
            old = c; /* superseded while it was built */
        }
        l->thread_generation = generation;
        g_mutex_unlock(&l->lock);
        vkclip_classifier_free(old);
        if (!c && newest)
            GST_ELEMENT_WARNING(l->owner, LIBRARY, SETTINGS, ("%s", error),
                                ("the new labels were not applied; frames keep the previous classifier"));
        g_free(error);
        gst_clip_label_config_clear(&config);
        g_mutex_lock(&l->lock);
    }
    l->thread_generation = l->wanted_generation;
    g_mutex_unlock(&l->lock);
    return NULL;
}

static gboolean thread_busy(GstClipLabels *l)
{
    return l->thread_generation != l->wanted_generation;
}

void gst_clip_labels_request(GstClipLabels *l, const GstClipLabelConfig *config)
{
    g_mutex_lock(&l->lock);
    if (!l->model || l->stopping) { /* not started: start() builds */
        g_mutex_unlock(&l->lock);
        return;
    }
    gboolean was_busy = thread_busy(l);
    gst_clip_label_config_clear(&l->wanted);
    gst_clip_label_config_copy(&l->wanted, config);
    l->wanted_generation++;
    l->cancel = 1; /* a build still running is for an older request */
    if (!was_busy) {
        /* The last thread has finished its loop: reap it, start another. */
        if (l->thread)
            g_thread_join(l->thread);
        l->thread = g_thread_new("clip-labels", rebuild_loop, l);
    }
    g_mutex_unlock(&l->lock);
}

void gst_clip_labels_stop(GstClipLabels *l)
{
    g_mutex_lock(&l->lock);
    l->stopping = TRUE;
    l->cancel = 1;
    GThread *thread = l->thread;
    l->thread = NULL;
    g_mutex_unlock(&l->lock);
    if (thread)
        g_thread_join(thread);
    g_mutex_lock(&l->lock);
    vkclip_classifier *c = l->current;
    l->current = NULL;
    l->thread_generation = l->wanted_generation;
    gst_clip_label_config_clear(&l->wanted);
    l->model = NULL;
    g_mutex_unlock(&l->lock);
    vkclip_classifier_free(c);
}

typedef struct Ranked {
    gint index;
    gfloat score;
} Ranked;

static gint by_score(gconstpointer a, gconstpointer b)
{
    const Ranked *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->index - y->index; /* ties: the earlier label first, deterministic */
}

static void append(GValue *array, GValue *item)
{
    gst_value_array_append_and_take_value(array, item);
}

GstStructure *gst_clip_labels_score(GstClipLabels *l, const float *embedding, gint dim, guint top_k,
                                    gdouble threshold, gboolean with_embedding)
{
    GValue labels = G_VALUE_INIT, scores = G_VALUE_INIT, indices = G_VALUE_INIT;
    gst_value_array_init(&labels, top_k);
    gst_value_array_init(&scores, top_k);
    gst_value_array_init(&indices, top_k);
    g_mutex_lock(&l->lock);
    if (l->current) {
        gint n = vkclip_classifier_size(l->current);
        float *probs = g_new(float, n);
        Ranked *ranked = g_new(Ranked, n);
        vkclip_classifier_probs(l->current, embedding, probs);
        for (gint i = 0; i < n; i++)
            ranked[i] = (Ranked){i, probs[i]};
        qsort(ranked, (size_t)n, sizeof *ranked, by_score);
        for (gint i = 0; i < n && (guint)i < top_k && ranked[i].score >= threshold; i++) {
            GValue v = G_VALUE_INIT;
            g_value_init(&v, G_TYPE_STRING);
            g_value_set_string(&v, vkclip_classifier_label(l->current, ranked[i].index));
            append(&labels, &v);
            g_value_init(&v, G_TYPE_DOUBLE);
            g_value_set_double(&v, ranked[i].score);
            append(&scores, &v);
            g_value_init(&v, G_TYPE_INT);
            g_value_set_int(&v, ranked[i].index);
            append(&indices, &v);
        }
        g_free(probs);
        g_free(ranked);
    }
    g_mutex_unlock(&l->lock);
    GstStructure *s = gst_structure_new_empty("clip-result");
    gst_structure_take_value(s, "labels", &labels);
    gst_structure_take_value(s, "scores", &scores);
    gst_structure_take_value(s, "indices", &indices);
    if (with_embedding) {
        GValue e = G_VALUE_INIT;
        gst_value_array_init(&e, (guint)dim);
        for (gint i = 0; i < dim; i++) {
            GValue v = G_VALUE_INIT;
            g_value_init(&v, G_TYPE_FLOAT);
            g_value_set_float(&v, embedding[i]);
            append(&e, &v);
        }
        gst_structure_take_value(s, "embedding", &e);
    }
    return s;
}
