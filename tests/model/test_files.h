/* test_files.h: temp directories and hand-built .safetensors files for the
 * model tests. The files are written byte by byte here, from the format's
 * description, not with the code under test. */
#ifndef VKCLIP_TEST_FILES_H
#define VKCLIP_TEST_FILES_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline char *temp_dir_make(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/vkclip-model-XXXXXX", base && *base ? base : "/tmp");
    char *dir = mkdtemp(tmpl);
    if (!dir) {
        perror("mkdtemp");
        exit(1);
    }
    return strdup(dir);
}

/* Removes a directory the test made, with what is inside (a compiled
 * locale has subdirectories). */
static inline void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char path[2048];
            if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
                continue;
            struct stat st;
            if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
                remove_tree(path);
            else
                unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

static inline void temp_dir_remove(char *dir)
{
    remove_tree(dir);
    free(dir);
}

/* Writes bytes to dir/name; returns the path in a static buffer. */
static inline const char *write_bytes(const char *dir, const char *name, const void *bytes, size_t n)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(bytes, 1, n, f) != n) || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    return path;
}

static inline const char *write_text(const char *dir, const char *name, const char *text)
{
    return write_bytes(dir, name, text, strlen(text));
}

/* A safetensors image: 8-byte little-endian length, the header text as
 * given, then the data. The caller frees it. */
static inline unsigned char *st_image(const char *header, uint64_t declared_len, const void *data,
                               size_t data_len, size_t *size_out)
{
    size_t hlen = strlen(header);
    size_t size = 8 + hlen + data_len;
    unsigned char *buf = malloc(size ? size : 1);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(declared_len >> (8 * i));
    memcpy(buf + 8, header, hlen);
    if (data_len)
        memcpy(buf + 8 + hlen, data, data_len);
    *size_out = size;
    return buf;
}

/* Same, with the true header length. */
static inline unsigned char *st_image_ok(const char *header, const void *data, size_t data_len,
                                  size_t *size_out)
{
    return st_image(header, strlen(header), data, data_len, size_out);
}

/* One tensor for st_write_file. */
typedef struct test_tensor {
    const char *name;
    const char *dtype;
    int ndim;
    int64_t shape[8];
    const void *data;
    size_t nbytes;
} test_tensor;

/* Writes a well-formed file of these tensors, packed in the given order. */
static inline void st_write_file(const char *path, const test_tensor *t, size_t n)
{
    size_t cap = 256 + n * 512, len = 0;
    char *hdr = malloc(cap);
    len += (size_t)snprintf(hdr + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(hdr + len, cap - len, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[",
                                t[i].name, t[i].dtype);
        for (int d = 0; d < t[i].ndim; d++)
            len += (size_t)snprintf(hdr + len, cap - len, "%s%lld", d ? "," : "",
                                    (long long)t[i].shape[d]);
        len += (size_t)snprintf(hdr + len, cap - len, "],\"data_offsets\":[%llu,%llu]}",
                                (unsigned long long)off,
                                (unsigned long long)(off + t[i].nbytes));
        off += t[i].nbytes;
    }
    len += (size_t)snprintf(hdr + len, cap - len, "}");
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    unsigned char lenbytes[8];
    for (int i = 0; i < 8; i++)
        lenbytes[i] = (unsigned char)((uint64_t)len >> (8 * i));
    fwrite(lenbytes, 1, 8, f);
    fwrite(hdr, 1, len, f);
    for (size_t i = 0; i < n; i++)
        if (t[i].nbytes)
            fwrite(t[i].data, 1, t[i].nbytes, f);
    if (fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    free(hdr);
}

/* Substring check that prints the message when it fails. */
#define CHECK_MSG(msg, part) CHECKF(strstr((msg), (part)) != NULL, "message \"%s\" lacks \"%s\"", (msg), (part))

#endif
