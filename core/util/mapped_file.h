/* mapped_file: a read-only memory map of a whole file (weights are never
 * copied into the heap; the kernel pages them in as they are uploaded). */
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

/* Read a whole (small) file into a NUL-terminated heap buffer. */
char *read_text_file(const char *path, size_t *len_out, errbuf *err);

#endif
