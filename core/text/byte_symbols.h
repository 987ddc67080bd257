/* byte_symbols: GPT-2's bytes_to_unicode, which gives each byte a printable
 * character so that BPE symbols are text: '!'..'~', '¡'..'¬' and '®'..'ÿ'
 * stand for themselves, the other 68 bytes for U+0100 onwards in byte order. */
#ifndef VKCLIP_BYTE_SYMBOLS_H
#define VKCLIP_BYTE_SYMBOLS_H

#include <stdint.h>

/* The character that stands for byte b. */
int32_t byte_symbol_codepoint(unsigned b);

/* The byte at position i (0..255) of the reference's symbol order (the
 * printable bytes first, then the others): the first 256 vocabulary entries
 * of OpenAI's tokenizer are the symbols in this order. */
unsigned byte_symbol_at(unsigned i);

#endif
