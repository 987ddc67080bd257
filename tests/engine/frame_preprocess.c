/* frame_preprocess: raw GStreamer frames through the clip element's own
 * mapping (gst/gstclipframes.c: GstVideoInfo from the caps, strides and
 * offsets from a GstVideoMeta) into vkclip_preprocess. test_videoconvert.py
 * drives it; it is not installed.
 *
 *   frame_preprocess MODEL LIST
 *
 * Each line of LIST has tab-separated fields
 *
 *   RAW  CAPS  STRIDES  OFFSETS  CROP  OUT  [REF]
 *
 * RAW: the frame's bytes; CAPS: its caps (video/x-raw,...); STRIDES and
 * OFFSETS: per plane, comma-separated; CROP: x,y,w,h or "-" (the whole
 * frame); OUT: where the 3 x S x S float32 tensor goes. REF (I420/NV12):
 * where the RGB8 of the whole frame that yuv_reference.c (the tests' own
 * reimplementation of videoconvert's arithmetic) makes of the mapped
 * vkclip_frame goes, so that the caller can hold it against videoconvert.
 * Prints one line per frame: the vkclip_frame the mapping gave. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gst/gst.h>
#include <gst/video/video.h>

#include "gstclipframes.h"
#include "vkclip.h"
#include "yuv_reference.h"

static int fail(const char *what, const char *detail)
{
    fprintf(stderr, "frame_preprocess: %s: %s\n", what, detail);
    return 1;
}

static int parse_ints(const char *s, int *v, int max)
{
    int n = 0;
    while (*s && n < max) {
        char *end;
        v[n++] = (int)strtol(s, &end, 10);
        if (end == s)
            return -1;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

static gchar *read_all(const char *path, gsize *len)
{
    gchar *data = NULL;
    return g_file_get_contents(path, &data, len, NULL) ? data : NULL;
}

static int write_all(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    size_t w = f ? fwrite(data, 1, len, f) : 0;
    if (!f || fclose(f) != 0 || w != len)
        return fail(path, "cannot write");
    return 0;
}

static int one_frame(vkclip_model *model, char **field, int nfields)
{
    GstCaps *caps = gst_caps_from_string(field[1]);
    GstVideoInfo info;
    if (!caps || !gst_video_info_from_caps(&info, caps)) {
        if (caps)
            gst_caps_unref(caps);
        return fail(field[1], "not video caps");
    }
    gst_caps_unref(caps);
    int strides[GST_VIDEO_MAX_PLANES] = {0}, offsets[GST_VIDEO_MAX_PLANES] = {0}, crop[4] = {0};
    int planes = parse_ints(field[2], strides, GST_VIDEO_MAX_PLANES);
    if (planes != (int)GST_VIDEO_INFO_N_PLANES(&info) || parse_ints(field[3], offsets, planes) != planes)
        return fail(field[2], "strides/offsets do not match the caps' planes");
    if (strcmp(field[4], "-") != 0 && parse_ints(field[4], crop, 4) != 4)
        return fail(field[4], "crop is not x,y,w,h");
    gsize len = 0;
    gchar *bytes = read_all(field[0], &len);
    if (!bytes)
        return fail(field[0], "cannot read");
    GstBuffer *buf = gst_buffer_new_wrapped(bytes, len);
    gsize offs[GST_VIDEO_MAX_PLANES];
    gint strd[GST_VIDEO_MAX_PLANES];
    for (int p = 0; p < planes; p++) {
        offs[p] = (gsize)offsets[p];
        strd[p] = strides[p];
    }
    gst_buffer_add_video_meta_full(buf, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT(&info),
                                   GST_VIDEO_INFO_WIDTH(&info), GST_VIDEO_INFO_HEIGHT(&info), (guint)planes, offs,
                                   strd);
    int status = 1;
    GstClipFrameConverter conv;
    GstClipFrame f;
    if (!gst_clip_frame_converter_init(&conv, &info)) {
        gst_buffer_unref(buf);
        return fail(field[1], "no converter");
    }
    if (!gst_clip_frame_map(&f, &conv, buf)) {
        fail(field[0], "cannot map");
    } else {
        vkclip_frame frame = f.frame;
        if (crop[2] > 0 && crop[3] > 0)
            frame.crop = (vkclip_rect){crop[0], crop[1], crop[2], crop[3]};
        printf("{\"format\": %d, \"width\": %d, \"height\": %d, \"colorimetry\": %d, \"chroma_site\": %d, "
               "\"crop\": [%d, %d, %d, %d]}\n",
               (int)frame.format, frame.width, frame.height, (int)frame.colorimetry, (int)frame.chroma_site,
               frame.crop.x, frame.crop.y, frame.crop.width, frame.crop.height);
        int side = vkclip_image_size(model);
        size_t n = 3 * (size_t)side * side;
        float *out = malloc(n * sizeof *out);
        vkclip_error err;
        if (!out)
            fail(field[0], "out of memory");
        else if (vkclip_preprocess(model, &frame, out, &err) != 0)
            fail(field[0], err.message);
        else
            status = write_all(field[5], out, n * sizeof *out);
        free(out);
        if (status == 0 && nfields > 6) {
            size_t rgb_len = (size_t)frame.width * frame.height * 3;
            uint8_t *rgb = malloc(rgb_len);
            if (!rgb || !yuv_reference_rgb(&frame, rgb))
                status = fail(field[6], "no reference for this format");
            else
                status = write_all(field[6], rgb, rgb_len);
            free(rgb);
        }
        gst_clip_frame_unmap(&f);
    }
    gst_clip_frame_converter_clear(&conv);
    gst_buffer_unref(buf);
    return status;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: frame_preprocess MODEL LIST\n");
        return 2;
    }
    gst_init(NULL, NULL);
    gsize len = 0;
    gchar *list = read_all(argv[2], &len);
    if (!list)
        return fail(argv[2], "cannot read");
    vkclip_error err;
    vkclip_device *dev = vkclip_device_open(NULL, &err);
    vkclip_model *model = dev ? vkclip_model_load(dev, argv[1], NULL, &err) : NULL;
    int status = model ? 0 : fail(argv[1], err.message);
    gchar **lines = g_strsplit(list, "\n", -1);
    for (gchar **l = lines; status == 0 && *l; l++) {
        if (!**l)
            continue;
        gchar **field = g_strsplit(*l, "\t", -1);
        int nfields = (int)g_strv_length(field);
        status = nfields >= 6 ? one_frame(model, field, nfields) : fail(*l, "fewer than 6 fields");
        g_strfreev(field);
        fflush(stdout);
    }
    g_strfreev(lines);
    g_free(list);
    vkclip_model_free(model);
    vkclip_device_free(dev);
    gst_deinit();
    return status;
}
