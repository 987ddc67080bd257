/* cmd_dedup: vkclip dedup: near-duplicate frames and clips across an
 * archive, the CLIP paper's overlap detector: each frame's nearest
 * neighbours in other videos above a cosine threshold. Frames joined by
 * such pairs form groups; two videos whose frames mostly have duplicates in
 * each other are duplicate clips. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive_commands.h"
#include "archive_model.h"
#include "frame_table.h"
#include "vector_index.h"

#define DEFAULT_THRESHOLD 0.95
/* Neighbours looked at per frame: a frame duplicated more often than this
 * still joins all its copies through the groups. */
#define NEIGHBOURS 16
/* Two videos are duplicate clips when this share of the shorter one's
 * frames have a duplicate in the other. */
#define CLIP_COVERAGE 0.5

typedef struct frame_pair {
    int64_t a, b; /* rows, a < b */
    float score;
} frame_pair;

static int64_t find_root(int64_t *parent, int64_t i)
{
    while (parent[i] != i)
        i = parent[i] = parent[parent[i]];
    return i;
}

static int by_rows(const void *x, const void *y)
{
    const frame_pair *p = x, *q = y;
    if (p->a != q->a)
        return p->a < q->a ? -1 : 1;
    return (p->b > q->b) - (p->b < q->b);
}

/* Pairs of frames of different videos scoring at least threshold, each
 * once (a pair is often found from both of its frames). */
static int find_pairs(const frame_table *t, double threshold, GArray *pairs)
{
    char err[512];
    vector_index *index = vector_index_new(VECTOR_INDEX_EXACT, t->dim, 0, err, sizeof err);
    if (!index || vector_index_add(index, t->vectors, t->ids, t->n, err, sizeof err) != 0) {
        vector_index_free(index);
        return cli_fail("%s", err);
    }
    int k = t->n < NEIGHBOURS + 1 ? (int)t->n : NEIGHBOURS + 1;
    float *scores = malloc((size_t)t->n * (size_t)k * sizeof *scores);
    int64_t *rows = malloc((size_t)t->n * (size_t)k * sizeof *rows);
    int status = vector_index_search(index, t->vectors, t->n, k, 0, scores, rows, err, sizeof err);
    if (status != 0)
        status = cli_fail("%s", err);
    for (int64_t i = 0; status == 0 && i < t->n; i++)
        for (int j = 0; j < k; j++) {
            int64_t other = rows[(size_t)i * (size_t)k + (size_t)j];
            float score = scores[(size_t)i * (size_t)k + (size_t)j];
            if (other < 0 || score < threshold || t->videos[other] == t->videos[i])
                continue;
            frame_pair p = {i < other ? i : other, i < other ? other : i, score};
            g_array_append_val(pairs, p);
        }
    free(scores);
    free(rows);
    vector_index_free(index);
    g_array_sort(pairs, by_rows);
    guint kept = 0;
    for (guint i = 0; i < pairs->len; i++) {
        frame_pair *p = &g_array_index(pairs, frame_pair, i);
        if (kept && by_rows(p, &g_array_index(pairs, frame_pair, kept - 1)) == 0)
            continue;
        g_array_index(pairs, frame_pair, kept++) = *p;
    }
    g_array_set_size(pairs, kept);
    return status;
}

/* A video's path, looked up once. */
static const char *video_path(archive_db *db, GHashTable *paths, int64_t video)
{
    const char *path = g_hash_table_lookup(paths, &video);
    if (path)
        return path;
    char err[512];
    archive_video v = {0};
    char *found = archive_db_get_video(db, video, &v, err, sizeof err) == 1 ? g_strdup(v.path) : g_strdup("?");
    archive_video_clear(&v);
    g_hash_table_insert(paths, g_memdup2(&video, sizeof video), found);
    return found;
}

typedef struct clip_match {
    int64_t lo, hi;         /* videos, lo < hi */
    GHashTable *lo_frames, *hi_frames; /* rows with a duplicate in the other */
    double score_sum;
    int pairs;
} clip_match;

static void free_clip_match(gpointer p)
{
    clip_match *m = p;
    g_hash_table_destroy(m->lo_frames);
    g_hash_table_destroy(m->hi_frames);
    g_free(m);
}

static gint64 *int64_key(int64_t v)
{
    return g_memdup2(&v, sizeof v);
}

static void print_clips(archive_db *db, const frame_table *t, const GArray *pairs, GHashTable *paths)
{
    GHashTable *per_video = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    for (int64_t i = 0; i < t->n; i++) {
        int64_t *count = g_hash_table_lookup(per_video, &t->videos[i]);
        if (!count)
            g_hash_table_insert(per_video, int64_key(t->videos[i]), count = g_new0(int64_t, 1));
        (*count)++;
    }
    /* key: lo * 2^32 + hi would overflow for big ids; a string key is simple */
    GHashTable *matches = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, free_clip_match);
    for (guint i = 0; i < pairs->len; i++) {
        const frame_pair *p = &g_array_index(pairs, frame_pair, i);
        int64_t va = t->videos[p->a], vb = t->videos[p->b];
        int64_t lo = va < vb ? va : vb, hi = va < vb ? vb : va;
        char *key = g_strdup_printf("%" G_GINT64_FORMAT " %" G_GINT64_FORMAT, lo, hi);
        clip_match *m = g_hash_table_lookup(matches, key);
        if (!m) {
            m = g_new0(clip_match, 1);
            *m = (clip_match){lo, hi, g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL),
                              g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL), 0, 0};
            g_hash_table_insert(matches, key, m);
        } else {
            g_free(key);
        }
        int64_t lo_row = va == lo ? p->a : p->b, hi_row = va == lo ? p->b : p->a;
        g_hash_table_add(m->lo_frames, int64_key(lo_row));
        g_hash_table_add(m->hi_frames, int64_key(hi_row));
        m->score_sum += p->score;
        m->pairs++;
    }
    GList *all = g_hash_table_get_values(matches);
    for (GList *l = all; l; l = l->next) {
        clip_match *m = l->data;
        int64_t n_lo = *(int64_t *)g_hash_table_lookup(per_video, &m->lo);
        int64_t n_hi = *(int64_t *)g_hash_table_lookup(per_video, &m->hi);
        double c_lo = (double)g_hash_table_size(m->lo_frames) / (double)n_lo;
        double c_hi = (double)g_hash_table_size(m->hi_frames) / (double)n_hi;
        double coverage = n_lo <= n_hi ? c_lo : c_hi; /* of the shorter video */
        if (coverage < CLIP_COVERAGE)
            continue;
        fputs("{\"kind\": \"clip\", \"videos\": [", stdout);
        json_print_string(stdout, video_path(db, paths, m->lo));
        fputs(", ", stdout);
        json_print_string(stdout, video_path(db, paths, m->hi));
        printf("], \"coverage\": %.4f, \"score\": %.6f, \"pairs\": %d}\n", coverage, m->score_sum / m->pairs,
               m->pairs);
    }
    g_list_free(all);
    g_hash_table_destroy(matches);
    g_hash_table_destroy(per_video);
}

typedef struct frame_group {
    int64_t root;
    float score; /* the lowest pair score that joined it */
    GArray *rows;
} frame_group;

static int by_group_score(gconstpointer x, gconstpointer y)
{
    const frame_group *a = x, *b = y;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return (a->root > b->root) - (a->root < b->root);
}

static void print_groups(archive_db *db, const frame_table *t, const GArray *pairs, GHashTable *paths)
{
    int64_t *parent = malloc((size_t)t->n * sizeof *parent);
    float *low = malloc((size_t)t->n * sizeof *low);
    for (int64_t i = 0; i < t->n; i++)
        parent[i] = i, low[i] = 2.0f;
    for (guint i = 0; i < pairs->len; i++) {
        const frame_pair *p = &g_array_index(pairs, frame_pair, i);
        int64_t ra = find_root(parent, p->a), rb = find_root(parent, p->b);
        float l = MIN(MIN(low[ra], low[rb]), p->score);
        if (ra != rb)
            parent[rb] = ra;
        low[ra] = l;
    }
    GHashTable *by_root = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    GArray *groups = g_array_new(FALSE, FALSE, sizeof(frame_group));
    for (int64_t i = 0; i < t->n; i++) {
        int64_t r = find_root(parent, i);
        if (low[r] > 1.5f) /* never joined */
            continue;
        gpointer at = g_hash_table_lookup(by_root, &r);
        if (!at) {
            frame_group g = {r, low[r], g_array_new(FALSE, FALSE, sizeof(int64_t))};
            g_array_append_val(groups, g);
            g_hash_table_insert(by_root, int64_key(r), GUINT_TO_POINTER(groups->len));
            at = GUINT_TO_POINTER(groups->len);
        }
        g_array_append_val(g_array_index(groups, frame_group, GPOINTER_TO_UINT(at) - 1).rows, i);
    }
    g_array_sort(groups, by_group_score);
    for (guint i = 0; i < groups->len && !cli_stdout_failed(); i++) {
        frame_group *g = &g_array_index(groups, frame_group, i);
        printf("{\"kind\": \"frames\", \"score\": %.6f, \"frames\": [", g->score);
        for (guint j = 0; j < g->rows->len; j++) {
            int64_t row = g_array_index(g->rows, int64_t, j);
            fputs(j ? ", {\"video\": " : "{\"video\": ", stdout);
            json_print_string(stdout, video_path(db, paths, t->videos[row]));
            printf(", \"time\": %.3f}", (double)t->pts[row] / 1e9);
        }
        fputs("]}\n", stdout);
    }
    for (guint i = 0; i < groups->len; i++)
        g_array_free(g_array_index(groups, frame_group, i).rows, TRUE);
    g_array_free(groups, TRUE);
    g_hash_table_destroy(by_root);
    free(parent);
    free(low);
}

int cmd_dedup(const cli_command *self, cli_options *o)
{
    if (!o->db)
        return cli_usage(self, "missing --db DB");
    archive_db *db;
    char *model_owned;
    int dim;
    int status = archive_open_for_reading(self, o, &db, &model_owned, &dim);
    if (status != 0)
        return status;
    frame_table t;
    GArray *pairs = g_array_new(FALSE, FALSE, sizeof(frame_pair));
    status = frame_table_load(&t, db, dim, o->keep_blank, ARCHIVE_ALL_VIDEOS);
    if (status == 0 && t.n > 1)
        status = find_pairs(&t, o->threshold > 0 ? o->threshold : DEFAULT_THRESHOLD, pairs);
    if (status == 0) {
        GHashTable *paths = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
        print_clips(db, &t, pairs, paths);
        print_groups(db, &t, pairs, paths);
        g_hash_table_destroy(paths);
        if (cli_stdout_failed())
            status = CLI_STDOUT_FAILED;
    }
    g_array_free(pairs, TRUE);
    frame_table_free(&t);
    archive_db_close(db);
    free(model_owned);
    return status;
}
