#include "errbuf.h"

#include <stdio.h>
#include <string.h>

int errbuf_set(errbuf *e, const char *fmt, ...)
{
    if (!e)
        return 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return 0;
}

int errbuf_prefix(errbuf *e, const char *fmt, ...)
{
    if (!e)
        return 0;
    char prefix[ERRBUF_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t plen = strlen(prefix);
    if (plen + 2 >= sizeof e->msg)
        plen = sizeof e->msg - 3;
    /* Shift the old message right, then write the prefix in front. */
    size_t keep = sizeof e->msg - plen - 3;
    size_t olen = strnlen(e->msg, keep);
    memmove(e->msg + plen + 2, e->msg, olen);
    e->msg[plen + 2 + olen] = '\0';
    memcpy(e->msg, prefix, plen);
    e->msg[plen] = ':';
    e->msg[plen + 1] = ' ';
    return 0;
}
