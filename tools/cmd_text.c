/* cmd_text: the text subcommands (tokenize, embed-text, classify). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    int status = probs ? 0 : cli_fail("out of memory");
    for (int i = 0; status == 0 && i < o->ninputs; i++) {
        if (!all->embedded[i])
            continue;
        vkclip_classifier_probs(c, all->values + (size_t)i * all->embed_dim, probs);
        fputc('{', stdout);
        json_print_name(stdout, "file", o->inputs[i]);
        fputs(", ", stdout);
        status = cli_print_top_labels(c, probs, k);
        fputs("}\n", stdout);
    }
    free(probs);
    return status;
}

/* Embeds the images, then builds the classifier (only when some image was
 * read) and prints each image's labels. */
static int run_classify(cli_session *s, const cli_options *o, const cli_label_set *ls)
{
    image_embeddings all = {.embed_dim = vkclip_embedding_dim(s->model)};
    all.values = malloc((size_t)o->ninputs * all.embed_dim * sizeof *all.values);
    all.embedded = calloc((size_t)o->ninputs, sizeof *all.embedded);
    int skipped = 0;
    int status = all.values && all.embedded ? cli_embed_images(s->model, o, true, keep_embedding, &all, &skipped)
                                            : cli_fail("out of memory");
    if (status == 0 && all.count > 0) {
        vkclip_classifier *c = cli_classifier_build(s->model, o, ls);
        status = c ? print_classified(c, o, &all) : 1;
        vkclip_classifier_free(c);
    }
    free(all.values);
    free(all.embedded);
    return status == 0 && skipped ? 1 : status;
}

int cmd_classify(const cli_command *self, cli_options *o)
{
    int usage = cli_check_label_options(self, o);
    if (usage)
        return usage;
    cli_label_set ls;
    cli_session s = {0};
    int status = 1;
    if (cli_label_set_read(o, &ls) && cli_session_open(&s, o, true))
        status = run_classify(&s, o, &ls);
    cli_label_set_free(&ls);
    return cli_session_close(&s, status);
}
