/* cli: what the vkclip subcommands share: option parsing, JSON output,
 * loading images and models, reporting errors. */
#ifndef VKCLIP_CLI_H
#define VKCLIP_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "vkclip.h"

#define CLI_MAX_TEMPLATES 256

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
    const char **inputs; /* positional arguments */
    int ninputs;
} cli_options;

/* Parses argv (after the subcommand); `allowed` lists the long options the
 * subcommand takes, e.g. "model,out". Returns false after printing usage. */
bool cli_parse(int argc, char **argv, const char *allowed, cli_options *o, const char *usage);

/* "vkclip: <message>" on stderr; returns the exit status 1. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

vkclip_device *cli_open_device(const cli_options *o);
vkclip_model *cli_load_model(vkclip_device *dev, const cli_options *o);

/* Splits text at `sep` into trimmed, non-empty fields (strings owned by the
 * returned array's block); *count gets their number. Empty fields are an
 * error when keep_empty_as_error, else skipped. NULL (message printed) on error. */
char **cli_split(const char *text, char sep, bool empty_is_error, int *count, const char *what);
char **cli_read_lines(const char *path, int *count, const char *what);

/* JSON output helpers. */
void json_print_string(FILE *f, const char *s);
void json_print_float(FILE *f, float v);
void json_print_floats(FILE *f, const float *v, int n);

#endif
