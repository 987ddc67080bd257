#include "cli.h"

#include "util/mapped_file.h"
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

int cli_fail_frames(const char *message, const char *const *paths, int count)
{
    /* "frame N: rest", N an index into this call's frames. */
    if (strncmp(message, "frame ", 6) == 0 && message[6] >= '0' && message[6] <= '9') {
        char *end;
        long index = strtol(message + 6, &end, 10);
        if (end[0] == ':' && end[1] == ' ' && index >= 0 && index < count)
            return cli_fail("%s: %s", paths[index], end + 2);
    }
    return cli_fail("%s", message);
}

static bool option_allowed(const char *allowed, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = allowed; (p = strstr(p, name)); p += n)
        if ((p == allowed || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

static bool parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

bool cli_parse(int argc, char **argv, const char *allowed, int min_inputs, cli_options *o, const char *usage)
{
    memset(o, 0, sizeof *o);
    o->device = -1;
    o->seconds = 10;
    /* Positional arguments are gathered at the front of argv itself (never
     * past the option being read), so nothing needs freeing. */
    o->inputs = (const char **)argv;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || strcmp(a, "--") == 0) {
            if (strcmp(a, "--") == 0)
                for (i++; i < argc; i++)
                    argv[o->ninputs++] = argv[i];
            else
                argv[o->ninputs++] = argv[i];
            continue;
        }
        const char *name = a + 2;
        if (!option_allowed(allowed, name)) {
            fprintf(stderr, "vkclip: unknown option %s\nusage: %s\n", a, usage);
            return false;
        }
        if (strcmp(name, "raw") == 0) {
            o->raw = true;
            continue;
        }
        if (strcmp(name, "validation") == 0) {
            o->validation = true;
            continue;
        }
        if (strcmp(name, "no-cache") == 0) {
            o->no_cache = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "vkclip: %s needs a value\nusage: %s\n", a, usage);
            return false;
        }
        const char *val = argv[++i];
        bool ok = true;
        if (strcmp(name, "model") == 0)
            o->model = val;
        else if (strcmp(name, "out") == 0)
            o->out = val;
        else if (strcmp(name, "device") == 0)
            ok = parse_int(val, 0, 999, &o->device);
        else if (strcmp(name, "batch") == 0)
            ok = parse_int(val, 1, 1024, &o->batch);
        else if (strcmp(name, "labels") == 0)
            o->labels = val;
        else if (strcmp(name, "labels-file") == 0)
            o->labels_file = val;
        else if (strcmp(name, "templates-file") == 0)
            o->templates_file = val;
        else if (strcmp(name, "template") == 0) {
            if (o->ntemplates == CLI_MAX_TEMPLATES) {
                fprintf(stderr, "vkclip: --template: at most %d on the command line; put more in a "
                                "--templates-file\n", CLI_MAX_TEMPLATES);
                return false;
            }
            o->templates[o->ntemplates++] = val;
        } else if (strcmp(name, "top-k") == 0)
            ok = parse_int(val, 1, 1 << 24, &o->top_k);
        else if (strcmp(name, "seconds") == 0) {
            char *end;
            o->seconds = strtod(val, &end);
            ok = *val && !*end && o->seconds > 0 && o->seconds <= 86400;
        } else if (strcmp(name, "crop") == 0) {
            int x, y, w, h, used = 0;
            ok = sscanf(val, "%d,%d,%d,%d%n", &x, &y, &w, &h, &used) == 4 && val[used] == '\0' && x >= 0 &&
                 y >= 0 && w > 0 && h > 0;
            o->crop = (vkclip_rect){x, y, w, h};
        } else if (strcmp(name, "precision") == 0) {
            ok = strcmp(val, "f32") == 0 || strcmp(val, "f16") == 0;
            o->precision = strcmp(val, "f16") == 0 ? VKCLIP_PRECISION_F16 : VKCLIP_PRECISION_F32;
        }
        if (!ok) {
            fprintf(stderr, "vkclip: bad value '%s' for %s\nusage: %s\n", val, a, usage);
            return false;
        }
    }
    if (o->ninputs < min_inputs) {
        fprintf(stderr, "vkclip: %s\nusage: %s\n", min_inputs == 1 ? "nothing to do" : "missing arguments",
                usage);
        return false;
    }
    return true;
}

bool cli_session_open(cli_session *s, const cli_options *o, bool with_model)
{
    memset(s, 0, sizeof *s);
    vkclip_error err;
    vkclip_device_options opts = {.device_index = o->device, .validation = o->validation};
    if (!(s->dev = vkclip_device_open(&opts, &err))) {
        cli_fail("%s", err.message);
        return false;
    }
    if (!with_model)
        return true;
    if (!o->model) {
        cli_fail("--model DIR is required");
        return false;
    }
    vkclip_model_options mopts = {.activations = o->precision, .batch_size = o->batch};
    if (!(s->model = vkclip_model_load(s->dev, o->model, &mopts, &err))) {
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

bool cli_images_load(cli_images *b, const char *const *paths, int count)
{
    b->count = count;
    b->images = calloc((size_t)count, sizeof *b->images);
    b->frames = calloc((size_t)count, sizeof *b->frames);
    if (!b->images || !b->frames) {
        cli_fail("out of memory");
        return false;
    }
    for (int i = 0; i < count; i++) {
        errbuf e = {{0}};
        rgb_image *img = &b->images[i];
        if (!rgb_image_load(img, paths[i], &e)) {
            cli_fail("%s", e.msg);
            return false;
        }
        b->frames[i] = (vkclip_frame){.format = VKCLIP_FORMAT_RGB, .width = img->width, .height = img->height};
        b->frames[i].planes[0] = img->pixels;
        b->frames[i].strides[0] = 3 * img->width;
    }
    return true;
}

void cli_images_free(cli_images *b)
{
    for (int i = 0; b->images && i < b->count; i++)
        rgb_image_free(&b->images[i]);
    free(b->images);
    free(b->frames);
    memset(b, 0, sizeof *b);
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
