/* libFuzzer target: st_parse over arbitrary bytes. A file it accepts must
 * keep every promise of safetensors.h; whatever it rejects must come with a
 * one-line message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/dtype.h"
#include "model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    errbuf err = { "" };
    st_file *f = st_parse(data, size, "fuzz.safetensors", &err);
    if (!f) {
        if (strncmp(err.msg, "fuzz.safetensors: ", 18) != 0 || strchr(err.msg, '\n'))
            abort();
        return 0;
    }
    for (size_t i = 0; i < f->count; i++) {
        const st_tensor *t = &f->tensors[i];
        const uint8_t *p = t->data;
        if (st_find(f, t->name) != t || t->ndim < 0 || t->ndim > ST_MAX_DIMS)
            abort();
        if (p < data || p > data + size || t->nbytes > (size_t)(data + size - p))
            abort();
        if (t->nbytes != (size_t)t->numel * st_dtype_size(t->dtype))
            abort();
        /* read every byte the tensor claims (sanitizers catch overreads) */
        if (st_dtype_is_float_weight(t->dtype) && t->numel <= (1 << 16)) {
            float *out = malloc((size_t)t->numel * sizeof *out + 1);
            uint16_t *out16 = malloc((size_t)t->numel * sizeof *out16 + 1);
            convert_to_f32(t, out);
            convert_to_f16(t, out16);
            free(out);
            free(out16);
        }
    }
    st_close(f);
    return 0;
}
