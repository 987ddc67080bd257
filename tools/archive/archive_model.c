/* archive_model: the archive's model (see archive_model.h). */
#include "archive_model.h"

#include <stdlib.h>
#include <string.h>

#include "model_identity.h"

int archive_choose_model(const cli_command *cmd, archive_db *db, cli_options *o, char **owned, char id[65])
{
    char err[1024], stored[65];
    char *stored_dir = NULL;
    int dim = 0;
    *owned = NULL;
    int has = archive_db_model(db, stored, &stored_dir, &dim, err, sizeof err);
    if (has < 0)
        return cli_fail("%s", err);
    if (!o->model && has == 0)
        o->model = *owned = stored_dir; /* the database's own model */
    else
        free(stored_dir);
    const char *dir = cli_model_dir(o);
    if (!dir)
        return 1;
    if (model_identity(dir, id, err, sizeof err) != 0)
        return cli_fail("%s: %s", cmd->name, err);
    o->model = dir;
    return 0;
}

int archive_open_for_reading(const cli_command *cmd, cli_options *o, archive_db **db, char **owned, int *dim)
{
    char err[1024], id[65], stored[65], *stored_dir = NULL;
    *owned = NULL;
    if (!(*db = archive_db_open(o->db, false, err, sizeof err)))
        return cli_fail("%s", err);
    int has = archive_db_model(*db, stored, &stored_dir, dim, err, sizeof err);
    int status = has < 0 ? cli_fail("%s", err) : has == 1 ? cli_fail("%s: nothing indexed yet", o->db) : 0;
    if (status == 0)
        status = archive_choose_model(cmd, *db, o, owned, id);
    if (status == 0 && strcmp(id, stored) != 0)
        status = cli_fail("%s: made with another model (%s), not %s", o->db, stored_dir, o->model);
    free(stored_dir);
    if (status != 0) {
        archive_db_close(*db);
        *db = NULL;
    }
    return status;
}

video_embed_options archive_embed_options(const cli_options *o,
                                          void (*progress)(void *, int64_t, int64_t, int64_t), void *progress_user)
{
    return (video_embed_options){
        .model_dir = o->model,
        .device = o->device,
        .threads = o->threads,
        .precision = o->precision,
        .fps = o->fps > 0 ? o->fps : VIDEO_EMBED_DEFAULT_FPS,
        .batch = o->batch > 0 ? o->batch : VIDEO_EMBED_DEFAULT_BATCH,
        .progress = progress,
        .progress_user = progress_user,
    };
}
