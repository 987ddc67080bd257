/* byte_buffer: a growable byte string (the text cleanup passes hand one to the next). */
#ifndef VKCLIP_BYTE_BUFFER_H
#define VKCLIP_BYTE_BUFFER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct byte_buffer {
    char *data; /* NUL-terminated once anything was appended */
    size_t len;
    size_t cap;
} byte_buffer;

/* Each returns false when memory runs out (the buffer stays valid). */
bool byte_buffer_reserve(byte_buffer *b, size_t extra);
bool byte_buffer_append(byte_buffer *b, const void *bytes, size_t n);
bool byte_buffer_push(byte_buffer *b, char c);
void byte_buffer_clear(byte_buffer *b);
void byte_buffer_free(byte_buffer *b);

#endif
