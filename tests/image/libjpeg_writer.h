/* libjpeg_writer: writes the JPEG variants Pillow cannot produce (restart
 * markers, YCCK, 4:4:0 and 4:1:1 sampling, RGB without colour transform,
 * arithmetic coding) so that the test can compare them with Pillow too. */
#ifndef VKCLIP_TEST_LIBJPEG_WRITER_H
#define VKCLIP_TEST_LIBJPEG_WRITER_H

#include <stdbool.h>

#include "util/errbuf.h"

/* Writes dir/c_*.jpg; fails with a message naming the file. */
bool write_libjpeg_test_images(const char *dir, errbuf *err);

#endif
