/* test_util: the input guards of core/util (and the image loader on top of
 * them): only regular files are opened, never blocking on a FIFO; text reads
 * stop at their limit with a message naming the file and the limit; the
 * VKCLIP_TILES parser takes exactly "tm,tn,wg" and warns once otherwise.
 *
 * Every step that could block runs under alarm(): a hang is a failure with
 * a message, not a test that never ends. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../check.h"
#include "image/image.h"
#include "util/env_tiles.h"
#include "util/errbuf.h"
#include "util/mapped_file.h"
#include "util/regular_file.h"

#define STEP_SECONDS 10

static const char *current_step = "";

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_util: a step blocked for 10 s (a FIFO opened without O_NONBLOCK?): ";
    if (write(2, msg, sizeof msg - 1) < 0 || write(2, current_step, strlen(current_step)) < 0 ||
        write(2, "\n", 1) < 0)
        _exit(1);
    _exit(1);
}

static void step(const char *what)
{
    current_step = what;
    printf("step: %s\n", what);
    fflush(stdout);
    alarm(STEP_SECONDS);
}

static char dir[512];

static const char *path_in(const char *name)
{
    static char buf[8][1024];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 1024, "%s/%s", dir, name);
    return p;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static bool contains(const char *s, const char *part)
{
    return strstr(s, part) != NULL;
}

static void test_regular_only(void)
{
    const char *fifo = path_in("pipe"), *reg = path_in("plain.txt"), *sub = path_in("sub");
    if (mkfifo(fifo, 0600) != 0 || mkdir(sub, 0700) != 0) {
        perror("mkfifo/mkdir");
        exit(1);
    }
    write_file(reg, "hello\n", 6);

    step("regular_file_open on a FIFO");
    errbuf e = {{0}};
    int fd = regular_file_open(fifo, NULL, &e);
    CHECKF(fd < 0 && contains(e.msg, fifo) && contains(e.msg, "not a regular file (a FIFO)"), "%d '%s'", fd, e.msg);

    step("regular_file_open on a directory, a device, a missing file");
    fd = regular_file_open(sub, NULL, &e);
    CHECKF(fd < 0 && contains(e.msg, "(a directory)"), "'%s'", e.msg);
    fd = regular_file_open("/dev/null", NULL, &e);
    CHECKF(fd < 0 && contains(e.msg, "/dev/null: not a regular file (a character device)"), "'%s'", e.msg);
    fd = regular_file_open(path_in("missing"), NULL, &e);
    CHECKF(fd < 0 && contains(e.msg, "missing: cannot open: ") && contains(e.msg, strerror(ENOENT)), "'%s'", e.msg);

    step("regular_file_open on a regular file: blocking mode, readable");
    struct stat st;
    fd = regular_file_open(reg, &st, &e);
    CHECK(fd >= 0);
    if (fd >= 0) {
        char buf[8];
        CHECK(st.st_size == 6 && S_ISREG(st.st_mode));
        CHECK((fcntl(fd, F_GETFL) & O_NONBLOCK) == 0);
        CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
        CHECK(read(fd, buf, sizeof buf) == 6 && memcmp(buf, "hello\n", 6) == 0);
        close(fd);
    }
    FILE *f = regular_file_fopen(fifo, &e);
    CHECKF(!f && contains(e.msg, "(a FIFO)"), "'%s'", e.msg);
    f = regular_file_fopen(reg, &e);
    CHECK(f && fgetc(f) == 'h');
    if (f)
        fclose(f);

    step("file_exists does not open (a FIFO exists, and nothing blocks)");
    CHECK(file_exists(fifo) && file_exists(reg) && file_exists(sub) && !file_exists(path_in("missing")));

    step("mapped_file_open on a FIFO");
    mapped_file mf;
    CHECK(!mapped_file_open(&mf, fifo, &e) && contains(e.msg, "(a FIFO)"));
    CHECK(mapped_file_open(&mf, reg, &e) && mf.size == 6);
    mapped_file_close(&mf);

    step("read_text_file on a FIFO (config.json, vocab.json, merges.txt read this way)");
    size_t len = 0;
    char *text = read_text_file(fifo, &len, &e);
    CHECKF(!text && contains(e.msg, fifo) && contains(e.msg, "(a FIFO)"), "'%s'", e.msg);
    free(text);
    text = read_text_file("/dev/zero", &len, &e);
    CHECKF(!text && contains(e.msg, "(a character device)"), "'%s'", e.msg);
    free(text);

    step("rgb_image_load on a FIFO and a directory");
    rgb_image img;
    CHECKF(!rgb_image_load(&img, fifo, &e) && contains(e.msg, "(a FIFO)") && !img.pixels, "'%s'", e.msg);
    CHECKF(!rgb_image_load(&img, sub, &e) && contains(e.msg, "(a directory)"), "'%s'", e.msg);
    alarm(0);
}

/* A child writes n bytes of 'x' into the FIFO; the parent reads it as a stream. */
static void test_streams(void)
{
    const char *fifo = path_in("stream");
    if (mkfifo(fifo, 0600) != 0) {
        perror("mkfifo");
        exit(1);
    }
    for (int round = 0; round < 2; round++) {
        size_t n = round == 0 ? 5000 : 70000, limit = 65536;
        step(round == 0 ? "read_text_file_limited: a FIFO under the limit" : "a FIFO over the limit");
        pid_t pid = fork();
        if (pid == 0) {
            int fd = open(fifo, O_WRONLY);
            char block[4096];
            memset(block, 'x', sizeof block);
            signal(SIGPIPE, SIG_IGN); /* the reader stops at its limit */
            for (size_t done = 0; fd >= 0 && done < n;) {
                size_t k = n - done < sizeof block ? n - done : sizeof block;
                ssize_t w = write(fd, block, k);
                if (w <= 0)
                    break;
                done += (size_t)w;
            }
            _exit(0);
        }
        errbuf e = {{0}};
        size_t len = 0;
        char *text = read_text_file_limited(fifo, limit, true, &len, &e);
        if (round == 0)
            CHECKF(text && len == n && text[n] == '\0' && text[0] == 'x' && text[n - 1] == 'x', "'%s'", e.msg);
        else
            CHECKF(!text && contains(e.msg, fifo) && contains(e.msg, "too large") && contains(e.msg, "65536 bytes"),
                   "'%s'", e.msg);
        free(text);
        int status;
        waitpid(pid, &status, 0);
    }

    step("read_text_file_limited: /dev/zero as a stream stops at the limit");
    errbuf e = {{0}};
    size_t len;
    char *text = read_text_file_limited("/dev/zero", (size_t)1 << 20, true, &len, &e);
    CHECKF(!text && !strcmp(e.msg, "/dev/zero: too large: more than the limit of 1 MiB"), "'%s'", e.msg);
    free(text);
    text = read_text_file_limited(dir, 100, true, &len, &e);
    CHECKF(!text && contains(e.msg, "(a directory)"), "'%s'", e.msg);
    free(text);
    text = read_text_file_limited("/dev/null", 100, true, &len, &e);
    CHECK(text && len == 0 && text[0] == '\0');
    free(text);
    alarm(0);
}

static void test_limits(void)
{
    step("regular files at, and one byte over, the limit");
    const char *p = path_in("sized.txt");
    static char data[3001];
    memset(data, 'a', sizeof data);
    errbuf e = {{0}};
    size_t len = 0;
    write_file(p, data, 3000);
    char *text = read_text_file_limited(p, 3000, false, &len, &e);
    CHECK(text && len == 3000 && text[3000] == '\0');
    free(text);
    write_file(p, data, 3001);
    text = read_text_file_limited(p, 3000, false, &len, &e);
    CHECKF(!text && contains(e.msg, p) && contains(e.msg, "too large: 3001 bytes, more than the limit of 3000 bytes"),
           "'%s'", e.msg);
    free(text);

    step("read_text_file: a 65 MiB sparse file is refused without reading it");
    int fd = open(p, O_WRONLY | O_TRUNC);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)(TEXT_FILE_MAX_BYTES + 1)) == 0);
    close(fd);
    text = read_text_file(p, &len, &e);
    CHECKF(!text && contains(e.msg, "more than the limit of 64 MiB"), "'%s'", e.msg);
    free(text);
    unlink(p);
    alarm(0);
}

/* Runs f with stderr sent to a file; returns what it printed. */
static char *capture_stderr(void (*f)(void *), void *arg)
{
    const char *p = path_in("stderr.txt");
    fflush(stderr);
    int saved = dup(2), fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
    f(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    errbuf e;
    return read_text_file(p, NULL, &e);
}

typedef struct tiles_call {
    const char *value;
    bool *warned;
    bool result;
    env_tiles t;
} tiles_call;

static void call_from_value(void *arg)
{
    tiles_call *c = arg;
    c->result = env_tiles_from_value(c->value, &c->t, c->warned);
}

static void call_from_env_twice(void *arg)
{
    tiles_call *c = arg;
    c->result = env_tiles_from_env(&c->t) || env_tiles_from_env(&c->t);
}

static void test_env_tiles(void)
{
    step("env_tiles_parse");
    static const struct {
        const char *text;
        unsigned tm, tn, wg; /* 0: refused */
    } cases[] = {
        {"4,4,64", 4, 4, 64},    {"12,8,8", 12, 8, 8},  {"1,1,1", 1, 1, 1},     {"16,16,256", 16, 16, 256},
        {"016,1,1", 16, 1, 1},   {"", 0, 0, 0},         {"4,4", 0, 0, 0},       {"4,4,64,1", 0, 0, 0},
        {"4,4,64x", 0, 0, 0},    {" 4,4,64", 0, 0, 0},  {"4, 4,64", 0, 0, 0},   {"4,4,64 ", 0, 0, 0},
        {"0,4,64", 0, 0, 0},     {"17,4,64", 0, 0, 0},  {"4,17,64", 0, 0, 0},   {"4,4,0", 0, 0, 0},
        {"4,4,257", 0, 0, 0},    {"-4,4,64", 0, 0, 0},  {"+4,4,64", 0, 0, 0},   {"4;4;64", 0, 0, 0},
        {"big", 0, 0, 0},        {"4,,64", 0, 0, 0},    {"4294967300,4,64", 0, 0, 0}, {"1e1,4,4", 0, 0, 0},
        {"0x4,4,4", 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        env_tiles t = {99, 99, 99};
        errbuf e = {{0}};
        bool ok = env_tiles_parse(cases[i].text, &t, &e);
        if (cases[i].tm)
            CHECKF(ok && t.tm == cases[i].tm && t.tn == cases[i].tn && t.wg == cases[i].wg, "'%s' -> %u,%u,%u '%s'",
                   cases[i].text, t.tm, t.tn, t.wg, e.msg);
        else
            CHECKF(!ok && e.msg[0] && t.tm == 99 && t.tn == 99 && t.wg == 99, "'%s' accepted", cases[i].text);
    }

    step("env_tiles_from_value: unset and empty are silent; garbage warns once");
    bool warned = false;
    tiles_call c = {.value = NULL, .warned = &warned};
    char *out = capture_stderr(call_from_value, &c);
    CHECK(out && !c.result && out[0] == '\0' && !warned);
    free(out);
    c.value = "";
    out = capture_stderr(call_from_value, &c);
    CHECK(out && !c.result && out[0] == '\0' && !warned);
    free(out);
    c.value = "4,4,64";
    out = capture_stderr(call_from_value, &c);
    CHECK(out && c.result && c.t.tm == 4 && c.t.wg == 64 && out[0] == '\0');
    free(out);
    c.value = "garbage";
    out = capture_stderr(call_from_value, &c);
    CHECKF(out && !c.result && warned && !strncmp(out, "vkclip: VKCLIP_TILES='garbage' ignored: ", 40) &&
               contains(out, "using the default tiles\n") && strchr(out, '\n') == out + strlen(out) - 1,
           "'%s'", out ? out : "(null)");
    free(out);
    c.value = "9,9,999";
    out = capture_stderr(call_from_value, &c);
    CHECKF(out && !c.result && out[0] == '\0', "a second warning: '%s'", out ? out : "(null)");
    free(out);

    step("env_tiles_from_env: a garbage VKCLIP_TILES warns once per process");
    setenv("VKCLIP_TILES", "4,4,64\n\x1b[31m", 1);
    c = (tiles_call){0};
    out = capture_stderr(call_from_env_twice, &c);
    /* one line, control bytes shown as '?' */
    CHECKF(out && !c.result && !strncmp(out, "vkclip: VKCLIP_TILES='4,4,64??[31m' ignored: ", 45) &&
               strchr(out, '\n') == out + strlen(out) - 1,
           "'%s'", out ? out : "(null)");
    free(out);
    setenv("VKCLIP_TILES", "8,4,32", 1);
    c = (tiles_call){0};
    out = capture_stderr(call_from_env_twice, &c);
    CHECK(out && c.result && c.t.tm == 8 && c.t.tn == 4 && c.t.wg == 32 && out[0] == '\0');
    free(out);
    unsetenv("VKCLIP_TILES");
    alarm(0);
}

static void remove_dir(const char *d)
{
    static const char *const names[] = {"pipe", "plain.txt", "sub", "stream", "sized.txt", "stderr.txt"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *p = path_in(names[i]);
        if (unlink(p) != 0)
            rmdir(p);
    }
    rmdir(d);
}

/* A message longer than the buffer keeps where (its start) and why (its
 * end): a long path must not hide the cause. */
static void test_long_messages(void)
{
    char path[3000];
    strcpy(path, "/models/");
    while (strlen(path) < 2000) /* valid UTF-8 whose two-byte characters a careless cut would split */
        strcat(path, "caf\xc3\xa9s-and-th\xc3\xa9/");
    errbuf e;
    errbuf_set(&e, "%s/config.json: not a regular file (a FIFO)", path);
    size_t len = strlen(e.msg);
    CHECKF(len < sizeof e.msg, "length %zu", len);
    CHECKF(strncmp(e.msg, "/models/", 8) == 0, "start kept: %.40s", e.msg);
    const char *end = "config.json: not a regular file (a FIFO)";
    CHECKF(len > strlen(end) && strcmp(e.msg + len - strlen(end), end) == 0, "cause kept: %s", e.msg);
    CHECKF(strstr(e.msg, "...") != NULL, "the cut is marked");
    /* No UTF-8 sequence cut in half: every continuation byte follows a lead or a continuation. */
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)e.msg[i] & 0xC0) == 0x80)
            CHECKF(i > 0 && ((unsigned char)e.msg[i - 1] & 0x80), "a stray continuation byte at %zu", i);
    /* A prefix added on the way up keeps the cause too. */
    errbuf_prefix(&e, "%s", "loading the model");
    len = strlen(e.msg);
    CHECKF(strncmp(e.msg, "loading the model: /models/", 27) == 0, "prefix first: %.40s", e.msg);
    CHECKF(strcmp(e.msg + len - strlen(end), end) == 0, "cause kept after a prefix: %s", e.msg);
    /* Short messages are untouched. */
    errbuf_set(&e, "%s: %d", "short", 5);
    CHECKF(strcmp(e.msg, "short: 5") == 0, "%s", e.msg);
    errbuf_prefix(&e, "frame %d", 3);
    CHECKF(strcmp(e.msg, "frame 3: short: 5") == 0, "%s", e.msg);
}

int main(void)
{
    signal(SIGALRM, on_alarm);
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/vkclip-util-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_regular_only();
    test_streams();
    test_limits();
    test_env_tiles();
    test_long_messages();
    remove_dir(dir);
    return check_exit();
}
