/* vkclip: the command line. One function per subcommand (cmd_image.c,
 * cmd_text.c); the output formats are documented in README.md and are stable.
 * Whatever a subcommand prints is flushed here, and a failed write to stdout
 * (a full disk, a closed descriptor) is an error, not a success. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
} commands[] = {
    {"info", cmd_info, USAGE_INFO},
    {"preprocess", cmd_preprocess, USAGE_PREPROCESS},
    {"embed-image", cmd_embed_image, USAGE_EMBED_IMAGE},
    {"bench", cmd_bench, USAGE_BENCH},
    {"tokenize", cmd_tokenize, USAGE_TOKENIZE},
    {"embed-text", cmd_embed_text, USAGE_EMBED_TEXT},
    {"classify", cmd_classify, USAGE_CLASSIFY},
};

static void usage(FILE *f)
{
    fputs("usage:\n", f);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %s\n", commands[i].usage);
}

int main(int argc, char **argv)
{
    cli_guard_std_fds();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return cli_finish_stdout(commands[i].run(argc - 2, argv + 2));
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return cli_finish_stdout(0);
    }
    fprintf(stderr, "vkclip: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
