/* commands: the vkclip subcommands (cmd_image.c, cmd_text.c); their table,
 * with usage and help, is in vkclip.c. Each runs on options already parsed
 * and returns the exit status. */
#ifndef VKCLIP_COMMANDS_H
#define VKCLIP_COMMANDS_H

#include "cli.h"

int cmd_info(const cli_command *self, cli_options *o);
int cmd_preprocess(const cli_command *self, cli_options *o);
int cmd_embed_image(const cli_command *self, cli_options *o);
int cmd_bench(const cli_command *self, cli_options *o);
int cmd_tokenize(const cli_command *self, cli_options *o);
int cmd_embed_text(const cli_command *self, cli_options *o);
int cmd_classify(const cli_command *self, cli_options *o);

#endif
