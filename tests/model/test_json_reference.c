/* JSON against Python's json module, run at test time: Python writes
 * strings with every non-ASCII character as a \u escape (surrogate pairs
 * beyond the BMP) and numbers in several notations, each alongside its
 * exact value (UTF-8 bytes, IEEE double bits); our parse must match.
 * argv[1]: a Python 3; the vocab.json strings join in when the fixtures are there. */
#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "model/json.h"
#include "test_files.h"
#include "util/mapped_file.h"

static const char *script =
    "import json, os, random, struct, sys\n"
    "d = sys.argv[1]\n"
    "strings = ['\\x00', 'a\\x00b', '\\U0001F600', '\\ud7ff', '\\ue000', '\\uffff', '\\U0010FFFF',\n"
    "           '\\u00e9\\u20ac\\U0001F600x', '\"\\\\/\\b\\f\\n\\r\\t\\x01\\x1f\\x7f', '']\n"
    "random.seed(7)\n"
    "for _ in range(2000):\n"
    "    strings.append(''.join(chr(random.choice([random.randrange(0x20, 0x80),\n"
    "        random.randrange(0x80, 0xD800), random.randrange(0xE000, 0x110000)])) for _ in range(random.randrange(8))))\n"
    "v = sys.argv[2] if len(sys.argv) > 2 else ''\n"
    "if v and os.path.exists(v):\n"
    "    strings += list(json.load(open(v, encoding='utf-8')).keys())\n"
    "open(d + '/strings.json', 'w').write(json.dumps(strings, ensure_ascii=True))\n"
    "with open(d + '/strings.bin', 'wb') as f:\n"
    "    for s in strings:\n"
    "        b = s.encode('utf-8'); f.write(struct.pack('<I', len(b))); f.write(b)\n"
    "texts = []\n"
    "for _ in range(30000):\n"
    "    x = struct.unpack('<d', struct.pack('<Q', random.getrandbits(64)))[0]\n"
    "    if x != x or x in (float('inf'), float('-inf')): continue\n"
    "    texts += [repr(x), '%.17g' % x, '%.3e' % x]\n"
    "for _ in range(5000):\n"
    "    x = random.uniform(-10, 10)\n"
    "    texts += [repr(x), '%.40f' % x, '%.6f' % x, str(random.getrandbits(random.randrange(1, 90)))]\n"
    "texts += ['0.48145466', '1e-05', '0.00392156862745098', '5e-324', '1.7976931348623157e308',\n"
    "          '2.4703282292062328e-324', '9007199254740993', '-0.0', '1' + '0' * 400 + 'e-400',\n"
    "          '0.' + '0' * 300 + '1', '123456789012345678901234567890.5e-10']\n"
    "texts = [t for t in texts if 'inf' not in t and 'nan' not in t]\n"
    "open(d + '/numbers.json', 'w').write('[' + ','.join(texts) + ']')\n"
    "open(d + '/numbers.bin', 'wb').write(struct.pack('<%dd' % len(texts), *[float(t) for t in texts]))\n";

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    errbuf err;
    char *text = read_text_file(path, len, &err);
    CHECKF(text != NULL, "%s", err.msg);
    return text;
}

static void check_strings(const char *dir)
{
    size_t len, blen;
    char *text = slurp(dir, "strings.json", &len);
    char *bin = slurp(dir, "strings.bin", &blen);
    if (!text || !bin)
        goto out;
    errbuf err = { "" };
    json_doc *d = json_parse(text, len, &err);
    CHECKF(d != NULL, "%s", err.msg);
    size_t pos = 0, count = 0, bad = 0;
    for (const json_value *s = json_first(json_root(d)); s; s = json_next(s), count++) {
        uint32_t n = 0;
        if (pos + 4 > blen)
            break;
        memcpy(&n, bin + pos, 4);
        pos += 4;
        if (s->type != JSON_STRING || s->str_len != n || memcmp(s->str, bin + pos, n) != 0 ||
            s->str[n] != '\0')
            bad++;
        pos += n;
    }
    CHECKF(bad == 0 && pos == blen && count > 2000, "%zu of %zu strings differ from Python", bad, count);
    json_free(d);
out:
    free(text);
    free(bin);
}

static size_t compare_numbers(const json_value *arr, const double *want, size_t nwant)
{
    size_t i = 0, bad = 0;
    for (const json_value *v = json_first(arr); v; v = json_next(v), i++) {
        if (i >= nwant || v->type != JSON_NUMBER || memcmp(&v->number, &want[i], 8) != 0) {
            if (bad++ < 5 && i < nwant)
                fprintf(stderr, "number %zu: got %.17g, Python %.17g\n", i, v->number, want[i]);
        }
    }
    return bad + (i != nwant);
}

static void check_numbers(const char *dir)
{
    size_t len, blen;
    char *text = slurp(dir, "numbers.json", &len);
    double *want = (double *)slurp(dir, "numbers.bin", &blen);
    if (!text || !want)
        goto out;
    errbuf err = { "" };
    json_doc *d = json_parse(text, len, &err);
    CHECKF(d != NULL, "%s", err.msg);
    if (d) {
        size_t bad = compare_numbers(json_root(d), want, blen / 8);
        CHECKF(bad == 0, "%zu of %zu numbers differ from Python's float()", bad, blen / 8);
    }
    json_free(d);
    /* with a decimal-comma locale nothing changes; when none is installed,
     * compile one into the temp dir if localedef and its sources exist */
    const char *comma[] = { "de_DE.UTF-8", "fr_FR.UTF-8", "de_DE.utf8", "ru_RU.UTF-8" };
    const char *found = NULL;
    for (size_t i = 0; i < sizeof comma / sizeof comma[0] && !found; i++)
        if (setlocale(LC_NUMERIC, comma[i]))
            found = comma[i];
    if (!found) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 '%s/de_DE.UTF-8' >/dev/null 2>&1", dir);
        if (system(cmd) == 0 && setenv("LOCPATH", dir, 1) == 0 && setlocale(LC_NUMERIC, "de_DE.UTF-8"))
            found = "de_DE.UTF-8 (compiled here)";
    }
    if (found && strcmp(localeconv()->decimal_point, ",") == 0) {
        d = json_parse(text, len, &err);
        CHECKF(d && compare_numbers(json_root(d), want, blen / 8) == 0, "under %s", found);
        json_free(d);
        fprintf(stderr, "note: numbers also checked under %s\n", found);
    } else {
        fprintf(stderr, "note: no decimal-comma locale; that part skipped\n");
    }
    setlocale(LC_NUMERIC, "C");
out:
    free(text);
    free(want);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        SKIP("no reference Python given");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' -c pass 2>/dev/null", argv[1]);
    if (system(cmd) != 0)
        SKIP("cannot run %s", argv[1]);
    char *dir = temp_dir_make();
    write_bytes(dir, "make.py", script, strlen(script));
    const char *fixtures = getenv("VKCLIP_FIXTURES");
    snprintf(cmd, sizeof cmd, "'%s' '%s/make.py' '%s' '%s/clip-tiny-f32/vocab.json'", argv[1], dir, dir,
             fixtures ? fixtures : "/nonexistent");
    int rc = system(cmd);
    CHECKF(rc == 0, "reference script failed (%d)", rc);
    if (rc == 0) {
        check_strings(dir);
        check_numbers(dir);
    }
    temp_dir_remove(dir);
    return check_exit();
}
