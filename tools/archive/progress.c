/* progress: progress bar or periodic lines (see progress.h). */
#include "progress.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 24
#define TERMINAL_REDRAW_SECONDS 0.2

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void progress_start(progress *p, FILE *out, int files_total, int64_t bytes_total)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->terminal = isatty(fileno(out)) == 1;
    p->files_total = files_total;
    p->bytes_total = bytes_total;
    p->start = p->last_draw = now_seconds();
}

static void format_eta(char *buf, size_t cap, double seconds)
{
    if (seconds < 0) {
        snprintf(buf, cap, "--:--");
        return;
    }
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", s / 60, s % 60);
}

static void draw(progress *p, const char *name, int64_t bytes_now, double t)
{
    double elapsed = t - p->start;
    double rate = elapsed > 0 ? (double)p->frames / elapsed : 0.0;
    double done = p->bytes_total > 0 ? (double)bytes_now / (double)p->bytes_total : 0.0;
    double eta = done > 0.001 ? elapsed * (1.0 - done) / done : -1.0;
    char eta_text[32];
    format_eta(eta_text, sizeof eta_text, eta);
    if (p->terminal) {
        char bar[BAR_WIDTH + 1];
        int filled = (int)(done * BAR_WIDTH + 0.5);
        for (int i = 0; i < BAR_WIDTH; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[BAR_WIDTH] = '\0';
        fprintf(p->out, "\r\033[K[%s] files %d/%d  frames %lld  %.1f frames/s  ETA %s  %.40s", bar, p->files_done,
                p->files_total, (long long)p->frames, rate, eta_text, name ? name : "");
        p->drawn = true;
    } else {
        fprintf(p->out, "vkclip: index: files %d/%d, frames %lld, %.1f frames/s, %.0f%% done, ETA %s\n", p->files_done,
                p->files_total, (long long)p->frames, rate, done * 100.0, eta_text);
    }
    fflush(p->out);
    p->last_draw = t;
}

void progress_update(progress *p, const char *name, int64_t file_bytes, double fraction, int64_t frames)
{
    p->frames = frames;
    double t = now_seconds();
    double every = p->terminal ? TERMINAL_REDRAW_SECONDS : PROGRESS_LINE_SECONDS;
    if (t - p->last_draw < every)
        return;
    if (fraction < 0)
        fraction = 0;
    if (fraction > 1)
        fraction = 1;
    draw(p, name, p->bytes_done + (int64_t)((double)file_bytes * fraction), t);
}

void progress_file_done(progress *p, int64_t file_bytes, int64_t frames)
{
    p->files_done++;
    p->bytes_done += file_bytes;
    p->frames = frames;
}

void progress_clear(progress *p)
{
    if (p->terminal && p->drawn) {
        fputs("\r\033[K", p->out);
        fflush(p->out);
        p->drawn = false;
    }
}

void progress_finish(progress *p)
{
    if (p->terminal) {
        draw(p, NULL, p->bytes_done, now_seconds());
        fputc('\n', p->out);
        p->drawn = false;
    }
}
