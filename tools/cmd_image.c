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

static void print_model_info(const char *dir, const vkclip_model *m)
{
    vkclip_model_info mi;
    vkclip_model_get_info(m, &mi);
    printf("model: %s\n", dir);
    printf("vision: width %d, layers %d, heads %d, mlp %d, patch %d, image %d, act %s\n", mi.vision_width,
           mi.vision_layers, mi.vision_heads, mi.vision_intermediate, mi.patch_size, mi.image_size,
           mi.vision_act);
    printf("text: width %d, layers %d, heads %d, vocab %d, context %d\n", mi.text_width, mi.text_layers,
           mi.text_heads, mi.vocab_size, mi.context_length);
    printf("embed dim: %d\n", mi.embed_dim);
    printf("logit scale: %.6g\n", mi.logit_scale);
    printf("weights: %s (on device: %s, %llu MiB)\n", mi.weights_dtype, mi.device_weights,
           (unsigned long long)(mi.device_bytes >> 20));
    printf("activations: %s\n", mi.activations);
}

int cmd_info(int argc, char **argv)
{
    cli_options o;
    if (!cli_parse(argc, argv, "model,device,validation,precision", 0, &o, USAGE_INFO))
        return 2;
    vkclip_device_info infos[16];
    vkclip_error err;
    int n = vkclip_list_devices(infos, 16, &err);
    if (n < 0)
        return cli_fail("%s", err.message);
    cli_session s;
    if (!cli_session_open(&s, &o, o.model != NULL))
        return cli_session_close(&s, 1);
    int chosen = vkclip_device_index(s.dev);
    for (int i = 0; i < n && i < 16; i++)
        printf("device %d: %s (%s)%s\n", i, infos[i].name, infos[i].type, i == chosen ? " [chosen]" : "");
    vkclip_device_info d;
    vkclip_device_get_info(s.dev, &d);
    printf("vulkan: %u.%u.%u\n", d.api_version >> 22, (d.api_version >> 12) & 0x3ff, d.api_version & 0xfff);
    printf("memory: %llu MiB\n", (unsigned long long)(d.memory_bytes >> 20));
    printf("16-bit storage: %s\n", d.storage16 ? "yes" : "no");
    printf("fp16 arithmetic: %s\n", d.float16 ? "yes" : "no");
    printf("subgroup size: %u\n", d.subgroup_size);
    printf("subgroup arithmetic: %s\n", d.subgroup_arithmetic ? "yes" : "no");
    if (s.model)
        print_model_info(o.model, s.model);
    return cli_session_close(&s, 0);
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

int cmd_preprocess(int argc, char **argv)
{
    cli_options o;
    if (!cli_parse(argc, argv, "model,out,crop,device,validation", 1, &o, USAGE_PREPROCESS))
        return 2;
    if (!o.out || o.ninputs != 1) {
        fprintf(stderr, "usage: %s\n", USAGE_PREPROCESS);
        return 2;
    }
    cli_images img = {0};
    cli_session s = {0};
    int status = 1;
    if (cli_images_load(&img, o.inputs, 1) && cli_session_open(&s, &o, true)) {
        img.frames[0].crop = o.crop;
        int side = vkclip_image_size(s.model);
        size_t n = 3 * (size_t)side * side;
        float *out = malloc(n * sizeof *out);
        vkclip_error err;
        if (!out)
            status = cli_fail("out of memory");
        else if (vkclip_preprocess(s.model, &img.frames[0], out, &err) != 0)
            status = cli_fail("%s: %s", o.inputs[0],
                              strncmp(err.message, "frame: ", 7) == 0 ? err.message + 7 : err.message);
        else
            status = write_floats(o.out, out, n);
        free(out);
    }
    cli_images_free(&img);
    return cli_session_close(&s, status);
}

/* Decodes a batch of images, encodes them together, prints a line each. */
static int embed_chunk(vkclip_model *m, const cli_options *o, int first, int count, float *emb, int E)
{
    cli_images img = {0};
    vkclip_error err;
    int status = 1;
    if (cli_images_load(&img, o->inputs + first, count)) {
        for (int i = 0; i < count; i++)
            img.frames[i].crop = o->crop;
        status = vkclip_encode_images(m, img.frames, count, emb, !o->raw, &err) == 0
                     ? 0 : cli_fail_frames(err.message, o->inputs + first, count);
        for (int i = 0; status == 0 && i < count; i++) {
            fputc('{', stdout);
            json_print_name(stdout, "file", o->inputs[first + i]);
            fputs(", \"embedding\": ", stdout);
            json_print_floats(stdout, emb + (size_t)i * E, E);
            fputs("}\n", stdout);
        }
    }
    cli_images_free(&img);
    return status;
}

int cmd_embed_image(int argc, char **argv)
{
    cli_options o;
    if (!cli_parse(argc, argv, "model,raw,batch,precision,crop,device,validation", 1, &o, USAGE_EMBED_IMAGE))
        return 2;
    cli_session s;
    if (!cli_session_open(&s, &o, true))
        return cli_session_close(&s, 1);
    vkclip_model_info mi;
    vkclip_model_get_info(s.model, &mi);
    int E = mi.embed_dim, B = mi.batch_size, status = 0;
    float *emb = malloc((size_t)B * E * sizeof *emb);
    if (!emb)
        status = cli_fail("out of memory");
    for (int i = 0; status == 0 && i < o.ninputs; i += B)
        if ((status = embed_chunk(s.model, &o, i, o.ninputs - i < B ? o.ninputs - i : B, emb, E)) == 0 &&
            cli_stdout_failed())
            status = CLI_STDOUT_FAILED;
    free(emb);
    return cli_session_close(&s, status);
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
        printf("model: %s (vision width %d, %d layers, patch %d, image %d)\n", o->model, mi.vision_width,
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

int cmd_bench(int argc, char **argv)
{
    cli_options o;
    if (!cli_parse(argc, argv, "model,batch,seconds,precision,device,validation", 0, &o, USAGE_BENCH))
        return 2;
    cli_session s;
    if (!cli_session_open(&s, &o, true))
        return cli_session_close(&s, 1);
    return cli_session_close(&s, run_bench(&s, &o));
}
