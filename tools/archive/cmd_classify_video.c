/* cmd_classify_video: vkclip classify-video: video-level zero-shot, as the
 * CLIP paper does it for Kinetics-700: each sampled frame's normalised
 * embedding averaged over the clip (or each --segment), the mean normalised
 * and classified. Frames come from the videos themselves (the clip element
 * over each file) or from an archive's database (--db). */
#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_commands.h"
#include "archive_db.h"
#include "archive_model.h"
#include "gstclipmodels.h"
#include "video_embed.h"


/* One line to print: a whole video or one segment of it. */
typedef struct clip_mean {
    char *file;
    double start, end; /* seconds; end < 0: the whole video */
    int frames;
    float *mean; /* normalised */
} clip_mean;

typedef struct mean_list {
    clip_mean *items;
    int n, cap, dim;
    int blank_only; /* videos left out: every frame blank */
} mean_list;

/* Sums a video's frames into the whole-video mean and, with a segment
 * length, one mean per segment. */
typedef struct accumulator {
    mean_list *out;
    const char *file;
    double segment;
    bool keep_blank;
    double *whole, *part;
    int whole_frames, part_frames;
    int64_t part_index;
    int64_t last_pts;
} accumulator;

static void push_mean(mean_list *l, const char *file, double start, double end, const double *sum, int frames)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->items = realloc(l->items, (size_t)l->cap * sizeof *l->items);
    }
    clip_mean *m = &l->items[l->n++];
    *m = (clip_mean){strdup(file), start, end, frames, malloc((size_t)l->dim * sizeof(float))};
    double norm = 0;
    for (int i = 0; i < l->dim; i++)
        norm += sum[i] * sum[i];
    norm = norm > 0 ? sqrt(norm) : 1.0;
    for (int i = 0; i < l->dim; i++)
        m->mean[i] = (float)(sum[i] / norm);
}

static void flush_part(accumulator *a)
{
    if (a->part_frames > 0)
        push_mean(a->out, a->file, (double)a->part_index * a->segment, (double)(a->part_index + 1) * a->segment,
                  a->part, a->part_frames);
    memset(a->part, 0, (size_t)a->out->dim * sizeof *a->part);
    a->part_frames = 0;
}

static void accumulate(accumulator *a, int64_t pts_ns, uint32_t flags, const float *embedding)
{
    if ((flags & ARCHIVE_FRAME_BLANK) && !a->keep_blank)
        return;
    int dim = a->out->dim;
    if (a->segment > 0) {
        int64_t index = (int64_t)floor((double)pts_ns / 1e9 / a->segment);
        if (index != a->part_index) {
            flush_part(a);
            a->part_index = index;
        }
        for (int i = 0; i < dim; i++)
            a->part[i] += embedding[i];
        a->part_frames++;
    }
    for (int i = 0; i < dim; i++)
        a->whole[i] += embedding[i];
    a->whole_frames++;
}

static void accumulator_start(accumulator *a, mean_list *out, const char *file, const cli_options *o)
{
    *a = (accumulator){out, file, o->segment, o->keep_blank, calloc((size_t)out->dim, sizeof(double)),
                       calloc((size_t)out->dim, sizeof(double)), 0, 0, 0, 0};
}

/* Segment lines, then the whole video's; false when no frame counted. */
static bool accumulator_finish(accumulator *a)
{
    bool any = a->whole_frames > 0;
    if (a->segment > 0)
        flush_part(a);
    if (any)
        push_mean(a->out, a->file, 0, -1, a->whole, a->whole_frames);
    else
        a->out->blank_only++;
    free(a->whole);
    free(a->part);
    return any;
}

static int accumulate_row(void *user, int64_t frame_id, int64_t video_id, int64_t pts_ns, uint32_t flags,
                          const float *embedding)
{
    (void)frame_id, (void)video_id;
    accumulate(user, pts_ns, flags, embedding);
    return 0;
}

static void report_all_blank(const char *file)
{
    fprintf(stderr, "vkclip: %s: every sampled frame is blank (--keep-blank classifies them anyway)\n", file);
}

/* Means of the videos an archive holds (those named, or all). */
static int means_from_db(archive_db *db, const cli_options *o, mean_list *out)
{
    char err[1024];
    int status = 0;
    GPtrArray *paths = g_ptr_array_new_with_free_func(free);
    for (int i = 0; i < o->ninputs; i++) {
        char *real = realpath(o->inputs[i], NULL);
        g_ptr_array_add(paths, real ? real : strdup(o->inputs[i]));
    }
    if (o->ninputs == 0 && archive_db_video_paths(db, paths, err, sizeof err) != 0) {
        g_ptr_array_free(paths, TRUE);
        return cli_fail("%s", err);
    }
    for (guint i = 0; i < paths->len; i++) {
        const char *path = paths->pdata[i];
        archive_video v = {0};
        int got = archive_db_find_video(db, path, &v, err, sizeof err);
        if (got <= 0) {
            fprintf(stderr, "vkclip: %s: %s\n", path, got < 0 ? err : "not in the archive");
            status = 1;
            continue;
        }
        accumulator a;
        accumulator_start(&a, out, v.path, o);
        if (archive_db_each_frame(db, true, v.id, accumulate_row, &a, err, sizeof err) < 0)
            status = cli_fail("%s", err);
        if (!accumulator_finish(&a)) {
            report_all_blank(v.path);
            status = 1;
        }
        archive_video_clear(&v);
    }
    g_ptr_array_free(paths, TRUE);
    return status;
}

/* Means of video files, each through the clip element. */
static int means_from_files(const cli_options *o, mean_list *out, GstClipSharedModel **pinned)
{
    char err[1024] = "";
    if (!(*pinned = video_embed_start(o->model, o->device, o->threads, o->precision, err, sizeof err)))
        return cli_fail("%s", err);
    out->dim = vkclip_embedding_dim(gst_clip_shared_model_get(*pinned));
    video_embed_options eo = archive_embed_options(o, NULL, NULL);
    video_frames frames = {.dim = out->dim};
    int status = 0;
    for (int i = 0; i < o->ninputs; i++) {
        if (video_embed_file(o->inputs[i], &eo, &frames, err, sizeof err) != 0 || frames.n == 0) {
            fprintf(stderr, "vkclip: %s: %s; skipped\n", o->inputs[i], frames.n == 0 && !err[0] ? "no frame" : err);
            status = 1;
            err[0] = '\0';
            continue;
        }
        accumulator a;
        accumulator_start(&a, out, o->inputs[i], o);
        for (int64_t f = 0; f < frames.n; f++)
            accumulate(&a, frames.pts_ns[f], frames.flags[f], frames.embeddings + (size_t)f * (size_t)out->dim);
        if (!accumulator_finish(&a)) {
            report_all_blank(o->inputs[i]);
            status = 1;
        }
    }
    video_frames_clear(&frames);
    return status;
}

static int print_means(const vkclip_classifier *c, const cli_options *o, const mean_list *l)
{
    int n = vkclip_classifier_size(c), k = o->top_k ? o->top_k : 5, status = 0;
    float *probs = malloc((size_t)n * sizeof *probs);
    for (int i = 0; status == 0 && i < l->n; i++) {
        const clip_mean *m = &l->items[i];
        vkclip_classifier_probs(c, m->mean, probs);
        fputc('{', stdout);
        json_print_name(stdout, "file", m->file);
        if (m->end >= 0)
            printf(", \"start\": %.3f, \"end\": %.3f", m->start, m->end);
        printf(", \"frames\": %d, ", m->frames);
        status = cli_print_top_labels(c, probs, k);
        fputs("}\n", stdout);
    }
    free(probs);
    return status;
}

static void free_means(mean_list *l)
{
    for (int i = 0; i < l->n; i++) {
        free(l->items[i].file);
        free(l->items[i].mean);
    }
    free(l->items);
}

int cmd_classify_video(const cli_command *self, cli_options *o)
{
    int usage = cli_check_label_options(self, o);
    if (usage)
        return usage;
    if (!o->db && o->ninputs == 0)
        return cli_usage(self, "missing VIDEO (or --db DB)");
    cli_label_set ls;
    if (!cli_label_set_read(o, &ls))
        return 1;
    mean_list means = {0};
    archive_db *db = NULL;
    GstClipSharedModel *pinned = NULL;
    char *model_owned = NULL;
    int status = 0;
    if (o->db) {
        status = archive_open_for_reading(self, o, &db, &model_owned, &means.dim);
        if (status == 0)
            status = means_from_db(db, o, &means);
    } else {
        const char *dir = cli_model_dir(o);
        o->model = dir;
        status = dir ? means_from_files(o, &means, &pinned) : 1;
    }
    /* The classifier only once some video gave frames; on the model the
     * element used for files, else on one of its own. */
    if (means.n > 0) {
        cli_session s = {0};
        vkclip_model *model = pinned ? gst_clip_shared_model_get(pinned) : NULL;
        int run = 1;
        if (model || (cli_session_open(&s, o, true) && (model = s.model))) {
            vkclip_classifier *c = cli_classifier_build(model, o, &ls);
            run = c ? print_means(c, o, &means) : 1;
            vkclip_classifier_free(c);
        }
        if (!pinned)
            run = cli_session_close(&s, run);
        status = run ? run : status;
    }
    free_means(&means);
    if (pinned)
        gst_clip_models_release(pinned);
    archive_db_close(db);
    free(model_owned);
    cli_label_set_free(&ls);
    return status;
}
