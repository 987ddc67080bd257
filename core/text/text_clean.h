/* text_clean: the text cleanup of CLIP's tokenizer, as OpenAI's
 * simple_tokenizer.py does it:
 *
 *   ftfy.fix_text -> html.unescape twice -> strip -> every run of \s to one
 *   space -> strip -> lower()
 *
 * ftfy.fix_text is text_fix (text_fixes.h): every step of its default
 * configuration that is deterministic (HTML entities, C1 controls as
 * Windows-1252, Latin ligatures, character width, curly quotes, line breaks,
 * surrogates, terminal escapes, control characters, NFC), in ftfy's order.
 * Left out: ftfy's mojibake repair (fix_encoding: "cafÃ©" -> "café"), which
 * works by heuristics; text with mojibake keeps it and may tokenize
 * differently from the reference. Text that needs no fixing (plain prompts)
 * comes out the same either way.
 */
#ifndef VKCLIP_TEXT_CLEAN_H
#define VKCLIP_TEXT_CLEAN_H

#include <stdbool.h>
#include <stddef.h>

#include "text/byte_buffer.h"

/* Cleans the text into out (replacing its content). text is well-formed
 * UTF-8 (with text_fixes, surrogates encoded alone are also repaired, as
 * text_fix does). Without text_fixes only NFC stands in for ftfy.fix_text
 * (what a reference without ftfy does; for tests). False when memory runs
 * out. */
bool clip_text_clean_ex(const char *text, size_t len, bool text_fixes, byte_buffer *out);

/* clip_text_clean_ex with text_fixes. */
bool clip_text_clean(const char *text, size_t len, byte_buffer *out);

#endif
