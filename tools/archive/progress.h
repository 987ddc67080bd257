/* progress: the indexer's progress on stderr. On a terminal one line
 * redrawn in place (files, frames, frames/s, ETA); otherwise a plain line
 * every PROGRESS_LINE_SECONDS, which logs can keep. */
#ifndef VKCLIP_PROGRESS_H
#define VKCLIP_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define PROGRESS_LINE_SECONDS 10.0

typedef struct progress {
    FILE *out;
    bool terminal;
    int files_total, files_done;
    int64_t bytes_total, bytes_done; /* of the files to index; the current one by its position */
    int64_t frames;
    double start, last_draw;
    bool drawn; /* a terminal line is showing */
} progress;

void progress_start(progress *p, FILE *out, int files_total, int64_t bytes_total);
/* The current file is at fraction (0-1) of its bytes size; frames so far
 * in all files. */
void progress_update(progress *p, const char *name, int64_t file_bytes, double fraction, int64_t frames);
/* The current file is finished (or skipped): its bytes count as done. */
void progress_file_done(progress *p, int64_t file_bytes, int64_t frames);
/* Clears the terminal line so that a message can be printed. */
void progress_clear(progress *p);
void progress_finish(progress *p);

#endif
