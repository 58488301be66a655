/*
 * pool.c -- worker threads, each with its own engine.
 *
 * Design notes.
 *
 * One queue (FIFO of jobs) under one mutex, N workers sleeping on one
 * condition variable.  A worker is in one of these states:
 *   IDLE       waiting on `wake` (worker_main).
 *   REFRESHING the pool's generation moved past the worker's: it takes the
 *              engine pool_swap left it (built off the serving threads by
 *              pool_build), or at start builds one (worker_refresh).  It does
 *              this before taking a job, so every job after pool_swap returns
 *              is decided by the new set; jobs already taken finish on the old.
 *   BUSY       carrying out one job (worker_handle).
 *   STOPPED    `quit` is set and the queue is empty.
 *
 * Invariants (pool_check, debug builds, under the lock):
 *   1. depth is the number of jobs on the queue; head is NULL iff tail is.
 *   2. rs is never NULL while the pool exists, and gen only grows.
 *   3. A worker's gen is at most the pool's gen.
 * A worker never calls into the engine or the store while holding the lock.
 */
#include "pool.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "review.h"
#include "store.h"

typedef struct worker {
    struct pool *pool;
    size_t index;
    pthread_t thread;
    engine *en;
    engine *next;              /* pool_swap's, for the next refresh (under the lock) */
    store *reader;
    uint64_t gen;              /* generation of en */
    long history_failed;       /* lookups failed since the last that worked */
    buf rows;                  /* scratch for worker_note */
} worker;

struct pool {
    pool_config cfg;
    char *db_path;

    pthread_mutex_t mu;
    pthread_cond_t wake;
    job *head, *tail;
    size_t depth;
    ruleset *rs;
    uint64_t gen;
    int quit;
    atomic_size_t programmes;   /* ruleset_programmes(rs), for any thread */

    size_t nworkers;
    size_t started;
    worker *workers;
};

#ifndef NDEBUG
static void pool_check(pool *p)
{
    size_t n = 0;
    for (job *j = p->head; j; j = j->next)
        n++;
    assert(n == p->depth);                          /* 1 */
    assert((p->head == NULL) == (p->tail == NULL)); /* 1 */
    assert(p->rs != NULL);                          /* 2 */
    /* Every worker, not the `started` ones: pool_new counts those without
     * the lock while the first workers already run this; a worker not yet
     * started has gen 0 (calloc), and a started one writes its gen only
     * under the lock. */
    for (size_t i = 0; i < p->nworkers; i++)
        assert(p->workers[i].gen <= p->gen);        /* 3 */
}
#else
#define pool_check(p) ((void)0)
#endif

static store *worker_reader(worker *wk, err *e);

/* The engine's history provider (engine_history_fn): the applicant's
 * decisions, as kept in memory or else from the worker's read-only handle.
 * Only committed decisions are there: one still with the writer is not
 * seen, not even the same applicant's a moment earlier on another
 * connection. */
static int worker_history(void *ud, const char *applicant_id, buf *out)
{
    worker *wk = ud;
    seen *known = wk->pool->cfg.seen;
    past *kept = wk->pool->cfg.past;
    if (known && !seen_may_have(known, applicant_id))
        return buf_adds(out, "[]");   /* a new applicant: no past to look up */
    uint64_t ticket = 0;
    int got = kept ? past_get(kept, applicant_id, out, &ticket) : 0;
    if (got != 0)
        return got < 0 ? -1 : 0;
    err e;
    err_clear(&e);
    store *rd = worker_reader(wk, &e);
    size_t at = out->len;
    int64_t newest = 0;
    long went = rd ? store_applicant_decisions(rd, applicant_id, 0, POOL_HISTORY_ROWS, out,
                                               &newest, &e) : -1;
    if (went < 0) {
        /* Said once until a lookup works again: when the database is gone,
         * every request would say it. */
        if (!wk->history_failed++)
            log_error("worker %zu: earlier decisions of %s: %s (said once until a lookup works "
                      "again)", wk->index, applicant_id, e.msg);
        return -1;
    }
    if (wk->history_failed) {
        log_info("worker %zu: earlier decisions are read again, after %ld lookups failed",
                 wk->index, wk->history_failed);
        wk->history_failed = 0;
    }
    if (kept)
        past_keep(kept, applicant_id, out->data + at, out->len - at, newest, (size_t)went,
                  ticket);
    return 0;
}

/* Rebuild the worker's engine from the pool's current rule set. */
static void worker_refresh(worker *wk)
{
    pool *p = wk->pool;
    pthread_mutex_lock(&p->mu);
    ruleset *rs = ruleset_ref(p->rs);
    uint64_t gen = p->gen;
    engine *en = wk->next;   /* a swap's, made ready off the serving threads */
    wk->next = NULL;
    pthread_mutex_unlock(&p->mu);

    err e;
    err_clear(&e);
    if (!en)   /* at start */
        en = engine_new(rs, &p->cfg.engine, &e);
    ruleset_free(rs);
    if (!en) {
        /* The set passed engine_new once already, so this is memory: keep
         * serving with what the worker has. */
        log_error("worker %zu: cannot build an engine: %s", wk->index, e.msg);
    } else {
        engine_set_history(en, worker_history, wk);
        engine_free(wk->en);
        wk->en = en;
        log_debug("worker %zu: rule set %.12s (generation %" PRIu64 ")", wk->index,
                  ruleset_hash(engine_ruleset(en)), gen);
    }
    /* Under the lock: pool_check reads every worker's gen from other threads. */
    pthread_mutex_lock(&p->mu);
    wk->gen = gen;
    pthread_mutex_unlock(&p->mu);
}

static store *worker_reader(worker *wk, err *e)
{
    if (!wk->reader && store_open(&wk->reader, wk->pool->db_path, STORE_READONLY, e) < 0)
        wk->reader = NULL;
    return wk->reader;
}

/* A commit that has waited this long makes health say "failing". */
#define POOL_STALLED_MS 1000

/* Answer a decision / history / programs / health request into J. */
static void worker_answer(worker *wk, job *j, const engine_result *r)
{
    pool *p = wk->pool;
    err e;
    err_clear(&e);
    store *rd = NULL;
    int rc = 0;

    size_t held = 0;
    int big = r->op == ENGINE_OP_DECISION || r->op == ENGINE_OP_HISTORY;   /* no size known */
    int held_back = big && p->cfg.refuse_big ? p->cfg.refuse_big(p->cfg.ud, j, &held) : 0;
    if (held_back == POOL_HELD_MINE) {
        job_error(j, r->id, "overloaded", "%.1f MB of replies to this connection are waiting "
                  "for it to read them: read them, then ask again", (double)held / (1 << 20));
        return;
    }
    if (held_back) {
        job_error(j, r->id, "overloaded", "%.1f MB of replies to all connections are waiting "
                  "for their clients to read them: ask again shortly", (double)held / (1 << 20));
        return;
    }
    if (r->op == ENGINE_OP_DECISION || r->op == ENGINE_OP_HISTORY || r->op == ENGINE_OP_HEALTH) {
        rd = worker_reader(wk, &e);
        if (!rd && r->op != ENGINE_OP_HEALTH) {   /* health says so as its status */
            job_error(j, r->id, "internal", "cannot open the database: %s", e.msg);
            return;
        }
    }
    switch (r->op) {
    case ENGINE_OP_DECISION:
        rc |= job_begin(j, r->id);
        rc |= buf_adds(&j->reply, ",\"decision\":");
        if (store_get_decision(rd, r->decision_id, &j->reply, &e) < 0) {
            job_error(j, r->id, e.code ? e.code : "internal", "%s", e.msg);
            return;
        }
        /* Its reviews beside it: the decision itself stays as stored. */
        rc |= buf_adds(&j->reply, ",\"reviews\":");
        if (store_reviews(rd, r->decision_id, &j->reply, &e) < 0) {
            job_error(j, r->id, e.code ? e.code : "internal", "%s", e.msg);
            return;
        }
        break;
    case ENGINE_OP_HISTORY:
        rc |= job_begin(j, r->id);
        rc |= buf_adds(&j->reply, ",\"decisions\":");
        if (store_history(rd, r->applicant_id ? r->applicant_id : "", r->limit, &j->reply, &e) < 0) {
            job_error(j, r->id, e.code ? e.code : "internal", "%s", e.msg);
            return;
        }
        break;
    case ENGINE_OP_PROGRAMS:
        rc |= job_begin(j, r->id);
        rc |= buf_adds(&j->reply, ",\"programs\":");
        if (engine_programs(wk->en, r->as_of, r->lang, &j->reply, &e) < 0) {
            job_error(j, r->id, e.code ? e.code : "internal", "%s", e.msg);
            return;
        }
        break;
    case ENGINE_OP_HEALTH: {
        size_t depth = pool_depth(p) + writer_depth(p->cfg.writer);
        char why[256];
        long refused = writer_refused(p->cfg.writer, why, sizeof why);
        int moved = !refused && rd && store_moved(rd, &e) != 0;   /* before any write says so */
        if (!refused && !rd && access(p->db_path, F_OK) != 0)
            snprintf(why, sizeof why, "the database file %s was removed while the server ran: "
                     "restart the server", p->db_path);
        else if (!refused && (!rd || moved))
            snprintf(why, sizeof why, "%s%s", moved ? "" : "cannot open the database: ", e.msg);
        rc |= job_begin(j, r->id);
        /* "ok", or "failing" while the database refuses every write or
         * cannot be read. */
        uint64_t waiting = writer_waiting_ms(p->cfg.writer);
        if (!refused && rd && !moved && waiting >= POOL_STALLED_MS)
            snprintf(why, sizeof why, "a commit has waited %" PRIu64 " ms: is the database's "
                     "write lock held elsewhere (a sqlite3 shell in a transaction)?", waiting);
        /* A write of the server's own that failed (its start event, say,
         * on a full disk) before any application was refused. */
        int own = !refused && rd && !moved && waiting < POOL_STALLED_MS &&
                  writer_failing(p->cfg.writer, why, sizeof why);
        int failing = refused || own || !rd || moved || waiting >= POOL_STALLED_MS;
        rc |= buf_printf(&j->reply, ",\"status\":\"%s\"", failing ? "failing" : "ok");
        if (failing) {
            rc |= buf_printf(&j->reply, ",\"refused\":%ld,\"failure\":", refused);
            rc |= buf_add_json_string(&j->reply, why, strlen(why));
        }
        rc |= buf_printf(&j->reply, ",\"ruleset\":\"%s\",\"workers\":%zu",
                         ruleset_hash(engine_ruleset(wk->en)), p->nworkers);
        if (p->cfg.health)
            p->cfg.health(p->cfg.ud, &j->reply);
        rc |= buf_printf(&j->reply, ",\"queue_depth\":%zu", depth);
        if (p->cfg.past) {
            past_stats ps;
            past_get_stats(p->cfg.past, &ps);
            rc |= buf_printf(&j->reply, ",\"history_cache\":{\"applicants\":%zu,\"bytes\":%zu,"
                             "\"hits\":%ld,\"misses\":%ld,\"refused\":%ld}", ps.applicants,
                             ps.bytes, ps.hits, ps.misses, ps.refused);
        }
        uint64_t kept, tried;
        engine_fast_totals(&kept, &tried);
        rc |= buf_printf(&j->reply, ",\"uncounted\":{\"tried\":%" PRIu64 ",\"kept\":%" PRIu64 "}",
                         tried, kept);
        if (rd)
            rc |= buf_printf(&j->reply, ",\"decisions\":%" PRId64 ",\"reviews\":%" PRId64,
                             store_count(rd), store_count_reviews(rd));
        else
            rc |= buf_adds(&j->reply, ",\"decisions\":null,\"reviews\":null");
        break;
    }
    default:
        job_error(j, r->id, "unknown_op", "this server does not carry out that operation");
        return;
    }
    rc |= job_finish(j);
    if (rc)
        buf_reset(&j->reply);
    else if (big && p->cfg.built_big)
        p->cfg.built_big(p->cfg.ud, j);   /* counted now: others may be asked meanwhile */
}

/* J's decisions as rows of its applicant's past (past.h), newest first, in
 * a note for the writer to hand over; none when memory runs short. */
static void worker_note(worker *wk, job *j)
{
    const engine_result *r = j->res;
    buf *b = &wk->rows;
    buf_reset(b);
    for (size_t d = r->ndecisions; d-- > 0;) {
        const engine_decision *ed = &r->decisions[d];
        const char *f[7] = {ed->decision_id, ed->program, ed->program_version, ed->outcome,
                            r->as_of, j->decided_at, NULL};
        size_t len[7];
        for (int k = 0; k < 7; k++)
            len[k] = f[k] ? strlen(f[k]) : 0;
        if ((d + 1 < r->ndecisions && buf_addc(b, ',') != 0) || store_history_row(b, f, len) != 0)
            return;
    }
    j->note = past_note_new(r->applicant_id, b->data, b->len);
}

/* What is stored under R's request key, for J, into O (STORE_NEW when R
 * has none), whose buffer the caller frees.  Returns 0, or -1 with E. */
static int worker_key_outcome(worker *wk, job *j, const engine_result *r, store_outcome *o,
                              err *e)
{
    *o = (store_outcome){STORE_NEW, {0}, 0};
    buf_init(&o->stored, JOB_REPLY_CAP);
    err_clear(e);
    if (!r->request_key)
        return 0;
    store *rd = worker_reader(wk, e);
    return rd && store_key_outcome(rd, r->request_key, r->fingerprint, j->line, j->len, o,
                                   e) == 0 ? 0 : -1;
}

/* Answer J, for R, with O: the stored decisions, a conflict, or none. */
static void worker_answer_key(job *j, engine_result *r, const store_outcome *o)
{
    j->res = r;   /* for the reply; freed by the caller, not by the job */
    writer_answer(j, o);
    j->res = NULL;
}

/* When R (an error, for a decide or a screen) carries a request key and
 * a fingerprint, and the key is stored with that very application, answer J
 * with the stored decisions and return 1.  Otherwise 0, J left alone: a
 * key not stored, stored for another application, or that cannot be
 * looked up leaves the error to be said. */
static int worker_stored(worker *wk, job *j, engine_result *r)
{
    if ((r->op != ENGINE_OP_DECIDE && r->op != ENGINE_OP_SCREEN) || !r->fingerprint)
        return 0;
    err e;
    store_outcome o;
    int repeat = worker_key_outcome(wk, j, r, &o, &e) == 0 && o.status == STORE_REPEAT;
    if (repeat)
        worker_answer_key(j, r, &o);
    buf_free(&o.stored);
    return repeat;
}

static void worker_handle(worker *wk, job *j)
{
    pool *p = wk->pool;
    if (!wk->en) {
        job_error(j, NULL, "internal", "no rule set is loaded");
        p->cfg.done(p->cfg.ud, j);
        return;
    }
    engine_result *r = engine_request(wk->en, j->line, j->len, NULL);
    j->t_decided = job_clock();
    log_timestamp(j->decided_at);
    if (!r) {
        job_error(j, NULL, "internal", "out of memory");
        p->cfg.done(p->cfg.ud, j);
        return;
    }
    if (r->error_code) {
        /* An application its request key already stored is a repeat, whatever
         * the rules in force now make of it: a retry that a reload fell
         * between (its programme withdrawn, the schema changed, a rule that
         * now fails) is answered with what was decided and stored, as it
         * would have been without the reload.  Any other error stands. */
        if (!worker_stored(wk, j, r))
            job_error(j, r->id, r->error_code, "%s", r->error_message ? r->error_message : "");
    } else if ((r->op == ENGINE_OP_DECIDE || r->op == ENGINE_OP_SCREEN) && r->ndecisions > 0) {
        /* The reply waits for the commit: the writer builds it. */
        j->res = r;
        if (p->cfg.past && r->applicant_id)
            worker_note(wk, j);
        writer_submit(p->cfg.writer, j);
        return;
    } else if (r->op == ENGINE_OP_REVIEW) {
        /* A write too: checked here, appended by the writer, and the reply
         * waits for the commit. */
        err e;
        err_clear(&e);
        review *rv = review_parse(r->decision_id, r->body, &e);
        if (rv) {
            store_review *rec = review_record(rv);
            rec->client_uid = j->client_uid;
            rec->client_pid = j->client_pid;
            j->res = r;
            j->review = rv;
            writer_submit(p->cfg.writer, j);
            return;
        }
        job_error(j, r->id, e.code ? e.code : "internal", "%s", e.msg);
    } else if (r->op == ENGINE_OP_SCREEN) {
        /* No programme in force: nothing to store; but a request key
         * already stored is a repeat, or a conflict, as ever. */
        err e;
        store_outcome o;
        if (worker_key_outcome(wk, j, r, &o, &e) != 0)
            job_error(j, r->id, "internal", "cannot look up the request key: %s", e.msg);
        else
            worker_answer_key(j, r, &o);
        buf_free(&o.stored);
    } else if (r->op == ENGINE_OP_DECIDE) {
        job_error(j, r->id, "internal", "the engine returned no decision");
    } else {
        worker_answer(wk, j, r);
    }
    engine_result_free(r);
    p->cfg.done(p->cfg.ud, j);
}

static void *worker_main(void *arg)
{
    worker *wk = arg;
    pool *p = wk->pool;
    char name[16];
    snprintf(name, sizeof name, "worker-%zu", wk->index);
    log_thread_name(name);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        pool_check(p);
        if (wk->gen != p->gen) {
            pthread_mutex_unlock(&p->mu);
            worker_refresh(wk);
            pthread_mutex_lock(&p->mu);
            continue;
        }
        if (p->head) {
            job *j = p->head;
            p->head = j->next;
            if (!p->head)
                p->tail = NULL;
            p->depth--;
            j->next = NULL;
            pthread_mutex_unlock(&p->mu);
            j->t_taken = job_clock();
            worker_handle(wk, j);
            if (p->cfg.past)
                past_tidy(p->cfg.past);
            pthread_mutex_lock(&p->mu);
            continue;
        }
        if (p->quit)
            break;
        pthread_cond_wait(&p->wake, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    buf_free(&wk->rows);
    engine_free(wk->en);
    wk->en = NULL;
    store_close(wk->reader);
    wk->reader = NULL;
    return NULL;
}

int pool_new(pool **out, ruleset *rs, const pool_config *cfg, err *e)
{
    pool *p = calloc(1, sizeof *p);
    if (!p)
        return err_set(e, "internal", "out of memory");
    p->cfg = *cfg;
    p->nworkers = cfg->workers;
    if (!p->nworkers) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        p->nworkers = n > 0 ? (size_t)n : 1;
    }
    p->db_path = strdup(cfg->db_path);
    p->workers = calloc(p->nworkers, sizeof *p->workers);
    if (!p->db_path || !p->workers) {
        err_set(e, "internal", "out of memory");
        goto fail_alloc;
    }
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        err_set(e, "internal", "pthread_mutex_init failed");
        goto fail_alloc;
    }
    if (pthread_cond_init(&p->wake, NULL) != 0) {
        err_set(e, "internal", "pthread_cond_init failed");
        goto fail_mutex;
    }
    p->rs = ruleset_ref(rs);
    atomic_store(&p->programmes, ruleset_programmes(rs));
    p->gen = 1;   /* workers start at 0, so each builds its engine first */
    for (; p->started < p->nworkers; p->started++) {
        worker *wk = &p->workers[p->started];
        wk->pool = p;
        wk->index = p->started;
        buf_init(&wk->rows, JOB_REPLY_CAP);
        if (pthread_create(&wk->thread, NULL, worker_main, wk) != 0) {
            err_set(e, "internal", "cannot start worker thread %zu", p->started);
            goto fail_threads;
        }
    }
    *out = p;
    return 0;

fail_threads:
    /* Everything is set up but some threads: pool_free stops those started. */
    pool_free(p);
    return -1;
fail_mutex:
    pthread_mutex_destroy(&p->mu);
fail_alloc:
    free(p->workers);
    free(p->db_path);
    free(p);
    return -1;
}

void pool_submit(pool *p, job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->depth++;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mu);
}

engine **pool_build(pool *p, ruleset *rs, err *e)
{
    engine **built = calloc(p->nworkers, sizeof *built);
    if (!built) {
        err_set(e, "internal", "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < p->nworkers; i++) {
        if (!(built[i] = engine_new(rs, &p->cfg.engine, e))) {
            pool_built_free(p, built);
            return NULL;
        }
    }
    return built;
}

void pool_built_free(pool *p, engine **built)
{
    for (size_t i = 0; built && i < p->nworkers; i++)
        engine_free(built[i]);
    free(built);
}

void pool_swap(pool *p, ruleset *rs, engine **built)
{
    ruleset *old;
    ruleset_ref(rs);
    pthread_mutex_lock(&p->mu);
    old = p->rs;
    p->rs = rs;
    atomic_store(&p->programmes, ruleset_programmes(rs));
    for (size_t i = 0; i < p->nworkers; i++) {   /* BUILT takes back a swap's not yet taken */
        engine *left = p->workers[i].next;
        p->workers[i].next = built[i];
        built[i] = left;
    }
    p->gen++;
    /* Wake idle workers so they take theirs now, not on the next request. */
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    pool_built_free(p, built);
    ruleset_free(old);
}

size_t pool_programmes(pool *p)
{
    return atomic_load(&p->programmes);
}

ruleset *pool_ruleset(pool *p)
{
    pthread_mutex_lock(&p->mu);
    ruleset *rs = ruleset_ref(p->rs);
    pthread_mutex_unlock(&p->mu);
    return rs;
}

size_t pool_depth(pool *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->depth;
    pthread_mutex_unlock(&p->mu);
    return n;
}

size_t pool_size(const pool *p)
{
    return p->nworkers;
}

void pool_free(pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < p->started; i++)
        pthread_join(p->workers[i].thread, NULL);
    for (size_t i = 0; i < p->nworkers; i++)
        engine_free(p->workers[i].next);
    ruleset_free(p->rs);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p->workers);
    free(p->db_path);
    free(p);
}
