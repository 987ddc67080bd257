/* weights: the named tensors of a model directory, from model.safetensors or
 * from shards listed in model.safetensors.index.json. */
#ifndef VKCLIP_WEIGHTS_H
#define VKCLIP_WEIGHTS_H

#include <stdbool.h>
#include <stdint.h>

#include "safetensors.h"
#include "util/errbuf.h"

typedef struct model_weights model_weights;

/* Opens <dir>/model.safetensors, or the shards named by
 * <dir>/model.safetensors.index.json when that exists. */
model_weights *model_weights_open(const char *dir, errbuf *err);
void model_weights_close(model_weights *w);

/* NULL when absent. *file_out (optional) gets the path of the file holding it. */
const st_tensor *model_weights_find(const model_weights *w, const char *name,
                                    const char **file_out);

/* A float weight (F32/F16/BF16) of exactly this shape, or NULL with an error
 * naming the file, the tensor and what is wrong (missing, dtype, shape). */
const st_tensor *model_weights_expect(const model_weights *w, const char *name,
                                      int ndim, const int64_t *shape, errbuf *err);

/* Total size in bytes of all float tensors whose name starts with prefix. */
uint64_t model_weights_bytes(const model_weights *w, const char *prefix);

#endif
