/* unicode_text: the Unicode facts CLIP's text cleanup and split rely on, each
 * matching what the Python reference does (libutf8proc underneath; the
 * exceptions are written out in unicode_text.c and checked for every code
 * point by tests/text/check_unicode.py). */
#ifndef VKCLIP_UNICODE_TEXT_H
#define VKCLIP_UNICODE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text/byte_buffer.h"
#include "util/utf8.h"

/* True when s[0..len) is well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing past U+10FFFF); otherwise *bad_at gets the offset of the first
 * byte of the first bad sequence. */
bool utf8_is_valid(const char *s, size_t len, size_t *bad_at);
/* The same, but a UTF-16 surrogate (U+D800..U+DFFF) encoded on its own in
 * three bytes (ED A0..BF 80..BF, Python's "surrogatepass") counts as valid:
 * text_fix turns those into what ftfy's fix_surrogates makes of them. */
bool utf8_is_valid_or_surrogate(const char *s, size_t len, size_t *bad_at);

/* Decodes the code point at s (which must be valid UTF-8); returns its length. */
int utf8_decode(const char *s, int32_t *cp);

/* How the split pattern sees a (lowercased) character. */
typedef enum split_class {
    SPLIT_SKIP,   /* matched by no alternative: whitespace (and U+0345, see .c) */
    SPLIT_LETTER, /* \p{L} */
    SPLIT_NUMBER, /* \p{N} */
    SPLIT_OTHER,  /* [^\s\p{L}\p{N}] */
} split_class;
split_class unicode_split_class(int32_t cp);

/* \s of the `regex` module: the White_Space property (25 characters). */
bool unicode_is_white_space(int32_t cp);
/* Python's str.isspace() (what str.strip() removes): White_Space plus U+001C..U+001F. */
bool unicode_is_python_space(int32_t cp);

/* Appends Python's s.lower() of the valid UTF-8 s (full mapping of U+0130,
 * final sigma). False when memory runs out. */
bool unicode_lower(const char *s, size_t len, byte_buffer *out);
/* Appends the NFC form of the valid UTF-8 s. False when memory runs out. */
bool unicode_nfc(const char *s, size_t len, byte_buffer *out);

#endif
