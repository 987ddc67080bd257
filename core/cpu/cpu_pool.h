/* cpu_pool: the CPU backend's threads for the ops OpenBLAS does not run
 * (epilogues, LayerNorm, softmax, attention's per-head products,
 * preprocessing). The caller works too, so a pool of N threads starts N - 1.
 * Helpers sleep between jobs rather than spin: on a machine with few cores
 * they would otherwise take turns away from OpenBLAS's own threads. */
#ifndef VKCLIP_CPU_POOL_H
#define VKCLIP_CPU_POOL_H

#include <stdint.h>

#include "util/errbuf.h"

typedef struct cpu_pool cpu_pool;

/* A range of an op's work items, [begin, end). */
typedef void (*cpu_range_fn)(const void *ctx, uint32_t begin, uint32_t end);

/* threads: the caller included, at least 1. */
cpu_pool *cpu_pool_create(int threads, errbuf *err);
void cpu_pool_free(cpu_pool *pool);
int cpu_pool_threads(const cpu_pool *pool);

/* Runs fn over [0, n) in ranges spread across the pool, and returns when all
 * are done. A NULL pool, or one that another caller is using (two encoders
 * on one device), runs the whole range on the calling thread. */
void cpu_pool_for(cpu_pool *pool, uint32_t n, cpu_range_fn fn, const void *ctx);

/* The cores this process may run on (its affinity mask), at least 1. */
int cpu_pool_cores_available(void);

#endif
