/* cli_images: image files (and standard input) decoded into frames, and
 * images embedded in batches where one bad image does not stop the others. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How an image from standard input is named in messages. */
#define STDIN_NAME "- (standard input)"

/* Reads all of standard input, up to CLI_STDIN_IMAGE_MAX_BYTES (one byte
 * more tells "at the limit" from "over it"). */
static unsigned char *read_stdin(size_t *size, errbuf *e)
{
    size_t cap = 0, len = 0;
    unsigned char *buf = NULL;
    for (;;) {
        if (len > CLI_STDIN_IMAGE_MAX_BYTES) {
            errbuf_set(e, STDIN_NAME ": more than the limit of %zu MiB", CLI_STDIN_IMAGE_MAX_BYTES >> 20);
            break;
        }
        if (len == cap) {
            size_t grown_cap = cap ? cap * 2 : (size_t)1 << 16;
            if (grown_cap > CLI_STDIN_IMAGE_MAX_BYTES + 1)
                grown_cap = CLI_STDIN_IMAGE_MAX_BYTES + 1;
            unsigned char *grown = realloc(buf, grown_cap);
            if (!grown) {
                errbuf_set(e, STDIN_NAME ": out of memory");
                break;
            }
            buf = grown;
            cap = grown_cap;
        }
        ssize_t n = read(0, buf + len, cap - len);
        if (n == 0) {
            *size = len;
            return buf;
        }
        if (n < 0 && errno != EINTR) {
            errbuf_set(e, STDIN_NAME ": read error: %s", strerror(errno));
            break;
        }
        if (n > 0)
            len += (size_t)n;
    }
    free(buf);
    return NULL;
}

/* Decodes one image file, or standard input for "-". */
static bool load_image(rgb_image *img, const char *path, errbuf *e)
{
    if (strcmp(path, "-") != 0)
        return rgb_image_load(img, path, e);
    size_t size = 0;
    unsigned char *data = read_stdin(&size, e);
    bool ok = data && rgb_image_decode(img, data, size, STDIN_NAME, e);
    free(data);
    return ok;
}

static void set_rgb_frame(vkclip_frame *f, const rgb_image *img)
{
    *f = (vkclip_frame){.format = VKCLIP_FORMAT_RGB, .width = img->width, .height = img->height};
    f->planes[0] = img->pixels;
    f->strides[0] = 3 * img->width;
}

bool cli_images_load(cli_images *b, const char *const *paths, int n, int *unreadable)
{
    memset(b, 0, sizeof *b);
    b->images = calloc((size_t)n, sizeof *b->images);
    b->frames = calloc((size_t)n, sizeof *b->frames);
    b->paths = calloc((size_t)n, sizeof *b->paths);
    b->inputs = calloc((size_t)n, sizeof *b->inputs);
    if (!b->images || !b->frames || !b->paths || !b->inputs) {
        cli_fail("out of memory");
        return false;
    }
    for (int i = 0; i < n; i++) {
        errbuf e = {{0}};
        rgb_image *img = &b->images[b->count];
        if (!load_image(img, paths[i], &e)) {
            cli_fail("%s", e.msg); /* the decoder's message names the file */
            if (unreadable)
                ++*unreadable;
            continue;
        }
        set_rgb_frame(&b->frames[b->count], img);
        b->paths[b->count] = paths[i];
        b->inputs[b->count++] = i;
    }
    return true;
}

void cli_images_drop(cli_images *b, int i)
{
    rgb_image_free(&b->images[i]);
    size_t after = (size_t)(b->count - i - 1);
    memmove(&b->images[i], &b->images[i + 1], after * sizeof *b->images);
    memmove(&b->frames[i], &b->frames[i + 1], after * sizeof *b->frames);
    memmove(&b->paths[i], &b->paths[i + 1], after * sizeof *b->paths);
    memmove(&b->inputs[i], &b->inputs[i + 1], after * sizeof *b->inputs);
    b->count--;
}

void cli_images_free(cli_images *b)
{
    for (int i = 0; b->images && i < b->count; i++)
        rgb_image_free(&b->images[i]);
    free(b->images);
    free(b->frames);
    free(b->paths);
    free(b->inputs);
    memset(b, 0, sizeof *b);
}

/* Encodes the batch's frames into emb. The engine checks every frame before
 * it runs any, so a frame it refuses ("frame N: ...") is reported by its
 * path and dropped, and the others are submitted again. Returns 0, or 1 on
 * an error that is not one frame's (reported). */
static int encode_batch(vkclip_model *m, cli_images *b, float *emb, bool normalize, int *skipped)
{
    vkclip_error err;
    while (b->count > 0 && vkclip_encode_images(m, b->frames, b->count, emb, normalize, &err) != 0) {
        const char *rest;
        int bad = cli_frame_of_error(err.message, b->count, &rest);
        if (bad < 0)
            return cli_fail("%s", err.message);
        cli_fail("%s: %s", b->paths[bad], rest);
        cli_images_drop(b, bad);
        ++*skipped;
    }
    return 0;
}

int cli_embed_images(vkclip_model *m, const cli_options *o, bool normalize, cli_embedding_fn fn, void *user,
                     int *skipped)
{
    vkclip_model_info mi;
    vkclip_model_get_info(m, &mi);
    int E = mi.embed_dim, B = mi.batch_size, status = 0;
    float *emb = malloc((size_t)B * E * sizeof *emb);
    if (!emb)
        return cli_fail("out of memory");
    for (int first = 0; status == 0 && first < o->ninputs; first += B) {
        int count = o->ninputs - first < B ? o->ninputs - first : B;
        cli_images b;
        if (!cli_images_load(&b, o->inputs + first, count, skipped))
            status = 1;
        for (int i = 0; status == 0 && i < b.count; i++)
            b.frames[i].crop = o->crop;
        if (status == 0)
            status = encode_batch(m, &b, emb, normalize, skipped);
        for (int i = 0; status == 0 && i < b.count; i++)
            status = fn(user, first + b.inputs[i], emb + (size_t)i * E);
        cli_images_free(&b);
    }
    free(emb);
    return status;
}
