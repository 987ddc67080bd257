/* errbuf: a fixed-size message buffer that failing functions fill in.
 *
 * Convention across core/: a function that can fail returns false (or NULL)
 * and writes one line into an errbuf naming the file or object and the
 * problem, e.g. "model.safetensors: header length 99999 exceeds file size 120".
 * Callers may pass NULL when they do not want the message. */
#ifndef VKCLIP_ERRBUF_H
#define VKCLIP_ERRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define ERRBUF_SIZE 512

typedef struct errbuf {
    char msg[ERRBUF_SIZE];
} errbuf;

#if defined(__GNUC__)
#define ERRBUF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ERRBUF_PRINTF(a, b)
#endif

/* Overwrite the message (no-op when e is NULL). Always returns false so that
 * `return errbuf_set(e, ...);` reads naturally in bool functions. A message
 * longer than the buffer keeps its start and its end (the cause) and loses
 * the middle, marked "...". */
int errbuf_set(errbuf *e, const char *fmt, ...) ERRBUF_PRINTF(2, 3);

/* Prefix the existing message with "prefix: " (adds context on the way up). */
int errbuf_prefix(errbuf *e, const char *fmt, ...) ERRBUF_PRINTF(2, 3);

#endif
