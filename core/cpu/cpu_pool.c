#define _GNU_SOURCE /* sched_getaffinity */
#include "cpu/cpu_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct cpu_pool {
    int threads, helpers_started;
    pid_t owner;            /* a forked child has no helpers: it runs alone */
    pthread_t *helpers;
    pthread_mutex_t in_use; /* held by the cpu_pool_for in progress */
    pthread_mutex_t lock;   /* guards what follows, but next_chunk */
    pthread_cond_t wake, idle;
    atomic_ulong job;       /* counts the jobs handed out; written under lock, peeked at while spinning */
    bool open;              /* the current job still takes helpers */
    int active;             /* helpers working on it */
    bool stop;
    cpu_range_fn fn;
    const void *ctx;
    uint32_t n, chunk, chunks;
    atomic_uint next_chunk;
};

/* Takes chunks of the current job until none is left. */
static void work(cpu_pool *p)
{
    for (;;) {
        uint32_t c = atomic_fetch_add(&p->next_chunk, 1);
        if (c >= p->chunks)
            return;
        uint32_t begin = c * p->chunk, end = begin + p->chunk;
        p->fn(p->ctx, begin, end < p->n ? end : p->n);
    }
}

/* How long a helper that has finished a job watches for the next before it
 * sleeps: a forward pass hands out a job every few tens of microseconds, and
 * waking a sleeping thread costs about as much. It yields while it watches,
 * so other work on its core (a decoder) still runs; an idle pool sleeps after
 * this. 200 us measured 5% faster than sleeping at once on ViT-B/32 at batch
 * 1 (2 cores); OpenBLAS's workers, which spun far longer, were slower. */
#define SPIN_NS 200000u

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void watch_for_job(cpu_pool *p, unsigned long seen)
{
    uint64_t until = now_ns() + SPIN_NS;
    while (atomic_load_explicit(&p->job, memory_order_relaxed) == seen && now_ns() < until)
        sched_yield();
}

static void *helper(void *arg)
{
    cpu_pool *p = arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        if (p->job == seen && !p->stop) {
            pthread_mutex_unlock(&p->lock);
            watch_for_job(p, seen);
            pthread_mutex_lock(&p->lock);
        }
        /* A helper that wakes after the caller has finished alone sleeps on:
         * the caller waits only for the helpers that joined. */
        while (!p->stop && (p->job == seen || !p->open))
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->stop)
            break;
        seen = p->job;
        p->active++;
        pthread_mutex_unlock(&p->lock);
        work(p);
        pthread_mutex_lock(&p->lock);
        if (--p->active == 0)
            pthread_cond_signal(&p->idle);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

cpu_pool *cpu_pool_create(int threads, errbuf *err)
{
    cpu_pool *p = calloc(1, sizeof *p);
    if (!p || (threads > 1 && !(p->helpers = calloc((size_t)threads - 1, sizeof *p->helpers)))) {
        free(p);
        errbuf_set(err, "out of memory");
        return NULL;
    }
    p->threads = threads < 1 ? 1 : threads;
    p->owner = getpid();
    pthread_mutex_init(&p->in_use, NULL);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->idle, NULL);
    atomic_init(&p->next_chunk, 0u);
    atomic_init(&p->job, 0ul);
    for (int i = 0; i < p->threads - 1; i++) {
        if (pthread_create(&p->helpers[i], NULL, helper, p) != 0)
            break; /* fewer helpers: slower, not wrong */
        p->helpers_started++;
    }
    return p;
}

void cpu_pool_free(cpu_pool *p)
{
    if (!p)
        return;
    if (getpid() != p->owner) {
        /* The helpers live only in the parent, and its locks may have been
         * held at the fork: free the memory, touch nothing else. */
        free(p->helpers);
        free(p);
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->helpers_started; i++)
        pthread_join(p->helpers[i], NULL);
    pthread_cond_destroy(&p->idle);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->in_use);
    free(p->helpers);
    free(p);
}

int cpu_pool_threads(const cpu_pool *p)
{
    return p ? p->helpers_started + 1 : 1;
}

void cpu_pool_for(cpu_pool *p, uint32_t n, cpu_range_fn fn, const void *ctx)
{
    if (n == 0)
        return;
    if (!p || p->helpers_started == 0 || n == 1 || getpid() != p->owner ||
        pthread_mutex_trylock(&p->in_use) != 0) {
        fn(ctx, 0, n);
        return;
    }
    /* A few chunks per thread, handed out as threads come free: a core that
     * is busy elsewhere (OpenBLAS's threads, another encoder) takes fewer. */
    uint32_t want = (uint32_t)cpu_pool_threads(p) * 4;
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->chunk = (n + want - 1) / want;
    p->chunks = (n + p->chunk - 1) / p->chunk;
    atomic_store(&p->next_chunk, 0u);
    p->job++;
    p->open = true;
    /* Wake only as many helpers as there are chunks beyond the caller's
     * first: a small job need not rouse a large pool. A helper left asleep
     * joins a later job as usual. */
    if (p->chunks - 1 >= (uint32_t)p->helpers_started)
        pthread_cond_broadcast(&p->wake);
    else
        for (uint32_t i = 0; i + 1 < p->chunks; i++)
            pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    work(p);
    pthread_mutex_lock(&p->lock);
    p->open = false;
    while (p->active > 0)
        pthread_cond_wait(&p->idle, &p->lock);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&p->in_use);
}

int cpu_pool_cores_available(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    return 1;
}
