/* env_tiles: VKCLIP_TILES="tm,tn,wg", the override of the matmul register
 * tiles (tm x tn outputs a thread) and workgroup width that tests use to try
 * the GPU packing on the CPU driver. A value that does not parse is not
 * ignored silently: a warning goes to stderr, once per process. */
#ifndef VKCLIP_ENV_TILES_H
#define VKCLIP_ENV_TILES_H

#include <stdbool.h>
#include <stddef.h>

#include "errbuf.h"

#define ENV_TILES_MAX_TM 16
#define ENV_TILES_MAX_TN 16
#define ENV_TILES_MAX_WG 256

typedef struct env_tiles {
    unsigned tm, tn, wg;
} env_tiles;

/* Strictly "tm,tn,wg": three decimal numbers without signs, spaces or
 * anything after, tm and tn in 1..16, wg in 1..256. False with the reason
 * in err otherwise (out is left alone). */
bool env_tiles_parse(const char *text, env_tiles *out, errbuf *err);

/* Reads VKCLIP_TILES. True with *out when it is set and valid; false when
 * it is unset or empty, and false after printing (the first time only)
 * "vkclip: VKCLIP_TILES='...' ignored: <reason>; using the default tiles"
 * to stderr when it is not valid. */
bool env_tiles_from_env(env_tiles *out);

/* The same on a given value (NULL: unset), warning to stderr at most once
 * per *warned flag; env_tiles_from_env uses a process-wide flag. */
bool env_tiles_from_value(const char *value, env_tiles *out, bool *warned);

/* An environment variable's value as a message shows it: control bytes as
 * '?', and cut to fit `size` with "..." after what is kept. */
void env_value_shown(const char *value, char *shown, size_t size);

#endif
