/* utf8: encoding one code point and checking well-formed sequences (the
 * JSON parser and the tokenizer both need them). */
#ifndef VKCLIP_UTF8_H
#define VKCLIP_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Writes the UTF-8 bytes of a code point (0..0x10FFFF) and returns their count (1..4). */
int utf8_encode(int32_t cp, char out[4]);

/* Length of the well-formed sequence at s[0..avail) (1 to 4), or 0 when it
 * is not one (RFC 3629: no overlongs, no encoded surrogates, nothing above
 * U+10FFFF). avail must be at least 1. */
size_t utf8_sequence_length(const unsigned char *s, size_t avail);

#endif
