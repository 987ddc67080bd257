/* vkclip: the command line. One function per subcommand (cmd_image.c,
 * cmd_text.c); the output formats are documented in README.md and are stable.
 * Whatever a subcommand prints is flushed here, and a failed write to stdout
 * (a full disk, a closed descriptor) is an error, not a success.
 *
 * Exit status: 0 success, 1 an error while running, 2 a wrong command line
 * (one line on stderr names the problem). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#ifdef VKCLIP_ARCHIVE
#include "archive_commands.h"
#endif

#ifndef VKCLIP_VERSION
#error "VKCLIP_VERSION (the meson project version) comes from tools/meson.build"
#endif

static const cli_command commands[] = {
    {
        .name = "info",
        .usage = "vkclip info [--model DIR] [--precision f32|f16] [--device N|cpu|vulkan] [--threads N] [--validation]",
        .summary = "the Vulkan devices and, with --model, the model",
        .description = "Lists the Vulkan devices (the one used marked [chosen]) and the chosen device's features.\n"
                       "With --model also the model: its towers' shapes, parameters and bytes as stored,\n"
                       "the embedding width, the logit scale and the weights' types.",
        .options = "model,device,threads,validation,precision",
        .run = cmd_info,
    },
    {
        .name = "preprocess",
        .usage = "vkclip preprocess [--model DIR] --out FILE [--crop X,Y,W,H] [--device N|cpu|vulkan] [--threads N] [--validation] IMAGE",
        .summary = "write the model's input tensor for an image",
        .description = "Writes the model's input tensor for IMAGE to FILE: float32 little-endian, CHW\n"
                       "(3 x S x S), the model's resize, crop, mean and std applied.",
        .options = "model,out,crop,device,threads,validation",
        .operand = "IMAGE", .min_operands = 1, .max_operands = 1, .images = true, .needs_model = true,
        .run = cmd_preprocess,
    },
    {
        .name = "embed-image",
        .usage = "vkclip embed-image [--model DIR] [--raw] [--batch N] [--precision f32|f16] [--crop X,Y,W,H] "
                 "[--device N|cpu|vulkan] [--threads N] [--validation] IMAGE...",
        .summary = "image embeddings, one JSON line an image",
        .description = "One JSON line an image: {\"file\": PATH, \"embedding\": [...]}, L2-normalised unless --raw.\n"
                       "An image that cannot be read is reported on stderr and left out; the others are\n"
                       "embedded, and the exit status is 1.",
        .options = "model,raw,batch,precision,crop,device,threads,validation",
        .operand = "IMAGE", .min_operands = 1, .images = true, .needs_model = true,
        .run = cmd_embed_image,
    },
    {
        .name = "bench",
        .usage = "vkclip bench [--model DIR] [--batch N] [--seconds S] [--precision f32|f16] [--device N|cpu|vulkan] [--threads N] "
                 "[--validation]",
        .summary = "the image tower's speed on random input",
        .description = "Runs the image tower on a batch of random input for S seconds (preprocessing\n"
                       "excluded) and prints device:, model:, weights:, seconds:, batches:,\n"
                       "cpu seconds per image: and last images/s:.",
        .options = "model,batch,seconds,precision,device,threads,validation",
        .needs_model = true,
        .run = cmd_bench,
    },
    {
        .name = "tokenize",
        .usage = "vkclip tokenize [--model DIR] TEXT...",
        .summary = "token ids of texts (no device needed)",
        .description = "One JSON line a text: {\"text\": TEXT, \"ids\": [...]}: the start token, the ids, the\n"
                       "end token, unpadded, at most the model's context length. Needs no device.",
        .options = "model",
        .operand = "TEXT", .min_operands = 1, .needs_model = true,
        .run = cmd_tokenize,
    },
    {
        .name = "embed-text",
        .usage = "vkclip embed-text [--model DIR] [--raw] [--precision f32|f16] [--device N|cpu|vulkan] [--threads N] [--validation] TEXT...",
        .summary = "text embeddings, one JSON line a text",
        .description = "One JSON line a text: {\"text\": TEXT, \"embedding\": [...]}, L2-normalised unless --raw.",
        .options = "model,raw,precision,device,threads,validation",
        .operand = "TEXT", .min_operands = 1, .needs_model = true,
        .run = cmd_embed_text,
    },
    {
        .name = "classify",
        .usage = "vkclip classify [--model DIR] (--labels \"a;b;c\" | --labels-file F) [--template T]... "
                 "[--templates-file F] [--top-k K] [--examples DIR [--examples-weight W]] [--batch N] "
                 "[--precision f32|f16] [--no-cache] [--device N|cpu|vulkan] [--threads N] [--validation] IMAGE...",
        .summary = "zero-shot classification, one JSON line an image",
        .description = "One JSON line an image: {\"file\": PATH, \"labels\": [{\"label\": ..., \"score\": ...}, ...]},\n"
                       "the K best labels first. Each label's classifier is the normalised mean of its prompts'\n"
                       "text embeddings (a template's {} replaced by the label); it is cached on disk.\n"
                       "Every image is read and embedded before the classifier is built: an image that\n"
                       "cannot be read is reported on stderr and left out, the others are classified and\n"
                       "the exit status is 1; when none can be read, no text is encoded.\n"
                       "Few-shot: --examples DIR (DIR/LABEL/ holding images of that label) blends each\n"
                       "label's prompt embedding with the mean of its examples' embeddings, weight W\n"
                       "(default 0.5; 0: zero-shot, 1: the examples alone).",
        .options = "model,labels,labels-file,template,templates-file,top-k,examples,examples-weight,batch,precision,"
                   "no-cache,device,threads,validation",
        .operand = "IMAGE", .min_operands = 1, .images = true, .needs_model = true,
        .run = cmd_classify,
    },
#ifdef VKCLIP_ARCHIVE
    {
        .name = "index",
        .usage = "vkclip index --db DB [--model DIR] [--fps F] [--batch N] [--precision f32|f16] [--device N|cpu|vulkan] [--threads N] "
                 "PATH...",
        .summary = "index video files and folders into an archive",
        .description = "Runs every video file (folders recursively, hidden entries passed by) through\n"
                       "decodebin ! clip mode=archive embedding=true, sampling F frames a second (default 1),\n"
                       "and stores each sampled frame's embedding, timestamp and blank flag in DB (SQLite,\n"
                       "created when missing). One JSON line a file: {\"file\", \"status\": \"indexed\" (with\n"
                       "\"frames\" and \"blank\"), \"unchanged\" or \"failed\"}. A file is written whole or\n"
                       "not at all, so an indexer killed at any moment resumes where it stopped; unchanged\n"
                       "files are passed by; several indexers may share DB. Without --model: the model DB\n"
                       "was made with, else the default model. A file that cannot be decoded is reported on\n"
                       "stderr and skipped; the exit status is then 1.",
        .options = "db,model,fps,batch,precision,device,threads",
        .operand = "PATH", .min_operands = 1, .needs_model = true,
        .run = cmd_index,
    },
    {
        .name = "search",
        .usage = "vkclip search --db DB [--model DIR] [--top N] [--json] [--keep-blank] [--approximate | --exact] "
                 "[--device N|cpu|vulkan] [--threads N] (TEXT | --image FILE)",
        .summary = "the moments of an archive that best match a text or an image",
        .description = "Compares TEXT's (or the image's) embedding with every indexed frame (exact search)\n"
                       "and merges neighbouring frames of a video into moments: one line each, best first,\n"
                       "\"SCORE START-END PATH\" (seconds), or with --json {\"video\", \"start\", \"end\",\n"
                       "\"score\", \"frames\"}. The score is the best frame's cosine similarity. Blank frames\n"
                       "are left out unless --keep-blank. Without --model: the model DB was made with.\n"
                       "From 1,000,000 frames (or with --approximate) the search runs on an approximate\n"
                       "index (FAISS IVF with 8-bit vectors, 32 lists scanned), cached beside DB as\n"
                       "DB.ivf and rebuilt when DB has changed; --exact compares every frame anyway.",
        .options = "db,model,top,json,keep-blank,approximate,exact,image,device,threads,validation",
        .operand = "TEXT", .max_operands = 1, .needs_model = true,
        .run = cmd_search,
    },
    {
        .name = "classify-video",
        .usage = "vkclip classify-video [--model DIR] (--labels \"a;b;c\" | --labels-file F) [--template T]... "
                 "[--templates-file F] [--top-k K] [--examples DIR [--examples-weight W]] [--segment S] [--fps F] "
                 "[--keep-blank] [--no-cache] "
                 "(VIDEO... | --db DB [VIDEO...])",
        .summary = "video-level zero-shot labels, per video and per segment",
        .description = "Classifies each video as the CLIP paper does for Kinetics-700: the normalised\n"
                       "embeddings of its sampled frames (F a second, default 1) averaged, the mean\n"
                       "normalised and scored against the labels (prompt ensembling over the templates).\n"
                       "Blank frames are left out unless --keep-blank. With --segment S also each S-second\n"
                       "segment, on lines of their own before the video's. Frames come from the files\n"
                       "(the clip element over each) or, with --db, from an archive (the VIDEOs named, or\n"
                       "all). One JSON line each: {\"file\", [\"start\", \"end\",] \"frames\", \"labels\": [...]}.",
        .options = "model,db,labels,labels-file,template,templates-file,top-k,examples,examples-weight,segment,fps,keep-blank,"
                   "no-cache,"
                   "batch,precision,device,threads",
        .operand = "VIDEO", .needs_model = true,
        .run = cmd_classify_video,
    },
    {
        .name = "dedup",
        .usage = "vkclip dedup --db DB [--model DIR] [--threshold T] [--keep-blank]",
        .summary = "near-duplicate frames and clips across an archive",
        .description = "Finds each indexed frame's nearest neighbours in other videos (the CLIP paper's\n"
                       "overlap detector); pairs at cosine T or more (default 0.95) are duplicates. JSON\n"
                       "lines: first {\"kind\": \"clip\", \"videos\": [A, B], \"coverage\", \"score\", \"pairs\"}\n"
                       "for two videos when at least half of the shorter one's frames have a duplicate in\n"
                       "the other (coverage: that share; score: the pairs' mean cosine), then\n"
                       "{\"kind\": \"frames\", \"score\", \"frames\": [{\"video\", \"time\"}, ...]} for each group of\n"
                       "frames joined by duplicate pairs (score: the lowest cosine that joined it), best\n"
                       "first. Blank frames are left out unless --keep-blank.",
        .options = "db,model,threshold,keep-blank",
        .run = cmd_dedup,
    },
    {
        .name = "report",
        .usage = "vkclip report --db DB [--model DIR] (--labels \"a;b;c\" | --labels-file F) [--template T]... "
                 "[--templates-file F] [--top N] -o FILE.html VIDEO",
        .summary = "an HTML page of a video's labels over time",
        .description = "Writes one self-contained HTML page (no network) about an indexed VIDEO: each\n"
                       "label's score (softmax over the labels) over time as an SVG plot, blank spans\n"
                       "shaded; each label's best moment with a picture of its frame (at most N, default\n"
                       "10, best first); the blank spans listed. The plot's lines, the moments and the\n"
                       "spans carry data- attributes (label, times, scores) for scripts.",
        .options = "db,model,labels,labels-file,template,templates-file,top,out,no-cache,device,threads",
        .operand = "VIDEO", .min_operands = 1, .max_operands = 1, .needs_model = true,
        .run = cmd_report,
    },
#endif
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(name, commands[i].name) == 0)
            return &commands[i];
    return NULL;
}

static void print_help(FILE *f)
{
    fprintf(f, "vkclip %s: CLIP inference on Vulkan compute\n\n", VKCLIP_VERSION);
    fputs("usage: vkclip COMMAND [OPTIONS] ARGUMENTS\n"
          "       vkclip help COMMAND | vkclip COMMAND --help | vkclip --version\n\ncommands:\n", f);
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fputs("\nsynopses:\n", f);
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(f, "  %s\n", commands[i].usage);
    fprintf(f, "\nOptions take their value as --opt VALUE or --opt=VALUE.\n"
               "Without --model, a command uses the default model: $VKCLIP_MODEL when set, else\n"
               "%s when it holds config.json, else %s\n"
               "(now: %s).\n",
            VKCLIP_INSTALLED_MODEL_DIR, VKCLIP_SOURCE_MODEL_DIR, vkclip_default_model_dir());
    fputs("Environment: VKCLIP_DEVICE (an index, cpu or vulkan), VKCLIP_VALIDATION=1, VKCLIP_CACHE_DIR (the\n"
          "classifier cache), VKCLIP_PROFILE=1 (each kernel's time on stderr), VKCLIP_TILES=tm,tn,wg.\n"
          "Exit status: 0 success, 1 error, 2 wrong command line.\n", f);
}

/* "vkclip help [COMMAND]". */
static int run_help(int argc, char **argv)
{
    if (argc == 0) {
        print_help(stdout);
        return 0;
    }
    if (argc > 1) {
        fputs("vkclip: help: one COMMAND at most (see vkclip --help)\n", stderr);
        return CLI_USAGE;
    }
    const cli_command *cmd = find_command(argv[0]);
    if (!cmd) {
        fprintf(stderr, "vkclip: help: unknown command '%s' (see vkclip --help)\n", argv[0]);
        return CLI_USAGE;
    }
    cli_print_command_help(cmd, stdout);
    return 0;
}

static int run_command(const cli_command *cmd, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        cli_print_command_help(cmd, stdout);
        return 0;
    }
    cli_options o;
    int status = cli_parse(cmd, argc, argv, &o);
    return status ? status : cmd->run(cmd, &o);
}

/* Words other than commands: help, --help, -h, --version. */
static int run_word(const char *word, int argc, char **argv)
{
    bool is_help = strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0;
    if (strcmp(word, "help") == 0 || (is_help && argc == 0))
        return run_help(argc, argv);
    if (strcmp(word, "--version") == 0 && argc == 0) {
        printf("vkclip %s\n", VKCLIP_VERSION);
        return 0;
    }
    if (is_help || strcmp(word, "--version") == 0)
        fprintf(stderr, "vkclip: %s takes no arguments (see vkclip --help)\n", word);
    else if (word[0] == '-')
        fprintf(stderr, "vkclip: unknown option %s (see vkclip --help)\n", word);
    else
        fprintf(stderr, "vkclip: unknown command '%s' (see vkclip --help)\n", word);
    return CLI_USAGE;
}

int main(int argc, char **argv)
{
    cli_guard_std_fds();
    if (argc < 2) {
        fputs("vkclip: no command given (see vkclip --help)\n", stderr);
        return CLI_USAGE;
    }
    const cli_command *cmd = find_command(argv[1]);
    int status = cmd ? run_command(cmd, argc - 2, argv + 2) : run_word(argv[1], argc - 2, argv + 2);
    return cli_finish_stdout(status);
}
