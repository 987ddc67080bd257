/* archive_model: which model an archive command uses: --model when given
 * (it must be the one the database was made with), else the database's
 * own, else the default model. */
#ifndef VKCLIP_ARCHIVE_MODEL_H
#define VKCLIP_ARCHIVE_MODEL_H

#include "archive_db.h"
#include "cli.h"
#include "video_embed.h"

/* Sets o->model (to a string owned by *owned, to be freed) and id. Returns
 * 0, or 1 after printing why not. */
int archive_choose_model(const cli_command *cmd, archive_db *db, cli_options *o, char **owned, char id[65]);

/* For the commands that read an archive (search, classify-video, dedup):
 * opens o->db, which must hold frames, and chooses the model as above; a
 * --model other than the database's is refused. Returns 0 (*db open, dim
 * its embedding width), or 1 after printing why not (*db NULL). */
int archive_open_for_reading(const cli_command *cmd, cli_options *o, archive_db **db, char **owned, int *dim);

/* How the clip element embeds videos for these options: their model,
 * device, threads and precision, --fps and --batch or the defaults. */
video_embed_options archive_embed_options(const cli_options *o,
                                          void (*progress)(void *, int64_t, int64_t, int64_t), void *progress_user);

#endif
