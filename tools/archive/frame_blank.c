/* frame_blank: sampled per-channel spread of a frame (see frame_blank.h). */
#include "frame_blank.h"

#include <math.h>

#define GRID 64

double frame_channel_stddev(const GstVideoFrame *frame)
{
    const GstVideoFormatInfo *finfo = frame->info.finfo;
    const GstVideoFormatInfo *unpack = gst_video_format_get_info(finfo->unpack_format);
    int width = GST_VIDEO_FRAME_WIDTH(frame), height = GST_VIDEO_FRAME_HEIGHT(frame);
    if (width <= 0 || height <= 0 || !unpack)
        return 0.0;
    /* Lines unpack to 4 channels (alpha first) of 8 or 16 bits. */
    bool deep = GST_VIDEO_FORMAT_INFO_DEPTH(unpack, 0) > 8;
    gsize pixel_bytes = deep ? 8 : 4;
    guint8 *line = g_malloc((gsize)width * pixel_bytes);
    double sum[3] = {0}, sum2[3] = {0};
    int count = 0;
    int rows = height < GRID ? height : GRID, cols = width < GRID ? width : GRID;
    for (int r = 0; r < rows; r++) {
        int y = (int)(((long)r * 2 + 1) * height / (2 * rows));
        finfo->unpack_func(finfo, GST_VIDEO_PACK_FLAG_NONE, line, frame->data, frame->info.stride, 0, y, width);
        for (int c = 0; c < cols; c++) {
            int x = (int)(((long)c * 2 + 1) * width / (2 * cols));
            for (int ch = 0; ch < 3; ch++) {
                double v = deep ? ((const guint16 *)line)[x * 4 + 1 + ch] / 257.0 : line[x * 4 + 1 + ch];
                sum[ch] += v;
                sum2[ch] += v * v;
            }
            count++;
        }
    }
    g_free(line);
    double worst = 0.0;
    for (int ch = 0; ch < 3; ch++) {
        double mean = sum[ch] / count, var = sum2[ch] / count - mean * mean;
        double sd = var > 0 ? sqrt(var) : 0.0;
        if (sd > worst)
            worst = sd;
    }
    return worst;
}

bool frame_is_blank(const GstVideoFrame *frame)
{
    return frame_channel_stddev(frame) <= FRAME_BLANK_MAX_STDDEV;
}
