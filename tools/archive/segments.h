/* segments: search hits (single sampled frames) merged into moments. The
 * best hit not yet in a moment starts one, which grows over the hits next
 * to it in its video's sampling (at most 1.5 sampling intervals apart)
 * while they score within SEGMENT_JOIN_MARGIN of it (relative): a scene
 * that matches throughout becomes one moment, and a lesser match beside it
 * stays a moment of its own. A moment reaches from its first frame to one
 * interval past its last and scores as its best frame. */
#ifndef VKCLIP_SEGMENTS_H
#define VKCLIP_SEGMENTS_H

#include <stdint.h>

#define SEGMENT_JOIN_MARGIN 0.25f

typedef struct search_hit {
    int64_t video;
    int64_t pts_ns;
    float score;
    int64_t interval_ns; /* the video's sampling interval */
    int64_t duration_ns; /* the video's duration; -1 unknown */
} search_hit;

typedef struct search_segment {
    int64_t video;
    int64_t start_ns, end_ns;
    float score;
    int frames;
} search_segment;

/* Merges n hits (reordered in place) into out (room for n); returns how
 * many segments, best score first (ties: video, then start). */
int merge_hits(search_hit *hits, int n, search_segment *out);

#endif
