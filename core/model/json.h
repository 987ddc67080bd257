/* json: a small, strict RFC 8259 parser into a read-only tree.
 *
 * - The text is (pointer, length); it need not be NUL-terminated.
 * - Strings are validated UTF-8; escapes (\uXXXX with surrogate pairs too)
 *   are decoded to UTF-8. Each decoded string is NUL-terminated, and its
 *   length is given too because "\u0000" may put a NUL inside it.
 * - Numbers are doubles; a number that overflows a double is an error.
 * - Nesting deeper than JSON_MAX_DEPTH is an error (no stack exhaustion).
 * - Duplicate keys in one object are an error: a file that says two things
 *   is rejected rather than silently read one way.
 * - A leading byte-order mark is an error (Python's json.loads rejects it too).
 * - Errors read "invalid JSON at byte N: problem" (N counts from 0).
 *
 * Members of an object keep their order in the text: iterate them with
 * json_first/json_next and read each one's key with json_key. */
#ifndef VKCLIP_JSON_H
#define VKCLIP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/errbuf.h"

#define JSON_MAX_DEPTH 64

typedef enum json_type {
    JSON_NULL,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
} json_type;

/* One node of the tree; read it through the functions below. */
typedef struct json_value json_value;
struct json_value {
    json_type type;
    uint32_t count;            /* elements of an array, members of an object */
    double number;             /* JSON_NUMBER */
    const char *str;           /* JSON_STRING: decoded, NUL-terminated */
    size_t str_len;
    const char *key;           /* set on the members of an object */
    size_t key_len;
    const json_value *child;   /* first element or member */
    const json_value *next;    /* next sibling in the parent */
};

typedef struct json_doc json_doc;

/* Parse the whole text (only whitespace may follow the value). NULL on error. */
json_doc *json_parse(const char *text, size_t len, errbuf *err);
void json_free(json_doc *doc);
const json_value *json_root(const json_doc *doc);

/* Member of an object by key; NULL when absent or obj is not an object. */
const json_value *json_get(const json_value *obj, const char *key);

/* Iteration over an array's elements or an object's members, in text order. */
const json_value *json_first(const json_value *v);
const json_value *json_next(const json_value *v);
const char *json_key(const json_value *member);

/* i-th element of an array (a walk: O(i)); NULL when out of range. */
const json_value *json_at(const json_value *arr, size_t i);

/* True when v is a number with an integral value small enough to be exact
 * in a double (|x| <= 2^53); *out gets it. 3.0 and 3e0 count, 3.5 does not. */
bool json_integer(const json_value *v, int64_t *out);

/* Copies len bytes of s into dst (cap bytes) for an error message: control
 * bytes become '?', and a string too long is cut (at a character boundary)
 * and ends in "...". Keeps a hostile name from breaking the one-line message. */
void json_printable(char *dst, size_t cap, const char *s, size_t len);

/* "null", "false", "true", "a number", "a string", "an array", "an object" */
const char *json_type_phrase(json_type t);

#endif
