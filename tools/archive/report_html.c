/* report_html: the report page (see report_html.h). */
#include "report_html.h"

#include <glib.h>

#include "archive_db.h"

#define PLOT_WIDTH 900
#define PLOT_HEIGHT 320
#define MARGIN_LEFT 48
#define MARGIN_RIGHT 16
#define MARGIN_TOP 12
#define MARGIN_BOTTOM 36

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                      "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};
#define PALETTE_SIZE (sizeof palette / sizeof palette[0])

static const char style[] =
    "body{font:14px/1.4 sans-serif;margin:24px;color:#222}"
    "h1{font-size:20px;margin:0 0 4px}p.meta{color:#666;margin:0 0 16px}"
    "svg{background:#fff;border:1px solid #ddd}"
    ".legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:12px;height:12px;"
    "margin-right:4px;vertical-align:-1px}"
    ".moments{display:flex;flex-wrap:wrap;gap:12px}.moment{margin:0;border:1px solid #ddd;padding:6px}"
    ".moment img{display:block}#readout{color:#444;min-height:1.4em}";

/* Hover readout: the time under the pointer and each label's score there;
 * body[data-ready] says the script ran to its end. */
static const char script[] =
    "(function(){var svg=document.getElementById('plot');var out=document.getElementById('readout');"
    "var series=[].slice.call(svg.querySelectorAll('polyline.series'));"
    "svg.addEventListener('mousemove',function(e){var r=svg.getBoundingClientRect();"
    "var x=(e.clientX-r.left)*svg.viewBox.baseVal.width/r.width;var best=null;"
    "series.forEach(function(s){var pts=s.points;for(var i=0;i<pts.numberOfItems;i++){var p=pts.getItem(i);"
    "if(best===null||Math.abs(p.x-x)<Math.abs(best-x))best=p.x;}});if(best===null)return;"
    "var parts=series.map(function(s){var pts=s.points;for(var i=0;i<pts.numberOfItems;i++){var p=pts.getItem(i);"
    "if(p.x===best)return s.dataset.label+' '+s.dataset.scores.split(' ')[i];}return '';});"
    "out.textContent=parts.join('  ');});document.body.dataset.ready='1';})();";

static double time_of(const report_data *d, int i)
{
    return (double)d->pts_ns[i] / 1e9;
}

static int is_blank(const report_data *d, int i)
{
    return (d->flags[i] & ARCHIVE_FRAME_BLANK) != 0;
}

static double x_of(const report_data *d, double t)
{
    double span = d->duration > 0 ? d->duration : 1.0;
    return MARGIN_LEFT + (PLOT_WIDTH - MARGIN_LEFT - MARGIN_RIGHT) * t / span;
}

static double y_of(double score)
{
    return MARGIN_TOP + (PLOT_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM) * (1.0 - score);
}

static void write_escaped(FILE *f, const char *text)
{
    /* Paths need not be UTF-8; escaping wants valid UTF-8 (it copies the
     * bytes of a broken sequence as they are). */
    char *valid = g_utf8_make_valid(text, -1);
    char *e = g_markup_escape_text(valid, -1);
    fputs(e, f);
    g_free(e);
    g_free(valid);
}

static void write_axes(FILE *f, const report_data *d)
{
    fprintf(f, "<g class=\"axes\" stroke=\"#999\" fill=\"none\"><line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
               "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%.1f\"/></g>\n",
            MARGIN_LEFT, y_of(0), PLOT_WIDTH - MARGIN_RIGHT, y_of(0), MARGIN_LEFT, MARGIN_TOP, MARGIN_LEFT, y_of(0));
    fputs("<g class=\"ticks\" font-size=\"11\" fill=\"#666\">", f);
    for (int i = 0; i <= 4; i++)
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>", MARGIN_LEFT - 6, y_of(i / 4.0) + 4,
                i / 4.0);
    for (int i = 0; i <= 10; i++) {
        double t = d->duration * i / 10.0;
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.1f s</text>", x_of(d, t),
                PLOT_HEIGHT - MARGIN_BOTTOM + 18, t);
    }
    fputs("</g>\n", f);
}

/* Runs of blank frames, each reaching one interval past its last frame. */
static void write_blank_spans(FILE *f, const report_data *d, gboolean as_rects)
{
    for (int i = 0; i < d->nframes;) {
        if (!is_blank(d, i)) {
            i++;
            continue;
        }
        int j = i;
        while (j + 1 < d->nframes && is_blank(d, j + 1))
            j++;
        double start = time_of(d, i), end = time_of(d, j) + d->interval;
        if (d->duration > 0 && end > d->duration)
            end = d->duration;
        if (as_rects)
            fprintf(f, "<rect class=\"blank\" data-start=\"%.3f\" data-end=\"%.3f\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
                       "height=\"%.1f\" fill=\"#eee\"/>\n",
                    start, end, x_of(d, start), MARGIN_TOP, x_of(d, end) - x_of(d, start), y_of(0) - MARGIN_TOP);
        else
            fprintf(f, "<li class=\"blank-span\" data-start=\"%.3f\" data-end=\"%.3f\">%.2f s to %.2f s</li>\n", start,
                    end, start, end);
        i = j + 1;
    }
}

static void write_series(FILE *f, const report_data *d)
{
    for (int l = 0; l < d->nlabels; l++) {
        fputs("<polyline class=\"series\" data-label=\"", f);
        write_escaped(f, d->labels[l]);
        fprintf(f, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" data-times=\"", palette[l % PALETTE_SIZE]);
        const char *sep = "";
        for (int i = 0; i < d->nframes; i++)
            if (!is_blank(d, i)) {
                fprintf(f, "%s%.3f", sep, time_of(d, i));
                sep = " ";
            }
        fputs("\" data-scores=\"", f);
        sep = "";
        for (int i = 0; i < d->nframes; i++)
            if (!is_blank(d, i)) {
                fprintf(f, "%s%.6f", sep, d->scores[(size_t)i * (size_t)d->nlabels + (size_t)l]);
                sep = " ";
            }
        fputs("\" points=\"", f);
        sep = "";
        for (int i = 0; i < d->nframes; i++)
            if (!is_blank(d, i)) {
                fprintf(f, "%s%.1f,%.1f", sep, x_of(d, time_of(d, i)),
                        y_of(d->scores[(size_t)i * (size_t)d->nlabels + (size_t)l]));
                sep = " ";
            }
        fputs("\"/>\n", f);
    }
}

static void write_legend(FILE *f, const report_data *d)
{
    fputs("<p class=\"legend\">", f);
    for (int l = 0; l < d->nlabels; l++) {
        fprintf(f, "<span><i style=\"background:%s\"></i>", palette[l % PALETTE_SIZE]);
        write_escaped(f, d->labels[l]);
        fputs("</span>", f);
    }
    fputs("<span><i style=\"background:#eee\"></i>blank</span></p>\n", f);
}

static void write_moments(FILE *f, const report_data *d)
{
    fputs("<h2>Top moments</h2>\n<div class=\"moments\">\n", f);
    for (int m = 0; m < d->nmoments; m++) {
        const report_moment *mo = &d->moments[m];
        fputs("<figure class=\"moment\" data-label=\"", f);
        write_escaped(f, d->labels[mo->label]);
        fprintf(f, "\" data-time=\"%.3f\" data-score=\"%.6f\">", mo->time, mo->score);
        if (mo->jpeg_base64)
            fprintf(f, "<img alt=\"frame at %.2f s\" src=\"data:image/jpeg;base64,%s\">", mo->time, mo->jpeg_base64);
        fputs("<figcaption>", f);
        write_escaped(f, d->labels[mo->label]);
        fprintf(f, " %.3f at %.2f s</figcaption></figure>\n", mo->score, mo->time);
    }
    fputs("</div>\n", f);
}

int report_write_html(FILE *f, const report_data *d)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>vkclip report: ", f);
    write_escaped(f, d->video);
    fprintf(f, "</title><style>%s</style></head><body>\n<h1>", style);
    write_escaped(f, d->video);
    fprintf(f, "</h1>\n<p class=\"meta\">%.2f s, %d sampled frames; model ", d->duration, d->nframes);
    write_escaped(f, d->model);
    fputs("; scores: softmax over the labels</p>\n", f);
    write_legend(f, d);
    fprintf(f, "<svg id=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\">\n",
            PLOT_WIDTH, PLOT_HEIGHT, PLOT_WIDTH, PLOT_HEIGHT);
    write_blank_spans(f, d, TRUE);
    write_axes(f, d);
    write_series(f, d);
    fputs("</svg>\n<p id=\"readout\"></p>\n", f);
    write_moments(f, d);
    fputs("<h2>Blank spans</h2>\n<ul class=\"blank-spans\">\n", f);
    write_blank_spans(f, d, FALSE);
    fprintf(f, "</ul>\n<script>%s</script>\n</body></html>\n", script);
    return ferror(f) ? -1 : 0;
}
