/* regular_file: opening only what is a regular file, never blocking on the
 * way. open() of a FIFO blocks until a writer appears (forever, for a file
 * put in place of config.json or an image); these functions stat first,
 * open with O_NONBLOCK and check again with fstat, so a FIFO, a device, a
 * socket or a directory is refused with a message instead. */
#ifndef VKCLIP_REGULAR_FILE_H
#define VKCLIP_REGULAR_FILE_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>

#include "errbuf.h"

/* A read-only descriptor (O_CLOEXEC, blocking mode restored) of the regular
 * file at path, or -1 with "path: cannot open: <reason>" or
 * "path: not a regular file (a FIFO)" in err. st (may be NULL) gets fstat's
 * answer for the descriptor. */
int regular_file_open(const char *path, struct stat *st, errbuf *err);

/* The same as a stdio stream opened "rb"; NULL with the message in err. */
FILE *regular_file_fopen(const char *path, errbuf *err);

/* True when something exists at path (stat succeeds; any kind of file).
 * Nothing is opened, so it never blocks: use it instead of a probing
 * fopen(), and let the reader that follows refuse what is not regular. */
bool file_exists(const char *path);

/* "a directory", "a FIFO", "a character device", ... for a st_mode. */
const char *file_kind_name(mode_t mode);

#endif
