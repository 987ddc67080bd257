/* test_encoder: the asynchronous encoder (vkclip_encoder_*), crops, threads
 * and cancellable classifier builds, through the public API.
 *
 *   test_encoder [--validation] [--force-upload]
 *
 * --force-upload sets VKCLIP_FORCE_UPLOAD=1: frames go through a host
 * staging buffer and a copy into device memory, as on a discrete GPU (with
 * VKCLIP_KERNELS=...,upload=queue that copy is submitted apart, as on the
 * transfer queue).
 *
 * References the code under test did not produce: the golden embeddings and
 * probabilities of reference.json (OpenAI's code), images decoded by
 * core/image (tested against Pillow), and the RGB GStreamer's videoconvert
 * makes of a Y'CbCr frame as yuv_reference.c computes it (tested against
 * videoconvert by test_videoconvert.py). Crops of RGB images against
 * PyTorch on Pillow's crop are in test_crop.py.
 *
 * - async: embeddings of the fixture images in batches of 1..3, two in
 *   flight, collected out of order, equal reference.json's.
 * - busy: with one batch in flight a second submit returns 0 and leaves err
 *   alone; poll returns 0, then 1; unknown and collected tickets are -1; a
 *   bad frame is named by its index and its crop.
 * - crops: a crop preprocesses exactly like the cropped pixels given as a
 *   frame of their own (RGB; I420/NV12 at even offsets with each chroma
 *   sample for its 2x2 block); at odd offsets, with the default chroma
 *   siting (interpolated for NV12), like the same rectangle of the whole
 *   frame's RGB (chroma neighbours outside the crop count). Frames that
 *   share planes and differ in crop, in one batch.
 * - threads: three threads with an encoder each on one model, while a fourth
 *   builds a classifier; with --validation the layer must stay silent.
 * - cancel: a build cancelled from another thread returns NULL.
 * - 4K: eight 3840x2160 BGRx frames in one batch (each frame is one texel
 *   view: the device's limit is per frame).
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../check.h"
#include "image/image.h"
#include "model/json.h"
#include "util/mapped_file.h"
#include "vkclip.h"
#include "yuv_reference.h"

#define COS_MIN 0.99999
#define NIMAGES 2
#define NTEXTS 13

static const char *const image_names[NIMAGES] = {"chelsea.png", "coffee.png"};

typedef struct fixture {
    int E;
    rgb_image images[NIMAGES];
    vkclip_frame frames[NIMAGES];
    float *ref_norm[NIMAGES], *ref_raw[NIMAGES]; /* reference.json's embeddings */
    char *texts[NTEXTS];
    double probs[NIMAGES][NTEXTS];
} fixture;

static fixture fx;
static vkclip_model *model;
static vkclip_device *device;

static double cosine(const float *a, const float *b, int n)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

static double norm(const float *a, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)a[i] * a[i];
    return sqrt(s);
}

static float *json_floats(const json_value *arr, int *n)
{
    if (!arr || arr->type != JSON_ARRAY)
        return NULL;
    float *v = malloc(arr->count * sizeof *v);
    int i = 0;
    for (const json_value *x = json_first(arr); v && x; x = json_next(x))
        v[i++] = (float)x->number;
    *n = (int)arr->count;
    return v;
}

static bool load_reference(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/clip-tiny-f32/reference.json", dir);
    errbuf e = {{0}};
    size_t len;
    char *text = read_text_file(path, &len, &e);
    json_doc *doc = text ? json_parse(text, len, &e) : NULL;
    free(text);
    if (!doc)
        return false;
    const json_value *root = json_root(doc);
    const json_value *images = json_get(root, "images"), *texts = json_get(root, "texts");
    const json_value *probs = json_get(root, "probs");
    bool ok = images && texts && probs && texts->count == NTEXTS;
    for (int i = 0; ok && i < NIMAGES; i++) {
        const json_value *img = NULL;
        for (const json_value *x = json_first(images); x; x = json_next(x)) {
            const json_value *f = json_get(x, "file");
            if (f && f->type == JSON_STRING && strcmp(f->str, image_names[i]) == 0)
                img = x;
        }
        int n1 = 0, n2 = 0;
        ok = img && (fx.ref_norm[i] = json_floats(json_get(img, "embedding_normalized"), &n1)) &&
             (fx.ref_raw[i] = json_floats(json_get(img, "embedding"), &n2)) && n1 == n2;
        fx.E = n1;
    }
    /* probs rows follow the images' order in the file. */
    int r = 0;
    for (const json_value *x = json_first(images); ok && x; x = json_next(x), r++) {
        const json_value *f = json_get(x, "file");
        for (int i = 0; i < NIMAGES; i++)
            if (strcmp(f->str, image_names[i]) == 0) {
                const json_value *row = json_at(probs, (size_t)r);
                ok = row && row->count == NTEXTS;
                for (int j = 0; ok && j < NTEXTS; j++)
                    fx.probs[i][j] = json_at(row, (size_t)j)->number;
            }
    }
    int t = 0;
    for (const json_value *x = json_first(texts); ok && x; x = json_next(x), t++) {
        const json_value *s = json_get(x, "text");
        ok = s && s->type == JSON_STRING && (fx.texts[t] = strdup(s->str));
    }
    json_free(doc);
    return ok;
}

static void fixture_free(void)
{
    for (int i = 0; i < NIMAGES; i++) {
        rgb_image_free(&fx.images[i]);
        free(fx.ref_norm[i]);
        free(fx.ref_raw[i]);
    }
    for (int t = 0; t < NTEXTS; t++)
        free(fx.texts[t]);
}

static vkclip_frame rgb_frame(const uint8_t *pixels, int w, int h, int stride)
{
    vkclip_frame f = {.format = VKCLIP_FORMAT_RGB, .width = w, .height = h};
    f.planes[0] = pixels;
    f.strides[0] = stride;
    return f;
}

/* Embedding i of out against image `which`'s reference. */
static bool check_embedding(const char *what, const float *got, int which, bool normalized)
{
    int E = fx.E;
    double c = cosine(got, normalized ? fx.ref_norm[which] : fx.ref_raw[which], E);
    double scale = norm(got, E) / (normalized ? 1.0 : norm(fx.ref_raw[which], E));
    bool ok = c >= COS_MIN && fabs(scale - 1) < 1e-4;
    if (!ok)
        fprintf(stderr, "%s: %s: cosine %.7f, norm ratio %.6f\n", what, image_names[which], c, scale);
    return ok;
}

/* ---- (a) batches in flight, collected out of order ---- */

static void test_async(void)
{
    vkclip_error err;
    vkclip_encoder *enc = vkclip_encoder_create(model, 3, 2, &err);
    CHECKF(enc != NULL, "%s", err.message);
    if (!enc)
        return;
    CHECK(vkclip_encoder_batch_size(enc) == 3);
    /* Batches of 1, 2, 3, 2, 3 frames mixing both images (both sizes in one slot). */
    static const int batches[][4] = {{1, 0}, {2, 1, 0}, {3, 0, 1, 1}, {2, 1, 1}, {3, 1, 0, 0}, {1, 1}};
    int nb = (int)(sizeof batches / sizeof batches[0]);
    float *out = malloc(3 * (size_t)fx.E * sizeof *out);
    int64_t last = 0;
    for (int b = 0; b + 1 < nb; b += 2) {
        vkclip_frame fa[3], fb[3];
        for (int i = 0; i < batches[b][0]; i++)
            fa[i] = fx.frames[batches[b][1 + i]];
        for (int i = 0; i < batches[b + 1][0]; i++)
            fb[i] = fx.frames[batches[b + 1][1 + i]];
        int64_t ta = vkclip_encoder_submit(enc, fa, batches[b][0], &err);
        CHECKF(ta > last, "submit: %lld (%s)", (long long)ta, err.message);
        int64_t tb = vkclip_encoder_submit(enc, fb, batches[b + 1][0], &err);
        CHECKF(tb > ta, "submit: %lld (%s)", (long long)tb, err.message);
        last = tb;
        CHECK(vkclip_encoder_in_flight(enc) == 2);
        /* The second first. */
        CHECKF(vkclip_encoder_wait(enc, tb, out, true, &err) == 0, "%s", err.message);
        for (int i = 0; i < batches[b + 1][0]; i++)
            CHECK(check_embedding("async, second batch", out + (size_t)i * fx.E, batches[b + 1][1 + i], true));
        CHECK(vkclip_encoder_in_flight(enc) == 1);
        CHECKF(vkclip_encoder_wait(enc, ta, out, false, &err) == 0, "%s", err.message);
        for (int i = 0; i < batches[b][0]; i++)
            CHECK(check_embedding("async, first batch (raw)", out + (size_t)i * fx.E, batches[b][1 + i], false));
        CHECK(vkclip_encoder_in_flight(enc) == 0);
    }
    free(out);
    vkclip_encoder_free(enc);
    printf("async: batches of 1..3, two in flight, out of order: done\n");
}

/* ---- (b) busy, poll, unknown tickets, bad frames ---- */

static void test_busy(void)
{
    vkclip_error err;
    vkclip_encoder *enc = vkclip_encoder_create(model, 2, 1, &err);
    CHECKF(enc != NULL, "%s", err.message);
    if (!enc)
        return;
    float *out = malloc(2 * (size_t)fx.E * sizeof *out);
    vkclip_frame two[2] = {fx.frames[1], fx.frames[0]};
    /* The CPU backend starts a batch on its own thread at once, so when this
     * thread is descheduled between submitting and polling the batch can be
     * done (and collected by that poll) first. Such a try shows nothing about
     * polling a running batch, so it is made again; one of five must. */
    int64_t t1 = 0;
    int first = 1;
    for (int attempt = 0; attempt < 5 && first == 1; attempt++) {
        t1 = vkclip_encoder_submit(enc, two, 2, &err);
        CHECKF(t1 > 0, "%s", err.message);
        strcpy(err.message, "untouched");
        CHECK(vkclip_encoder_submit(enc, two, 1, &err) == 0);
        CHECK(strcmp(err.message, "untouched") == 0);
        CHECK(vkclip_encoder_in_flight(enc) == 1);
        first = vkclip_encoder_poll(enc, t1, out, true, &err);
    }
    CHECKF(first == 0, "the first poll right after submit gives %d (expected 0: still running)", first);
    int polls = 1, r = first;
    for (; r == 0 && polls < 200000; polls++) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
        r = vkclip_encoder_poll(enc, t1, out, true, &err);
    }
    CHECKF(r == 1, "poll: %d after %d polls (%s)", r, polls, err.message);
    CHECK(check_embedding("poll", out, 1, true) && check_embedding("poll", out + fx.E, 0, true));
    CHECK(vkclip_encoder_in_flight(enc) == 0);
    CHECK(vkclip_encoder_poll(enc, t1, out, true, &err) == -1 && strstr(err.message, "not in flight"));
    CHECK(vkclip_encoder_wait(enc, t1, out, true, &err) == -1);
    CHECK(vkclip_encoder_poll(enc, 0, out, true, &err) == -1);
    CHECK(vkclip_encoder_poll(enc, 987654, out, true, &err) == -1);
    int64_t t2 = vkclip_encoder_submit(enc, two, 1, &err);
    CHECKF(t2 > t1, "%lld after %lld: %s", (long long)t2, (long long)t1, err.message);
    CHECKF(vkclip_encoder_wait(enc, t2, out, true, &err) == 0, "%s", err.message);
    CHECK(check_embedding("after busy", out, 1, true));

    /* discard forgets what is in flight. */
    int64_t t3 = vkclip_encoder_submit(enc, two, 2, &err);
    CHECK(t3 > t2);
    vkclip_encoder_discard(enc);
    CHECK(vkclip_encoder_in_flight(enc) == 0);
    CHECK(vkclip_encoder_wait(enc, t3, out, true, &err) == -1);
    /* out may be NULL: the ticket retires unread. */
    int64_t t4 = vkclip_encoder_submit(enc, two, 2, &err);
    CHECK(t4 > t3 && vkclip_encoder_wait(enc, t4, NULL, true, &err) == 0 && vkclip_encoder_in_flight(enc) == 0);

    /* Bad input: named, nothing submitted, the encoder still works. */
    vkclip_frame bad[2] = {fx.frames[0], fx.frames[0]};
    bad[1].crop = (vkclip_rect){400, 10, 60, 50}; /* 400 + 60 > 451 */
    CHECK(vkclip_encoder_submit(enc, bad, 2, &err) == -1);
    CHECKF(strstr(err.message, "frame 1") && strstr(err.message, "x 400, y 10, 60x50") &&
               strstr(err.message, "451x300"),
           "message: %s", err.message);
    bad[1].crop = (vkclip_rect){-1, 0, 10, 10};
    CHECK(vkclip_encoder_submit(enc, bad, 2, &err) == -1 && strstr(err.message, "frame 1"));
    bad[1].crop = (vkclip_rect){0, 0, 0, 0};
    bad[1].planes[0] = NULL;
    CHECK(vkclip_encoder_submit(enc, bad, 2, &err) == -1 && strstr(err.message, "frame 1: plane 0 is missing"));
    CHECK(vkclip_encoder_submit(enc, bad, 0, &err) == -1);
    CHECK(vkclip_encoder_submit(enc, bad, 3, &err) == -1);
    CHECK(vkclip_encoder_in_flight(enc) == 0);
    int64_t t5 = vkclip_encoder_submit(enc, two, 2, &err);
    CHECK(t5 > t4 && vkclip_encoder_wait(enc, t5, out, true, &err) == 0);
    CHECK(check_embedding("after errors", out, 1, true) && check_embedding("after errors", out + fx.E, 0, true));
    /* free with a batch in flight waits for it */
    CHECK(vkclip_encoder_submit(enc, two, 2, &err) > t5);
    free(out);
    vkclip_encoder_free(enc);

    CHECK(vkclip_encoder_create(model, 1025, 1, &err) == NULL && strstr(err.message, "batch size"));
    CHECK(vkclip_encoder_create(model, 1, 9, &err) == NULL && strstr(err.message, "max_in_flight"));
    printf("busy: poll gave 0 %d time(s) before 1; tickets %lld..%lld\n", polls - 1, (long long)t1, (long long)t5);
}

/* ---- (c) crops ---- */

typedef struct yuv_frame {
    int w, h, cw, ch;
    int ystride, cstride;
    uint8_t *Y, *U, *V; /* V unused for NV12 (interleaved in U) */
    bool nv12;
} yuv_frame;

static uint8_t to_byte(double v)
{
    v = nearbyint(v);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* The frames under test are made with BT.601 limited range's defining
 * equations (Kr 0.299, Kb 0.114), chroma averaged over each 2x2 block. */
static const double KR = 0.299, KB = 0.114;

static void yuv_make(yuv_frame *f, const rgb_image *img, bool nv12)
{
    memset(f, 0, sizeof *f);
    f->w = img->width;
    f->h = img->height;
    f->cw = (f->w + 1) / 2;
    f->ch = (f->h + 1) / 2;
    f->nv12 = nv12;
    f->ystride = f->w + 3;
    f->cstride = (nv12 ? 2 * f->cw : f->cw) + 9;
    f->Y = calloc((size_t)f->ystride * f->h, 1);
    f->U = calloc((size_t)f->cstride * f->ch, 1);
    f->V = calloc((size_t)f->cstride * f->ch, 1);
    for (int by = 0; by < f->ch; by++)
        for (int bx = 0; bx < f->cw; bx++) {
            double su = 0, sv = 0;
            int n = 0;
            for (int y = 2 * by; y < 2 * by + 2 && y < f->h; y++)
                for (int x = 2 * bx; x < 2 * bx + 2 && x < f->w; x++) {
                    const uint8_t *p = img->pixels + ((size_t)y * f->w + x) * 3;
                    double r = p[0] / 255.0, g = p[1] / 255.0, b = p[2] / 255.0;
                    double ey = KR * r + (1 - KR - KB) * g + KB * b;
                    f->Y[(size_t)y * f->ystride + x] = to_byte(16 + 219 * ey);
                    su += 128 + 224 * (b - ey) / (2 * (1 - KB));
                    sv += 128 + 224 * (r - ey) / (2 * (1 - KR));
                    n++;
                }
            uint8_t U = to_byte(su / n), V = to_byte(sv / n);
            if (nv12) {
                f->U[(size_t)by * f->cstride + 2 * bx] = U;
                f->U[(size_t)by * f->cstride + 2 * bx + 1] = V;
            } else {
                f->U[(size_t)by * f->cstride + bx] = U;
                f->V[(size_t)by * f->cstride + bx] = V;
            }
        }
}

static void yuv_free(yuv_frame *f)
{
    free(f->Y);
    free(f->U);
    free(f->V);
}

static vkclip_frame yuv_as_frame(const yuv_frame *f, vkclip_chroma_site site)
{
    vkclip_frame v = {.format = f->nv12 ? VKCLIP_FORMAT_NV12 : VKCLIP_FORMAT_I420, .width = f->w, .height = f->h,
                      .colorimetry = VKCLIP_BT601_LIMITED, .chroma_site = site};
    v.planes[0] = f->Y;
    v.strides[0] = f->ystride;
    v.planes[1] = f->U;
    v.strides[1] = f->cstride;
    v.planes[2] = f->V;
    v.strides[2] = f->cstride;
    return v;
}

/* The planes of the region (x, y, w, h), x and y even, as a frame of its own. */
static void yuv_sub(yuv_frame *out, const yuv_frame *f, int x, int y, int w, int h)
{
    memset(out, 0, sizeof *out);
    out->w = w;
    out->h = h;
    out->cw = (w + 1) / 2;
    out->ch = (h + 1) / 2;
    out->nv12 = f->nv12;
    out->ystride = w;
    out->cstride = f->nv12 ? 2 * out->cw : out->cw;
    out->Y = malloc((size_t)w * h);
    out->U = malloc((size_t)out->cstride * out->ch);
    out->V = malloc((size_t)out->cstride * out->ch);
    for (int r = 0; r < h; r++)
        memcpy(out->Y + (size_t)r * w, f->Y + (size_t)(y + r) * f->ystride + x, (size_t)w);
    for (int r = 0; r < out->ch; r++) {
        size_t src = (size_t)(y / 2 + r) * f->cstride;
        if (f->nv12) {
            memcpy(out->U + (size_t)r * out->cstride, f->U + src + (size_t)x, (size_t)out->cstride);
        } else {
            memcpy(out->U + (size_t)r * out->cstride, f->U + src + (size_t)(x / 2), (size_t)out->cw);
            memcpy(out->V + (size_t)r * out->cstride, f->V + src + (size_t)(x / 2), (size_t)out->cw);
        }
    }
}

/* RGB of the region: the rectangle (x0, y0, w, h) of the RGB videoconvert
 * makes of the whole frame (yuv_reference.c). */
static uint8_t *yuv_region_rgb(const vkclip_frame *f, int x0, int y0, int w, int h)
{
    uint8_t *whole = malloc((size_t)f->width * f->height * 3), *rgb = malloc((size_t)w * h * 3);
    CHECK(whole && rgb && yuv_reference_rgb(f, whole));
    for (int j = 0; whole && rgb && j < h; j++)
        memcpy(rgb + (size_t)j * w * 3, whole + ((size_t)(y0 + j) * f->width + x0) * 3, (size_t)w * 3);
    free(whole);
    return rgb;
}

static int side;

static float *preprocess(const vkclip_frame *f, const char *what)
{
    size_t n = 3 * (size_t)side * side;
    float *out = malloc(n * sizeof *out);
    vkclip_error err;
    int rc = vkclip_preprocess(model, f, out, &err);
    CHECKF(rc == 0, "%s: %s", what, err.message);
    if (rc != 0) {
        free(out);
        return NULL;
    }
    return out;
}

static const float stdev[3] = {0.26862954f, 0.26130258f, 0.27577711f};

/* Preprocessed tensors: identical, or within `levels` (in 1/255 of [0,1],
 * mean/std undone) with at least min_within1 of the values within one. */
static void compare_tensors(const char *what, const float *got, const float *want, double min_within1, double levels)
{
    if (!got || !want)
        return;
    size_t n = 3 * (size_t)side * side, plane = (size_t)side * side, within1 = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(((double)got[i] - want[i]) * stdev[i / plane]) * 255.0;
        within1 += d <= 1.0 + 1e-4;
        if (d > worst)
            worst = d;
    }
    double frac = (double)within1 / (double)n;
    printf("crop: %-44s within 1 level %.5f, worst %.3f levels\n", what, frac, worst);
    CHECKF(frac >= min_within1 && worst <= levels + 1e-4, "%s: %.5f within 1 level, worst %.3f", what, frac, worst);
}

static void embed(vkclip_encoder *enc, const vkclip_frame *frames, int n, float *out)
{
    vkclip_error err;
    int64_t t = vkclip_encoder_submit(enc, frames, n, &err);
    CHECKF(t > 0, "%s", err.message);
    if (t > 0)
        CHECKF(vkclip_encoder_wait(enc, t, out, true, &err) == 0, "%s", err.message);
}

static void test_crops(void)
{
    const rgb_image *img = &fx.images[0]; /* chelsea, 451x300 */
    int W = img->width;
    vkclip_error err;
    vkclip_encoder *enc = vkclip_encoder_create(model, 4, 1, &err);
    CHECKF(enc != NULL, "%s", err.message);
    if (!enc)
        return;
    /* RGB: the crop against the cropped pixels copied into a frame of their own. */
    static const vkclip_rect rects[4] = {{0, 0, 300, 300}, {151, 0, 300, 300}, {37, 21, 301, 229}, {120, 33, 97, 211}};
    vkclip_frame shared[4];
    float *batch = malloc(4 * (size_t)fx.E * sizeof *batch), *alone = malloc((size_t)fx.E * sizeof *alone);
    uint8_t *copies[4];
    for (int k = 0; k < 4; k++) {
        const vkclip_rect *r = &rects[k];
        copies[k] = malloc((size_t)r->width * r->height * 3);
        for (int y = 0; y < r->height; y++)
            memcpy(copies[k] + (size_t)y * r->width * 3, img->pixels + ((size_t)(r->y + y) * W + r->x) * 3,
                   (size_t)r->width * 3);
        shared[k] = fx.frames[0];
        shared[k].crop = *r;
        char what[64];
        snprintf(what, sizeof what, "RGB (%d, %d, %dx%d) vs its pixels", r->x, r->y, r->width, r->height);
        vkclip_frame own = rgb_frame(copies[k], r->width, r->height, 3 * r->width);
        float *a = preprocess(&shared[k], what), *b = preprocess(&own, what);
        compare_tensors(what, a, b, 1.0, 0.0); /* the same pixels: the same integer arithmetic */
        free(a);
        free(b);
    }
    /* One batch: four crops of one set of planes (uploaded once), against each copy alone. */
    embed(enc, shared, 4, batch);
    for (int k = 0; k < 4; k++) {
        vkclip_frame own = rgb_frame(copies[k], rects[k].width, rects[k].height, 3 * rects[k].width);
        embed(enc, &own, 1, alone);
        double c = cosine(batch + (size_t)k * fx.E, alone, fx.E);
        CHECKF(c >= COS_MIN, "crop %d in a shared batch: cosine %.7f", k, c);
    }
    /* The whole-frame rectangle is the whole frame. */
    vkclip_frame whole = fx.frames[0];
    whole.crop = (vkclip_rect){0, 0, img->width, img->height};
    embed(enc, &whole, 1, alone);
    CHECK(check_embedding("crop = the whole frame", alone, 0, true));

    for (int nv12 = 0; nv12 < 2; nv12++) {
        const char *fmt = nv12 ? "NV12" : "I420";
        yuv_frame y;
        yuv_make(&y, img, nv12);
        vkclip_frame f = yuv_as_frame(&y, VKCLIP_CHROMA_AUTO), block = yuv_as_frame(&y, VKCLIP_CHROMA_NEAREST);
        /* Even offsets, each chroma sample for its block: the crop's chroma
         * is the cropped planes' chroma. */
        static const vkclip_rect even[2] = {{40, 20, 300, 250}, {150, 0, 301, 299}};
        for (int k = 0; k < 2; k++) {
            const vkclip_rect *r = &even[k];
            yuv_frame sub;
            yuv_sub(&sub, &y, r->x, r->y, r->width, r->height);
            vkclip_frame own = yuv_as_frame(&sub, VKCLIP_CHROMA_NEAREST), cropped = block;
            cropped.crop = *r;
            char what[80];
            snprintf(what, sizeof what, "%s (%d, %d, %dx%d) vs its planes", fmt, r->x, r->y, r->width, r->height);
            float *a = preprocess(&cropped, what), *b = preprocess(&own, what);
            compare_tensors(what, a, b, 1.0, 0.0);
            free(a);
            free(b);
            embed(enc, &cropped, 1, batch);
            embed(enc, &own, 1, alone);
            CHECKF(cosine(batch, alone, fx.E) >= COS_MIN, "%s: cosine %.7f", what, cosine(batch, alone, fx.E));
            yuv_free(&sub);
        }
        /* Odd offsets, default siting: each pixel is the whole frame's. */
        static const vkclip_rect odd[2] = {{41, 23, 301, 251}, {1, 1, 449, 297}};
        for (int k = 0; k < 2; k++) {
            const vkclip_rect *r = &odd[k];
            uint8_t *rgb = yuv_region_rgb(&f, r->x, r->y, r->width, r->height);
            vkclip_frame own = rgb_frame(rgb, r->width, r->height, 3 * r->width), cropped = f;
            cropped.crop = *r;
            char what[80];
            snprintf(what, sizeof what, "%s (%d, %d, %dx%d) vs videoconvert's RGB", fmt, r->x, r->y, r->width,
                     r->height);
            float *a = preprocess(&cropped, what), *b = preprocess(&own, what);
            compare_tensors(what, a, b, 1.0, 0.0); /* integer arithmetic both ways: the same */
            free(a);
            free(b);
            vkclip_frame pair[2] = {cropped, f};
            pair[1].crop = (vkclip_rect){r->x + 1, r->y + 1, r->width - 1, r->height - 1};
            embed(enc, pair, 2, batch); /* the same planes twice, two crops */
            embed(enc, &own, 1, alone);
            double c = cosine(batch, alone, fx.E);
            CHECKF(c >= COS_MIN, "%s: cosine %.7f", what, c);
            uint8_t *rgb2 = yuv_region_rgb(&f, r->x + 1, r->y + 1, r->width - 1, r->height - 1);
            vkclip_frame own2 = rgb_frame(rgb2, r->width - 1, r->height - 1, 3 * (r->width - 1));
            embed(enc, &own2, 1, alone);
            c = cosine(batch + fx.E, alone, fx.E);
            CHECKF(c >= COS_MIN, "%s, second crop of the pair: cosine %.7f", what, c);
            free(rgb);
            free(rgb2);
        }
        yuv_free(&y);
    }
    for (int k = 0; k < 4; k++)
        free(copies[k]);
    free(batch);
    free(alone);
    vkclip_encoder_free(enc);
}

/* ---- (d) threads ---- */

#define ROUNDS 20

typedef struct worker {
    pthread_t thread;
    int id, failures, encoded;
    char message[600];
} worker;

static void *encode_worker(void *arg)
{
    worker *w = arg;
    vkclip_error err;
    vkclip_encoder *enc = vkclip_encoder_create(model, 2, 2, &err);
    if (!enc) {
        snprintf(w->message, sizeof w->message, "encoder: %s", err.message);
        w->failures++;
        return NULL;
    }
    float *out = malloc(2 * (size_t)fx.E * sizeof *out);
    /* Each round: both images in one batch, their order changing; two
     * batches in flight, each collected one round later. */
    int64_t pending[2] = {0, 0};
    int which[2][2], counts[2] = {0, 0};
    for (int round = 0; round <= ROUNDS + 1; round++) {
        int slot = round % 2;
        if (pending[slot]) {
            if (vkclip_encoder_wait(enc, pending[slot], out, true, &err) != 0) {
                snprintf(w->message, sizeof w->message, "wait: %s", err.message);
                w->failures++;
            } else {
                for (int i = 0; i < counts[slot]; i++) {
                    if (!check_embedding("threads", out + (size_t)i * fx.E, which[slot][i], true))
                        w->failures++;
                    w->encoded++;
                }
            }
            pending[slot] = 0;
        }
        if (round >= ROUNDS)
            continue;
        vkclip_frame frames[2];
        counts[slot] = 2;
        for (int i = 0; i < counts[slot]; i++) {
            which[slot][i] = (round + i + w->id) % 2;
            frames[i] = fx.frames[which[slot][i]];
        }
        pending[slot] = vkclip_encoder_submit(enc, frames, counts[slot], &err);
        if (pending[slot] <= 0) {
            snprintf(w->message, sizeof w->message, "submit: %lld %s", (long long)pending[slot], err.message);
            w->failures++;
            pending[slot] = 0;
        }
    }
    free(out);
    vkclip_encoder_free(enc);
    return NULL;
}

typedef struct builder {
    pthread_t thread;
    vkclip_classifier *c;
    char message[600];
} builder;

static void *build_worker(void *arg)
{
    builder *b = arg;
    const char *labels[20];
    for (int i = 0; i < 20; i++)
        labels[i] = fx.texts[i % NTEXTS]; /* the first seven twice */
    const char *templates[1] = {"{}"};
    vkclip_classifier_options opts = {.no_cache = true};
    vkclip_error err;
    b->c = vkclip_classifier_create(model, labels, 20, templates, 1, &opts, &err);
    if (!b->c)
        snprintf(b->message, sizeof b->message, "%s", err.message);
    return NULL;
}

/* The classifier's probabilities against reference.json's: its labels are
 * the 13 texts and the first 7 again, so p20(j) = p13(j) / (1 + sum of p13
 * over the repeated ones). */
static void check_classifier(const vkclip_classifier *c)
{
    CHECK(vkclip_classifier_size(c) == 20);
    float probs[20];
    double worst = 0;
    for (int i = 0; i < NIMAGES; i++) {
        vkclip_classifier_probs(c, fx.ref_norm[i], probs);
        double extra = 0;
        for (int j = 0; j < 20 - NTEXTS; j++)
            extra += fx.probs[i][j];
        for (int j = 0; j < 20; j++) {
            double d = fabs(probs[j] - fx.probs[i][j % NTEXTS] / (1 + extra));
            if (d > worst)
                worst = d;
        }
    }
    CHECKF(worst <= 0.005, "classifier probabilities off by %.5f", worst);
    printf("threads: classifier built meanwhile, probabilities within %.6f of the reference\n", worst);
}

static void test_threads(void)
{
    worker w[3];
    builder b = {0};
    memset(w, 0, sizeof w);
    for (int i = 0; i < 3; i++) {
        w[i].id = i;
        CHECK(pthread_create(&w[i].thread, NULL, encode_worker, &w[i]) == 0);
    }
    CHECK(pthread_create(&b.thread, NULL, build_worker, &b) == 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(w[i].thread, NULL);
        CHECKF(w[i].failures == 0, "thread %d: %d failure(s), last: %s", i, w[i].failures, w[i].message);
        CHECKF(w[i].encoded == ROUNDS * 2, "thread %d encoded %d", i, w[i].encoded);
    }
    pthread_join(b.thread, NULL);
    CHECKF(b.c != NULL, "classifier: %s", b.message);
    if (b.c)
        check_classifier(b.c);
    vkclip_classifier_free(b.c);
    printf("threads: 3 encoders x %d rounds on one model, each embedding equal to the reference\n", ROUNDS);
}

/* ---- (e) cancel ---- */

typedef struct cancel_state {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int progress_calls;
    volatile int flag;
    bool flag_set;
} cancel_state;

static void on_progress(void *user, int done, int total)
{
    cancel_state *s = user;
    (void)done;
    (void)total;
    pthread_mutex_lock(&s->lock);
    s->progress_calls++;
    pthread_cond_broadcast(&s->cond);
    while (!s->flag_set) /* the canceller has set the flag before the build goes on */
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

static void *canceller(void *arg)
{
    cancel_state *s = arg;
    pthread_mutex_lock(&s->lock);
    while (s->progress_calls == 0)
        pthread_cond_wait(&s->cond, &s->lock);
    s->flag = 1;
    s->flag_set = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void test_cancel(void)
{
    enum { LABELS = 100, TEMPLATES = 10 };
    char *labels[LABELS], *templates[TEMPLATES];
    for (int i = 0; i < LABELS; i++) {
        labels[i] = malloc(32);
        snprintf(labels[i], 32, "thing number %d", i);
    }
    for (int i = 0; i < TEMPLATES; i++) {
        templates[i] = malloc(48);
        snprintf(templates[i], 48, "a photo of %d {}s.", i);
    }
    cancel_state s = {.flag = 0};
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, canceller, &s) == 0);
    vkclip_classifier_options opts = {.no_cache = true, .progress = on_progress, .progress_user = &s,
                                      .cancel = &s.flag};
    vkclip_error err;
    vkclip_classifier *c = vkclip_classifier_create(model, (const char *const *)labels, LABELS,
                                                    (const char *const *)templates, TEMPLATES, &opts, &err);
    pthread_join(t, NULL);
    CHECK(c == NULL);
    CHECKF(c == NULL && strcmp(err.message, "classifier build cancelled") == 0, "message: %s", c ? "" : err.message);
    CHECKF(s.progress_calls == 1, "%d progress calls", s.progress_calls);
    vkclip_classifier_free(c);
    /* The model builds again afterwards; a flag already set cancels at once. */
    opts = (vkclip_classifier_options){.no_cache = true, .cancel = &s.flag};
    c = vkclip_classifier_create(model, (const char *const *)labels, 3, NULL, 0, &opts, &err);
    CHECK(c == NULL && strstr(err.message, "cancelled"));
    s.flag = 0;
    c = vkclip_classifier_create(model, (const char *const *)labels, 3, NULL, 0, &opts, &err);
    CHECKF(c != NULL && vkclip_classifier_size(c) == 3, "%s", c ? "" : err.message);
    vkclip_classifier_free(c);
    for (int i = 0; i < LABELS; i++)
        free(labels[i]);
    for (int i = 0; i < TEMPLATES; i++)
        free(templates[i]);
    pthread_mutex_destroy(&s.lock);
    pthread_cond_destroy(&s.cond);
    printf("cancel: %d prompts, cancelled after the first progress call\n", LABELS * TEMPLATES);
}

/* ---- (f) eight 4K frames in one batch ---- */

static void test_4k(void)
{
    enum { N = 8, W = 3840, H = 2160 };
    size_t bytes = (size_t)W * H * 4;
    uint8_t *pix = malloc(N * bytes);
    if (!pix) {
        printf("4k: skipped (no memory)\n");
        return;
    }
    /* Each frame: the fixture image scaled up (nearest) with a shift of its own, in BGRx. */
    const rgb_image *img = &fx.images[1];
    for (int k = 0; k < N; k++)
        for (int y = 0; y < H; y++) {
            int sy = (int)((int64_t)y * img->height / H);
            for (int x = 0; x < W; x++) {
                int sx = (int)(((int64_t)x * img->width / W + k * 37) % img->width);
                const uint8_t *s = img->pixels + ((size_t)sy * img->width + sx) * 3;
                uint8_t *d = pix + k * bytes + ((size_t)y * W + x) * 4;
                d[0] = s[2];
                d[1] = s[1];
                d[2] = s[0];
                d[3] = (uint8_t)(x + k);
            }
        }
    vkclip_frame frames[N];
    for (int k = 0; k < N; k++) {
        frames[k] = (vkclip_frame){.format = VKCLIP_FORMAT_BGRX, .width = W, .height = H};
        frames[k].planes[0] = pix + k * bytes;
        frames[k].strides[0] = W * 4;
    }
    vkclip_error err;
    vkclip_encoder *enc = vkclip_encoder_create(model, N, 1, &err);
    CHECKF(enc != NULL, "%s", err.message);
    float *batch = malloc(N * (size_t)fx.E * sizeof *batch), *alone = malloc((size_t)fx.E * sizeof *alone);
    float *api = malloc(N * (size_t)fx.E * sizeof *api);
    if (enc) {
        embed(enc, frames, N, batch);
        double worst = 1;
        for (int k = 0; k < N; k++) {
            embed(enc, &frames[k], 1, alone);
            double c = cosine(batch + (size_t)k * fx.E, alone, fx.E);
            if (c < worst)
                worst = c;
        }
        CHECKF(worst >= COS_MIN, "4K batch vs frames alone: cosine %.7f", worst);
        /* The model's own path (vkclip_encode_images, batch 8) too. */
        CHECKF(vkclip_encode_images(model, frames, N, api, true, &err) == 0, "%s", err.message);
        double worst_api = 1;
        for (int k = 0; k < N; k++) {
            double c = cosine(batch + (size_t)k * fx.E, api + (size_t)k * fx.E, fx.E);
            if (c < worst_api)
                worst_api = c;
        }
        CHECKF(worst_api >= COS_MIN, "vkclip_encode_images: cosine %.7f", worst_api);
        /* Distinct frames give distinct embeddings (the shift is seen). */
        CHECK(cosine(batch, batch + fx.E, fx.E) < 0.999999);
        printf("4k: %d frames of %dx%d BGRx in one batch, worst cosine to each alone %.7f\n", N, W, H, worst);
    }
    vkclip_encoder_free(enc);
    free(batch);
    free(alone);
    free(api);
    free(pix);
}

int main(int argc, char **argv)
{
    bool validation = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--validation") == 0)
            validation = true;
        else if (strcmp(argv[i], "--force-upload") == 0)
            setenv("VKCLIP_FORCE_UPLOAD", "1", 1);
        else {
            fprintf(stderr, "usage: test_encoder [--validation] [--force-upload] (not '%s')\n", argv[i]);
            return 2;
        }
    }
    const char *dir = getenv("VKCLIP_FIXTURES");
    char path[4200];
    if (!dir || !load_reference(dir))
        SKIP("no fixtures (VKCLIP_FIXTURES='%s')", dir ? dir : "");
    for (int i = 0; i < NIMAGES; i++) {
        errbuf e = {{0}};
        snprintf(path, sizeof path, "%s/images/%s", dir, image_names[i]);
        if (!rgb_image_load(&fx.images[i], path, &e))
            SKIP("%s", e.msg);
        fx.frames[i] = rgb_frame(fx.images[i].pixels, fx.images[i].width, fx.images[i].height, 3 * fx.images[i].width);
    }
    vkclip_error err;
    vkclip_device_options dopts = {.device_index = -1, .validation = validation};
    device = vkclip_device_open(&dopts, &err);
    if (!device && validation && strstr(err.message, "not installed")) {
        fixture_free();
        SKIP("%s", err.message);
    }
    CHECKF(device != NULL, "%s", err.message);
    snprintf(path, sizeof path, "%s/clip-tiny-f32", dir);
    model = device ? vkclip_model_load(device, path, NULL, &err) : NULL;
    CHECKF(model != NULL, "%s", err.message);
    if (model) {
        side = vkclip_image_size(model);
        CHECK(vkclip_embedding_dim(model) == fx.E);
        test_async();
        test_busy();
        test_threads();
        test_cancel();
        if (!validation) {
            test_crops();
            test_4k();
        }
        uint32_t messages = vkclip_device_validation_messages(device);
        CHECKF(messages == 0, "%u validation message(s)", messages);
        if (validation)
            printf("validation: on, no messages\n");
    }
    vkclip_model_free(model);
    vkclip_device_free(device);
    fixture_free();
    return check_exit();
}
