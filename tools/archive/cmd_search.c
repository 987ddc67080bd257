/* cmd_search: vkclip search: the moments of an archive that best match a
 * text or an example image (see README, "Archives"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_commands.h"
#include "archive_db.h"
#include "approx_index.h"
#include "archive_model.h"
#include "frame_table.h"
#include "segments.h"
#include "vector_index.h"

#define DEFAULT_TOP 10
/* Frames fetched per moment asked for: a moment is often several frames. */
#define FRAMES_PER_MOMENT 20
#define MIN_FRAMES_FETCHED 100

/* The query's normalised embedding, from the text operand or --image. */
static int embed_query(cli_session *s, const cli_options *o, float *q)
{
    vkclip_error err;
    if (!o->image) {
        if (vkclip_encode_texts(s->model, o->inputs, 1, q, true, &err) != 0)
            return cli_fail("%s", err.message);
        return 0;
    }
    cli_images images;
    int unreadable = 0;
    if (!cli_images_load(&images, &o->image, 1, &unreadable))
        return 1;
    int status = 0;
    if (images.count != 1)
        status = 1; /* reported by cli_images_load */
    else if (vkclip_encode_images(s->model, images.frames, 1, q, true, &err) != 0)
        status = cli_fail("%s: %s", o->image, err.message);
    cli_images_free(&images);
    return status;
}

static void print_segment(archive_db *db, const search_segment *seg, bool json)
{
    char err[512];
    archive_video v = {0};
    if (archive_db_get_video(db, seg->video, &v, err, sizeof err) != 1)
        return;
    double start = (double)seg->start_ns / 1e9, end = (double)seg->end_ns / 1e9;
    if (json) {
        fputc('{', stdout);
        json_print_name(stdout, "video", v.path);
        printf(", \"start\": %.3f, \"end\": %.3f, \"score\": %.6f, \"frames\": %d}\n", start, end, seg->score,
               seg->frames);
    } else {
        printf("%.4f  %8.2f-%-8.2f  %s\n", seg->score, start, end, v.path);
    }
    archive_video_clear(&v);
}

/* The video's sampling interval and duration, for each hit; a video's row
 * is read once however many of its frames are hits. */
static int describe_hits(archive_db *db, search_hit *hits, int n, char *err, size_t cap)
{
    for (int i = 0; i < n; i++) {
        int seen = 0;
        while (seen < i && hits[seen].video != hits[i].video)
            seen++;
        if (seen < i) {
            hits[i].interval_ns = hits[seen].interval_ns;
            hits[i].duration_ns = hits[seen].duration_ns;
            continue;
        }
        archive_video v = {0};
        int got = archive_db_get_video(db, hits[i].video, &v, err, cap);
        if (got == 0) /* re-indexed meanwhile by another indexer */
            snprintf(err, cap, "%s: the archive changed during the search; search again", archive_db_path(db));
        if (got != 1)
            return -1;
        hits[i].interval_ns = (int64_t)(1e9 / v.sample_fps + 0.5);
        hits[i].duration_ns = v.duration_ns;
        archive_video_clear(&v);
    }
    return 0;
}

/* The best k frames of the whole archive, every one compared. */
static int exact_hits(archive_db *db, int dim, bool keep_blank, const float *q, int64_t k, search_hit *hits,
                      int *nhits)
{
    char err[1024];
    frame_table t;
    int status = frame_table_load(&t, db, dim, keep_blank, ARCHIVE_ALL_VIDEOS);
    vector_index *index = NULL;
    if (status == 0 && !(index = vector_index_new(VECTOR_INDEX_EXACT, dim, 0, err, sizeof err)))
        status = cli_fail("%s", err);
    if (status == 0 && t.n > 0 && vector_index_add(index, t.vectors, t.ids, t.n, err, sizeof err) != 0)
        status = cli_fail("%s", err);
    if (k > t.n)
        k = t.n;
    float *scores = malloc((size_t)(k ? k : 1) * sizeof *scores);
    int64_t *rows = malloc((size_t)(k ? k : 1) * sizeof *rows);
    if (status == 0 && k > 0 && vector_index_search(index, q, 1, (int)k, 0, scores, rows, err, sizeof err) != 0)
        status = cli_fail("%s", err);
    *nhits = 0;
    for (int64_t i = 0; status == 0 && i < k; i++)
        if (rows[i] >= 0)
            hits[(*nhits)++] = (search_hit){t.videos[rows[i]], t.pts[rows[i]], scores[i], 0, -1};
    free(scores);
    free(rows);
    vector_index_free(index);
    frame_table_free(&t);
    return status;
}

/* The (about) best k frames, from the cached approximate index. */
static int approximate_hits(archive_db *db, int dim, bool keep_blank, const float *q, int64_t k, search_hit *hits,
                            int *nhits)
{
    char err[1024] = "";
    bool built = false;
    vector_index *index = approx_index_open(db, dim, keep_blank, &built, err, sizeof err);
    *nhits = 0;
    if (!index)
        return err[0] ? cli_fail("%s", err) : 0; /* no frames: nothing found */
    if (built)
        fprintf(stderr, "vkclip: built the approximate search index of %lld frames\n",
                (long long)vector_index_size(index));
    float *scores = malloc((size_t)k * sizeof *scores);
    int64_t *ids = malloc((size_t)k * sizeof *ids);
    int status = vector_index_search(index, q, 1, (int)k, APPROX_NPROBE, scores, ids, err, sizeof err) != 0
                     ? cli_fail("%s", err)
                     : 0;
    for (int64_t i = 0; status == 0 && i < k; i++) {
        if (ids[i] < 0)
            continue;
        search_hit *h = &hits[*nhits];
        if (archive_db_frame(db, ids[i], &h->video, &h->pts_ns, err, sizeof err) != 0)
            status = cli_fail("%s", err);
        h->score = scores[i];
        (*nhits)++;
    }
    free(scores);
    free(ids);
    vector_index_free(index);
    return status;
}

static int search(archive_db *db, cli_session *s, cli_options *o)
{
    char err[1024] = "";
    int dim = vkclip_embedding_dim(s->model);
    float *q = malloc((size_t)dim * sizeof *q);
    int status = embed_query(s, o, q);
    int top = o->top > 0 ? o->top : DEFAULT_TOP;
    int64_t k = (int64_t)top * FRAMES_PER_MOMENT, count = 0;
    if (k < MIN_FRAMES_FETCHED)
        k = MIN_FRAMES_FETCHED;
    if (status == 0 && archive_db_count_frames(db, o->keep_blank, &count, err, sizeof err) != 0)
        status = cli_fail("%s", err);
    bool approximate = o->approximate || (!o->exact && count >= APPROX_FROM_FRAMES);
    search_hit *hits = malloc((size_t)k * sizeof *hits);
    search_segment *segments = malloc((size_t)k * sizeof *segments);
    int nhits = 0;
    if (status == 0)
        status = approximate ? approximate_hits(db, dim, o->keep_blank, q, k, hits, &nhits)
                             : exact_hits(db, dim, o->keep_blank, q, k, hits, &nhits);
    if (status == 0 && describe_hits(db, hits, nhits, err, sizeof err) != 0)
        status = cli_fail("%s", err);
    if (status == 0) {
        int n = merge_hits(hits, nhits, segments);
        for (int i = 0; i < n && i < top && !cli_stdout_failed(); i++)
            print_segment(db, &segments[i], o->json);
        if (cli_stdout_failed())
            status = CLI_STDOUT_FAILED;
    }
    free(segments);
    free(hits);
    free(q);
    return status;
}

int cmd_search(const cli_command *self, cli_options *o)
{
    if (!o->db)
        return cli_usage(self, "missing --db DB");
    if (o->approximate && o->exact)
        return cli_usage(self, "--approximate and --exact: give one of them, not both");
    if (o->image ? o->ninputs > 0 : o->ninputs != 1)
        return cli_usage(self, o->image ? "give a TEXT or --image FILE, not both" : "give one TEXT (or --image FILE)");
    archive_db *db;
    char *model_owned;
    int dim;
    int status = archive_open_for_reading(self, o, &db, &model_owned, &dim);
    cli_session s = {0};
    if (status == 0 && !cli_session_open(&s, o, true))
        status = 1;
    if (status == 0)
        status = search(db, &s, o);
    if (s.dev)
        status = cli_session_close(&s, status);
    archive_db_close(db);
    free(model_owned);
    return status;
}
