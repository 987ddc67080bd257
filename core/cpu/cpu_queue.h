/* cpu_queue: the CPU backend's stand-in for a device queue. One thread runs
 * the jobs submitted to it in order, so that a caller (an element's
 * streaming thread) never computes a forward pass itself: submitting
 * returns at once and waiting is on the job, as on a fence. */
#ifndef VKCLIP_CPU_QUEUE_H
#define VKCLIP_CPU_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu_program.h"
#include "util/errbuf.h"

#define CPU_QUEUE_JOBS 16

typedef struct cpu_job {
    cpu_program *programs[2]; /* run in this order */
    int count;
    bool done; /* under the queue's lock */
} cpu_job;

typedef struct cpu_queue {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a job was queued, finished, or stop was asked */
    cpu_job *jobs[CPU_QUEUE_JOBS];
    int head, count;
    bool stop, started;
} cpu_queue;

bool cpu_queue_start(cpu_queue *q, errbuf *err);
/* Queues job (at most CPU_QUEUE_JOBS at a time); false when full. */
bool cpu_queue_push(cpu_queue *q, cpu_job *job);
/* Whether job is done, waiting up to timeout_ns for it (0: just look;
 * UINT64_MAX: until it is). */
bool cpu_queue_wait(cpu_queue *q, cpu_job *job, uint64_t timeout_ns);
/* Finishes the queued jobs, then ends the thread. */
void cpu_queue_stop(cpu_queue *q);

#endif
