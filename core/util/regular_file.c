#include "regular_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

const char *file_kind_name(mode_t mode)
{
    if (S_ISREG(mode))
        return "a regular file";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a file";
}

static int not_regular(const char *path, mode_t mode, errbuf *err)
{
    return errbuf_set(err, "%s: not a regular file (%s)", path, file_kind_name(mode));
}

int regular_file_open(const char *path, struct stat *st_out, errbuf *err)
{
    struct stat st;
    /* stat first: a device is never opened (opening some has effects)... */
    if (stat(path, &st) != 0) {
        errbuf_set(err, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        not_regular(path, st.st_mode, err);
        return -1;
    }
    /* ...and O_NONBLOCK with fstat after, for a file replaced in between. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        errbuf_set(err, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        close(fd);
        if (!S_ISREG(st.st_mode))
            not_regular(path, st.st_mode, err);
        else
            errbuf_set(err, "%s: cannot open: %s", path, strerror(e));
        return -1;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags == -1 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
        int e = errno;
        close(fd);
        errbuf_set(err, "%s: cannot open: %s", path, strerror(e));
        return -1;
    }
    if (st_out)
        *st_out = st;
    return fd;
}

FILE *regular_file_fopen(const char *path, errbuf *err)
{
    int fd = regular_file_open(path, NULL, err);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        errbuf_set(err, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}
