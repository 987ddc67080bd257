/* text_clean: the text cleanup of CLIP's tokenizer, as OpenAI's
 * simple_tokenizer.py does it:
 *
 *   ftfy.fix_text -> html.unescape twice -> strip -> every run of \s to one
 *   space -> strip -> lower()
 *
 * ftfy is not replicated. Its last step, NFC normalisation, is done here in
 * its place; its other fixes are not: mojibake repair ("cafÃ©" -> "café"),
 * curly quotes to straight ones (’ -> '), Latin ligatures (ﬁ -> fi),
 * full-width characters to half-width (Ａ -> A), removal of control
 * characters and terminal escapes, and its own first round of HTML
 * unescaping. Text that has none of these (plain prompts) comes out the same.
 */
#ifndef VKCLIP_TEXT_CLEAN_H
#define VKCLIP_TEXT_CLEAN_H

#include <stdbool.h>
#include <stddef.h>

#include "text/byte_buffer.h"

/* Cleans the valid UTF-8 text into out (replacing its content). False when
 * memory runs out. */
bool clip_text_clean(const char *text, size_t len, byte_buffer *out);

#endif
