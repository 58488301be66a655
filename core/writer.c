/*
 * writer.c -- the writer thread: group commit, then replies.
 *
 * Design notes.
 *
 * The writer is one thread and one queue.  The queue holds jobs (decided
 * applications) in arrival order and "calls" (short store operations other
 * threads need done on the read-write handle).
 *
 * States of the thread:
 *   WAITING    nothing queued; sleeps on `wake`, and with seen or past to
 *              keep right, wakes every WRITER_LOOK_S to look for another
 *              process's writes (writer_look).
 *   CALLING    runs the queued calls, one by one, and wakes their callers
 *              (writer_loop, the calls come first so that a rule set is
 *              stored before any decision made with it can arrive).
 *   COMMITTING takes up to `batch` jobs off the queue (writer_loop) and
 *              appends the applications among them all in one transaction
 *              (writer_batch, writer_commit), then each review in a
 *              transaction of its own (writer_review); builds each reply and
 *              hands the job to `done`.
 *   STOPPED    `quit` is set and the queue is empty: the thread returns.
 *
 * Invariants (writer_check, debug builds):
 *   1. depth is the number of jobs on the queue.
 *   2. head is NULL if and only if tail is NULL.
 *   3. A job leaves the writer (done) only after store_append (or
 *      store_append_review) returned for the transaction holding it --
 *      committed, or failed with its reply an error.  So an "ok" reply
 *      always means "committed".
 */
#include "writer.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conflict.h"
#include "log.h"
#include "review.h"

/* How often an idle writer looks for another process's writes (seconds). */
#define WRITER_LOOK_S 1

typedef struct writer_call_req {
    int (*fn)(store *st, void *ud, err *e);
    void *ud;
    int rc;
    int finished;
    struct writer_call_req *next;
} writer_call_req;

struct writer {
    store *st;
    size_t batch;
    writer_done_fn *done;
    void *ud;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;       /* something was queued, or quit */
    pthread_cond_t called;     /* a call finished */
    job *head, *tail;
    size_t depth;
    writer_call_req *calls;    /* in the order they came (a start event before a reload's) */
    seen *seen;                /* applicants with a decision (writer_track), or NULL */
    past *past;                /* their earlier decisions (writer_track), or NULL */
    int quit;
    long transactions;         /* batches committed, for the log at the end */
    long committed;            /* ... and the applications in them */
    long refused;              /* applications refused since the last commit that held */
    long refused_seen;         /* the same, for writer_refused (under mu) */
    char refused_why[256];     /* ... and why (under mu) */
    int own_failed;            /* a writer_call write failed, none held since (written on
                                  the writer thread, under mu) */
    char own_why[256];         /* ... and why (under mu) */
    uint64_t commit_started;   /* job_clock() of the commit under way, 0 between (under mu) */

    /* Scratch for one batch, reused; writer thread only. */
    job **jobs;
    store_application *apps;
    const char **ids;          /* the committed applications' applicants, for seen */
    past_note **notes;         /* ... their notes, for past */
    store_outcome *outs;
    store_decision *decs;
    size_t ndecs_alloc;
};

#ifndef NDEBUG
static void writer_check(writer *w)
{
    size_t n = 0;
    for (job *j = w->head; j; j = j->next)
        n++;
    assert(n == w->depth);                      /* 1 */
    assert((w->head == NULL) == (w->tail == NULL)); /* 2 */
}
#else
#define writer_check(w) ((void)0)
#endif

/* The reply of one committed (or refused) application. */
static void writer_reply(job *j, const store_outcome *o, int failed, const err *e)
{
    const engine_result *r = j->res;
    int screen = r->op == ENGINE_OP_SCREEN;
    int rc = 0;

    if (failed) {
        job_error(j, r->id, "internal", "the decision could not be stored: %s", e->msg);
        return;
    }
    if (o->status == STORE_CONFLICT) {
        char why[320];
        size_t n = conflict_describe(j->line, j->len, o->stored.data ? o->stored.data : "",
                                     o->stored.len, why, sizeof why);
        /* The key as a JSON string, so that a quote or a backslash in it
         * cannot hide where it ends (at most 200 bytes, 1,200 escaped). */
        buf key;
        buf_init(&key, 1300);
        const char *k = r->request_key ? r->request_key : "";
        if (buf_add_json_string(&key, k, strlen(k)) != 0)   /* short of memory */
            buf_reset(&key);
        job_error(j, r->id, "conflict",
                  "request_key %s was already used for a different application%s%s%s",
                  key.len ? key.data : "\"\"", n ? " (" : "", why, n ? ")" : "");
        buf_free(&key);
        return;
    }
    /* Room for the whole reply first: grown from nothing as it was written,
     * a decision of 1 to 2 KB took six reallocations, each a copy of what
     * came before.  (Short of memory, the adds below fail as they did.) */
    size_t need = strlen(r->id ? r->id : "null") + sizeof "{\"id\":,\"ok\":true,\"decisions\":[]"
                  ",\"repeated\":true}\n";
    if (o->status == STORE_REPEAT)
        need += o->stored.len;
    else
        for (size_t i = 0; i < r->ndecisions; i++)
            need += r->decisions[i].json_len + 1;
    buf_reset(&j->reply);
    (void)buf_reserve(&j->reply, need);
    rc |= job_begin(j, r->id);
    rc |= buf_adds(&j->reply, screen ? ",\"decisions\":[" : ",\"decision\":");
    if (o->status == STORE_REPEAT) {
        rc |= buf_add(&j->reply, o->stored.data ? o->stored.data : "", o->stored.len);
    } else {
        for (size_t i = 0; i < r->ndecisions; i++) {
            if (i)
                rc |= buf_addc(&j->reply, ',');
            rc |= buf_add(&j->reply, r->decisions[i].json, r->decisions[i].json_len);
        }
    }
    if (screen)
        rc |= buf_addc(&j->reply, ']');
    if (o->status == STORE_REPEAT)
        rc |= buf_adds(&j->reply, ",\"repeated\":true");
    rc |= job_finish(j);
    if (rc)
        buf_reset(&j->reply);   /* job_reply_line sends the internal error */
}

void writer_answer(job *j, const store_outcome *o)
{
    writer_reply(j, o, 0, NULL);
}

/* Make sure the scratch array of decisions (w->decs) holds ND; the other
 * scratch arrays hold a whole batch from the start (writer_new). */
static int writer_reserve(writer *w, size_t nd)
{
    if (nd <= w->ndecs_alloc)
        return 0;
    size_t n = w->ndecs_alloc ? w->ndecs_alloc : 64;
    while (n < nd)
        n *= 2;
    store_decision *d = realloc(w->decs, n * sizeof *d);
    if (!d)
        return -1;
    w->decs = d;
    w->ndecs_alloc = n;
    return 0;
}

/* Tell seen and past of what another process wrote, as the store found it
 * at its last look. */
static void writer_others(writer *w)
{
    if (store_other_writer(w->st)) {
        log_warn("store: another process has added decisions to the database: earlier "
                 "decisions are now looked up for every applicant");
        if (w->seen)
            seen_forget(w->seen);
        if (w->past)
            past_forget(w->past);
    }
    if (store_other_review(w->st) && w->past) {
        log_info("store: another process has reviewed decisions: the earlier decisions kept "
                 "in memory are read again");
        past_clear(w->past);
    }
}

/* Tell seen and past of the N applications just committed (none when the
 * batch FAILED). */
static void writer_tell(writer *w, size_t n, int failed)
{
    writer_others(w);
    if (failed)
        return;
    size_t noted = 0;
    for (size_t i = 0; i < n && w->past; i++) {
        job *j = w->jobs[i];
        if (!j || w->outs[i].status != STORE_NEW || !j->res->applicant_id)
            continue;
        if (!j->note) {
            /* A worker ran out of memory making it: a commit past is not
             * told of would make what it keeps wrong. */
            log_warn("store: out of memory: earlier decisions are now looked up for every "
                     "applicant");
            past_forget(w->past);
            noted = 0;
            break;
        }
        j->note->newest = w->outs[i].first_seq + (int64_t)j->res->ndecisions - 1;
        w->notes[noted++] = j->note;
    }
    if (noted) {
        /* past takes them: the jobs forget theirs */
        for (size_t i = 0; i < n; i++)
            if (w->jobs[i] && w->outs[i].status == STORE_NEW)
                w->jobs[i]->note = NULL;
        past_commit(w->past, w->notes, noted);
    }
    if (w->seen) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (w->jobs[i] && w->outs[i].status == STORE_NEW)
                w->ids[m++] = w->jobs[i]->res->applicant_id;
        seen_add(w->seen, w->ids, m);
    }
}

/* N writes refused for the database's trouble, E: said once until one
 * succeeds again (writer_succeeded), and counted for health. */
static void writer_refuse(writer *w, size_t n, const err *e)
{
    if (!w->refused)
        log_error("store %s: %s: decisions are refused until it is fixed", store_path(w->st),
                  e->msg);
    w->refused += (long)n;
    pthread_mutex_lock(&w->mu);
    w->refused_seen = w->refused;
    snprintf(w->refused_why, sizeof w->refused_why, "%s", e->msg);
    pthread_mutex_unlock(&w->mu);
}

/* A write of the server's own (writer_call) failed for E: health says so
 * until a write holds again (writer_succeeded). */
static void writer_own_failed(writer *w, const err *e)
{
    pthread_mutex_lock(&w->mu);
    w->own_failed = 1;
    snprintf(w->own_why, sizeof w->own_why, "%s", e->msg);
    pthread_mutex_unlock(&w->mu);
}

static void writer_succeeded(writer *w)
{
    if (w->own_failed) {   /* only this thread writes it: read without the lock */
        pthread_mutex_lock(&w->mu);
        w->own_failed = 0;
        pthread_mutex_unlock(&w->mu);
    }
    if (!w->refused)
        return;
    log_info("store: writes succeed again, after %ld applications and reviews were refused",
             w->refused);
    w->refused = 0;
    pthread_mutex_lock(&w->mu);
    w->refused_seen = 0;
    pthread_mutex_unlock(&w->mu);
}

/* Append the N jobs in w->jobs in one transaction and send them on. */
static void writer_commit(writer *w, size_t n)
{
    size_t nd = 0;
    for (size_t i = 0; i < n; i++)
        nd += w->jobs[i]->res->ndecisions;
    err e;
    err_clear(&e);
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        buf_init(&w->outs[i].stored, JOB_REPLY_CAP);
        w->outs[i].status = STORE_NEW;
    }
    if (writer_reserve(w, nd) < 0) {
        failed = 1;
        err_set(&e, "internal", "out of memory");
        log_error("store: out of memory gathering a batch of %zu applications: all refused", n);
    }

    size_t k = 0;
    for (size_t i = 0; i < n && !failed; i++) {
        const job *j = w->jobs[i];
        const engine_result *r = j->res;
        store_application *a = &w->apps[i];
        a->request = j->line;
        a->request_len = j->len;
        a->request_key = r->request_key;
        a->fingerprint = r->fingerprint;
        a->applicant_id = r->applicant_id;
        a->as_of = r->as_of;
        a->ruleset = r->ruleset;
        a->received_at = j->received_at;
        a->decided_at = j->decided_at;
        a->client_uid = j->client_uid;
        a->client_pid = j->client_pid;
        a->decisions = &w->decs[k];
        a->ndecisions = r->ndecisions;
        for (size_t d = 0; d < r->ndecisions; d++, k++) {
            const engine_decision *ed = &r->decisions[d];
            w->decs[k] = (store_decision){ed->decision_id, ed->program, ed->program_version,
                                          ed->outcome, ed->json, ed->json_len};
        }
    }

    /* The file removed or replaced under the server: a commit would go to
     * a file no one can read, and be acknowledged. */
    int moved = !failed && store_moved(w->st, &e) != 0;
    pthread_mutex_lock(&w->mu);
    w->commit_started = job_clock();
    pthread_mutex_unlock(&w->mu);
    int appended = !failed && !moved && store_append(w->st, w->apps, n, w->outs, &e) == 0;
    pthread_mutex_lock(&w->mu);
    w->commit_started = 0;
    pthread_mutex_unlock(&w->mu);
    if (appended && store_moved(w->st, &e) != 0) {
        /* Removed or replaced while the batch committed (it may have waited
         * for the write lock): what it wrote went to a file no one will
         * read.  Not acknowledged; a retry after the restart stores it. */
        appended = 0;
        moved = 1;
    }
    if (appended) {
        w->transactions++;
        w->committed += (long)n;
        writer_succeeded(w);
    } else if (!failed) {
        if (moved || store_failed_whole(w->st)) {
            /* The database's trouble, not one application's (a full disk):
             * every one would fail alike, so all are refused at once, and
             * said once until writes succeed again. */
            failed = 1;
            writer_refuse(w, n, &e);
        } else if (n == 1) {
            failed = 1;
            log_error("store: %s", e.msg);
        } else {
            /* Find the one that spoils the batch: the others still commit. */
            log_warn("store: a batch of %zu failed (%s); retrying one by one", n, e.msg);
            for (size_t i = 0; i < n; i++) {
                err e1;
                err_clear(&e1);
                buf_free(&w->outs[i].stored);
                buf_init(&w->outs[i].stored, JOB_REPLY_CAP);
                if (store_append(w->st, &w->apps[i], 1, &w->outs[i], &e1) < 0) {
                    /* The disk may fill meanwhile: then health says so too. */
                    if (store_failed_whole(w->st))
                        writer_refuse(w, 1, &e1);
                    else
                        log_error("store: %s", e1.msg);
                    writer_reply(w->jobs[i], &w->outs[i], 1, &e1);
                    buf_free(&w->outs[i].stored);
                    w->done(w->ud, w->jobs[i]);
                    w->jobs[i] = NULL;
                } else {
                    w->transactions++;
                    w->committed++;
                    writer_succeeded(w);
                }
            }
        }
    }

    writer_tell(w, n, failed);   /* before anyone hears of them */
    uint64_t now = job_clock();
    for (size_t i = 0; i < n; i++) {
        job *j = w->jobs[i];
        if (!j)
            continue;
        j->t_committed = now;
        if (!failed && w->outs[i].status == STORE_NEW)
            j->stored = j->res->ndecisions;
        writer_reply(j, &w->outs[i], failed, &e);
        buf_free(&w->outs[i].stored);
        w->done(w->ud, j);
    }
}

/* Tell past that RV, just committed, may have changed where a decision of
 * its applicant stands: rows kept from before would be wrong. */
static void writer_reviewed(writer *w, const store_review *rv)
{
    if (!w->past || strcmp(rv->action, "override") != 0)
        return;
    buf id;
    err e;
    err_clear(&e);
    buf_init(&id, (size_t)1 << 20);
    int rc = store_decision_applicant(w->st, rv->decision_id, &id, &e);
    past_note *n = rc > 0 ? past_note_changed(id.data) : NULL;
    if (n)
        past_commit(w->past, &n, 1);
    else if (rc != 0) {
        log_warn("store: %s: earlier decisions are now looked up for every applicant",
                 rc < 0 ? e.msg : "out of memory");
        past_forget(w->past);
    }
    buf_free(&id);
}

/* Append one review in its own transaction and send its job on.  Reviews
 * are a person's action, a few a minute: batching them would buy nothing. */
static void writer_review(writer *w, job *j)
{
    const engine_result *r = j->res;
    err e;
    err_clear(&e);
    int rc = job_begin(j, r->id);
    rc |= buf_adds(&j->reply, ",\"review\":");
    /* As for decisions (writer_commit): not acknowledged into a file that
     * was removed or written over, before or while it committed. */
    int moved = store_moved(w->st, &e) != 0;
    int failed = moved || (rc == 0 && store_append_review(w->st, review_record(j->review),
                                                          &j->reply, &e) < 0);
    if (!failed && rc == 0 && store_moved(w->st, &e) != 0)
        failed = moved = 1;
    if (moved || (failed && store_failed_whole(w->st))) {
        writer_refuse(w, 1, &e);
        job_error(j, r->id, "internal", "%s", e.msg);
    } else if (failed) {
        if (!e.code || !strcmp(e.code, "internal"))
            log_error("store: review of %s: %s", r->decision_id, e.msg);
        job_error(j, r->id, e.code ? e.code : "internal", "%s", e.msg);
    } else {
        if (rc == 0)
            writer_succeeded(w);
        writer_reviewed(w, review_record(j->review));
        j->stored = rc == 0;
        if (rc != 0 || job_finish(j) != 0)
            buf_reset(&j->reply);   /* job_reply_line sends the internal error */
    }
    j->t_committed = job_clock();
    w->done(w->ud, j);
}

/* Commit the N jobs writer_loop took off the queue into w->jobs: the
 * decided applications in one transaction, then each review in its own. */
static void writer_batch(writer *w, size_t n)
{
    job *reviews = NULL, **tail = &reviews;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        job *j = w->jobs[i];
        if (j->review) {
            *tail = j;
            tail = &j->next;
        } else {
            w->jobs[m++] = j;
        }
    }
    if (m)
        writer_commit(w, m);
    while (reviews) {
        job *j = reviews;
        reviews = j->next;
        j->next = NULL;
        writer_review(w, j);
        writer_others(w);   /* what its write transaction found */
    }
}

/* Look for what another process wrote while nothing is committed. */
static void writer_look(writer *w)
{
    err e;
    err_clear(&e);
    if (store_look(w->st, &e) == 0)
        writer_others(w);
    else
        log_debug("store: looking for other writers: %s", e.msg);
}

static void *writer_loop(void *arg)
{
    writer *w = arg;
    struct timespec look = {0, 0};   /* when an idle writer looks next; 0: not set */
    log_thread_name("writer");
    pthread_mutex_lock(&w->mu);
    for (;;) {
        writer_check(w);
        int called = w->calls != NULL;
        while (w->calls) {
            writer_call_req *c = w->calls;
            w->calls = c->next;
            pthread_mutex_unlock(&w->mu);
            err e;
            err_clear(&e);
            c->rc = c->fn(w->st, c->ud, &e);
            if (c->rc < 0)
                writer_own_failed(w, &e);
            else
                writer_succeeded(w);
            pthread_mutex_lock(&w->mu);
            c->finished = 1;
            pthread_cond_broadcast(&w->called);
        }
        if (w->head) {
            size_t n = 0;
            while (w->head && n < w->batch) {
                job *j = w->head;
                w->head = j->next;
                j->next = NULL;
                w->jobs[n++] = j;
            }
            if (!w->head)
                w->tail = NULL;
            w->depth -= n;
            pthread_mutex_unlock(&w->mu);
            writer_batch(w, n);
            pthread_mutex_lock(&w->mu);
            look.tv_sec = 0;
            continue;
        }
        if (called) {   /* their write transactions looked too */
            pthread_mutex_unlock(&w->mu);
            writer_others(w);
            pthread_mutex_lock(&w->mu);
            look.tv_sec = 0;
            continue;
        }
        if (w->quit)
            break;
        if (!w->seen && !w->past) {
            pthread_cond_wait(&w->wake, &w->mu);
            continue;
        }
        /* Idle, the writer looks once a second for what another process
         * wrote (each commit looks anyway): a review from eligo audit
         * review changes rows that past keeps.  The time is fixed when the
         * writer falls idle, so that wakes with nothing to do do not put
         * the look off. */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (look.tv_sec == 0) {
            look = now;
            look.tv_sec += WRITER_LOOK_S;
        }
        if (now.tv_sec < look.tv_sec || (now.tv_sec == look.tv_sec && now.tv_nsec < look.tv_nsec)) {
            pthread_cond_timedwait(&w->wake, &w->mu, &look);
            continue;
        }
        look.tv_sec = 0;
        pthread_mutex_unlock(&w->mu);
        writer_look(w);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int writer_new(writer **out, store *st, size_t batch, writer_done_fn *done, void *ud, err *e)
{
    writer *w = calloc(1, sizeof *w);
    if (!w)
        return err_set(e, "internal", "out of memory");
    w->st = st;
    w->batch = batch ? batch : 1024;
    w->done = done;
    w->ud = ud;
    w->jobs = calloc(w->batch, sizeof *w->jobs);
    w->apps = calloc(w->batch, sizeof *w->apps);
    w->outs = calloc(w->batch, sizeof *w->outs);
    w->ids = calloc(w->batch, sizeof *w->ids);
    w->notes = calloc(w->batch, sizeof *w->notes);
    if (!w->jobs || !w->apps || !w->outs || !w->ids || !w->notes) {
        err_set(e, "internal", "out of memory");
        goto fail_alloc;
    }
    if (pthread_mutex_init(&w->mu, NULL) != 0) {
        err_set(e, "internal", "pthread_mutex_init failed");
        goto fail_alloc;
    }
    /* Its timed waits count on the monotonic clock: a wall clock set back
     * would hold off the next look. */
    pthread_condattr_t ca;
    int bad = pthread_condattr_init(&ca) != 0;
    if (!bad) {
        bad = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
              pthread_cond_init(&w->wake, &ca) != 0;
        pthread_condattr_destroy(&ca);
    }
    if (bad) {
        err_set(e, "internal", "pthread_cond_init failed");
        goto fail_mutex;
    }
    if (pthread_cond_init(&w->called, NULL) != 0) {
        err_set(e, "internal", "pthread_cond_init failed");
        goto fail_wake;
    }
    if (pthread_create(&w->thread, NULL, writer_loop, w) != 0) {
        err_set(e, "internal", "cannot start the writer thread");
        goto fail_called;
    }
    *out = w;
    return 0;

fail_called:
    pthread_cond_destroy(&w->called);
fail_wake:
    pthread_cond_destroy(&w->wake);
fail_mutex:
    pthread_mutex_destroy(&w->mu);
fail_alloc:
    free(w->jobs);
    free(w->apps);
    free(w->outs);
    free(w->ids);
    free(w->notes);
    free(w);
    return -1;
}

void writer_submit(writer *w, job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->tail)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    w->depth++;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
}

int writer_call(writer *w, int (*fn)(store *st, void *ud, err *e), void *ud)
{
    writer_call_req c = {fn, ud, 0, 0, NULL};
    pthread_mutex_lock(&w->mu);
    writer_call_req **last = &w->calls;   /* a few at most: the list is walked */
    while (*last)
        last = &(*last)->next;
    *last = &c;
    pthread_cond_signal(&w->wake);
    while (!c.finished)
        pthread_cond_wait(&w->called, &w->mu);
    pthread_mutex_unlock(&w->mu);
    return c.rc;
}

void writer_track(writer *w, seen *s, past *kept)
{
    pthread_mutex_lock(&w->mu);
    w->seen = s;
    w->past = kept;
    pthread_cond_signal(&w->wake);   /* to wait with a look from now on */
    pthread_mutex_unlock(&w->mu);
}

int writer_failing(writer *w, char *why, size_t n)
{
    pthread_mutex_lock(&w->mu);
    int failed = w->own_failed;
    if (failed)
        snprintf(why, n, "%s", w->own_why);
    pthread_mutex_unlock(&w->mu);
    return failed;
}

long writer_refused(writer *w, char *why, size_t n)
{
    pthread_mutex_lock(&w->mu);
    long refused = w->refused_seen;
    if (refused)
        snprintf(why, n, "%s", w->refused_why);
    pthread_mutex_unlock(&w->mu);
    return refused;
}

uint64_t writer_waiting_ms(writer *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t started = w->commit_started;
    pthread_mutex_unlock(&w->mu);
    return started ? (job_clock() - started) / 1000000u : 0;
}

size_t writer_depth(writer *w)
{
    pthread_mutex_lock(&w->mu);
    size_t n = w->depth;
    pthread_mutex_unlock(&w->mu);
    return n;
}

void writer_free(writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->quit = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    if (w->transactions)
        log_debug("writer: %ld applications in %ld transactions, %.1f each", w->committed,
                  w->transactions, (double)w->committed / (double)w->transactions);
    pthread_cond_destroy(&w->called);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->mu);
    free(w->decs);
    free(w->jobs);
    free(w->apps);
    free(w->outs);
    free(w->ids);
    free(w->notes);
    free(w);
}
