#include "cpu/cpu_program.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ARGS_ALIGN 16

void cpu_program_init(cpu_program *p, cpu_pool *pool)
{
    memset(p, 0, sizeof *p);
    p->pool = pool;
    const char *profile = getenv("VKCLIP_PROFILE");
    p->profile = profile && *profile && strcmp(profile, "0") != 0;
}

static bool grow(void **buf, size_t *capacity, size_t needed, size_t unit)
{
    if (needed <= *capacity)
        return true;
    size_t cap = *capacity ? *capacity : 64;
    while (cap < needed)
        cap *= 2;
    void *b = realloc(*buf, cap * unit);
    if (!b)
        return false;
    *buf = b;
    *capacity = cap;
    return true;
}

bool cpu_program_add(cpu_program *p, const char *name, cpu_step_fn run, const void *args, size_t size)
{
    size_t at = (p->args_used + ARGS_ALIGN - 1) / ARGS_ALIGN * ARGS_ALIGN;
    size_t step_capacity = (size_t)p->capacity;
    if (!grow((void **)&p->args, &p->args_capacity, at + size, 1) ||
        !grow((void **)&p->steps, &step_capacity, (size_t)p->count + 1, sizeof *p->steps)) {
        p->failed = true;
        return false;
    }
    p->capacity = (int)step_capacity;
    memcpy(p->args + at, args, size);
    p->args_used = at + size;
    p->steps[p->count++] = (cpu_step){.run = run, .name = name, .args_at = at};
    free(p->ms); /* sized again on the next run */
    p->ms = NULL;
    return true;
}

void cpu_program_clear(cpu_program *p)
{
    p->count = 0;
    p->args_used = 0;
    p->failed = false;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

void cpu_program_run(cpu_program *p)
{
    if (p->profile && !p->ms)
        p->ms = calloc((size_t)p->count + 1, sizeof *p->ms);
    for (int i = 0; i < p->count; i++) {
        double t0 = p->ms ? now_ms() : 0;
        p->steps[i].run(p->args + p->steps[i].args_at, p->pool);
        if (p->ms)
            p->ms[i] = now_ms() - t0;
    }
}

void cpu_program_free(cpu_program *p)
{
    free(p->steps);
    free(p->args);
    free(p->ms);
    memset(p, 0, sizeof *p);
}

void cpu_program_print_profile(const cpu_program *p)
{
    if (!p->ms || p->count == 0)
        return;
    const char *names[64];
    double ms[64], total = 0;
    int counts[64], kinds = 0;
    for (int i = 0; i < p->count; i++) {
        int k = 0;
        while (k < kinds && strcmp(names[k], p->steps[i].name) != 0)
            k++;
        if (k == kinds && kinds < 64) {
            names[kinds] = p->steps[i].name;
            ms[kinds] = 0;
            counts[kinds++] = 0;
        }
        if (k < kinds) {
            ms[k] += p->ms[i];
            counts[k]++;
        }
        total += p->ms[i];
    }
    fprintf(stderr, "profile: %d CPU steps, %.2f ms\n", p->count, total);
    for (int k = 0; k < kinds; k++)
        fprintf(stderr, "  %-40s %5d x %9.3f ms  %5.1f%%\n", names[k], counts[k], ms[k],
                total > 0 ? 100.0 * ms[k] / total : 0.0);
}
