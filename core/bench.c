/*
 * bench.c -- see bench.h.
 *
 * Design notes.
 *
 * The request lines live in one buffer, one after the other, each ending in
 * '\n'.  A connection walks through them in order and wraps around, so a batch
 * of consecutive requests is at most two contiguous byte ranges: one uv_write
 * of one or two uv_buf_t, whatever the batch size, and no copying.
 *
 * Each connection keeps a ring of timestamps, one per request it has taken on:
 *
 *      head            sent             tail
 *       |  in flight    |    backlog     |
 *
 * [head, sent) are on the wire awaiting replies, which come back in order, so
 * the reply to request `head` is always the next line read.  [sent, tail) are
 * due but not yet sent because the pipeline is full; only the open loop has a
 * backlog (the closed loop takes a request on only when it can send it).
 *
 * States of a run: CONNECTING (every connection is connecting; the clock has
 * not started) -> RUNNING (bench_start: requests are issued) -> DRAINING (the
 * count or the time is reached: no new request, replies still awaited) ->
 * DONE (bench_finish: every handle is closing; uv_run returns when they are
 * closed).  In any state, 30 s without a reply while some are awaited fails
 * the run (bench_watch): the server stopped answering.
 *
 * Invariants (bench_check, debug builds):
 *   1. head <= sent <= tail and tail - head <= ring size, for each connection.
 *   2. sent - head <= pipeline.
 *   3. issued = answered + lost + the requests still in the rings.
 */
#include "bench.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <uv.h>

#include "buf.h"
#include "client.h"
#include "synth.h"
#include "text.h"

#define BENCH_READ_CHUNK 65536
#define BENCH_REPLY_CAP ((size_t)64 << 20)
#define BENCH_FILE_CAP ((size_t)1 << 30)
#define BENCH_BACKLOG 65536              /* open loop: due requests a connection may hold */
#define BENCH_TICK_MS 1                  /* open loop: how often due requests are issued */
#define BENCH_QUIET_MS 30000             /* how long no reply may come while some are awaited */

enum bench_state { BENCH_CONNECTING, BENCH_RUNNING, BENCH_DRAINING, BENCH_DONE };

typedef struct bench bench;

typedef struct bench_write {
    uv_write_t req;
    struct bench_write *next;            /* in the connection's free list */
} bench_write;

typedef struct bench_conn {
    uv_pipe_t pipe;                      /* embedded handle: the array never moves */
    uv_connect_t connect;
    bench *b;
    int open;                            /* connected and not closed */
    int unwritable;                      /* a write failed: the server closed it; its
                                            last replies (why) are still to be read */
    uint64_t *stamps;                    /* ring of due or send times, ring_mask + 1 long */
    uint64_t head, sent, tail;
    size_t next_line;                    /* the line request `sent` will send */
    bench_write *writes;                 /* pipeline write requests, as one block */
    bench_write *free_writes;
    client_lines replies;
} bench_conn;

struct bench {
    const bench_config *cfg;
    bench_report *r;
    err *e;
    int failed;                          /* e holds why */
    enum bench_state state;
    uv_loop_t loop;
    uv_timer_t timer;                    /* end of -d, open-loop ticks, then the drain limit */
    uv_timer_t watch;                    /* fails the run when replies stop coming */
    uint64_t progress;                   /* uv_hrtime() of the last reply, or of a send
                                            when none was awaited */
    bench_conn *conns;
    int nconns, connected;
    uint64_t ring_mask;

    char rbuf[BENCH_READ_CHUNK];         /* shared: bench_read consumes it before returning */
    buf lines;                           /* every request line, '\n' included */
    size_t *line_off;                    /* nlines + 1 offsets into lines */
    size_t nlines;

    uint64_t issued;                     /* requests taken on (stamped) */
    uint64_t answered, lost;
    uint64_t start, end;                 /* uv_hrtime() */
    double cpu_start;
};

static double bench_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

#ifndef NDEBUG
static void bench_check(const bench *b)
{
    uint64_t held = 0;
    for (int i = 0; i < b->nconns; i++) {
        const bench_conn *c = &b->conns[i];
        assert(c->head <= c->sent && c->sent <= c->tail);
        assert(c->tail - c->head <= b->ring_mask + 1);
        assert(c->sent - c->head <= (uint64_t)b->cfg->pipeline);
        held += c->tail - c->head;
    }
    assert(b->issued == b->answered + b->lost + held);
}
#else
#define bench_check(b) ((void)0)
#endif

void bench_defaults(bench_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->socket = client_socket_default();
    cfg->connections = 16;
    cfg->pipeline = 32;
    cfg->op = "decide";
    cfg->seed = 2025;
    cfg->distinct = 200000;
}

/* ---- the request lines -------------------------------------------------- */

static int bench_add_offset(bench *b, size_t *alloc)
{
    if (b->nlines + 2 > *alloc) {
        size_t n = *alloc ? *alloc * 2 : 1024;
        size_t *p = realloc(b->line_off, n * sizeof *p);
        if (!p)
            return -1;
        b->line_off = p;
        *alloc = n;
    }
    b->line_off[++b->nlines] = b->lines.len;
    return 0;
}

/* Start the offsets: line 0 begins at byte 0. */
static int bench_lines_begin(bench *b, size_t *alloc)
{
    b->nlines = 0;
    if (bench_add_offset(b, alloc) != 0)
        return -1;
    b->nlines = 0;
    b->line_off[0] = 0;
    return 0;
}

static int bench_generate(bench *b)
{
    const bench_config *cfg = b->cfg;
    uint64_t n = cfg->distinct;
    if (cfg->requests && cfg->requests < n)
        n = cfg->requests;
    size_t alloc = 0;
    synth g;
    synth_init(&g, cfg->seed);
    if (bench_lines_begin(b, &alloc) != 0)
        goto nomem;
    for (uint64_t i = 0; i < n; i++)
        if (synth_request(&g, cfg->op, i + 1, &b->lines) != 0 || bench_add_offset(b, &alloc) != 0)
            goto nomem;
    return 0;
nomem:
    return err_set(b->e, "internal", "out of memory encoding %llu requests",
                   (unsigned long long)n);
}

/* Put the lines in a random order, the same for the same seed (Fisher-Yates
 * over the line numbers, then the text copied in that order).  Generated
 * lines number their applicants in order and each connection sends a run of
 * them, so without it the applicants arrive in a few ascending runs, which
 * an index by applicant takes at a few places; front offices send them in
 * no order. */
static int bench_shuffle(bench *b)
{
    size_t n = b->nlines;
    size_t *perm = malloc(n * sizeof *perm);
    size_t *off = malloc((n + 1) * sizeof *off);
    buf text;
    buf_init(&text, BENCH_FILE_CAP);
    int rc = -1;
    if (n > UINT32_MAX) {   /* synth_below's range; far more than memory holds */
        free(perm);
        free(off);
        return err_set(b->e, "invalid_request", "cannot shuffle more than %u requests",
                       UINT32_MAX);
    }
    if (!perm || !off || buf_reserve(&text, b->lines.len) != 0)
        goto out;
    synth g;
    synth_init(&g, b->cfg->seed ^ 0x73687566666c65u);   /* "shuffle" */
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = synth_below(&g, (uint32_t)i);
        size_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    off[0] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = perm[i];
        buf_add(&text, b->lines.data + b->line_off[k], b->line_off[k + 1] - b->line_off[k]);
        off[i + 1] = text.len;
    }
    buf_free(&b->lines);
    b->lines = text;
    free(b->line_off);
    b->line_off = off;
    off = NULL;
    rc = 0;
out:
    if (rc)
        buf_free(&text);
    free(perm);
    free(off);
    return rc ? err_set(b->e, "internal", "out of memory shuffling %zu requests", n) : 0;
}

static int bench_read_file(bench *b)
{
    const bench_config *cfg = b->cfg;
    client_lines in;
    char chunk[65536];
    size_t alloc = 0;
    int rc = -1, eof = 0;
    long lineno = 0;
    client_lines_init(&in, BENCH_REPLY_CAP);
    int fd = strcmp(cfg->file, "-") ? open(cfg->file, O_RDONLY | O_CLOEXEC) : 0;
    if (fd < 0) {
        err_set(b->e, "internal", "%s: %s", cfg->file, strerror(errno));
        goto out;
    }
    if (bench_lines_begin(b, &alloc) != 0)
        goto nomem;
    while (!eof) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err_set(b->e, "internal", "%s: %s", cfg->file, strerror(errno));
            goto out_fd;
        }
        eof = n == 0;
        if (n > 0 && client_lines_feed(&in, chunk, (size_t)n) != 0) {
            err_set(b->e, "internal", "%s: line %ld is too long", cfg->file, lineno + 1);
            goto out_fd;
        }
        const char *line;
        size_t len;
        while (eof ? client_lines_rest(&in, &line, &len) : client_lines_next(&in, &line, &len)) {
            char id[24];
            lineno++;
            if (client_blank(line, len))
                continue;   /* the server would answer nothing */
            /* A decide line without a programme takes the next of the mix. */
            client_defaults d = {cfg->op, synth_programs[b->nlines % SYNTH_NPROGRAMS], NULL};
            snprintf(id, sizeof id, "%ld", lineno);
            int got = client_prepare(line, len, &d, id, &b->lines, NULL, b->e);
            if (got < 0) {
                err_set(b->e, "internal", "%s: the applications up to line %ld pass %zu bytes",
                        cfg->file, lineno, b->lines.cap);
                goto out_fd;
            }
            if (got == 1) {
                /* Sent as it is, it would be one more error in the report, by
                 * code only, and on every pass through the file. */
                err_set(b->e, "invalid_json", "%s:%ld: not a JSON object: each line is an "
                        "application, as submit sends it", cfg->file, lineno);
                goto out_fd;
            }
            if (bench_add_offset(b, &alloc) != 0)
                goto nomem;
        }
    }
    if (!b->nlines) {
        err_set(b->e, "internal", "%s: no applications", cfg->file);
        goto out_fd;
    }
    rc = 0;
    goto out_fd;
nomem:
    err_set(b->e, "internal", "%s: out of memory reading the applications", cfg->file);
out_fd:
    if (fd > 0)
        close(fd);
out:
    client_lines_free(&in);
    return rc;
}

/* ---- run control -------------------------------------------------------- */

static void bench_fail(bench *b, const char *what, int status);
static void bench_finish(bench *b);

static void bench_count_error(bench *b, const char *code, size_t len, uint64_t n)
{
    bench_report *r = b->r;
    r->errors += n;
    if (len >= sizeof r->codes[0].code)
        len = sizeof r->codes[0].code - 1;
    for (int i = 0; i < r->ncodes; i++)
        if (strlen(r->codes[i].code) == len && !memcmp(r->codes[i].code, code, len)) {
            r->codes[i].n += n;
            return;
        }
    int i = r->ncodes < BENCH_MAX_CODES ? r->ncodes++ : BENCH_MAX_CODES - 1;
    if (i == BENCH_MAX_CODES - 1 && r->codes[i].n)
        code = "other", len = 5;
    memcpy(r->codes[i].code, code, len);
    r->codes[i].code[len] = '\0';
    r->codes[i].n += n;
}

/* May another request be taken on? */
static int bench_may_issue(const bench *b)
{
    return b->state == BENCH_RUNNING && (!b->cfg->requests || b->issued < b->cfg->requests);
}

/* Stop issuing (the count or the time is reached); finish once drained. */
static void bench_drain(bench *b);

static void bench_maybe_done(bench *b)
{
    if (b->state == BENCH_RUNNING && b->cfg->requests && b->issued >= b->cfg->requests)
        bench_drain(b);
    if (b->state == BENCH_DRAINING && b->answered + b->lost == b->issued) {
        b->end = uv_hrtime();
        bench_finish(b);
    }
}

static void bench_conn_lost(bench_conn *c, const char *why);
static void bench_send(bench_conn *c);

static void bench_write_done(uv_write_t *req, int status)
{
    bench_write *w = (bench_write *)req;
    bench_conn *c = req->data;
    w->next = c->free_writes;
    c->free_writes = w;
    if (status < 0 && status != UV_ECANCELED && c->b->state != BENCH_DONE)
        c->unwritable = 1;   /* closed by the server: read on, to its end */
    else if (status == 0 && c->b->state != BENCH_DONE)
        bench_send(c);   /* what waited for this write (bench_write_some) */
}

/* Write up to N requests from `sent` on, in one uv_write: the lines from
 * next_line on, wrapping, are at most two byte ranges.  Returns how many were
 * written; 0 when every write request is still out (a reply, an error the
 * server sent before reading a long line whole, can free a place in the
 * pipeline before the write that carried its request is done: the next
 * write waits for it, bench_write_done); -1 when the connection can no
 * longer be written. */
static int64_t bench_write_some(bench_conn *c, uint64_t n)
{
    bench *b = c->b;
    if (!c->free_writes)
        return 0;
    uv_buf_t bufs[2];
    unsigned nbufs = 0;
    uint64_t taken = 0;
    while (taken < n && nbufs < 2) {
        size_t first = c->next_line;
        size_t count = b->nlines - first < n - taken ? b->nlines - first : (size_t)(n - taken);
        size_t off = b->line_off[first], end = b->line_off[first + count];
        bufs[nbufs++] = uv_buf_init(b->lines.data + off, (unsigned)(end - off));
        c->next_line = (first + count) % b->nlines;
        taken += count;
    }
    bench_write *w = c->free_writes;
    c->free_writes = w->next;
    w->req.data = c;
    int rc = uv_write(&w->req, (uv_stream_t *)&c->pipe, bufs, nbufs, bench_write_done);
    if (rc < 0) {
        w->next = c->free_writes;
        c->free_writes = w;
        c->unwritable = 1;
        return -1;
    }
    if (c->sent == c->head)
        b->progress = uv_hrtime();   /* the wait for a reply starts now */
    c->sent += taken;
    return (int64_t)taken;
}

/* Send what the pipeline has room for: in the closed loop first take on new
 * requests (stamped now), then write [sent, min(tail, head + P)). */
static void bench_send(bench_conn *c)
{
    bench *b = c->b;
    uint64_t room = (uint64_t)b->cfg->pipeline - (c->sent - c->head);
    if (!c->open || c->unwritable || !room)
        return;
    if (!b->cfg->rate) {
        uint64_t now = uv_hrtime();
        while (c->tail - c->sent < room && bench_may_issue(b)) {
            c->stamps[c->tail++ & b->ring_mask] = now;
            b->issued++;
        }
    }
    uint64_t n = c->tail - c->sent;
    if (n > room)
        n = room;
    while (n) {
        int64_t done = bench_write_some(c, n);
        if (done <= 0)
            return;
        n -= (uint64_t)done;
    }
}

static void bench_conn_lost(bench_conn *c, const char *why)
{
    bench *b = c->b;
    uint64_t held = c->tail - c->head;
    c->open = 0;
    if (held)
        bench_count_error(b, why, strlen(why), held);
    b->lost += held;
    b->r->dropped += held;
    c->head = c->sent = c->tail;
    if (!uv_is_closing((uv_handle_t *)&c->pipe))
        uv_close((uv_handle_t *)&c->pipe, NULL);
    for (int i = 0; i < b->nconns; i++)
        if (b->conns[i].open)
            goto others;
    if (b->state == BENCH_RUNNING && !b->answered && !b->r->errors) {
        /* Nothing sent was lost, nothing answered: a report of nothing. */
        bench_fail(b, "the server closed every connection before answering", 0);
        return;
    }
    if (b->state == BENCH_RUNNING)
        bench_drain(b);
others:
    bench_maybe_done(b);
}

/* One reply: its request is the oldest in flight. */
static void bench_reply(bench_conn *c, const char *line, size_t len, uint64_t now)
{
    bench *b = c->b;
    bench_report *r = b->r;
    const char *code;
    size_t clen;
    int ok = client_reply_ok(line, len, &code, &clen);
    if (c->head == c->sent || (!ok && client_reply_refusal(line, len, code, clen))) {
        /* The server may refuse a connection (too many) with an error
         * before closing it, and before reading any request sent: the
         * requests the connection held are lost under the refusal's code,
         * or, holding none, the refusal counts as one error. */
        if (ok) {
            bench_fail(b, "the server sent a reply to no request", 0);
            return;
        }
        char why[32];
        snprintf(why, sizeof why, "%.*s", (int)(clen < sizeof why ? clen : sizeof why - 1),
                 code);
        if (c->tail == c->head)
            bench_count_error(b, why, strlen(why), 1);
        bench_conn_lost(c, why);
        return;
    }
    uint64_t t = c->stamps[c->head++ & b->ring_mask];
    hist_record(&r->latency, now > t ? now - t : 0);
    b->answered++;
    r->requests++;
    b->progress = now;
    if (!ok) {
        bench_count_error(b, code, clen, 1);
        return;
    }
    r->decisions += (uint64_t)client_reply_decisions(line, len);
}

static void bench_alloc(uv_handle_t *h, size_t size, uv_buf_t *out)
{
    bench_conn *c = h->data;
    (void)size;
    *out = uv_buf_init(c->b->rbuf, sizeof c->b->rbuf);
}

static void bench_read(uv_stream_t *s, ssize_t n, const uv_buf_t *rb)
{
    bench_conn *c = s->data;
    bench *b = c->b;
    (void)rb;
    if (n == 0)
        return;
    if (n < 0) {
        bench_conn_lost(c, "connection_closed");
        return;
    }
    if (client_lines_feed(&c->replies, b->rbuf, (size_t)n) != 0) {
        bench_conn_lost(c, "reply_too_long");
        return;
    }
    uint64_t now = uv_hrtime();
    const char *line;
    size_t len;
    while (!b->failed && c->open && client_lines_next(&c->replies, &line, &len))
        bench_reply(c, line, len, now);
    if (b->failed || !c->open)
        return;
    bench_send(c);
    bench_check(b);
    bench_maybe_done(b);
}

/* ---- timers ------------------------------------------------------------- */

/* No more requests: the replies still awaited come in as they will (the
 * watch fails the run when they stop coming). */
static void bench_drain(bench *b)
{
    if (b->state != BENCH_RUNNING)
        return;
    b->state = BENCH_DRAINING;
    uv_timer_stop(&b->timer);
}

/* Every second: requests awaited and no reply for as long as a drain may
 * take fails the run (with -n, or in the open loop, the run may otherwise
 * wait forever). */
static void bench_watch(uv_timer_t *t)
{
    bench *b = t->data;
    uint64_t awaited = 0;
    for (int i = 0; i < b->nconns; i++)
        awaited += b->conns[i].sent - b->conns[i].head;
    if (awaited && uv_hrtime() - b->progress > (uint64_t)BENCH_QUIET_MS * 1000000)
        bench_fail(b, "the server stopped answering", 0);
}

static void bench_time_up(uv_timer_t *t)
{
    bench *b = t->data;
    bench_drain(b);
    bench_maybe_done(b);
}

/* Open loop: take on the requests that fell due since the last tick, spread
 * over the connections in turn, stamped with this tick's time. */
static void bench_tick(uv_timer_t *t)
{
    bench *b = t->data;
    uint64_t now = uv_hrtime();
    if (b->cfg->seconds && !b->cfg->requests && now - b->start >= (uint64_t)(b->cfg->seconds * 1e9)) {
        bench_time_up(t);
        return;
    }
    uint64_t due = (uint64_t)((double)(now - b->start) * b->cfg->rate / 1e9) + 1;
    while (b->issued < due && bench_may_issue(b)) {
        bench_conn *c = &b->conns[b->issued % (uint64_t)b->nconns];
        if (!c->open || c->unwritable || c->tail - c->head > b->ring_mask) {
            /* A dead connection or a full backlog: the request is lost. */
            b->issued++;
            b->lost++;
            if (c->open && !c->unwritable) {
                bench_count_error(b, "client_backlog_full", 19, 1);
            } else {
                bench_count_error(b, "connection_closed", 17, 1);
                b->r->dropped++;
            }
            continue;
        }
        if (c->tail - c->head >= (uint64_t)b->cfg->pipeline)
            b->r->late++;
        c->stamps[c->tail++ & b->ring_mask] = now;
        b->issued++;
    }
    for (int i = 0; i < b->nconns; i++)
        bench_send(&b->conns[i]);
    bench_check(b);
    bench_maybe_done(b);
}

static void bench_start(bench *b)
{
    b->state = BENCH_RUNNING;
    b->start = b->progress = uv_hrtime();
    b->cpu_start = bench_cpu();
    uv_timer_start(&b->watch, bench_watch, 1000, 1000);
    if (b->cfg->rate) {
        uv_timer_start(&b->timer, bench_tick, 0, BENCH_TICK_MS);
    } else {
        if (!b->cfg->requests)
            uv_timer_start(&b->timer, bench_time_up, (uint64_t)(b->cfg->seconds * 1000), 0);
        for (int i = 0; i < b->nconns; i++)
            bench_send(&b->conns[i]);
    }
    bench_maybe_done(b);
}

/* ---- connections -------------------------------------------------------- */

static void bench_connected(uv_connect_t *req, int status)
{
    bench_conn *c = req->data;
    bench *b = c->b;
    if (b->state == BENCH_DONE)
        return;
    if (status < 0) {
        err why;
        client_connect_failed(b->cfg->socket, -status, &why);   /* libuv's codes are -errno */
        bench_fail(b, why.msg, 0);
        return;
    }
    c->open = 1;
    int rc = uv_read_start((uv_stream_t *)&c->pipe, bench_alloc, bench_read);
    if (rc < 0) {
        bench_fail(b, "reading replies", rc);
        return;
    }
    if (++b->connected == b->nconns)
        bench_start(b);
}

static void bench_close_all(bench *b)
{
    for (int i = 0; i < b->nconns; i++) {
        uv_handle_t *h = (uv_handle_t *)&b->conns[i].pipe;
        b->conns[i].open = 0;
        if (h->data && !uv_is_closing(h))
            uv_close(h, NULL);
    }
    if (!uv_is_closing((uv_handle_t *)&b->timer))
        uv_close((uv_handle_t *)&b->timer, NULL);
    if (!uv_is_closing((uv_handle_t *)&b->watch))
        uv_close((uv_handle_t *)&b->watch, NULL);
}

static void bench_finish(bench *b)
{
    if (b->state == BENCH_DONE)
        return;
    b->state = BENCH_DONE;
    bench_close_all(b);
}

/* Fail the run, saying WHAT went wrong and the libuv error STATUS (if not 0). */
static void bench_fail(bench *b, const char *what, int status)
{
    if (b->failed)
        return;
    b->failed = 1;
    if (status)
        err_set(b->e, "internal", "%s: %s", what, uv_strerror(status));
    else
        err_set(b->e, "internal", "%s", what);
    b->end = uv_hrtime();
    bench_finish(b);
}

/* ---- the run ------------------------------------------------------------ */

static int bench_setup_conns(bench *b)
{
    const bench_config *cfg = b->cfg;
    uint64_t ring = 1;
    uint64_t want = (uint64_t)cfg->pipeline + (cfg->rate ? BENCH_BACKLOG : 0);
    while (ring < want)
        ring <<= 1;
    b->ring_mask = ring - 1;
    b->conns = calloc((size_t)b->nconns, sizeof *b->conns);
    if (!b->conns)
        return -1;
    for (int i = 0; i < b->nconns; i++) {
        bench_conn *c = &b->conns[i];
        c->b = b;
        c->stamps = malloc(ring * sizeof *c->stamps);
        c->writes = calloc((size_t)cfg->pipeline, sizeof *c->writes);
        if (!c->stamps || !c->writes)
            return -1;
        for (int w = 0; w < cfg->pipeline; w++) {
            c->writes[w].next = c->free_writes;
            c->free_writes = &c->writes[w];
        }
        client_lines_init(&c->replies, BENCH_REPLY_CAP);
        /* Connections start at different points of the request set. */
        c->next_line = (size_t)((uint64_t)i * b->nlines / (uint64_t)b->nconns);
    }
    return 0;
}

static void bench_free_conns(bench *b)
{
    if (!b->conns)
        return;
    for (int i = 0; i < b->nconns; i++) {
        free(b->conns[i].stamps);
        free(b->conns[i].writes);
        client_lines_free(&b->conns[i].replies);
    }
    free(b->conns);
}

int bench_emit(const bench_config *cfg, uint64_t n, FILE *out, err *e)
{
    bench b;
    memset(&b, 0, sizeof b);
    bench_config c = *cfg;
    c.requests = n;   /* the lines a run of -n N would make */
    b.cfg = &c;
    b.e = e;
    buf_init(&b.lines, BENCH_FILE_CAP);
    int rc = -1;
    if (!c.shuffle) {
        /* Made one at a time: the run cycles through `distinct` of them. */
        synth g;
        for (uint64_t i = 0; i < n; i++) {
            if (i % c.distinct == 0)
                synth_init(&g, c.seed);
            buf_reset(&b.lines);
            if (synth_request(&g, c.op, i % c.distinct + 1, &b.lines) != 0) {
                err_set(e, "internal", "out of memory encoding request %llu",
                        (unsigned long long)i + 1);
                goto out;
            }
            fwrite(b.lines.data, 1, b.lines.len, out);
        }
    } else {
        if (bench_generate(&b) != 0 || bench_shuffle(&b) != 0)
            goto out;
        for (uint64_t i = 0; i < n; i++) {
            size_t k = (size_t)(i % b.nlines);
            fwrite(b.lines.data + b.line_off[k], 1, b.line_off[k + 1] - b.line_off[k], out);
        }
    }
    if (fflush(out) != 0) {
        err_set(e, "internal", "cannot write the requests: %s", strerror(errno));
        goto out;
    }
    rc = 0;
out:
    buf_free(&b.lines);
    free(b.line_off);
    return rc;
}

int bench_run(const bench_config *cfg, bench_report *r, err *e)
{
    bench b;
    memset(&b, 0, sizeof b);
    memset(r, 0, sizeof *r);
    hist_init(&r->latency);
    b.cfg = cfg;
    b.r = r;
    b.e = e;
    b.nconns = cfg->connections;
    buf_init(&b.lines, BENCH_FILE_CAP);
    int rc = -1;

    if (cfg->connections < 1 || cfg->pipeline < 1 || cfg->rate < 0 ||
        (!cfg->requests && cfg->seconds <= 0)) {
        err_set(e, "invalid_request", "connections, pipeline and the run length must be positive");
        goto out;
    }
    if (cfg->file ? bench_read_file(&b) : bench_generate(&b))
        goto out;
    if (cfg->shuffle && bench_shuffle(&b) != 0)
        goto out;
    if (uv_loop_init(&b.loop) != 0) {
        err_set(e, "internal", "cannot start an event loop");
        goto out;
    }
    if (bench_setup_conns(&b) != 0) {
        err_set(e, "internal", "out of memory for %d connections", b.nconns);
        goto out_loop;
    }
    uv_timer_init(&b.loop, &b.timer);
    b.timer.data = &b;
    uv_timer_init(&b.loop, &b.watch);
    b.watch.data = &b;
    for (int i = 0; i < b.nconns; i++) {
        bench_conn *c = &b.conns[i];
        uv_pipe_init(&b.loop, &c->pipe, 0);
        c->pipe.data = c;
        c->connect.data = c;
        uv_pipe_connect(&c->connect, &c->pipe, cfg->socket, bench_connected);
    }
    uv_run(&b.loop, UV_RUN_DEFAULT);
    if (b.state != BENCH_DONE)   /* cannot happen: the loop ends only when all is closed */
        bench_fail(&b, "the event loop stopped early", 0);
    uv_run(&b.loop, UV_RUN_DEFAULT);

    r->seconds = b.end > b.start && b.start ? (double)(b.end - b.start) / 1e9 : 0;
    r->cpu_seconds = b.start ? bench_cpu() - b.cpu_start : 0;
    rc = b.failed ? -1 : 0;
out_loop:
    uv_loop_close(&b.loop);
    bench_free_conns(&b);
out:
    free(b.line_off);
    buf_free(&b.lines);
    return rc;
}

/* ---- the report --------------------------------------------------------- */

static double bench_ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

void bench_print(const bench_config *cfg, const bench_report *r, int json, FILE *f)
{
    static const double qs[] = {0.50, 0.90, 0.99, 0.999};
    static const char *const names[] = {"p50", "p90", "p99", "p99.9"};
    double secs = r->seconds > 0 ? r->seconds : 1e-9;
    if (json) {
        fprintf(f, "{\"op\":\"%s\",\"connections\":%d,\"pipeline\":%d,\"rate\":%.0f,"
                   "\"requests\":%llu,\"decisions\":%llu,\"errors\":%llu,\"dropped\":%llu,"
                   "\"error_codes\":{",
                cfg->op, cfg->connections, cfg->pipeline, cfg->rate,
                (unsigned long long)r->requests, (unsigned long long)r->decisions,
                (unsigned long long)r->errors, (unsigned long long)r->dropped);
        for (int i = 0; i < r->ncodes; i++)
            fprintf(f, "%s\"%s\":%llu", i ? "," : "", r->codes[i].code,
                    (unsigned long long)r->codes[i].n);
        fprintf(f, "},\"seconds\":%.3f,\"requests_per_s\":%.1f,\"decisions_per_s\":%.1f,"
                   "\"client_cpu_s\":%.3f,\"late\":%llu,\"latency_ms\":{",
                r->seconds, (double)r->requests / secs, (double)r->decisions / secs,
                r->cpu_seconds, (unsigned long long)r->late);
        for (int i = 0; i < 4; i++)
            fprintf(f, "\"%s\":%.3f,", i == 3 ? "p999" : names[i],
                    bench_ms(hist_quantile(&r->latency, qs[i])));
        fprintf(f, "\"max\":%.3f,\"mean\":%.3f}}\n", bench_ms(r->latency.max),
                hist_mean(&r->latency) / 1e6);
        return;
    }
    fprintf(f, "eligo bench: %s, %d connection%s x %d in flight, ", cfg->op,
            cfg->connections, text_s(cfg->connections), cfg->pipeline);
    if (cfg->rate)
        fprintf(f, "open loop at %.0f requests/s\n", cfg->rate);
    else
        fprintf(f, "closed loop\n");
    fprintf(f, "  requests   %llu in %.3f s: %.0f requests/s, %.0f decisions/s\n",
            (unsigned long long)r->requests, r->seconds, (double)r->requests / secs,
            (double)r->decisions / secs);
    fprintf(f, "  errors     %llu", (unsigned long long)r->errors);
    for (int i = 0; i < r->ncodes; i++)
        fprintf(f, "%s%s %llu", i ? ", " : " (", r->codes[i].code,
                (unsigned long long)r->codes[i].n);
    fprintf(f, "%s", r->ncodes ? ")" : "");
    if (r->dropped)
        fprintf(f, "; %llu of them lost with their connection, unanswered",
                (unsigned long long)r->dropped);
    fprintf(f, "\n");
    fprintf(f, "  latency    ");
    for (int i = 0; i < 4; i++)
        fprintf(f, "%s %.3f ms  ", names[i], bench_ms(hist_quantile(&r->latency, qs[i])));
    fprintf(f, "max %.3f ms\n", bench_ms(r->latency.max));
    fprintf(f, "  client     %.2f s CPU (%.0f%% of one core)", r->cpu_seconds,
            100.0 * r->cpu_seconds / secs);
    if (cfg->rate)
        fprintf(f, ", %llu request%s waited for a full pipeline", (unsigned long long)r->late,
                text_s((long long)r->late));
    fprintf(f, "\n");
}
