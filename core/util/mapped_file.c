#include "mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "regular_file.h"

bool mapped_file_open(mapped_file *mf, const char *path, errbuf *err)
{
    mf->data = NULL;
    mf->size = 0;
    struct stat st;
    int fd = regular_file_open(path, &st, err);
    if (fd < 0)
        return false;
    if ((uintmax_t)st.st_size > SIZE_MAX) {
        close(fd);
        return errbuf_set(err, "%s: too large to map (%jd bytes)", path, (intmax_t)st.st_size);
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return errbuf_set(err, "%s: cannot map: %s", path, strerror(e));
        }
        mf->data = p;
        mf->size = (size_t)st.st_size;
    }
    close(fd);
    return true;
}

void mapped_file_close(mapped_file *mf)
{
    if (mf->data)
        munmap((void *)mf->data, mf->size);
    mf->data = NULL;
    mf->size = 0;
}

/* "16 MiB" where the limit is a whole number of MiB, else "N bytes". */
static void describe_limit(char *out, size_t n, size_t max_bytes)
{
    if (max_bytes >= ((size_t)1 << 20) && max_bytes % ((size_t)1 << 20) == 0)
        snprintf(out, n, "%zu MiB", max_bytes >> 20);
    else
        snprintf(out, n, "%zu bytes", max_bytes);
}

static int open_stream(const char *path, struct stat *st, errbuf *err)
{
    int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        errbuf_set(err, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, st) != 0 || S_ISDIR(st->st_mode)) {
        int e = errno;
        close(fd);
        if (S_ISDIR(st->st_mode))
            errbuf_set(err, "%s: not a regular file (a directory)", path);
        else
            errbuf_set(err, "%s: cannot open: %s", path, strerror(e));
        return -1;
    }
    return fd;
}

char *read_text_file_limited(const char *path, size_t max_bytes, bool allow_streams, size_t *len_out,
                             errbuf *err)
{
    if (max_bytes > SIZE_MAX / 4)
        max_bytes = SIZE_MAX / 4;
    struct stat st;
    int fd = allow_streams ? open_stream(path, &st, err) : regular_file_open(path, &st, err);
    if (fd < 0)
        return NULL;
    char limit[64];
    describe_limit(limit, sizeof limit, max_bytes);
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > max_bytes) {
        close(fd);
        errbuf_set(err, "%s: too large: %jd bytes, more than the limit of %s", path, (intmax_t)st.st_size,
                   limit);
        return NULL;
    }
    /* Read one byte past the limit at most, to tell "at the limit" from "over". */
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    bool failed = !buf, too_large = false;
    int read_errno = 0;
    while (!failed) {
        if (len + 1 >= cap) {
            size_t grown_cap = cap * 2 > max_bytes + 2 ? max_bytes + 2 : cap * 2;
            if (grown_cap <= cap) {
                too_large = true;
                break;
            }
            char *grown = realloc(buf, grown_cap);
            if (!grown) {
                failed = true;
                break;
            }
            buf = grown;
            cap = grown_cap;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            read_errno = errno;
            failed = true;
            break;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max_bytes) {
            too_large = true;
            break;
        }
    }
    close(fd);
    if (failed || too_large) {
        free(buf);
        if (too_large)
            errbuf_set(err, "%s: too large: more than the limit of %s", path, limit);
        else if (read_errno)
            errbuf_set(err, "%s: read error: %s", path, strerror(read_errno));
        else
            errbuf_set(err, "%s: out of memory", path);
        return NULL;
    }
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

char *read_text_file(const char *path, size_t *len_out, errbuf *err)
{
    return read_text_file_limited(path, TEXT_FILE_MAX_BYTES, false, len_out, err);
}
