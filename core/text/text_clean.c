#include "text/text_clean.h"

#include "text/html_unescape.h"
#include "text/text_fixes.h"
#include "text/unicode_text.h"

/* Python's strip(), then regex's \s+ -> ' ', then strip() again. The second
 * strip has nothing left to do: the first leaves a non-space at both ends. */
static bool collapse_whitespace(const char *s, size_t len, byte_buffer *out)
{
    size_t begin = 0, end = len;
    while (begin < end) {
        int32_t cp;
        int n = utf8_decode(s + begin, &cp);
        if (!unicode_is_python_space(cp))
            break;
        begin += (size_t)n;
    }
    while (end > begin) {
        size_t i = end - 1;
        while (i > begin && ((unsigned char)s[i] & 0xC0) == 0x80)
            i--;
        int32_t cp;
        utf8_decode(s + i, &cp);
        if (!unicode_is_python_space(cp))
            break;
        end = i;
    }
    if (!byte_buffer_reserve(out, end - begin))
        return false;
    bool in_space = false;
    for (size_t i = begin; i < end;) {
        int32_t cp;
        int n = utf8_decode(s + i, &cp);
        if (unicode_is_white_space(cp)) {
            in_space = true;
        } else {
            if (in_space && !byte_buffer_push(out, ' '))
                return false;
            in_space = false;
            if (!byte_buffer_append(out, s + i, (size_t)n))
                return false;
        }
        i += (size_t)n;
    }
    return true;
}

bool clip_text_clean_ex(const char *text, size_t len, bool text_fixes, byte_buffer *out)
{
    byte_buffer a = {0}, b = {0};
    byte_buffer_clear(out);
    bool ok = (text_fixes ? text_fix(text, len, &a) : unicode_nfc(text, len, &a)) &&
              html_unescape(a.data ? a.data : "", a.len, &b);
    byte_buffer_clear(&a);
    ok = ok && html_unescape(b.data ? b.data : "", b.len, &a);
    byte_buffer_clear(&b);
    ok = ok && collapse_whitespace(a.data ? a.data : "", a.len, &b) &&
         unicode_lower(b.data ? b.data : "", b.len, out);
    byte_buffer_free(&a);
    byte_buffer_free(&b);
    return ok;
}

bool clip_text_clean(const char *text, size_t len, byte_buffer *out)
{
    return clip_text_clean_ex(text, len, true, out);
}
