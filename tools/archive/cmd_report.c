/* cmd_report: vkclip report: one self-contained HTML page about an indexed
 * video: its labels' scores over time, their best moments with pictures,
 * its blank spans (report_html.c writes the page). */
#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive_commands.h"
#include "archive_model.h"
#include "report_html.h"
#include "thumbnail.h"
#include "video_embed.h"

#define DEFAULT_MOMENTS 10
#define THUMBNAIL_WIDTH 192

typedef struct video_rows {
    int dim, n, cap;
    double *times;
    int *blank;
    float *embeddings;
    int64_t *pts;
} video_rows;

static int keep_row(void *user, int64_t frame_id, int64_t video_id, int64_t pts_ns, uint32_t flags,
                    const float *embedding)
{
    (void)frame_id, (void)video_id;
    video_rows *r = user;
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 256;
        double *times = realloc(r->times, (size_t)cap * sizeof *times);
        r->times = times ? times : r->times;
        int *blank = realloc(r->blank, (size_t)cap * sizeof *blank);
        r->blank = blank ? blank : r->blank;
        int64_t *pts = realloc(r->pts, (size_t)cap * sizeof *pts);
        r->pts = pts ? pts : r->pts;
        float *embeddings = realloc(r->embeddings, (size_t)cap * (size_t)r->dim * sizeof *embeddings);
        r->embeddings = embeddings ? embeddings : r->embeddings;
        if (!times || !blank || !pts || !embeddings)
            return cli_fail("out of memory");
        r->cap = cap;
    }
    r->times[r->n] = (double)pts_ns / 1e9;
    r->pts[r->n] = pts_ns;
    r->blank[r->n] = (flags & ARCHIVE_FRAME_BLANK) != 0;
    memcpy(r->embeddings + (size_t)r->n * (size_t)r->dim, embedding, (size_t)r->dim * sizeof(float));
    r->n++;
    return 0;
}

static int by_score(const void *a, const void *b)
{
    const report_moment *x = a, *y = b;
    return (x->score < y->score) - (x->score > y->score);
}

/* Each label's best non-blank frame, best first, at most max. */
static int best_moments(const video_rows *r, const float *scores, int nlabels, int max, report_moment *out)
{
    int n = 0;
    for (int l = 0; l < nlabels; l++) {
        int best = -1;
        for (int i = 0; i < r->n; i++)
            if (!r->blank[i] && (best < 0 || scores[(size_t)i * nlabels + l] > scores[(size_t)best * nlabels + l]))
                best = i;
        if (best >= 0)
            out[n++] = (report_moment){l, r->times[best], scores[(size_t)best * nlabels + l], NULL};
    }
    qsort(out, (size_t)n, sizeof *out, by_score);
    return n < max ? n : max;
}

/* Writes the page to a temporary file beside out, then renames it: a
 * failed run never leaves half a page. */
static int write_page(const char *out, const report_data *d)
{
    char *tmp = g_strdup_printf("%s.tmp%d", out, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        int status = cli_fail("%s: %s", out, strerror(errno));
        g_free(tmp);
        return status;
    }
    int written = report_write_html(f, d);
    int closed = fclose(f);
    int status = 0;
    if (written != 0 || closed != 0 || rename(tmp, out) != 0) {
        status = cli_fail("%s: %s", out, strerror(errno));
        remove(tmp);
    }
    g_free(tmp);
    return status;
}

static int make_report(const cli_command *self, cli_options *o, archive_db *db, const cli_label_set *ls, int dim)
{
    char err[1024];
    char *real = realpath(o->inputs[0], NULL);
    archive_video v = {0};
    int found = archive_db_find_video(db, real ? real : o->inputs[0], &v, err, sizeof err);
    free(real);
    if (found <= 0)
        return found < 0 ? cli_fail("%s", err) : cli_fail("%s: not in the archive %s", o->inputs[0], o->db);
    video_rows rows = {.dim = dim};
    int walked = archive_db_each_frame(db, true, v.id, keep_row, &rows, err, sizeof err);
    int status = walked < 0 ? cli_fail("%s", err) : walked;
    cli_session s = {0};
    vkclip_classifier *c = NULL;
    if (status == 0 && !(cli_session_open(&s, o, true) && (c = cli_classifier_build(s.model, o, ls))))
        status = 1;
    float *scores = NULL;
    report_moment *moments = NULL;
    int nmoments = 0;
    if (status == 0) {
        scores = malloc((size_t)rows.n * (size_t)ls->nlabels * sizeof *scores + 1);
        for (int i = 0; i < rows.n; i++)
            vkclip_classifier_probs(c, rows.embeddings + (size_t)i * (size_t)dim, scores + (size_t)i * ls->nlabels);
        moments = calloc((size_t)ls->nlabels, sizeof *moments);
        nmoments = best_moments(&rows, scores, ls->nlabels, o->top > 0 ? o->top : DEFAULT_MOMENTS, moments);
    }
    char **pictures = calloc((size_t)nmoments + 1, sizeof *pictures);
    if (status == 0 && nmoments > 0) {
        int64_t *at = malloc((size_t)nmoments * sizeof *at);
        for (int m = 0; m < nmoments; m++)
            at[m] = (int64_t)(moments[m].time * 1e9 + 0.5);
        if (video_embed_init(err, sizeof err) != 0 ||
            thumbnails_grab(v.path, at, nmoments, THUMBNAIL_WIDTH, pictures, err, sizeof err) != 0)
            fprintf(stderr, "vkclip: %s: no pictures in the report: %s\n", v.path, err);
        for (int m = 0; m < nmoments; m++)
            moments[m].jpeg_base64 = pictures[m];
        free(at);
    }
    if (status == 0) {
        double duration = v.duration_ns > 0 ? (double)v.duration_ns / 1e9
                          : rows.n ? rows.times[rows.n - 1] + 1.0 / v.sample_fps : 0.0;
        report_data d = {v.path, o->model, duration, 1.0 / v.sample_fps, rows.n, rows.times, rows.blank,
                         ls->nlabels, (const char *const *)ls->labels, scores, nmoments, moments};
        status = write_page(o->out, &d);
    }
    for (int m = 0; m < nmoments; m++)
        g_free(pictures[m]);
    free(pictures);
    free(moments);
    free(scores);
    vkclip_classifier_free(c);
    if (s.dev)
        status = cli_session_close(&s, status);
    free(rows.times);
    free(rows.blank);
    free(rows.pts);
    free(rows.embeddings);
    archive_video_clear(&v);
    (void)self;
    return status;
}

int cmd_report(const cli_command *self, cli_options *o)
{
    if (!o->db)
        return cli_usage(self, "missing --db DB");
    if (!o->out)
        return cli_usage(self, "missing -o FILE.html");
    int usage = cli_check_label_options(self, o);
    if (usage)
        return usage;
    cli_label_set ls;
    if (!cli_label_set_read(o, &ls))
        return 1;
    archive_db *db;
    char *model_owned;
    int dim;
    int status = archive_open_for_reading(self, o, &db, &model_owned, &dim);
    if (status == 0)
        status = make_report(self, o, db, &ls, dim);
    archive_db_close(db);
    free(model_owned);
    cli_label_set_free(&ls);
    return status;
}
