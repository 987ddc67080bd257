/* segments: hits merged into moments (see segments.h). */
#include "segments.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

static int by_video_then_time(const void *a, const void *b)
{
    const search_hit *x = a, *y = b;
    if (x->video != y->video)
        return x->video < y->video ? -1 : 1;
    return (x->pts_ns > y->pts_ns) - (x->pts_ns < y->pts_ns);
}

static int by_score(const void *a, const void *b)
{
    const search_segment *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->video != y->video)
        return x->video < y->video ? -1 : 1;
    return (x->start_ns > y->start_ns) - (x->start_ns < y->start_ns);
}

static int64_t frame_end(const search_hit *h)
{
    int64_t end = h->pts_ns + h->interval_ns;
    return h->duration_ns > 0 && end > h->duration_ns ? h->duration_ns : end;
}

/* Hits a and b (in time order) are neighbours in their video's sampling,
 * with room for timestamps that jitter around the sampling instants. */
static bool neighbours(const search_hit *a, const search_hit *b)
{
    return a->video == b->video && 2 * (b->pts_ns - a->pts_ns) <= 3 * b->interval_ns;
}

int merge_hits(search_hit *hits, int n, search_segment *out)
{
    if (n <= 0)
        return 0;
    qsort(hits, (size_t)n, sizeof *hits, by_video_then_time);
    bool *used = calloc((size_t)n, sizeof *used);
    int count = 0;
    for (;;) {
        int seed = -1;
        for (int i = 0; i < n; i++)
            if (!used[i] && (seed < 0 || hits[i].score > hits[seed].score))
                seed = i;
        if (seed < 0)
            break;
        float floor = hits[seed].score - fmaxf(SEGMENT_JOIN_MARGIN * fabsf(hits[seed].score), 1e-3f);
        int first = seed, last = seed;
        used[seed] = true;
        while (first > 0 && !used[first - 1] && hits[first - 1].score >= floor &&
               neighbours(&hits[first - 1], &hits[first]))
            used[--first] = true;
        while (last + 1 < n && !used[last + 1] && hits[last + 1].score >= floor &&
               neighbours(&hits[last], &hits[last + 1]))
            used[++last] = true;
        out[count++] = (search_segment){hits[seed].video, hits[first].pts_ns, frame_end(&hits[last]),
                                        hits[seed].score, last - first + 1};
    }
    free(used);
    qsort(out, (size_t)count, sizeof *out, by_score);
    return count;
}
