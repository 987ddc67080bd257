/* cli_parse: the options every subcommand draws from, parsed from argv
 * (--name value or --name=value) and listed in each command's help. */
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Each setter stores its value in o, or writes why the value is bad into
 * problem (one line) and returns false. */
typedef bool (*option_setter)(cli_options *o, const char *value, char *problem, size_t cap);

typedef struct option_spec {
    const char *name;
    const char *value; /* the value's placeholder in help; NULL: a flag */
    const char *help;
    option_setter set;
} option_spec;

static bool bad_value(char *problem, size_t cap, const char *value, const char *option, const char *expected)
{
    snprintf(problem, cap, "bad value '%s' for --%s, expected %s", value, option, expected);
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

static bool set_model(cli_options *o, const char *v, char *problem, size_t cap)
{
    (void)problem, (void)cap;
    o->model = v;
    return true;
}

static bool set_out(cli_options *o, const char *v, char *problem, size_t cap)
{
    (void)problem, (void)cap;
    o->out = v;
    return true;
}

static bool set_device(cli_options *o, const char *v, char *problem, size_t cap)
{
    if (strcmp(v, "cpu") == 0 || strcmp(v, "vulkan") == 0) {
        o->device = v[0] == 'c' ? VKCLIP_DEVICE_CPU : VKCLIP_DEVICE_VULKAN;
        return true;
    }
    return parse_int(v, 0, 999, &o->device) ||
           bad_value(problem, cap, v, "device", "a Vulkan device index, 0 to 999, cpu or vulkan");
}

static bool set_threads(cli_options *o, const char *v, char *problem, size_t cap)
{
    char expected[32];
    snprintf(expected, sizeof expected, "1 to %d", VKCLIP_MAX_THREADS);
    return parse_int(v, 1, VKCLIP_MAX_THREADS, &o->threads) || bad_value(problem, cap, v, "threads", expected);
}

static bool set_batch(cli_options *o, const char *v, char *problem, size_t cap)
{
    return parse_int(v, 1, 1024, &o->batch) || bad_value(problem, cap, v, "batch", "1 to 1024");
}

static bool set_seconds(cli_options *o, const char *v, char *problem, size_t cap)
{
    char *end;
    o->seconds = strtod(v, &end);
    return (*v && !*end && o->seconds > 0 && o->seconds <= 86400) ||
           bad_value(problem, cap, v, "seconds", "more than 0, at most 86400");
}

static bool set_raw(cli_options *o, const char *v, char *problem, size_t cap)
{
    (void)v, (void)problem, (void)cap;
    o->raw = true;
    return true;
}

static bool set_validation(cli_options *o, const char *v, char *problem, size_t cap)
{
    (void)v, (void)problem, (void)cap;
    o->validation = true;
    return true;
}

static bool set_no_cache(cli_options *o, const char *v, char *problem, size_t cap)
{
    (void)v, (void)problem, (void)cap;
    o->no_cache = true;
    return true;
}

static bool set_labels(cli_options *o, const char *v, char *problem, size_t cap)
{
    (void)problem, (void)cap;
    o->labels = v;
    return true;
}

static bool set_labels_file(cli_options *o, const char *v, char *problem, size_t cap)
{
    (void)problem, (void)cap;
    o->labels_file = v;
    return true;
}

static bool set_template(cli_options *o, const char *v, char *problem, size_t cap)
{
    if (o->ntemplates == CLI_MAX_TEMPLATES) {
        snprintf(problem, cap, "--template: at most %d on the command line; put more in a --templates-file",
                 CLI_MAX_TEMPLATES);
        return false;
    }
    o->templates[o->ntemplates++] = v;
    return true;
}

static bool set_templates_file(cli_options *o, const char *v, char *problem, size_t cap)
{
    (void)problem, (void)cap;
    o->templates_file = v;
    return true;
}

static bool set_top_k(cli_options *o, const char *v, char *problem, size_t cap)
{
    return parse_int(v, 1, 1 << 24, &o->top_k) || bad_value(problem, cap, v, "top-k", "1 to 16777216");
}

static bool set_precision(cli_options *o, const char *v, char *problem, size_t cap)
{
    if (strcmp(v, "f32") != 0 && strcmp(v, "f16") != 0)
        return bad_value(problem, cap, v, "precision", "f32 or f16");
    o->precision = strcmp(v, "f16") == 0 ? VKCLIP_PRECISION_F16 : VKCLIP_PRECISION_F32;
    return true;
}

static bool set_crop(cli_options *o, const char *v, char *problem, size_t cap)
{
    int x, y, w, h, used = 0;
    if (sscanf(v, "%d,%d,%d,%d%n", &x, &y, &w, &h, &used) != 4 || v[used] != '\0' || x < 0 || y < 0 || w <= 0 ||
        h <= 0)
        return bad_value(problem, cap, v, "crop", "X,Y,W,H: X and Y from 0, W and H from 1");
    o->crop = (vkclip_rect){x, y, w, h};
    return true;
}

static bool set_db(cli_options *o, const char *v, char *problem, size_t cap)
{
    (void)problem, (void)cap;
    o->db = v;
    return true;
}

static bool set_fps(cli_options *o, const char *v, char *problem, size_t cap)
{
    char *end;
    o->fps = strtod(v, &end);
    return (*v && !*end && o->fps > 0 && o->fps <= 1000) ||
           bad_value(problem, cap, v, "fps", "frames per second, more than 0, at most 1000");
}

static bool set_segment(cli_options *o, const char *v, char *problem, size_t cap)
{
    char *end;
    o->segment = strtod(v, &end);
    return (*v && !*end && o->segment > 0 && o->segment <= 86400) ||
           bad_value(problem, cap, v, "segment", "seconds, more than 0, at most 86400");
}

static bool set_threshold(cli_options *o, const char *v, char *problem, size_t cap)
{
    char *end;
    o->threshold = strtod(v, &end);
    return (*v && !*end && o->threshold > 0 && o->threshold <= 1) ||
           bad_value(problem, cap, v, "threshold", "a cosine, more than 0, at most 1");
}

static bool set_examples(cli_options *o, const char *v, char *problem, size_t cap)
{
    (void)problem, (void)cap;
    o->examples = v;
    return true;
}

static bool set_examples_weight(cli_options *o, const char *v, char *problem, size_t cap)
{
    char *end;
    o->examples_weight = strtod(v, &end);
    return (*v && !*end && o->examples_weight >= 0 && o->examples_weight <= 1) ||
           bad_value(problem, cap, v, "examples-weight", "0 (zero-shot) to 1 (examples alone)");
}

static bool set_top(cli_options *o, const char *v, char *problem, size_t cap)
{
    return parse_int(v, 1, 10000, &o->top) || bad_value(problem, cap, v, "top", "1 to 10000");
}

static bool set_json(cli_options *o, const char *v, char *problem, size_t cap)
{
    (void)v, (void)problem, (void)cap;
    o->json = true;
    return true;
}

static bool set_keep_blank(cli_options *o, const char *v, char *problem, size_t cap)
{
    (void)v, (void)problem, (void)cap;
    o->keep_blank = true;
    return true;
}

static bool set_approximate(cli_options *o, const char *v, char *problem, size_t cap)
{
    (void)v, (void)problem, (void)cap;
    o->approximate = true;
    return true;
}

static bool set_exact(cli_options *o, const char *v, char *problem, size_t cap)
{
    (void)v, (void)problem, (void)cap;
    o->exact = true;
    return true;
}

static bool set_image(cli_options *o, const char *v, char *problem, size_t cap)
{
    (void)problem, (void)cap;
    o->image = v;
    return true;
}

/* In the order help lists them. */
static const option_spec option_specs[] = {
    {"model", "DIR", "a Hugging Face CLIP directory (default: see below)", set_model},
    {"out", "FILE", "where to write the output (also -o FILE)", set_out},
    {"labels", "\"a;b;c\"", "class names separated by ';'", set_labels},
    {"labels-file", "F", "class names, one a line (a file or a pipe)", set_labels_file},
    {"template", "T", "a prompt template with {}, repeatable (default \"a photo of a {}.\")", set_template},
    {"templates-file", "F", "prompt templates, one a line", set_templates_file},
    {"examples", "DIR", "few-shot: DIR/LABEL/ holds example images of each label", set_examples},
    {"examples-weight", "W", "the examples' share against the prompts, 0 to 1 (default 0.5)", set_examples_weight},
    {"top-k", "K", "labels reported per image (default 5)", set_top_k},
    {"raw", NULL, "projected embeddings, not L2-normalised", set_raw},
    {"batch", "N", "images per forward pass, 1 to 1024 (default 8)", set_batch},
    {"seconds", "S", "how long to run (default 10)", set_seconds},
    {"precision", "f32|f16", "activations stored in fp32 or fp16 (default f32)", set_precision},
    {"crop", "X,Y,W,H", "use only this rectangle of each image", set_crop},
    {"no-cache", NULL, "neither read nor write the classifier cache", set_no_cache},
    {"db", "DB", "the archive's database (SQLite; index creates it)", set_db},
    {"fps", "F", "frames sampled per second of video (default 1)", set_fps},
    {"top", "N", "moments reported (default 10)", set_top},
    {"threshold", "T", "frames at least this cosine apart are duplicates (default 0.95)", set_threshold},
    {"segment", "S", "also classify each S-second segment", set_segment},
    {"image", "FILE", "search by an example image (PNG or JPEG) instead of text", set_image},
    {"approximate", NULL, "search the cached approximate index (default from 1,000,000 frames)", set_approximate},
    {"exact", NULL, "compare every frame, however large the archive", set_exact},
    {"keep-blank", NULL, "count blank frames (black, flat, fades) too", set_keep_blank},
    {"json", NULL, "one JSON object a line", set_json},
    {"device", "N|cpu|vulkan", "a Vulkan device's index, cpu (vkclip's CPU backend) or vulkan (the best Vulkan "
     "device); default: $VKCLIP_DEVICE, else a GPU, else cpu", set_device},
    {"threads", "N", "the CPU backend's threads (default: $VKCLIP_THREADS, else the cores available)", set_threads},
    {"validation", NULL, "the Khronos validation layer; any message fails the command", set_validation},
};

static const option_spec *find_option(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof option_specs / sizeof option_specs[0]; i++)
        if (strlen(option_specs[i].name) == len && strncmp(option_specs[i].name, name, len) == 0)
            return &option_specs[i];
    return NULL;
}

static bool option_allowed(const char *allowed, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = allowed; (p = strstr(p, name)); p += n)
        if ((p == allowed || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

int cli_usage(const cli_command *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vkclip: %s: ", cmd->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see vkclip help %s)\n", cmd->name);
    va_end(ap);
    return CLI_USAGE;
}

static bool is_long_option(const char *arg)
{
    return arg[0] == '-' && arg[1] == '-' && arg[2] != '\0';
}

/* argv[*i] is "--name" or "--name=value"; a value of its own is the next
 * argument, which *i then steps over. */
static int parse_option(const cli_command *cmd, int argc, char **argv, int *i, cli_options *o)
{
    const char *name = argv[*i] + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    if (len == 4 && strncmp(name, "help", 4) == 0) /* only --help=... gets here */
        return cli_usage(cmd, "--help takes no value");
    const option_spec *spec = find_option(name, len);
    if (!spec)
        return cli_usage(cmd, "unknown option --%.*s", (int)len, name);
    if (!option_allowed(cmd->options, spec->name))
        return cli_usage(cmd, "--%s is not an option of %s", spec->name, cmd->name);
    const char *value = eq ? eq + 1 : NULL;
    if (!spec->value && value)
        return cli_usage(cmd, "--%s takes no value", spec->name);
    if (spec->value && !value) {
        if (*i + 1 >= argc)
            return cli_usage(cmd, "--%s needs a value", spec->name);
        value = argv[++*i];
    }
    char problem[512];
    if (!spec->set(o, value, problem, sizeof problem))
        return cli_usage(cmd, "%s", problem);
    return 0;
}

/* The number of operands, and "-" at most once where they are images
 * (standard input can be read only once). */
static int check_operands(const cli_command *cmd, const cli_options *o)
{
    if (o->ninputs < cmd->min_operands)
        return cli_usage(cmd, "missing %s", cmd->operand);
    if (!cmd->operand && o->ninputs > 0)
        return cli_usage(cmd, "unexpected argument '%s'", o->inputs[0]);
    if (cmd->max_operands && o->ninputs > cmd->max_operands)
        return cli_usage(cmd, "at most %d %s, got %d", cmd->max_operands, cmd->operand, o->ninputs);
    int from_stdin = 0;
    for (int i = 0; cmd->images && i < o->ninputs; i++)
        from_stdin += strcmp(o->inputs[i], "-") == 0;
    if (from_stdin > 1)
        return cli_usage(cmd, "- (standard input) may be given once, not %d times", from_stdin);
    return 0;
}

int cli_parse(const cli_command *cmd, int argc, char **argv, cli_options *o)
{
    memset(o, 0, sizeof *o);
    o->device = -1;
    o->seconds = 10;
    o->examples_weight = 0.5;
    /* Positional arguments are gathered at the front of argv itself (never
     * past the option being read), so nothing needs freeing. */
    o->inputs = (const char **)argv;
    bool options_ended = false;
    for (int i = 0; i < argc; i++) {
        if (!options_ended && strcmp(argv[i], "--") == 0) {
            options_ended = true;
        } else if (!options_ended && strcmp(argv[i], "-o") == 0 && option_allowed(cmd->options, "out")) {
            /* -o FILE: the one short option, as compilers and converters spell it */
            if (i + 1 >= argc)
                return cli_usage(cmd, "-o needs a value");
            o->out = argv[++i];
        } else if (!options_ended && is_long_option(argv[i])) {
            int status = parse_option(cmd, argc, argv, &i, o);
            if (status)
                return status;
        } else {
            argv[o->ninputs++] = argv[i];
        }
    }
    return check_operands(cmd, o);
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

static void print_option(FILE *f, const char *left, const char *help)
{
    fprintf(f, "  %-24s %s\n", left, help);
}

void cli_print_command_help(const cli_command *cmd, FILE *f)
{
    fprintf(f, "usage: %s\n\n%s\n\noptions:\n", cmd->usage, cmd->description);
    for (size_t i = 0; i < sizeof option_specs / sizeof option_specs[0]; i++) {
        const option_spec *s = &option_specs[i];
        if (!option_allowed(cmd->options, s->name))
            continue;
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", s->name, s->value ? " " : "", s->value ? s->value : "");
        print_option(f, left, s->help);
    }
    print_option(f, "-h, --help", "this help");
    fputs("\nOptions take their value as --opt VALUE or --opt=VALUE; -- ends the options.\n", f);
    if (cmd->images)
        fputs("IMAGE: a PNG or JPEG file; - reads one from standard input (once).\n", f);
    if (cmd->needs_model)
        fprintf(f, "Without --model: $VKCLIP_MODEL, else the installed shapes-clip model, else the\n"
                   "source tree's (now: %s).\n", vkclip_default_model_dir());
}
