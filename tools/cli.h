/* cli: what the vkclip subcommands share: the command table's entries,
 * option parsing and help, JSON output, loading images and models,
 * reporting errors. */
#ifndef VKCLIP_CLI_H
#define VKCLIP_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "image/image.h"
#include "vkclip.h"

#define CLI_MAX_TEMPLATES 256
/* --labels-file and --templates-file are read whole, up to this size (a
 * pipe or FIFO too); a million labels fit. */
#define CLI_TEXT_FILE_MAX_BYTES ((size_t)16 << 20)
/* An image read from standard input ("-") is held whole, up to this size. */
#define CLI_STDIN_IMAGE_MAX_BYTES ((size_t)256 << 20)
/* A subcommand's status when it stopped because stdout failed; main turns
 * it into 1 with the message "vkclip: stdout: <reason>". */
#define CLI_STDOUT_FAILED 3
/* Exit status of a usage error (a wrong command line). */
#define CLI_USAGE 2

/* Options common to the subcommands; each uses the ones it needs. */
typedef struct cli_options {
    const char *model; /* NULL: the default model (cli_model_dir) */
    const char *out;
    int device;      /* -1: choose */
    int threads;     /* the CPU backend's; 0: the default */
    int batch;       /* 0: default */
    double seconds;
    bool raw;
    bool validation;
    bool no_cache;
    const char *labels;       /* "a;b;c" */
    const char *labels_file;  /* one label a line */
    const char *templates_file;
    const char *templates[CLI_MAX_TEMPLATES]; /* --template, repeatable */
    int ntemplates;
    int top_k;                /* 0: default */
    vkclip_precision precision;
    vkclip_rect crop;    /* --crop X,Y,W,H; zero: the whole image */
    const char *db;      /* an archive's database (index, search) */
    double fps;          /* frames sampled per second of video; 0: default */
    double threshold;    /* dedup: the cosine from which frames are duplicates; 0: default */
    double segment;      /* classify-video: seconds per segment; 0: the whole video */
    int top;             /* results reported (search); 0: default */
    bool json;           /* JSON lines rather than text */
    bool keep_blank;     /* blank frames count in search and classification */
    bool approximate, exact; /* search: force the approximate index, or exact search */
    const char *image;   /* search by example image */
    const char *examples;   /* few-shot: one folder of images per label */
    double examples_weight; /* their weight against the prompts (default 0.5) */
    const char **inputs; /* positional arguments */
    int ninputs;
} cli_options;

/* One subcommand: what it takes, how its help reads, what runs it. */
typedef struct cli_command {
    const char *name;
    const char *usage;       /* the synopsis: "vkclip embed-image [--model DIR] ... IMAGE..." */
    const char *summary;     /* one line for vkclip --help */
    const char *description; /* what it does and prints, for vkclip help NAME */
    const char *options;     /* the long options it takes: "model,raw,batch" */
    const char *operand;     /* what a positional argument is: "IMAGE", "TEXT"; NULL: none */
    int min_operands, max_operands; /* max 0: no limit */
    bool images;             /* operands are image files: "-" (stdin) may appear once */
    bool needs_model;        /* without --model it uses the default model */
    int (*run)(const struct cli_command *self, cli_options *o);
} cli_command;

/* Parses argv (after the subcommand) into o: --name value or --name=value
 * (the options the command takes), positional arguments, "--" ending the
 * options. Returns 0, or CLI_USAGE after printing the problem in one line. */
int cli_parse(const cli_command *cmd, int argc, char **argv, cli_options *o);
/* True when argv (before any "--") asks for help: --help or -h. */
bool cli_wants_help(int argc, char **argv);
/* The command's help: usage, description, its options, on f. */
void cli_print_command_help(const cli_command *cmd, FILE *f);

/* "vkclip: <message>" on stderr; returns the exit status 1. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error: "vkclip: CMD: <message> (see vkclip help CMD)" on stderr;
 * returns CLI_USAGE. */
int cli_usage(const cli_command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* At the start of main: a closed descriptor 0, 1 or 2 is reopened on
 * /dev/null (1 read-only, so that writes to stdout still fail), so that no
 * file the command opens can take its number and receive its output. */
void cli_guard_std_fds(void);
/* True once a write to stdout has failed (loops stop early on it). */
bool cli_stdout_failed(void);
/* At the end of main: flushes and closes stdout. Where that fails, or a
 * write failed earlier, prints "vkclip: stdout: <reason>" (unless the
 * command already reported an error) and returns 1; else status. */
int cli_finish_stdout(int status);

/* The index of the frame an engine message names ("frame 2: rest", an
 * index into a call's count frames), with *rest after the prefix; -1 when
 * the message names no frame of the call. The CLI reports such an error by
 * the frame's file instead. */
int cli_frame_of_error(const char *message, int count, const char **rest);

/* The model directory: --model, else vkclip_default_model_dir(). NULL,
 * after one line naming the places tried, when --model is not given and the
 * default holds no config.json. */
const char *cli_model_dir(const cli_options *o);

/* The device, and the model when with_model. */
typedef struct cli_session {
    vkclip_device *dev;
    vkclip_model *model;
    const char *model_dir;
} cli_session;

/* False (message printed) when the device or the model cannot be opened. */
bool cli_session_open(cli_session *s, const cli_options *o, bool with_model);
/* Frees the session; a success becomes a failure if the validation layer
 * printed anything. Returns the exit status. */
int cli_session_close(cli_session *s, int status);

/* Decoded images and the RGB frames over them: the images of a list of
 * paths that decoded, in order. */
typedef struct cli_images {
    rgb_image *images;
    vkclip_frame *frames;
    const char **paths; /* each frame's path, as given */
    int *inputs;        /* each frame's index in the list decoded */
    int count;
} cli_images;

/* Decodes paths[0..n) ("-": standard input). Each file that does not decode
 * is reported ("vkclip: PATH: reason") and left out; *unreadable (may be
 * NULL) counts them. False only when out of memory (reported). */
bool cli_images_load(cli_images *b, const char *const *paths, int n, int *unreadable);
/* Leaves frame i out (the engine refused it). */
void cli_images_drop(cli_images *b, int i);
void cli_images_free(cli_images *b);

/* Called with each image embedded, in the order of o->inputs (input is the
 * index there). Returns 0, or a status that stops the embedding. */
typedef int (*cli_embedding_fn)(void *user, int input, const float *embedding);

/* Embeds the images o->inputs names, in batches of the model's batch size,
 * with o->crop. An image that does not decode, or that the engine refuses
 * ("frame N: ..."), is reported by its path and skipped; *skipped counts
 * them. Returns 0, or the status that stopped it: another engine error
 * (reported, 1) or the callback's. */
int cli_embed_images(vkclip_model *m, const cli_options *o, bool normalize, cli_embedding_fn fn, void *user,
                     int *skipped);

/* Splits text at `sep` into trimmed, non-empty fields (strings owned by the
 * returned array's block); *count gets their number. Empty fields are an
 * error when keep_empty_as_error, else skipped. NULL (message printed) on error. */
char **cli_split(const char *text, char sep, bool empty_is_error, int *count, const char *what);
char **cli_read_lines(const char *path, int *count, const char *what);

/* The parameters of a model's two towers and their bytes as stored, from the
 * headers of its safetensors files (model_size.c). */
typedef struct cli_tower_size {
    unsigned long long parameters, bytes;
} cli_tower_size;
/* False (message printed) when the weights cannot be read. */
bool cli_tower_sizes(const char *dir, cli_tower_size *vision, cli_tower_size *text);

/* JSON output helpers. Strings are written as UTF-8 with the escapes JSON
 * needs; a byte that is not part of a well-formed UTF-8 sequence becomes
 * U+FFFD (written \ufffd), so every line parses. */
void json_print_string(FILE *f, const char *s);
/* `"key": "<s>"`, and where s is not valid UTF-8 (a file name can be any
 * bytes) also `, "key_bytes": "<s's bytes in lowercase hex>"`, from which the
 * original is recovered exactly (bytes.fromhex in Python). */
void json_print_name(FILE *f, const char *key, const char *s);
void json_print_float(FILE *f, float v);
void json_print_floats(FILE *f, const float *v, int n);

/* The labels and templates the options name (cli_labels.c). */
typedef struct cli_label_set {
    char **labels;          /* one block: pointers and strings */
    int nlabels;
    char **template_lines;  /* from --templates-file, one block */
    const char **templates; /* the file's lines, then each --template */
    int ntemplates;
} cli_label_set;

/* A usage error (printed, CLI_USAGE) unless exactly one of --labels and
 * --labels-file is given; else 0. */
int cli_check_label_options(const cli_command *cmd, const cli_options *o);
/* False after the message (an unreadable file, an empty list). */
bool cli_label_set_read(const cli_options *o, cli_label_set *s);
void cli_label_set_free(cli_label_set *s);
/* The classifier (built, or read from the cache), saying which and how long
 * it took on stderr, with --examples blended in; NULL after the message. */
vkclip_classifier *cli_classifier_build(vkclip_model *m, const cli_options *o, const cli_label_set *ls);
/* Prints "labels": [{"label": ..., "score": ...}, ...]: the k best of probs,
 * best first. Returns 0 or CLI_STDOUT_FAILED. */
int cli_print_top_labels(const vkclip_classifier *c, const float *probs, int k);

#endif
