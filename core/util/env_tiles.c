#include "env_tiles.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A decimal number of 1 to 3 digits in lo..hi at *p; advances *p. */
static bool parse_field(const char **p, unsigned lo, unsigned hi, unsigned *out)
{
    const char *s = *p;
    unsigned v = 0;
    int digits = 0;
    while (*s >= '0' && *s <= '9') {
        if (++digits > 3)
            return false;
        v = v * 10 + (unsigned)(*s++ - '0');
    }
    if (digits == 0 || v < lo || v > hi)
        return false;
    *out = v;
    *p = s;
    return true;
}

bool env_tiles_parse(const char *text, env_tiles *out, errbuf *err)
{
    static const char *const names[3] = {"tm", "tn", "wg"};
    static const unsigned max[3] = {ENV_TILES_MAX_TM, ENV_TILES_MAX_TN, ENV_TILES_MAX_WG};
    unsigned v[3];
    const char *p = text;
    if (!p)
        return errbuf_set(err, "not set");
    for (int i = 0; i < 3; i++) {
        if (i > 0 && *p++ != ',')
            return errbuf_set(err, "want three numbers tm,tn,wg");
        if (!parse_field(&p, 1, max[i], &v[i]))
            return errbuf_set(err, "%s must be a number in 1..%u (want tm,tn,wg)", names[i], max[i]);
    }
    if (*p)
        return errbuf_set(err, "unexpected text after tm,tn,wg");
    *out = (env_tiles){v[0], v[1], v[2]};
    return true;
}

void env_value_shown(const char *value, char *shown, size_t size)
{
    size_t n = 0, keep = size > 4 ? size - 4 : 0; /* room for "..." */
    const unsigned char *s = (const unsigned char *)value;
    for (; *s && n < keep; s++)
        shown[n++] = *s < 0x20 || *s == 0x7f ? '?' : (char)*s;
    if (*s && size >= 4)
        memcpy(shown + n, "...", 3), n += 3;
    if (size)
        shown[n < size ? n : size - 1] = '\0';
}

bool env_tiles_from_value(const char *value, env_tiles *out, bool *warned)
{
    if (!value || !*value)
        return false;
    errbuf e = {{0}};
    if (env_tiles_parse(value, out, &e))
        return true;
    if (!*warned) {
        *warned = true;
        char shown[72];
        env_value_shown(value, shown, sizeof shown);
        fprintf(stderr, "vkclip: VKCLIP_TILES='%s' ignored: %s; using the default tiles\n", shown, e.msg);
    }
    return false;
}

static pthread_mutex_t warn_lock = PTHREAD_MUTEX_INITIALIZER;
static bool warned_once;

bool env_tiles_from_env(env_tiles *out)
{
    pthread_mutex_lock(&warn_lock);
    bool ok = env_tiles_from_value(getenv("VKCLIP_TILES"), out, &warned_once);
    pthread_mutex_unlock(&warn_lock);
    return ok;
}
