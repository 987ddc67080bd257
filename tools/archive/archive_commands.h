/* archive_commands: the vkclip subcommands over video archives (index,
 * search, classify-video,
 * dedup, report); their table entries are in vkclip.c. */
#ifndef VKCLIP_ARCHIVE_COMMANDS_H
#define VKCLIP_ARCHIVE_COMMANDS_H

#include "cli.h"

int cmd_index(const cli_command *self, cli_options *o);
int cmd_search(const cli_command *self, cli_options *o);
int cmd_classify_video(const cli_command *self, cli_options *o);
int cmd_dedup(const cli_command *self, cli_options *o);
int cmd_report(const cli_command *self, cli_options *o);

#endif
