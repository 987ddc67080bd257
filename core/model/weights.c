/* weights.c: one name -> tensor table over one file or several shards. */
#include "model/weights.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/json.h"

typedef struct weight_entry {
    const char *name;      /* owned by the shard's st_file */
    const st_tensor *tensor;
    const char *file;      /* the shard's path */
} weight_entry;

struct model_weights {
    char *source; /* model.safetensors or the index: named when a tensor is missing */
    st_file **shards;
    size_t shard_count;
    weight_entry *entries; /* sorted by name */
    size_t count;
};

static char *join_path(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p) {
        memcpy(p, dir, a);
        p[a] = '/';
        memcpy(p + a + 1, name, b + 1);
    }
    return p;
}

static int compare_entries(const void *a, const void *b)
{
    return strcmp(((const weight_entry *)a)->name, ((const weight_entry *)b)->name);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Shards must sit beside the index: a plain file name, nothing that walks
 * out of the directory. */
static bool plain_file_name(const json_value *v)
{
    return v->str_len > 0 && strlen(v->str) == v->str_len && !strchr(v->str, '/') &&
           strcmp(v->str, ".") != 0 && strcmp(v->str, "..") != 0;
}

static bool open_single(model_weights *w, const char *dir, errbuf *err)
{
    w->source = join_path(dir, "model.safetensors");
    w->shards = calloc(1, sizeof *w->shards);
    if (!w->source || !w->shards)
        return errbuf_set(err, "%s: out of memory", dir);
    w->shards[0] = st_open(w->source, err);
    if (!w->shards[0])
        return false;
    w->shard_count = 1;
    const st_file *f = w->shards[0];
    w->entries = calloc(f->count ? f->count : 1, sizeof *w->entries);
    if (!w->entries)
        return errbuf_set(err, "%s: out of memory", w->source);
    for (size_t i = 0; i < f->count; i++)
        w->entries[i] = (weight_entry){ f->tensors[i].name, &f->tensors[i], f->path };
    w->count = f->count;
    return true; /* st_file keeps its tensors sorted by name already */
}

/* Opens every distinct shard named in weight_map once, in name order. */
static bool open_shards(model_weights *w, const char *dir, const json_value *map,
                        const char **names, errbuf *err)
{
    size_t n = 0;
    for (const json_value *m = json_first(map); m; m = json_next(m))
        names[n++] = m->str;
    qsort(names, n, sizeof *names, compare_strings);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        if (distinct == 0 || strcmp(names[distinct - 1], names[i]) != 0)
            names[distinct++] = names[i];
    w->shards = calloc(distinct, sizeof *w->shards);
    if (!w->shards)
        return errbuf_set(err, "%s: out of memory", w->source);
    for (size_t i = 0; i < distinct; i++) {
        char *path = join_path(dir, names[i]);
        if (!path)
            return errbuf_set(err, "%s: out of memory", w->source);
        w->shards[i] = st_open(path, err);
        free(path);
        if (!w->shards[i])
            return errbuf_prefix(err, "%s", w->source);
        w->shard_count++;
    }
    return true;
}

static bool open_sharded(model_weights *w, const char *dir, const char *index_path, errbuf *err)
{
    w->source = strdup(index_path);
    if (!w->source)
        return errbuf_set(err, "%s: out of memory", index_path);
    size_t len;
    char *text = read_text_file(index_path, &len, err);
    if (!text)
        return false;
    json_doc *doc = json_parse(text, len, err);
    free(text);
    if (!doc)
        return errbuf_prefix(err, "%s", index_path);

    bool ok = false;
    const char **names = NULL;
    const json_value *root = json_root(doc);
    const json_value *map = json_get(root, "weight_map");
    if (root->type != JSON_OBJECT) {
        errbuf_set(err, "%s: top level is %s, expected an object", index_path,
                   json_type_phrase(root->type));
        goto done;
    }
    if (!map || map->type != JSON_OBJECT || map->count == 0) {
        errbuf_set(err, "%s: \"weight_map\" %s", index_path,
                   !map ? "is missing" : map->type != JSON_OBJECT ? "is not an object" : "is empty");
        goto done;
    }
    for (const json_value *m = json_first(map); m; m = json_next(m)) {
        char name[128];
        json_printable(name, sizeof name, m->key, m->key_len);
        if (m->type != JSON_STRING) {
            errbuf_set(err, "%s: weight_map entry for '%s' is %s, expected a file name",
                       index_path, name, json_type_phrase(m->type));
            goto done;
        }
        if (!plain_file_name(m)) {
            char shard[128];
            json_printable(shard, sizeof shard, m->str, m->str_len);
            errbuf_set(err, "%s: shard '%s' of tensor '%s' is not a plain file name",
                       index_path, shard, name);
            goto done;
        }
    }
    names = malloc(map->count * sizeof *names);
    w->entries = calloc(map->count, sizeof *w->entries);
    if (!names || !w->entries) {
        errbuf_set(err, "%s: out of memory", index_path);
        goto done;
    }
    if (!open_shards(w, dir, map, names, err))
        goto done;
    for (const json_value *m = json_first(map); m; m = json_next(m)) {
        const char **slot = bsearch(&m->str, names, w->shard_count, sizeof *names, compare_strings);
        const st_file *shard = w->shards[slot - names];
        const st_tensor *t = st_find(shard, m->key);
        if (!t || strlen(m->key) != m->key_len) {
            char name[128];
            json_printable(name, sizeof name, m->key, m->key_len);
            errbuf_set(err, "%s: tensor '%s' is not in its shard '%s'", index_path, name, m->str);
            goto done;
        }
        w->entries[w->count++] = (weight_entry){ t->name, t, shard->path };
    }
    /* Unique: weight_map keys are distinct (the JSON parser rejects duplicates). */
    qsort(w->entries, w->count, sizeof *w->entries, compare_entries);
    ok = true;
done:
    free(names);
    json_free(doc);
    return ok;
}

model_weights *model_weights_open(const char *dir, errbuf *err)
{
    model_weights *w = calloc(1, sizeof *w);
    if (!w) {
        errbuf_set(err, "%s: out of memory", dir);
        return NULL;
    }
    char *index_path = join_path(dir, "model.safetensors.index.json");
    struct stat st;
    bool ok;
    if (!index_path)
        ok = errbuf_set(err, "%s: out of memory", dir);
    else if (stat(index_path, &st) == 0)
        ok = open_sharded(w, dir, index_path, err);
    else
        ok = open_single(w, dir, err);
    free(index_path);
    if (!ok) {
        model_weights_close(w);
        return NULL;
    }
    return w;
}

void model_weights_close(model_weights *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->shard_count; i++)
        st_close(w->shards[i]);
    free(w->shards);
    free(w->entries);
    free(w->source);
    free(w);
}

static const weight_entry *find_entry(const model_weights *w, const char *name)
{
    if (!w || !name || !w->count)
        return NULL;
    weight_entry key = { .name = name };
    return bsearch(&key, w->entries, w->count, sizeof *w->entries, compare_entries);
}

const st_tensor *model_weights_find(const model_weights *w, const char *name,
                                    const char **file_out)
{
    const weight_entry *e = find_entry(w, name);
    if (file_out)
        *file_out = e ? e->file : NULL;
    return e ? e->tensor : NULL;
}

/* "[128, 3]"; "[]" for a scalar. */
static void format_shape(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
}

const st_tensor *model_weights_expect(const model_weights *w, const char *name,
                                      int ndim, const int64_t *shape, errbuf *err)
{
    const weight_entry *e = find_entry(w, name);
    if (!e) {
        errbuf_set(err, "%s: tensor '%s' is missing", w ? w->source : "(no weights)", name);
        return NULL;
    }
    const st_tensor *t = e->tensor;
    if (!st_dtype_is_float_weight(t->dtype)) {
        errbuf_set(err, "%s: tensor '%s' has dtype %s, expected F32, F16 or BF16", e->file,
                   name, st_dtype_name(t->dtype));
        return NULL;
    }
    bool same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = t->shape[i] == shape[i];
    if (!same) {
        char have[160], want[160];
        format_shape(have, sizeof have, t->ndim, t->shape);
        format_shape(want, sizeof want, ndim, shape);
        errbuf_set(err, "%s: tensor '%s' has shape %s but config.json implies %s", e->file,
                   name, have, want);
        return NULL;
    }
    return t;
}

uint64_t model_weights_bytes(const model_weights *w, const char *prefix)
{
    uint64_t total = 0;
    size_t plen = strlen(prefix);
    for (size_t i = 0; w && i < w->count; i++)
        if (strncmp(w->entries[i].name, prefix, plen) == 0 &&
            st_dtype_is_float_weight(w->entries[i].tensor->dtype))
            total += w->entries[i].tensor->nbytes;
    return total;
}
