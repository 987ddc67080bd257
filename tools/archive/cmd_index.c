/* cmd_index: vkclip index: video files and folders into an archive's
 * database, through the clip element (see README, "Archives"). */
#include <dirent.h>
#include <errno.h>
#include <glib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive_commands.h"
#include "archive_db.h"
#include "archive_model.h"
#include "gstclipmodels.h"
#include "progress.h"
#include "video_embed.h"

/* A file another indexer holds is looked at again after this long. */
#define CLAIM_RETRY_US (500 * 1000)

typedef struct input_file {
    char *path; /* absolute, symlinks resolved */
    int64_t size, mtime_ns;
} input_file;

typedef struct file_list {
    input_file *items;
    int n, cap;
} file_list;

static void add_file(file_list *l, const char *path, const struct stat *st)
{
    char *real = realpath(path, NULL);
    if (!real)
        return;
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->items[i].path, real) == 0) { /* named twice */
            free(real);
            return;
        }
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->items = realloc(l->items, (size_t)l->cap * sizeof *l->items);
    }
    l->items[l->n++] = (input_file){real, st->st_size, (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec};
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The database itself, its SQLite companions and its cached index. */
static bool is_database_file(const char *path, const char *db_path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal", ".ivf", ".all.ivf"};
    size_t n = strlen(db_path);
    if (strncmp(path, db_path, n) != 0)
        return false;
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
        if (strcmp(path + n, suffixes[i]) == 0)
            return true;
    return false;
}

/* A folder's regular files, recursively, in name order; hidden entries and
 * the database's own files are passed by. */
static void add_folder(file_list *l, const char *dir, const char *db_path, int *unreadable)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "vkclip: %s: %s\n", dir, strerror(errno));
        (*unreadable)++;
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap)
            names = realloc(names, (cap = cap ? 2 * cap : 32) * sizeof *names);
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, compare_names);
    for (size_t i = 0; i < n; i++) {
        char *path = g_build_filename(dir, names[i], NULL);
        struct stat st, link;
        /* Linked folders are not followed: a link to a parent would loop. */
        bool linked_dir = lstat(path, &link) == 0 && S_ISLNK(link.st_mode);
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode) && !linked_dir)
            add_folder(l, path, db_path, unreadable);
        else if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && !is_database_file(path, db_path))
            add_file(l, path, &st);
        g_free(path);
        free(names[i]);
    }
    free(names);
}

static void free_files(file_list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->items[i].path);
    free(l->items);
}

/* SHA-256 of a file's bytes. */
static int hash_file(const char *path, char out[65], char *err, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, cap, "%s", strerror(errno));
        return -1;
    }
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    guint8 *buf = g_malloc(1 << 20);
    for (size_t got; (got = fread(buf, 1, 1 << 20, f)) > 0;)
        g_checksum_update(sum, buf, got);
    int status = ferror(f) ? -1 : 0;
    if (status)
        snprintf(err, cap, "read error");
    else
        g_strlcpy(out, g_checksum_get_string(sum), 65);
    g_free(buf);
    g_checksum_free(sum);
    fclose(f);
    return status;
}

typedef struct index_run {
    const cli_options *o;
    archive_db *db;
    video_embed_options embed;
    video_frames frames;
    progress bar;
    const input_file *current;
    int64_t frames_before; /* frames of the files finished */
    int failed;
} index_run;

static void on_progress(void *user, int64_t position_ns, int64_t duration_ns, int64_t frames)
{
    index_run *r = user;
    double fraction = duration_ns > 0 && position_ns >= 0 ? (double)position_ns / (double)duration_ns : 0.0;
    const char *name = strrchr(r->current->path, '/');
    progress_update(&r->bar, name ? name + 1 : r->current->path, r->current->size, fraction,
                    r->frames_before + frames);
}

static void print_result(index_run *r, const char *path, const char *status, int64_t frames, int64_t blank)
{
    progress_clear(&r->bar);
    fputs("{", stdout);
    json_print_name(stdout, "file", path);
    fputs(", ", stdout);
    json_print_name(stdout, "status", status);
    if (frames >= 0)
        printf(", \"frames\": %lld, \"blank\": %lld", (long long)frames, (long long)blank);
    fputs("}\n", stdout);
    fflush(stdout);
}

static void report_failure(index_run *r, const char *path, const char *why)
{
    progress_clear(&r->bar);
    fprintf(stderr, "vkclip: %s: %s; skipped\n", path, why);
    print_result(r, path, "failed", -1, -1);
    r->failed++;
}

/* 1 when the database already holds this file's current bytes at this
 * sampling rate (touching its size and mtime when only those changed). */
static int already_indexed(index_run *r, const input_file *f, char hash[65], char *err, size_t cap)
{
    archive_video v = {0};
    int found = archive_db_find_video(r->db, f->path, &v, err, cap);
    if (found <= 0)
        return found;
    int same = v.sample_fps == r->embed.fps;
    if (same && (v.size != f->size || v.mtime_ns != f->mtime_ns)) {
        same = hash_file(f->path, hash, err, cap) == 0 && strcmp(hash, v.hash) == 0;
        if (same && archive_db_touch_video(r->db, v.id, f->size, f->mtime_ns, err, cap) != 0)
            same = -1;
    }
    archive_video_clear(&v);
    return same;
}

/* Embeds and commits one file; 0 done, 1 another indexer holds it, -1
 * failed (reported). */
static int index_file(index_run *r, const input_file *f)
{
    char err[1024], hash[65] = "";
    int indexed = already_indexed(r, f, hash, err, sizeof err);
    if (indexed < 0) {
        report_failure(r, f->path, err);
        return -1;
    }
    if (indexed) {
        print_result(r, f->path, "unchanged", -1, -1);
        return 0;
    }
    int claimed = archive_db_claim(r->db, f->path, err, sizeof err);
    if (claimed <= 0) {
        if (claimed < 0)
            report_failure(r, f->path, err);
        return claimed < 0 ? -1 : 1;
    }
    int status = hash[0] ? 0 : hash_file(f->path, hash, err, sizeof err);
    r->current = f;
    if (status == 0)
        status = video_embed_file(f->path, &r->embed, &r->frames, err, sizeof err);
    if (status == 0 && r->frames.n == 0) {
        snprintf(err, sizeof err, "no frame decoded");
        status = -1;
    }
    if (status != 0) {
        char ignored[256];
        archive_db_release(r->db, f->path, ignored, sizeof ignored);
        report_failure(r, f->path, err);
        return -1;
    }
    archive_frame *rows = malloc((size_t)r->frames.n * sizeof *rows);
    int64_t blank = 0;
    for (int64_t i = 0; i < r->frames.n; i++) {
        rows[i] = (archive_frame){r->frames.pts_ns[i], r->frames.flags[i],
                                  r->frames.embeddings + (size_t)i * (size_t)r->frames.dim};
        blank += (r->frames.flags[i] & ARCHIVE_FRAME_BLANK) != 0;
    }
    archive_video v = {.path = f->path, .size = f->size, .mtime_ns = f->mtime_ns,
                       .duration_ns = r->frames.duration_ns, .sample_fps = r->embed.fps};
    memcpy(v.hash, hash, sizeof v.hash);
    status = archive_db_commit_video(r->db, &v, rows, r->frames.n, r->frames.dim, err, sizeof err);
    free(rows);
    if (status != 0) {
        char ignored[256];
        archive_db_release(r->db, f->path, ignored, sizeof ignored);
        report_failure(r, f->path, err);
        return -1;
    }
    r->frames_before += r->frames.n;
    print_result(r, f->path, "indexed", r->frames.n, blank);
    return 0;
}

static int64_t total_bytes(const file_list *l)
{
    int64_t sum = 0;
    for (int i = 0; i < l->n; i++)
        sum += l->items[i].size;
    return sum;
}

/* Every file once; those another indexer holds come back until it lets
 * them go (then they are found indexed, or taken over if it died). */
static void index_all(index_run *r, file_list *files)
{
    int pending = files->n;
    bool *done = calloc((size_t)files->n, sizeof *done);
    while (pending > 0 && !cli_stdout_failed()) {
        bool progressed = false;
        for (int i = 0; i < files->n; i++) {
            if (done[i])
                continue;
            if (index_file(r, &files->items[i]) != 1) {
                done[i] = true;
                pending--;
                progressed = true;
                progress_file_done(&r->bar, files->items[i].size, r->frames_before);
            }
        }
        if (!progressed)
            g_usleep(CLAIM_RETRY_US);
    }
    free(done);
}

static int open_run(const cli_command *self, index_run *r, cli_options *o, char **model_owned, GstClipSharedModel **pinned)
{
    char err[1024], id[65];
    if (!(r->db = archive_db_open(o->db, true, err, sizeof err)))
        return cli_fail("%s", err);
    if (archive_choose_model(self, r->db, o, model_owned, id) != 0)
        return 1;
    if (!(*pinned = video_embed_start(o->model, o->device, o->threads, o->precision, err, sizeof err)))
        return cli_fail("%s", err);
    r->frames.dim = vkclip_embedding_dim(gst_clip_shared_model_get(*pinned));
    if (archive_db_bind_model(r->db, id, o->model, r->frames.dim, err, sizeof err) != 0)
        return cli_fail("%s", err);
    return 0;
}

int cmd_index(const cli_command *self, cli_options *o)
{
    if (!o->db)
        return cli_usage(self, "missing --db DB");
    char *db_real = realpath(o->db, NULL); /* to pass the database by in folders */
    file_list files = {0};
    int unreadable = 0;
    for (int i = 0; i < o->ninputs; i++) {
        struct stat st;
        if (stat(o->inputs[i], &st) != 0) {
            fprintf(stderr, "vkclip: %s: %s\n", o->inputs[i], strerror(errno));
            unreadable++;
        } else if (S_ISDIR(st.st_mode)) {
            char *dir = realpath(o->inputs[i], NULL);
            add_folder(&files, dir ? dir : o->inputs[i], db_real ? db_real : "\x01", &unreadable);
            free(dir);
        } else if (S_ISREG(st.st_mode)) {
            add_file(&files, o->inputs[i], &st);
        } else {
            fprintf(stderr, "vkclip: %s: not a regular file or folder\n", o->inputs[i]);
            unreadable++;
        }
    }
    index_run r = {.o = o};
    char *model_owned = NULL;
    GstClipSharedModel *pinned = NULL;
    gint64 started = g_get_monotonic_time();
    int status = open_run(self, &r, o, &model_owned, &pinned);
    if (status == 0) {
        gint64 ready = g_get_monotonic_time();
        r.embed = archive_embed_options(o, on_progress, &r);
        progress_start(&r.bar, stderr, files.n, total_bytes(&files));
        index_all(&r, &files);
        progress_finish(&r.bar);
        /* Start-up apart: bench/archive-bench.sh sets the rate against the
         * encoder's, which `vkclip bench` also times after loading. Not a
         * "vkclip: " line: those are errors and warnings. */
        double seconds = (double)(g_get_monotonic_time() - ready) * 1e-6;
        fprintf(stderr, "indexed %lld frames in %.1f s, %.1f frames/s (after %.1f s loading the model)\n",
                (long long)r.frames_before, seconds, seconds > 0 ? (double)r.frames_before / seconds : 0.0,
                (double)(ready - started) * 1e-6);
        status = r.failed || unreadable ? 1 : 0;
    }
    video_frames_clear(&r.frames);
    if (pinned)
        gst_clip_models_release(pinned);
    archive_db_close(r.db);
    free(model_owned);
    free_files(&files);
    free(db_real);
    return status;
}
