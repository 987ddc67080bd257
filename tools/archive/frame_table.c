/* frame_table: an archive's frames in memory (see frame_table.h). */
#include "frame_table.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int collect_frame(void *user, int64_t frame_id, int64_t video_id, int64_t pts_ns, uint32_t flags,
                         const float *embedding)
{
    (void)frame_id;
    frame_table *t = user;
    if (t->n == t->cap) {
        int64_t cap = t->cap ? 2 * t->cap : 1024;
        int64_t *ids = realloc(t->ids, (size_t)cap * sizeof *ids);
        t->ids = ids ? ids : t->ids;
        int64_t *videos = realloc(t->videos, (size_t)cap * sizeof *videos);
        t->videos = videos ? videos : t->videos;
        int64_t *pts = realloc(t->pts, (size_t)cap * sizeof *pts);
        t->pts = pts ? pts : t->pts;
        uint32_t *flags_ = realloc(t->flags, (size_t)cap * sizeof *flags_);
        t->flags = flags_ ? flags_ : t->flags;
        float *vectors = realloc(t->vectors, (size_t)cap * (size_t)t->dim * sizeof *vectors);
        t->vectors = vectors ? vectors : t->vectors;
        if (!ids || !videos || !pts || !flags_ || !vectors)
            return cli_fail("out of memory");
        t->cap = cap;
    }
    t->ids[t->n] = t->n;
    t->videos[t->n] = video_id;
    t->pts[t->n] = pts_ns;
    t->flags[t->n] = flags;
    memcpy(t->vectors + (size_t)t->n * (size_t)t->dim, embedding, (size_t)t->dim * sizeof(float));
    t->n++;
    return 0;
}

int frame_table_load(frame_table *t, archive_db *db, int dim, bool keep_blank, int64_t video_id)
{
    memset(t, 0, sizeof *t);
    t->dim = dim;
    char err[1024];
    int status = archive_db_each_frame(db, keep_blank, video_id, collect_frame, t, err, sizeof err);
    if (status < 0)
        return cli_fail("%s", err);
    return status;
}

void frame_table_free(frame_table *t)
{
    free(t->ids);
    free(t->videos);
    free(t->pts);
    free(t->flags);
    free(t->vectors);
    memset(t, 0, sizeof *t);
}
