/* test_cpu_pool: the CPU backend's thread pool hands every index of a range
 * to exactly one call, whatever the range's size against the thread count;
 * runs the work on more than one thread; and two callers sharing one pool
 * (two encoders on one device) both finish with their whole range done.
 * A forked child (a GStreamer app that forks, a test harness) has none of the
 * helper threads: its jobs run on the caller and freeing the pool returns. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../check.h"
#include "cpu/cpu_pool.h"

#define MAX_N 100000

typedef struct tally {
    atomic_int seen[MAX_N];
    atomic_int calls;
    pthread_t threads[64];
    atomic_int thread_count;
} tally;

static void count(const void *ctx, uint32_t begin, uint32_t end)
{
    tally *t = (tally *)ctx;
    atomic_fetch_add(&t->calls, 1);
    for (uint32_t i = begin; i < end; i++)
        atomic_fetch_add(&t->seen[i], 1);
    /* Note the threads that took part (a few; no need to be clever). */
    pthread_t self = pthread_self();
    int n = atomic_load(&t->thread_count);
    for (int i = 0; i < n; i++)
        if (pthread_equal(t->threads[i], self))
            return;
    int at = atomic_fetch_add(&t->thread_count, 1);
    if (at < 64)
        t->threads[at] = self;
}

static tally tallies[2];

/* Every index of [0, n) exactly once; the number of threads that took part. */
static int check_once(cpu_pool *pool, uint32_t n, tally *t, const char *what)
{
    memset(t, 0, sizeof *t);
    cpu_pool_for(pool, n, count, t);
    int wrong = 0;
    for (uint32_t i = 0; i < n; i++)
        wrong += atomic_load(&t->seen[i]) != 1;
    CHECKF(wrong == 0, "%s, n = %u: %d indices not seen exactly once", what, n, wrong);
    CHECKF(n == 0 || atomic_load(&t->calls) >= 1, "%s, n = %u: no call", what, n);
    return atomic_load(&t->thread_count);
}

/* In a child forked from a process whose pool has helpers, a job covers its
 * range on the child's one thread and the pool frees without waiting for
 * threads that are not there. An alarm turns a hang into a failure. */
static void check_fork(cpu_pool *pool)
{
    check_once(pool, 4096, &tallies[0], "before the fork");
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        alarm(30);
        int threads = check_once(pool, 4096, &tallies[0], "in a forked child");
        CHECKF(threads == 1, "the child's job ran on %d threads", threads);
        cpu_pool_free(pool);
        _exit(check_failures ? 1 : 0);
    }
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child);
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "the forked child failed or hung (status %#x)", (unsigned)status);
}

typedef struct caller {
    cpu_pool *pool;
    tally *t;
    uint32_t n;
    int rounds;
} caller;

static void *call_repeatedly(void *arg)
{
    caller *c = arg;
    for (int r = 0; r < c->rounds; r++)
        check_once(c->pool, c->n, c->t, "two callers on one pool");
    return NULL;
}

int main(void)
{
    errbuf e = {{0}};
    cpu_pool *pool = cpu_pool_create(3, &e);
    CHECKF(pool, "cpu_pool_create: %s", e.msg);
    if (!pool)
        return check_exit();
    CHECK(cpu_pool_threads(pool) == 3);
    const uint32_t sizes[] = {0, 1, 2, 3, 11, 12, 13, 50, 197, 4096, MAX_N};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        check_once(pool, sizes[i], &tallies[0], "one caller, three threads");
    /* Over many rounds the helpers must have joined in at least once (they
     * may be slow to wake on a busy machine, so no single round has to show it). */
    int most = 0;
    for (int r = 0; r < 200 && most < 2; r++) {
        int n = check_once(pool, MAX_N, &tallies[0], "one caller, three threads");
        most = n > most ? n : most;
    }
    CHECKF(most >= 2, "the work never ran on more than one thread (%d)", most);

    check_fork(pool);

    pthread_t other;
    caller a = {pool, &tallies[0], 5000, 300}, b = {pool, &tallies[1], 777, 300};
    CHECK(pthread_create(&other, NULL, call_repeatedly, &b) == 0);
    call_repeatedly(&a);
    pthread_join(other, NULL);
    cpu_pool_free(pool);

    cpu_pool *single = cpu_pool_create(1, &e);
    CHECK(single && cpu_pool_threads(single) == 1);
    CHECK(check_once(single, 1000, &tallies[0], "a pool of one thread") == 1);
    cpu_pool_free(single);
    check_once(NULL, 1000, &tallies[0], "no pool");
    CHECK(cpu_pool_cores_available() >= 1);
    printf("cpu_pool: ranges covered once; helpers took part; two callers shared a pool; a forked child ran alone\n");
    return check_exit();
}
