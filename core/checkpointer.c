/*
 * checkpointer.c -- checkpoints of the write-ahead log, on a thread of their
 * own.
 *
 * Design notes.
 *
 * The writer's handle reports the size of its log after each commit
 * (checkpointer_report, on the writer's thread, through store_wal_watch).
 * Once the log has grown by CHECKPOINTER_PAGES pages since the last
 * checkpoint began, the report marks one due and wakes the thread, which runs
 * a passive checkpoint on its own handle (store_checkpoint): it waits for
 * nobody, and the writer goes on committing beside it, as WAL mode allows.
 * Waiting for that growth, rather than checkpointing whenever the log is
 * large, lets a page that many commits rewrite (an index's last leaf) be
 * copied once for all of them.  In the last CHECKPOINTER_PAGES before the
 * limit (below), any growth makes a checkpoint due.
 *
 * States of the thread (checkpointer_loop):
 *   IDLE      nothing due; sleeps on `wake`.
 *   COPYING   clears `due`, notes where the log stands (`begun`) and runs one
 *             passive checkpoint, without the lock.  Commits meanwhile may
 *             make another due: it then runs again.
 *   STOPPED   `quit` is set (checkpointer_free): it returns, after finishing
 *             the checkpoint it may have been running.
 *
 * Keeping the log bounded.  The log starts again from its beginning only
 * when a transaction begins and finds every page of it copied, and no reader
 * still reading it.  Beside a busy writer the thread rarely leaves things so:
 * by the time it has copied what was there, the writer has appended more.  So
 * under steady load the log grows, and at CHECKPOINTER_LIMIT pages the writer
 * does what SQLite did all along: a passive checkpoint itself, right after its
 * commit (the report returns non-zero).  Meanwhile the thread starts no new
 * checkpoint, so the writer does not find the checkpoint lock taken.  Near
 * the limit the thread has been copying after every commit, so the writer
 * finds only the last commit or two left to copy, and its next transaction
 * starts the log again.  (Waiting for CHECKPOINTER_PAGES of growth right up
 * to the limit left the writer up to that much to copy: on a database of a
 * million decisions, the p99 latency of decide was a fifth higher.)
 *
 * Why the writer's checkpoint is passive and not RESTART, which would force
 * the restart: RESTART waits, up to the busy timeout (10 s), for every reader
 * to leave the log, so a long reader (`eligo verify` on a live database)
 * would stall the writer that long at every commit past the limit.  With
 * passive such a reader only makes the log grow for as long as it reads, as
 * it always did, and no commit waits for it.
 *
 * Shutdown.  checkpointer_free stops the thread and closes its handle before
 * the server closes the writer's; that close, the last on the file,
 * checkpoints whatever is left and deletes the log.
 *
 * Invariants (checkpointer_check, debug builds, under the lock):
 *   1. begun <= pages: both count pages of the same log (a report that finds
 *      the log smaller than before, started again, resets begun).
 *   2. `due` is set only while the log has grown since the last checkpoint
 *      began and is below CHECKPOINTER_LIMIT (checkpointer_report says
 *      how much growth it takes).
 *   3. `own` is used by the thread alone from checkpointer_new to the join in
 *      checkpointer_free; `watched` by the writer's thread alone.
 */
#include "checkpointer.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>

#include "log.h"

/* Growth of the log, in pages, that makes a checkpoint due: 800 KiB.
 * While a checkpoint writes and syncs the database file, the writer's
 * commits beside it slow down, so the commit-latency tail follows the size
 * of a checkpoint.  Measured with `eligo bench -c 16 -P 32 --rate 25000`
 * on a fresh database, the p99 of health's commit stage: 1000 pages
 * (SQLite's own default) 7.1 and 14.0 ms, 250 pages 4.9 and 6.3, 100 pages
 * 5.5, 50 pages 5.8, 4000 pages 68 and 72; of its whole-request time: 100
 * pages 5.5 and 6.0 ms, 1000 pages 12.1 and 13.4.  Full load lost nothing
 * to the extra copying: 100 pages gave
 * 41,857 and 42,161 decisions/s against 42,206 and 41,335 for 1000, with
 * a p99 of 19 ms against 27. */
#define CHECKPOINTER_PAGES 100

/* Pages past which the writer checkpoints itself: 64 MiB of eligo's 8 KiB
 * pages, which is also the size the log file is cut back to when it starts
 * again (PRAGMA journal_size_limit in store.c). */
#define CHECKPOINTER_LIMIT 8192

struct checkpointer {
    store *watched;            /* the writer's handle */
    store *own;                /* the thread's */

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;       /* `due` or `quit` was set */
    long pages;                /* in the log, as of the last commit */
    long begun;                /* `pages` when the last checkpoint began; 0 once the
                                  log has started again */
    int due;
    int quit;
    long logged;               /* pages the commits appended to the log */
    long background;           /* checkpoints by the thread */
    long writer;               /* ... and by the writer */
};

#ifndef NDEBUG
static void checkpointer_check(const checkpointer *c)
{
    assert(c->begun <= c->pages);                                            /* 1 */
    assert(!c->due || (c->begun < c->pages && c->pages < CHECKPOINTER_LIMIT)); /* 2 */
}
#else
#define checkpointer_check(c) ((void)0)
#endif

/* After each commit on the writer's handle, on the writer's thread. */
static int checkpointer_report(void *ud, long pages)
{
    checkpointer *c = ud;
    pthread_mutex_lock(&c->mu);
    if (pages < c->pages)   /* the log started again */
        c->begun = 0;
    c->logged += pages < c->pages ? pages : pages - c->pages;
    c->pages = pages;
    long grown = pages - c->begun;
    int near = pages >= CHECKPOINTER_LIMIT - CHECKPOINTER_PAGES;
    c->due = pages < CHECKPOINTER_LIMIT && (grown >= CHECKPOINTER_PAGES || (near && grown > 0));
    int itself = pages >= CHECKPOINTER_LIMIT;
    if (c->due)
        pthread_cond_signal(&c->wake);
    if (itself)
        c->writer++;
    checkpointer_check(c);
    pthread_mutex_unlock(&c->mu);
    return itself;
}

static void *checkpointer_loop(void *arg)
{
    checkpointer *c = arg;
    int failing = 0;
    log_thread_name("checkpointer");
    pthread_mutex_lock(&c->mu);
    for (;;) {
        checkpointer_check(c);
        if (c->quit)
            break;
        if (!c->due) {
            pthread_cond_wait(&c->wake, &c->mu);
            continue;
        }
        c->due = 0;
        c->begun = c->pages;
        pthread_mutex_unlock(&c->mu);
        err e;
        err_clear(&e);
        int rc = store_checkpoint(c->own, NULL, NULL, &e);
        if (rc < 0 && !failing)   /* once, not at every commit */
            log_warn("store %s: %s (the writer will checkpoint past %d pages)",
                     store_path(c->own), e.msg, CHECKPOINTER_LIMIT);
        failing = rc < 0;
        pthread_mutex_lock(&c->mu);
        if (rc == 0)
            c->background++;
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int checkpointer_new(checkpointer **out, store *st, const char *path, int flags, err *e)
{
    *out = NULL;
    checkpointer *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(e, "internal", "out of memory");
    c->watched = st;
    if (store_open(&c->own, path, flags, e) < 0)
        goto fail_alloc;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        err_set(e, "internal", "pthread_mutex_init failed");
        goto fail_store;
    }
    if (pthread_cond_init(&c->wake, NULL) != 0) {
        err_set(e, "internal", "pthread_cond_init failed");
        goto fail_mutex;
    }
    if (pthread_create(&c->thread, NULL, checkpointer_loop, c) != 0) {
        err_set(e, "internal", "cannot start the checkpointer thread");
        goto fail_cond;
    }
    if (store_wal_watch(st, checkpointer_report, c, e) < 0)
        goto fail_thread;
    *out = c;
    return 0;

fail_thread:
    pthread_mutex_lock(&c->mu);
    c->quit = 1;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
fail_cond:
    pthread_cond_destroy(&c->wake);
fail_mutex:
    pthread_mutex_destroy(&c->mu);
fail_store:
    store_close(c->own);
fail_alloc:
    free(c);
    return -1;
}

void checkpointer_counts(checkpointer *c, long *background, long *writer)
{
    pthread_mutex_lock(&c->mu);
    *background = c->background;
    *writer = c->writer;
    pthread_mutex_unlock(&c->mu);
}

void checkpointer_free(checkpointer *c)
{
    if (!c)
        return;
    store_wal_watch(c->watched, NULL, NULL, NULL);
    pthread_mutex_lock(&c->mu);
    c->quit = 1;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    log_debug("checkpoints: %ld on the checkpointer's thread, %ld by the writer; %ld pages "
              "logged", c->background, c->writer, c->logged);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->mu);
    store_close(c->own);
    free(c);
}
