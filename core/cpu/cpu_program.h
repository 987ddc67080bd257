/* cpu_program: what a recorded sequence is on the CPU backend: a list of
 * steps (a function and a copy of its arguments), run in order on the
 * calling thread. Recorded once per batch size and replayed, like a Vulkan
 * command buffer. */
#ifndef VKCLIP_CPU_PROGRAM_H
#define VKCLIP_CPU_PROGRAM_H

#include <stdbool.h>
#include <stddef.h>

#include "cpu/cpu_pool.h"

/* A step's arguments, and the threads it may spread its work over. */
typedef void (*cpu_step_fn)(const void *args, cpu_pool *pool);

typedef struct cpu_step {
    cpu_step_fn run;
    const char *name; /* the kind of step, for VKCLIP_PROFILE=1 */
    size_t args_at;   /* offset of its arguments in the program's argument block */
} cpu_step;

typedef struct cpu_program {
    cpu_step *steps;
    int count, capacity;
    unsigned char *args;
    size_t args_used, args_capacity;
    double *ms;   /* VKCLIP_PROFILE=1: each step's time in the last run, else NULL */
    bool profile;
    bool failed;  /* an add ran out of memory: the program is incomplete */
    cpu_pool *pool; /* the device's threads (not owned) */
} cpu_program;

void cpu_program_init(cpu_program *p, cpu_pool *pool);
/* Appends a step with a copy of `size` bytes of args; false (and failed
 * set) when out of memory. */
bool cpu_program_add(cpu_program *p, const char *name, cpu_step_fn run, const void *args, size_t size);
void cpu_program_clear(cpu_program *p); /* forgets the steps, keeps the memory */
void cpu_program_run(cpu_program *p);
void cpu_program_free(cpu_program *p);
/* With VKCLIP_PROFILE=1, prints the last run's time per kind of step to stderr. */
void cpu_program_print_profile(const cpu_program *p);

#endif
