/* The tokenizer on a tiny hand-made vocabulary (ids derived by hand below)
 * and on bad input: text that is not UTF-8, files that are malformed. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "../check.h"
#include "text/tokenizer.h"

static char dir[] = "/tmp/vkclip-text-XXXXXX";

static void write_file(const char *name, const char *text, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECKF(f, "%s: %s", path, strerror(errno));
    if (f) {
        fwrite(text, 1, len, f);
        fclose(f);
    }
}

static void remove_file(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

/* GPT-2's byte alphabet, written from its definition: printable Latin-1
 * bytes stand for themselves, the rest take U+0100.. in byte order. */
static int32_t byte_char(int b)
{
    int next = 0x100;
    for (int k = 0; k < 256; k++) {
        bool printable = (k >= '!' && k <= '~') || (k >= 0xA1 && k <= 0xAC) || k >= 0xAE;
        int32_t c = printable ? k : next++;
        if (k == b)
            return c;
    }
    return -1;
}

static void json_char(char *out, int32_t c)
{
    if (c == '"' || c == '\\')
        sprintf(out, "\\%c", (char)c);
    else
        sprintf(out, "\\u%04x", (unsigned)c);
}

/* vocab.json: byte b -> id b, b + "</w>" -> 256 + b, then the extra entries. */
static void write_vocab(const char *extra)
{
    size_t cap = 64 * 1024;
    char *text = malloc(cap), *p = text;
    p += sprintf(p, "{");
    for (int end = 0; end < 2; end++) {
        for (int b = 0; b < 256; b++) {
            char c[16];
            json_char(c, byte_char(b));
            p += sprintf(p, "%s\"%s%s\": %d", p == text + 1 ? "" : ", ", c, end ? "</w>" : "",
                         end * 256 + b);
        }
    }
    p += sprintf(p, "%s}", extra);
    write_file("vocab.json", text, (size_t)(p - text));
    free(text);
}

#define GOOD_EXTRA                                                                         \
    ", \"he\": 512, \"ll\": 513, \"hell\": 514, \"hello</w>\": 515, \"<|startoftext|>\": 516, " \
    "\"<|endoftext|>\": 517"
#define GOOD_MERGES "#version: 0.2\nh e\nl l\nhe ll\nhell o</w>\n"

static clip_tokenizer *load(const char *vocab_extra, const char *merges, errbuf *err)
{
    write_vocab(vocab_extra);
    write_file("merges.txt", merges, strlen(merges));
    return clip_tokenizer_load_dir(dir, err);
}

static void expect_ids(clip_tokenizer *tok, const char *text, int max, const int32_t *want, int n)
{
    int32_t ids[128];
    errbuf err = {{0}};
    int got = clip_tokenizer_encode(tok, text, ids, max, &err);
    bool same = got == n && memcmp(ids, want, (size_t)n * sizeof *ids) == 0;
    CHECKF(same, "'%s' (max %d): got %d ids %s", text, max, got, got < 0 ? err.msg : "");
}

static void check_tiny_vocabulary(void)
{
    errbuf err;
    clip_tokenizer *tok = load(GOOD_EXTRA, GOOD_MERGES, &err);
    CHECKF(tok, "%s", err.msg);
    if (!tok)
        return;
    CHECK(clip_tokenizer_sot(tok) == 516 && clip_tokenizer_eot(tok) == 517);
    CHECK(clip_tokenizer_vocab_size(tok) == 518);
    /* h e l l o</w> -> he l l o</w> -> he ll o</w> -> hell o</w> -> hello</w> */
    expect_ids(tok, "hello", 77, (const int32_t[]){516, 515, 517}, 3);
    /* lowercased, whitespace dropped: two pieces "hello" */
    expect_ids(tok, "  HeLLo\t\u3000hello ", 77, (const int32_t[]){516, 515, 515, 517}, 4);
    /* h e l l</w>: (h,e) merges, (l, l</w>) is no merge: he=512 l=108 l</w>=256+108 */
    expect_ids(tok, "hell", 77, (const int32_t[]){516, 512, 108, 364, 517}, 5);
    /* every (l,l) merges in one pass, left to right: ll ll o</w> (o</w> = 256+111) */
    expect_ids(tok, "llllo", 77, (const int32_t[]){516, 513, 513, 367, 517}, 5);
    /* l l l</w>: the first pair merges, the second overlaps it: ll l</w> */
    expect_ids(tok, "lll", 77, (const int32_t[]){516, 513, 364, 517}, 4);
    /* "x." is two pieces: x</w> = 256+'x' (376), .</w> = 256+'.' (302) */
    expect_ids(tok, "x.", 77, (const int32_t[]){516, 376, 302, 517}, 4);
    /* empty and blank text: just the frame */
    expect_ids(tok, "", 77, (const int32_t[]){516, 517}, 2);
    expect_ids(tok, " \t\n ", 77, (const int32_t[]){516, 517}, 2);
    /* special strings inside the text map to their ids */
    expect_ids(tok, "hello<|endoftext|>", 77, (const int32_t[]){516, 515, 517, 517}, 4);
    /* truncation keeps EOT last */
    expect_ids(tok, "hello hello hello", 3, (const int32_t[]){516, 515, 517}, 3);
    expect_ids(tok, "hello hello hello", 2, (const int32_t[]){516, 517}, 2);

    int32_t ids[4];
    err.msg[0] = '\0';
    CHECK(clip_tokenizer_encode(tok, "hello", ids, 1, &err) == -1 && strstr(err.msg, "max_ids"));

    /* Not UTF-8: the offset is of the first byte of the bad sequence. */
    static const struct {
        const char *text;
        const char *where;
    } bad[] = {
        {"\xff", "at byte 0"},              /* never valid */
        {"x\x80", "at byte 1"},             /* lone continuation byte */
        {"abc\xc3", "at byte 3"},           /* cut short */
        {"a\xc0\xaf" "b", "at byte 1"},      /* overlong '/' */
        {"\xed\xa0\x80", "at byte 0"},      /* surrogate U+D800 */
        {"ab\xf4\x90\x80\x80", "at byte 2"}, /* U+110000 */
        {"\xe2\x82 ok", "at byte 0"},       /* 3-byte sequence missing a byte */
        {"ok \xc3\xa9 \xe9t\xe9", "at byte 6"}, /* Latin-1 after valid UTF-8 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = '\0';
        int n = clip_tokenizer_encode(tok, bad[i].text, ids, 4, &err);
        CHECKF(n == -1 && strstr(err.msg, "text is not valid UTF-8") && strstr(err.msg, bad[i].where),
               "bad text %zu: %d, '%s'", i, n, err.msg);
    }
    clip_tokenizer_free(tok);
}

/* Merging goes by passes, as the reference's loop: all occurrences of the
 * lowest-ranked pair merge before a pair that the pass creates is looked
 * at, even when that new pair ranks lower. */
static void check_merge_passes(void)
{
    errbuf err;
    clip_tokenizer *tok = load(", \"ab\": 512, \"aba\": 513, \"<|startoftext|>\": 514, "
                               "\"<|endoftext|>\": 515",
                               "#version: 0.2\nab a\na b\n", &err);
    CHECKF(tok, "%s", err.msg);
    if (!tok)
        return;
    /* a b a b x</w>: (a,b) ranks lowest of the pairs present -> ab ab x</w>;
     * (ab,a) never forms. x</w> = 256 + 'x' = 376. */
    expect_ids(tok, "ababx", 77, (const int32_t[]){514, 512, 512, 376, 515}, 5);
    /* a b a x</w> -> ab a x</w> -> aba x</w> */
    expect_ids(tok, "abax", 77, (const int32_t[]){514, 513, 376, 515}, 4);
    clip_tokenizer_free(tok);
}

static void expect_load_error(const char *what, const char *vocab_extra, const char *merges,
                              const char *message)
{
    errbuf err = {{0}};
    clip_tokenizer *tok = load(vocab_extra, merges, &err);
    CHECKF(!tok && strstr(err.msg, message), "%s: expected '%s', got '%s'", what, message,
           tok ? "(loaded)" : err.msg);
    clip_tokenizer_free(tok);
}

static void check_malformed_files(void)
{
    expect_load_error("no special tokens", ", \"he\": 512, \"ll\": 513, \"hell\": 514, \"hello</w>\": 515",
                      GOOD_MERGES, "special token '<|startoftext|>' is missing");
    expect_load_error("no EOT", ", \"he\": 512, \"ll\": 513, \"hell\": 514, \"hello</w>\": 515, "
                      "\"<|startoftext|>\": 516", GOOD_MERGES, "special token '<|endoftext|>' is missing");
    expect_load_error("merge result missing", GOOD_EXTRA, GOOD_MERGES "o o\n",
                      "merges.txt line 6: 'oo' is not in");
    expect_load_error("three symbols", GOOD_EXTRA, "#version: 0.2\nh e\nl l x\n",
                      "merges.txt line 3: expected two symbols");
    expect_load_error("blank line inside", GOOD_EXTRA, "#version: 0.2\nh e\n\nl l\n",
                      "merges.txt line 3: expected two symbols");
    expect_load_error("merges not UTF-8", GOOD_EXTRA, "#version: 0.2\nh e\nl \xff\n",
                      "merges.txt: not valid UTF-8 at byte 20");
    expect_load_error("id not an integer", GOOD_EXTRA ", \"zz\": 1.5", GOOD_MERGES,
                      "the id of 'zz' is not an integer");
    expect_load_error("id a string", GOOD_EXTRA ", \"zz\": \"7\"", GOOD_MERGES,
                      "the id of 'zz' is not an integer");
    expect_load_error("negative id", GOOD_EXTRA ", \"zz\": -1", GOOD_MERGES,
                      "the id of 'zz' is not an integer");
    expect_load_error("duplicate id", GOOD_EXTRA ", \"zz\": 515", GOOD_MERGES,
                      "id 515 is given to more than one token");

    write_file("vocab.json", "[1, 2]", 6);
    errbuf err = {{0}};
    CHECK(!clip_tokenizer_load_dir(dir, &err) && strstr(err.msg, "vocab.json: expected an object"));
    write_file("vocab.json", "{\"a\": 1,", 8);
    CHECK(!clip_tokenizer_load_dir(dir, &err) && strstr(err.msg, "vocab.json: invalid JSON"));
    write_file("vocab.json", "{\"a\": 1}", 8);
    CHECKF(!clip_tokenizer_load_dir(dir, &err) && strstr(err.msg, "byte symbol '\xc4\x80' (byte 0x00) is missing"),
           "%s", err.msg);
    remove_file("vocab.json");
    CHECK(!clip_tokenizer_load_dir(dir, &err) && strstr(err.msg, "vocab.json"));
    write_vocab(GOOD_EXTRA);
    remove_file("merges.txt");
    CHECK(!clip_tokenizer_load_dir(dir, &err) && strstr(err.msg, "merges.txt"));
    CHECK(!clip_tokenizer_load_dir("/nonexistent-vkclip", &err) && strstr(err.msg, "/nonexistent-vkclip/vocab.json"));
}

/* A merges.txt short of what vocab.json holds is refused, naming the file,
 * unless every token is still made: a byte symbol, a special token or the
 * result of a merge. */
static void check_short_merges(void)
{
    static const char *const short_merges[][2] = {
        {"empty", ""},
        {"header only", "#version: 0.2\n"},
        {"truncated: 'hell' and 'hello</w>' are never made", "#version: 0.2\nh e\nl l\n"},
        {"truncated, no header", "h e\nl l\nhe ll\n"},
    };
    for (size_t i = 0; i < sizeof short_merges / sizeof short_merges[0]; i++) {
        errbuf err = {{0}};
        clip_tokenizer *tok = load(GOOD_EXTRA, short_merges[i][1], &err);
        CHECKF(!tok && strstr(err.msg, "/merges.txt: ") && strstr(err.msg, "truncated") &&
                   strstr(err.msg, "vocab.json") && !strchr(err.msg, '\n'),
               "%s: %s", short_merges[i][0], tok ? "(loaded)" : err.msg);
        clip_tokenizer_free(tok);
    }
    /* The first token never made is named. */
    errbuf err = {{0}};
    clip_tokenizer *tok = load(GOOD_EXTRA, "#version: 0.2\nh e\nl l\n", &err);
    CHECKF(!tok && strstr(err.msg, "its 2 merges do not make 2 of the 518 tokens") && strstr(err.msg, "'hell', id 514"),
           "%s", err.msg);
    clip_tokenizer_free(tok);
    /* A token nothing could make (not even with every merge) is refused too. */
    tok = load(GOOD_EXTRA ", \"xyz\": 518", GOOD_MERGES, &err);
    CHECKF(!tok && strstr(err.msg, "'xyz', id 518"), "%s", tok ? "(loaded)" : err.msg);
    clip_tokenizer_free(tok);

    /* Consistent short files load: a vocabulary of the byte symbols and the
     * special tokens with no merges at all, and one cut to its first merges. */
    tok = load(", \"<|startoftext|>\": 512, \"<|endoftext|>\": 513", "#version: 0.2\n", &err);
    CHECKF(tok, "bytes only: %s", err.msg);
    if (tok)
        expect_ids(tok, "hi", 77, (const int32_t[]){512, 'h', 256 + 'i', 513}, 4);
    clip_tokenizer_free(tok);
    tok = load(", \"he\": 512, \"ll\": 513, \"<|startoftext|>\": 516, \"<|endoftext|>\": 517",
               "#version: 0.2\nh e\nl l\n", &err);
    CHECKF(tok, "first two merges with their tokens: %s", err.msg);
    if (tok) /* he ll o</w> */
        expect_ids(tok, "hello", 77, (const int32_t[]){516, 512, 513, 256 + 'o', 517}, 5);
    clip_tokenizer_free(tok);
}

/* The digest covers both files' bytes. */
static void check_digest(void)
{
    errbuf err = {{0}};
    clip_tokenizer *a = load(GOOD_EXTRA, GOOD_MERGES, &err);
    clip_tokenizer *b = load(GOOD_EXTRA, GOOD_MERGES, &err);
    clip_tokenizer *c = load(GOOD_EXTRA, GOOD_MERGES "\n", &err); /* same merges, other bytes */
    clip_tokenizer *d = load(GOOD_EXTRA ", \"e</w>x\": 600", GOOD_MERGES, &err);
    CHECKF(a && b && c, "%s", err.msg);
    CHECK(!d); /* unreachable token */
    if (a && b && c) {
        CHECK(clip_tokenizer_digest(a) == clip_tokenizer_digest(b));
        CHECK(clip_tokenizer_digest(a) != clip_tokenizer_digest(c));
    }
    clip_tokenizer_free(a);
    clip_tokenizer_free(b);
    clip_tokenizer_free(c);
    clip_tokenizer_free(d);
}

static void check_bad_gz(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/bpe.txt.gz", dir);
    errbuf err = {{0}};

    write_file("bpe.txt.gz", "#version\nh e\n", 13);
    CHECKF(!clip_tokenizer_load_bpe_gz(path, &err) && strstr(err.msg, "not a gzip file"), "%s", err.msg);

    /* A real gzip stream with too few merge lines. */
    gzFile gz = gzopen(path, "wb");
    CHECK(gz != NULL);
    if (!gz)
        return;
    gzputs(gz, "#version: 0.2\nh e\nl l\n");
    gzclose(gz);
    CHECKF(!clip_tokenizer_load_bpe_gz(path, &err) && strstr(err.msg, "expected at least 48894"),
           "%s", err.msg);

    /* The same, cut in the middle of the compressed data. */
    FILE *f = fopen(path, "rb");
    char buf[256];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    write_file("bpe.txt.gz", buf, n - 10);
    CHECKF(!clip_tokenizer_load_bpe_gz(path, &err) && strstr(err.msg, "bpe.txt.gz"), "%s", err.msg);
    CHECKF(strstr(err.msg, "truncated") || strstr(err.msg, "corrupt"), "%s", err.msg);

    /* Not gzip-compressed data behind a gzip magic number. */
    write_file("bpe.txt.gz", "\x1f\x8bXXXXXXXXXXXXXXXXXXXX", 22);
    CHECKF(!clip_tokenizer_load_bpe_gz(path, &err) && strstr(err.msg, "corrupt gzip"), "%s", err.msg);
    remove_file("bpe.txt.gz");
    CHECK(!clip_tokenizer_load_bpe_gz(path, &err) && strstr(err.msg, "cannot open"));
}

int main(void)
{
    if (!mkdtemp(dir)) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    check_tiny_vocabulary();
    check_merge_passes();
    check_malformed_files();
    check_short_merges();
    check_digest();
    check_bad_gz();
    remove_file("vocab.json");
    remove_file("merges.txt");
    rmdir(dir);
    return check_exit();
}
