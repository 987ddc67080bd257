/* test_image: rgb_image_load must equal Pillow's Image.open(p).convert("RGB")
 * bit for bit. make_images.py (run here with Debian's python3, Pillow and
 * numpy) writes the images and Pillow's bytes for each; damaged files must
 * fail with a message that names the file. */
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../check.h"
#include "image/image.h"
#include "libjpeg_writer.h"
#include "util/mapped_file.h"

/* Runs argv (NULL-terminated) and returns its exit status, or -1. */
static int run(char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The scratch directory is flat: remove its files, then it. */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[4096];
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* Splits a line into at most n tab-separated fields in place. */
static int split_tabs(char *line, char **fields, int n)
{
    int count = 0;
    while (count < n) {
        fields[count++] = line;
        char *tab = strchr(line, '\t');
        if (!tab)
            break;
        *tab = '\0';
        line = tab + 1;
    }
    return count;
}

/* Both entry points must give Pillow's bytes; says where they differ. */
static void check_image(const char *image_path, const char *rgb_path, int width, int height)
{
    errbuf err = {{0}};
    size_t expected_size = 0;
    char *expected = read_text_file(rgb_path, &expected_size, &err);
    CHECKF(expected, "%s", err.msg);
    rgb_image img;
    bool ok = rgb_image_load(&img, image_path, &err);
    CHECKF(ok, "%s", err.msg);
    if (!expected || !ok) {
        free(expected);
        return;
    }
    CHECKF(img.width == width && img.height == height, "%s: %dx%d, Pillow %dx%d", image_path,
           img.width, img.height, width, height);
    size_t size = (size_t)width * height * 3;
    if (img.width == width && img.height == height && expected_size == size &&
        memcmp(img.pixels, expected, size) != 0) {
        size_t first = 0, differing = 0;
        int max_diff = 0;
        for (size_t i = size; i-- > 0;) {
            int d = abs((int)img.pixels[i] - (unsigned char)expected[i]);
            if (d) {
                first = i;
                differing++;
                max_diff = d > max_diff ? d : max_diff;
            }
        }
        size_t pixel = first / 3;
        const unsigned char *e = (const unsigned char *)expected + pixel * 3;
        const unsigned char *g = img.pixels + pixel * 3;
        CHECKF(0, "%s: first difference at x=%zu y=%zu: got %u,%u,%u, Pillow %u,%u,%u "
               "(%zu of %zu bytes differ, max by %d)", image_path, pixel % (size_t)width,
               pixel / (size_t)width, g[0], g[1], g[2], e[0], e[1], e[2], differing, size, max_diff);
    }

    /* The in-memory entry point gives the same bytes. */
    mapped_file mf;
    if (mapped_file_open(&mf, image_path, &err)) {
        rgb_image mem;
        ok = rgb_image_decode(&mem, mf.data, mf.size, "memory copy", &err);
        CHECKF(ok && mem.width == img.width && mem.height == img.height &&
               memcmp(mem.pixels, img.pixels, size) == 0, "%s: decode from memory differs (%s)",
               image_path, ok ? "pixels" : err.msg);
        rgb_image_free(&mem);
        mapped_file_close(&mf);
    }
    rgb_image_free(&img);
    free(expected);
}

/* A damaged file fails, leaves the image empty, and the message starts with
 * the file's name and says what is wrong. */
static void check_damaged(const char *path, const char *expect)
{
    errbuf err = {{0}};
    rgb_image img = {7, 7, (unsigned char *)&img};
    bool ok = rgb_image_load(&img, path, &err);
    CHECKF(!ok, "%s: decoded (%dx%d) but should fail", path, img.width, img.height);
    CHECKF(!img.pixels && img.width == 0 && img.height == 0, "%s: image not cleared on failure", path);
    size_t n = strlen(path);
    CHECKF(strncmp(err.msg, path, n) == 0 && strncmp(err.msg + n, ": ", 2) == 0,
           "%s: message does not start with the file name: %s", path, err.msg);
    CHECKF(strstr(err.msg, expect), "%s: message lacks \"%s\": %s", path, expect, err.msg);
    CHECKF(!strchr(err.msg, '\n'), "%s: message is not one line: %s", path, err.msg);
    if (ok)
        rgb_image_free(&img);
}

static int check_manifest(const char *dir, const char *name, bool damaged)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    errbuf err = {{0}};
    char *text = read_text_file(path, NULL, &err);
    CHECKF(text, "%s", err.msg);
    int count = 0;
    for (char *line = text, *next; text && line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *f[4];
        int n = split_tabs(line, f, 4);
        if (damaged && n == 3) {
            check_damaged(f[0], f[1]);
            if (f[2][0] == '0')
                printf("note: Pillow accepts %s; we refuse it\n", f[0]);
            count++;
        } else if (!damaged && n == 4) {
            check_image(f[0], f[1], atoi(f[2]), atoi(f[3]));
            count++;
        } else {
            CHECKF(0, "%s: bad line '%s'", path, line);
        }
    }
    free(text);
    return count;
}

/* Things that need no reference: missing files and names in messages. */
static void check_without_files(void)
{
    errbuf err = {{0}};
    rgb_image img;
    CHECK(!rgb_image_load(&img, "/nonexistent/x.png", &err));
    CHECKF(strstr(err.msg, "/nonexistent/x.png: "), "%s", err.msg);
    CHECK(!rgb_image_load(&img, "/", &err));
    CHECKF(strncmp(err.msg, "/: ", 3) == 0, "%s", err.msg);
    static const unsigned char gif[] = "GIF89a\x01\x00\x01\x00";
    CHECK(!rgb_image_decode(&img, gif, sizeof gif, "x.gif", &err));
    CHECKF(strcmp(err.msg, "x.gif: unsupported image format (only PNG and JPEG)") == 0, "%s", err.msg);
    CHECK(!rgb_image_decode(&img, NULL, 0, "nothing", &err));
    CHECKF(strcmp(err.msg, "nothing: empty file") == 0, "%s", err.msg);
    /* Two bytes of JPEG magic are not enough to call it a JPEG. */
    CHECK(!rgb_image_decode(&img, "\xff\xd8", 2, "short", &err));
    CHECKF(strstr(err.msg, "unsupported image format"), "%s", err.msg);
    rgb_image_free(&img); /* harmless on a cleared image */
    CHECK(!rgb_image_load(&img, "/nonexistent", NULL)); /* NULL errbuf is allowed */
}

int main(int argc, char **argv)
{
    check_without_files();
    if (argc < 3 || !argv[1][0])
        SKIP("no /usr/bin/python3 to make reference images with Pillow");
    char dir[] = "/tmp/vkclip-image-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    errbuf err = {{0}};
    CHECKF(write_libjpeg_test_images(dir, &err), "%s", err.msg);

    char *cmd[8] = {argv[1], argv[2], dir};
    char fixture[2][4096];
    const char *fixtures = getenv("VKCLIP_FIXTURES");
    const char *names[2] = {"chelsea.png", "coffee.png"};
    int ncmd = 3;
    for (int i = 0; i < 2 && fixtures; i++) {
        snprintf(fixture[i], sizeof fixture[i], "%s/images/%s", fixtures, names[i]);
        if (access(fixture[i], R_OK) == 0)
            cmd[ncmd++] = fixture[i];
    }
    if (ncmd == 3)
        printf("note: fixture images not found (VKCLIP_FIXTURES=%s); not checked\n",
               fixtures ? fixtures : "unset");
    int status = run(cmd);
    if (status == 77) {
        remove_dir(dir);
        SKIP("%s needs Pillow and numpy (Debian: python3-pil python3-numpy)", argv[1]);
    }
    CHECKF(status == 0, "make_images.py failed (status %d)", status);
    if (status == 0) {
        int images = check_manifest(dir, "images.tsv", false);
        int damaged = check_manifest(dir, "damaged.tsv", true);
        printf("compared %d images with Pillow, %d damaged files refused\n", images, damaged);
        CHECK(images > 200 && damaged > 25);
    }
    if (check_failures)
        printf("kept %s for inspection\n", dir);
    else
        remove_dir(dir);
    return check_exit();
}
