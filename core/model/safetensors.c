/* safetensors.c: header validation for st_open/st_parse.
 *
 * Layout rule chosen here: every tensor's byte range must lie inside the
 * data region and no two non-empty ranges may overlap, but the ranges need
 * not be contiguous nor cover the region (the reference Rust library demands
 * both). Writers pad for alignment and some leave tensors out of offset
 * order; neither makes a file unsafe to read, while overlapping ranges would
 * make one weight silently alias another, which no writer produces. */
#include "model/safetensors.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "model/json.h"

/* The reference library refuses headers above 100 MB too. */
#define ST_MAX_HEADER 100000000ull

static const struct {
    const char *name;
    size_t size;
} dtype_info[] = {
    [ST_F32] = { "F32", 4 },
    [ST_F16] = { "F16", 2 },
    [ST_BF16] = { "BF16", 2 },
    [ST_F64] = { "F64", 8 },
    [ST_I64] = { "I64", 8 },
    [ST_I32] = { "I32", 4 },
    [ST_I16] = { "I16", 2 },
    [ST_I8] = { "I8", 1 },
    [ST_U64] = { "U64", 8 },
    [ST_U32] = { "U32", 4 },
    [ST_U16] = { "U16", 2 },
    [ST_U8] = { "U8", 1 },
    [ST_BOOL] = { "BOOL", 1 },
    [ST_F8_E4M3] = { "F8_E4M3", 1 },
    [ST_F8_E5M2] = { "F8_E5M2", 1 },
};

#define DTYPE_COUNT (sizeof dtype_info / sizeof dtype_info[0])

const char *st_dtype_name(st_dtype dt)
{
    return (size_t)dt < DTYPE_COUNT ? dtype_info[dt].name : "?";
}

size_t st_dtype_size(st_dtype dt)
{
    return (size_t)dt < DTYPE_COUNT ? dtype_info[dt].size : 0;
}

bool st_dtype_is_float_weight(st_dtype dt)
{
    return dt == ST_F32 || dt == ST_F16 || dt == ST_BF16;
}

static bool dtype_from_name(const char *s, size_t len, st_dtype *out)
{
    for (size_t i = 0; i < DTYPE_COUNT; i++) {
        if (strlen(dtype_info[i].name) == len && memcmp(dtype_info[i].name, s, len) == 0) {
            *out = (st_dtype)i;
            return true;
        }
    }
    return false;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

/* A tensor's place in the data region, for the overlap check. */
typedef struct span {
    uint64_t begin, end;
    size_t tensor;
} span;

static int compare_spans(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return (x->begin > y->begin) - (x->begin < y->begin);
}

/* Reads one header entry into t. data_size is the size of the data region.
 * Messages here are without the file name; the caller prefixes it. */
static bool read_entry(const json_value *entry, const char *name, st_tensor *t,
                       uint64_t *begin_out, uint64_t data_size, errbuf *err)
{
    if (entry->type != JSON_OBJECT)
        return errbuf_set(err, "tensor '%s': entry is %s, expected an object", name,
                          json_type_phrase(entry->type));

    const json_value *dtype = json_get(entry, "dtype");
    if (!dtype || dtype->type != JSON_STRING)
        return errbuf_set(err, "tensor '%s': \"dtype\" %s", name,
                          dtype ? "is not a string" : "is missing");
    if (!dtype_from_name(dtype->str, dtype->str_len, &t->dtype)) {
        char shown[40];
        json_printable(shown, sizeof shown, dtype->str, dtype->str_len);
        return errbuf_set(err, "unknown dtype '%s' for tensor '%s'", shown, name);
    }

    const json_value *shape = json_get(entry, "shape");
    if (!shape || shape->type != JSON_ARRAY)
        return errbuf_set(err, "tensor '%s': \"shape\" %s", name,
                          shape ? "is not an array" : "is missing");
    if (shape->count > ST_MAX_DIMS)
        return errbuf_set(err, "tensor '%s': shape has %u dimensions (at most %d supported)",
                          name, (unsigned)shape->count, ST_MAX_DIMS);
    t->ndim = (int)shape->count;
    uint64_t numel = 1;
    int d = 0;
    for (const json_value *v = json_first(shape); v; v = json_next(v), d++) {
        int64_t n;
        if (!json_integer(v, &n) || n < 0)
            return errbuf_set(err, "tensor '%s': shape[%d] is not a non-negative integer",
                              name, d);
        t->shape[d] = n;
        if (n != 0 && numel > UINT64_MAX / (uint64_t)n)
            return errbuf_set(err, "tensor '%s': element count overflows 64 bits", name);
        numel *= (uint64_t)n;
    }
    size_t esize = st_dtype_size(t->dtype);
    if (numel > (uint64_t)INT64_MAX / esize)
        return errbuf_set(err, "tensor '%s': byte size overflows 64 bits", name);
    uint64_t nbytes = numel * esize;

    const json_value *offs = json_get(entry, "data_offsets");
    int64_t begin, end;
    if (!offs || offs->type != JSON_ARRAY || offs->count != 2 ||
        !json_integer(json_at(offs, 0), &begin) || !json_integer(json_at(offs, 1), &end) ||
        begin < 0 || end < 0)
        return errbuf_set(err, "tensor '%s': \"data_offsets\" %s", name,
                          offs ? "must be [begin, end] with non-negative integers" : "is missing");
    if (begin > end)
        return errbuf_set(err, "tensor '%s' data_offsets [%" PRId64 ", %" PRId64 "]: begin after end",
                          name, begin, end);
    if ((uint64_t)end > data_size)
        return errbuf_set(err,
                          "tensor '%s' data_offsets [%" PRId64 ", %" PRId64 "] end past the data (%" PRIu64 " bytes)",
                          name, begin, end, data_size);
    if ((uint64_t)(end - begin) != nbytes)
        return errbuf_set(err,
                          "tensor '%s' data_offsets [%" PRId64 ", %" PRId64 "] hold %" PRId64
                          " bytes but its shape and dtype %s need %" PRIu64,
                          name, begin, end, end - begin, st_dtype_name(t->dtype), nbytes);
    t->numel = (int64_t)numel;
    t->nbytes = (size_t)nbytes;
    *begin_out = (uint64_t)begin;
    return true;
}

static bool check_overlaps(const st_file *f, const uint64_t *begins, errbuf *err)
{
    if (f->count < 2)
        return true;
    span *spans = malloc(f->count * sizeof *spans);
    if (!spans)
        return errbuf_set(err, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < f->count; i++)
        if (f->tensors[i].nbytes) /* empty tensors occupy nothing */
            spans[n++] = (span){ begins[i], begins[i] + f->tensors[i].nbytes, i };
    qsort(spans, n, sizeof *spans, compare_spans);
    /* sorted by begin and disjoint so far, so only the previous span can
     * reach into this one */
    bool ok = true;
    for (size_t i = 1; i < n && ok; i++) {
        const span *a = &spans[i - 1], *b = &spans[i];
        if (b->begin < a->end)
            ok = errbuf_set(err,
                            "tensors '%s' [%" PRIu64 ", %" PRIu64 "] and '%s' [%" PRIu64 ", %" PRIu64
                            "] overlap in the data",
                            f->tensors[a->tensor].name, a->begin, a->end,
                            f->tensors[b->tensor].name, b->begin, b->end);
    }
    free(spans);
    return ok;
}

/* Fills f->tensors from the buffer; messages without the file name. */
static bool parse_header(st_file *f, const unsigned char *data, size_t size, errbuf *err)
{
    if (size < 8)
        return errbuf_set(err, "file is %zu bytes, too small for a safetensors header", size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | data[i];
    if (hlen > ST_MAX_HEADER)
        return errbuf_set(err, "header length %" PRIu64 " exceeds the limit of %llu bytes", hlen,
                          ST_MAX_HEADER);
    if (hlen > size - 8)
        return errbuf_set(err, "header length %" PRIu64 " exceeds file size %zu", hlen, size);
    uint64_t data_size = size - 8 - hlen;
    const unsigned char *region = data + 8 + hlen;

    json_doc *doc = json_parse((const char *)data + 8, (size_t)hlen, err);
    if (!doc)
        return errbuf_prefix(err, "header");
    const json_value *root = json_root(doc);
    bool ok = true;
    uint64_t *begins = NULL;
    if (root->type != JSON_OBJECT) {
        ok = errbuf_set(err, "header is %s, expected an object", json_type_phrase(root->type));
        goto done;
    }
    f->tensors = calloc(root->count ? root->count : 1, sizeof *f->tensors);
    begins = calloc(root->count ? root->count : 1, sizeof *begins);
    if (!f->tensors || !begins) {
        ok = errbuf_set(err, "out of memory");
        goto done;
    }
    for (const json_value *m = json_first(root); m && ok; m = json_next(m)) {
        if (strcmp(m->key, "__metadata__") == 0 && m->key_len == 12) {
            /* free-form; the format says string values, but nothing reads them */
            if (m->type != JSON_OBJECT)
                ok = errbuf_set(err, "\"__metadata__\" is %s, expected an object",
                                json_type_phrase(m->type));
            continue;
        }
        char name[128];
        json_printable(name, sizeof name, m->key, m->key_len);
        if (strlen(m->key) != m->key_len) {
            ok = errbuf_set(err, "tensor name '%s' contains a NUL byte", name);
            break;
        }
        st_tensor *t = &f->tensors[f->count];
        ok = read_entry(m, name, t, &begins[f->count], data_size, err);
        if (!ok)
            break;
        t->name = strdup(m->key);
        if (!t->name) {
            ok = errbuf_set(err, "out of memory");
            break;
        }
        t->data = region + begins[f->count];
        f->count++;
    }
    if (ok)
        ok = check_overlaps(f, begins, err);
    /* Sorted by name for st_find; names are unique (the JSON parser rejects
     * duplicate keys). */
    if (ok)
        qsort(f->tensors, f->count, sizeof *f->tensors, compare_names);
done:
    free(begins);
    json_free(doc);
    return ok;
}

st_file *st_parse(const void *data, size_t size, const char *name, errbuf *err)
{
    st_file *f = calloc(1, sizeof *f);
    if (f)
        f->path = strdup(name);
    if (!f || !f->path) {
        free(f);
        errbuf_set(err, "%s: out of memory", name);
        return NULL;
    }
    if (!parse_header(f, data, size, err)) {
        errbuf_prefix(err, "%s", name);
        st_close(f);
        return NULL;
    }
    return f;
}

st_file *st_open(const char *path, errbuf *err)
{
    mapped_file map;
    if (!mapped_file_open(&map, path, err))
        return NULL;
    st_file *f = st_parse(map.data, map.size, path, err);
    if (!f) {
        mapped_file_close(&map);
        return NULL;
    }
    f->map = map;
    return f;
}

void st_close(st_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->count; i++)
        free(f->tensors[i].name);
    free(f->tensors);
    mapped_file_close(&f->map);
    free(f->path);
    free(f);
}

const st_tensor *st_find(const st_file *f, const char *name)
{
    if (!f || !name || !f->count)
        return NULL;
    st_tensor key = { .name = (char *)name };
    return bsearch(&key, f->tensors, f->count, sizeof *f->tensors, compare_names);
}
