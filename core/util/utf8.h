/* utf8: encoding one code point (JSON escapes, the tokenizer's tables). */
#ifndef VKCLIP_UTF8_H
#define VKCLIP_UTF8_H

#include <stdint.h>

/* Writes the UTF-8 bytes of a code point (0..0x10FFFF) and returns their count (1..4). */
int utf8_encode(int32_t cp, char out[4]);

#endif
