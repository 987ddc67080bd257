#include "text/byte_buffer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

bool byte_buffer_reserve(byte_buffer *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len)
        return false;
    size_t need = b->len + extra + 1; /* + the NUL */
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return false;
    b->data = p;
    b->cap = cap;
    return true;
}

bool byte_buffer_append(byte_buffer *b, const void *bytes, size_t n)
{
    if (!byte_buffer_reserve(b, n))
        return false;
    if (n)
        memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

bool byte_buffer_push(byte_buffer *b, char c)
{
    return byte_buffer_append(b, &c, 1);
}

void byte_buffer_clear(byte_buffer *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void byte_buffer_free(byte_buffer *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
