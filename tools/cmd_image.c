/* cmd_image: the image subcommands (info, preprocess, embed-image, bench). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli.h"
#include "commands.h"

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* CPU time of the whole process, the driver's worker threads included:
 * steadier than wall time on a shared machine. */
static double cpu_seconds(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)r.ru_utime.tv_sec + r.ru_utime.tv_usec * 1e-6 + (double)r.ru_stime.tv_sec +
           r.ru_stime.tv_usec * 1e-6;
}

static void print_tower_size(const char *tower, const cli_tower_size *size)
{
    printf("%s tower: %llu parameters, %llu bytes as stored\n", tower, size->parameters, size->bytes);
}

static int print_model_info(const char *dir, const vkclip_model *m)
{
    vkclip_model_info mi;
    vkclip_model_get_info(m, &mi);
    cli_tower_size vision, text;
    if (!cli_tower_sizes(dir, &vision, &text))
        return 1;
    printf("model: %s\n", dir);
    printf("vision: width %d, layers %d, heads %d, mlp %d, patch %d, image %d, act %s\n", mi.vision_width,
           mi.vision_layers, mi.vision_heads, mi.vision_intermediate, mi.patch_size, mi.image_size,
           mi.vision_act);
    if (mi.has_text)
        printf("text: width %d, layers %d, heads %d, vocab %d, context %d\n", mi.text_width, mi.text_layers,
               mi.text_heads, mi.vocab_size, mi.context_length);
    else
        printf("text: none (image embeddings only)\n");
    printf("embed dim: %d\n", mi.embed_dim);
    if (mi.has_text)
        printf("logit scale: %.6g\n", mi.logit_scale);
    printf("weights: %s (on device: %s, %llu MiB)\n", mi.weights_dtype, mi.device_weights,
           (unsigned long long)(mi.device_bytes >> 20));
    printf("activations: %s\n", mi.activations);
    print_tower_size("vision", &vision);
    print_tower_size("text", &text);
    printf("family: %s\n", mi.family); /* last: scripts read the lines above by position */
    if (mi.sigmoid_scores)
        printf("scores: sigmoid(logit scale x cos + logit bias), logit bias %.6g\n", mi.logit_bias);
    return 0;
}

static void print_device_info(const vkclip_device *dev, const vkclip_device_info *all, int n)
{
    int chosen = vkclip_device_index(dev);
    for (int i = 0; i < n; i++)
        printf("device %d: %s (%s)%s\n", i, all[i].name, all[i].type, i == chosen ? " [chosen]" : "");
    printf("device cpu: vkclip's CPU backend (OpenBLAS)%s\n", chosen == VKCLIP_DEVICE_CPU ? " [chosen]" : "");
    vkclip_device_info d;
    vkclip_device_get_info(dev, &d);
    if (chosen == VKCLIP_DEVICE_CPU)
        printf("threads: %d\nvulkan: not used\n", vkclip_device_threads(dev));
    else
        printf("vulkan: %u.%u.%u\n", d.api_version >> 22, (d.api_version >> 12) & 0x3ff, d.api_version & 0xfff);
    printf("memory: %llu MiB\n", (unsigned long long)(d.memory_bytes >> 20));
    printf("16-bit storage: %s\n", d.storage16 ? "yes" : "no");
    printf("fp16 arithmetic: %s\n", d.float16 ? "yes" : "no");
    printf("subgroup size: %u\n", d.subgroup_size);
    printf("subgroup arithmetic: %s\n", d.subgroup_arithmetic ? "yes" : "no");
}

/* info needs no model: only --model asks for one. */
int cmd_info(const cli_command *self, cli_options *o)
{
    (void)self;
    vkclip_device_info infos[16];
    vkclip_error err;
    int n = vkclip_list_devices(infos, 16, &err);
    if (n < 0)
        return cli_fail("%s", err.message);
    cli_session s;
    if (!cli_session_open(&s, o, o->model != NULL))
        return cli_session_close(&s, 1);
    print_device_info(s.dev, infos, n < 16 ? n : 16);
    int status = s.model ? print_model_info(s.model_dir, s.model) : 0;
    return cli_session_close(&s, status);
}

static int write_floats(const char *path, const float *v, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return cli_fail("%s: cannot write", path);
    /* float32 little-endian; every platform vkclip builds on is little-endian */
    size_t w = fwrite(v, sizeof *v, n, f);
    if (fclose(f) != 0 || w != n)
        return cli_fail("%s: write error", path);
    return 0;
}

int cmd_preprocess(const cli_command *self, cli_options *o)
{
    if (!o->out)
        return cli_usage(self, "--out FILE is required");
    cli_images img = {0};
    cli_session s = {0};
    int status = 1;
    if (cli_images_load(&img, o->inputs, 1, NULL) && img.count == 1 && cli_session_open(&s, o, true)) {
        img.frames[0].crop = o->crop;
        int side = vkclip_image_size(s.model);
        size_t n = 3 * (size_t)side * side;
        float *out = malloc(n * sizeof *out);
        vkclip_error err;
        if (!out)
            status = cli_fail("out of memory");
        else if (vkclip_preprocess(s.model, &img.frames[0], out, &err) != 0)
            status = cli_fail("%s: %s", o->inputs[0],
                              strncmp(err.message, "frame: ", 7) == 0 ? err.message + 7 : err.message);
        else
            status = write_floats(o->out, out, n);
        free(out);
    }
    cli_images_free(&img);
    return cli_session_close(&s, status);
}

/* What embed-image's lines need besides the embedding. */
typedef struct image_printer {
    const cli_options *o;
    int embed_dim;
} image_printer;

static int print_image_embedding(void *user, int input, const float *embedding)
{
    const image_printer *p = user;
    fputc('{', stdout);
    json_print_name(stdout, "file", p->o->inputs[input]);
    fputs(", \"embedding\": ", stdout);
    json_print_floats(stdout, embedding, p->embed_dim);
    fputs("}\n", stdout);
    return cli_stdout_failed() ? CLI_STDOUT_FAILED : 0;
}

/* Lines are printed batch by batch; an unreadable image is left out and
 * makes the exit status 1. */
int cmd_embed_image(const cli_command *self, cli_options *o)
{
    (void)self;
    cli_session s;
    if (!cli_session_open(&s, o, true))
        return cli_session_close(&s, 1);
    image_printer printer = {o, vkclip_embedding_dim(s.model)};
    int skipped = 0;
    int status = cli_embed_images(s.model, o, !o->raw, print_image_embedding, &printer, &skipped);
    return cli_session_close(&s, status == 0 && skipped ? 1 : status);
}

/* The image tower alone on one batch of random frames (preprocessed once),
 * timed as PyTorch's benchmark times it. */
static int run_bench(cli_session *s, const cli_options *o)
{
    vkclip_model_info mi;
    vkclip_model_get_info(s->model, &mi);
    vkclip_device_info di;
    vkclip_device_get_info(s->dev, &di);
    int B = mi.batch_size, side = mi.image_size;
    size_t frame_bytes = (size_t)side * side * 3;
    uint8_t *pixels = malloc((size_t)B * frame_bytes);
    vkclip_frame *frames = calloc((size_t)B, sizeof *frames);
    float *emb = malloc((size_t)B * mi.embed_dim * sizeof *emb);
    int status = pixels && frames && emb ? 0 : cli_fail("out of memory");
    uint32_t seed = 12345;
    for (size_t i = 0; status == 0 && i < (size_t)B * frame_bytes; i++) {
        seed = seed * 1664525u + 1013904223u;
        pixels[i] = (uint8_t)(seed >> 24);
    }
    for (int i = 0; status == 0 && i < B; i++) {
        frames[i] = (vkclip_frame){.format = VKCLIP_FORMAT_RGB, .width = side, .height = side};
        frames[i].planes[0] = pixels + (size_t)i * frame_bytes;
        frames[i].strides[0] = 3 * side;
    }
    vkclip_error err;
    if (status == 0 && vkclip_encode_images(s->model, frames, B, emb, false, &err) != 0) /* warm-up */
        status = cli_fail("%s", err.message);
    if (status == 0) {
        printf("device: %s (%s)\n", di.name, di.type);
        printf("kernels: %s\n", vkclip_device_kernels(s->dev));
        if (vkclip_device_threads(s->dev) > 0)
            printf("threads: %d\n", vkclip_device_threads(s->dev));
        printf("model: %s (vision width %d, %d layers, patch %d, image %d)\n", s->model_dir, mi.vision_width,
               mi.vision_layers, mi.patch_size, mi.image_size);
        printf("weights: %s, activations: %s, batch: %d\n", mi.device_weights, mi.activations, B);
        int batches = 0;
        double t0 = now_seconds(), t = t0, c0 = cpu_seconds();
        while (status == 0 && (t - t0 < o->seconds || batches == 0)) {
            if (vkclip_bench_batch(s->model, &err) != 0)
                status = cli_fail("%s", err.message);
            batches++;
            t = now_seconds();
        }
        if (status == 0) {
            printf("seconds: %.2f\n", t - t0);
            printf("batches: %d\n", batches);
            printf("cpu seconds per image: %.3f\n", (cpu_seconds() - c0) / (batches * (double)B));
            printf("images/s: %.3f\n", batches * (double)B / (t - t0));
        }
    }
    free(pixels);
    free(frames);
    free(emb);
    return status;
}

int cmd_bench(const cli_command *self, cli_options *o)
{
    (void)self;
    cli_session s;
    if (!cli_session_open(&s, o, true))
        return cli_session_close(&s, 1);
    return cli_session_close(&s, run_bench(&s, o));
}
