#include "text/pretokenize.h"

#include <stdint.h>
#include <string.h>

#include "text/unicode_text.h"

/* Case-insensitive match of an ASCII literal at text[at], as the regex module
 * does it: each letter also matches its case variants, and for 's' that
 * includes U+017F LATIN SMALL LETTER LONG S, which lower() leaves in place.
 * Returns the bytes matched, 0 when it does not match. */
static size_t match_literal(const char *text, size_t len, size_t at, const char *lit)
{
    size_t i = at;
    for (const char *p = lit; *p; p++) {
        if (i >= len)
            return 0;
        unsigned char c = (unsigned char)text[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        if (c == (unsigned char)*p) {
            i++;
        } else if (*p == 's' && c == 0xC5 && i + 1 < len && (unsigned char)text[i + 1] == 0xBF) {
            i += 2; /* U+017F */
        } else {
            return 0;
        }
    }
    return i - at;
}

static const char *const literals[] = {
    "<|startoftext|>", "<|endoftext|>", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d",
};

bool piece_scanner_next(piece_scanner *s, size_t *start, size_t *len)
{
    while (s->pos < s->len) {
        size_t at = s->pos;
        char first = s->text[at];
        size_t candidates = first == '<' || first == '\'' ? sizeof literals / sizeof literals[0] : 0;
        for (size_t k = 0; k < candidates; k++) {
            size_t n = match_literal(s->text, s->len, at, literals[k]);
            if (n) {
                *start = at;
                *len = n;
                s->pos = at + n;
                return true;
            }
        }
        int32_t cp;
        size_t i = at + (size_t)utf8_decode(s->text + at, &cp);
        split_class cls = unicode_split_class(cp);
        if (cls == SPLIT_SKIP) {
            s->pos = i;
            continue;
        }
        /* Letters and "other" characters run on; a number is one character. */
        if (cls != SPLIT_NUMBER) {
            while (i < s->len) {
                int n = utf8_decode(s->text + i, &cp);
                if (unicode_split_class(cp) != cls)
                    break;
                i += (size_t)n;
            }
        }
        *start = at;
        *len = i - at;
        s->pos = i;
        return true;
    }
    return false;
}
