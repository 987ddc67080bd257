/* archive_db: an archive's SQLite database. What is relational lives here:
 * the model it was made with, one row per indexed video (path, size, mtime,
 * content hash, duration, sampling rate) and one per sampled frame (video,
 * timestamp, flags, embedding). The vector index is built from these rows,
 * so the database alone is the truth.
 *
 * A video and all its frames are written in one transaction: a killed
 * indexer leaves either the whole video or nothing of it. Several indexers
 * may share a database: a file being indexed is claimed (a row naming the
 * process), and the others pass it by. */
#ifndef VKCLIP_ARCHIVE_DB_H
#define VKCLIP_ARCHIVE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct archive_db archive_db;

/* Frame flags. */
#define ARCHIVE_FRAME_BLANK 1u /* no content: black, flat, end of a fade */

typedef struct archive_video {
    int64_t id;
    char *path; /* absolute */
    int64_t size, mtime_ns;
    char hash[65];       /* SHA-256 of the file's bytes */
    int64_t duration_ns; /* -1: unknown */
    double sample_fps;
    int64_t frames;
} archive_video;

typedef struct archive_frame {
    int64_t pts_ns;
    uint32_t flags;
    const float *embedding; /* dim floats, L2-normalised */
} archive_frame;

/* Opens (create: also creates) the database. NULL on failure, with the
 * reason, naming the file, in err. */
archive_db *archive_db_open(const char *path, bool create, char *err, size_t cap);
void archive_db_close(archive_db *db);

/* The model the database was made with: 0 and its fingerprint, directory
 * and embedding width (dir malloc'd, caller frees); 1 when none is recorded
 * yet; -1 on error. */
int archive_db_model(archive_db *db, char id[65], char **dir, int *dim, char *err, size_t cap);
/* Records the model when none is; refuses (-1, with a message naming both
 * models) one that differs from the recorded one. */
int archive_db_bind_model(archive_db *db, const char *id, const char *dir, int dim, char *err, size_t cap);

/* The indexed video at path: 1 (filled, free with archive_video_clear), 0
 * none, -1 error. */
int archive_db_find_video(archive_db *db, const char *path, archive_video *out, char *err, size_t cap);
int archive_db_get_video(archive_db *db, int64_t id, archive_video *out, char *err, size_t cap);
void archive_video_clear(archive_video *v);
/* Appends every indexed video's path (malloc'd) to paths, in path order. */
struct _GPtrArray;
int archive_db_video_paths(archive_db *db, struct _GPtrArray *paths, char *err, size_t cap);
/* Updates size and mtime of an indexed video whose bytes did not change. */
int archive_db_touch_video(archive_db *db, int64_t id, int64_t size, int64_t mtime_ns, char *err, size_t cap);

/* Claims path for this process: 1 claimed, 0 another live indexer holds it,
 * -1 error. A claim of a process that is gone is taken over. */
int archive_db_claim(archive_db *db, const char *path, char *err, size_t cap);
int archive_db_release(archive_db *db, const char *path, char *err, size_t cap);

/* Replaces whatever was indexed at v->path by v and its frames, and drops
 * this process's claim, in one transaction. Sets v->id. */
int archive_db_commit_video(archive_db *db, archive_video *v, const archive_frame *frames, int64_t n, int dim,
                            char *err, size_t cap);

/* Every frame (blank ones too when keep_blank), in video then time order:
 * fn returns 0 to go on, else stops the walk with that value. Returns 0, the
 * callback's value, or -1 on error. */
typedef int (*archive_frame_fn)(void *user, int64_t frame_id, int64_t video_id, int64_t pts_ns, uint32_t flags,
                                const float *embedding);
int archive_db_each_frame(archive_db *db, bool keep_blank, int64_t video_id, archive_frame_fn fn, void *user,
                          char *err, size_t cap);
/* video_id of archive_db_each_frame: every video. */
#define ARCHIVE_ALL_VIDEOS (-1)
int archive_db_frame(archive_db *db, int64_t frame_id, int64_t *video_id, int64_t *pts_ns, char *err, size_t cap);
/* Counts: videos, frames (all, and blank). */
int archive_db_counts(archive_db *db, int64_t *videos, int64_t *frames, int64_t *blank, char *err, size_t cap);

/* A number that changes with every commit: what a cached vector index
 * built from the frames remembers. 0 before the first. */
int64_t archive_db_generation(archive_db *db);
int archive_db_count_frames(archive_db *db, bool keep_blank, int64_t *count, char *err, size_t cap);
const char *archive_db_path(const archive_db *db);
/* The archive's random identity, made with it. */
void archive_db_identity(archive_db *db, char out[40]);

#endif
