/* text_tool: exposes the tokenizer to the Python-driven tests (not installed).
 *
 *   text_tool encode VOCAB PROMPTS.json [MAX_IDS]  one JSON list of ids a line
 *   text_tool clean PROMPTS.json                   one JSON string a line
 *   text_tool unicode                              a line per code point:
 *       hex class(S/L/N/O) isspace(0/1) White_Space(0/1) hex... of lower()
 *
 * VOCAB is a model directory or a .gz merges file; PROMPTS.json a list of strings.
 * With --no-text-fixes first, encode and clean do only NFC where ftfy.fix_text
 * goes (what a reference without the ftfy module does). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/json.h"
#include "text/text_clean.h"
#include "text/tokenizer.h"
#include "text/unicode_text.h"
#include "util/mapped_file.h"

static bool text_fixes = true;

static json_doc *read_prompts(const char *path, errbuf *err)
{
    size_t len;
    char *text = read_text_file(path, &len, err);
    if (!text)
        return NULL;
    json_doc *doc = json_parse(text, len, err);
    free(text);
    if (doc && json_root(doc)->type != JSON_ARRAY) {
        errbuf_set(err, "%s: expected a list of strings", path);
        json_free(doc);
        return NULL;
    }
    return doc;
}

static void print_json_string(const char *s, size_t len)
{
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c == 0x7F)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    puts("\"");
}

static int run_encode(const char *vocab, const char *prompts, int max_ids)
{
    errbuf err;
    size_t n = strlen(vocab);
    clip_tokenizer *tok = n > 3 && strcmp(vocab + n - 3, ".gz") == 0
                              ? clip_tokenizer_load_bpe_gz(vocab, &err)
                              : clip_tokenizer_load_dir(vocab, &err);
    if (!tok) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    clip_tokenizer_set_text_fixes(tok, text_fixes);
    json_doc *doc = read_prompts(prompts, &err);
    if (!doc) {
        fprintf(stderr, "%s\n", err.msg);
        clip_tokenizer_free(tok);
        return 1;
    }
    int32_t *ids = malloc((size_t)max_ids * sizeof *ids);
    for (const json_value *v = json_first(json_root(doc)); v && ids; v = json_next(v)) {
        int count = v->type == JSON_STRING ? clip_tokenizer_encode(tok, v->str, ids, max_ids, &err)
                                           : -1;
        if (count < 0) {
            printf("\"ERROR: %s\"\n", v->type == JSON_STRING ? err.msg : "not a string");
            continue;
        }
        putchar('[');
        for (int i = 0; i < count; i++)
            printf(i ? ", %d" : "%d", ids[i]);
        puts("]");
    }
    free(ids);
    json_free(doc);
    clip_tokenizer_free(tok);
    return 0;
}

static int run_clean(const char *prompts)
{
    errbuf err;
    json_doc *doc = read_prompts(prompts, &err);
    if (!doc) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    byte_buffer out = {0};
    for (const json_value *v = json_first(json_root(doc)); v; v = json_next(v)) {
        size_t bad;
        if (v->type != JSON_STRING || !utf8_is_valid(v->str, v->str_len, &bad) ||
            !clip_text_clean_ex(v->str, v->str_len, text_fixes, &out)) {
            puts("\"ERROR\"");
            continue;
        }
        print_json_string(out.data, out.len);
    }
    byte_buffer_free(&out);
    json_free(doc);
    return 0;
}

static int run_unicode(void)
{
    static const char class_letter[] = {'S', 'L', 'N', 'O'};
    byte_buffer lower = {0};
    for (int32_t cp = 0; cp < 0x110000; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        char buf[4];
        int n = utf8_encode(cp, buf);
        byte_buffer_clear(&lower);
        if (!unicode_lower(buf, (size_t)n, &lower))
            return 1;
        printf("%x %c %d %d", cp, class_letter[unicode_split_class(cp)],
               unicode_is_python_space(cp), unicode_is_white_space(cp));
        for (size_t i = 0; i < lower.len;) {
            int32_t lc;
            i += (size_t)utf8_decode(lower.data + i, &lc);
            printf(" %x", lc);
        }
        putchar('\n');
    }
    byte_buffer_free(&lower);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--no-text-fixes") == 0) {
        text_fixes = false;
        argv++;
        argc--;
    }
    if (argc >= 4 && strcmp(argv[1], "encode") == 0)
        return run_encode(argv[2], argv[3], argc >= 5 ? atoi(argv[4]) : 77);
    if (argc == 3 && strcmp(argv[1], "clean") == 0)
        return run_clean(argv[2]);
    if (argc == 2 && strcmp(argv[1], "unicode") == 0)
        return run_unicode();
    fprintf(stderr, "usage: text_tool [--no-text-fixes] encode VOCAB PROMPTS.json [MAX_IDS] | clean PROMPTS.json | "
                    "unicode\n");
    return 2;
}
