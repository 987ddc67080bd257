/* cli_labels: what the classifying subcommands share: the label list and
 * templates the options name, the classifier built from them (or read from
 * the cache), and a result's top labels as JSON. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

int cli_check_label_options(const cli_command *cmd, const cli_options *o)
{
    if (o->labels && o->labels_file)
        return cli_usage(cmd, "--labels and --labels-file: give one of them, not both");
    if (!o->labels && !o->labels_file)
        return cli_usage(cmd, "no labels: give --labels \"a;b;c\" or --labels-file F");
    return 0;
}

void cli_label_set_free(cli_label_set *s)
{
    free(s->labels);
    free(s->template_lines);
    free(s->templates);
}

bool cli_label_set_read(const cli_options *o, cli_label_set *s)
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

int cli_print_top_labels(const vkclip_classifier *c, const float *probs, int k)
{
    int n = vkclip_classifier_size(c);
    ranked *order = malloc((size_t)n * sizeof *order);
    if (!order)
        return cli_fail("out of memory");
    for (int i = 0; i < n; i++)
        order[i] = (ranked){probs[i], i};
    qsort(order, (size_t)n, sizeof *order, by_prob);
    fputs("\"labels\": [", stdout);
    for (int r = 0; r < k && r < n; r++) {
        fputs(r ? ", {\"label\": " : "{\"label\": ", stdout);
        json_print_string(stdout, vkclip_classifier_label(c, order[r].index));
        fputs(", \"score\": ", stdout);
        json_print_float(stdout, order[r].prob);
        fputc('}', stdout);
    }
    fputc(']', stdout);
    free(order);
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

vkclip_classifier *cli_classifier_build(vkclip_model *m, const cli_options *o, const cli_label_set *ls)
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
    if (o->examples) {
        int n = vkclip_classifier_add_examples(c, m, o->examples, (float)o->examples_weight, &err);
        if (n < 0) {
            cli_fail("%s", err.message);
            vkclip_classifier_free(c);
            return NULL;
        }
        fprintf(stderr, "vkclip: %d example images blended in (weight %g)\n", n, o->examples_weight);
    }
    return c;
}
