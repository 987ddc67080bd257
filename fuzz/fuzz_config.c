/* libFuzzer target: both config parsers over arbitrary bytes; an accepted
 * config must satisfy the checks config.h promises. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_tower(const clip_tower_config *t)
{
    if (t->hidden_size <= 0 || t->num_heads <= 0 || t->hidden_size % t->num_heads ||
        t->intermediate_size <= 0 || t->num_layers <= 0 || !(t->layer_norm_eps > 0) ||
        !isfinite(t->layer_norm_eps))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    errbuf err = { "" };
    clip_config c;
    if (clip_config_parse(&c, (const char *)data, size, "config.json", &err)) {
        check_tower(&c.text);
        check_tower(&c.vision);
        if (c.num_channels != 3 || c.patch_size <= 0 || c.patch_size > c.image_size ||
            c.projection_dim <= 0 || c.vocab_size <= 0 || c.max_position_embeddings <= 0)
            abort();
    } else if (strncmp(err.msg, "config.json: ", 13) != 0 || strchr(err.msg, '\n')) {
        abort();
    }
    clip_preprocess_config pp;
    if (clip_preprocess_config_parse(&pp, (const char *)data, size, "pp.json", 224, &err)) {
        for (int i = 0; i < 3; i++)
            if (pp.std[i] == 0.0f || !isfinite(pp.std[i]) || !isfinite(pp.mean[i]))
                abort();
        if (pp.shortest_edge <= 0 || pp.crop_width <= 0 || pp.crop_height <= 0 ||
            pp.resample < 0 || pp.resample > 5 || !(pp.rescale_factor > 0))
            abort();
    } else if (strncmp(err.msg, "pp.json: ", 9) != 0 || strchr(err.msg, '\n')) {
        abort();
    }
    return 0;
}
