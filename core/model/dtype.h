/* dtype: scalar conversions between the float formats weights come in. */
#ifndef VKCLIP_DTYPE_H
#define VKCLIP_DTYPE_H

#include <stddef.h>
#include <stdint.h>

#include "safetensors.h"

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f); /* round to nearest even; overflow to inf */
float bf16_to_f32(uint16_t b);

/* Convert n elements of a float tensor (F32/F16/BF16, any alignment) into
 * dst, which is f32 or f16 (dst_f16 != 0). */
void convert_to_f32(const st_tensor *t, float *dst);
void convert_to_f16(const st_tensor *t, uint16_t *dst);

#endif
