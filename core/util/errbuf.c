#include "errbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of a message's start kept when it must be shortened: enough for
 * "vkclip: /a/path/..." to say where; the rest goes to the end, which holds
 * the cause ("...: not a regular file"). */
#define KEEP_HEAD 160
#define ELLIPSIS "..."

static bool continuation(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Copies text into e->msg; text too long loses its middle, never its end,
 * and is cut at UTF-8 character boundaries. */
static void store(errbuf *e, const char *text, size_t len)
{
    if (len < sizeof e->msg) {
        memcpy(e->msg, text, len + 1);
        return;
    }
    size_t head = KEEP_HEAD;
    while (head > 0 && continuation((unsigned char)text[head]))
        head--;
    size_t tail = sizeof e->msg - 1 - head - strlen(ELLIPSIS);
    size_t tail_at = len - tail;
    while (tail_at < len && continuation((unsigned char)text[tail_at]))
        tail_at++;
    memcpy(e->msg, text, head);
    memcpy(e->msg + head, ELLIPSIS, strlen(ELLIPSIS));
    memcpy(e->msg + head + strlen(ELLIPSIS), text + tail_at, len - tail_at + 1);
}

static void store_formatted(errbuf *e, const char *prefix, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    size_t plen = prefix ? strlen(prefix) : 0;
    char *text = n >= 0 ? malloc(plen + (size_t)n + 1) : NULL;
    if (!text) { /* no memory for the long form: the start is better than nothing */
        vsnprintf(e->msg, sizeof e->msg, fmt, again);
        va_end(again);
        return;
    }
    if (plen)
        memcpy(text, prefix, plen);
    vsnprintf(text + plen, (size_t)n + 1, fmt, again);
    va_end(again);
    store(e, text, plen + (size_t)n);
    free(text);
}

int errbuf_set(errbuf *e, const char *fmt, ...)
{
    if (!e)
        return 0;
    va_list ap;
    va_start(ap, fmt);
    store_formatted(e, NULL, fmt, ap);
    va_end(ap);
    return 0;
}

int errbuf_prefix(errbuf *e, const char *fmt, ...)
{
    if (!e)
        return 0;
    char old[ERRBUF_SIZE];
    memcpy(old, e->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *prefix = n >= 0 ? malloc((size_t)n + 3) : NULL;
    if (!prefix)
        return 0;
    va_start(ap, fmt);
    vsnprintf(prefix, (size_t)n + 1, fmt, ap);
    va_end(ap);
    memcpy(prefix + n, ": ", 3);
    errbuf tmp;
    errbuf_set(&tmp, "%s%s", prefix, old);
    memcpy(e->msg, tmp.msg, sizeof e->msg);
    free(prefix);
    return 0;
}
