#include "cpu/cpu_queue.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static void *worker(void *user)
{
    cpu_queue *q = user;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (q->count == 0 && !q->stop)
            pthread_cond_wait(&q->changed, &q->lock);
        if (q->count == 0)
            break; /* stopping, nothing left */
        cpu_job *job = q->jobs[q->head];
        pthread_mutex_unlock(&q->lock);
        for (int i = 0; i < job->count; i++)
            cpu_program_run(job->programs[i]);
        pthread_mutex_lock(&q->lock);
        job->done = true;
        q->head = (q->head + 1) % CPU_QUEUE_JOBS;
        q->count--;
        pthread_cond_broadcast(&q->changed);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

bool cpu_queue_start(cpu_queue *q, errbuf *err)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->changed, NULL);
    if (pthread_create(&q->thread, NULL, worker, q) != 0) {
        pthread_cond_destroy(&q->changed);
        pthread_mutex_destroy(&q->lock);
        return errbuf_set(err, "cannot start the CPU backend's thread");
    }
    q->started = true;
    return true;
}

bool cpu_queue_push(cpu_queue *q, cpu_job *job)
{
    pthread_mutex_lock(&q->lock);
    bool ok = q->count < CPU_QUEUE_JOBS;
    if (ok) {
        job->done = false;
        q->jobs[(q->head + q->count) % CPU_QUEUE_JOBS] = job;
        q->count++;
        pthread_cond_broadcast(&q->changed);
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

bool cpu_queue_wait(cpu_queue *q, cpu_job *job, uint64_t timeout_ns)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    uint64_t ns = (uint64_t)until.tv_nsec + (timeout_ns > 1000000000ull * 86400 ? 1000000000ull * 86400 : timeout_ns);
    until.tv_sec += (time_t)(ns / 1000000000ull);
    until.tv_nsec = (long)(ns % 1000000000ull);
    pthread_mutex_lock(&q->lock);
    while (!job->done && timeout_ns == UINT64_MAX)
        pthread_cond_wait(&q->changed, &q->lock);
    while (!job->done && timeout_ns > 0)
        if (pthread_cond_timedwait(&q->changed, &q->lock, &until) == ETIMEDOUT)
            break;
    bool done = job->done;
    pthread_mutex_unlock(&q->lock);
    return done;
}

void cpu_queue_stop(cpu_queue *q)
{
    if (!q->started)
        return;
    pthread_mutex_lock(&q->lock);
    q->stop = true;
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->lock);
    pthread_join(q->thread, NULL);
    pthread_cond_destroy(&q->changed);
    pthread_mutex_destroy(&q->lock);
    q->started = false;
}
