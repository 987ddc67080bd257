/* frame_table: an archive's frames in memory (video, timestamp, flags,
 * embedding), for the commands that compare all of them (search, dedup) or
 * show one video's (report). */
#ifndef VKCLIP_FRAME_TABLE_H
#define VKCLIP_FRAME_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "archive_db.h"

typedef struct frame_table {
    int dim;
    int64_t n, cap;
    int64_t *ids; /* row numbers here, 0..n-1: the vector index's ids */
    int64_t *videos, *pts;
    uint32_t *flags; /* ARCHIVE_FRAME_* */
    float *vectors;  /* n x dim */
} frame_table;

/* The frames of one video (or of ARCHIVE_ALL_VIDEOS), blank ones too when
 * keep_blank, in video then time order. Returns 0, or 1 after printing the
 * problem. */
int frame_table_load(frame_table *t, archive_db *db, int dim, bool keep_blank, int64_t video_id);
void frame_table_free(frame_table *t);

#endif
