/* cmd_text: the text subcommands (tokenize, embed-text, classify). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"

int cmd_tokenize(const cli_command *self, cli_options *o)
{
    (void)self;
    const char *dir = cli_model_dir(o);
    if (!dir)
        return 1;
    vkclip_error err;
    vkclip_tokenizer *tok = vkclip_tokenizer_load(dir, &err);
    if (!tok)
        return cli_fail("%s", err.message);
    int context = vkclip_tokenizer_context(tok), status = 0;
    int32_t *ids = malloc((size_t)context * sizeof *ids);
    if (!ids)
        status = cli_fail("out of memory");
    for (int i = 0; status == 0 && i < o->ninputs; i++) {
        int n = vkclip_tokenize(tok, o->inputs[i], ids, context, &err);
        if (n < 0) {
            status = cli_fail("text %d: %s", i + 1, err.message);
            break;
        }
        fputc('{', stdout);
        json_print_name(stdout, "text", o->inputs[i]);
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

int cmd_embed_text(const cli_command *self, cli_options *o)
{
    (void)self;
    cli_session s;
    if (!cli_session_open(&s, o, true))
        return cli_session_close(&s, 1);
    int E = vkclip_embedding_dim(s.model), status = 0;
    float *emb = malloc((size_t)o->ninputs * E * sizeof *emb);
    vkclip_error err;
    if (!emb)
        status = cli_fail("out of memory");
    else if (vkclip_encode_texts(s.model, o->inputs, o->ninputs, emb, !o->raw, &err) != 0)
        status = cli_fail("%s", err.message);
    for (int i = 0; status == 0 && i < o->ninputs; i++) {
        fputc('{', stdout);
        json_print_name(stdout, "text", o->inputs[i]);
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

/* Builds the classifier, or reads it from the cache, saying which on stderr.
 * NULL after the message. */
static vkclip_classifier *build_classifier(vkclip_model *m, const cli_options *o, const label_set *ls)
{
    vkclip_error err;
    int last_tenth = 0;
    vkclip_classifier_options copts = {.no_cache = o->no_cache, .progress = report_progress,
                                       .progress_user = &last_tenth};
    double t0 = now_seconds();
    vkclip_classifier *c = vkclip_classifier_create(m, (const char *const *)ls->labels, ls->nlabels,
                                                    ls->templates, ls->ntemplates, &copts, &err);
    if (!c) {
        cli_fail("%s", err.message);
        return NULL;
    }
    fprintf(stderr, "vkclip: classifier of %d labels x %d templates %s in %.2f s\n", ls->nlabels,
            ls->ntemplates ? ls->ntemplates : 1,
            vkclip_classifier_from_cache(c) ? "read from the cache" : "built", now_seconds() - t0);
    return c;
}

/* The embeddings of every image that could be read, gathered before any
 * text is encoded (a bad image is reported at once, not after the
 * classifier's minutes of text encoding). */
typedef struct image_embeddings {
    float *values;  /* one embedding per input, in input order */
    bool *embedded; /* which inputs have one */
    int embed_dim, count;
} image_embeddings;

static int keep_embedding(void *user, int input, const float *embedding)
{
    image_embeddings *all = user;
    memcpy(all->values + (size_t)input * all->embed_dim, embedding, (size_t)all->embed_dim * sizeof *embedding);
    all->embedded[input] = true;
    all->count++;
    return 0;
}

/* A line for each embedded image, in input order. */
static int print_classified(const vkclip_classifier *c, const cli_options *o, const image_embeddings *all)
{
    int n = vkclip_classifier_size(c), k = o->top_k ? o->top_k : 5;
    float *probs = malloc((size_t)n * sizeof *probs);
    ranked *scratch = malloc((size_t)n * sizeof *scratch);
    int status = probs && scratch ? 0 : cli_fail("out of memory");
    for (int i = 0; status == 0 && i < o->ninputs; i++) {
        if (!all->embedded[i])
            continue;
        vkclip_classifier_probs(c, all->values + (size_t)i * all->embed_dim, probs);
        status = print_top(c, o->inputs[i], probs, k, scratch);
    }
    free(probs);
    free(scratch);
    return status;
}

/* Embeds the images, then builds the classifier (only when some image was
 * read) and prints each image's labels. */
static int run_classify(cli_session *s, const cli_options *o, const label_set *ls)
{
    image_embeddings all = {.embed_dim = vkclip_embedding_dim(s->model)};
    all.values = malloc((size_t)o->ninputs * all.embed_dim * sizeof *all.values);
    all.embedded = calloc((size_t)o->ninputs, sizeof *all.embedded);
    int skipped = 0;
    int status = all.values && all.embedded ? cli_embed_images(s->model, o, true, keep_embedding, &all, &skipped)
                                            : cli_fail("out of memory");
    if (status == 0 && all.count > 0) {
        vkclip_classifier *c = build_classifier(s->model, o, ls);
        status = c ? print_classified(c, o, &all) : 1;
        vkclip_classifier_free(c);
    }
    free(all.values);
    free(all.embedded);
    return status == 0 && skipped ? 1 : status;
}

int cmd_classify(const cli_command *self, cli_options *o)
{
    if (o->labels && o->labels_file)
        return cli_usage(self, "--labels and --labels-file: give one of them, not both");
    if (!o->labels && !o->labels_file)
        return cli_usage(self, "no labels: give --labels \"a;b;c\" or --labels-file F");
    label_set ls;
    cli_session s = {0};
    int status = 1;
    if (read_label_set(o, &ls) && cli_session_open(&s, o, true))
        status = run_classify(&s, o, &ls);
    label_set_free(&ls);
    return cli_session_close(&s, status);
}
