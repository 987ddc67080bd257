/* cmd_text: the text subcommands (tokenize, embed-text, classify). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "image/image.h"

int cmd_tokenize(int argc, char **argv)
{
    cli_options o;
    if (!cli_parse(argc, argv, "model", &o, USAGE_TOKENIZE))
        return 2;
    if (!o.model || o.ninputs == 0) {
        fprintf(stderr, "usage: %s\n", USAGE_TOKENIZE);
        return 2;
    }
    vkclip_error err;
    vkclip_tokenizer *tok = vkclip_tokenizer_load(o.model, &err);
    if (!tok)
        return cli_fail("%s", err.message);
    int context = vkclip_tokenizer_context(tok), status = 0;
    int32_t *ids = malloc((size_t)context * sizeof *ids);
    if (!ids)
        status = cli_fail("out of memory");
    for (int i = 0; status == 0 && i < o.ninputs; i++) {
        int n = vkclip_tokenize(tok, o.inputs[i], ids, context, &err);
        if (n < 0) {
            status = cli_fail("text %d: %s", i + 1, err.message);
            break;
        }
        fputs("{\"text\": ", stdout);
        json_print_string(stdout, o.inputs[i]);
        fputs(", \"ids\": [", stdout);
        for (int k = 0; k < n; k++)
            printf("%s%d", k ? ", " : "", ids[k]);
        fputs("]}\n", stdout);
    }
    free(ids);
    vkclip_tokenizer_free(tok);
    return status;
}

int cmd_embed_text(int argc, char **argv)
{
    cli_options o;
    if (!cli_parse(argc, argv, "model,raw,precision,device,validation", &o, USAGE_EMBED_TEXT))
        return 2;
    if (o.ninputs == 0) {
        fprintf(stderr, "usage: %s\n", USAGE_EMBED_TEXT);
        return 2;
    }
    vkclip_device *dev = cli_open_device(&o);
    vkclip_model *m = dev ? cli_load_model(dev, &o) : NULL;
    int status = m ? 0 : 1;
    if (m) {
        int E = vkclip_embedding_dim(m);
        float *emb = malloc((size_t)o.ninputs * E * sizeof *emb);
        vkclip_error err;
        if (!emb)
            status = cli_fail("out of memory");
        else if (vkclip_encode_texts(m, o.inputs, o.ninputs, emb, !o.raw, &err) != 0)
            status = cli_fail("%s", err.message);
        for (int i = 0; status == 0 && i < o.ninputs; i++) {
            fputs("{\"text\": ", stdout);
            json_print_string(stdout, o.inputs[i]);
            fputs(", \"embedding\": ", stdout);
            json_print_floats(stdout, emb + (size_t)i * E, E);
            fputs("}\n", stdout);
        }
        free(emb);
    }
    if (dev && vkclip_device_validation_messages(dev) && status == 0)
        status = cli_fail("%u validation message(s)", vkclip_device_validation_messages(dev));
    vkclip_model_free(m);
    vkclip_device_free(dev);
    return status;
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* The labels and templates the options name. */
typedef struct label_set {
    char **labels;           /* one block: pointers and strings */
    int nlabels;
    char **template_lines;   /* from --templates-file, one block */
    const char **templates;  /* the file's lines, then each --template */
    int ntemplates;
} label_set;

static void label_set_free(label_set *s)
{
    free(s->labels);
    free(s->template_lines);
    free(s->templates);
}

static bool read_label_set(const cli_options *o, label_set *s)
{
    memset(s, 0, sizeof *s);
    if (!o->labels == !o->labels_file) {
        cli_fail("give the labels with one of --labels \"a;b;c\" or --labels-file F");
        return false;
    }
    s->labels = o->labels ? cli_split(o->labels, ';', true, &s->nlabels, "--labels")
                          : cli_read_lines(o->labels_file, &s->nlabels, "labels");
    if (!s->labels)
        return false;
    if (s->nlabels == 0) {
        cli_fail("the label list is empty");
        return false;
    }
    int nfile = 0;
    if (o->templates_file) {
        if (!(s->template_lines = cli_read_lines(o->templates_file, &nfile, "templates")))
            return false;
        if (nfile == 0) {
            cli_fail("%s: no templates", o->templates_file);
            return false;
        }
    }
    s->ntemplates = nfile + o->ntemplates;
    s->templates = calloc((size_t)s->ntemplates + 1, sizeof *s->templates);
    if (!s->templates) {
        cli_fail("out of memory");
        return false;
    }
    for (int i = 0; i < nfile; i++)
        s->templates[i] = s->template_lines[i];
    for (int i = 0; i < o->ntemplates; i++)
        s->templates[nfile + i] = o->templates[i];
    return true;
}

typedef struct ranked {
    float prob;
    int index;
} ranked;

static int by_prob(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    bool xn = isnan(x->prob), yn = isnan(y->prob); /* NaN ranks last */
    if (xn != yn)
        return xn ? 1 : -1;
    if (!xn && x->prob != y->prob)
        return x->prob < y->prob ? 1 : -1;
    return x->index - y->index;
}

static int print_top(const vkclip_classifier *c, const char *file, const float *probs, int k, ranked *scratch)
{
    int n = vkclip_classifier_size(c);
    for (int i = 0; i < n; i++)
        scratch[i] = (ranked){probs[i], i};
    qsort(scratch, (size_t)n, sizeof *scratch, by_prob);
    fputs("{\"file\": ", stdout);
    json_print_string(stdout, file);
    fputs(", \"labels\": [", stdout);
    for (int r = 0; r < k && r < n; r++) {
        fputs(r ? ", {\"label\": " : "{\"label\": ", stdout);
        json_print_string(stdout, vkclip_classifier_label(c, scratch[r].index));
        fputs(", \"score\": ", stdout);
        json_print_float(stdout, scratch[r].prob);
        fputc('}', stdout);
    }
    fputs("]}\n", stdout);
    return 0;
}

/* Building a large classifier takes minutes on a CPU: say how far it is, a
 * line at every tenth. */
static void report_progress(void *user, int done, int total)
{
    int *last_tenth = user;
    int tenth = (int)((long long)done * 10 / total);
    if (tenth > *last_tenth) {
        *last_tenth = tenth;
        fprintf(stderr, "vkclip: embedding prompts: %d of %d\n", done, total);
    }
}

/* Decodes and encodes one batch of images and prints their top labels. */
static int classify_chunk(vkclip_model *m, const vkclip_classifier *c, const cli_options *o, int first,
                          int count, int k, float *emb, float *probs, ranked *scratch)
{
    rgb_image *imgs = calloc((size_t)count, sizeof *imgs);
    vkclip_frame *frames = calloc((size_t)count, sizeof *frames);
    int status = imgs && frames ? 0 : cli_fail("out of memory");
    errbuf e = {{0}};
    for (int i = 0; status == 0 && i < count; i++) {
        if (!rgb_image_load(&imgs[i], o->inputs[first + i], &e)) {
            status = cli_fail("%s", e.msg);
            break;
        }
        frames[i] = (vkclip_frame){.format = VKCLIP_FORMAT_RGB, .width = imgs[i].width, .height = imgs[i].height};
        frames[i].planes[0] = imgs[i].pixels;
        frames[i].strides[0] = 3 * imgs[i].width;
    }
    vkclip_error err;
    if (status == 0 && vkclip_encode_images(m, frames, count, emb, true, &err) != 0)
        status = cli_fail("%s", err.message);
    int E = vkclip_embedding_dim(m);
    for (int i = 0; status == 0 && i < count; i++) {
        vkclip_classifier_probs(c, emb + (size_t)i * E, probs);
        status = print_top(c, o->inputs[first + i], probs, k, scratch);
    }
    for (int i = 0; imgs && i < count; i++)
        rgb_image_free(&imgs[i]);
    free(imgs);
    free(frames);
    return status;
}

int cmd_classify(int argc, char **argv)
{
    cli_options o;
    if (!cli_parse(argc, argv,
                   "model,labels,labels-file,template,templates-file,top-k,batch,precision,no-cache,device,"
                   "validation",
                   &o, USAGE_CLASSIFY))
        return 2;
    if (o.ninputs == 0) {
        fprintf(stderr, "usage: %s\n", USAGE_CLASSIFY);
        return 2;
    }
    label_set ls;
    if (!read_label_set(&o, &ls)) {
        label_set_free(&ls);
        return 1;
    }
    vkclip_device *dev = cli_open_device(&o);
    vkclip_model *m = dev ? cli_load_model(dev, &o) : NULL;
    vkclip_classifier *c = NULL;
    int status = m ? 0 : 1;
    if (m) {
        vkclip_error err;
        int last_tenth = 0;
        vkclip_classifier_options copts = {.no_cache = o.no_cache, .progress = report_progress,
                                           .progress_user = &last_tenth};
        double t0 = now_seconds();
        c = vkclip_classifier_create(m, (const char *const *)ls.labels, ls.nlabels, ls.templates,
                                     ls.ntemplates, &copts, &err);
        if (!c)
            status = cli_fail("%s", err.message);
        else
            fprintf(stderr, "vkclip: classifier of %d labels x %d templates %s in %.2f s\n", ls.nlabels,
                    ls.ntemplates ? ls.ntemplates : 1,
                    vkclip_classifier_from_cache(c) ? "read from the cache" : "built", now_seconds() - t0);
    }
    if (c) {
        vkclip_model_info mi;
        vkclip_model_get_info(m, &mi);
        int B = mi.batch_size, n = vkclip_classifier_size(c);
        int k = o.top_k ? o.top_k : 5;
        float *emb = malloc((size_t)B * mi.embed_dim * sizeof *emb);
        float *probs = malloc((size_t)n * sizeof *probs);
        ranked *scratch = malloc((size_t)n * sizeof *scratch);
        if (!emb || !probs || !scratch)
            status = cli_fail("out of memory");
        for (int i = 0; status == 0 && i < o.ninputs; i += B)
            status = classify_chunk(m, c, &o, i, o.ninputs - i < B ? o.ninputs - i : B, k, emb, probs, scratch);
        free(emb);
        free(probs);
        free(scratch);
    }
    if (dev && vkclip_device_validation_messages(dev) && status == 0)
        status = cli_fail("%u validation message(s)", vkclip_device_validation_messages(dev));
    vkclip_classifier_free(c);
    vkclip_model_free(m);
    vkclip_device_free(dev);
    label_set_free(&ls);
    return status;
}
