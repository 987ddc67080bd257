/* libFuzzer target: json_parse over arbitrary bytes, then a walk that checks
 * the tree is consistent (counts, keys, NUL-terminated strings, lookups). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const json_value *v, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        abort();
    if (v->type == JSON_STRING && (!v->str || v->str[v->str_len] != '\0'))
        abort();
    uint32_t n = 0;
    for (const json_value *c = json_first(v); c; c = json_next(c), n++) {
        if (v->type == JSON_OBJECT) {
            if (!c->key || c->key[c->key_len] != '\0')
                abort();
            /* keys are unique, so a lookup finds this very member (when the
             * key has no NUL inside, which a C-string lookup cannot express) */
            if (strlen(c->key) == c->key_len && json_get(v, c->key) != c)
                abort();
        }
        walk(c, depth + 1);
    }
    if (n != v->count)
        abort();
    if (v->type == JSON_ARRAY && v->count && json_at(v, v->count - 1) == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    errbuf err = { "" };
    json_doc *d = json_parse((const char *)data, size, &err);
    if (!d) {
        if (strncmp(err.msg, "invalid JSON at byte ", 21) != 0 || strchr(err.msg, '\n'))
            abort();
        return 0;
    }
    walk(json_root(d), 0);
    json_free(d);
    return 0;
}
