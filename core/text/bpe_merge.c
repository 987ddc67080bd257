#include "text/bpe_merge.h"

#include <stdlib.h>

typedef struct candidate {
    int32_t rank;
    int32_t pos; /* index of the left symbol; symbols keep their index */
    int32_t left, right;
} candidate;

typedef struct heap {
    candidate *items;
    int count;
} heap;

static bool comes_before(const candidate *a, const candidate *b)
{
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(heap *h, candidate c)
{
    int i = h->count++;
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!comes_before(&c, &h->items[parent]))
            break;
        h->items[i] = h->items[parent];
        i = parent;
    }
    h->items[i] = c;
}

static candidate heap_pop(heap *h)
{
    candidate top = h->items[0];
    candidate last = h->items[--h->count];
    int i = 0;
    for (;;) {
        int child = 2 * i + 1;
        if (child >= h->count)
            break;
        if (child + 1 < h->count && comes_before(&h->items[child + 1], &h->items[child]))
            child++;
        if (!comes_before(&h->items[child], &last))
            break;
        h->items[i] = h->items[child];
        i = child;
    }
    if (h->count > 0)
        h->items[i] = last;
    return top;
}

/* Working state: a linked list over the symbol slots (merged-away slots are
 * unlinked) and the heap. Each merge adds at most two candidates, so the
 * heap never holds more than 3n. */
typedef struct word {
    int32_t *id;
    int32_t *next; /* -1 at the end */
    int32_t *prev; /* -1 at the start */
    bool *alive;
} word;

static void push_pair(heap *h, const pair_map *merges, const word *w, int32_t pos)
{
    if (pos < 0 || w->next[pos] < 0)
        return;
    int32_t left = w->id[pos], right = w->id[w->next[pos]];
    const merge_rule *rule = pair_map_get(merges, left, right);
    if (rule)
        heap_push(h, (candidate){rule->rank, pos, left, right});
}

static bool still_adjacent(const word *w, const candidate *c)
{
    int32_t p = c->pos;
    return w->alive[p] && w->id[p] == c->left && w->next[p] >= 0 && w->id[w->next[p]] == c->right;
}

int bpe_merge_symbols(const pair_map *merges, int32_t *ids, int n)
{
    if (n < 2)
        return n;
    /* One block: heap and batch (3n candidates each), next, prev, alive. */
    size_t un = (size_t)n;
    candidate *block = malloc(6 * un * sizeof(candidate) + un * (2 * sizeof(int32_t) + sizeof(bool)));
    if (!block)
        return -1;
    heap h = {block, 0};
    candidate *batch = block + 3 * un;
    word w;
    w.id = ids;
    w.next = (int32_t *)(batch + 3 * un);
    w.prev = w.next + un;
    w.alive = (bool *)(w.prev + un);
    for (int i = 0; i < n; i++) {
        w.next[i] = i + 1 < n ? i + 1 : -1;
        w.prev[i] = i - 1;
        w.alive[i] = true;
    }
    for (int i = 0; i + 1 < n; i++)
        push_pair(&h, merges, &w, i);

    while (h.count > 0) {
        /* One pass: every candidate of the lowest rank, in position order. */
        int32_t rank = h.items[0].rank;
        int batch_count = 0;
        while (h.count > 0 && h.items[0].rank == rank)
            batch[batch_count++] = heap_pop(&h);
        for (int k = 0; k < batch_count; k++) {
            const candidate *c = &batch[k];
            if (!still_adjacent(&w, c))
                continue;
            const merge_rule *rule = pair_map_get(merges, c->left, c->right);
            int32_t p = c->pos, q = w.next[p];
            w.id[p] = rule->result;
            w.alive[q] = false;
            w.next[p] = w.next[q];
            if (w.next[q] >= 0)
                w.prev[w.next[q]] = p;
            push_pair(&h, merges, &w, w.prev[p]);
            push_pair(&h, merges, &w, p);
        }
    }

    int count = 0;
    for (int32_t p = 0; p >= 0; p = w.next[p])
        ids[count++] = w.id[p];
    free(block);
    return count;
}
