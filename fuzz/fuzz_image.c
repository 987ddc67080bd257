/* libFuzzer target: rgb_image_decode (PNG through libpng, JPEG through
 * libjpeg-turbo, as core/image drives them) over arbitrary bytes. An image it
 * accepts must have a sane size and pixels that can all be read; whatever it
 * rejects must come back zeroed, with a one-line message naming the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "image/image_decoders.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    errbuf err = {""};
    rgb_image img;
    memset(&img, 0x5a, sizeof img); /* the decoder must set every field */
    if (!rgb_image_decode(&img, data, size, "fuzz.img", &err)) {
        if (strncmp(err.msg, "fuzz.img: ", 10) != 0 || strchr(err.msg, '\n'))
            abort();
        if (img.pixels || img.width || img.height)
            abort();
        return 0;
    }
    if (img.width <= 0 || img.height <= 0 || !img.pixels ||
        (size_t)img.width * (size_t)img.height > RGB_IMAGE_MAX_PIXELS)
        abort();
    /* Touch every byte the image claims (sanitizers catch a short buffer). */
    size_t n = (size_t)img.width * (size_t)img.height * 3;
    volatile unsigned sum = 0;
    for (size_t i = 0; i < n; i += 1 + (n >> 20))
        sum += img.pixels[i];
    sum += img.pixels[n - 1];
    (void)sum;
    rgb_image_free(&img);
    if (img.pixels || img.width || img.height)
        abort();
    return 0;
}
