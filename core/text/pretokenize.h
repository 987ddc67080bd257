/* pretokenize: splits cleaned text into the pieces that BPE encodes, as the
 * reference's regex.findall with (IGNORECASE)
 *   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 * would: the alternatives are tried in that order at each position, and a
 * position where none matches (whitespace) is skipped. */
#ifndef VKCLIP_PRETOKENIZE_H
#define VKCLIP_PRETOKENIZE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct piece_scanner {
    const char *text; /* valid UTF-8 */
    size_t len;
    size_t pos;
} piece_scanner;

/* The next piece as [*start, *start + *len); false at the end of the text. */
bool piece_scanner_next(piece_scanner *s, size_t *start, size_t *len);

#endif
