/* mapped_file: a read-only memory map of a whole file (weights are never
 * copied into the heap; the kernel pages them in as they are uploaded), and
 * whole text files read into memory with a size limit.
 *
 * Both refuse, before blocking or reading, what is not a regular file (a
 * FIFO, a device, a directory: see regular_file.h); read_text_stream is the
 * one way to read from a pipe or a FIFO, and it too stops at its limit. */
#ifndef VKCLIP_MAPPED_FILE_H
#define VKCLIP_MAPPED_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "errbuf.h"

typedef struct mapped_file {
    const unsigned char *data; /* NULL for an empty file */
    size_t size;
} mapped_file;

bool mapped_file_open(mapped_file *mf, const char *path, errbuf *err);
void mapped_file_close(mapped_file *mf);

/* The limit of read_text_file: the model's JSON and text files (config.json,
 * preprocessor_config.json, the index, vocab.json, merges.txt) are far
 * smaller; a multilingual vocab.json is about 20 MB. */
#define TEXT_FILE_MAX_BYTES ((size_t)64 << 20)

/* Read a whole regular file of at most TEXT_FILE_MAX_BYTES into a
 * NUL-terminated heap buffer. NULL with "path: ..." in err otherwise
 * ("path: not a regular file (a FIFO)", "path: too large: ..."). */
char *read_text_file(const char *path, size_t *len_out, errbuf *err);

/* The same with a limit of max_bytes; when allow_streams, path may also be a
 * FIFO, a pipe (/dev/fd/N) or a character device, read until its end or
 * until more than max_bytes arrive (an error: "path: too large: ..."). A
 * directory is always refused. */
char *read_text_file_limited(const char *path, size_t max_bytes, bool allow_streams, size_t *len_out,
                             errbuf *err);

#endif
