/* text_fixes: the deterministic part of ftfy.fix_text (ftfy 6.3, its
 * default TextFixerConfig), which OpenAI's tokenizer runs on every prompt
 * before anything else: what ftfy documents in "Configuring ftfy"
 * (https://ftfy.readthedocs.io/en/latest/config.html, TextFixerConfig's
 * defaults) and '"Fixer" functions' (.../fixes.html, one docstring a step),
 * in the order of ftfy.fix_and_explain (ftfy/__init__.py), which repeats the
 * steps until the text stops changing:
 *
 *   The text is fixed in segments: up to and including each '\n', and at
 *   most 1,000,000 characters (max_decode_length). unescape_html="auto":
 *   from the first segment that holds a '<' on, HTML entities are left alone.
 *   Each segment repeats these steps until it no longer changes:
 *
 *   1. unescape_html: "&name;" where name is an HTML5 name that ends in ';'
 *      (no forms without ';'), the all-caps form of a lower-case name that
 *      html.unescape does not know ("&EACUTE;" -> "É", "&SZLIG;" -> "SS"),
 *      and "&#...;" numeric references, with at most 24 letters or digits
 *      between '&' or '&#' and ';'. Repeated within the step until none is
 *      left ("&amp;amp;" -> "&"), which ends where ftfy's repeated rounds end.
 *   2. (fix_encoding, mojibake repair: NOT done, see below)
 *   3. fix_c1_controls: U+0080..U+009F read as Windows-1252 (U+0085 -> '…',
 *      U+0093 -> '“'), the five undefined ones kept.
 *   4. fix_latin_ligatures: ﬁ -> fi, ﬂ -> fl, ĳ -> ij, ǆ -> dž, ŉ -> ʼn, ...
 *   5. fix_character_width: U+FF01..U+FFEF to their NFKC forms (Ａ -> A,
 *      halfwidth katakana to katakana), U+3000 -> ' '.
 *   6. uncurl_quotes: U+02BC and U+2018..U+201B -> ', U+201C..U+201F -> ".
 *   7. fix_line_breaks: CRLF, CR, U+2028, U+2029 and U+0085 -> '\n'.
 *   8. fix_surrogates: a UTF-16 surrogate pair -> the character it encodes,
 *      any other surrogate -> U+FFFD. In UTF-8 a surrogate can only appear
 *      encoded on its own (ED A0..BF xx, what Python's "surrogatepass"
 *      writes); text_fix accepts those bytes. The tokenizer does not: it
 *      takes well-formed UTF-8 only, as Python's strict decoding of a file or
 *      an argument does, so a prompt never reaches this step with one.
 *   9. remove_terminal_escapes: ESC '[' (digits or ';')* letter.
 *  10. remove_control_chars: U+0000..U+0008, U+000B, U+000E..U+001F,
 *      U+007F, U+206A..U+206F, U+FEFF, U+FFF9..U+FFFC.
 *  11. NFC normalisation.
 *
 * Left out: fix_encoding, ftfy's mojibake repair ("cafÃ©" -> "café", with
 * its sub-steps restore_byte_a0, replace_lossy_sequences and
 * decode_inconsistent_utf8). It decides by heuristics (a "badness" score over
 * character classes, tuned on a corpus, that changes between ftfy versions),
 * so it cannot be reproduced exactly; text with mojibake keeps it here.
 * Limit: after 32 rounds a segment is left as it is; ftfy would go on, which
 * only text made to nest (a fullwidth '＆' inside a numeric reference, 32
 * times over) needs. */
#ifndef VKCLIP_TEXT_FIXES_H
#define VKCLIP_TEXT_FIXES_H

#include <stdbool.h>
#include <stddef.h>

#include "text/byte_buffer.h"

/* Appends the fixed form of s, which must be well-formed UTF-8 except that
 * surrogates may appear encoded alone (see step 8). The output is
 * well-formed UTF-8 in NFC. False when memory runs out. */
bool text_fix(const char *s, size_t len, byte_buffer *out);

#endif
