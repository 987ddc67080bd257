#include "model/json.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

struct json_doc {
    json_value *nodes;
    size_t count;
    char *pool; /* every decoded string and key, NUL-terminated */
};

/* Tree links by index while the node array may still move; turned into
 * pointers once parsing is done. pos is where the node (or its key) starts. */
typedef struct link {
    size_t child, next, pos;
} link;

#define NO_NODE ((size_t)-1)

typedef struct parser {
    const unsigned char *s;
    size_t len, pos;
    json_doc *doc;
    link *links;
    size_t cap;
    size_t pool_used;
    errbuf *err;
    bool failed;
} parser;

static bool fail_at(parser *p, size_t pos, const char *what)
{
    if (!p->failed)
        errbuf_set(p->err, "invalid JSON at byte %zu: %s", pos, what);
    p->failed = true;
    return false;
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static size_t new_node(parser *p, json_type type, size_t pos)
{
    if (p->doc->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        json_value *nodes = realloc(p->doc->nodes, cap * sizeof *nodes);
        if (!nodes)
            return NO_NODE;
        p->doc->nodes = nodes;
        link *links = realloc(p->links, cap * sizeof *links);
        if (!links)
            return NO_NODE;
        p->links = links;
        p->cap = cap;
    }
    size_t i = p->doc->count++;
    memset(&p->doc->nodes[i], 0, sizeof p->doc->nodes[i]);
    p->doc->nodes[i].type = type;
    p->links[i] = (link){ NO_NODE, NO_NODE, pos };
    return i;
}

/* ---- strings ---------------------------------------------------------- */

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits of a \u escape at p->pos. */
static bool read_hex4(parser *p, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < 4; i++) {
        if (p->pos + i >= p->len)
            return fail_at(p, p->pos + i, "truncated \\u escape");
        int h = hex_value(p->s[p->pos + i]);
        if (h < 0)
            return fail_at(p, p->pos + i, "bad hex digit in \\u escape");
        v = v * 16 + (unsigned)h;
    }
    p->pos += 4;
    *out = v;
    return true;
}

/* Decodes the string whose opening quote is at p->pos into the pool.
 * The pool holds len bytes: a decoded string plus its NUL never needs more
 * bytes than its quoted source, so the pool cannot overflow. */
static bool parse_string(parser *p, const char **out, size_t *out_len)
{
    size_t start = p->pos++;
    char *dst = p->doc->pool + p->pool_used;
    size_t n = 0;
    for (;;) {
        if (p->pos >= p->len)
            return fail_at(p, start, "unterminated string");
        unsigned char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20)
            return fail_at(p, p->pos, "control character in string");
        if (c < 0x80 && c != '\\') {
            dst[n++] = (char)c;
            p->pos++;
            continue;
        }
        if (c >= 0x80) {
            size_t k = utf8_sequence_length(p->s + p->pos, p->len - p->pos);
            if (!k)
                return fail_at(p, p->pos, "invalid UTF-8 in string");
            memcpy(dst + n, p->s + p->pos, k);
            n += k;
            p->pos += k;
            continue;
        }
        /* an escape */
        size_t esc = p->pos++;
        if (p->pos >= p->len)
            return fail_at(p, start, "unterminated string");
        char e = (char)p->s[p->pos++];
        switch (e) {
        case '"': dst[n++] = '"'; break;
        case '\\': dst[n++] = '\\'; break;
        case '/': dst[n++] = '/'; break;
        case 'b': dst[n++] = '\b'; break;
        case 'f': dst[n++] = '\f'; break;
        case 'n': dst[n++] = '\n'; break;
        case 'r': dst[n++] = '\r'; break;
        case 't': dst[n++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (!read_hex4(p, &cp))
                return false;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return fail_at(p, esc, "unpaired low surrogate in \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
                    return fail_at(p, esc, "unpaired high surrogate in \\u escape");
                p->pos += 2;
                if (!read_hex4(p, &lo))
                    return false;
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return fail_at(p, esc, "unpaired high surrogate in \\u escape");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            n += (size_t)utf8_encode((int32_t)cp, dst + n);
            break;
        }
        default:
            return fail_at(p, esc, "invalid escape in string");
        }
    }
    dst[n] = '\0';
    p->pool_used += n + 1;
    *out = dst;
    *out_len = n;
    return true;
}

/* ---- numbers ---------------------------------------------------------- */

static const double exact_pow10[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* strtod in the "C" sense whatever the process locale (a GStreamer host may
 * have called setlocale): write the token with the locale's decimal point. */
static bool strtod_c_locale(const char *tok, size_t n, double *out)
{
    const char *dp = localeconv()->decimal_point;
    size_t dplen = (dp && *dp) ? strlen(dp) : 1;
    char small[128];
    size_t need = n + dplen + 1;
    char *buf = need <= sizeof small ? small : malloc(need);
    if (!buf)
        return false;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (tok[i] == '.' && dp && *dp) {
            memcpy(buf + k, dp, dplen);
            k += dplen;
        } else {
            buf[k++] = tok[i];
        }
    }
    buf[k] = '\0';
    *out = strtod(buf, NULL);
    if (buf != small)
        free(buf);
    return true;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool parse_number(parser *p, double *out)
{
    size_t start = p->pos;
    const unsigned char *s = p->s;
    bool neg = false;
    uint64_t mant = 0;
    bool mant_exact = true;
    long exp10 = 0;

    if (s[p->pos] == '-') {
        neg = true;
        p->pos++;
    }
    if (p->pos >= p->len || !is_digit(s[p->pos]))
        return fail_at(p, start, "invalid number");
    if (s[p->pos] == '0') {
        p->pos++;
        if (p->pos < p->len && is_digit(s[p->pos]))
            return fail_at(p, start, "leading zero in number");
    } else {
        while (p->pos < p->len && is_digit(s[p->pos])) {
            if (mant < 100000000000000000ull)
                mant = mant * 10 + (uint64_t)(s[p->pos] - '0');
            else
                mant_exact = false;
            p->pos++;
        }
    }
    if (p->pos < p->len && s[p->pos] == '.') {
        p->pos++;
        if (p->pos >= p->len || !is_digit(s[p->pos]))
            return fail_at(p, p->pos, "expected a digit after '.'");
        while (p->pos < p->len && is_digit(s[p->pos])) {
            if (mant < 100000000000000000ull) {
                mant = mant * 10 + (uint64_t)(s[p->pos] - '0');
                exp10--;
            } else if (s[p->pos] != '0') {
                mant_exact = false;
            }
            p->pos++;
        }
    }
    if (p->pos < p->len && (s[p->pos] == 'e' || s[p->pos] == 'E')) {
        p->pos++;
        bool eneg = false;
        if (p->pos < p->len && (s[p->pos] == '+' || s[p->pos] == '-'))
            eneg = s[p->pos++] == '-';
        if (p->pos >= p->len || !is_digit(s[p->pos]))
            return fail_at(p, p->pos, "expected a digit in the exponent");
        long e = 0;
        while (p->pos < p->len && is_digit(s[p->pos])) {
            if (e < 100000) /* saturate: strtod sorts out the extremes */
                e = e * 10 + (s[p->pos] - '0');
            mant_exact = mant_exact && e < 100000;
            p->pos++;
        }
        exp10 += eneg ? -e : e;
    }

    double v;
    /* Clinger's fast path: an exact mantissa and an exact power of ten make
     * one correctly rounded multiply or divide. */
    if (mant_exact && mant <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
        v = (double)mant;
        v = exp10 < 0 ? v / exact_pow10[-exp10] : v * exact_pow10[exp10];
        if (neg)
            v = -v;
    } else if (!strtod_c_locale((const char *)s + start, p->pos - start, &v)) {
        return fail_at(p, start, "out of memory");
    }
    if (isinf(v))
        return fail_at(p, start, "number out of range");
    *out = v;
    return true;
}

/* ---- values ----------------------------------------------------------- */

static size_t parse_value(parser *p, int depth);

static int key_compare(const void *a, const void *b)
{
    const json_value *x = *(const json_value *const *)a;
    const json_value *y = *(const json_value *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static bool same_key(const json_value *a, const json_value *b)
{
    return a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
}

/* Reports the later of two equal keys (members are in text order). */
static bool fail_duplicate(parser *p, size_t later)
{
    char key[64], msg[96];
    const json_value *v = &p->doc->nodes[later];
    json_printable(key, sizeof key, v->key, v->key_len);
    snprintf(msg, sizeof msg, "duplicate key \"%s\"", key);
    return fail_at(p, p->links[later].pos, msg);
}

static bool check_duplicates(parser *p, size_t obj)
{
    size_t n = p->doc->nodes[obj].count;
    if (n < 2)
        return true;
    size_t *idx = malloc(n * sizeof *idx);
    if (!idx)
        return fail_at(p, p->links[obj].pos, "out of memory");
    size_t k = 0;
    for (size_t c = p->links[obj].child; c != NO_NODE; c = p->links[c].next)
        idx[k++] = c;
    bool ok = true;
    if (n <= 8) {
        for (size_t i = 1; i < n && ok; i++)
            for (size_t j = 0; j < i && ok; j++)
                if (same_key(&p->doc->nodes[idx[i]], &p->doc->nodes[idx[j]]))
                    ok = fail_duplicate(p, idx[i]);
    } else {
        const json_value **sorted = malloc(n * sizeof *sorted);
        if (!sorted) {
            free(idx);
            return fail_at(p, p->links[obj].pos, "out of memory");
        }
        for (size_t i = 0; i < n; i++)
            sorted[i] = &p->doc->nodes[idx[i]];
        qsort(sorted, n, sizeof *sorted, key_compare);
        for (size_t i = 1; i < n && ok; i++) {
            if (same_key(sorted[i - 1], sorted[i])) {
                size_t a = (size_t)(sorted[i - 1] - p->doc->nodes);
                size_t b = (size_t)(sorted[i] - p->doc->nodes);
                ok = fail_duplicate(p, a > b ? a : b);
            }
        }
        free(sorted);
    }
    free(idx);
    return ok;
}

static size_t parse_container(parser *p, int depth, bool is_object)
{
    size_t start = p->pos;
    if (depth >= JSON_MAX_DEPTH) {
        fail_at(p, start, "nesting too deep");
        return NO_NODE;
    }
    size_t node = new_node(p, is_object ? JSON_OBJECT : JSON_ARRAY, start);
    if (node == NO_NODE) {
        fail_at(p, start, "out of memory");
        return NO_NODE;
    }
    char close = is_object ? '}' : ']';
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return node;
    }
    size_t last = NO_NODE;
    uint32_t count = 0;
    for (;;) {
        const char *key = NULL;
        size_t key_len = 0, key_pos = p->pos;
        if (is_object) {
            if (p->pos >= p->len || p->s[p->pos] != '"') {
                fail_at(p, p->pos, "expected a string key");
                return NO_NODE;
            }
            if (!parse_string(p, &key, &key_len))
                return NO_NODE;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') {
                fail_at(p, p->pos, "expected ':' after the key");
                return NO_NODE;
            }
            p->pos++;
            skip_ws(p);
        }
        size_t child = parse_value(p, depth + 1);
        if (child == NO_NODE)
            return NO_NODE;
        if (is_object) {
            p->doc->nodes[child].key = key;
            p->doc->nodes[child].key_len = key_len;
            p->links[child].pos = key_pos;
        }
        if (last == NO_NODE)
            p->links[node].child = child;
        else
            p->links[last].next = child;
        last = child;
        if (count == UINT32_MAX) {
            fail_at(p, start, "too many members");
            return NO_NODE;
        }
        count++;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            skip_ws(p);
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            break;
        }
        fail_at(p, p->pos, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
        return NO_NODE;
    }
    p->doc->nodes[node].count = count;
    if (is_object && !check_duplicates(p, node))
        return NO_NODE;
    return node;
}

static bool literal(parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return false;
    p->pos += n;
    return true;
}

static size_t parse_value(parser *p, int depth)
{
    if (p->pos >= p->len) {
        fail_at(p, p->pos, "unexpected end of input");
        return NO_NODE;
    }
    size_t start = p->pos;
    unsigned char c = p->s[p->pos];
    if (c == '{' || c == '[')
        return parse_container(p, depth, c == '{');

    json_type type;
    double number = 0;
    const char *str = NULL;
    size_t str_len = 0;
    if (c == '"') {
        if (!parse_string(p, &str, &str_len))
            return NO_NODE;
        type = JSON_STRING;
    } else if (c == '-' || is_digit(c)) {
        if (!parse_number(p, &number))
            return NO_NODE;
        type = JSON_NUMBER;
    } else if (literal(p, "true")) {
        type = JSON_TRUE;
    } else if (literal(p, "false")) {
        type = JSON_FALSE;
    } else if (literal(p, "null")) {
        type = JSON_NULL;
    } else {
        fail_at(p, start, c == 0xEF ? "unexpected byte (a byte-order mark?)" : "unexpected character");
        return NO_NODE;
    }
    size_t node = new_node(p, type, start);
    if (node == NO_NODE) {
        fail_at(p, start, "out of memory");
        return NO_NODE;
    }
    p->doc->nodes[node].number = number;
    p->doc->nodes[node].str = str;
    p->doc->nodes[node].str_len = str_len;
    return node;
}

json_doc *json_parse(const char *text, size_t len, errbuf *err)
{
    json_doc *doc = calloc(1, sizeof *doc);
    if (!doc) {
        errbuf_set(err, "out of memory");
        return NULL;
    }
    doc->pool = malloc(len ? len : 1);
    if (!doc->pool) {
        free(doc);
        errbuf_set(err, "out of memory");
        return NULL;
    }
    parser p = { .s = (const unsigned char *)text, .len = len, .doc = doc, .err = err };
    skip_ws(&p);
    size_t root = parse_value(&p, 0);
    if (root != NO_NODE) {
        skip_ws(&p);
        if (p.pos != p.len) {
            fail_at(&p, p.pos, "unexpected data after the value");
            root = NO_NODE;
        }
    }
    if (root == NO_NODE) {
        if (!p.failed)
            errbuf_set(err, "invalid JSON");
        free(p.links);
        json_free(doc);
        return NULL;
    }
    /* root is node 0: values are numbered in the order they start */
    for (size_t i = 0; i < doc->count; i++) {
        json_value *v = &doc->nodes[i];
        v->child = p.links[i].child == NO_NODE ? NULL : &doc->nodes[p.links[i].child];
        v->next = p.links[i].next == NO_NODE ? NULL : &doc->nodes[p.links[i].next];
    }
    free(p.links);
    return doc;
}

void json_free(json_doc *doc)
{
    if (!doc)
        return;
    free(doc->nodes);
    free(doc->pool);
    free(doc);
}

const json_value *json_root(const json_doc *doc)
{
    return doc && doc->count ? &doc->nodes[0] : NULL;
}

const json_value *json_get(const json_value *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT)
        return NULL;
    size_t n = strlen(key);
    for (const json_value *m = obj->child; m; m = m->next)
        if (m->key_len == n && memcmp(m->key, key, n) == 0)
            return m;
    return NULL;
}

const json_value *json_first(const json_value *v)
{
    return v && (v->type == JSON_ARRAY || v->type == JSON_OBJECT) ? v->child : NULL;
}

const json_value *json_next(const json_value *v)
{
    return v ? v->next : NULL;
}

const char *json_key(const json_value *member)
{
    return member ? member->key : NULL;
}

const json_value *json_at(const json_value *arr, size_t i)
{
    if (!arr || arr->type != JSON_ARRAY || i >= arr->count)
        return NULL;
    const json_value *v = arr->child;
    while (i-- && v)
        v = v->next;
    return v;
}

bool json_integer(const json_value *v, int64_t *out)
{
    if (!v || v->type != JSON_NUMBER)
        return false;
    double x = v->number;
    if (!(fabs(x) <= 9007199254740992.0) || floor(x) != x)
        return false;
    *out = (int64_t)x;
    return true;
}

void json_printable(char *dst, size_t cap, const char *s, size_t len)
{
    if (cap < 4) {
        if (cap)
            dst[0] = '\0';
        return;
    }
    size_t n = 0;
    bool cut = false;
    for (size_t i = 0; i < len; i++) {
        if (n + 4 >= cap) { /* room for "..." and the NUL */
            cut = true;
            break;
        }
        unsigned char c = (unsigned char)s[i];
        dst[n++] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
    }
    if (cut) { /* drop a partial UTF-8 character at the cut */
        while (n > 0 && ((unsigned char)dst[n - 1] & 0xC0) == 0x80)
            n--;
        if (n > 0 && ((unsigned char)dst[n - 1] & 0xC0) == 0xC0)
            n--;
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = '\0';
}

const char *json_type_phrase(json_type t)
{
    switch (t) {
    case JSON_NULL: return "null";
    case JSON_FALSE: return "false";
    case JSON_TRUE: return "true";
    case JSON_NUMBER: return "a number";
    case JSON_STRING: return "a string";
    case JSON_ARRAY: return "an array";
    case JSON_OBJECT: return "an object";
    }
    return "?";
}
