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
#include "frame_table.h"
#include "report_html.h"
#include "thumbnail.h"
#include "video_embed.h"

#define DEFAULT_MOMENTS 10
#define THUMBNAIL_WIDTH 192

static int by_score(const void *a, const void *b)
{
    const report_moment *x = a, *y = b;
    return (x->score < y->score) - (x->score > y->score);
}

/* Each label's best non-blank frame, best first, at most max. */
static int best_moments(const frame_table *t, const float *scores, int nlabels, int max, report_moment *out)
{
    int n = 0;
    for (int l = 0; l < nlabels; l++) {
        int64_t best = -1;
        for (int64_t i = 0; i < t->n; i++)
            if (!(t->flags[i] & ARCHIVE_FRAME_BLANK) &&
                (best < 0 || scores[(size_t)i * nlabels + l] > scores[(size_t)best * nlabels + l]))
                best = i;
        if (best >= 0)
            out[n++] = (report_moment){l, (double)t->pts[best] / 1e9, scores[(size_t)best * nlabels + l], NULL};
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

static int make_report(cli_options *o, archive_db *db, const cli_label_set *ls, int dim)
{
    char err[1024];
    char *real = realpath(o->inputs[0], NULL);
    archive_video v = {0};
    int found = archive_db_find_video(db, real ? real : o->inputs[0], &v, err, sizeof err);
    free(real);
    if (found <= 0)
        return found < 0 ? cli_fail("%s", err) : cli_fail("%s: not in the archive %s", o->inputs[0], o->db);
    frame_table rows;
    int status = frame_table_load(&rows, db, dim, true, v.id);
    cli_session s = {0};
    vkclip_classifier *c = NULL;
    if (status == 0 && !(cli_session_open(&s, o, true) && (c = cli_classifier_build(s.model, o, ls))))
        status = 1;
    float *scores = NULL;
    report_moment *moments = NULL;
    int nmoments = 0;
    if (status == 0) {
        scores = malloc((size_t)rows.n * (size_t)ls->nlabels * sizeof *scores + 1);
        for (int64_t i = 0; i < rows.n; i++)
            vkclip_classifier_probs(c, rows.vectors + (size_t)i * (size_t)dim, scores + (size_t)i * ls->nlabels);
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
                          : rows.n ? (double)rows.pts[rows.n - 1] / 1e9 + 1.0 / v.sample_fps : 0.0;
        report_data d = {v.path, o->model, duration, 1.0 / v.sample_fps, (int)rows.n, rows.pts, rows.flags,
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
    frame_table_free(&rows);
    archive_video_clear(&v);
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
        status = make_report(o, db, &ls, dim);
    archive_db_close(db);
    free(model_owned);
    cli_label_set_free(&ls);
    return status;
}
