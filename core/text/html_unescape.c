#include "text/html_unescape.h"

#include <stdint.h>
#include <string.h>

#include "text/html_entities_table.h"
#include "text/unicode_text.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_NAME_CHARS 32 /* Python's pattern: [^\t\n\f <&#;]{1,32};? */

const char *html5_entity_text(const char *name, size_t len)
{
    size_t lo = 0, hi = COUNT_OF(html_entities);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *key = html_entities[mid].name;
        size_t klen = strlen(key);
        int c = memcmp(name, key, len < klen ? len : klen);
        if (c == 0)
            c = len < klen ? -1 : len > klen ? 1 : 0;
        if (c == 0)
            return html_entities[mid].text;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static bool is_digit(char c, int base)
{
    if (c >= '0' && c <= '9')
        return true;
    return base == 16 && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'));
}

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    return (c | 0x20) - 'a' + 10;
}

/* The text a numeric reference stands for, as Python's _replace_charref. */
static bool append_number(uint32_t number, byte_buffer *out)
{
    for (size_t i = 0; i < COUNT_OF(html_charref_fixups); i++) {
        if (html_charref_fixups[i].number == number) {
            const char *t = html_charref_fixups[i].text;
            return byte_buffer_append(out, t, strlen(t));
        }
    }
    if ((number >= 0xD800 && number <= 0xDFFF) || number > 0x10FFFF)
        return byte_buffer_append(out, "\xEF\xBF\xBD", 3);
    for (size_t i = 0; i < COUNT_OF(html_dropped_codepoints); i++) {
        if (number >= html_dropped_codepoints[i].first && number <= html_dropped_codepoints[i].last)
            return true;
    }
    char buf[4];
    return byte_buffer_append(out, buf, (size_t)utf8_encode((int32_t)number, buf));
}

/* s[at] is '&' and s[at + 1] is '#'. Returns the bytes consumed, or 0 when
 * no numeric reference starts here. */
static size_t unescape_number(const char *s, size_t len, size_t at, byte_buffer *out, bool *ok)
{
    size_t i = at + 2;
    int base = 10;
    /* Python tries '#[0-9]+' before '#[xX][0-9a-fA-F]+'. */
    if (i < len && !is_digit(s[i], 10)) {
        if (!(s[i] == 'x' || s[i] == 'X') || i + 1 >= len || !is_digit(s[i + 1], 16))
            return 0;
        base = 16;
        i++;
    }
    if (i >= len)
        return 0;
    uint32_t number = 0;
    while (i < len && is_digit(s[i], base)) {
        number = number * (uint32_t)base + (uint32_t)digit_value(s[i]);
        if (number > 0x10FFFF)
            number = 0x110000; /* saturate: all such numbers read the same */
        i++;
    }
    if (i < len && s[i] == ';')
        i++;
    *ok = append_number(number, out);
    return i - at;
}

static bool is_name_char(char c)
{
    return c != '\t' && c != '\n' && c != '\f' && c != ' ' && c != '<' && c != '&' && c != '#' &&
           c != ';';
}

/* s[at] is '&'. Returns the bytes consumed by a named reference (matched or
 * not, like Python's regex), or 0 when no name follows the '&'. */
static size_t unescape_name(const char *s, size_t len, size_t at, byte_buffer *out, bool *ok)
{
    size_t start = at + 1, i = start;
    size_t chars = 0, ascii_chars = 0;
    bool all_ascii = true;
    while (i < len && chars < MAX_NAME_CHARS && is_name_char(s[i])) {
        int32_t cp;
        int n = utf8_decode(s + i, &cp);
        if (cp >= 0x80)
            all_ascii = false;
        else if (all_ascii)
            ascii_chars++;
        i += (size_t)n;
        chars++;
    }
    if (chars == 0)
        return 0;
    bool semicolon = i < len && s[i] == ';';
    if (semicolon)
        i++;
    const char *text = html5_entity_text(s + start, i - start);
    if (text) {
        *ok = byte_buffer_append(out, text, strlen(text));
        return i - at;
    }
    /* The longest known prefix, at least two characters; prefixes stop short
     * of the whole match (so the full name only counts when ';' followed). */
    size_t longest = semicolon ? chars : chars - 1;
    if (longest > ascii_chars)
        longest = ascii_chars; /* entity names are ASCII */
    for (size_t x = longest; x >= 2; x--) {
        text = html5_entity_text(s + start, x);
        if (text) {
            *ok = byte_buffer_append(out, text, strlen(text)) &&
                  byte_buffer_append(out, s + start + x, i - start - x);
            return i - at;
        }
    }
    *ok = byte_buffer_append(out, s + at, i - at);
    return i - at;
}

bool html_unescape(const char *s, size_t len, byte_buffer *out)
{
    const char *amp = memchr(s, '&', len);
    if (!amp)
        return byte_buffer_append(out, s, len);
    if (!byte_buffer_reserve(out, len))
        return false;
    size_t i = 0;
    while (i < len) {
        amp = memchr(s + i, '&', len - i);
        size_t next = amp ? (size_t)(amp - s) : len;
        if (!byte_buffer_append(out, s + i, next - i))
            return false;
        i = next;
        if (i == len)
            break;
        bool ok = true;
        size_t used = 0;
        if (i + 1 < len && s[i + 1] == '#')
            used = unescape_number(s, len, i, out, &ok);
        else
            used = unescape_name(s, len, i, out, &ok);
        if (!ok)
            return false;
        if (used == 0) { /* a lone '&' */
            if (!byte_buffer_push(out, '&'))
                return false;
            used = 1;
        }
        i += used;
    }
    return true;
}
