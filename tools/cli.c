/* cli: errors, stdout, the model and device of a session, text files and
 * JSON output. Options are cli_parse.c's, images cli_images.c's. */
#include "cli.h"

#include "util/mapped_file.h"
#include "util/regular_file.h"
#include "util/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vkclip: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

void cli_guard_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        /* The lowest free number: fd itself, as 0..fd-1 are open by now. */
        int got = open("/dev/null", (fd == 2 ? O_WRONLY : O_RDONLY) | O_NOCTTY);
        if (got >= 0 && got != fd) {
            dup2(got, fd);
            close(got);
        }
    }
}

bool cli_stdout_failed(void)
{
    return ferror(stdout) != 0;
}

int cli_finish_stdout(int status)
{
    errno = 0;
    bool failed = fflush(stdout) != 0;
    int reason = errno;
    failed = ferror(stdout) || failed;
    errno = 0;
    if (fclose(stdout) != 0 && !failed) {
        failed = true;
        reason = errno;
    }
    if (!failed)
        return status == CLI_STDOUT_FAILED ? 1 : status;
    if (status == 0 || status == CLI_STDOUT_FAILED)
        cli_fail("stdout: %s", reason ? strerror(reason) : "write error");
    return status == 0 || status == CLI_STDOUT_FAILED ? 1 : status;
}

int cli_frame_of_error(const char *message, int count, const char **rest)
{
    if (strncmp(message, "frame ", 6) != 0 || message[6] < '0' || message[6] > '9')
        return -1;
    char *end;
    long index = strtol(message + 6, &end, 10);
    if (end[0] != ':' || end[1] != ' ' || index < 0 || index >= count)
        return -1;
    *rest = end + 2;
    return (int)index;
}

/* Whether dir holds a config.json (never opening it: no FIFO waits here). */
static bool has_config(const char *dir)
{
    char path[4096];
    return snprintf(path, sizeof path, "%s/config.json", dir) < (int)sizeof path && file_exists(path);
}

const char *cli_model_dir(const cli_options *o)
{
    if (o->model)
        return o->model;
    const char *dir = vkclip_default_model_dir();
    if (has_config(dir))
        return dir;
    const char *env = getenv("VKCLIP_MODEL");
    if (env && *env)
        cli_fail("no model: $VKCLIP_MODEL is %s, which holds no config.json (or give --model DIR)", env);
    else
        cli_fail("no model: no --model DIR, no $VKCLIP_MODEL, and no config.json in %s or %s",
                 VKCLIP_INSTALLED_MODEL_DIR, VKCLIP_SOURCE_MODEL_DIR);
    return NULL;
}

bool cli_session_open(cli_session *s, const cli_options *o, bool with_model)
{
    memset(s, 0, sizeof *s);
    /* The model's directory first: no device is opened for a model that is not there. */
    if (with_model && !(s->model_dir = cli_model_dir(o)))
        return false;
    vkclip_error err;
    vkclip_device_options opts = {.device_index = o->device, .validation = o->validation, .threads = o->threads};
    if (!(s->dev = vkclip_device_open(&opts, &err))) {
        cli_fail("%s", err.message);
        return false;
    }
    if (!with_model)
        return true;
    vkclip_model_options mopts = {.activations = o->precision, .batch_size = o->batch};
    if (!(s->model = vkclip_model_load(s->dev, s->model_dir, &mopts, &err))) {
        cli_fail("%s", err.message);
        return false;
    }
    vkclip_model_info info;
    vkclip_model_get_info(s->model, &info);
    if (o->precision == VKCLIP_PRECISION_F16 && strcmp(info.activations, "f16") != 0)
        fprintf(stderr, "vkclip: the device lacks 16-bit storage; activations stay fp32\n");
    return true;
}

int cli_session_close(cli_session *s, int status)
{
    uint32_t messages = s->dev ? vkclip_device_validation_messages(s->dev) : 0;
    if (messages && status == 0)
        status = cli_fail("%u validation message(s)", messages);
    vkclip_model_free(s->model);
    vkclip_device_free(s->dev);
    memset(s, 0, sizeof *s);
    return status;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

char **cli_split(const char *text, char sep, bool empty_is_error, int *count, const char *what)
{
    /* One block: the pointer array, then a copy of the text cut into fields. */
    size_t len = strlen(text), fields = 1;
    for (size_t i = 0; i < len; i++)
        fields += text[i] == sep;
    char **out = malloc(fields * sizeof *out + len + 1);
    if (!out) {
        cli_fail("out of memory");
        return NULL;
    }
    char *copy = (char *)(out + fields);
    memcpy(copy, text, len + 1);
    int n = 0;
    for (char *start = copy;;) {
        char *end = strchr(start, sep);
        if (end)
            *end = '\0';
        char *a = start, *b = start + strlen(start);
        while (a < b && is_space(*a))
            a++;
        while (b > a && is_space(b[-1]))
            b--;
        *b = '\0';
        if (*a)
            out[n++] = a;
        else if (empty_is_error) {
            cli_fail("%s: entry %d is empty", what, n + 1);
            free(out);
            return NULL;
        }
        if (!end)
            break;
        start = end + 1;
    }
    *count = n;
    return out;
}

char **cli_read_lines(const char *path, int *count, const char *what)
{
    errbuf e = {{0}};
    size_t len;
    char *text = read_text_file_limited(path, CLI_TEXT_FILE_MAX_BYTES, true, &len, &e);
    if (!text) {
        cli_fail("%s (%s)", e.msg, what);
        return NULL;
    }
    char **lines = NULL;
    if (strlen(text) != len)
        cli_fail("%s: %s contains a NUL byte", path, what);
    else
        lines = cli_split(text, '\n', false, count, path);
    free(text);
    return lines;
}

void json_print_string(FILE *f, const char *s)
{
    fputc('"', f);
    size_t left = strlen(s);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        if (*p >= 0x80) {
            size_t n = utf8_sequence_length(p, left);
            if (n == 0) {
                fputs("\\ufffd", f);
                n = 1;
            } else {
                fwrite(p, 1, n, f);
            }
            p += n;
            left -= n;
            continue;
        }
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
        p++;
        left--;
    }
    fputc('"', f);
}

static bool is_utf8(const char *s)
{
    size_t left = strlen(s);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_sequence_length(p, left);
        if (n == 0)
            return false;
        p += n;
        left -= n;
    }
    return true;
}

void json_print_name(FILE *f, const char *key, const char *s)
{
    json_print_string(f, key);
    fputs(": ", f);
    json_print_string(f, s);
    if (is_utf8(s))
        return;
    fputs(", ", f);
    fputc('"', f);
    fputs(key, f); /* keys are ours: plain ASCII */
    fputs("_bytes\": \"", f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        fprintf(f, "%02x", *p);
    fputc('"', f);
}

void json_print_float(FILE *f, float v)
{
    /* JSON has no NaN or infinity. */
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else
        fputs("null", f);
}

void json_print_floats(FILE *f, const float *v, int n)
{
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        if (i)
            fputs(", ", f);
        json_print_float(f, v[i]);
    }
    fputc(']', f);
}
