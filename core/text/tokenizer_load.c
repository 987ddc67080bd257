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
#include "text/content_hash.h"
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

/* reached (NULL, or one flag a vocabulary id) gets every merge's result. */
static bool add_merge_rules(clip_tokenizer *tok, const string_id_map *vocab, const char *vocab_name,
                            const char *merges_name, const merge_line *lines, size_t count,
                            uint8_t *reached, errbuf *err)
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
        else if (reached && result < tok->vocab_size)
            reached[result] = 1;
    }
    byte_buffer_free(&joined);
    return ok;
}

/* A token's text for a message: at most about 40 bytes, cut between
 * characters, control characters and quotes as \xNN. */
static void describe_token(char *out, size_t cap, const char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 8 < cap && o < 40;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F || c == '\'' || c == '\\') {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02X", c);
            i++;
            continue;
        }
        size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (i + n > len)
            break;
        memcpy(out + o, s + i, n);
        o += n;
        i += n;
    }
    out[o] = '\0';
}

/* A merges.txt that is short of what vocab.json holds (truncated, empty,
 * only its header, or from another tokenizer) would tokenize every prompt
 * differently: each token must be a byte symbol, a special token or the
 * result of a merge. */
static bool check_reachable(const clip_tokenizer *tok, const string_id_map *vocab, const uint8_t *present,
                            uint8_t *reached, size_t merges, const char *vocab_name, const char *merges_name,
                            errbuf *err)
{
    for (int b = 0; b < 256; b++)
        reached[tok->byte_id[b]] = reached[tok->byte_end_id[b]] = 1;
    reached[tok->sot] = reached[tok->eot] = 1;
    size_t tokens = 0, unreached = 0;
    int32_t first = -1;
    for (int32_t id = 0; id < tok->vocab_size; id++) {
        if (!present[id])
            continue;
        tokens++;
        if (!reached[id]) {
            unreached++;
            if (first < 0)
                first = id;
        }
    }
    if (!unreached)
        return true;
    size_t len = 0;
    const char *text = string_id_map_key_of(vocab, first, &len);
    char shown[64];
    describe_token(shown, sizeof shown, text ? text : "", text ? len : 0);
    return errbuf_set(err, "%s: its %zu merges do not make %zu of the %zu tokens of %s (the first: '%s', id %d; "
                           "a token is a byte symbol, %s, %s or the result of a merge): the file is truncated "
                           "or belongs to another vocabulary",
                      merges_name, merges, unreached, tokens, vocab_name, shown, first, SOT_TEXT, EOT_TEXT);
}

/* Everything the encoder needs, looked up in the vocabulary by name.
 * present (NULL for OpenAI's file, whose vocabulary the merges make) flags
 * the ids vocab.json gives out, which must all be reachable. */
static bool finish_tokenizer(clip_tokenizer *tok, const string_id_map *vocab,
                             const char *vocab_name, const char *merges_name,
                             const merge_line *lines, size_t count, const uint8_t *present,
                             errbuf *err)
{
    if (!lookup_byte_symbols(tok, vocab, vocab_name, err))
        return false;
    tok->sot = string_id_map_get(vocab, SOT_TEXT, strlen(SOT_TEXT));
    tok->eot = string_id_map_get(vocab, EOT_TEXT, strlen(EOT_TEXT));
    if (tok->sot < 0 || tok->eot < 0)
        return errbuf_set(err, "%s: special token '%s' is missing", vocab_name,
                          tok->sot < 0 ? SOT_TEXT : EOT_TEXT);
    uint8_t *reached = NULL;
    if (present && !(reached = calloc((size_t)tok->vocab_size, 1)))
        return errbuf_set(err, "%s: out of memory", vocab_name);
    bool ok = add_merge_rules(tok, vocab, vocab_name, merges_name, lines, count, reached, err) &&
              (!present || check_reachable(tok, vocab, present, reached, count, vocab_name, merges_name, err));
    free(reached);
    if (!ok)
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

/* vocab.json: an object of token text -> integer id, ids unique. *present
 * gets one flag a possible id (0 .. *vocab_size - 1), set for those given.
 * Two passes: the ids are checked and their largest found first, so the
 * flags take what the vocabulary needs, not the largest possible id. */
static bool parse_vocab_json(const char *name, const char *text, size_t len, string_id_map *vocab,
                             int32_t *vocab_size, uint8_t **present, errbuf *err)
{
    *present = NULL;
    *vocab_size = 0;
    json_doc *doc = json_parse(text, len, err);
    if (!doc)
        return errbuf_prefix(err, "%s", name);
    const json_value *root = json_root(doc);
    bool ok = true;
    int64_t max_id = -1;
    if (root->type != JSON_OBJECT || root->count == 0)
        ok = errbuf_set(err, "%s: expected an object of token -> id, found %s", name,
                        root->type == JSON_OBJECT ? "an empty object" : json_type_phrase(root->type));
    for (const json_value *m = ok ? json_first(root) : NULL; m && ok; m = json_next(m)) {
        int64_t id;
        if (!json_integer(m, &id) || id < 0 || id > MAX_VOCAB_ID)
            ok = errbuf_set(err, "%s: the id of '%s' is not an integer in [0, %d]", name, m->key,
                            MAX_VOCAB_ID);
        else if (id > max_id)
            max_id = id;
    }
    uint8_t *seen = NULL;
    if (ok && !(seen = calloc((size_t)max_id + 1, 1)))
        ok = errbuf_set(err, "%s: out of memory", name);
    for (const json_value *m = ok ? json_first(root) : NULL; m && ok; m = json_next(m)) {
        int64_t id = 0;
        int32_t existing;
        json_integer(m, &id);
        if (seen[id])
            ok = errbuf_set(err, "%s: id %lld is given to more than one token ('%s' among them)", name,
                            (long long)id, m->key);
        else if (!string_id_map_put(vocab, m->key, m->key_len, (int32_t)id, &existing))
            ok = errbuf_set(err, "%s: out of memory", name);
        else
            seen[id] = 1;
    }
    json_free(doc);
    if (!ok) {
        free(seen);
        return false;
    }
    *present = seen;
    *vocab_size = (int32_t)max_id + 1;
    return true;
}

static uint64_t digest_mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    return h;
}

static clip_tokenizer *load_texts(const char *vocab_name, const char *vocab_text, size_t vocab_len,
                                  const char *merges_name, const char *merges_text, size_t merges_len,
                                  errbuf *err)
{
    clip_tokenizer *tok = calloc(1, sizeof *tok);
    string_id_map vocab = {0};
    merge_line *lines = NULL;
    uint8_t *present = NULL;
    size_t count = 0;
    bool ok = tok != NULL;
    if (!ok)
        errbuf_set(err, "%s: out of memory", vocab_name);
    ok = ok && parse_vocab_json(vocab_name, vocab_text, vocab_len, &vocab, &tok->vocab_size, &present, err);
    ok = ok && parse_merges(merges_name, merges_text, merges_len, MERGES_TXT, &lines, &count, err);
    ok = ok && finish_tokenizer(tok, &vocab, vocab_name, merges_name, lines, count, present, err);
    if (ok) {
        uint64_t h = digest_mix(0x76636c6970746f6bull, 1); /* the Hugging Face layout */
        h = digest_mix(h, (uint64_t)vocab_len);
        h = digest_mix(h, content_hash64(vocab_text, vocab_len));
        h = digest_mix(h, (uint64_t)merges_len);
        tok->digest = digest_mix(h, content_hash64(merges_text, merges_len));
    }
    free(present);
    free(lines);
    string_id_map_free(&vocab);
    if (!ok) {
        clip_tokenizer_free(tok);
        return NULL;
    }
    return tok;
}

clip_tokenizer *clip_tokenizer_load_memory(const char *vocab_json, size_t vocab_len, const char *merges_txt,
                                           size_t merges_len, errbuf *err)
{
    return load_texts("vocab.json", vocab_json ? vocab_json : "", vocab_json ? vocab_len : 0, "merges.txt",
                      merges_txt ? merges_txt : "", merges_txt ? merges_len : 0, err);
}

clip_tokenizer *clip_tokenizer_load_dir(const char *model_dir, errbuf *err)
{
    char *vocab_path = join_path(model_dir, "vocab.json");
    char *merges_path = join_path(model_dir, "merges.txt");
    char *vocab_text = NULL, *merges_text = NULL;
    size_t vocab_len = 0, merges_len = 0;
    clip_tokenizer *tok = NULL;
    if (!vocab_path || !merges_path)
        errbuf_set(err, "%s: out of memory", model_dir);
    else if ((vocab_text = read_text_file(vocab_path, &vocab_len, err)) &&
             (merges_text = read_text_file(merges_path, &merges_len, err)))
        tok = load_texts(vocab_path, vocab_text, vocab_len, merges_path, merges_text, merges_len, err);
    free(vocab_text);
    free(merges_text);
    free(vocab_path);
    free(merges_path);
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
              finish_tokenizer(tok, &vocab, path, path, lines, count, NULL, err);
    tok->vocab_size = (int32_t)(512 + count + 2);
    if (ok) {
        uint64_t h = digest_mix(0x76636c6970746f6bull, 2); /* OpenAI's file, as inflated */
        h = digest_mix(h, (uint64_t)text.len);
        tok->digest = digest_mix(h, content_hash64(text.data, text.len));
    }
    free(lines);
    string_id_map_free(&vocab);
    byte_buffer_free(&text);
    if (!ok) {
        clip_tokenizer_free(tok);
        return NULL;
    }
    return tok;
}
