/* cmd_text: the text subcommands (tokenize, embed-text, classify). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"

int cmd_tokenize(int argc, char **argv)
{
    cli_options o;
    if (!cli_parse(argc, argv, "model", 1, &o, USAGE_TOKENIZE))
        return 2;
    if (!o.model)
        return cli_fail("--model DIR is required");
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
        fputc('{', stdout);
        json_print_name(stdout, "text", o.inputs[i]);
        fputs(", \"ids\": [", stdout);
        for (int k = 0; k < n; k++)
            printf("%s%d", k ? ", " : "", ids[k]);
        fputs("]}\n", stdout);
        if (cli_stdout_failed())
            status = CLI_STDOUT_FAILED;
    }
    free(ids);
    vkclip_tokenizer_free(tok);
    return status;
}

int cmd_embed_text(int argc, char **argv)
{
    cli_options o;
    if (!cli_parse(argc, argv, "model,raw,precision,device,validation", 1, &o, USAGE_EMBED_TEXT))
        return 2;
    cli_session s;
    if (!cli_session_open(&s, &o, true))
        return cli_session_close(&s, 1);
    int E = vkclip_embedding_dim(s.model), status = 0;
    float *emb = malloc((size_t)o.ninputs * E * sizeof *emb);
    vkclip_error err;
    if (!emb)
        status = cli_fail("out of memory");
    else if (vkclip_encode_texts(s.model, o.inputs, o.ninputs, emb, !o.raw, &err) != 0)
        status = cli_fail("%s", err.message);
    for (int i = 0; status == 0 && i < o.ninputs; i++) {
        fputc('{', stdout);
        json_print_name(stdout, "text", o.inputs[i]);
        fputs(", \"embedding\": ", stdout);
        json_print_floats(stdout, emb + (size_t)i * E, E);
        fputs("}\n", stdout);
        if (cli_stdout_failed())
            status = CLI_STDOUT_FAILED;
    }
    free(emb);
    return cli_session_close(&s, status);
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
    fputc('{', stdout);
    json_print_name(stdout, "file", file);
    fputs(", \"labels\": [", stdout);
    for (int r = 0; r < k && r < n; r++) {
        fputs(r ? ", {\"label\": " : "{\"label\": ", stdout);
        json_print_string(stdout, vkclip_classifier_label(c, scratch[r].index));
        fputs(", \"score\": ", stdout);
        json_print_float(stdout, scratch[r].prob);
        fputc('}', stdout);
    }
    fputs("]}\n", stdout);
    return cli_stdout_failed() ? CLI_STDOUT_FAILED : 0;
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
    cli_images img = {0};
    vkclip_error err;
    int status = 1, E = vkclip_embedding_dim(m);
    if (cli_images_load(&img, o->inputs + first, count)) {
        status = vkclip_encode_images(m, img.frames, count, emb, true, &err) == 0
                     ? 0 : cli_fail_frames(err.message, o->inputs + first, count);
        for (int i = 0; status == 0 && i < count; i++) {
            vkclip_classifier_probs(c, emb + (size_t)i * E, probs);
            status = print_top(c, o->inputs[first + i], probs, k, scratch);
        }
    }
    cli_images_free(&img);
    return status;
}

/* Builds (or reads from the cache) the classifier, then classifies in batches. */
static int run_classify(cli_session *s, const cli_options *o, const label_set *ls)
{
    vkclip_error err;
    int last_tenth = 0;
    vkclip_classifier_options copts = {.no_cache = o->no_cache, .progress = report_progress,
                                       .progress_user = &last_tenth};
    double t0 = now_seconds();
    vkclip_classifier *c = vkclip_classifier_create(s->model, (const char *const *)ls->labels, ls->nlabels,
                                                    ls->templates, ls->ntemplates, &copts, &err);
    if (!c)
        return cli_fail("%s", err.message);
    fprintf(stderr, "vkclip: classifier of %d labels x %d templates %s in %.2f s\n", ls->nlabels,
            ls->ntemplates ? ls->ntemplates : 1,
            vkclip_classifier_from_cache(c) ? "read from the cache" : "built", now_seconds() - t0);
    vkclip_model_info mi;
    vkclip_model_get_info(s->model, &mi);
    int B = mi.batch_size, n = vkclip_classifier_size(c), k = o->top_k ? o->top_k : 5;
    float *emb = malloc((size_t)B * mi.embed_dim * sizeof *emb);
    float *probs = malloc((size_t)n * sizeof *probs);
    ranked *scratch = malloc((size_t)n * sizeof *scratch);
    int status = emb && probs && scratch ? 0 : cli_fail("out of memory");
    for (int i = 0; status == 0 && i < o->ninputs; i += B)
        status = classify_chunk(s->model, c, o, i, o->ninputs - i < B ? o->ninputs - i : B, k, emb, probs,
                                scratch);
    free(emb);
    free(probs);
    free(scratch);
    vkclip_classifier_free(c);
    return status;
}

int cmd_classify(int argc, char **argv)
{
    cli_options o;
    if (!cli_parse(argc, argv,
                   "model,labels,labels-file,template,templates-file,top-k,batch,precision,no-cache,device,"
                   "validation",
                   1, &o, USAGE_CLASSIFY))
        return 2;
    label_set ls;
    cli_session s = {0};
    int status = 1;
    if (read_label_set(&o, &ls) && cli_session_open(&s, &o, true))
        status = run_classify(&s, &o, &ls);
    label_set_free(&ls);
    return cli_session_close(&s, status);
}
