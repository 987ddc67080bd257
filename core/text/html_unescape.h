/* html_unescape: Python's html.unescape (3.11) on UTF-8 text: HTML5 named
 * references (also those Python accepts without ';', and the longest known
 * prefix of an unknown name), decimal and hex numeric references with the
 * HTML5 replacements for invalid numbers. One deliberate difference: a decimal
 * reference over 4300 digits, which makes Python raise ValueError, decodes to
 * U+FFFD like any other number past U+10FFFF. */
#ifndef VKCLIP_HTML_UNESCAPE_H
#define VKCLIP_HTML_UNESCAPE_H

#include <stdbool.h>
#include <stddef.h>

#include "text/byte_buffer.h"

/* The text of the HTML5 named reference name[0..len) (as html.entities.html5
 * spells it, with its ';' where it has one), or NULL. */
const char *html5_entity_text(const char *name, size_t len);

/* Appends the unescaped form of the valid UTF-8 s. False when memory runs out. */
bool html_unescape(const char *s, size_t len, byte_buffer *out);

#endif
