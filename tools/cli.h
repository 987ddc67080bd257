/* cli: what the vkclip subcommands share: option parsing, JSON output,
 * loading images and models, reporting errors. */
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
/* A subcommand's status when it stopped because stdout failed; main turns
 * it into 1 with the message "vkclip: stdout: <reason>". */
#define CLI_STDOUT_FAILED 3

/* Options common to the subcommands; each uses the ones it needs. */
typedef struct cli_options {
    const char *model;
    const char *out;
    int device;      /* -1: choose */
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
    const char **inputs; /* positional arguments */
    int ninputs;
} cli_options;

/* Parses argv (after the subcommand); `allowed` lists the long options the
 * subcommand takes, e.g. "model,out", and at least min_inputs positional
 * arguments must follow. Returns false after printing usage. */
bool cli_parse(int argc, char **argv, const char *allowed, int min_inputs, cli_options *o, const char *usage);

/* "vkclip: <message>" on stderr; returns the exit status 1. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

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

/* An error of vkclip_encode_images on frames decoded from paths[0..count):
 * the engine names a frame by its index in the call ("frame 2: ..."); this
 * prints "vkclip: <path of frame 2>: ..." instead. Returns 1. */
int cli_fail_frames(const char *message, const char *const *paths, int count);

/* The device, and the model --model names when with_model. */
typedef struct cli_session {
    vkclip_device *dev;
    vkclip_model *model;
} cli_session;

/* False (message printed) when the device or the model cannot be opened. */
bool cli_session_open(cli_session *s, const cli_options *o, bool with_model);
/* Frees the session; a success becomes a failure if the validation layer
 * printed anything. Returns the exit status. */
int cli_session_close(cli_session *s, int status);

/* Decoded images and the RGB frames over them. */
typedef struct cli_images {
    rgb_image *images;
    vkclip_frame *frames;
    int count;
} cli_images;

/* Decodes the files; false (message printed) at the first unreadable one. */
bool cli_images_load(cli_images *b, const char *const *paths, int count);
void cli_images_free(cli_images *b);

/* Splits text at `sep` into trimmed, non-empty fields (strings owned by the
 * returned array's block); *count gets their number. Empty fields are an
 * error when keep_empty_as_error, else skipped. NULL (message printed) on error. */
char **cli_split(const char *text, char sep, bool empty_is_error, int *count, const char *what);
char **cli_read_lines(const char *path, int *count, const char *what);

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

#endif
