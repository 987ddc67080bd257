#include "text/unicode_text.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text/case_context_table.h"

bool utf8_is_valid(const char *s, size_t len, size_t *bad_at)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_sequence_length(p + i, len - i);
        if (n == 0) {
            *bad_at = i;
            return false;
        }
        i += n;
    }
    return true;
}

bool utf8_is_valid_or_surrogate(const char *s, size_t len, size_t *bad_at)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_sequence_length(p + i, len - i);
        if (n == 0 && len - i >= 3 && p[i] == 0xED && p[i + 1] >= 0xA0 && p[i + 1] <= 0xBF &&
            (p[i + 2] & 0xC0) == 0x80)
            n = 3;
        if (n == 0) {
            *bad_at = i;
            return false;
        }
        i += n;
    }
    return true;
}

int utf8_decode(const char *s, int32_t *cp)
{
    const unsigned char *p = (const unsigned char *)s;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if (p[0] < 0xE0) {
        *cp = ((p[0] & 0x1F) << 6) | (p[1] & 0x3F);
        return 2;
    }
    if (p[0] < 0xF0) {
        *cp = ((p[0] & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
        return 3;
    }
    *cp = ((p[0] & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F);
    return 4;
}

bool unicode_is_white_space(int32_t cp)
{
    if (cp < 0x80)
        return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20;
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool unicode_is_python_space(int32_t cp)
{
    /* str.isspace() also counts the information separators (bidi class B/S). */
    return unicode_is_white_space(cp) || (cp >= 0x1C && cp <= 0x1F);
}

split_class unicode_split_class(int32_t cp)
{
    if (unicode_is_white_space(cp))
        return SPLIT_SKIP;
    /* U+0345 (combining ypogegrammeni, Mn) case-folds to a Greek letter; under
     * the reference's IGNORECASE flag the `regex` module then lets neither
     * \p{L} nor [^\s\p{L}\p{N}] match it, so findall skips it like a space. */
    if (cp == 0x345)
        return SPLIT_SKIP;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
        return SPLIT_LETTER;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return SPLIT_NUMBER;
    default:
        return SPLIT_OTHER;
    }
}

static int case_context_kind(int32_t cp)
{
    size_t lo = 0, hi = sizeof case_context_ranges / sizeof case_context_ranges[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if ((uint32_t)cp < case_context_ranges[mid].first)
            hi = mid;
        else if ((uint32_t)cp > case_context_ranges[mid].last)
            lo = mid + 1;
        else
            return case_context_ranges[mid].kind;
    }
    return 0;
}

/* Python's Final_Sigma test for the capital sigma at s[at]: a cased letter
 * before it and none after it, case-ignorable characters skipped both ways. */
static bool is_final_sigma(const char *s, size_t len, size_t at)
{
    size_t i = at;
    int kind = 0;
    while (i > 0) {
        do
            i--;
        while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80);
        int32_t cp;
        utf8_decode(s + i, &cp);
        kind = case_context_kind(cp);
        if (kind != CASE_CONTEXT_IGNORABLE)
            break;
    }
    if (kind != CASE_CONTEXT_CASED)
        return false;
    for (i = at + 2; i < len;) { /* U+03A3 is two bytes */
        int32_t cp;
        i += (size_t)utf8_decode(s + i, &cp);
        kind = case_context_kind(cp);
        if (kind != CASE_CONTEXT_IGNORABLE)
            return kind != CASE_CONTEXT_CASED;
    }
    return true;
}

bool unicode_lower(const char *s, size_t len, byte_buffer *out)
{
    if (!byte_buffer_reserve(out, len))
        return false;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            if (!byte_buffer_push(out, (char)(c >= 'A' && c <= 'Z' ? c + 32 : c)))
                return false;
            i++;
            continue;
        }
        int32_t cp;
        int n = utf8_decode(s + i, &cp);
        int32_t lower;
        if (cp == 0x130) {
            /* The one unconditional multi-character lowercase mapping that
             * str.lower() applies (SpecialCasing.txt): 'İ' -> 'i' + U+0307. */
            if (!byte_buffer_append(out, "i\xCC\x87", 3))
                return false;
            i += (size_t)n;
            continue;
        }
        if (cp == 0x3A3)
            lower = is_final_sigma(s, len, i) ? 0x3C2 : 0x3C3;
        else
            lower = utf8proc_tolower(cp);
        char buf[4];
        if (!byte_buffer_append(out, buf, (size_t)utf8_encode(lower, buf)))
            return false;
        i += (size_t)n;
    }
    return true;
}

static int combining_class(int32_t cp)
{
    return utf8proc_get_property(cp)->combining_class;
}

/* Canonical ordering: a stable sort by combining class of every run of
 * non-starters. utf8proc_map sorts with adjacent swaps, quadratic on a long
 * run of marks (a quarter of a second for 10,000 of them); runs are sorted
 * here by insertion when short and by merging when long. */
static void sort_marks(int32_t *cps, size_t n, int32_t *tmp)
{
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            int32_t c = cps[i];
            int cc = combining_class(c);
            size_t j = i;
            for (; j > 0 && combining_class(cps[j - 1]) > cc; j--)
                cps[j] = cps[j - 1];
            cps[j] = c;
        }
        return;
    }
    size_t half = n / 2;
    sort_marks(cps, half, tmp);
    sort_marks(cps + half, n - half, tmp);
    size_t a = 0, b = half, k = 0;
    while (a < half && b < n)
        tmp[k++] = combining_class(cps[b]) < combining_class(cps[a]) ? cps[b++] : cps[a++];
    while (a < half)
        tmp[k++] = cps[a++];
    while (b < n)
        tmp[k++] = cps[b++];
    memcpy(cps, tmp, n * sizeof *cps);
}

bool unicode_nfc(const char *s, size_t len, byte_buffer *out)
{
    size_t i = 0;
    while (i < len && (unsigned char)s[i] < 0x80)
        i++;
    if (i == len) /* ASCII is already NFC */
        return byte_buffer_append(out, s, len);

    /* Decompose each code point (canonical decompositions are at most 4
     * long; the check below guards anyway), reorder, then compose. */
    size_t cap = len * 4 + 4;
    int32_t *cps = malloc(2 * cap * sizeof *cps);
    if (!cps)
        return false;
    int32_t *tmp = cps + cap;
    size_t n = 0;
    for (i = 0; i < len;) {
        int32_t cp;
        i += (size_t)utf8_decode(s + i, &cp);
        int boundclass = 0;
        utf8proc_ssize_t k = utf8proc_decompose_char(cp, cps + n, (utf8proc_ssize_t)(cap - n),
                                                     UTF8PROC_DECOMPOSE, &boundclass);
        if (k < 0 || (size_t)k > cap - n) { /* cannot happen for valid input */
            free(cps);
            return false;
        }
        n += (size_t)k;
    }
    for (size_t start = 0; start < n;) {
        if (combining_class(cps[start]) == 0) {
            start++;
            continue;
        }
        size_t end = start + 1;
        while (end < n && combining_class(cps[end]) != 0)
            end++;
        if (end - start > 1)
            sort_marks(cps + start, end - start, tmp);
        start = end;
    }
    utf8proc_ssize_t m = utf8proc_normalize_utf32(cps, (utf8proc_ssize_t)n,
                                                  UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    bool ok = m >= 0 && byte_buffer_reserve(out, (size_t)m * 4);
    for (utf8proc_ssize_t k = 0; ok && k < m; k++) {
        char buf[4];
        ok = byte_buffer_append(out, buf, (size_t)utf8_encode(cps[k], buf));
    }
    free(cps);
    return ok;
}
