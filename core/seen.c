/* seen.c -- see seen.h.
 *
 * An open-addressing table of 64-bit hashes, linear probing, at most half
 * full (it doubles beyond), 0 marking an empty slot.  A read-write lock lets
 * the workers ask together while the writer adds.  A table that could not
 * grow, or that another writer has made stale, is "broken": it then answers
 * "may have" for every id.
 */
#include "seen.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

struct seen {
    pthread_rwlock_t lock;
    uint64_t *slots;
    size_t cap, count;   /* cap: a power of two */
    int broken;
};

/* FNV-1a; 0 is the empty slot, so it becomes 1. */
uint64_t seen_hash(const char *id)
{
    uint64_t h = 1469598103934665603u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    return h ? h : 1;
}

/* Put H in SLOTS (CAP of them), unless there.  1 when added.  */
static int seen_put(uint64_t *slots, size_t cap, uint64_t h)
{
    for (size_t i = (size_t)h & (cap - 1);; i = (i + 1) & (cap - 1)) {
        if (slots[i] == h)
            return 0;
        if (slots[i] == 0) {
            slots[i] = h;
            return 1;
        }
    }
}

seen *seen_new(void)
{
    seen *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cap = 1024;
    s->slots = calloc(s->cap, sizeof *s->slots);
    if (!s->slots || pthread_rwlock_init(&s->lock, NULL) != 0) {
        free(s->slots);
        free(s);
        return NULL;
    }
    return s;
}

/* Under the write lock. */
static int seen_add_locked(seen *s, uint64_t h)
{
    if (s->broken)
        return -1;
    if (2 * (s->count + 1) > s->cap) {
        size_t cap = 2 * s->cap;
        uint64_t *slots = calloc(cap, sizeof *slots);
        if (!slots) {
            s->broken = 1;
            return -1;
        }
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i])
                seen_put(slots, cap, s->slots[i]);
        free(s->slots);
        s->slots = slots;
        s->cap = cap;
    }
    s->count += (size_t)seen_put(s->slots, s->cap, h);
    return 0;
}

int seen_add(seen *s, const char *const *ids, size_t n)
{
    int rc = 0;
    pthread_rwlock_wrlock(&s->lock);
    for (size_t i = 0; i < n; i++)
        if (ids[i])
            rc |= seen_add_locked(s, seen_hash(ids[i]));
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

static int seen_load_one(void *ud, const char *id)
{
    seen_add(ud, &id, 1);   /* a failure breaks the set, which stays right */
    return 0;
}

int seen_load(seen *s, store *st, err *e)
{
    return store_each_applicant(st, seen_load_one, s, e) == 0 ? 0 : -1;
}

int seen_may_have(seen *s, const char *id)
{
    uint64_t h = seen_hash(id);
    pthread_rwlock_rdlock(&s->lock);
    int found = s->broken;
    for (size_t i = (size_t)h & (s->cap - 1); !found && s->slots[i]; i = (i + 1) & (s->cap - 1))
        found = s->slots[i] == h;
    pthread_rwlock_unlock(&s->lock);
    return found;
}

void seen_forget(seen *s)
{
    pthread_rwlock_wrlock(&s->lock);
    s->broken = 1;
    pthread_rwlock_unlock(&s->lock);
}

size_t seen_count(seen *s)
{
    pthread_rwlock_rdlock(&s->lock);
    size_t n = s->count;
    pthread_rwlock_unlock(&s->lock);
    return n;
}

void seen_free(seen *s)
{
    if (!s)
        return;
    pthread_rwlock_destroy(&s->lock);
    free(s->slots);
    free(s);
}
