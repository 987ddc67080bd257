/* ftfy.fix_text's deterministic steps (core/text/text_fixes.c) on vectors
 * derived by hand from ftfy's documentation, not from any implementation:
 *
 *   [config] "Configuring ftfy", https://ftfy.readthedocs.io/en/latest/config.html:
 *            TextFixerConfig's defaults; "if the text changed, it will run them
 *            through again"; unescape_html "auto" is disabled "when a literal <
 *            character appears"
 *   [fixes]  '"Fixer" functions', https://ftfy.readthedocs.io/en/latest/fixes.html:
 *            the docstring (and its examples) of each step
 *   [fix_text] the docstring of ftfy.fix_text: "fixes text in independent
 *            segments, which are usually lines of text"
 *   [order]  the order of the steps in ftfy.fix_and_explain (ftfy 6.3.1,
 *            ftfy/__init__.py): unescape_html, fix_encoding, fix_c1_controls,
 *            fix_latin_ligatures, fix_character_width, uncurl_quotes,
 *            fix_line_breaks, fix_surrogates, remove_terminal_escapes,
 *            remove_control_chars, NFC
 *
 * Then the whole cleanup (ftfy, html.unescape twice, whitespace, lower()) on
 * a few prompts whose steps interact, and, with the fixture vocabulary, that
 * a prompt typed with curly quotes, ligatures or full-width letters gives the
 * ids of the plain prompt ftfy turns it into. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "text/text_clean.h"
#include "text/text_fixes.h"
#include "text/tokenizer.h"

typedef struct vector {
    const char *why;
    const char *in, *out;
} vector;

static const vector fix_vectors[] = {
    /* [fixes] uncurl_quotes: print(uncurl_quotes('\u201chere\u2019s a test\u201d')) -> "here's a test" */
    {"uncurl_quotes example", "\u201chere\u2019s a test\u201d", "\"here's a test\""},
    /* [fixes] uncurl_quotes replaces curly quotation marks: single low-9 and reversed forms too */
    {"single and double low-9 quotes", "\u201aa\u201b \u201eb\u201f", "'a' \"b\""},
    /* [fixes] fix_latin_ligatures: print(fix_latin_ligatures("ﬂuﬃeﬆ")) -> fluffiest */
    {"ligatures example", "\ufb02u\ufb03e\ufb06", "fluffiest"},
    /* [fixes] "single-character ligatures of Latin letters, such as 'ﬁ'" */
    {"fi ligature", "\ufb01sh", "fish"},
    /* [fixes] "We leave ligatures in other scripts alone" (Armenian ﬓ, Hebrew ﭏ) */
    {"other scripts' ligatures stay", "\ufb13 \ufb4f", "\ufb13 \ufb4f"},
    /* [fixes] fix_character_width: "ＬＯＵＤ　ＮＯＩＳＥＳ" -> LOUD NOISES (U+3000 -> ' ') */
    {"width example 1", "\uff2c\uff2f\uff35\uff24\u3000\uff2e\uff2f\uff29\uff33\uff25\uff33", "LOUD NOISES"},
    /* [fixes] fix_character_width: "Ｕﾀｰﾝ" -> Uターン ("this means U-turn") */
    {"width example 2", "\uff35\uff80\uff70\uff9d", "U\u30bf\u30fc\u30f3"},
    /* [fixes] halfwidth katakana and a halfwidth voiced mark: ｶﾞ is カ + U+3099, which NFC
     * (the last step) composes to ガ */
    {"halfwidth voiced mark, then NFC", "\uff76\uff9e", "\u30ac"},
    /* [fixes] fix_line_breaks: "Content-type: text/plain\r\n\r\nHi." -> ...\n\nHi. */
    {"CRLF", "Content-type: text/plain\r\n\r\nHi.", "Content-type: text/plain\n\nHi."},
    /* [fixes] fix_line_breaks: "This is how Microsoft \r trolls Mac users" */
    {"CR", "This is how Microsoft \r trolls Mac users", "This is how Microsoft \n trolls Mac users"},
    /* [fixes] fix_line_breaks: LINE SEPARATOR and PARAGRAPH SEPARATOR */
    {"U+2028 and U+2029", "This string is made of two things:\u2029" "1. Unicode\u2028" "2. Spite",
     "This string is made of two things:\n1. Unicode\n2. Spite"},
    /* [fixes] fix_line_breaks turns NEXT LINE (\x85) into \n on its own, but [order]
     * fix_c1_controls runs first and reads it as Windows-1252 0x85, the ellipsis
     * (fix_line_breaks' own note: "\x85 is very common mojibake for \u2026") */
    {"U+0085 is Windows-1252's ellipsis", "What is this \xc2\x85 I don't even", "What is this \u2026 I don't even"},
    /* [config] fix_c1_controls: C1 controls as their Windows-1252 equivalents (0x80 €,
     * 0x99 ™); 0x93/0x94 are curly quotes, which uncurl_quotes then straightens */
    {"C1 controls", "\xc2\x80 \xc2\x99 \xc2\x93hi\xc2\x94", "\u20ac \u2122 \"hi\""},
    /* [fixes] remove_terminal_escapes example */
    {"terminal escapes example", "\033[36;44mI'm blue, da ba dee da ba doo...\033[0m",
     "I'm blue, da ba dee da ba doo..."},
    /* [fixes] remove_terminal_escapes strips only ESC [ digits/; letter; [order] then
     * remove_control_chars drops the ESC (U+001B is in U+0E..U+1F) of anything else */
    {"not a terminal escape: only the ESC goes", "\033[?25hx", "[?25hx"},
    /* [fixes] remove_control_chars: U+00..U+08, U+0B, U+0E..U+1F, U+7F, U+206A..U+206F,
     * U+FFF9..U+FFFC and U+FEFF are removed */
    {"removed controls", "a\001b\010c\013d\016e\037f\177g\u206ah\u206fi\ufeffj\ufff9k\ufffcl", "abcdefghijkl"},
    /* [fixes] remove_control_chars leaves alone \t \n \f, joiners and bidi marks
     * (U+200C..U+200F, U+202A..U+202E), musical controls, tag characters */
    {"kept controls", "a\tb\nc\fd\u200ce\u200ff\u202ag\u202eh\U0001D173i\U000E0001j",
     "a\tb\nc\fd\u200ce\u200ff\u202ag\u202eh\U0001D173i\U000E0001j"},
    /* [fixes] fix_surrogates: high + low surrogate -> U+1F4A9; low + high -> two U+FFFD.
     * In UTF-8 the surrogates come encoded alone (ED A0..BF xx). */
    {"surrogate pair", "\xed\xa0\xbd\xed\xb2\xa9", "\U0001F4A9"},
    {"surrogates in the wrong order", "\xed\xb2\xa9\xed\xa0\xbd", "\ufffd\ufffd"},
    {"lone surrogate", "a\xed\xa0\x80z", "a\ufffdz"},
    /* [fixes] unescape_html examples */
    {"unescape_html: tag", "&lt;tag&gt;", "<tag>"},
    {"unescape_html: names", "&Jscr;ohn &HilbertSpace;ancock", "\U0001D4A5ohn \u210bancock"},
    {"unescape_html: checkmark", "&checkmark;", "\u2713"},
    {"unescape_html: accent", "P&eacute;rez", "P\u00e9rez"},
    {"unescape_html: all caps", "P&EACUTE;REZ", "P\u00c9REZ"},
    {"unescape_html: all-caps sharp s", "BUNDESSTRA&SZLIG;E", "BUNDESSTRASSE"},
    {"unescape_html: case forms", "&ntilde; &Ntilde; &NTILDE; &nTILDE;", "\u00f1 \u00d1 \u00d1 &nTILDE;"},
    /* [fixes] unescape_html: "this&not that" should not be decoded (no ';') */
    {"no semicolon, no entity", "this&not that", "this&not that"},
    /* [fixes] numeric character references */
    {"numeric references", "it&#x2019;s &#65;&#x42;", "it's AB"},
    /* [config] "If the text changed, it will run them through again": each round
     * decodes one level of &amp; */
    {"nested entities", "&amp;amp;amp; &amp;lt;", "& <"},
    /* [config] again: the full-width ６５ becomes 65 in the first round
     * (fix_character_width), the second decodes &#65; */
    {"width, then an entity", "&#\uff16\uff15;", "A"},
    {"a full-width ampersand", "\uff06amp;", "&"},
    /* [config] unescape_html "auto": off where a literal '<' appears */
    {"'<' keeps entities", "<b>&amp;</b>", "<b>&amp;</b>"},
    /* [fix_text] segments are lines: the first line has no '<' and is unescaped */
    {"'<' on a later line", "a &lt; b\n<i>&amp;</i>", "a < b\n<i>&amp;</i>"},
    /* [fixes] fix_latin_ligatures: ŉ -> ʼn; [order] uncurl_quotes, later in the round,
     * straightens U+02BC (ftfy/chardata.py SINGLE_QUOTE_RE: [\u02bc\u2018-\u201b]) */
    {"n preceded by apostrophe", "\u0149", "'n"},
    /* [config] normalization "NFC" */
    {"NFC", "cafe\u0301", "caf\u00e9"},
    /* fix_encoding is left out (text_fixes.h): mojibake stays */
    {"mojibake is not repaired", "caf\u00c3\u00a9", "caf\u00c3\u00a9"},
    /* plain text is untouched */
    {"plain", "a photo of a cat.", "a photo of a cat."},
    {"empty", "", ""},
};

/* The whole cleanup: ftfy, then html.unescape twice, then whitespace and
 * lower() (text_clean.h; the reference's order). */
static const vector clean_vectors[] = {
    /* ftfy leaves "&not" (no ';'), html.unescape then decodes it */
    {"html.unescape after ftfy", "this&not that", "this\u00ac that"},
    /* ftfy keeps entities beside a '<'; html.unescape twice goes two levels */
    {"'<' then two html.unescape rounds", "<b>&amp;amp;amp;</b>", "<b>&amp;</b>"},
    /* without '<', ftfy decodes every level */
    {"ftfy decodes every level", "Tom &amp;amp;amp; Jerry", "tom & jerry"},
    /* ftfy's all-caps entity, then lower() */
    {"all-caps entity, lowered", "P&EACUTE;REZ", "p\u00e9rez"},
    /* U+0085 becomes an ellipsis before the whitespace cleanup sees it */
    {"NEL is no space", "a\xc2\x85" "b", "a\u2026b"},
    /* U+000B and U+001C are removed by ftfy before the whitespace cleanup */
    {"controls removed before the split", "a\013b in\034side", "ab inside"},
    /* ideographic space -> ' ' -> one space */
    {"full width", "\uff21\uff22\uff23\u3000\uff44\uff45\uff46", "abc def"},
    {"quotes", "it\u2019s \u201cquoted\u201d", "it's \"quoted\""},
};

static void check_vectors(const vector *v, size_t n, bool whole_cleanup)
{
    byte_buffer out = {0};
    for (size_t i = 0; i < n; i++) {
        byte_buffer_clear(&out);
        bool ok = whole_cleanup ? clip_text_clean(v[i].in, strlen(v[i].in), &out)
                                : text_fix(v[i].in, strlen(v[i].in), &out);
        const char *got = out.data ? out.data : "";
        CHECKF(ok && out.len == strlen(v[i].out) && memcmp(got, v[i].out, out.len) == 0,
               "%s: '%s' -> '%s', want '%s'", v[i].why, v[i].in, got, v[i].out);
    }
    byte_buffer_free(&out);
}

/* Long and nested inputs finish quickly (each step is linear). */
static void check_long_inputs(void)
{
    size_t n = 200000;
    char *s = malloc(5 * n + 2);
    for (size_t i = 0; i < n; i++)
        memcpy(s + 5 * i, i % 2 ? "amp;" "&" : "&amp;", 5);
    s[5 * n] = '\0';
    byte_buffer out = {0};
    CHECK(text_fix(s, strlen(s), &out));
    /* "&amp;" then "amp;&" alternating: the pairs collapse level by level */
    size_t amps = 0;
    for (size_t i = 0; i < out.len; i++)
        amps += out.data[i] == '&';
    CHECKF(out.len > 0 && amps >= 1, "%zu bytes", out.len);
    /* "&semi" 100000 times, then ';': each decoded ';' completes the one before */
    for (size_t i = 0; i < n / 2; i++)
        memcpy(s + 5 * i, "&semi", 5);
    s[5 * (n / 2)] = ';';
    s[5 * (n / 2) + 1] = '\0';
    byte_buffer_clear(&out);
    CHECK(text_fix(s, strlen(s), &out));
    CHECKF(out.len == 1 && out.data[0] == ';', "'&semi' x %zu + ';': %zu bytes", n / 2, out.len);
    byte_buffer_free(&out);
    free(s);
}

/* With the real vocabulary: text ftfy fixes gets the ids of its fixed form. */
static void check_same_ids(void)
{
    const char *fixtures = getenv("VKCLIP_FIXTURES");
    if (!fixtures || !*fixtures) {
        fprintf(stderr, "note: VKCLIP_FIXTURES is not set, ids not compared\n");
        return;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/clip-tiny-f32", fixtures);
    errbuf err = {{0}};
    clip_tokenizer *tok = clip_tokenizer_load_dir(dir, &err);
    if (!tok) {
        fprintf(stderr, "note: %s: ids not compared\n", err.msg);
        return;
    }
    static const struct {
        const char *typed, *plain;
    } pairs[] = {
        {"a photo of a \u201ccat\u201d", "a photo of a \"cat\""},
        {"it\u2019s a \ufb01sh", "it's a fish"},
        {"\uff21 \uff30\uff28\uff2f\uff34\uff2f", "A PHOTO"},
        {"a\013photo\033[1m of a dog\033[0m", "aphoto of a dog"},
        {"Tom &amp;amp; Jerry", "Tom & Jerry"},
        {"\xc2\x93" "dog\xc2\x94 \xc2\x85", "\"dog\" \u2026"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        int32_t a[CLIP_CONTEXT_LENGTH], b[CLIP_CONTEXT_LENGTH];
        int na = clip_tokenizer_encode(tok, pairs[i].typed, a, CLIP_CONTEXT_LENGTH, &err);
        int nb = clip_tokenizer_encode(tok, pairs[i].plain, b, CLIP_CONTEXT_LENGTH, &err);
        CHECKF(na > 2 && na == nb && memcmp(a, b, (size_t)na * sizeof *a) == 0,
               "'%s' and '%s' tokenize alike (%d and %d ids)", pairs[i].typed, pairs[i].plain, na, nb);
    }
    clip_tokenizer_free(tok);
}

int main(void)
{
    check_vectors(fix_vectors, sizeof fix_vectors / sizeof fix_vectors[0], false);
    check_vectors(clean_vectors, sizeof clean_vectors / sizeof clean_vectors[0], true);
    check_long_inputs();
    check_same_ids();
    return check_exit();
}
