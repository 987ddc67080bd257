/* archive_db: the archive's SQLite database (see archive_db.h). */
#include "archive_db.h"

#include <errno.h>
#include <glib.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SCHEMA_VERSION "1"
/* How long a statement waits for another process's write lock. Writers hold
 * it for one video's rows at a time (milliseconds). */
#define BUSY_TIMEOUT_MS 60000
/* A claim by a process on another host (where its liveness cannot be seen)
 * counts for this long. */
#define FOREIGN_CLAIM_SECONDS (6 * 3600)

struct archive_db {
    sqlite3 *db;
    char *path;
    char host[256];
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS videos("
    "  id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
    "  hash TEXT NOT NULL, duration_ns INTEGER NOT NULL, sample_fps REAL NOT NULL, frames INTEGER NOT NULL,"
    "  indexed_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS videos_hash ON videos(hash);"
    "CREATE TABLE IF NOT EXISTS frames("
    "  id INTEGER PRIMARY KEY, video INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,"
    "  pts_ns INTEGER NOT NULL, flags INTEGER NOT NULL, embedding BLOB NOT NULL, UNIQUE(video, pts_ns));"
    "CREATE TABLE IF NOT EXISTS claims(path TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL,"
    "  since INTEGER NOT NULL);";

static int db_error(archive_db *db, char *err, size_t cap, const char *what)
{
    snprintf(err, cap, "%s: %s: %s", db->path, what, sqlite3_errmsg(db->db));
    return -1;
}

static int exec(archive_db *db, const char *sql, char *err, size_t cap)
{
    char *message = NULL;
    if (sqlite3_exec(db->db, sql, NULL, NULL, &message) == SQLITE_OK)
        return 0;
    snprintf(err, cap, "%s: %s", db->path, message ? message : sqlite3_errmsg(db->db));
    sqlite3_free(message);
    return -1;
}

static sqlite3_stmt *prepare(archive_db *db, const char *sql, char *err, size_t cap)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_error(db, err, cap, "query");
        return NULL;
    }
    return st;
}

/* Runs a statement that returns no rows, then finalizes it. */
static int run(archive_db *db, sqlite3_stmt *st, char *err, size_t cap, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_error(db, err, cap, what);
}

static int rollback(archive_db *db)
{
    sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* A failed COMMIT (a full disk) may leave the transaction open: end it. */
static int commit(archive_db *db, char *err, size_t cap)
{
    return exec(db, "COMMIT", err, cap) == 0 ? 0 : rollback(db);
}

static char *dup_text(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return strdup(t ? (const char *)t : "");
}

static int check_schema(archive_db *db, char *err, size_t cap)
{
    sqlite3_stmt *st = prepare(db, "SELECT value FROM meta WHERE key = 'schema'", err, cap);
    if (!st)
        return -1;
    int rc = sqlite3_step(st), status = 0;
    if (rc == SQLITE_ROW) {
        if (strcmp((const char *)sqlite3_column_text(st, 0), SCHEMA_VERSION) != 0) {
            snprintf(err, cap, "%s: schema version %s, this vkclip reads version %s", db->path,
                     sqlite3_column_text(st, 0), SCHEMA_VERSION);
            status = -1;
        }
    } else if (rc == SQLITE_DONE) {
        sqlite3_finalize(st);
        /* A random identity: a database made anew at the same path is another archive to caches. */
        gchar *uuid = g_uuid_string_random();
        gchar *sql = g_strdup_printf("INSERT OR IGNORE INTO meta VALUES('schema', '" SCHEMA_VERSION "');"
                                     "INSERT OR IGNORE INTO meta VALUES('archive_id', '%s')", uuid);
        int status = exec(db, sql, err, cap);
        g_free(sql);
        g_free(uuid);
        return status;
    } else {
        status = db_error(db, err, cap, "reading the schema version");
    }
    sqlite3_finalize(st);
    return status;
}

/* Switching to WAL needs the database to itself for an instant, and SQLite
 * answers BUSY at once (no busy handler) while another process holds it:
 * two indexers starting together on a new database. So it is retried. */
static int set_wal(archive_db *db, char *err, size_t cap)
{
    for (int waited = 0;; waited += 20) {
        int rc = sqlite3_exec(db->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            return 0;
        if (rc == SQLITE_NOTADB) {
            snprintf(err, cap, "%s: not a vkclip archive (not an SQLite database)", db->path);
            return -1;
        }
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || waited >= BUSY_TIMEOUT_MS)
            return db_error(db, err, cap, "cannot switch to write-ahead logging");
        usleep(20 * 1000);
    }
}

/* A database of someone else's (tables, but not ours) is never written to. */
static int check_is_archive(archive_db *db, char *err, size_t cap)
{
    sqlite3_stmt *st = prepare(db,
                               "SELECT count(*), sum(name = 'meta') FROM sqlite_master WHERE type = 'table'", err,
                               cap);
    if (!st)
        return -1;
    int status = 0;
    if (sqlite3_step(st) != SQLITE_ROW)
        status = db_error(db, err, cap, "reading its tables");
    else if (sqlite3_column_int(st, 0) > 0 && sqlite3_column_int(st, 1) == 0)
        status = -1, snprintf(err, cap, "%s: an SQLite database that is not a vkclip archive", db->path);
    sqlite3_finalize(st);
    return status;
}

archive_db *archive_db_open(const char *path, bool create, char *err, size_t cap)
{
    if (!create && access(path, F_OK) != 0) {
        snprintf(err, cap, "%s: %s (make it with vkclip index)", path, strerror(errno));
        return NULL;
    }
    archive_db *db = calloc(1, sizeof *db);
    db->path = strdup(path);
    if (gethostname(db->host, sizeof db->host - 1) != 0)
        strcpy(db->host, "unknown");
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &db->db, flags, NULL) != SQLITE_OK) {
        db_error(db, err, cap, "cannot open");
        archive_db_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db->db, BUSY_TIMEOUT_MS);
    /* WAL: readers never block the writer; NORMAL sync is durable at every
     * checkpoint and never corrupt, which is what a kill -9 needs. */
    if (set_wal(db, err, cap) != 0 || exec(db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", err, cap) != 0 ||
        exec(db, "BEGIN IMMEDIATE", err, cap) != 0) {
        archive_db_close(db);
        return NULL;
    }
    if (check_is_archive(db, err, cap) != 0 || exec(db, schema, err, cap) != 0 || check_schema(db, err, cap) != 0 || exec(db, "COMMIT", err, cap) != 0) {
        rollback(db);
        archive_db_close(db);
        return NULL;
    }
    return db;
}

void archive_db_close(archive_db *db)
{
    if (!db)
        return;
    sqlite3_close(db->db);
    free(db->path);
    free(db);
}

static int meta_get(archive_db *db, const char *key, char **value, char *err, size_t cap)
{
    sqlite3_stmt *st = prepare(db, "SELECT value FROM meta WHERE key = ?", err, cap);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), status = 1;
    if (rc == SQLITE_ROW) {
        *value = dup_text(st, 0);
        status = 0;
    } else if (rc != SQLITE_DONE) {
        status = db_error(db, err, cap, "reading meta");
    }
    sqlite3_finalize(st);
    return status;
}

static int meta_set(archive_db *db, const char *key, const char *value, char *err, size_t cap)
{
    sqlite3_stmt *st = prepare(db, "INSERT OR REPLACE INTO meta VALUES(?, ?)", err, cap);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    return run(db, st, err, cap, "writing meta");
}

int archive_db_model(archive_db *db, char id[65], char **dir, int *dim, char *err, size_t cap)
{
    char *stored_id = NULL, *stored_dir = NULL, *stored_dim = NULL;
    int status = meta_get(db, "model", &stored_id, err, cap);
    if (status == 0)
        status = meta_get(db, "model_dir", &stored_dir, err, cap);
    if (status == 0)
        status = meta_get(db, "dim", &stored_dim, err, cap);
    if (status == 0) {
        snprintf(id, 65, "%s", stored_id);
        *dir = stored_dir;
        stored_dir = NULL;
        *dim = atoi(stored_dim);
    }
    free(stored_id);
    free(stored_dir);
    free(stored_dim);
    return status;
}

int archive_db_bind_model(archive_db *db, const char *id, const char *dir, int dim, char *err, size_t cap)
{
    if (exec(db, "BEGIN IMMEDIATE", err, cap) != 0)
        return -1;
    char stored[65], *stored_dir = NULL;
    int stored_dim = 0;
    int status = archive_db_model(db, stored, &stored_dir, &stored_dim, err, cap);
    if (status == 1) {
        char dim_text[16];
        snprintf(dim_text, sizeof dim_text, "%d", dim);
        status = meta_set(db, "model", id, err, cap) || meta_set(db, "model_dir", dir, err, cap) ||
                         meta_set(db, "dim", dim_text, err, cap)
                     ? -1
                     : 0;
    } else if (status == 0 && strcmp(stored, id) != 0) {
        snprintf(err, cap,
                 "%s: made with another model (%s, fingerprint %.12s), not %s (%.12s); index into a new database",
                 db->path, stored_dir, stored, dir, id);
        status = -1;
    }
    free(stored_dir);
    if (status != 0)
        return rollback(db);
    return commit(db, err, cap);
}

static const char video_columns[] = "id, path, size, mtime_ns, hash, duration_ns, sample_fps, frames";

static void read_video(sqlite3_stmt *st, archive_video *v)
{
    v->id = sqlite3_column_int64(st, 0);
    v->path = dup_text(st, 1);
    v->size = sqlite3_column_int64(st, 2);
    v->mtime_ns = sqlite3_column_int64(st, 3);
    snprintf(v->hash, sizeof v->hash, "%s", sqlite3_column_text(st, 4));
    v->duration_ns = sqlite3_column_int64(st, 5);
    v->sample_fps = sqlite3_column_double(st, 6);
    v->frames = sqlite3_column_int64(st, 7);
}

static int find_video_where(archive_db *db, const char *where, const char *path, int64_t id, archive_video *out,
                            char *err, size_t cap)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT %s FROM videos WHERE %s", video_columns, where);
    sqlite3_stmt *st = prepare(db, sql, err, cap);
    if (!st)
        return -1;
    if (path)
        sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st), status = 0;
    if (rc == SQLITE_ROW) {
        read_video(st, out);
        status = 1;
    } else if (rc != SQLITE_DONE) {
        status = db_error(db, err, cap, "reading videos");
    }
    sqlite3_finalize(st);
    return status;
}

int archive_db_find_video(archive_db *db, const char *path, archive_video *out, char *err, size_t cap)
{
    return find_video_where(db, "path = ?", path, 0, out, err, cap);
}

int archive_db_get_video(archive_db *db, int64_t id, archive_video *out, char *err, size_t cap)
{
    return find_video_where(db, "id = ?", NULL, id, out, err, cap);
}

void archive_video_clear(archive_video *v)
{
    free(v->path);
    v->path = NULL;
}

int archive_db_video_paths(archive_db *db, GPtrArray *paths, char *err, size_t cap)
{
    sqlite3_stmt *st = prepare(db, "SELECT path FROM videos ORDER BY path", err, cap);
    if (!st)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        g_ptr_array_add(paths, dup_text(st, 0));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_error(db, err, cap, "reading videos");
}

int archive_db_touch_video(archive_db *db, int64_t id, int64_t size, int64_t mtime_ns, char *err, size_t cap)
{
    sqlite3_stmt *st = prepare(db, "UPDATE videos SET size = ?, mtime_ns = ? WHERE id = ?", err, cap);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, size);
    sqlite3_bind_int64(st, 2, mtime_ns);
    sqlite3_bind_int64(st, 3, id);
    return run(db, st, err, cap, "updating a video");
}

/* A claim still holds while its process may be running. */
static bool claim_is_live(const archive_db *db, int64_t pid, const char *host, int64_t since)
{
    if (strcmp(host, db->host) != 0)
        return time(NULL) - since < FOREIGN_CLAIM_SECONDS;
    if (pid == getpid())
        return false;
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

int archive_db_claim(archive_db *db, const char *path, char *err, size_t cap)
{
    if (exec(db, "BEGIN IMMEDIATE", err, cap) != 0)
        return -1;
    sqlite3_stmt *st = prepare(db, "SELECT pid, host, since FROM claims WHERE path = ?", err, cap);
    if (!st)
        return rollback(db);
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    bool held = rc == SQLITE_ROW && claim_is_live(db, sqlite3_column_int64(st, 0),
                                                  (const char *)sqlite3_column_text(st, 1),
                                                  sqlite3_column_int64(st, 2));
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_error(db, err, cap, "reading claims");
        return rollback(db);
    }
    if (held) {
        exec(db, "COMMIT", err, cap);
        return 0;
    }
    st = prepare(db, "INSERT OR REPLACE INTO claims VALUES(?, ?, ?, ?)", err, cap);
    if (!st)
        return rollback(db);
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, getpid());
    sqlite3_bind_text(st, 3, db->host, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, time(NULL));
    if (run(db, st, err, cap, "writing a claim") != 0)
        return rollback(db);
    return commit(db, err, cap) == 0 ? 1 : -1;
}

static int drop_claim(archive_db *db, const char *path, char *err, size_t cap)
{
    sqlite3_stmt *st = prepare(db, "DELETE FROM claims WHERE path = ? AND pid = ? AND host = ?", err, cap);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, getpid());
    sqlite3_bind_text(st, 3, db->host, -1, SQLITE_STATIC);
    return run(db, st, err, cap, "dropping a claim");
}

int archive_db_release(archive_db *db, const char *path, char *err, size_t cap)
{
    return drop_claim(db, path, err, cap);
}

static int insert_frames(archive_db *db, int64_t video, const archive_frame *frames, int64_t n, int dim, char *err,
                         size_t cap)
{
    sqlite3_stmt *st = prepare(db, "INSERT INTO frames(video, pts_ns, flags, embedding) VALUES(?, ?, ?, ?)", err,
                               cap);
    if (!st)
        return -1;
    int status = 0;
    for (int64_t i = 0; status == 0 && i < n; i++) {
        sqlite3_bind_int64(st, 1, video);
        sqlite3_bind_int64(st, 2, frames[i].pts_ns);
        sqlite3_bind_int64(st, 3, frames[i].flags);
        sqlite3_bind_blob(st, 4, frames[i].embedding, dim * (int)sizeof(float), SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            status = db_error(db, err, cap, "writing frames");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return status;
}

int archive_db_commit_video(archive_db *db, archive_video *v, const archive_frame *frames, int64_t n, int dim,
                            char *err, size_t cap)
{
    if (exec(db, "BEGIN IMMEDIATE", err, cap) != 0)
        return -1;
    sqlite3_stmt *st = prepare(db, "DELETE FROM videos WHERE path = ?", err, cap);
    if (!st)
        return rollback(db);
    sqlite3_bind_text(st, 1, v->path, -1, SQLITE_STATIC);
    if (run(db, st, err, cap, "replacing a video") != 0)
        return rollback(db);
    st = prepare(db,
                 "INSERT INTO videos(path, size, mtime_ns, hash, duration_ns, sample_fps, frames, indexed_at)"
                 " VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                 err, cap);
    if (!st)
        return rollback(db);
    sqlite3_bind_text(st, 1, v->path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, v->size);
    sqlite3_bind_int64(st, 3, v->mtime_ns);
    sqlite3_bind_text(st, 4, v->hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, v->duration_ns);
    sqlite3_bind_double(st, 6, v->sample_fps);
    sqlite3_bind_int64(st, 7, n);
    sqlite3_bind_int64(st, 8, time(NULL));
    if (run(db, st, err, cap, "writing a video") != 0)
        return rollback(db);
    v->id = sqlite3_last_insert_rowid(db->db);
    v->frames = n;
    if (insert_frames(db, v->id, frames, n, dim, err, cap) != 0 || drop_claim(db, v->path, err, cap) != 0 ||
        exec(db, "INSERT INTO meta VALUES('generation', '1') ON CONFLICT(key) DO UPDATE SET "
                 "value = CAST(value AS INTEGER) + 1",
             err, cap) != 0)
        return rollback(db);
    return commit(db, err, cap);
}

int archive_db_each_frame(archive_db *db, bool keep_blank, int64_t video_id, archive_frame_fn fn, void *user,
                          char *err, size_t cap)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT id, video, pts_ns, flags, embedding FROM frames WHERE %s %s ORDER BY video, pts_ns",
             video_id == ARCHIVE_ALL_VIDEOS ? "1" : "video = ?1", keep_blank ? "" : "AND (flags & 1) = 0");
    sqlite3_stmt *st = prepare(db, sql, err, cap);
    if (!st)
        return -1;
    if (video_id != ARCHIVE_ALL_VIDEOS)
        sqlite3_bind_int64(st, 1, video_id);
    /* One read transaction: a concurrent indexer's commit is not half seen. */
    int status = 0, rc;
    while (status == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
        status = fn(user, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
                    (uint32_t)sqlite3_column_int64(st, 3), sqlite3_column_blob(st, 4));
    if (status == 0 && rc != SQLITE_DONE)
        status = db_error(db, err, cap, "reading frames");
    sqlite3_finalize(st);
    return status;
}

int archive_db_frame(archive_db *db, int64_t frame_id, int64_t *video_id, int64_t *pts_ns, char *err, size_t cap)
{
    sqlite3_stmt *st = prepare(db, "SELECT video, pts_ns FROM frames WHERE id = ?", err, cap);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, frame_id);
    int status = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *video_id = sqlite3_column_int64(st, 0);
        *pts_ns = sqlite3_column_int64(st, 1);
    } else {
        status = db_error(db, err, cap, "reading a frame");
    }
    sqlite3_finalize(st);
    return status;
}

int archive_db_counts(archive_db *db, int64_t *videos, int64_t *frames, int64_t *blank, char *err, size_t cap)
{
    sqlite3_stmt *st = prepare(db,
                               "SELECT (SELECT count(*) FROM videos), (SELECT count(*) FROM frames),"
                               " (SELECT count(*) FROM frames WHERE flags & 1)",
                               err, cap);
    if (!st)
        return -1;
    int status = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *videos = sqlite3_column_int64(st, 0);
        *frames = sqlite3_column_int64(st, 1);
        *blank = sqlite3_column_int64(st, 2);
    } else {
        status = db_error(db, err, cap, "counting");
    }
    sqlite3_finalize(st);
    return status;
}

int64_t archive_db_generation(archive_db *db)
{
    char err[256], *value = NULL;
    if (meta_get(db, "generation", &value, err, sizeof err) != 0)
        return 0;
    int64_t g = strtoll(value, NULL, 10);
    free(value);
    return g;
}

int archive_db_count_frames(archive_db *db, bool keep_blank, int64_t *count, char *err, size_t cap)
{
    sqlite3_stmt *st = prepare(db, keep_blank ? "SELECT count(*) FROM frames"
                                              : "SELECT count(*) FROM frames WHERE (flags & 1) = 0",
                               err, cap);
    if (!st)
        return -1;
    int status = sqlite3_step(st) == SQLITE_ROW ? 0 : db_error(db, err, cap, "counting frames");
    *count = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return status;
}

void archive_db_identity(archive_db *db, char out[40])
{
    char err[256], *value = NULL;
    snprintf(out, 40, "%s", meta_get(db, "archive_id", &value, err, sizeof err) == 0 ? value : "none");
    free(value);
}

const char *archive_db_path(const archive_db *db)
{
    return db->path;
}
