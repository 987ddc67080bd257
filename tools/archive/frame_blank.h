/* frame_blank: whether a decoded frame carries no content: black, white or
 * one flat colour, or the last steps of a fade (the CLIP paper found
 * Kinetics-700's overlap with its training data dominated by such
 * transition frames). Such frames are flagged when indexed and left out of
 * search and video-level classification by default. */
#ifndef VKCLIP_FRAME_BLANK_H
#define VKCLIP_FRAME_BLANK_H

#include <gst/video/video.h>
#include <stdbool.h>

/* A frame is blank when no colour channel varies by more than this standard
 * deviation (on 0-255) over a grid of samples: compression noise on a black
 * frame stays well under it, and text or a dim scene lies far above it. */
#define FRAME_BLANK_MAX_STDDEV 4.0

/* The largest per-channel standard deviation (0-255 scale) over a grid of
 * up to 64 x 64 samples of a mapped frame, of any format GStreamer can
 * unpack. */
double frame_channel_stddev(const GstVideoFrame *frame);
bool frame_is_blank(const GstVideoFrame *frame);

#endif
