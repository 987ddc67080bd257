/* Loading a tokenizer: from a Hugging Face model directory (vocab.json +
 * merges.txt) or from OpenAI's bpe_simple_vocab_16e6.txt.gz. Both end in
 * finish_tokenizer, which resolves every merge to ids once, so that encoding
 * never compares strings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "model/json.h"
#include "text/byte_buffer.h"
#include "text/byte_symbols.h"
#include "text/tokenizer_internal.h"
#include "text/unicode_text.h"
#include "util/mapped_file.h"

#define SOT_TEXT "<|startoftext|>"
#define EOT_TEXT "<|endoftext|>"
#define END_OF_WORD "</w>"
#define OPENAI_MERGES (49152 - 256 - 2) /* merges OpenAI's tokenizer uses */
#define MAX_VOCAB_ID ((1 << 24) - 1)    /* far above any real vocabulary */
#define MAX_GZ_TEXT (64u << 20)         /* the real file inflates to 1.3 MB */

typedef struct merge_line {
    const char *left, *right; /* into the merges text */
    size_t left_len, right_len;
    size_t line;              /* 1-based, for messages */
} merge_line;

/* A line "left right" (fields split on runs of spaces or tabs, as Python's
 * str.split()); false unless there are exactly two fields. */
static bool split_merge_line(const char *s, size_t len, merge_line *m)
{
    const char *field[3];
    size_t field_len[3];
    int count = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && s[i] != ' ' && s[i] != '\t')
            i++;
        if (count == 2)
            return false;
        field[count] = s + start;
        field_len[count++] = i - start;
    }
    if (count != 2)
        return false;
    m->left = field[0];
    m->left_len = field_len[0];
    m->right = field[1];
    m->right_len = field_len[1];
    return true;
}

/* The two layouts of a merges file. */
typedef enum merges_format {
    MERGES_TXT, /* Hugging Face: an optional "#version" line, then every line is a merge */
    OPENAI_GZ,  /* OpenAI: a header line, then the first OPENAI_MERGES lines are used */
} merges_format;

/* Splits text into merge lines (pointing into text). Trailing empty lines
 * of a merges.txt are ignored; any other line must hold two symbols. */
static bool parse_merges(const char *name, const char *text, size_t len, merges_format format,
                         merge_line **out, size_t *count, errbuf *err)
{
    size_t max_merges = format == OPENAI_GZ ? OPENAI_MERGES : 0;
    size_t bad_at;
    if (!utf8_is_valid(text, len, &bad_at))
        return errbuf_set(err, "%s: not valid UTF-8 at byte %zu", name, bad_at);
    *out = NULL;
    *count = 0;
    size_t cap = 0, line = 0;
    for (size_t i = 0; i < len && (!max_merges || *count < max_merges);) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        const char *s = text + i;
        size_t n = end - i;
        i = nl ? end + 1 : len;
        line++;
        if (n && s[n - 1] == '\r')
            n--;
        if (line == 1 && (format == OPENAI_GZ || (n >= 8 && memcmp(s, "#version", 8) == 0)))
            continue;
        if (n == 0 && !max_merges) {
            /* Only trailing empty lines are allowed. */
            size_t k = i;
            while (k < len && (text[k] == '\n' || text[k] == '\r'))
                k++;
            if (k == len)
                break;
        }
        if (*count == cap) {
            cap = cap ? cap * 2 : 65536;
            merge_line *grown = realloc(*out, cap * sizeof *grown);
            if (!grown) {
                free(*out);
                *out = NULL;
                return errbuf_set(err, "%s: out of memory", name);
            }
            *out = grown;
        }
        merge_line *m = &(*out)[*count];
        if (!split_merge_line(s, n, m)) {
            free(*out);
            *out = NULL;
            return errbuf_set(err, "%s line %zu: expected two symbols separated by a space",
                              name, line);
        }
        m->line = line;
        (*count)++;
    }
    if (*count < max_merges) {
        free(*out);
        *out = NULL;
        return errbuf_set(err, "%s: %zu merge lines, expected at least %zu", name, *count,
                          max_merges);
    }
    return true;
}

static bool lookup_byte_symbols(clip_tokenizer *tok, const string_id_map *vocab,
                                const char *vocab_name, errbuf *err)
{
    for (unsigned b = 0; b < 256; b++) {
        char sym[4 + sizeof END_OF_WORD];
        int n = utf8_encode(byte_symbol_codepoint(b), sym);
        memcpy(sym + n, END_OF_WORD, sizeof END_OF_WORD);
        tok->byte_id[b] = string_id_map_get(vocab, sym, (size_t)n);
        tok->byte_end_id[b] = string_id_map_get(vocab, sym, strlen(sym));
        int missing_len = tok->byte_id[b] < 0 ? n : tok->byte_end_id[b] < 0 ? (int)strlen(sym) : 0;
        if (missing_len)
            return errbuf_set(err, "%s: byte symbol '%.*s' (byte 0x%02X) is missing", vocab_name,
                              missing_len, sym, b);
    }
    return true;
}

static bool add_merge_rules(clip_tokenizer *tok, const string_id_map *vocab, const char *vocab_name,
                            const char *merges_name, const merge_line *lines, size_t count,
                            errbuf *err)
{
    byte_buffer joined = {0};
    bool ok = true;
    for (size_t k = 0; k < count && ok; k++) {
        const merge_line *m = &lines[k];
        int32_t left = string_id_map_get(vocab, m->left, m->left_len);
        int32_t right = string_id_map_get(vocab, m->right, m->right_len);
        byte_buffer_clear(&joined);
        if (!byte_buffer_append(&joined, m->left, m->left_len) ||
            !byte_buffer_append(&joined, m->right, m->right_len)) {
            ok = errbuf_set(err, "%s: out of memory", merges_name);
            break;
        }
        int32_t result = string_id_map_get(vocab, joined.data, joined.len);
        if (left < 0 || right < 0 || result < 0) {
            const char *missing = left < 0 ? m->left : right < 0 ? m->right : joined.data;
            int missing_len = (int)(left < 0 ? m->left_len : right < 0 ? m->right_len : joined.len);
            ok = errbuf_set(err, "%s line %zu: '%.*s' is not in %s", merges_name, m->line,
                            missing_len, missing, vocab_name);
            break;
        }
        if (!pair_map_put(&tok->merges, left, right, (merge_rule){(int32_t)k, result}))
            ok = errbuf_set(err, "%s: out of memory", merges_name);
    }
    byte_buffer_free(&joined);
    return ok;
}

/* Everything the encoder needs, looked up in the vocabulary by name. */
static bool finish_tokenizer(clip_tokenizer *tok, const string_id_map *vocab,
                             const char *vocab_name, const char *merges_name,
                             const merge_line *lines, size_t count, errbuf *err)
{
    if (!lookup_byte_symbols(tok, vocab, vocab_name, err))
        return false;
    tok->sot = string_id_map_get(vocab, SOT_TEXT, strlen(SOT_TEXT));
    tok->eot = string_id_map_get(vocab, EOT_TEXT, strlen(EOT_TEXT));
    if (tok->sot < 0 || tok->eot < 0)
        return errbuf_set(err, "%s: special token '%s' is missing", vocab_name,
                          tok->sot < 0 ? SOT_TEXT : EOT_TEXT);
    if (!add_merge_rules(tok, vocab, vocab_name, merges_name, lines, count, err))
        return false;
    if (!word_cache_init(&tok->cache))
        return errbuf_set(err, "%s: out of memory", vocab_name);
    return true;
}

static char *join_path(const char *dir, const char *file)
{
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, file);
    return p;
}

/* vocab.json: an object of token text -> integer id, ids unique. */
static bool read_vocab_json(const char *path, string_id_map *vocab, int32_t *vocab_size,
                            errbuf *err)
{
    size_t len;
    char *text = read_text_file(path, &len, err);
    if (!text)
        return false;
    json_doc *doc = json_parse(text, len, err);
    free(text);
    if (!doc)
        return errbuf_prefix(err, "%s", path);
    const json_value *root = json_root(doc);
    bool ok = true;
    uint8_t *seen = NULL;
    int32_t max_id = -1;
    if (root->type != JSON_OBJECT || root->count == 0) {
        ok = errbuf_set(err, "%s: expected an object of token -> id, found %s", path,
                        root->type == JSON_OBJECT ? "an empty object" : json_type_phrase(root->type));
    } else if (!(seen = calloc(MAX_VOCAB_ID + 1, 1))) {
        ok = errbuf_set(err, "%s: out of memory", path);
    }
    for (const json_value *m = ok ? json_first(root) : NULL; m && ok; m = json_next(m)) {
        int64_t id;
        int32_t existing;
        if (!json_integer(m, &id) || id < 0 || id > MAX_VOCAB_ID) {
            ok = errbuf_set(err, "%s: the id of '%s' is not an integer in [0, %d]", path,
                            m->key, MAX_VOCAB_ID);
        } else if (seen[id]) {
            ok = errbuf_set(err, "%s: id %lld is given to more than one token ('%s' among them)",
                            path, (long long)id, m->key);
        } else if (!string_id_map_put(vocab, m->key, m->key_len, (int32_t)id, &existing)) {
            ok = errbuf_set(err, "%s: out of memory", path);
        } else {
            seen[id] = 1;
            if (id > max_id)
                max_id = (int32_t)id;
        }
    }
    free(seen);
    json_free(doc);
    *vocab_size = max_id + 1;
    return ok;
}

clip_tokenizer *clip_tokenizer_load_dir(const char *model_dir, errbuf *err)
{
    clip_tokenizer *tok = calloc(1, sizeof *tok);
    char *vocab_path = join_path(model_dir, "vocab.json");
    char *merges_path = join_path(model_dir, "merges.txt");
    string_id_map vocab = {0};
    merge_line *lines = NULL;
    size_t count = 0, len = 0;
    char *merges_text = NULL;
    bool ok = tok && vocab_path && merges_path;
    if (!ok)
        errbuf_set(err, "%s: out of memory", model_dir);
    ok = ok && read_vocab_json(vocab_path, &vocab, &tok->vocab_size, err);
    ok = ok && (merges_text = read_text_file(merges_path, &len, err)) != NULL;
    ok = ok && parse_merges(merges_path, merges_text, len, MERGES_TXT, &lines, &count, err);
    ok = ok && finish_tokenizer(tok, &vocab, vocab_path, merges_path, lines, count, err);
    free(lines);
    free(merges_text);
    string_id_map_free(&vocab);
    free(vocab_path);
    free(merges_path);
    if (!ok) {
        clip_tokenizer_free(tok);
        return NULL;
    }
    return tok;
}

/* The whole gzip stream of the file, inflated into out. */
static bool inflate_gz_file(const char *path, byte_buffer *out, errbuf *err)
{
    mapped_file mf;
    if (!mapped_file_open(&mf, path, err))
        return false;
    if (mf.size < 2 || mf.data[0] != 0x1F || mf.data[1] != 0x8B) {
        mapped_file_close(&mf);
        return errbuf_set(err, "%s: not a gzip file", path);
    }
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        mapped_file_close(&mf);
        return errbuf_set(err, "%s: cannot start zlib", path);
    }
    z.next_in = (Bytef *)mf.data;
    bool ok = true;
    size_t left = mf.size;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        if (out->len >= MAX_GZ_TEXT) {
            ok = errbuf_set(err, "%s: inflates to more than %u bytes", path, MAX_GZ_TEXT);
            break;
        }
        if (!byte_buffer_reserve(out, 1 << 20)) {
            ok = errbuf_set(err, "%s: out of memory", path);
            break;
        }
        uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
        z.avail_in = chunk;
        z.next_out = (Bytef *)out->data + out->len;
        z.avail_out = 1 << 20;
        rc = inflate(&z, Z_NO_FLUSH);
        out->len += (1u << 20) - z.avail_out;
        out->data[out->len] = '\0';
        left -= chunk - z.avail_in;
        if (rc == Z_STREAM_END)
            break;
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            ok = errbuf_set(err, "%s: corrupt gzip data (%s)", path, z.msg ? z.msg : "zlib error");
            break;
        }
        if (left == 0 && z.avail_out != 0) {
            ok = errbuf_set(err, "%s: gzip data ends early (truncated file?)", path);
            break;
        }
    }
    inflateEnd(&z);
    mapped_file_close(&mf);
    return ok;
}

/* OpenAI's vocabulary: the 256 byte symbols (in bytes_to_unicode's order),
 * the same with "</w>", one entry per merge, then the two special tokens. */
static bool build_openai_vocab(const char *path, const merge_line *lines, size_t count,
                               string_id_map *vocab, errbuf *err)
{
    int32_t next_id = 0, existing;
    bool ok = true;
    for (int with_end = 0; with_end < 2 && ok; with_end++) {
        for (unsigned i = 0; i < 256 && ok; i++) {
            char sym[4 + sizeof END_OF_WORD];
            int n = utf8_encode(byte_symbol_codepoint(byte_symbol_at(i)), sym);
            if (with_end) {
                memcpy(sym + n, END_OF_WORD, strlen(END_OF_WORD));
                n += (int)strlen(END_OF_WORD);
            }
            ok = string_id_map_put(vocab, sym, (size_t)n, next_id++, &existing);
        }
    }
    byte_buffer joined = {0};
    for (size_t k = 0; k < count && ok; k++) {
        byte_buffer_clear(&joined);
        ok = byte_buffer_append(&joined, lines[k].left, lines[k].left_len) &&
             byte_buffer_append(&joined, lines[k].right, lines[k].right_len) &&
             string_id_map_put(vocab, joined.data, joined.len, next_id++, &existing);
        if (ok && existing >= 0) {
            errbuf_set(err, "%s line %zu: merged symbol '%s' is already in the vocabulary", path,
                       lines[k].line, joined.data);
            byte_buffer_free(&joined);
            return false;
        }
    }
    byte_buffer_free(&joined);
    ok = ok && string_id_map_put(vocab, SOT_TEXT, strlen(SOT_TEXT), next_id++, &existing) &&
         string_id_map_put(vocab, EOT_TEXT, strlen(EOT_TEXT), next_id++, &existing);
    if (!ok)
        return errbuf_set(err, "%s: out of memory", path);
    return true;
}

clip_tokenizer *clip_tokenizer_load_bpe_gz(const char *path, errbuf *err)
{
    clip_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) {
        errbuf_set(err, "%s: out of memory", path);
        return NULL;
    }
    byte_buffer text = {0};
    string_id_map vocab = {0};
    merge_line *lines = NULL;
    size_t count = 0;
    bool ok = inflate_gz_file(path, &text, err) &&
              parse_merges(path, text.data, text.len, OPENAI_GZ, &lines, &count, err) &&
              build_openai_vocab(path, lines, count, &vocab, err) &&
              finish_tokenizer(tok, &vocab, path, path, lines, count, err);
    tok->vocab_size = (int32_t)(512 + count + 2);
    free(lines);
    string_id_map_free(&vocab);
    byte_buffer_free(&text);
    if (!ok) {
        clip_tokenizer_free(tok);
        return NULL;
    }
    return tok;
}
