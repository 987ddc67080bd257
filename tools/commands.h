/* commands: the vkclip subcommands and their usage lines. */
#ifndef VKCLIP_COMMANDS_H
#define VKCLIP_COMMANDS_H

#define USAGE_INFO "vkclip info [--model DIR] [--device N] [--validation]"
#define USAGE_PREPROCESS "vkclip preprocess --model DIR --out FILE [--crop X,Y,W,H] [--device N] IMAGE"
#define USAGE_EMBED_IMAGE \
    "vkclip embed-image --model DIR [--raw] [--batch N] [--precision f32|f16] [--crop X,Y,W,H] [--device N] IMAGE..."
#define USAGE_BENCH "vkclip bench --model DIR [--batch N] [--seconds S] [--precision f32|f16] [--device N]"
#define USAGE_TOKENIZE "vkclip tokenize --model DIR TEXT..."
#define USAGE_EMBED_TEXT "vkclip embed-text --model DIR [--raw] [--precision f32|f16] [--device N] TEXT..."
#define USAGE_CLASSIFY                                                                              \
    "vkclip classify --model DIR (--labels \"a;b;c\" | --labels-file F) [--template T]... "          \
    "[--templates-file F] [--top-k K] [--batch N] [--precision f32|f16] [--no-cache] [--device N] " \
    "IMAGE..."

int cmd_info(int argc, char **argv);
int cmd_preprocess(int argc, char **argv);
int cmd_embed_image(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_embed_text(int argc, char **argv);
int cmd_classify(int argc, char **argv);

#endif
