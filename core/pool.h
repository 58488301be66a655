/*
 * pool.h -- the worker threads that run the engine.
 *
 * Each worker owns one engine (one sandboxed lua_State) built from the
 * pool's current rule set, and one read-only store handle for the requests
 * answered from the database (decision, history, health).  A worker takes a
 * job, lets engine_request parse and carry it out, and then either hands it
 * to the writer (decide, screen, review: the reply waits for the commit) or
 * builds the reply itself and hands the job to the DONE callback.
 *
 * Hot reload: pool_build makes an engine for each worker from the new rule
 * set, off the serving threads (the reload's); pool_swap installs the set
 * and those engines, and bumps a generation counter; each worker, before it
 * takes its next job (or as soon as it is idle), sees the new generation
 * and takes its engine.  A job already being evaluated finishes on the old
 * engine.  So a reload makes no worker stop serving to build one, and one
 * reported applied is what every worker serves.
 */
#ifndef ELIGO_POOL_H
#define ELIGO_POOL_H

#include <stddef.h>

#include "buf.h"
#include "engine.h"
#include "err.h"
#include "job.h"
#include "past.h"
#include "ruleset.h"
#include "seen.h"
#include "writer.h"

typedef struct pool pool;

/* Earlier decisions a history-aware rule may see: the most recent ones. */
#define POOL_HISTORY_ROWS 200

enum { POOL_HELD_MINE = 1, POOL_HELD_ALL = 2 };

typedef struct pool_config {
    size_t workers;            /* threads; 0 means the number of cores */
    const char *db_path;       /* database the read-only handles open */
    engine_config engine;      /* limits for every engine */
    writer *writer;            /* where decided applications go */
    seen *seen;                /* applicants with a decision; NULL: ask the store always */
    past *past;                /* their earlier decisions kept; NULL: read them always */
    /* Called on a worker thread with each job whose reply is built;
     * ownership passes to the callee. */
    void (*done)(void *ud, job *j);
    /* Called on a worker thread while building a health reply: appends
     * ,"name":value members describing the caller's side (may be NULL). */
    void (*health)(void *ud, buf *out);
    /* Whether a decision or history request, whose reply has no size
     * known in advance, is to be answered overloaded, as clients leave
     * replies unread (may be NULL): 0, or POOL_HELD_MINE (its own client
     * leaves *HELD bytes unread) or POOL_HELD_ALL (all clients together
     * leave *HELD bytes). */
    int (*refuse_big)(void *ud, const job *j, size_t *held);
    /* Called on a worker thread once such a reply is built, before the
     * job is done: the reply counts as unread from then on (may be NULL). */
    void (*built_big)(void *ud, job *j);
    void *ud;
} pool_config;

/* Start CFG->workers threads, each building an engine from RS (the pool
 * takes its own reference).  Returns 0 and *OUT, or -1 with E. */
int pool_new(pool **out, ruleset *rs, const pool_config *cfg, err *e);

/* Queue J for a worker.  Never blocks and never fails: the caller bounds how
 * many jobs are in flight.  Any thread. */
void pool_submit(pool *p, job *j);

/* An engine of RS for each worker, built on the calling thread: an array
 * for pool_swap, or NULL with E when one cannot be built (out of memory, or
 * over a limit on a busy machine: the caller may try again). */
engine **pool_build(pool *p, ruleset *rs, err *e);

/* Free what pool_build returned, when it is not swapped in.  NULL is fine. */
void pool_built_free(pool *p, engine **built);

/* Make RS the rule set every worker uses from its next job on, with the
 * engines BUILT (pool_build's, which the pool takes; the pool takes its own
 * reference to RS; the old set is dropped once no engine uses it). */
void pool_swap(pool *p, ruleset *rs, engine **built);

/* The current rule set, with a new reference the caller drops. */
ruleset *pool_ruleset(pool *p);

/* ruleset_programmes of the current rule set, without a lock.  Any thread. */
size_t pool_programmes(pool *p);

/* Jobs queued and not yet taken by a worker. */
size_t pool_depth(pool *p);

/* Number of worker threads. */
size_t pool_size(const pool *p);

/* Finish the queued jobs, stop the threads, free engines and read handles,
 * free P.  NULL is fine. */
void pool_free(pool *p);

#endif
