/* report_html: one self-contained HTML page about a video of an archive:
 * each label's score over time as an SVG plot (blank spans shaded), the best
 * moment of each label with its picture, and the blank spans listed. No
 * network: pictures are data: URLs, the plot is inline SVG, the script is
 * inline. The page's elements carry data- attributes (label, time, score)
 * so that tests and scripts can read what it shows. */
#ifndef VKCLIP_REPORT_HTML_H
#define VKCLIP_REPORT_HTML_H

#include <stdint.h>
#include <stdio.h>

typedef struct report_moment {
    int label;
    double time, score;
    const char *jpeg_base64; /* NULL: no picture */
} report_moment;

typedef struct report_data {
    const char *video, *model;
    double duration;   /* seconds */
    double interval;   /* seconds between sampled frames */
    int nframes;
    const int64_t *pts_ns;  /* nframes */
    const uint32_t *flags;  /* nframes: ARCHIVE_FRAME_* */
    int nlabels;
    const char *const *labels;
    const float *scores;  /* nframes x nlabels: softmax over the labels (blank frames: unused) */
    int nmoments;
    const report_moment *moments;
} report_data;

/* Returns 0, or -1 when writing failed. */
int report_write_html(FILE *f, const report_data *d);

#endif
