/* The steps of text_fixes.h, each a pass from one buffer into another. */
#include "text/text_fixes.h"

#include <stdint.h>
#include <string.h>
#include <utf8proc.h>

#include "text/html_unescape.h"
#include "text/text_fixes_table.h"
#include "text/unicode_text.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_SEGMENT_CHARS 1000000 /* ftfy's max_decode_length */
#define MAX_ROUNDS 32
#define MAX_ENTITY_NAME 24        /* ftfy's HTML_ENTITY_RE: &#?[0-9A-Za-z]{1,24}; */

/* Bytes of the sequence a lead byte starts (the input is well-formed). */
static size_t sequence_length(unsigned char c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

static bool push_cp(byte_buffer *out, int32_t cp)
{
    char buf[4];
    return byte_buffer_append(out, buf, (size_t)utf8_encode(cp, buf));
}

static bool has_non_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return true;
    return false;
}

/* ---- 1. unescape_html ---- */

static bool is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static const char *upper_entity_text(const char *name, size_t len)
{
    size_t lo = 0, hi = COUNT_OF(upper_entities);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *key = upper_entities[mid].name;
        size_t klen = strlen(key);
        int c = memcmp(name, key, len < klen ? len : klen);
        if (c == 0)
            c = len < klen ? -1 : len > klen ? 1 : 0;
        if (c == 0)
            return upper_entities[mid].text;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* out ends with ';'. When an entity ftfy decodes ends there, sets *start to
 * where it begins and *text to what it stands for (in scratch for numbers). */
static bool entity_at_end(const byte_buffer *out, byte_buffer *scratch, size_t *start, const char **text,
                          size_t *text_len, bool *ok)
{
    size_t semi = out->len - 1, k = 0;
    while (k <= MAX_ENTITY_NAME && k < semi && is_alnum(out->data[semi - 1 - k]))
        k++;
    if (k == 0 || k > MAX_ENTITY_NAME || k == semi)
        return false;
    size_t name = semi - k; /* the first letter or digit */
    if (out->data[name - 1] == '&') {
        *start = name - 1;
        /* ftfy's HTML_ENTITIES: the names of html5 that end in ';', then the
         * all-caps forms of lower-case ones. */
        const char *t = html5_entity_text(out->data + name, k + 1);
        if (!t)
            t = upper_entity_text(out->data + name, k + 1);
        if (!t)
            return false;
        *text = t;
        *text_len = strlen(t);
        return true;
    }
    if (out->data[name - 1] != '#' || name < 2 || out->data[name - 2] != '&')
        return false;
    /* A "&#...;": what html.unescape makes of it, unless it leaves a ';'
     * (it decoded only part of the match, or nothing). */
    *start = name - 2;
    byte_buffer_clear(scratch);
    if (!html_unescape(out->data + *start, out->len - *start, scratch)) {
        *ok = false;
        return false;
    }
    if (scratch->len && memchr(scratch->data, ';', scratch->len))
        return false;
    *text = scratch->len ? scratch->data : "";
    *text_len = scratch->len;
    return true;
}

/* Each entity is replaced by its text, which is read again as if it had
 * been there: an entity that a replacement completes is decoded too, so the
 * result is what repeating ftfy's single pass until nothing changes gives
 * (entities never overlap, and decoding one never undoes another). Linear:
 * each decoding removes an '&' or shortens the text. */
static bool unescape_entities(const char *s, size_t len, byte_buffer *out)
{
    byte_buffer pending = {0}; /* replacement bytes still to read, the next one last */
    byte_buffer scratch = {0};
    size_t i = 0;
    bool ok = byte_buffer_reserve(out, len);
    while (ok) {
        char c;
        if (pending.len)
            c = pending.data[--pending.len];
        else if (i < len)
            c = s[i++];
        else
            break;
        ok = byte_buffer_push(out, c);
        if (!ok || c != ';')
            continue;
        size_t start = 0, text_len = 0;
        const char *text = NULL;
        if (!entity_at_end(out, &scratch, &start, &text, &text_len, &ok))
            continue;
        out->len = start;
        out->data[start] = '\0';
        for (size_t r = text_len; ok && r-- > 0;)
            ok = byte_buffer_push(&pending, text[r]);
    }
    byte_buffer_free(&pending);
    byte_buffer_free(&scratch);
    return ok;
}

/* ---- 3-6: one character at a time ---- */

static const char *find_char(const text_fix_char *table, size_t n, int32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < table[mid].cp)
            hi = mid;
        else if (cp > table[mid].cp)
            lo = mid + 1;
        else
            return table[mid].text;
    }
    return NULL;
}

typedef enum char_step { FIX_C1, FIX_LIGATURES, FIX_WIDTH, FIX_QUOTES } char_step;

/* Writes the replacement of cp into out and returns true, or returns false
 * (cp stays). ASCII never changes in these steps. */
static bool fix_char(char_step step, int32_t cp, byte_buffer *out, bool *ok)
{
    const char *text = NULL;
    switch (step) {
    case FIX_C1:
        if (cp < 0x80 || cp > 0x9F)
            return false;
        *ok = push_cp(out, c1_as_windows_1252[cp - 0x80]);
        return true;
    case FIX_LIGATURES:
        text = find_char(latin_ligatures, COUNT_OF(latin_ligatures), cp);
        break;
    case FIX_WIDTH:
        if (cp == 0x3000 || (cp >= 0xFF01 && cp <= 0xFFEF))
            text = find_char(width_forms, COUNT_OF(width_forms), cp);
        break;
    case FIX_QUOTES:
        if (cp == 0x2BC || (cp >= 0x2018 && cp <= 0x201B))
            text = "'";
        else if (cp >= 0x201C && cp <= 0x201F)
            text = "\"";
        break;
    }
    if (!text)
        return false;
    *ok = byte_buffer_append(out, text, strlen(text));
    return true;
}

static bool map_chars(const char *s, size_t len, char_step step, byte_buffer *out)
{
    bool ok = byte_buffer_reserve(out, len);
    for (size_t i = 0; ok && i < len;) {
        size_t n = sequence_length((unsigned char)s[i]);
        int32_t cp = (unsigned char)s[i];
        if (n > 1)
            utf8_decode(s + i, &cp);
        if (n == 1 || !fix_char(step, cp, out, &ok))
            ok = ok && byte_buffer_append(out, s + i, n);
        i += n;
    }
    return ok;
}

/* ---- 7. fix_line_breaks ---- */

static bool fix_line_breaks(const char *s, size_t len, byte_buffer *out)
{
    bool ok = byte_buffer_reserve(out, len);
    for (size_t i = 0; ok && i < len;) {
        size_t n = sequence_length((unsigned char)s[i]);
        int32_t cp = (unsigned char)s[i];
        if (n > 1)
            utf8_decode(s + i, &cp);
        if (cp == '\r') {
            ok = byte_buffer_push(out, '\n');
            if (i + 1 < len && s[i + 1] == '\n')
                n = 2;
        } else if (cp == 0x2028 || cp == 0x2029 || cp == 0x85) {
            ok = byte_buffer_push(out, '\n');
        } else {
            ok = byte_buffer_append(out, s + i, n);
        }
        i += n;
    }
    return ok;
}

/* ---- 8. fix_surrogates ---- */

static bool fix_surrogates(const char *s, size_t len, byte_buffer *out)
{
    bool ok = byte_buffer_reserve(out, len);
    for (size_t i = 0; ok && i < len;) {
        size_t n = sequence_length((unsigned char)s[i]);
        int32_t cp = (unsigned char)s[i];
        if (n == 3)
            utf8_decode(s + i, &cp);
        if (cp < 0xD800 || cp > 0xDFFF) {
            ok = byte_buffer_append(out, s + i, n);
            i += n;
            continue;
        }
        int32_t low = 0;
        if (cp <= 0xDBFF && i + 6 <= len && sequence_length((unsigned char)s[i + 3]) == 3)
            utf8_decode(s + i + 3, &low);
        if (low >= 0xDC00 && low <= 0xDFFF) {
            ok = push_cp(out, 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00));
            i += 6;
        } else {
            ok = push_cp(out, 0xFFFD);
            i += 3;
        }
    }
    return ok;
}

/* ---- 9. remove_terminal_escapes: "\033\[((?:\d|;)*)([a-zA-Z])" ---- */

static bool is_decimal_digit(const char *s, size_t len, size_t i, size_t *n)
{
    *n = sequence_length((unsigned char)s[i]);
    if (i + *n > len)
        return false;
    if (*n == 1)
        return s[i] >= '0' && s[i] <= '9';
    int32_t cp;
    utf8_decode(s + i, &cp);
    /* Python's \d on str: any character of category Nd. */
    return (cp < 0xD800 || cp > 0xDFFF) && utf8proc_category(cp) == UTF8PROC_CATEGORY_ND;
}

static bool remove_terminal_escapes(const char *s, size_t len, byte_buffer *out)
{
    bool ok = byte_buffer_reserve(out, len);
    for (size_t i = 0; ok && i < len;) {
        if (s[i] == '\033' && i + 1 < len && s[i + 1] == '[') {
            size_t j = i + 2, n;
            while (j < len && (s[j] == ';' || is_decimal_digit(s, len, j, &n)))
                j += s[j] == ';' ? 1 : n;
            if (j < len && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z'))) {
                i = j + 1;
                continue;
            }
        }
        ok = byte_buffer_push(out, s[i]);
        i++;
    }
    return ok;
}

/* ---- 10. remove_control_chars ---- */

static bool is_removed_control(int32_t cp)
{
    return (cp <= 0x08) || cp == 0x0B || (cp >= 0x0E && cp <= 0x1F) || cp == 0x7F ||
           (cp >= 0x206A && cp <= 0x206F) || cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFC);
}

static bool remove_control_chars(const char *s, size_t len, byte_buffer *out)
{
    bool ok = byte_buffer_reserve(out, len);
    for (size_t i = 0; ok && i < len;) {
        size_t n = sequence_length((unsigned char)s[i]);
        int32_t cp = (unsigned char)s[i];
        if (n > 1)
            utf8_decode(s + i, &cp);
        if (!is_removed_control(cp))
            ok = byte_buffer_append(out, s + i, n);
        i += n;
    }
    return ok;
}

/* ---- the rounds ---- */

typedef struct buffers {
    byte_buffer *cur, *next;
} buffers;

static void advance(buffers *b)
{
    byte_buffer *t = b->cur;
    b->cur = b->next;
    b->next = t;
    byte_buffer_clear(b->next);
}

/* Whether a pass could change s at all (it is skipped otherwise: the same
 * result, sooner). */
typedef enum pass_kind { PASS_LINE_BREAKS, PASS_SURROGATES, PASS_ESCAPES, PASS_CONTROLS, PASS_NFC } pass_kind;

static bool pass_applies(pass_kind k, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (k) {
        case PASS_LINE_BREAKS: /* \r, U+0085 (C2 85), U+2028/U+2029 (E2 80 A8/A9) */
            if (c == '\r' || c == 0xC2 || c == 0xE2)
                return true;
            break;
        case PASS_SURROGATES:
            if (c == 0xED)
                return true;
            break;
        case PASS_ESCAPES:
            if (c == 0x1B)
                return true;
            break;
        case PASS_CONTROLS: /* C0 but \t \n \f \r, DEL, U+206A.. (E2), U+FEFF and U+FFF9.. (EF) */
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\f' && c != '\r') || c == 0x7F || c == 0xE2 ||
                c == 0xEF)
                return true;
            break;
        case PASS_NFC:
            if (c >= 0x80)
                return true;
            break;
        }
    }
    return false;
}

/* One round of ftfy's steps over b->cur (the result is left in b->cur). */
static bool fix_round(buffers *b, bool unescape)
{
    bool ok = true;
    if (unescape && b->cur->len && memchr(b->cur->data, '&', b->cur->len)) {
        ok = unescape_entities(b->cur->data, b->cur->len, b->next);
        advance(b);
    }
    if (ok && has_non_ascii(b->cur->data, b->cur->len)) {
        static const char_step steps[] = {FIX_C1, FIX_LIGATURES, FIX_WIDTH, FIX_QUOTES};
        for (size_t k = 0; ok && k < COUNT_OF(steps); k++) {
            ok = map_chars(b->cur->data, b->cur->len, steps[k], b->next);
            advance(b);
        }
    }
    static const struct {
        pass_kind kind;
        bool (*run)(const char *, size_t, byte_buffer *);
    } passes[] = {{PASS_LINE_BREAKS, fix_line_breaks},
                  {PASS_SURROGATES, fix_surrogates},
                  {PASS_ESCAPES, remove_terminal_escapes},
                  {PASS_CONTROLS, remove_control_chars},
                  {PASS_NFC, unicode_nfc}};
    for (size_t k = 0; ok && k < COUNT_OF(passes); k++) {
        if (!pass_applies(passes[k].kind, b->cur->data, b->cur->len))
            continue;
        ok = passes[k].run(b->cur->data, b->cur->len, b->next);
        advance(b);
    }
    return ok;
}

/* Whether any step could change s: non-ASCII, a control character other
 * than \t \n \f (\r, ESC, ...), or an '&' where entities are decoded. */
static bool needs_fixing(const char *s, size_t len, bool unescape)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x7F || (c < 0x20 && c != '\t' && c != '\n' && c != '\f') || (c == '&' && unescape))
            return true;
    }
    return false;
}

static bool fix_segment(const char *s, size_t len, bool unescape, byte_buffer *out)
{
    if (!needs_fixing(s, len, unescape))
        return byte_buffer_append(out, s, len);
    byte_buffer x = {0}, y = {0};
    buffers b = {&x, &y};
    bool ok = byte_buffer_append(b.cur, s, len);
    for (int round = 0; ok && round < MAX_ROUNDS; round++) {
        byte_buffer before = {0};
        ok = byte_buffer_append(&before, b.cur->data ? b.cur->data : "", b.cur->len) && fix_round(&b, unescape);
        bool same = ok && before.len == b.cur->len && (before.len == 0 || memcmp(before.data, b.cur->data, before.len) == 0);
        byte_buffer_free(&before);
        if (same)
            break;
    }
    ok = ok && byte_buffer_append(out, b.cur->data ? b.cur->data : "", b.cur->len);
    byte_buffer_free(&x);
    byte_buffer_free(&y);
    return ok;
}

bool text_fix(const char *s, size_t len, byte_buffer *out)
{
    bool unescape = true; /* "auto": until a segment holds a '<' */
    for (size_t pos = 0; pos < len;) {
        size_t end = pos, chars = 0;
        while (end < len && chars < MAX_SEGMENT_CHARS) {
            unsigned char c = (unsigned char)s[end];
            end += sequence_length(c);
            chars++;
            if (c == '\n')
                break;
        }
        if (end > len) /* cannot happen for well-formed input */
            end = len;
        if (unescape && memchr(s + pos, '<', end - pos))
            unescape = false;
        if (!fix_segment(s + pos, end - pos, unescape, out))
            return false;
        pos = end;
    }
    return true;
}
