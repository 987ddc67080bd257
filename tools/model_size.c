/* model_size: how big each tower of a model is, counted from the tensors of
 * its safetensors files (one file, or the shards an index names). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "model/json.h"
#include "model/safetensors.h"
#include "model/weights.h"
#include "util/mapped_file.h"
#include "util/regular_file.h"

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Hugging Face's names: each tower's own tensors and its projection. Float
 * tensors only: integer ones (position_ids) are buffers, not parameters;
 * logit_scale belongs to neither tower. */
static void count_tensor(const char *name, const st_tensor *t, cli_tower_size *vision, cli_tower_size *text)
{
    if (!st_dtype_is_float_weight(t->dtype))
        return;
    /* Image-only families (DINOv2) name their tensors without a tower prefix. */
    cli_tower_size *tower = starts_with(name, "text_model.") || starts_with(name, "text_projection.") ? text
                            : strcmp(name, "logit_scale") == 0                                        ? NULL
                                                                                                       : vision;
    if (tower) {
        tower->parameters += (unsigned long long)t->numel;
        tower->bytes += t->nbytes;
    }
}

static bool count_single(const char *path, cli_tower_size *vision, cli_tower_size *text)
{
    errbuf e = {{0}};
    st_file *f = st_open(path, &e);
    if (!f) {
        cli_fail("%s", e.msg);
        return false;
    }
    for (size_t i = 0; i < f->count; i++)
        count_tensor(f->tensors[i].name, &f->tensors[i], vision, text);
    st_close(f);
    return true;
}

/* The index's weight_map names every tensor once; the loader's lookup finds
 * each in its shard. */
static bool count_sharded(const char *dir, const char *index_path, cli_tower_size *vision, cli_tower_size *text)
{
    errbuf e = {{0}};
    size_t len;
    char *index_text = read_text_file(index_path, &len, &e);
    json_doc *doc = index_text ? json_parse(index_text, len, &e) : NULL;
    free(index_text);
    model_weights *w = doc ? model_weights_open(dir, &e) : NULL;
    bool ok = w != NULL;
    const json_value *map = ok ? json_get(json_root(doc), "weight_map") : NULL;
    for (const json_value *m = map ? json_first(map) : NULL; m; m = json_next(m)) {
        const st_tensor *t = model_weights_find(w, json_key(m), NULL);
        if (t)
            count_tensor(json_key(m), t, vision, text);
    }
    model_weights_close(w);
    json_free(doc);
    if (!ok)
        cli_fail("%s", e.msg);
    return ok;
}

bool cli_tower_sizes(const char *dir, cli_tower_size *vision, cli_tower_size *text)
{
    *vision = *text = (cli_tower_size){0, 0};
    char index_path[4096], single_path[4096];
    snprintf(index_path, sizeof index_path, "%s/model.safetensors.index.json", dir);
    snprintf(single_path, sizeof single_path, "%s/model.safetensors", dir);
    /* The loader's rule: the index, where there is one, decides. */
    return file_exists(index_path) ? count_sharded(dir, index_path, vision, text)
                                   : count_single(single_path, vision, text);
}
