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
