/*
 * replay.c -- re-decide stored applications; see replay.h.
 *
 * Design notes
 * ------------
 * Threads.  replay_run's thread is the reader: it steps a store_scan and
 * copies applications into batches (one arena each), which it pushes on a
 * bounded queue; N workers pop batches, re-decide every application of a
 * batch with their own engine, tally what they found in their own counts
 * (no lock per decision) and give the empty batch back to a free list.  The
 * reader prints progress between pushes.  When the scan ends the reader
 * closes the queue, the workers drain it and stop, and their counts are
 * merged in worker order.
 *
 * Queue states (under mu):  OPEN --queue_close--> CLOSED; a worker
 * stops when the queue is CLOSED and empty.  The reader waits on `room`
 * while queue_max batches (QUEUE_MAX_PER_WORKER per worker) are queued;
 * workers wait on `ready`.
 *
 * Original mode.  The reader keeps one entry per distinct stored rule set it
 * met (loaded with store_get_ruleset on its handle, between two steps of the
 * scan); entries are heap blocks that never move and are complete before the
 * batch naming them is pushed (the queue's mutex orders the two), so the
 * workers read them without a lock.  Each worker builds an engine for an
 * entry the first time one of its batches needs it and keeps it.
 *
 * Determinism of the report.  Sample ids and listed differences are kept as
 * the ones with the smallest seq: a worker sees its batches in seq order, so
 * it keeps the first ones it meets, and the merge keeps the smallest of the
 * union.  Counts are sums.  The version and parameter moves of a programme
 * are kept in the order a worker met them and sorted once merged
 * (tally_sort).  So any number of workers gives the same report.
 *
 * Earlier decisions.  A decision records, in "history", the rows its rules
 * read (engine.h).  The replay gives the engine those rows
 * (engine_defaults.history): the union of what the application's decisions
 * recorded, since each programme of a screen records its own rules' part
 * (worker_recorded), under its own rules and under a candidate rule set
 * alike (a candidate rule that reads rows the original rules did not is not
 * given them).  When nothing was recorded, a rule that asks is answered from
 * the database as it stood before the application (store_applicant_decisions
 * with the application's first seq), through a read-only handle of the
 * worker's own.
 *
 * Invariants (replay_check, debug builds, under mu):
 *   1. nqueued is the length of the queue; head is NULL iff tail is.
 *   2. nqueued <= queue_max.
 */
#include "replay.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "version.h"

#define REPLAY_BATCH 128                         /* applications per batch */
#define REPLAY_BATCH_TEXT ((size_t)1 << 30)      /* cap of a batch's arena */
#define REPLAY_HISTORY_ROWS 200                  /* as the server's provider */
#define REPLAY_MAX_LISTED 1000
#define REPLAY_MAX_ERRORS 20                     /* rule errors kept in full */
#define REPLAY_PROGRESS_S 0.25

/* ---- Outcomes and moves --------------------------------------------------- */

/* Where a decision can be, before or after. */
enum { K_ELIGIBLE, K_INELIGIBLE, K_INCOMPLETE, K_ERROR, K_NONE, K_N };
static const char *const kind_names[K_N] = {"eligible", "ineligible", "incomplete", "error",
                                            "none"};

static int kind_of(const char *outcome)
{
    if (!outcome)
        return K_NONE;
    for (int k = 0; k < K_ERROR; k++)
        if (!strcmp(outcome, kind_names[k]))
            return k;
    return K_ERROR;
}

/* A criterion whose result changed, counted by direction. */
typedef struct rp_crit {
    char *id;
    int64_t to_fail, to_pass, other;
} rp_crit;

/* One kind of move (from, to) of one programme. */
typedef struct rp_cell {
    int64_t count;
    rp_crit *crit;
    size_t ncrit, acrit;
    int64_t *sample_seq;          /* the smallest seqs, ascending */
    char (*sample_id)[32];
    size_t nsample;
} rp_cell;

/* Candidate mode: decisions made now under another version of their
 * programme than the stored one (FROM and TO, as the decisions name them).
 * The table of moves counts them where their outcome puts them; a version
 * that moved while the outcome stayed is seen only here. */
typedef struct rp_vmove {
    char *from, *to;
    int64_t same;                 /* of cell.count, decisions whose outcome stayed */
    rp_cell cell;                 /* count and sample; no criteria */
} rp_vmove;

/* Candidate mode: decisions whose rules read parameter ID with another
 * value now (FROM and TO as canonical JSON text; NULL: not read then, or
 * not now).  There are as many as the two rule sets' dated values make
 * pairs, not as many as decisions: the lists are bounded by the rules. */
typedef struct rp_pmove {
    char *id, *from, *to;
    int64_t count, same;          /* decisions, and of them those whose outcome stayed */
} rp_pmove;

typedef struct rp_prog {
    char *name;
    int64_t decisions;
    rp_cell cell[K_N][K_N];
    rp_vmove *vmoves;             /* in no order until sorted by tally_sort */
    size_t nvmoves, avmoves;
    rp_pmove *pmoves;
    size_t npmoves, apmoves;
} rp_prog;

/* A difference (original mode) or an error (candidate mode). */
typedef struct rp_note {
    int64_t seq;
    char decision_id[32];
    char program[64];
    char what[384];
} rp_note;

/* What one worker found; merged into the report at the end. */
typedef struct rp_tally {
    int64_t apps, decisions, differences, errors;
    int64_t extra;                /* original: of the differences, decisions made now of a
                                     programme the application had none of */
    int64_t over;                 /* original: of the errors, rule errors of a limit (the
                                     instruction budget, the memory cap, the time limit) */
    int64_t over_seq;             /* the first of them */
    char over_id[32];
    rp_prog *progs;
    size_t nprogs, aprogs;
    rp_note *notes;               /* the first ones, by seq */
    size_t nnotes;
    size_t max_notes;
    size_t sample;
    int failed;                   /* out of memory: the counts are not whole */
} rp_tally;

struct replay_report {
    int original;
    char ruleset[65];
    size_t jobs;
    size_t nrulesets;
    double secs;
    engine_config limits;         /* the replay's, defaults filled in */
    char over_started[32];        /* the start of the server that decided the first
                                     decision over a limit, or "" */
    char over_limits[160];        /* the limits that start recorded, or "" */
    rp_tally t;
};

/* ---- Batches and the queue ------------------------------------------------ */

/* A stored rule set met by the reader (original mode). */
typedef struct rp_rules {
    struct rp_rules *next;
    char hash[65];
    ruleset *rs;                  /* NULL when it could not be loaded: */
    char error[256];              /* why */
} rp_rules;

typedef struct rp_dec {
    int64_t seq;
    size_t id, program, outcome, json, json_len;   /* offsets into the arena */
} rp_dec;

typedef struct rp_app {
    size_t request, request_len, as_of, applicant_id;
    int64_t first_seq;
    int whole;                    /* every decision of the application selected */
    const rp_rules *rules;        /* original mode */
    size_t dec0, ndec;
} rp_app;

typedef struct rp_batch {
    struct rp_batch *next;
    buf text;
    rp_app app[REPLAY_BATCH];
    size_t napps;
    rp_dec *dec;
    size_t ndec, adec;
} rp_batch;

typedef struct rp_shared rp_shared;

typedef struct rp_worker {
    rp_shared *sh;
    pthread_t thread;
    engine *en;                   /* candidate mode */
    struct {                      /* original mode: an engine per rule set met */
        const rp_rules *rules;
        engine *en;
    } *engines;
    size_t nengines, aengines;
    store *reader;                /* for history the decisions did not record */
    int64_t before_seq;
    buf history;                  /* the recorded rows given to the engine */
    rp_tally t;
} rp_worker;

#define QUEUE_MAX_PER_WORKER 4

struct rp_shared {
    const replay_config *cfg;
    int original;
    pthread_mutex_t mu;
    pthread_cond_t ready, room;
    rp_batch *head, *tail, *free;
    size_t nqueued, queue_max;
    int closed;
    atomic_llong done;            /* decisions re-decided */
};

#ifndef NDEBUG
static void replay_check(const rp_shared *sh)
{
    size_t n = 0;
    for (const rp_batch *b = sh->head; b; b = b->next)
        n++;
    assert(n == sh->nqueued);                        /* 1 */
    assert((sh->head == NULL) == (sh->tail == NULL)); /* 1 */
    assert(sh->nqueued <= sh->queue_max);            /* 2 */
}
#else
#define replay_check(sh) ((void)0)
#endif

static double replay_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void batch_free(rp_batch *b)
{
    if (!b)
        return;
    buf_free(&b->text);
    free(b->dec);
    free(b);
}

/* The worker side: the next batch, or NULL once the queue is closed and empty. */
static rp_batch *queue_pop(rp_shared *sh)
{
    pthread_mutex_lock(&sh->mu);
    while (!sh->head && !sh->closed)
        pthread_cond_wait(&sh->ready, &sh->mu);
    rp_batch *b = sh->head;
    if (b) {
        sh->head = b->next;
        if (!sh->head)
            sh->tail = NULL;
        sh->nqueued--;
        b->next = NULL;
        pthread_cond_signal(&sh->room);
    }
    replay_check(sh);
    pthread_mutex_unlock(&sh->mu);
    return b;
}

static void queue_recycle(rp_shared *sh, rp_batch *b)
{
    pthread_mutex_lock(&sh->mu);
    b->next = sh->free;
    sh->free = b;
    pthread_mutex_unlock(&sh->mu);
}

/* The reader side: wait for room, push B. */
static void queue_push(rp_shared *sh, rp_batch *b)
{
    pthread_mutex_lock(&sh->mu);
    while (sh->nqueued >= sh->queue_max)
        pthread_cond_wait(&sh->room, &sh->mu);
    b->next = NULL;
    if (sh->tail)
        sh->tail->next = b;
    else
        sh->head = b;
    sh->tail = b;
    sh->nqueued++;
    replay_check(sh);
    pthread_cond_signal(&sh->ready);
    pthread_mutex_unlock(&sh->mu);
}

/* An empty batch: a recycled one, or a new one (NULL when memory is out). */
static rp_batch *queue_take_free(rp_shared *sh)
{
    pthread_mutex_lock(&sh->mu);
    rp_batch *b = sh->free;
    if (b)
        sh->free = b->next;
    pthread_mutex_unlock(&sh->mu);
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b)
            return NULL;
        buf_init(&b->text, REPLAY_BATCH_TEXT);
    }
    b->next = NULL;
    b->napps = 0;
    b->ndec = 0;
    buf_reset(&b->text);
    return b;
}

static void queue_close(rp_shared *sh)
{
    pthread_mutex_lock(&sh->mu);
    sh->closed = 1;
    pthread_cond_broadcast(&sh->ready);
    pthread_mutex_unlock(&sh->mu);
}

/* Copy S (NUL-terminated, or LEN bytes) into B's arena; its offset, or
 * (size_t)-1 for NULL.  *FAILED is set when the arena is full. */
static size_t batch_str(rp_batch *b, const char *s, size_t len, int *failed)
{
    if (!s)
        return (size_t)-1;
    size_t off = b->text.len;
    if (buf_add(&b->text, s, len) != 0 || buf_addc(&b->text, '\0') != 0)
        *failed = 1;
    return off;
}

static const char *batch_at(const rp_batch *b, size_t off)
{
    return off == (size_t)-1 ? NULL : b->text.data + off;
}

/* Add the scanned application A to B; BY_PROGRAM: a --program filter may
 * have left some of its decisions out.  0, or -1 when memory is out. */
static int batch_add(rp_batch *b, const store_scan_app *a, const rp_rules *rules, int by_program)
{
    int failed = 0;
    if (b->ndec + a->ndecisions > b->adec) {
        size_t na = b->adec ? b->adec : 256;
        while (na < b->ndec + a->ndecisions)
            na *= 2;
        rp_dec *nd = realloc(b->dec, na * sizeof *nd);
        if (!nd)
            return -1;
        b->dec = nd;
        b->adec = na;
    }
    rp_app *ap = &b->app[b->napps];
    ap->request = batch_str(b, a->request, a->request_len, &failed);
    ap->request_len = a->request_len;
    ap->as_of = batch_str(b, a->as_of, a->as_of ? strlen(a->as_of) : 0, &failed);
    ap->applicant_id = batch_str(b, a->applicant_id,
                                 a->applicant_id ? strlen(a->applicant_id) : 0, &failed);
    ap->first_seq = a->first_seq;
    /* Without a filter that leaves decisions out, one fewer than the
     * application made is a decision gone from the database: what is decided
     * now for its programme is then "not originally". */
    ap->whole = !by_program || (int64_t)a->ndecisions == a->ndecisions_stored;
    ap->rules = rules;
    ap->dec0 = b->ndec;
    ap->ndec = a->ndecisions;
    for (size_t k = 0; k < a->ndecisions; k++) {
        const store_scan_decision *d = &a->decisions[k];
        rp_dec *rd = &b->dec[b->ndec + k];
        rd->seq = d->seq;
        rd->id = batch_str(b, d->decision_id, strlen(d->decision_id), &failed);
        rd->program = batch_str(b, d->program, strlen(d->program), &failed);
        rd->outcome = batch_str(b, d->outcome, strlen(d->outcome), &failed);
        rd->json = batch_str(b, d->json, d->json_len, &failed);
        rd->json_len = d->json_len;
    }
    if (failed)
        return -1;
    b->ndec += a->ndecisions;
    b->napps++;
    return 0;
}

/* ---- Tallies ---------------------------------------------------------------- */

static rp_prog *tally_prog(rp_tally *t, const char *name)
{
    for (size_t i = 0; i < t->nprogs; i++)
        if (!strcmp(t->progs[i].name, name))
            return &t->progs[i];
    if (t->nprogs == t->aprogs) {
        size_t na = t->aprogs ? 2 * t->aprogs : 8;
        rp_prog *np = realloc(t->progs, na * sizeof *np);
        if (!np)
            return NULL;
        t->progs = np;
        t->aprogs = na;
    }
    rp_prog *p = &t->progs[t->nprogs];
    memset(p, 0, sizeof *p);
    p->name = strdup(name);
    if (!p->name)
        return NULL;
    t->nprogs++;
    return p;
}

static rp_crit *cell_crit(rp_cell *c, const char *id)
{
    for (size_t i = 0; i < c->ncrit; i++)
        if (!strcmp(c->crit[i].id, id))
            return &c->crit[i];
    if (c->ncrit == c->acrit) {
        size_t na = c->acrit ? 2 * c->acrit : 4;
        rp_crit *nc = realloc(c->crit, na * sizeof *nc);
        if (!nc)
            return NULL;
        c->crit = nc;
        c->acrit = na;
    }
    rp_crit *k = &c->crit[c->ncrit];
    memset(k, 0, sizeof *k);
    k->id = strdup(id);
    if (!k->id)
        return NULL;
    c->ncrit++;
    return k;
}

/* Keep SEQ/ID among the cell's N smallest; a worker meets seqs ascending. */
static int cell_sample(rp_cell *c, size_t n, int64_t seq, const char *id)
{
    if (n == 0)
        return 0;
    if (!c->sample_seq) {
        c->sample_seq = malloc(n * sizeof *c->sample_seq);
        c->sample_id = malloc(n * sizeof *c->sample_id);
        if (!c->sample_seq || !c->sample_id)
            return -1;
    }
    if (c->nsample == n)
        return 0;
    c->sample_seq[c->nsample] = seq;
    snprintf(c->sample_id[c->nsample], sizeof c->sample_id[0], "%s", id ? id : "");
    c->nsample++;
    return 0;
}

/* Merge SC's sample into DC's: two ascending lists, the N smallest kept. */
static int cell_merge_sample(rp_cell *dc, const rp_cell *sc, size_t n)
{
    if (sc->nsample == 0)
        return 0;
    size_t na = dc->nsample, nb = sc->nsample, i = 0, j = 0, o = 0;
    int64_t seqs[n];
    char ids[n][32];
    while (o < n && (i < na || j < nb)) {
        if (j >= nb || (i < na && dc->sample_seq[i] < sc->sample_seq[j])) {
            seqs[o] = dc->sample_seq[i];
            memcpy(ids[o++], dc->sample_id[i++], 32);
        } else {
            seqs[o] = sc->sample_seq[j];
            memcpy(ids[o++], sc->sample_id[j++], 32);
        }
    }
    if (!dc->sample_seq && cell_sample(dc, n, seqs[0], ids[0]) != 0)
        return -1;
    memcpy(dc->sample_seq, seqs, o * sizeof seqs[0]);
    memcpy(dc->sample_id, ids, o * sizeof ids[0]);
    dc->nsample = o;
    return 0;
}

static void cell_free(rp_cell *c)
{
    for (size_t k = 0; k < c->ncrit; k++)
        free(c->crit[k].id);
    free(c->crit);
    free(c->sample_seq);
    free(c->sample_id);
}

/* Equal strings, either possibly NULL. */
static int same_str(const char *a, const char *b)
{
    return a && b ? !strcmp(a, b) : a == b;
}

/* NULL stays NULL; *FAILED is set when a copy cannot be made. */
static char *dup_or_null(const char *s, int *failed)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *failed = 1;
    return d;
}

/* The entry of P's version moves from FROM to TO, added when new (NULL when
 * out of memory). */
static rp_vmove *prog_vmove(rp_prog *p, const char *from, const char *to)
{
    for (size_t i = 0; i < p->nvmoves; i++)
        if (same_str(p->vmoves[i].from, from) && same_str(p->vmoves[i].to, to))
            return &p->vmoves[i];
    if (p->nvmoves == p->avmoves) {
        size_t na = p->avmoves ? 2 * p->avmoves : 2;
        rp_vmove *nv = realloc(p->vmoves, na * sizeof *nv);
        if (!nv)
            return NULL;
        p->vmoves = nv;
        p->avmoves = na;
    }
    rp_vmove *v = &p->vmoves[p->nvmoves];
    memset(v, 0, sizeof *v);
    int failed = 0;
    v->from = dup_or_null(from, &failed);
    v->to = dup_or_null(to, &failed);
    if (failed) {   /* not kept: a half-made entry would match wrongly */
        free(v->from);
        free(v->to);
        return NULL;
    }
    p->nvmoves++;
    return v;
}

/* The entry of P's parameter moves of ID from FROM to TO, as prog_vmove. */
static rp_pmove *prog_pmove(rp_prog *p, const char *id, const char *from, const char *to)
{
    for (size_t i = 0; i < p->npmoves; i++) {
        rp_pmove *m = &p->pmoves[i];
        if (!strcmp(m->id, id) && same_str(m->from, from) && same_str(m->to, to))
            return m;
    }
    if (p->npmoves == p->apmoves) {
        size_t na = p->apmoves ? 2 * p->apmoves : 4;
        rp_pmove *nm = realloc(p->pmoves, na * sizeof *nm);
        if (!nm)
            return NULL;
        p->pmoves = nm;
        p->apmoves = na;
    }
    rp_pmove *m = &p->pmoves[p->npmoves];
    memset(m, 0, sizeof *m);
    int failed = 0;
    m->id = dup_or_null(id, &failed);
    m->from = dup_or_null(from, &failed);
    m->to = dup_or_null(to, &failed);
    if (failed) {
        free(m->id);
        free(m->from);
        free(m->to);
        return NULL;
    }
    p->npmoves++;
    return m;
}

static void tally_note(rp_tally *t, int64_t seq, const char *id, const char *program,
                       const char *what)
{
    if (t->nnotes >= t->max_notes)
        return;
    if (!t->notes) {
        t->notes = malloc(t->max_notes * sizeof *t->notes);
        if (!t->notes) {
            t->failed = 1;
            return;
        }
    }
    rp_note *n = &t->notes[t->nnotes++];
    n->seq = seq;
    snprintf(n->decision_id, sizeof n->decision_id, "%s", id ? id : "");
    snprintf(n->program, sizeof n->program, "%s", program ? program : "");
    snprintf(n->what, sizeof n->what, "%s", what);
}

static void tally_free(rp_tally *t)
{
    for (size_t i = 0; i < t->nprogs; i++) {
        rp_prog *p = &t->progs[i];
        for (int a = 0; a < K_N; a++)
            for (int b = 0; b < K_N; b++)
                cell_free(&p->cell[a][b]);
        for (size_t k = 0; k < p->nvmoves; k++) {
            free(p->vmoves[k].from);
            free(p->vmoves[k].to);
            cell_free(&p->vmoves[k].cell);
        }
        free(p->vmoves);
        for (size_t k = 0; k < p->npmoves; k++) {
            free(p->pmoves[k].id);
            free(p->pmoves[k].from);
            free(p->pmoves[k].to);
        }
        free(p->pmoves);
        free(p->name);
    }
    free(t->progs);
    free(t->notes);
    memset(t, 0, sizeof *t);
}

/* Add SRC's counts into DST (SRC is left as it was). */
static void tally_merge(rp_tally *dst, const rp_tally *src)
{
    dst->apps += src->apps;
    dst->decisions += src->decisions;
    dst->differences += src->differences;
    dst->extra += src->extra;
    dst->errors += src->errors;
    if (src->over && (!dst->over || src->over_seq < dst->over_seq)) {
        dst->over_seq = src->over_seq;
        memcpy(dst->over_id, src->over_id, sizeof dst->over_id);
    }
    dst->over += src->over;
    dst->failed |= src->failed;
    for (size_t i = 0; i < src->nprogs; i++) {
        const rp_prog *sp = &src->progs[i];
        rp_prog *dp = tally_prog(dst, sp->name);
        if (!dp) {
            dst->failed = 1;
            continue;
        }
        dp->decisions += sp->decisions;
        for (int a = 0; a < K_N; a++)
            for (int b = 0; b < K_N; b++) {
                const rp_cell *sc = &sp->cell[a][b];
                rp_cell *dc = &dp->cell[a][b];
                dc->count += sc->count;
                for (size_t k = 0; k < sc->ncrit; k++) {
                    rp_crit *dk = cell_crit(dc, sc->crit[k].id);
                    if (!dk) {
                        dst->failed = 1;
                        continue;
                    }
                    dk->to_fail += sc->crit[k].to_fail;
                    dk->to_pass += sc->crit[k].to_pass;
                    dk->other += sc->crit[k].other;
                }
                if (cell_merge_sample(dc, sc, dst->sample) != 0)
                    dst->failed = 1;
            }
        for (size_t k = 0; k < sp->nvmoves; k++) {
            const rp_vmove *sv = &sp->vmoves[k];
            rp_vmove *dv = prog_vmove(dp, sv->from, sv->to);
            if (!dv || cell_merge_sample(&dv->cell, &sv->cell, dst->sample) != 0) {
                dst->failed = 1;
                continue;
            }
            dv->cell.count += sv->cell.count;
            dv->same += sv->same;
        }
        for (size_t k = 0; k < sp->npmoves; k++) {
            const rp_pmove *sm = &sp->pmoves[k];
            rp_pmove *dm = prog_pmove(dp, sm->id, sm->from, sm->to);
            if (!dm) {
                dst->failed = 1;
                continue;
            }
            dm->count += sm->count;
            dm->same += sm->same;
        }
    }
    /* Notes: the union, the smallest seqs first. */
    for (size_t i = 0; i < src->nnotes; i++) {
        const rp_note *sn = &src->notes[i];
        if (dst->nnotes < dst->max_notes) {
            tally_note(dst, sn->seq, sn->decision_id, sn->program, sn->what);
        } else if (dst->max_notes && sn->seq < dst->notes[dst->nnotes - 1].seq) {
            dst->notes[dst->nnotes - 1] = *sn;
        } else {
            continue;
        }
        /* One insertion step keeps the list sorted. */
        for (size_t k = dst->nnotes - 1; k > 0 && dst->notes[k].seq < dst->notes[k - 1].seq;
             k--) {
            rp_note tmp = dst->notes[k];
            dst->notes[k] = dst->notes[k - 1];
            dst->notes[k - 1] = tmp;
        }
    }
}

/* "" before any text: a value not read sorts first. */
static int cmp_null(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

static int vmove_cmp(const void *a, const void *b)
{
    const rp_vmove *x = a, *y = b;
    int c = cmp_null(x->from, y->from);
    return c ? c : cmp_null(x->to, y->to);
}

static int pmove_cmp(const void *a, const void *b)
{
    const rp_pmove *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    if (!c)
        c = cmp_null(x->from, y->from);
    return c ? c : cmp_null(x->to, y->to);
}

/* Put the version and parameter moves in one order: which worker met which
 * first must not show in the report. */
static void tally_sort(rp_tally *t)
{
    for (size_t i = 0; i < t->nprogs; i++) {
        rp_prog *p = &t->progs[i];
        if (p->nvmoves)
            qsort(p->vmoves, p->nvmoves, sizeof *p->vmoves, vmove_cmp);
        if (p->npmoves)
            qsort(p->pmoves, p->npmoves, sizeof *p->pmoves, pmove_cmp);
    }
}

/* ---- Comparing two decisions ---------------------------------------------- */

static const char *json_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A criterion's result as a letter: 'T' passed, 'F' failed, 'N' null (its
 * data was missing), '?' anything else. */
static char passed_of(const cJSON *c)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "passed");
    return cJSON_IsTrue(p) ? 'T' : cJSON_IsFalse(p) ? 'F' : cJSON_IsNull(p) ? 'N' : '?';
}

static const char *passed_word(char p)
{
    return p == 'T' ? "passed" : p == 'F' ? "failed" : p == 'N' ? "missing" : "unknown";
}

static const cJSON *crit_find(const cJSON *list, const char *id)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, list)
    {
        const char *cid = json_str(c, "id");
        if (cid && !strcmp(cid, id))
            return c;
    }
    return NULL;
}

static int json_equal_text(const cJSON *a, const cJSON *b)
{
    if (!a || !b)
        return a == b;
    return cJSON_Compare(a, b, 1);
}

/* Append "; "-separated pieces to WHAT (cut to its size). */
static void what_add(char *what, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* How much of S, at most MAX bytes, ends on a whole UTF-8 character. */
static size_t utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return n;
    while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
        max--;   /* s[max] continues the character before it: cut before that one */
    return max;
}

static void what_add(char *what, size_t size, const char *fmt, ...)
{
    size_t n = strlen(what);
    if (n + 3 >= size)
        return;
    if (n)
        n += (size_t)snprintf(what + n, size - n, "; ");
    if (n < size) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(what + n, size - n, fmt, ap);
        va_end(ap);
        if (w > 0 && (size_t)w >= size - n)   /* cut: not inside a character */
            what[n + utf8_cut(what + n, size - n - 1)] = '\0';
    }
}

/* Original mode: describe in WHAT every way NEWD differs from OLD; 0 when it
 * reproduces. */
static int compare_exact(const cJSON *old, const cJSON *newd, char *what, size_t size)
{
    what[0] = '\0';
    const char *oo = json_str(old, "outcome"), *no = json_str(newd, "outcome");
    if (!oo || !no || strcmp(oo, no))
        what_add(what, size, "outcome %s, now %s", oo ? oo : "?", no ? no : "?");
    const char *ov = json_str(old, "program_version"), *nv = json_str(newd, "program_version");
    if ((ov == NULL) != (nv == NULL) || (ov && strcmp(ov, nv)))
        what_add(what, size, "programme version %s, now %s", ov ? ov : "none",
                 nv ? nv : "none");
    const cJSON *oc = cJSON_GetObjectItemCaseSensitive(old, "criteria");
    const cJSON *nc = cJSON_GetObjectItemCaseSensitive(newd, "criteria");
    int on = cJSON_GetArraySize(oc), nn = cJSON_GetArraySize(nc);
    for (int i = 0; i < on || i < nn; i++) {
        const cJSON *a = cJSON_GetArrayItem(oc, i), *b = cJSON_GetArrayItem(nc, i);
        const char *ai = a ? json_str(a, "id") : NULL, *bi = b ? json_str(b, "id") : NULL;
        if (!a || !b || !ai || !bi || strcmp(ai, bi)) {
            what_add(what, size, "criterion %d is %s, now %s", i + 1, ai ? ai : "absent",
                     bi ? bi : "absent");
            continue;
        }
        char pa = passed_of(a), pb = passed_of(b);
        if (pa != pb)
            what_add(what, size, "criterion %s %s, now %s", ai, passed_word(pa), passed_word(pb));
        const char *ma = json_str(a, "message"), *mb = json_str(b, "message");
        if ((ma == NULL) != (mb == NULL) || (ma && strcmp(ma, mb))) {
            /* Each message at most a third of a note, so that both show. */
            const char *x = ma ? ma : "", *y = mb ? mb : "";
            size_t third = size / 3, lx = utf8_cut(x, third), ly = utf8_cut(y, third);
            what_add(what, size, "criterion %s message \"%.*s%s\", now \"%.*s%s\"", ai, (int)lx,
                     x, x[lx] ? "…" : "", (int)ly, y, y[ly] ? "…" : "");
        }
    }
    if (!json_equal_text(cJSON_GetObjectItemCaseSensitive(old, "missing"),
                         cJSON_GetObjectItemCaseSensitive(newd, "missing")))
        what_add(what, size, "the missing fields differ");
    if (!json_equal_text(cJSON_GetObjectItemCaseSensitive(old, "history"),
                         cJSON_GetObjectItemCaseSensitive(newd, "history")))
        what_add(what, size, "the earlier decisions its rules were given differ");
    return what[0] != '\0';
}

/* Candidate mode: count, in CELL, each criterion whose result changed. */
static int compare_criteria(const cJSON *old, const cJSON *newd, rp_cell *cell)
{
    const cJSON *oc = cJSON_GetObjectItemCaseSensitive(old, "criteria");
    const cJSON *nc = cJSON_GetObjectItemCaseSensitive(newd, "criteria");
    const cJSON *c;
    cJSON_ArrayForEach(c, nc)
    {
        const char *id = json_str(c, "id");
        if (!id)
            continue;
        const cJSON *o = crit_find(oc, id);
        char pn = passed_of(c), po = o ? passed_of(o) : 0;
        if (pn == po)
            continue;
        rp_crit *k = cell_crit(cell, id);
        if (!k)
            return -1;
        if (po && pn == 'F')
            k->to_fail++;
        else if (po && pn == 'T')
            k->to_pass++;
        else
            k->other++;   /* a new criterion, or one whose data is now missing */
    }
    cJSON_ArrayForEach(c, oc)
    {
        const char *id = json_str(c, "id");
        if (id && !crit_find(nc, id)) {   /* a criterion the candidate dropped */
            rp_crit *k = cell_crit(cell, id);
            if (!k)
                return -1;
            k->other++;
        }
    }
    return 0;
}

/* Candidate mode: count in P the programme version and the parameter values
 * that NEWD (of outcome index TO) does not share with OLD (of FROM), the
 * version's with a sample (N ids at most, SEQ/ID this decision).  A rule
 * author comparing rule sets sees there what the table of outcomes cannot
 * show: a decision made now under version 2 rather than 1, or with an age
 * limit of 40 rather than 35, whose outcome and criteria stayed.  0, or -1
 * when out of memory. */
static int compare_versions(const cJSON *old, const cJSON *newd, int from, int to, rp_prog *p,
                            size_t n, int64_t seq, const char *id)
{
    const char *ov = json_str(old, "program_version"), *nv = json_str(newd, "program_version");
    if (!same_str(ov, nv)) {
        rp_vmove *v = prog_vmove(p, ov, nv);
        if (!v || cell_sample(&v->cell, n, seq, id) != 0)
            return -1;
        v->cell.count++;
        v->same += from == to;
    }
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(old, "parameters");
    const cJSON *np = cJSON_GetObjectItemCaseSensitive(newd, "parameters");
    /* Each parameter read then (and now, or not), then each read only now. */
    for (int pass = 0; pass < 2; pass++) {
        const cJSON *c, *list = pass ? np : op;
        cJSON_ArrayForEach(c, list)
        {
            if (!c->string)
                continue;
            const cJSON *other = cJSON_GetObjectItemCaseSensitive(pass ? op : np, c->string);
            if (pass ? other != NULL : (other && cJSON_Compare(c, other, 1)))
                continue;
            const cJSON *w = pass ? other : c, *x = pass ? c : other;
            char *was = w ? cJSON_PrintUnformatted(w) : NULL;
            char *now = x ? cJSON_PrintUnformatted(x) : NULL;
            rp_pmove *m = (!w || was) && (!x || now) ? prog_pmove(p, c->string, was, now) : NULL;
            free(was);
            free(now);
            if (!m)
                return -1;
            m->count++;
            m->same += from == to;
        }
    }
    return 0;
}

/* ---- Comparing without parsing ------------------------------------------- */

/* Decision JSON is canonical (engine.h): the same decision always gives the
 * same bytes, members in the same order.  So most comparisons need no
 * parsing: two decisions are the same when their texts are equal but for
 * the values that name this particular decision -- its id, when it was
 * made, the rule set that made it.  Those values are ids, hashes and times,
 * never containing a quote, and a key pattern such as "ruleset":" cannot
 * occur inside a JSON string (its quotes would be escaped).  Rows in
 * "history" carry the same member names; the replay gives the rules the
 * recorded rows, so they are the same rows either way. */
static const char *const masked_keys[] = {"\"decision_id\":\"", "\"decided_at\":\"",
                                          "\"ruleset\":\""};
static const size_t masked_len[] = {15, 14, 11};

/* How many bytes A and B (N each) have in common from the start: eight at a
 * time while they agree. */
static size_t common_prefix(const char *a, const char *b, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            break;
    }
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

/* Is P inside the value of a masked key, that is after `"key":"` with no
 * quote between (S is where the text starts)?  The value's start when so,
 * else NULL. */
static const char *masked_value(const char *s, const char *p)
{
    const char *q = p;
    while (q > s && q[-1] != '"')
        q--;
    if (q == s)
        return NULL;
    for (size_t k = 0; k < sizeof masked_keys / sizeof masked_keys[0]; k++) {
        size_t n = masked_len[k];
        if ((size_t)(q - s) >= n && !memcmp(q - n, masked_keys[k], n))
            return q;
    }
    return NULL;
}

/* One pass over both texts: where they first differ, the difference must
 * lie in the value of a masked key found at the same place in both (each
 * then skips to the value's closing quote), else the decisions differ. */
static int same_decision(const char *a, size_t alen, const char *b, size_t blen)
{
    const char *as = a, *bs = b, *ae = a + alen, *be = b + blen;
    for (;;) {
        size_t la = (size_t)(ae - a), lb = (size_t)(be - b);
        size_t n = common_prefix(a, b, la < lb ? la : lb);
        a += n;
        b += n;
        if (a == ae || b == be)
            return a == ae && b == be;
        const char *va = masked_value(as, a), *vb = masked_value(bs, b);
        if (!va || !vb || a - va != b - vb)   /* the same key, as far back */
            return 0;
        const char *qa = memchr(a, '"', (size_t)(ae - a)), *qb = memchr(b, '"', (size_t)(be - b));
        if (!qa || !qb)
            return 0;
        a = qa;
        b = qb;
    }
}

/* The text of the decision's "history" array, [start, *END), or NULL.  The
 * decision's own member is the last one of that name (it follows
 * decided_at); a rule's compared values could hold another, nested. */
static const char *history_span(const char *j, size_t len, const char **end)
{
    static const char key[] = "\"history\":[";
    const char *e = j + len, *p = NULL, *q = j;
    if (len < 3 || j[len - 2] != ']')   /* the member, when there, is the last */
        return NULL;
    while ((q = memchr(q, '"', (size_t)(e - q))) != NULL) {   /* no memmem in C11 */
        if ((size_t)(e - q) >= sizeof key - 1 && q[1] == 'h' && !memcmp(q, key, sizeof key - 1))
            p = q;
        q++;
    }
    if (!p)
        return NULL;
    const char *start = p + sizeof key - 2;   /* the '[' */
    int depth = 0, instr = 0;
    for (q = start; q < e; q++) {
        if (instr) {
            if (*q == '\\')
                q++;
            else if (*q == '"')
                instr = 0;
        } else if (*q == '"') {
            instr = 1;
        } else if (*q == '[' || *q == '{') {
            depth++;
        } else if ((*q == ']' || *q == '}') && --depth == 0) {
            *end = q + 1;
            return start;
        }
    }
    return NULL;
}

/* ---- Workers ------------------------------------------------------------- */

/* The worker's own read-only handle, opened on first use: 0, or -1. */
static int worker_reader(rp_worker *wk)
{
    err e;
    err_clear(&e);
    if (!wk->reader && store_open(&wk->reader, wk->sh->cfg->db_path, STORE_READONLY, &e) != 0) {
        wk->reader = NULL;
        return -1;
    }
    return 0;
}

/* engine_history_fn for applications whose decisions recorded no rows. */
static int worker_history(void *ud, const char *applicant_id, buf *out)
{
    rp_worker *wk = ud;
    err e;
    err_clear(&e);
    if (worker_reader(wk) != 0)
        return -1;
    return store_applicant_decisions(wk->reader, applicant_id, wk->before_seq,
                                     REPLAY_HISTORY_ROWS, out, NULL, &e) < 0 ? -1 : 0;
}

/* The engine for APP: the candidate's, or the one of its stored rule set
 * (built on first use).  NULL with WHY set when there is none. */
static engine *worker_engine(rp_worker *wk, const rp_app *app, char *why, size_t size)
{
    if (!wk->sh->original)
        return wk->en;
    const rp_rules *r = app->rules;
    if (!r->rs) {
        snprintf(why, size, "%s", r->error);
        return NULL;
    }
    for (size_t i = 0; i < wk->nengines; i++)
        if (wk->engines[i].rules == r) {
            if (!wk->engines[i].en)
                snprintf(why, size, "rule set %.12s does not compile", r->hash);
            return wk->engines[i].en;
        }
    if (wk->nengines == wk->aengines) {
        size_t na = wk->aengines ? 2 * wk->aengines : 4;
        void *ne = realloc(wk->engines, na * sizeof *wk->engines);
        if (!ne) {
            snprintf(why, size, "out of memory");
            return NULL;
        }
        wk->engines = ne;
        wk->aengines = na;
    }
    err e;
    err_clear(&e);
    engine *en = engine_new(r->rs, &wk->sh->cfg->engine, &e);
    if (en)
        engine_set_history(en, worker_history, wk);
    else
        snprintf(why, size, "rule set %.12s does not compile: %s", r->hash, e.msg);
    wk->engines[wk->nengines].rules = r;
    wk->engines[wk->nengines].en = en;
    wk->nengines++;
    return en;
}

/* Count one stored decision whose replay went FROM -> TO. */
static rp_cell *worker_count(rp_worker *wk, const char *program, int from, int to,
                             int64_t seq, const char *id)
{
    rp_prog *p = tally_prog(&wk->t, program);
    if (!p) {
        wk->t.failed = 1;
        return NULL;
    }
    if (from != K_NONE)
        p->decisions++;
    rp_cell *c = &p->cell[from][to];
    c->count++;
    if (from != to && cell_sample(c, wk->t.sample, seq, id) != 0)
        wk->t.failed = 1;
    return c;
}

/* A row of recorded history, for worker_recorded: its id and where it came
 * from (list, then place), the order the union keeps. */
typedef struct rec_row {
    const char *id;
    size_t order;
    cJSON *row;
    int64_t seq;      /* the union's order: the store's, newest first */
} rec_row;

static int rec_row_by_id(const void *a, const void *b)
{
    const rec_row *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

static int rec_row_newest_first(const void *a, const void *b)
{
    const rec_row *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? 1 : -1;
    return (x->order > y->order) - (x->order < y->order);
}

/* Put in wk->history the rows the ND decisions DECS recorded, and return 1;
 * 0 when none recorded any.  Each records the rows its own rules were given
 * -- a rule that asked for one programme's, those -- so the programmes of a
 * screen may have recorded different parts of one past.  When one list
 * holds every other's rows (a rule read them all), it is given as it is.
 * Otherwise the union, newest first as the store gave them: ordered by each
 * row's seq, looked up.  (A database read of the past instead would hold
 * what was still in flight when they were decided, which the rules never
 * saw.) */
static int worker_recorded(rp_worker *wk, const rp_batch *b, const rp_dec *decs, size_t nd)
{
    const char *span[64], *span_end[64];
    size_t ns = 0, longest = 0;
    int same = 1;
    for (size_t k = 0; k < nd && ns < sizeof span / sizeof span[0]; k++) {
        const char *end, *h = history_span(batch_at(b, decs[k].json), decs[k].json_len, &end);
        if (!h)
            continue;
        span[ns] = h, span_end[ns] = end;
        same &= end - h == span_end[0] - span[0] && !memcmp(h, span[0], (size_t)(end - h));
        if (end - h > span_end[longest] - span[longest])
            longest = ns;
        ns++;
    }
    buf_reset(&wk->history);
    if (!ns)
        return 0;
    if (same)   /* most often */
        return buf_add(&wk->history, span[0], (size_t)(span_end[0] - span[0])) == 0 ||
               (wk->t.failed = 1, 0);

    cJSON *lists[64] = {0};
    rec_row *rows = NULL;
    size_t nrows = 0, cap = 0;
    int ok = 1;
    for (size_t i = 0; i < ns && ok; i++) {
        size_t li = i == 0 ? longest : i == longest ? 0 : i;   /* the longest first */
        lists[i] = cJSON_ParseWithLength(span[li], (size_t)(span_end[li] - span[li]));
        ok = lists[i] != NULL;
        cJSON *list = lists[i], *row;
        cJSON_ArrayForEach(row, list) {
            if (nrows == cap) {
                cap = cap ? 2 * cap : 64;
                rec_row *more = realloc(rows, cap * sizeof *rows);
                if (!more) {
                    ok = 0;
                    break;
                }
                rows = more;
            }
            const char *id = json_str(row, "decision_id");
            rows[nrows] = (rec_row){id ? id : "", nrows, row, 0};
            nrows++;
        }
    }
    size_t first = ok ? (size_t)cJSON_GetArraySize(lists[0]) : 0, dup = 0;
    if (ok) {
        qsort(rows, nrows, sizeof *rows, rec_row_by_id);
        for (size_t i = 1; i < nrows; i++)
            if (rows[i].id[0] && !strcmp(rows[i].id, rows[i - 1].id) && rows[i].order >= first) {
                rows[i].row = NULL;   /* there already, earlier in the union */
                dup++;
            }
        /* Every row of the others already in the longest: it holds them all. */
        if (nrows - dup == first) {
            ok = buf_add(&wk->history, span[longest],
                         (size_t)(span_end[longest] - span[longest])) == 0;
        } else {
            /* Their seqs (0, last, for one not stored: a damaged file). */
            const char **ids = malloc(nrows * sizeof *ids);
            int64_t *seqs = malloc(nrows * sizeof *seqs);
            err e;
            err_clear(&e);
            ok = ids && seqs && worker_reader(wk) == 0;
            for (size_t i = 0; ok && i < nrows; i++)
                ids[i] = rows[i].id;
            ok = ok && store_decision_seqs(wk->reader, ids, nrows, seqs, &e) == 0;
            for (size_t i = 0; ok && i < nrows; i++)
                rows[i].seq = seqs[i];
            free(ids);
            free(seqs);
            qsort(rows, nrows, sizeof *rows, rec_row_newest_first);
            cJSON *all = ok ? cJSON_CreateArray() : NULL;
            for (size_t i = 0; all && ok && i < nrows; i++)
                if (rows[i].row)
                    ok = cJSON_AddItemReferenceToArray(all, rows[i].row);
            char *text = all && ok ? cJSON_PrintUnformatted(all) : NULL;
            ok = text && buf_adds(&wk->history, text) == 0;
            cJSON_free(text);
            cJSON_Delete(all);
        }
    }
    for (size_t i = 0; i < ns; i++)
        cJSON_Delete(lists[i]);
    free(rows);
    if (!ok)
        wk->t.failed = 1;
    return ok;
}

/* Whether R is a rule error of a limit the replay sets (engine.c's words):
 * a server given more than the replay's would have decided it. */
static int over_limit(const engine_result *r)
{
    const char *m = r->error_message;
    return r->error_code && !strcmp(r->error_code, "rule_error") && m &&
           (strstr(m, "instruction budget of ") || strstr(m, "memory cap of ") ||
            strstr(m, "time limit of ")) && strstr(m, " exceeded");
}

static void worker_app(rp_worker *wk, const rp_batch *b, const rp_app *app)
{
    rp_shared *sh = wk->sh;
    const rp_dec *decs = &b->dec[app->dec0];
    size_t nd = app->ndec;
    char what[384];
    engine_result *r = NULL;

    /* The rows the rules were given, as the decisions recorded them
     * (worker_recorded); rules whose decisions recorded none are answered
     * from the database as it stood before the application (worker_history). */
    int has_history = worker_recorded(wk, b, decs, nd);
    wk->t.apps++;
    wk->t.decisions += (int64_t)nd;

    engine *en = worker_engine(wk, app, what, sizeof what);
    if (en) {
        engine_defaults d = {.as_of = batch_at(b, app->as_of),
                             .history = has_history ? wk->history.data : NULL};
        wk->before_seq = app->first_seq;
        r = engine_request(en, batch_at(b, app->request), app->request_len, &d);
        if (!r)
            snprintf(what, sizeof what, "out of memory");
        else if (r->error_code)
            snprintf(what, sizeof what, "%s: %s", r->error_code,
                     r->error_message ? r->error_message : "");
    }
    int failed = !r || r->error_code;
    int gone = r && r->error_code && !strcmp(r->error_code, "unknown_program");

    /* Each stored decision against the new one of the same programme. */
    char used[r && !failed ? r->ndecisions + 1 : 1];
    memset(used, 0, sizeof used);
    for (size_t k = 0; k < nd; k++) {
        const rp_dec *dd = &decs[k];
        const char *id = batch_at(b, dd->id), *prog = batch_at(b, dd->program);
        const char *oj = batch_at(b, dd->json);
        int from = kind_of(batch_at(b, dd->outcome));
        const engine_decision *nw = NULL;
        if (!failed)
            for (size_t j = 0; j < r->ndecisions; j++)
                if (!used[j] && !strcmp(r->decisions[j].program, prog)) {
                    used[j] = 1;
                    nw = &r->decisions[j];
                    break;
                }
        int same = nw && same_decision(oj, dd->json_len, nw->json, nw->json_len);
        cJSON *old = NULL, *newd = NULL;
        if (nw && !same) {
            old = cJSON_ParseWithLength(oj, dd->json_len);
            newd = cJSON_ParseWithLength(nw->json, nw->json_len);
            if (!newd)
                wk->t.failed = 1;
        }
        if (sh->original) {
            int differs = 0;
            if (failed) {
                differs = 1, wk->t.errors++;
                if (r && over_limit(r) && (!wk->t.over || dd->seq < wk->t.over_seq)) {
                    wk->t.over_seq = dd->seq;
                    snprintf(wk->t.over_id, sizeof wk->t.over_id, "%s", id);
                }
                wk->t.over += r && over_limit(r);
            }
            else if (!nw)
                differs = 1, snprintf(what, sizeof what, "not decided now (programme not in "
                                                         "force on its date)");
            else if (same && strcmp(batch_at(b, dd->outcome), nw->outcome) != 0)
                /* The column audit list and stats read, against the JSON. */
                differs = 1, snprintf(what, sizeof what, "its outcome column says %s, its "
                                      "decision and the replay %s", batch_at(b, dd->outcome),
                                      nw->outcome);
            else if (same)
                differs = 0;
            else if (!old)
                differs = 1, snprintf(what, sizeof what, "the stored decision is not JSON");
            else if (newd)
                differs = compare_exact(old, newd, what, sizeof what);
            if (differs) {
                wk->t.differences++;
                tally_note(&wk->t, dd->seq, id, prog, what);
            }
        } else {
            int to = failed ? (gone ? K_NONE : K_ERROR) : nw ? kind_of(nw->outcome) : K_NONE;
            rp_cell *c = worker_count(wk, prog, from, to, dd->seq, id);
            if (to == K_ERROR) {
                wk->t.errors++;
                tally_note(&wk->t, dd->seq, id, prog, what);
            }
            if (c && newd && old && compare_criteria(old, newd, c) != 0)
                wk->t.failed = 1;
            if (c && newd && old &&
                compare_versions(old, newd, from, to, tally_prog(&wk->t, prog), wk->t.sample,
                                 dd->seq, id) != 0)
                wk->t.failed = 1;
        }
        cJSON_Delete(old);
        cJSON_Delete(newd);
    }
    /* Programmes decided now and not originally: only when the whole
     * application was selected (a --program filter leaves the others out). */
    if (!failed && app->whole)
        for (size_t j = 0; j < r->ndecisions; j++) {
            if (used[j])
                continue;
            if (sh->original) {
                wk->t.differences++;
                wk->t.extra++;   /* no stored decision differs for it */
                snprintf(what, sizeof what, "decided now (%s), but no decision of it is "
                         "stored with the application (one deleted? eligo verify says)",
                         r->decisions[j].outcome);
                tally_note(&wk->t, decs[0].seq, "", r->decisions[j].program, what);
            } else {
                /* The sample names a stored decision of the application
                 * (the new one was never stored). */
                worker_count(wk, r->decisions[j].program, K_NONE,
                             kind_of(r->decisions[j].outcome), decs[0].seq,
                             batch_at(b, decs[0].id));
            }
        }
    engine_result_free(r);
}

static void *worker_main(void *arg)
{
    rp_worker *wk = arg;
    rp_batch *b;
    while ((b = queue_pop(wk->sh)) != NULL) {
        for (size_t i = 0; i < b->napps; i++)
            worker_app(wk, b, &b->app[i]);
        atomic_fetch_add(&wk->sh->done, (long long)b->ndec);
        queue_recycle(wk->sh, b);
    }
    return NULL;
}

/* ---- The reader ---------------------------------------------------------- */

/* The entry for stored rule set HASH, loading it the first time. */
static const rp_rules *reader_rules(rp_rules **list, size_t *n, store *st, const char *hash)
{
    for (rp_rules *r = *list; r; r = r->next)
        if (!strcmp(r->hash, hash))
            return r;
    rp_rules *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    snprintf(r->hash, sizeof r->hash, "%s", hash);
    err e;
    err_clear(&e);
    r->rs = store_get_ruleset(st, hash, &e);
    if (!r->rs)
        snprintf(r->error, sizeof r->error, "its rule set %.12s cannot be loaded: %s", hash,
                 e.msg);
    r->next = *list;
    *list = r;
    (*n)++;
    return r;
}

/* The limits of the server that decided the first decision over a limit,
 * from its start event ("..., limits --instructions N --memory M
 * --time-limit T"), into REP; left "" when they cannot be read (a start
 * recorded by an eligo that did not name them). */
static void over_server(store *st, replay_report *rep)
{
    buf dec, when, detail;
    buf_init(&dec, (size_t)1 << 30);   /* a decision, its history rows too */
    buf_init(&when, 64);
    buf_init(&detail, 16384);
    err e;
    err_clear(&e);
    if (store_get_decision(st, rep->t.over_id, &dec, &e) == 0) {
        cJSON *d = cJSON_ParseWithLength(dec.data, dec.len);
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(d, "decided_at");
        if (cJSON_IsString(at) &&
            store_started(st, at->valuestring, &when, &detail, &e) == 1 && when.data &&
            detail.data) {
            snprintf(rep->over_started, sizeof rep->over_started, "%.*s", (int)when.len,
                     when.data);
            const char *l = strstr(detail.data, "limits --instructions ");
            if (l)
                snprintf(rep->over_limits, sizeof rep->over_limits, "%s", l + strlen("limits "));
        }
        cJSON_Delete(d);
    }
    buf_free(&dec);
    buf_free(&when);
    buf_free(&detail);
}

/* Read the applications SCAN selects and queue them to the workers in
 * batches, loading each stored rule set met (original mode) into *RULES;
 * TOTAL and T0 are for CFG's progress.  Returns 0 once all are queued, or
 * -1 with E. */
static int reader_feed(rp_shared *sh, store *st, store_scan *scan, rp_rules **rules,
                       replay_report *rep, int64_t total, double t0, err *e)
{
    const replay_config *cfg = sh->cfg;
    double last = t0;
    rp_batch *b = NULL;
    store_scan_app app;
    int rc;
    while ((rc = store_scan_next(scan, &app, e)) == 1) {
        const rp_rules *r = NULL;
        if (sh->original && !(r = reader_rules(rules, &rep->nrulesets, st, app.ruleset))) {
            err_set(e, "internal", "out of memory");
            rc = -1;
            break;
        }
        if (!b && !(b = queue_take_free(sh))) {
            err_set(e, "internal", "out of memory");
            rc = -1;
            break;
        }
        if (batch_add(b, &app, r, cfg->filter.program != NULL) != 0) {
            err_set(e, "internal", "out of memory (an application of %zu bytes)",
                    app.request_len);
            rc = -1;
            break;
        }
        if (b->napps == REPLAY_BATCH) {
            queue_push(sh, b);
            b = NULL;
            double now = replay_now();
            if (cfg->progress && now - last >= REPLAY_PROGRESS_S) {
                cfg->progress(cfg->ud, (int64_t)atomic_load(&sh->done), total, now - t0);
                last = now;
            }
        }
    }
    if (b && b->napps && rc == 0)
        queue_push(sh, b);
    else
        batch_free(b);
    return rc;
}

/* Set up the NWORKERS workers of SH, with an engine each for a candidate
 * rule set.  Returns 0, or -1 with E; what was set up is for workers_free. */
static int workers_init(rp_worker *workers, size_t nworkers, rp_shared *sh,
                        const replay_report *rep, err *e)
{
    const replay_config *cfg = sh->cfg;
    for (size_t i = 0; i < nworkers; i++) {
        rp_worker *wk = &workers[i];
        wk->sh = sh;
        buf_init(&wk->history, REPLAY_BATCH_TEXT);
        wk->t.sample = rep->t.sample;
        wk->t.max_notes = rep->t.max_notes;
        if (!sh->original) {
            wk->en = engine_new(cfg->rules, &cfg->engine, e);
            if (!wk->en)
                return -1;
            engine_set_history(wk->en, worker_history, wk);
        }
    }
    return 0;
}

/* Free what the NWORKERS workers hold (their threads joined). */
static void workers_free(rp_worker *workers, size_t nworkers)
{
    for (size_t i = 0; i < nworkers; i++) {
        rp_worker *wk = &workers[i];
        engine_free(wk->en);
        for (size_t k = 0; k < wk->nengines; k++)
            engine_free(wk->engines[k].en);
        free(wk->engines);
        store_close(wk->reader);
        buf_free(&wk->history);
        tally_free(&wk->t);
    }
}

/* Free the batches left in SH's queue and free list, and the rule sets of
 * RULES. */
static void reader_free(rp_shared *sh, rp_rules *rules)
{
    while (sh->head) {
        rp_batch *n = sh->head->next;
        batch_free(sh->head);
        sh->head = n;
    }
    while (sh->free) {
        rp_batch *n = sh->free->next;
        batch_free(sh->free);
        sh->free = n;
    }
    while (rules) {
        rp_rules *n = rules->next;
        ruleset_free(rules->rs);
        free(rules);
        rules = n;
    }
}

/* Once the workers are done: their counts merged into REP and sorted, the
 * replay's limits with the defaults filled in, and (when decisions went
 * over them) the limits of the server that decided.  0, or -1 with E. */
static int replay_conclude(replay_report *rep, const rp_worker *workers, size_t nworkers,
                           const replay_config *cfg, store *st, err *e)
{
    for (size_t i = 0; i < nworkers; i++)
        tally_merge(&rep->t, &workers[i].t);
    if (rep->t.failed)
        return err_set(e, "internal", "out of memory while counting");
    tally_sort(&rep->t);
    rep->limits.instructions = cfg->engine.instructions ? cfg->engine.instructions
                                                        : ENGINE_DEFAULT_INSTRUCTIONS;
    rep->limits.memory = cfg->engine.memory ? cfg->engine.memory : ENGINE_DEFAULT_MEMORY;
    rep->limits.time_ms = cfg->engine.time_ms ? cfg->engine.time_ms : ENGINE_DEFAULT_TIME_MS;
    if (rep->t.over)
        over_server(st, rep);
    return 0;
}

int replay_run(const replay_config *cfg, replay_report **out, err *e)
{
    store *st = NULL;
    store_scan *scan = NULL;
    rp_worker *workers = NULL;
    rp_rules *rules = NULL;
    replay_report *rep = NULL;
    rp_shared sh = {.cfg = cfg, .original = cfg->rules == NULL};
    size_t nworkers = cfg->jobs, started = 0;
    int ret = -1;

    *out = NULL;
    if (!nworkers) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        nworkers = n > 0 ? (size_t)n : 1;
    }
    rep = calloc(1, sizeof *rep);
    workers = calloc(nworkers, sizeof *workers);
    if (!rep || !workers) {
        err_set(e, "internal", "out of memory");
        goto fail_alloc;
    }
    rep->original = sh.original;
    rep->jobs = nworkers;
    if (cfg->rules)
        snprintf(rep->ruleset, sizeof rep->ruleset, "%s", ruleset_hash(cfg->rules));
    rep->t.sample = cfg->sample;
    rep->t.max_notes = cfg->max_listed ? cfg->max_listed : REPLAY_MAX_LISTED;
    if (!sh.original)
        rep->t.max_notes = REPLAY_MAX_ERRORS;

    if (store_open(&st, cfg->db_path, STORE_READONLY, e) != 0)
        goto fail_alloc;
    if (pthread_mutex_init(&sh.mu, NULL) != 0) {
        err_set(e, "internal", "pthread_mutex_init failed");
        goto fail_store;
    }
    pthread_cond_init(&sh.ready, NULL);
    pthread_cond_init(&sh.room, NULL);
    sh.queue_max = QUEUE_MAX_PER_WORKER * nworkers;
    atomic_init(&sh.done, 0);

    /* Engines first, so that a candidate set that does not compile fails
     * before anything is read. */
    if (workers_init(workers, nworkers, &sh, rep, e) != 0)
        goto fail_engines;
    for (; started < nworkers; started++)
        if (pthread_create(&workers[started].thread, NULL, worker_main, &workers[started]) != 0) {
            err_set(e, "internal", "cannot start worker thread %zu", started);
            goto fail_threads;
        }

    const store_scan_filter *f = &cfg->filter;
    int filtered = f->program || f->applicant_id || f->since || f->until || f->ruleset;
    int64_t total = filtered ? 0 : store_count(st);
    if (store_scan_open(st, f, &scan, e) != 0)
        goto fail_threads;

    double t0 = replay_now();
    if (cfg->progress)
        cfg->progress(cfg->ud, 0, total, 0);
    int rc = reader_feed(&sh, st, scan, &rules, rep, total, t0, e);
    queue_close(&sh);
    for (size_t i = 0; i < started; i++)
        pthread_join(workers[i].thread, NULL);
    started = 0;
    rep->secs = replay_now() - t0;
    if (cfg->progress)
        cfg->progress(cfg->ud, (int64_t)atomic_load(&sh.done), total, rep->secs);
    if (rc < 0 || replay_conclude(rep, workers, nworkers, cfg, st, e) != 0)
        goto fail_threads;
    ret = 0;

fail_threads:
    if (started) {
        queue_close(&sh);
        for (size_t i = 0; i < started; i++)
            pthread_join(workers[i].thread, NULL);
    }
    store_scan_close(scan);
fail_engines:
    workers_free(workers, nworkers);
    reader_free(&sh, rules);
    pthread_cond_destroy(&sh.room);
    pthread_cond_destroy(&sh.ready);
    pthread_mutex_destroy(&sh.mu);
fail_store:
    store_close(st);
fail_alloc:
    free(workers);
    if (ret == 0) {
        *out = rep;
    } else {
        if (rep)
            tally_free(&rep->t);
        free(rep);
    }
    return ret;
}

void replay_report_free(replay_report *r)
{
    if (!r)
        return;
    tally_free(&r->t);
    free(r);
}

int64_t replay_applications(const replay_report *r) { return r->t.apps; }
int64_t replay_decisions(const replay_report *r) { return r->t.decisions; }
int64_t replay_differences(const replay_report *r) { return r->t.differences; }
int64_t replay_errors(const replay_report *r) { return r->t.errors; }

/* ---- Reports -------------------------------------------------------------- */

static int prog_cmp(const void *a, const void *b)
{
    return strcmp(((const rp_prog *)a)->name, ((const rp_prog *)b)->name);
}

static double per_s(int64_t n, double secs)
{
    return secs > 0 ? (double)n / secs : 0.0;
}

/* The criteria of a cell as "income (120 now fail), age (3 now pass)". */
static void print_criteria(const rp_cell *c, FILE *f)
{
    for (size_t k = 0; k < c->ncrit; k++) {
        const rp_crit *q = &c->crit[k];
        fprintf(f, "%s%s (", k ? ", " : "", q->id);
        const char *sep = "";
        if (q->to_fail)
            fprintf(f, "%s%lld now fail", sep, (long long)q->to_fail), sep = ", ";
        if (q->to_pass)
            fprintf(f, "%s%lld now pass", sep, (long long)q->to_pass), sep = ", ";
        if (q->other)
            fprintf(f, "%s%lld other", sep, (long long)q->other);
        fputc(')', f);
    }
}

void replay_print(const replay_report *r, FILE *f)
{
    const rp_tally *t = &r->t;
    if (r->original) {
        for (size_t i = 0; i < t->nnotes; i++) {
            if (t->notes[i].decision_id[0])
                fprintf(f, "decision %s (%s, record %lld): %s\n", t->notes[i].decision_id,
                        t->notes[i].program, (long long)t->notes[i].seq, t->notes[i].what);
            else   /* a programme decided now of which none is stored */
                fprintf(f, "the application of record %lld, programme %s: %s\n",
                        (long long)t->notes[i].seq, t->notes[i].program, t->notes[i].what);
        }
        if ((int64_t)t->nnotes < t->differences)
            fprintf(f, "... and %lld more differences\n",
                    (long long)(t->differences - (int64_t)t->nnotes));
        int64_t same = t->decisions - (t->differences - t->extra);
        if (t->decisions == 0) {
            /* A proof over nothing is no proof: say so, not "0 of 0 (100%)". */
            fprintf(f, "no stored decision matched the filters: nothing was re-decided, so "
                    "nothing is shown to reproduce\n");
        } else {
            /* Rounded down, to two places where needed: one decision of
             * 35,000 that differs is not "100%". */
            same = same < 0 ? 0 : same;
            double pct = floor(10000.0 * (double)same / (double)t->decisions) / 100.0;
            fprintf(f, "%lld of %lld decisions reproduced exactly (%.*f%%) under their own %zu "
                    "rule set%s", (long long)same, (long long)t->decisions,
                    pct == floor(pct) ? 0 : 2, pct, r->nrulesets, r->nrulesets == 1 ? "" : "s");
            if (t->differences > t->extra)
                fprintf(f, "; %lld differ", (long long)(t->differences - t->extra));
            if (t->extra)
                fprintf(f, "; %lld decided now %s not stored", (long long)t->extra,
                        t->extra == 1 ? "was" : "were");
            fputc('\n', f);
        }
        if (t->over) {
            /* Not a change to the record: the replay allowed less than the
             * server did (or ran slower).  Say what the server allowed. */
            fprintf(f, "%lld decision%s went over the replay's limits (--instructions %llu "
                    "--memory %zu --time-limit %llu): ", (long long)t->over,
                    t->over == 1 ? "" : "s",
                    (unsigned long long)r->limits.instructions, r->limits.memory,
                    (unsigned long long)r->limits.time_ms);
            if (r->over_limits[0])
                fprintf(f, "the server that decided the first (record %lld, %s) was started "
                        "at %s with %s; replay with those\n", (long long)t->over_seq,
                        t->over_id, r->over_started, r->over_limits);
            else
                fprintf(f, "the server that decided the first (record %lld, %s) did not record "
                        "its limits; replay with those it was given (--instructions, --memory, "
                        "--time-limit)\n", (long long)t->over_seq, t->over_id);
        }
    } else {
        rp_prog *ps = malloc((t->nprogs ? t->nprogs : 1) * sizeof *ps);
        if (ps && t->nprogs) {   /* progs is NULL when nothing was decided */
            memcpy(ps, t->progs, t->nprogs * sizeof *ps);
            qsort(ps, t->nprogs, sizeof *ps, prog_cmp);
        }
        fprintf(f, "replay under rule set %.12s\n\n", r->ruleset);
        fprintf(f, "%-18s %-11s %-11s %10s  %s\n", "programme", "was", "now", "decisions",
                "criteria whose result changed");
        for (size_t i = 0; ps && i < t->nprogs; i++) {
            const rp_prog *p = &ps[i];
            int first = 1;
            /* Moves first, then what stayed. */
            for (int pass = 0; pass < 2; pass++)
                for (int a = 0; a < K_N; a++)
                    for (int b = 0; b < K_N; b++) {
                        const rp_cell *c = &p->cell[a][b];
                        if (!c->count || (pass == 0) != (a != b))
                            continue;
                        fprintf(f, "%-18s %-11s %-11s %10lld%s", first ? p->name : "",
                                kind_names[a], a == b ? "(same)" : kind_names[b],
                                (long long)c->count, c->ncrit ? "  " : "");
                        print_criteria(c, f);
                        fputc('\n', f);
                        first = 0;
                    }
        }
        /* What the table cannot show: versions and parameter values that
         * changed, with or without the outcome. */
        int anyv = 0, anyp = 0;
        for (size_t i = 0; ps && i < t->nprogs; i++)
            for (size_t k = 0; k < ps[i].nvmoves; k++) {
                const rp_vmove *v = &ps[i].vmoves[k];
                if (!anyv++)
                    fprintf(f, "\nprogramme versions that changed:\n");
                fprintf(f, "  %-18s %s -> %s: %lld decision%s, %lld with the same outcome\n",
                        k ? "" : ps[i].name, v->from ? v->from : "none", v->to ? v->to : "none",
                        (long long)v->cell.count, v->cell.count == 1 ? "" : "s",
                        (long long)v->same);
                if (v->cell.nsample) {
                    fprintf(f, "  %-18s sample:", "");
                    for (size_t j = 0; j < v->cell.nsample; j++)
                        fprintf(f, " %s", v->cell.sample_id[j]);
                    fputc('\n', f);
                }
            }
        for (size_t i = 0; ps && i < t->nprogs; i++)
            for (size_t k = 0; k < ps[i].npmoves; k++) {
                const rp_pmove *m = &ps[i].pmoves[k];
                const char *x = m->from ? m->from : "(not read)", *y = m->to ? m->to : "(not read)";
                size_t lx = utf8_cut(x, 40), ly = utf8_cut(y, 40);
                if (!anyp++)
                    fprintf(f, "\nparameter values that changed:\n");
                fprintf(f, "  %-18s %s %.*s%s -> %.*s%s: %lld decision%s, %lld with the same "
                        "outcome\n", k ? "" : ps[i].name, m->id, (int)lx, x, x[lx] ? "…" : "",
                        (int)ly, y, y[ly] ? "…" : "", (long long)m->count,
                        m->count == 1 ? "" : "s", (long long)m->same);
            }
        int any = 0;
        for (size_t i = 0; ps && i < t->nprogs; i++)
            for (int a = 0; a < K_N; a++)
                for (int b = 0; b < K_N; b++) {
                    const rp_cell *c = &ps[i].cell[a][b];
                    if (!c->nsample)
                        continue;
                    if (!any)
                        fprintf(f, "\nsample decisions per move:\n");
                    any = 1;
                    fprintf(f, "  %s %s -> %s:", ps[i].name, kind_names[a], kind_names[b]);
                    for (size_t k = 0; k < c->nsample; k++)
                        fprintf(f, " %s", c->sample_id[k]);
                    fputc('\n', f);
                }
        free(ps);
        if (t->errors) {
            fprintf(f, "\n%lld decisions could not be re-decided:\n", (long long)t->errors);
            for (size_t i = 0; i < t->nnotes; i++)
                fprintf(f, "  decision %s (%s): %s\n", t->notes[i].decision_id,
                        t->notes[i].program, t->notes[i].what);
        }
        fputc('\n', f);
    }
    fprintf(f, "%lld applications, %lld decisions replayed in %.3f s: %.0f applications/s, "
            "%.0f decisions/s (%zu worker%s)", (long long)t->apps, (long long)t->decisions,
            r->secs, per_s(t->apps, r->secs), per_s(t->decisions, r->secs), r->jobs,
            r->jobs == 1 ? "" : "s");
    if (t->errors)   /* a rule set that does not load re-decided nothing */
        fprintf(f, "; %lld of them could not be re-decided", (long long)t->errors);
    fputc('\n', f);
    fprintf(f, "by eligo %s (source %s)\n", eligo_version, eligo_source);
}

static int json_kv_str(buf *out, const char *name, const char *v, int comma)
{
    int rc = 0;
    if (comma)
        rc |= buf_addc(out, ',');
    rc |= buf_printf(out, "\"%s\":", name);
    rc |= buf_add_json_string(out, v, strlen(v));
    return rc ? -1 : 0;
}

int replay_json(const replay_report *r, buf *out)
{
    const rp_tally *t = &r->t;
    int rc = 0;
    rc |= buf_printf(out, "{\"mode\":\"%s\"", r->original ? "original" : "candidate");
    rc |= buf_printf(out, ",\"eligo\":\"%s (source %s)\"", eligo_version, eligo_source);
    if (!r->original)
        rc |= json_kv_str(out, "ruleset", r->ruleset, 1);
    rc |= buf_printf(out, ",\"applications\":%lld,\"decisions\":%lld,\"seconds\":%.3f,"
                     "\"applications_per_s\":%.0f,\"decisions_per_s\":%.0f,\"jobs\":%zu",
                     (long long)t->apps, (long long)t->decisions, r->secs,
                     per_s(t->apps, r->secs), per_s(t->decisions, r->secs), r->jobs);
    if (r->original) {
        rc |= buf_printf(out, ",\"rulesets\":%zu,\"reproduced\":%lld,\"differences\":%lld,"
                         "\"over_limits\":%lld,\"server_limits\":",
                         r->nrulesets, (long long)(t->decisions - (t->differences - t->extra)),
                         (long long)t->differences, (long long)t->over);
        if (r->over_limits[0])
            rc |= buf_add_json_string(out, r->over_limits, strlen(r->over_limits));
        else
            rc |= buf_adds(out, "null");
        rc |= buf_adds(out, ",\"listed\":[");
    } else {
        rc |= buf_adds(out, ",\"programs\":[");
        rp_prog *ps = malloc((t->nprogs ? t->nprogs : 1) * sizeof *ps);
        if (!ps)
            return -1;
        if (t->nprogs) {   /* progs is NULL when nothing was decided */
            memcpy(ps, t->progs, t->nprogs * sizeof *ps);
            qsort(ps, t->nprogs, sizeof *ps, prog_cmp);
        }
        for (size_t i = 0; i < t->nprogs; i++) {
            const rp_prog *p = &ps[i];
            rc |= buf_adds(out, i ? ",{" : "{");
            rc |= json_kv_str(out, "program", p->name, 0);
            rc |= buf_printf(out, ",\"decisions\":%lld,\"moves\":[", (long long)p->decisions);
            int nm = 0;
            for (int a = 0; a < K_N; a++)
                for (int b = 0; b < K_N; b++) {
                    const rp_cell *c = &p->cell[a][b];
                    if (!c->count)
                        continue;
                    rc |= buf_printf(out, "%s{\"from\":\"%s\",\"to\":\"%s\",\"count\":%lld,"
                                     "\"criteria\":[",
                                     nm++ ? "," : "", kind_names[a], kind_names[b],
                                     (long long)c->count);
                    for (size_t k = 0; k < c->ncrit; k++) {
                        rc |= buf_adds(out, k ? ",{" : "{");
                        rc |= json_kv_str(out, "id", c->crit[k].id, 0);
                        rc |= buf_printf(out, ",\"to_fail\":%lld,\"to_pass\":%lld,"
                                         "\"other\":%lld}",
                                         (long long)c->crit[k].to_fail,
                                         (long long)c->crit[k].to_pass,
                                         (long long)c->crit[k].other);
                    }
                    rc |= buf_adds(out, "],\"sample\":[");
                    for (size_t k = 0; k < c->nsample; k++) {
                        rc |= buf_adds(out, k ? "," : "");
                        rc |= buf_add_json_string(out, c->sample_id[k], strlen(c->sample_id[k]));
                    }
                    rc |= buf_adds(out, "]}");
                }
            rc |= buf_adds(out, "],\"versions\":[");
            for (size_t k = 0; k < p->nvmoves; k++) {
                const rp_vmove *v = &p->vmoves[k];
                rc |= buf_adds(out, k ? ",{\"from\":" : "{\"from\":");
                rc |= v->from ? buf_add_json_string(out, v->from, strlen(v->from))
                              : buf_adds(out, "null");
                rc |= buf_adds(out, ",\"to\":");
                rc |= v->to ? buf_add_json_string(out, v->to, strlen(v->to)) : buf_adds(out, "null");
                rc |= buf_printf(out, ",\"count\":%lld,\"same_outcome\":%lld,\"sample\":[",
                                 (long long)v->cell.count, (long long)v->same);
                for (size_t j = 0; j < v->cell.nsample; j++) {
                    rc |= buf_adds(out, j ? "," : "");
                    rc |= buf_add_json_string(out, v->cell.sample_id[j],
                                              strlen(v->cell.sample_id[j]));
                }
                rc |= buf_adds(out, "]}");
            }
            /* A value is the decision's JSON of it (cJSON's printing), null when
             * not read. */
            rc |= buf_adds(out, "],\"parameters\":[");
            for (size_t k = 0; k < p->npmoves; k++) {
                const rp_pmove *m = &p->pmoves[k];
                rc |= buf_adds(out, k ? ",{" : "{");
                rc |= json_kv_str(out, "id", m->id, 0);
                rc |= buf_printf(out, ",\"from\":%s,\"to\":%s,\"count\":%lld,"
                                 "\"same_outcome\":%lld}", m->from ? m->from : "null",
                                 m->to ? m->to : "null", (long long)m->count, (long long)m->same);
            }
            rc |= buf_adds(out, "]}");
        }
        free(ps);
        rc |= buf_printf(out, "],\"errors\":%lld,\"listed\":[", (long long)t->errors);
    }
    for (size_t i = 0; i < t->nnotes; i++) {
        const rp_note *n = &t->notes[i];
        rc |= buf_printf(out, "%s{\"seq\":%lld", i ? "," : "", (long long)n->seq);
        rc |= json_kv_str(out, "decision_id", n->decision_id, 1);
        rc |= json_kv_str(out, "program", n->program, 1);
        rc |= json_kv_str(out, "what", n->what, 1);
        rc |= buf_addc(out, '}');
    }
    rc |= buf_adds(out, "]}");
    return rc ? -1 : 0;
}
