/* safetensors: a validated, zero-copy view of a .safetensors file.
 *
 * Layout: 8-byte little-endian header length N, N bytes of JSON
 * {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
 * then the raw little-endian data; offsets are relative to the end of the header.
 * Nothing in the header is trusted: every offset, shape and dtype is checked
 * against the file size before a tensor is handed out. */
#ifndef VKCLIP_SAFETENSORS_H
#define VKCLIP_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/errbuf.h"
#include "util/mapped_file.h"

#define ST_MAX_DIMS 8

typedef enum st_dtype {
    ST_F32,
    ST_F16,
    ST_BF16,
    ST_F64,
    ST_I64,
    ST_I32,
    ST_I16,
    ST_I8,
    ST_U64,
    ST_U32,
    ST_U16,
    ST_U8,
    ST_BOOL,
    ST_F8_E4M3,
    ST_F8_E5M2,
} st_dtype;

const char *st_dtype_name(st_dtype dt);
size_t st_dtype_size(st_dtype dt);
bool st_dtype_is_float_weight(st_dtype dt); /* F32, F16 or BF16 */

typedef struct st_tensor {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t numel;
    const void *data; /* into the mapping; not necessarily aligned */
    size_t nbytes;
} st_tensor;

typedef struct st_file {
    char *path;        /* as given, for messages */
    mapped_file map;   /* empty when parsed from memory */
    st_tensor *tensors;
    size_t count;
} st_file;

/* Map and validate a file. Errors name the path and the problem. */
st_file *st_open(const char *path, errbuf *err);

/* Validate a buffer that stays owned by the caller (fuzzing, tests). */
st_file *st_parse(const void *data, size_t size, const char *name, errbuf *err);

void st_close(st_file *f);

const st_tensor *st_find(const st_file *f, const char *name);

#endif
