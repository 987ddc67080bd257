/* cli: what the vkclip subcommands share: option parsing, JSON output,
 * loading images and models, reporting errors. */
#ifndef VKCLIP_CLI_H
#define VKCLIP_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "vkclip.h"

/* Options common to the subcommands; each uses the ones it needs. */
typedef struct cli_options {
    const char *model;
    const char *out;
    int device;      /* -1: choose */
    int batch;       /* 0: default */
    double seconds;
    bool raw;
    bool validation;
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

/* JSON output helpers. */
void json_print_string(FILE *f, const char *s);
void json_print_floats(FILE *f, const float *v, int n);

#endif
