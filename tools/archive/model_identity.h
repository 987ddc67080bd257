/* model_identity: a short fingerprint of a model directory, stored in an
 * archive's database so that embeddings of two models never mix. */
#ifndef VKCLIP_MODEL_IDENTITY_H
#define VKCLIP_MODEL_IDENTITY_H

#include <stddef.h>

/* SHA-256 (hex) over config.json, preprocessor_config.json and every
 * *.safetensors file's name, size and sampled content (1 MiB at its start,
 * its end and every 64 MiB between: a changed checkpoint differs there, and
 * hashing gigabytes on every run would not pay). Returns 0, or -1 with the
 * reason (naming the file) in err. */
int model_identity(const char *dir, char out[65], char *err, size_t cap);

#endif
