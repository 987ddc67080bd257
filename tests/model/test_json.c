/* JSON parser: values against hand-written expectations (C literals, byte
 * offsets counted by hand), errors, limits, and the fixture vocab.json. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "model/json.h"
#include "util/mapped_file.h"

#define CHECK_MSG(msg, part) CHECKF(strstr((msg), (part)) != NULL, "message \"%s\" lacks \"%s\"", (msg), (part))

static double parse_number(const char *text)
{
    errbuf err = { "" };
    json_doc *d = json_parse(text, strlen(text), &err);
    CHECKF(d != NULL, "%s: %s", text, err.msg);
    double v = NAN;
    if (d && json_root(d)->type == JSON_NUMBER)
        v = json_root(d)->number;
    json_free(d);
    return v;
}

/* Expect a failure whose message has this byte offset and text. */
static void expect_error_n(const char *text, size_t len, size_t offset, const char *what)
{
    errbuf err = { "" };
    json_doc *d = json_parse(text, len, &err);
    CHECKF(d == NULL, "accepted: %.*s", (int)len, text);
    json_free(d);
    char where[64];
    snprintf(where, sizeof where, "invalid JSON at byte %zu: ", offset);
    CHECK_MSG(err.msg, where);
    CHECK_MSG(err.msg, what);
}

static void expect_error(const char *text, size_t offset, const char *what)
{
    expect_error_n(text, strlen(text), offset, what);
}

static void test_numbers(void)
{
    /* the compiler's own conversion of the same literal is the reference */
    CHECK(parse_number("0") == 0.0);
    CHECK(parse_number("0.1") == 0.1);
    CHECK(parse_number("1e-05") == 1e-05);
    CHECK(parse_number("0.48145466") == 0.48145466);
    CHECK(parse_number("0.26862954") == 0.26862954);
    CHECK(parse_number("0.00392156862745098") == 0.00392156862745098);
    CHECK(parse_number("2.6592") == 2.6592);
    CHECK(parse_number("1E2") == 100.0);
    CHECK(parse_number("1e+2") == 100.0);
    CHECK(parse_number("1.5e-3") == 1.5e-3);
    CHECK(parse_number("-12.75") == -12.75);
    CHECK(parse_number("123456789012345678901234567890") == 123456789012345678901234567890.0);
    CHECK(parse_number("9007199254740993") == 9007199254740992.0); /* 2^53+1: ties to even */
    CHECK(parse_number("2.2250738585072014e-308") == DBL_MIN);
    CHECK(parse_number("4.9406564584124654e-324") == 4.9406564584124654e-324);
    CHECK(parse_number("1.7976931348623157e308") == DBL_MAX);
    CHECK(parse_number("0.000000000000000000000000000001") == 1e-30);
    CHECK(parse_number("1e-400") == 0.0); /* underflow is not an error */
    double neg0 = parse_number("-0");
    CHECK(neg0 == 0.0 && signbit(neg0));

    errbuf err;
    json_doc *d = json_parse("[3, 3.0, 3e0, 3.5, 1e20, -5, \"3\"]", 33, &err);
    CHECK(d != NULL);
    const json_value *a = json_root(d);
    int64_t n = 0;
    CHECK(json_integer(json_at(a, 0), &n) && n == 3);
    CHECK(json_integer(json_at(a, 1), &n) && n == 3);
    CHECK(json_integer(json_at(a, 2), &n) && n == 3);
    CHECK(!json_integer(json_at(a, 3), &n));
    CHECK(!json_integer(json_at(a, 4), &n)); /* beyond 2^53: not exact */
    CHECK(json_integer(json_at(a, 5), &n) && n == -5);
    CHECK(!json_integer(json_at(a, 6), &n));
    CHECK(json_at(a, 7) == NULL);
    json_free(d);
}

static void test_strings(void)
{
    const char *text = "[\"\\u00e9\", \"\\ud83d\\ude00\", \"a\\u0000b\", \"\\\"\\\\\\/\\b\\f\\n\\r\\t\", "
                       "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\", \"\"]";
    errbuf err = { "" };
    json_doc *d = json_parse(text, strlen(text), &err);
    CHECKF(d != NULL, "%s", err.msg);
    if (!d)
        return;
    const json_value *a = json_root(d);
    CHECK(a->type == JSON_ARRAY && a->count == 6);
    const json_value *s = json_at(a, 0);
    CHECK(s->type == JSON_STRING && s->str_len == 2 && memcmp(s->str, "\xc3\xa9", 3) == 0);
    s = json_at(a, 1); /* U+1F600 from a surrogate pair */
    CHECK(s->str_len == 4 && memcmp(s->str, "\xf0\x9f\x98\x80", 5) == 0);
    s = json_at(a, 2);
    CHECK(s->str_len == 3 && memcmp(s->str, "a\0b", 4) == 0);
    s = json_at(a, 3);
    CHECK(s->str_len == 8 && memcmp(s->str, "\"\\/\b\f\n\r\t", 9) == 0);
    s = json_at(a, 4); /* raw UTF-8 passes through */
    CHECK(s->str_len == 9 && strcmp(s->str, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80") == 0);
    s = json_at(a, 5);
    CHECK(s->str_len == 0 && s->str[0] == '\0');
    json_free(d);
}

static void test_structure(void)
{
    const char *text = " {\"b\": [1, {\"x\": null}], \"a\": true, \"c\": false, \"\": \"empty\"} \n";
    errbuf err = { "" };
    json_doc *d = json_parse(text, strlen(text), &err);
    CHECKF(d != NULL, "%s", err.msg);
    if (!d)
        return;
    const json_value *o = json_root(d);
    CHECK(o->type == JSON_OBJECT && o->count == 4);
    /* members in text order */
    const char *order[] = { "b", "a", "c", "" };
    int i = 0;
    for (const json_value *m = json_first(o); m; m = json_next(m), i++)
        CHECK(i < 4 && strcmp(json_key(m), order[i]) == 0);
    CHECK(i == 4);
    CHECK(json_get(o, "a")->type == JSON_TRUE);
    CHECK(json_get(o, "c")->type == JSON_FALSE);
    CHECK(json_get(o, "")->type == JSON_STRING);
    CHECK(json_get(o, "zz") == NULL);
    CHECK(json_get(json_get(o, "b"), "x") == NULL); /* not an object */
    const json_value *b = json_get(o, "b");
    CHECK(b->type == JSON_ARRAY && b->count == 2);
    CHECK(json_get(json_at(b, 1), "x")->type == JSON_NULL);
    CHECK(json_first(json_at(b, 0)) == NULL); /* a number has no children */
    json_free(d);

    /* empty containers */
    d = json_parse("[{}, []]", 8, &err);
    CHECK(d && json_at(json_root(d), 0)->count == 0 && json_at(json_root(d), 1)->count == 0);
    json_free(d);

    /* the text is (pointer, length): bytes after len are not read */
    d = json_parse("[1,2]garbage", 5, &err);
    CHECK(d && json_root(d)->count == 2);
    json_free(d);

    /* an object with many members checks duplicates by sorting */
    char big[4096];
    size_t n = 0;
    n += (size_t)snprintf(big + n, sizeof big - n, "{");
    for (int k = 0; k < 100; k++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%s\"k%d\":%d", k ? "," : "", k, k);
    snprintf(big + n, sizeof big - n, "}");
    d = json_parse(big, strlen(big), &err);
    CHECK(d && json_root(d)->count == 100 && json_get(json_root(d), "k73")->number == 73);
    json_free(d);
    /* ... and finds one: "k5" again at the end. Offset = length before it. */
    size_t at = strlen(big) - 1;
    snprintf(big + at, sizeof big - at, ",\"k5\":0}");
    expect_error(big, at + 1, "duplicate key \"k5\"");
}

static void test_errors(void)
{
    /* offsets counted by hand from the start of each text */
    expect_error("", 0, "unexpected end of input");
    expect_error("   ", 3, "unexpected end of input");
    expect_error("[", 1, "unexpected end of input");
    expect_error("{\"a\" 1}", 5, "expected ':'");
    expect_error("{\"a\":1", 6, "expected ',' or '}'");
    expect_error("{1:2}", 1, "expected a string key");
    expect_error("[1,]", 3, "unexpected character");
    expect_error("[1 2]", 3, "expected ',' or ']'");
    expect_error("{\"a\":1,\"a\":2}", 7, "duplicate key \"a\"");
    expect_error("1 2", 2, "unexpected data after the value");
    expect_error("\"abc", 0, "unterminated string");
    expect_error("tru", 0, "unexpected character");
    expect_error("nul", 0, "unexpected character");
    expect_error("NaN", 0, "unexpected character");
    expect_error("Infinity", 0, "unexpected character");
    expect_error("+1", 0, "unexpected character");
    expect_error(".5", 0, "unexpected character");
    expect_error("01", 0, "leading zero");
    expect_error("-", 0, "invalid number");
    expect_error("-a", 0, "invalid number");
    expect_error("1.", 2, "expected a digit after '.'");
    expect_error("1.e5", 2, "expected a digit after '.'");
    expect_error("1e", 2, "expected a digit in the exponent");
    expect_error("1e+", 3, "expected a digit in the exponent");
    expect_error("1e400", 0, "number out of range");
    expect_error("[0, -1e400]", 4, "number out of range");
    expect_error("\"a\x01\"", 2, "control character");
    expect_error("\"a\nb\"", 2, "control character");
    expect_error("\"\\q\"", 1, "invalid escape");
    expect_error("\"\\u12G4\"", 5, "bad hex digit");
    expect_error("\"\\u12\"", 5, "bad hex digit");
    expect_error_n("\"\\u12", 5, 5, "truncated \\u escape");
    expect_error("\"\\ud800\"", 1, "unpaired high surrogate");
    expect_error("\"\\ud800\\u0041\"", 1, "unpaired high surrogate");
    expect_error("\"\\udc00\"", 1, "unpaired low surrogate");
    expect_error("\"\xc0\x80\"", 1, "invalid UTF-8");          /* overlong NUL */
    expect_error("\"\xe0\x80\xaf\"", 1, "invalid UTF-8");      /* overlong '/' */
    expect_error("\"\xed\xa0\x80\"", 1, "invalid UTF-8");      /* encoded surrogate */
    expect_error("\"\xf4\x90\x80\x80\"", 1, "invalid UTF-8");  /* above U+10FFFF */
    expect_error("\"\xe2\x82\"", 1, "invalid UTF-8");          /* cut short */
    expect_error("\"ab\x80\"", 3, "invalid UTF-8");            /* stray continuation */
    expect_error("\xef\xbb\xbf{}", 0, "byte-order mark");
    expect_error_n("[1,2]", 4, 4, "expected ',' or ']'");      /* length, not NUL, ends it */
    expect_error_n("\"a\0b\"", 5, 2, "control character");    /* raw NUL in a string */
    expect_error_n("[1]\0", 4, 3, "unexpected data after the value");
}

static void test_depth(void)
{
    char deep[2 * (JSON_MAX_DEPTH + 1) + 1];
    /* JSON_MAX_DEPTH nested arrays parse */
    memset(deep, '[', JSON_MAX_DEPTH);
    memset(deep + JSON_MAX_DEPTH, ']', JSON_MAX_DEPTH);
    errbuf err = { "" };
    json_doc *d = json_parse(deep, 2 * JSON_MAX_DEPTH, &err);
    CHECKF(d != NULL, "%s", err.msg);
    json_free(d);
    /* one more is refused where the extra bracket opens */
    memset(deep, '[', JSON_MAX_DEPTH + 1);
    memset(deep + JSON_MAX_DEPTH + 1, ']', JSON_MAX_DEPTH + 1);
    expect_error_n(deep, 2 * (JSON_MAX_DEPTH + 1), JSON_MAX_DEPTH, "nesting too deep");
    /* a deep object nest too: {"a":{"a":...}} */
    char obj[8 * 200];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(obj + n, sizeof obj - n, "{\"a\":");
    expect_error_n(obj, n, 5 * JSON_MAX_DEPTH, "nesting too deep");
}

static void test_printable(void)
{
    char buf[16];
    json_printable(buf, sizeof buf, "ab\ncd", 5);
    CHECK(strcmp(buf, "ab?cd") == 0);
    json_printable(buf, sizeof buf, "0123456789abcdefghij", 20);
    CHECK(strcmp(buf, "0123456789ab...") == 0);
    /* the cut does not split the 2-byte e-acute */
    json_printable(buf, 8, "abc\xc3\xa9xyz", 8);
    CHECK(strcmp(buf, "abc...") == 0);
}

/* vocab.json of the fixture: the real CLIP vocabulary. The ids are from
 * docs/clip-reference.md ("a photo of a cat." -> 320 1125 539 320 2368 269). */
static void test_vocab(void)
{
    const char *fixtures = getenv("VKCLIP_FIXTURES");
    if (!fixtures) {
        fprintf(stderr, "note: VKCLIP_FIXTURES unset; vocab.json part skipped\n");
        return;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/clip-tiny-f32/vocab.json", fixtures);
    errbuf err = { "" };
    size_t len;
    char *text = read_text_file(path, &len, &err);
    if (!text) {
        fprintf(stderr, "note: %s; vocab.json part skipped\n", err.msg);
        return;
    }
    json_doc *d = json_parse(text, len, &err);
    CHECKF(d != NULL, "%s", err.msg);
    if (d) {
        const json_value *o = json_root(d);
        CHECK(o->type == JSON_OBJECT && o->count == 49408);
        struct { const char *tok; int id; } known[] = {
            { "<|startoftext|>", 49406 }, { "<|endoftext|>", 49407 }, { "a</w>", 320 },
            { "photo</w>", 1125 }, { "of</w>", 539 }, { "cat</w>", 2368 }, { ".</w>", 269 },
            { "!", 0 },
        };
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
            const json_value *v = json_get(o, known[i].tok);
            CHECKF(v && v->type == JSON_NUMBER && v->number == known[i].id, "%s", known[i].tok);
        }
        /* ids are 0..49407, each once */
        unsigned char *seen = calloc(49408, 1);
        size_t ok = 0;
        for (const json_value *m = json_first(o); m; m = json_next(m)) {
            int64_t id;
            if (json_integer(m, &id) && id >= 0 && id < 49408 && !seen[id]) {
                seen[id] = 1;
                ok++;
            }
        }
        CHECK(ok == 49408);
        free(seen);
    }
    json_free(d);
    free(text);
}

int main(void)
{
    test_numbers();
    test_strings();
    test_structure();
    test_errors();
    test_depth();
    test_printable();
    test_vocab();
    return check_exit();
}
