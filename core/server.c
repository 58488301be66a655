/*
 * server.c -- listeners, connections, framing, limits, ordered replies.
 *
 * Design notes.
 *
 * Threads.  All of this file runs on the loop thread except server_post,
 * server_health, server_refuses_big and server_built_big, which the workers
 * and the writer call: besides what server_init set, they touch only the
 * mailbox (under `mu`), the latencies (under `lat_mu`), the a_ counters
 * (atomic) and the job they are handed.  Jobs travel loop -> pool -> (writer) -> mailbox -> loop; the
 * mailbox is a list under `mu` plus an async handle.  uv_async_send is
 * called with `mu` held, and the loop takes `mu` before closing the async
 * handle, so no thread can touch the handle after it starts closing.
 *
 * A connection (struct conn) holds, in request order, the jobs it has sent
 * and not yet answered (its FIFO).  A job is "in flight" until the mailbox
 * hands it back (done).  Replies leave strictly from the head of the FIFO, so
 * a fast reply waits for the slower ones sent before it (conn_flush).
 *
 * Connection flags and the functions that set them:
 *   reading   uv_read_start is active           conn_update_reading
 *   eof       no more input will be read: the   conn_read_cb (EOF),
 *             peer shut down, a line was too      conn_too_long,
 *             long or too slow, the connection    conn_line_timeout,
 *             is one too many, or is closing,     server_accept,
 *             or the server is stopping           conn_close, server_close
 *   blocked   the next line is too heavy to      conn_process
 *             submit until some in flight are
 *             done (line_weight)
 *   writing   a uv_write is outstanding          conn_write / conn_write_cb
 *   closing   uv_close has been called           conn_close
 *   closed    its close callback ran             conn_close_cb
 *   touched   on server_async_cb's list of the   server_async_cb
 *             connections to flush
 * Transitions:
 *   accept -> reading;
 *   reading <-> paused (backpressure: requests in flight weighing more than
 *     conn_inflight, or conn_unwritten reply bytes not taken by the client,
 *     those still in their jobs included, stop the reads and the submitting
 *     of lines already read, as does a line too heavy to submit yet
 *     (blocked); they resume when both fall to half, with hysteresis so a
 *     busy connection does not toggle per request);
 *   eof, and the FIFO empty, nothing to write -> closing (the end of
 *     conn_process);
 *   reading, and a line begun but not complete line_timeout_ms after its
 *     first byte was read (server_sweep_cb, conn_line_timeout) -> eof, the
 *     line answered line_timeout, then closing as for any eof;
 *   read or write error, idle timeout (no request in flight and nothing
 *     read, answered or written for idle_timeout_ms: server_sweep_cb), a stopping
 *     server's grace period over (server_stop_timeout_cb) -> closing at once;
 *   closed, and the FIFO empty -> freed (conn_maybe_free).  Jobs of a closed
 *     connection still come back from the workers; their replies are dropped.
 *
 * Invariants (conn_check, debug builds):
 *   1. npending is the length of the FIFO; ninflight counts its jobs not
 *      done, weight sums their weights (line_weight); ninflight <= npending.
 *   2. reading implies !eof and !closing.
 *   3. writing iff wbuf holds bytes (the write in progress).
 *   4. closed implies closing; a closed connection has no write in progress.
 *   5. The input buffer never holds more than max_line + READ_CHUNK bytes.
 *   6. held is the size of the replies of the FIFO's done jobs: replies move
 *      to `out` only while it holds less than conn_unwritten (conn_flush).
 *   7. line_since is nonzero only while `in` holds bytes: those of a line
 *      not yet complete (set and cleared by conn_process, restarted when
 *      reading resumes: conn_update_reading).
 *   8. scanned <= in_len: bytes read since conn_process last looked are
 *      added after it, and every other change of `in` goes through it.
 * Server-wide (server_check): a connection is freed only with an empty FIFO,
 * so `inflight` is exactly the sum of ninflight over the list `conns`; and
 * a_held is the sum of their `counted` (conn_account).
 */
#define _GNU_SOURCE 1   /* struct ucred, SO_PEERCRED */
#include "server.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cJSON.h>
#include <lua.h>

#include "canon.h"
#include "client.h"
#include "hist.h"
#include "json.h"
#include "log.h"
#include "text.h"

#define READ_CHUNK ((size_t)64 << 10)
#define OUT_CAP ((size_t)256 << 20)
/* How long a stopping server waits for clients to take their replies. */
#define SERVER_STOP_GRACE_MS 10000
/* How often the socket's file is looked at (server_watch_socket). */
#define SERVER_WATCH_MS 1000

typedef struct conn {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_pipe_t pipe;
        uv_tcp_t tcp;
    } h;
    struct server *srv;
    struct conn *prev, *next;       /* srv->conns */
    unsigned long number;           /* for the log */
    int64_t uid, pid;               /* peer credentials, -1 for TCP */

    char *in;                       /* bytes read and not yet framed */
    size_t in_len, in_alloc;
    size_t scanned;                 /* the first bytes of `in` are known to hold no '\n' */

    job *head, *tail;               /* FIFO, request order */
    size_t npending, ninflight;
    size_t weight;                  /* the weights of the jobs in flight (line_weight) */
    size_t held;                    /* reply bytes of its done jobs, not yet in out */
    size_t counted;                 /* conn_unwritten as a_held and srv->a_held have it */
    atomic_size_t a_held;           /* the same, for workers (server_refuses_big) */
    atomic_size_t a_early;          /* reply bytes of its jobs workers have built and the
                                       loop has not yet had back (server_built_big) */
    /* Replies, and the records their requests stored (job.stored), in
     * `out`, in the write in progress, and never sent (dropped once closing,
     * or in a write that failed): said in the log when the connection ends. */
    struct conn_tally {
        size_t replies, stored;
    } in_out, in_write, unsent;

    buf out;                        /* replies waiting for the next write */
    buf wbuf;                       /* the write in progress */
    uv_write_t wreq;
    uint64_t last_active;           /* uv_now */
    uint64_t line_since;            /* uv_now when the incomplete line at the head of `in`
                                       began to be read, or reading last resumed; 0: none */
    size_t unread;                  /* reply bytes its client had not read at the last sweep */
    size_t requests;                /* lines read that were requests, for the log */

    struct conn *touch_next;        /* server_async_cb's list */
    unsigned reading : 1, eof : 1, writing : 1, closing : 1, closed : 1, touched : 1,
        blocked : 1;
} conn;

/* The stages of a request's time in the service, measured on each job that
 * comes back through the mailbox (job.h, the t_ fields) and reported by
 * health: framed -> taken by a worker (queue) -> decided (engine) ->
 * committed (commit: waiting for the writer, its transaction and the
 * disk's flush; only requests that write) -> back on the loop thread
 * (reply), and all of it (total).  Replies written to a socket that the
 * client reads late are not the service's time and are not counted. */
enum { LAT_TOTAL, LAT_QUEUE, LAT_ENGINE, LAT_COMMIT, LAT_REPLY, LAT_N };
static const char *const lat_names[LAT_N] = {"total", "queue", "engine", "commit", "reply"};

/* The protocol's error codes, as health counts the error replies (README,
 * "Errors"); any other code counts as the last, "other". */
static const char *const error_codes[] = {
    "invalid_json", "invalid_request", "unknown_op", "unknown_program", "invalid_applicant",
    "rule_error", "not_found", "conflict", "overloaded", "line_too_long", "line_timeout",
    "internal", "other",
};
#define SERVER_NERRORS (sizeof error_codes / sizeof error_codes[0])

struct server {
    uv_loop_t *loop;
    server_config cfg;
    char *socket_path;
    pool *pool;

    uv_pipe_t unix_listener;
    uv_tcp_t tcp_listener;
    uv_async_t async;
    uv_timer_t sweep;
    int have_unix, have_tcp, listening;

    pthread_mutex_t mu;             /* mailbox */
    job *mb_head, *mb_tail;

    conn *conns;
    size_t nconns;
    size_t inflight;
    unsigned long long queue_refused;   /* answered overloaded for --queue in this run of
                                           refusals: the log says when one starts, and when
                                           none has come for a second (server_sweep_cb) */
    uint64_t queue_refused_at;      /* uv_now of the last of them */
    unsigned long next_number;
    uint64_t started;               /* uv_hrtime at init */

    atomic_size_t a_conns, a_inflight;
    atomic_size_t a_held;           /* reply bytes not taken by clients, all connections
                                       (conn.counted) */
    atomic_size_t a_early;          /* ... and of the conn.a_early */
    atomic_ullong a_requests, a_overloaded;
    atomic_ullong a_errors[SERVER_NERRORS];   /* error replies, by code (error_codes) */
    pthread_mutex_t lat_mu;         /* lat: recorded by the loop, read by health */
    hist lat[LAT_N];

    int stopping, finishing;
    int open_handles;
    dev_t socket_dev;               /* the socket file made (server_bind_unix) */
    ino_t socket_ino;
    int socket_made;
    int socket_lost;                /* the path names another file: said once */
    int rebinding;                  /* unix_listener closing, to be made again */
    uint64_t socket_looked;         /* uv_now of the last server_watch_socket */
    lua_State *id_L;                /* line_id's reader, made when first needed */
    size_t id_used;                 /* the bytes it holds (line_id_alloc) */
    buf id_scratch;
    server_close_cb *close_cb;
    void *close_arg;
};

static void conn_process(conn *c);
static void conn_close(conn *c);
static void conn_write(conn *c);
static void conn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);
static void server_maybe_finish(server *srv);

/* ---- checks ------------------------------------------------------------ */

#ifndef NDEBUG
static void conn_check(const conn *c)
{
    size_t n = 0, f = 0, w = 0, held = 0;
    for (const job *j = c->head; j; j = j->conn_next) {
        size_t len = 0;
        n++;
        f += !j->done;
        w += j->done ? 0 : j->weight;
        if (j->done)
            job_reply_line(j, &len);
        held += len;
    }
    assert(n == c->npending && f == c->ninflight && w == c->weight);   /* 1 */
    assert(held == c->held);                                  /* 6 */
    assert(!c->reading || (!c->eof && !c->closing));          /* 2 */
    assert(c->writing == (c->wbuf.len > 0));                  /* 3 */
    assert(!c->closed || (c->closing && !c->writing));        /* 4 */
    assert(c->in_len <= c->srv->cfg.max_line + READ_CHUNK);   /* 5 */
    assert(!c->line_since || c->in_len > 0);                 /* 7 */
    assert(c->scanned <= c->in_len);                          /* 8 */
}

static void server_check(const server *srv)
{
    size_t inflight = 0, n = 0, held = 0;
    for (const conn *c = srv->conns; c; c = c->next) {
        inflight += c->ninflight;
        held += c->counted;
        n++;
    }
    assert(inflight == srv->inflight);
    assert(n >= srv->nconns);
    assert(held == atomic_load(&srv->a_held));
}
#else
#define conn_check(c) ((void)0)
#define server_check(s) ((void)0)
#endif

/* ---- replies, in order -------------------------------------------------- */

/* Reply bytes made and not yet taken by the client. */
static size_t conn_unwritten(const conn *c)
{
    return c->held + c->out.len + c->wbuf.len;
}

/* What the workers see of C's reply bytes not taken by its client
 * (server_refuses_big): all of them, those already in the output buffers
 * too, or a large reply moved there would weigh nothing while the client
 * leaves it unread.  Called after each change of held, out or wbuf. */
static void conn_account(conn *c)
{
    size_t now = conn_unwritten(c);
    if (now >= c->counted)
        atomic_fetch_add(&c->srv->a_held, now - c->counted);
    else
        atomic_fetch_sub(&c->srv->a_held, c->counted - now);
    c->counted = now;
    atomic_store(&c->a_held, now);
}

/* Count J's reply in health's errors when it is one. */
static void server_count_error(server *srv, const job *j)
{
    const char *code = job_error_code(j);
    if (!code)
        return;
    size_t k = 0;
    while (k < SERVER_NERRORS - 1 && strcmp(error_codes[k], code) != 0)
        k++;
    atomic_fetch_add(&srv->a_errors[k], 1);
}

/* J, of C, has its reply. */
static void conn_done(conn *c, job *j)
{
    size_t n;
    job_reply_line(j, &n);
    server_count_error(c->srv, j);
    j->done = 1;
    c->weight -= j->weight;
    c->held += n;
    if (j->early) {   /* counted by its worker (server_built_big): now by held */
        atomic_fetch_sub(&c->a_early, j->early);
        atomic_fetch_sub(&c->srv->a_early, j->early);
        j->early = 0;
    }
    conn_account(c);
}

/* Append J at the tail of C's FIFO. */
static void conn_push(conn *c, job *j)
{
    j->conn = c;
    j->conn_next = NULL;
    if (c->tail)
        c->tail->conn_next = j;
    else
        c->head = j;
    c->tail = j;
    c->npending++;
}

/* Move the replies at the head of the FIFO that are done into the output
 * buffer (or drop them, once the connection is closing), then write.  They
 * move only as the client takes them: while the buffer already holds
 * conn_unwritten bytes, the next reply waits in its job, so a client that
 * reads, however slowly, never has a reply dropped, and large replies do
 * not pile up twice. */
static void conn_flush(conn *c)
{
    while (c->head && c->head->done) {
        job *j = c->head;
        size_t n;
        const char *line = job_reply_line(j, &n);
        if (!c->closing && c->out.len > 0 && c->out.len + n > c->srv->cfg.conn_unwritten)
            break;
        c->head = j->conn_next;
        if (!c->head)
            c->tail = NULL;
        c->npending--;
        c->held -= n;
        if (!c->closing && buf_add(&c->out, line, n) == 0) {
            c->in_out.replies++;
            c->in_out.stored += j->stored;
        } else {
            if (!c->closing) {
                log_warn("connection %lu: %zu reply bytes not taken by the client; closing",
                         c->number, conn_unwritten(c));
                conn_close(c);
            }
            c->unsent.replies++;
            c->unsent.stored += j->stored;
        }
        job_free(j);
    }
    conn_write(c);
    conn_account(c);
}

/* Answer the line with an error without going through the pool (overloaded,
 * line_too_long, line_timeout, too many connections): a job that is done at once, queued
 * behind the requests before it. */
static void conn_push_error(conn *c, const char *id, const char *code, const char *msg)
{
    job *j = job_new("", 0);
    if (!j) {
        conn_close(c);
        return;
    }
    job_error(j, id, code, "%s", msg);
    conn_push(c, j);
    conn_done(c, j);
    conn_flush(c);
}

/* V as canonical JSON (canon.h), from cJSON's tree, as the engine would
 * echo it: keys sorted bytewise, numbers as the engine writes them.  0, or
 * -1 where the engine would refuse it (so that the id is echoed as null): a
 * number 2^53 or more in size, a key twice in one object, a string that is
 * not UTF-8, containers nested 64 deep counting the request's object. */
static int id_canon(buf *b, const cJSON *v, int depth)
{
    if (cJSON_IsNumber(v))
        return fabs(v->valuedouble) < 9007199254740992.0 ? canon_add_number(b, v->valuedouble) : -1;
    if (cJSON_IsString(v)) {
        size_t n = strlen(v->valuestring);
        return text_utf8_bad(v->valuestring, n) != n ? -1 : canon_add_string(b, v->valuestring, n);
    }
    if (cJSON_IsBool(v))
        return buf_adds(b, cJSON_IsTrue(v) ? "true" : "false");
    if (cJSON_IsNull(v))
        return buf_adds(b, "null");
    if (depth >= JSON_MAX_DEPTH)
        return -1;
    int rc = buf_addc(b, cJSON_IsArray(v) ? '[' : '{');
    size_t n = 0;
    for (const cJSON *c = v->child; c; c = c->next)
        n++;
    const cJSON **items = malloc((n ? n : 1) * sizeof *items);
    if (!items)
        return -1;
    n = 0;
    for (const cJSON *c = v->child; c && rc == 0; c = c->next) {
        size_t i = n++;
        if (cJSON_IsObject(v)) {   /* insertion by key, bytewise */
            size_t klen = strlen(c->string);
            if (text_utf8_bad(c->string, klen) != klen)
                rc = -1;
            for (; i > 0 && strcmp(items[i - 1]->string, c->string) >= 0; i--) {
                if (!strcmp(items[i - 1]->string, c->string))
                    rc = -1;   /* the key twice */
                items[i] = items[i - 1];
            }
        }
        items[i] = c;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i)
            rc = buf_addc(b, ',');
        if (rc == 0 && cJSON_IsObject(v))
            rc = canon_add_string(b, items[i]->string, strlen(items[i]->string)) ||
                 buf_addc(b, ':');
        if (rc == 0)
            rc = id_canon(b, items[i], depth + 1);
    }
    free(items);
    return rc ? -1 : buf_addc(b, cJSON_IsArray(v) ? ']' : '}');
}

/* Read the line at arguments 1 (light userdata: the bytes), 2
 * (its length), 3 (the scratch buffer) and 4 (the notes) with the engine's
 * own JSON reader, leaving its offset of failure (0: none).  In a
 * protected call: the reader raises when memory runs out. */
static int line_read(lua_State *L)
{
    const char *p = lua_touserdata(L, 1);
    size_t n = (size_t)lua_tointeger(L, 2), at;
    buf *scratch = lua_touserdata(L, 3);
    json_notes *notes = lua_touserdata(L, 4);
    int why;
    lua_newtable(L);   /* the arrays' metatable, here a mark of nothing */
    at = json_push(L, p, n, 5, scratch, &why, notes);
    lua_pushinteger(L, (lua_Integer)at);
    return 1;
}

/* The allocator of line_id's Lua state, capped at cfg.id_memory: a line
 * holds up to max_line bytes (a gigabyte, at most), and its tables take
 * some twenty times their text (a megabyte of "[]," makes 350,000 of them),
 * so without a cap one line refused as overloaded could take gigabytes, on
 * the loop thread, for the seconds it takes.  Refused, the reader raises,
 * and the id is echoed null, as the engine, under the same cap, echoes it
 * for a line its own reader cannot hold. */
static void *line_id_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    server *srv = ud;
    if (ptr == NULL)
        osize = 0;   /* osize then encodes the object's type, not a size */
    if (nsize == 0) {
        free(ptr);
        srv->id_used -= osize;
        return NULL;
    }
    if (nsize > osize && nsize - osize > srv->cfg.id_memory - srv->id_used)
        return NULL;
    void *p = realloc(ptr, nsize);
    if (p)
        srv->id_used = srv->id_used - osize + nsize;
    return p;
}

/* The "id" of a line, as canonical JSON text, for the errors the loop
 * answers itself, or NULL (null): what the engine would echo.  The line is
 * read by the engine's own reader (json.h), in a Lua state of the loop's,
 * which finds the id's text only when it read it whole, and none for two
 * ids: an id 01, 1. or 00.5e1 is no number, where a lenient reader echoed
 * one the client never sent.  In a line the engine refuses further on, it
 * echoes a number or a text only (rules.lua, decode_line).  The text found
 * is then written canonically (id_canon).  Reading here costs the loop
 * thread, but only when the server is already refusing work, and no more
 * memory than the engine may take for it (line_id_alloc; cJSON's tree of
 * the id, then, about as much as the Lua values it was read into).
 * Returns malloc'd text or NULL. */
static char *line_id(server *srv, const char *p, size_t n)
{
    if (!srv->id_L && !(srv->id_L = lua_newstate(line_id_alloc, srv)))
        return NULL;
    lua_State *L = srv->id_L;
    json_notes notes = {0};
    buf_reset(&srv->id_scratch);
    lua_settop(L, 0);
    lua_pushcfunction(L, line_read);
    lua_pushlightuserdata(L, (void *)p);
    lua_pushinteger(L, (lua_Integer)n);
    lua_pushlightuserdata(L, &srv->id_scratch);
    lua_pushlightuserdata(L, &notes);
    int read = lua_pcall(L, 4, 1, 0) == LUA_OK;
    int whole = read && lua_tointeger(L, -1) == 0 && !notes.control &&
                text_utf8_bad(p, n) == n;
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT);   /* the line's tables, at once: this state idles */
    if (!read || !notes.id_len ||
        (notes.control && notes.control - 1 >= notes.id && notes.control - 1 < notes.id + notes.id_len))
        return NULL;   /* (an id holding a raw control character the engine does not echo) */
    cJSON *v = cJSON_ParseWithLength(p + notes.id, notes.id_len);
    char *id = NULL;
    if (v && (whole || cJSON_IsNumber(v) || cJSON_IsString(v))) {
        buf b;
        buf_init(&b, 1 << 20);
        if (id_canon(&b, v, 1) == 0)
            id = b.data;
        else
            buf_free(&b);
    }
    cJSON_Delete(v);
    return id;
}

/* ---- writing ----------------------------------------------------------- */

static void conn_write_cb(uv_write_t *req, int status)
{
    conn *c = req->data;
    c->writing = 0;
    if (status < 0) {
        c->unsent.replies += c->in_write.replies;
        c->unsent.stored += c->in_write.stored;
    }
    c->in_write = (struct conn_tally){0, 0};
    if (c->wbuf.alloc > 4 * READ_CHUNK)
        buf_free(&c->wbuf);     /* a big burst is over: give the memory back */
    else
        buf_reset(&c->wbuf);
    conn_account(c);
    if (status < 0) {
        if (status != UV_ECANCELED)
            log_debug("connection %lu: write: %s", c->number, uv_strerror(status));
        if (!c->closing)
            conn_close(c);
        return;
    }
    c->last_active = uv_now(c->srv->loop);
    conn_flush(c);   /* the replies that waited, then the next write */
    conn_process(c);
}

/* Start a write of everything in `out` unless one is in progress. */
static void conn_write(conn *c)
{
    if (c->writing || c->closing || c->out.len == 0)
        return;
    buf t = c->wbuf;
    c->wbuf = c->out;
    c->out = t;
    c->in_write = c->in_out;
    c->in_out = (struct conn_tally){0, 0};
    uv_buf_t b = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
    c->wreq.data = c;
    int rc = uv_write(&c->wreq, &c->h.stream, &b, 1, conn_write_cb);
    if (rc < 0) {
        log_debug("connection %lu: write: %s", c->number, uv_strerror(rc));
        c->unsent.replies += c->in_write.replies;
        c->unsent.stored += c->in_write.stored;
        c->in_write = (struct conn_tally){0, 0};
        buf_reset(&c->wbuf);
        conn_close(c);   /* accounts for it */
        return;
    }
    c->writing = 1;
}

/* ---- reading and framing ------------------------------------------------ */

static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    (void)suggested;
    conn *c = h->data;
    size_t cap = c->srv->cfg.max_line + READ_CHUNK;
    size_t want = c->in_len + READ_CHUNK;
    if (want > cap)
        want = cap;
    if (want > c->in_alloc) {
        size_t n = c->in_alloc ? c->in_alloc : READ_CHUNK;
        while (n < want)
            n *= 2;
        if (n > cap)
            n = cap;
        char *p = realloc(c->in, n);
        if (!p) {
            *out = uv_buf_init(NULL, 0);   /* read_cb gets UV_ENOBUFS */
            return;
        }
        c->in = p;
        c->in_alloc = n;
    }
    *out = uv_buf_init(c->in + c->in_len, (unsigned)(want - c->in_len));
}

/* Start or stop reading to match C's limits (backpressure). */
static void conn_update_reading(conn *c)
{
    const server_config *cfg = &c->srv->cfg;
    int full = c->blocked || c->weight >= cfg->conn_inflight ||
               conn_unwritten(c) >= cfg->conn_unwritten;
    int low = !c->blocked && c->weight <= cfg->conn_inflight / 2 &&
              conn_unwritten(c) <= cfg->conn_unwritten / 2;
    if (c->reading && (full || c->eof || c->closing)) {
        uv_read_stop(&c->h.stream);
        c->reading = 0;
        if (!c->eof && !c->closing)   /* (at its end, reading stops for good: no pause) */
            log_debug("connection %lu: paused (%zu in flight, %zu bytes unwritten)", c->number,
                      c->ninflight, conn_unwritten(c));
    } else if (!c->reading && !c->eof && !c->closing && low) {
        if (uv_read_start(&c->h.stream, conn_alloc_cb, conn_read_cb) == 0) {
            c->reading = 1;
            /* The client could not send the rest of its line while the
             * server read nothing: its time starts again. */
            if (c->line_since)
                c->line_since = uv_now(c->srv->loop);
        }
    }
}

/* How much of a connection's in-flight budget (conn_inflight) the request
 * line P takes: one for most, as a decision's reply is a couple of
 * kilobytes; a screen as many as the programmes it may decide; a history
 * request as many as the decisions it may return (its limit, 100 unless
 * given or null), so that the replies one connection can have in flight
 * stay about as large whatever it asks.  Only lines that mention "history"
 * or "screen" are parsed here. */
static size_t line_weight(server *srv, const char *p, size_t n)
{
    if (!memmem(p, n, "\"history\"", 9) && !memmem(p, n, "\"screen\"", 8))
        return 1;
    /* The op's text found without parsing the line (a screen's may be long);
     * only a history request, rare, is parsed, for its limit. */
    const char *op;
    size_t oplen;
    if (!client_member(p, n, "op", &op, &oplen))
        return 1;
    if (oplen == 8 && !memcmp(op, "\"screen\"", 8))
        return pool_programmes(srv->pool);   /* a decision for each in force */
    if (oplen != 9 || memcmp(op, "\"history\"", 9))
        return 1;
    cJSON *root = cJSON_ParseWithLength(p, n);
    if (!root)
        return 1;   /* refused as invalid_json, in a small reply */
    const cJSON *limit = cJSON_GetObjectItemCaseSensitive(root, "limit");
    double l = !limit || cJSON_IsNull(limit) ? 100
               : cJSON_IsNumber(limit)       ? limit->valuedouble
                                             : 0;
    cJSON_Delete(root);
    return l >= 1 && l <= 10000 ? (size_t)l : 1;   /* else it is refused, in a small reply */
}

/* One complete request line (without its newline), of weight W: hand it to
 * the pool. */
static void conn_line(conn *c, const char *p, size_t n, size_t w)
{
    server *srv = c->srv;
    if (n && p[n - 1] == '\r')
        n--;
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
        i++;
    if (i == n)
        return;   /* blank lines are keep-alives, not requests */

    atomic_fetch_add(&srv->a_requests, 1);
    c->requests++;
    if (srv->inflight >= srv->cfg.queue) {
        char *id = line_id(srv, p, n);
        char msg[128];
        snprintf(msg, sizeof msg, "the server has %zu requests in flight; retry later",
                 srv->inflight);
        if (!srv->queue_refused++)
            log_warn("%zu requests in flight (--queue %zu): new requests are answered "
                     "overloaded until some are done", srv->inflight, srv->cfg.queue);
        srv->queue_refused_at = uv_now(srv->loop);
        conn_push_error(c, id, "overloaded", msg);
        cJSON_free(id);
        atomic_fetch_add(&srv->a_overloaded, 1);
        return;
    }
    job *j = job_new(p, n);
    if (!j) {
        log_error("connection %lu: out of memory; closing", c->number);
        conn_close(c);
        return;
    }
    j->client_uid = c->uid;
    j->client_pid = c->pid;
    log_timestamp(j->received_at);
    j->t_framed = job_clock();
    conn_push(c, j);
    j->weight = w;
    c->weight += w;
    c->ninflight++;
    srv->inflight++;
    atomic_store(&srv->a_inflight, srv->inflight);
    pool_submit(srv->pool, j);
}

static void conn_too_long(conn *c)
{
    log_warn("connection %lu (uid %lld, pid %lld): a request line longer than %zu bytes "
             "(--max-line); closing", c->number, (long long)c->uid, (long long)c->pid,
             c->srv->cfg.max_line);
    char msg[128];
    snprintf(msg, sizeof msg, "a request line is limited to %zu bytes; closing the connection",
             c->srv->cfg.max_line);
    c->eof = 1;
    c->in_len = 0;
    c->scanned = 0;
    conn_push_error(c, NULL, "line_too_long", msg);
}

/* The line at the head of C's input was begun line_timeout_ms ago, or more,
 * and is still not complete, though the server was reading all that time:
 * a client that sends a byte now and then would hold its connection, and
 * the buffer of its line, for ever (the idle timeout counts any byte).  It
 * is answered, and the connection ends as after a line too long. */
static void conn_line_timeout(conn *c, uint64_t now)
{
    const server_config *cfg = &c->srv->cfg;
    char msg[160];
    log_warn("connection %lu (uid %lld, pid %lld): a request line still incomplete %llu ms "
             "after its first byte (%zu bytes); closing", c->number, (long long)c->uid,
             (long long)c->pid, (unsigned long long)(now - c->line_since), c->in_len);
    snprintf(msg, sizeof msg, "a request line must be complete within %llu s of its first "
             "byte (--line-timeout); closing the connection",
             (unsigned long long)(cfg->line_timeout_ms / 1000));
    c->eof = 1;
    c->in_len = 0;
    c->scanned = 0;
    c->line_since = 0;
    conn_push_error(c, NULL, "line_timeout", msg);
    conn_process(c);   /* stop reading; close once the reply is written */
}

/* Frame and submit the buffered lines, as far as C's limits allow; then
 * adjust reading, and close if everything is done. */
static void conn_process(conn *c)
{
    const server_config *cfg = &c->srv->cfg;
    size_t start = 0;
    int partial = 0;   /* the bytes left are a line not yet complete */
    c->blocked = 0;
    while (start < c->in_len && !c->closing && c->weight < cfg->conn_inflight &&
           conn_unwritten(c) < cfg->conn_unwritten) {
        char *p = c->in + start;
        size_t avail = c->in_len - start;
        /* A long line comes in many reads: each looks only at what is new
         * (else receiving a line of n bytes would cost n^2 / READ_CHUNK). */
        size_t known = start == 0 ? c->scanned : 0;
        char *nl = memchr(p + known, '\n', avail - known);
        if (!nl) {
            /* A '\r' at the end may be the CR of a CRLF still on its way. */
            if (avail - (avail && p[avail - 1] == '\r') > cfg->max_line) {
                conn_too_long(c);
                start = 0;
            } else if (c->eof) {
                /* The peer ended without a final newline: still a line. */
                conn_line(c, p, avail, line_weight(c->srv, p, avail));
                start = c->in_len;
            } else {
                partial = 1;
            }
            break;
        }
        size_t n = (size_t)(nl - p);
        if (n - (n && p[n - 1] == '\r') > cfg->max_line) {   /* CRLF ends a line as LF does */
            conn_too_long(c);
            start = 0;
            break;
        }
        /* A heavy line waits for room, unless nothing else is in flight. */
        size_t w = line_weight(c->srv, p, n);
        if (c->weight > 0 && c->weight + w > cfg->conn_inflight) {
            c->blocked = 1;
            break;
        }
        conn_line(c, p, n, w);
        start += n + 1;
    }
    if (c->in_len && start) {
        memmove(c->in, c->in + start, c->in_len - start);
        c->in_len -= start;
    }
    /* The deadline of a line counts from its first byte: a line that
     * follows one framed here began in this read, or in one the server made
     * while it held that line back; either way, it starts now. */
    if (!partial || c->closing)
        c->line_since = 0;
    else if (!c->line_since || start)
        c->line_since = uv_now(c->srv->loop);
    c->scanned = partial && !c->closing ? c->in_len : 0;
    if (c->in_len == 0 && c->in_alloc > 2 * READ_CHUNK) {
        free(c->in);   /* after a long line, do not keep a megabyte per connection */
        c->in = NULL;
        c->in_alloc = 0;
    }
    conn_update_reading(c);
    conn_check(c);
    if (c->eof && !c->closing && c->npending == 0 && !c->writing && c->out.len == 0 &&
        (c->in_len == 0 || c->srv->stopping))
        conn_close(c);
}

static void conn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    (void)b;
    conn *c = s->data;
    if (nread > 0) {
        c->in_len += (size_t)nread;
        c->last_active = uv_now(c->srv->loop);
        conn_process(c);
    } else if (nread == UV_EOF) {
        c->eof = 1;
        conn_process(c);
    } else if (nread < 0) {
        log_debug("connection %lu: read: %s", c->number, uv_strerror((int)nread));
        conn_close(c);
    }
}

/* ---- closing ------------------------------------------------------------ */

static void conn_maybe_free(conn *c)
{
    if (!c->closed || c->npending)
        return;
    server *srv = c->srv;
    /* What a front office may not know it has: decided, stored, and no
     * reply sent.  A retry with the same request_key gets the stored ones. */
    size_t replies = c->unsent.replies + c->in_out.replies;
    size_t stored = c->unsent.stored + c->in_out.stored;
    if (stored)
        log_warn("connection %lu (uid %lld, pid %lld): closed before %zu replies were sent; "
                 "their requests stored %zu records all the same", c->number,
                 (long long)c->uid, (long long)c->pid, replies, stored);
    else if (replies)
        log_debug("connection %lu: closed before %zu replies were sent", c->number, replies);
    buf_free(&c->out);
    buf_free(&c->wbuf);
    conn_account(c);   /* to nothing */
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->in);
    free(c);
    server_maybe_finish(srv);
}

static void conn_close_cb(uv_handle_t *h)
{
    conn *c = h->data;
    server *srv = c->srv;
    c->closed = 1;
    srv->nconns--;
    atomic_store(&srv->a_conns, srv->nconns);
    log_debug("connection %lu: closed after %zu requests", c->number, c->requests);
    conn_flush(c);   /* drops the replies that waited for the client */
    conn_maybe_free(c);
}

static void conn_close(conn *c)
{
    if (c->closing)
        return;
    if (c->reading)
        uv_read_stop(&c->h.stream);
    c->reading = 0;
    c->closing = 1;
    c->eof = 1;
    c->line_since = 0;
    buf_free(&c->out);
    conn_account(c);
    uv_close(&c->h.handle, conn_close_cb);
}

/* ---- the mailbox -------------------------------------------------------- */

void server_built_big(void *ud, job *j)
{
    server *srv = ud;
    conn *c = j->conn;
    j->early = j->reply.len;
    atomic_fetch_add(&srv->a_early, j->early);
    if (c)
        atomic_fetch_add(&c->a_early, j->early);
}

int server_refuses_big(void *ud, const job *j, size_t *held)
{
    server *srv = ud;
    const conn *c = j->conn;   /* set when the job was made; the connection outlives it */
    size_t mine = c ? atomic_load(&c->a_held) + atomic_load(&c->a_early) : 0;
    size_t all = atomic_load(&srv->a_held) + atomic_load(&srv->a_early);
    /* A client that reads its replies holds next to nothing: one that
     * leaves them waiting is refused; and, while all together leave much
     * (many clients, each with one large reply unread), every one is, or
     * their number would set the server's memory. */
    int refuse = mine > SERVER_HELD_CONN ? POOL_HELD_MINE : all > SERVER_HELD_ALL ? POOL_HELD_ALL : 0;
    *held = refuse == POOL_HELD_ALL ? all : mine;
    if (refuse)
        atomic_fetch_add(&srv->a_overloaded, 1);
    return refuse;
}

void server_post(void *ud, job *j)
{
    server *srv = ud;
    j->next = NULL;
    pthread_mutex_lock(&srv->mu);
    if (srv->mb_tail)
        srv->mb_tail->next = j;
    else
        srv->mb_head = j;
    srv->mb_tail = j;
    uv_async_send(&srv->async);
    pthread_mutex_unlock(&srv->mu);
}

/* Record the stages of the jobs on LIST, back from the pool or the writer. */
static void server_time(server *srv, const job *list)
{
    uint64_t now = job_clock();
    pthread_mutex_lock(&srv->lat_mu);
    for (const job *j = list; j; j = j->next) {
        if (!j->t_framed || !j->t_taken || !j->t_decided)
            continue;   /* refused before a worker had it */
        uint64_t back = j->t_committed ? j->t_committed : j->t_decided;
        hist_record(&srv->lat[LAT_TOTAL], now - j->t_framed);
        hist_record(&srv->lat[LAT_QUEUE], j->t_taken - j->t_framed);
        hist_record(&srv->lat[LAT_ENGINE], j->t_decided - j->t_taken);
        if (j->t_committed)
            hist_record(&srv->lat[LAT_COMMIT], j->t_committed - j->t_decided);
        hist_record(&srv->lat[LAT_REPLY], now - back);
    }
    pthread_mutex_unlock(&srv->lat_mu);
}

static void server_async_cb(uv_async_t *a)
{
    server *srv = a->data;
    pthread_mutex_lock(&srv->mu);
    job *list = srv->mb_head;
    srv->mb_head = srv->mb_tail = NULL;
    pthread_mutex_unlock(&srv->mu);
    server_time(srv, list);

    /* Mark every returned job done first, collecting each connection once;
     * then flush each connection (which frees jobs of the list, so the list
     * is not walked again). */
    conn *touched = NULL;
    for (job *j = list; j; j = j->next) {
        conn *c = j->conn;
        conn_done(c, j);
        c->ninflight--;
        srv->inflight--;
        if (!c->touched) {
            c->touched = 1;
            c->touch_next = touched;
            touched = c;
        }
    }
    atomic_store(&srv->a_inflight, srv->inflight);
    conn *next;
    for (conn *c = touched; c; c = next) {
        next = c->touch_next;
        c->touched = 0;
        /* Its idle time counts from its replies, not from its requests: one
         * that waited longer than the timeout (a commit held up) was closed
         * at the next sweep, its reply cut short while its client read it. */
        c->last_active = uv_now(srv->loop);
        conn_flush(c);
        if (!c->closing)
            conn_process(c);
        else
            conn_maybe_free(c);
    }
    server_check(srv);
    server_maybe_finish(srv);
}

/* ---- accepting ---------------------------------------------------------- */

static void server_peer(conn *c, int is_unix)
{
    c->uid = c->pid = -1;
    if (!is_unix)
        return;
    uv_os_fd_t fd;
    struct ucred cr;
    socklen_t len = sizeof cr;
    if (uv_fileno(&c->h.handle, &fd) == 0 &&
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0) {
        c->uid = (int64_t)cr.uid;
        c->pid = (int64_t)cr.pid;
    }
}

static void server_accept(uv_stream_t *listener, int status)
{
    server *srv = listener->data;
    int is_unix = listener == (uv_stream_t *)&srv->unix_listener;
    if (status < 0) {
        log_warn("accept: %s", uv_strerror(status));
        return;
    }
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        log_error("accept: out of memory");
        return;
    }
    c->srv = srv;
    buf_init(&c->out, OUT_CAP);
    buf_init(&c->wbuf, OUT_CAP);
    int rc = is_unix ? uv_pipe_init(srv->loop, &c->h.pipe, 0) : uv_tcp_init(srv->loop, &c->h.tcp);
    if (rc < 0) {
        log_error("accept: %s", uv_strerror(rc));
        free(c);
        return;
    }
    c->h.handle.data = c;
    c->number = ++srv->next_number;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    atomic_store(&srv->a_conns, srv->nconns);
    if ((rc = uv_accept(listener, &c->h.stream)) < 0) {
        log_warn("accept: %s", uv_strerror(rc));
        conn_close(c);
        return;
    }
    if (!is_unix)
        uv_tcp_nodelay(&c->h.tcp, 1);
    server_peer(c, is_unix);
    c->last_active = uv_now(srv->loop);
    log_debug("connection %lu: open (uid %lld, pid %lld)", c->number, (long long)c->uid,
              (long long)c->pid);
    if (srv->nconns > srv->cfg.max_connections) {
        char msg[128];
        snprintf(msg, sizeof msg, "the server already has %zu connections (the limit)",
                 srv->cfg.max_connections);
        log_warn("connection %lu refused: %s", c->number, msg);
        c->eof = 1;
        atomic_fetch_add(&srv->a_overloaded, 1);   /* an overloaded reply, as health counts */
        conn_push_error(c, NULL, "overloaded", msg);
        conn_process(c);
        return;
    }
    conn_update_reading(c);
}

/* ---- idle timeout ------------------------------------------------------- */

/* Reply bytes C's client has not read yet: those of the write in progress
 * still in libuv's queue, and those in the socket's send queue. */
static size_t conn_unread(conn *c)
{
    size_t left = c->writing ? uv_stream_get_write_queue_size(&c->h.stream) : 0;
    uv_os_fd_t fd;
    int queued = 0;
    if (uv_fileno(&c->h.handle, &fd) == 0 && ioctl(fd, SIOCOUTQ, &queued) == 0 && queued > 0)
        left += (size_t)queued;
    return left;
}

static void server_watch_socket(server *srv);

static void server_sweep_cb(uv_timer_t *t)
{
    server *srv = t->data;
    uint64_t now = uv_now(srv->loop);
    if (now - srv->socket_looked >= SERVER_WATCH_MS) {
        srv->socket_looked = now;
        server_watch_socket(srv);
    }
    if (srv->queue_refused && now - srv->queue_refused_at >= SERVER_WATCH_MS) {
        log_info("no request answered overloaded for a second, after %llu were (--queue %zu)",
                 srv->queue_refused, srv->cfg.queue);
        srv->queue_refused = 0;
    }
    if (!srv->cfg.idle_timeout_ms && !srv->cfg.line_timeout_ms)
        return;
    for (conn *c = srv->conns; c; c = c->next) {
        /* A connection waiting for the workers is not idle; one whose
         * client has taken nothing for the whole timeout is, even with
         * replies still to write (it would hold them for ever). */
        if (c->closing)
            continue;
        /* A line's deadline runs only while the server reads: paused (its
         * client not taking its replies), the rest of the line cannot come. */
        if (srv->cfg.line_timeout_ms && c->reading && c->line_since &&
            now - c->line_since >= srv->cfg.line_timeout_ms) {
            conn_line_timeout(c, now);
            continue;
        }
        if (!srv->cfg.idle_timeout_ms)
            continue;
        /* A client reading its replies slowly is not idle either, though no
         * write completes for longer than the timeout (one can be a
         * megabyte, a long history more): what it has not read, in the
         * write and in the socket's buffer, goes down (the socket's counts
         * its buffers, so a client must take one of them, some tens of
         * kilobytes, per timeout). */
        size_t unread = conn_unread(c);
        if (unread < c->unread)
            c->last_active = now;
        c->unread = unread;
        if (c->ninflight)
            continue;
        if (now - c->last_active >= srv->cfg.idle_timeout_ms) {
            log_debug("connection %lu: idle for %llu ms; closing", c->number,
                      (unsigned long long)(now - c->last_active));
            conn_close(c);
        }
    }
}

/* Stopping, and some client has still not taken its replies: every request
 * is committed by now or will be, so close what is left. */
static void server_stop_timeout_cb(uv_timer_t *t)
{
    server *srv = t->data;
    size_t n = 0;
    for (conn *c = srv->conns; c; c = c->next)
        if (!c->closing) {
            conn_close(c);
            n++;
        }
    if (n)
        log_warn("closed %zu connections whose clients did not take their replies", n);
}

/* ---- set-up --------------------------------------------------------------- */

int server_probe(const char *path, err *e)
{
    struct sockaddr_un sa;
    if (strlen(path) >= sizeof sa.sun_path)
        return err_set(e, "internal", "socket path '%s' is too long (at most %zu bytes)", path,
                       sizeof sa.sun_path - 1);
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        return err_set(e, "internal", "%s: %s", path, strerror(errno));
    }
    if (!S_ISSOCK(st.st_mode))
        return err_set(e, "internal", "%s exists and is not a socket; not touching it", path);

    /* Not blocking: a live server whose backlog is full would keep a
     * blocking connect waiting for ever; it says EAGAIN instead. */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return err_set(e, "internal", "socket: %s", strerror(errno));
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    int saved = errno;
    close(fd);
    if (rc == 0 || saved == EAGAIN)
        return err_set(e, "internal",
                       "another server is already listening on %s%s (stop it, or choose "
                       "another --socket)", path, rc == 0 ? "" : ", its backlog full");
    if (saved != ECONNREFUSED && saved != ENOENT)
        return err_set(e, "internal", "%s: %s", path, strerror(saved));
    if (unlink(path) < 0 && errno != ENOENT)
        return err_set(e, "internal", "cannot remove the stale socket %s: %s", path,
                       strerror(errno));
    log_info("removed the stale socket %s left by a server that is gone", path);
    return 0;
}

int server_init(server **out, uv_loop_t *loop, const server_config *cfg, err *e)
{
    server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return err_set(e, "internal", "out of memory");
    srv->loop = loop;
    srv->cfg = *cfg;
    if (!srv->cfg.max_line)
        srv->cfg.max_line = (size_t)1 << 20;
    if (!srv->cfg.max_connections)
        srv->cfg.max_connections = 1024;
    if (!srv->cfg.queue)
        srv->cfg.queue = 16384;
    if (!srv->cfg.conn_inflight)
        srv->cfg.conn_inflight = 1024;
    if (!srv->cfg.conn_unwritten)
        srv->cfg.conn_unwritten = (size_t)1 << 20;
    if (!srv->cfg.version)
        srv->cfg.version = "";
    if (!srv->cfg.id_memory)
        srv->cfg.id_memory = ENGINE_DEFAULT_MEMORY;
    srv->socket_path = strdup(cfg->socket_path);
    if (!srv->socket_path) {
        err_set(e, "internal", "out of memory");
        goto fail_alloc;
    }
    if (pthread_mutex_init(&srv->mu, NULL) != 0) {
        err_set(e, "internal", "pthread_mutex_init failed");
        goto fail_path;
    }
    if (pthread_mutex_init(&srv->lat_mu, NULL) != 0) {
        err_set(e, "internal", "pthread_mutex_init failed");
        goto fail_mu;
    }
    for (int k = 0; k < LAT_N; k++)
        hist_init(&srv->lat[k]);
    int rc = uv_async_init(loop, &srv->async, server_async_cb);
    if (rc < 0) {
        err_set(e, "internal", "uv_async_init: %s", uv_strerror(rc));
        goto fail_mutex;
    }
    /* From here on every failure is reported by server_listen, and the
     * handles are closed by server_close. */
    srv->async.data = srv;
    srv->open_handles = 1;
    uv_timer_init(loop, &srv->sweep);
    srv->sweep.data = srv;
    srv->open_handles++;
    srv->started = uv_hrtime();
    buf_init(&srv->id_scratch, srv->cfg.id_memory);   /* a string being unescaped */
    *out = srv;
    return 0;

fail_mutex:
    pthread_mutex_destroy(&srv->lat_mu);
fail_mu:
    pthread_mutex_destroy(&srv->mu);
fail_path:
    free(srv->socket_path);
fail_alloc:
    free(srv);
    return -1;
}

/* Is SA a loopback address (127.0.0.0/8, ::1, or 127.0.0.0/8 mapped into
 * IPv6 as ::ffff:127.x.y.z)? */
static int server_is_loopback(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    const unsigned char *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    static const unsigned char one[16] = {[15] = 1};
    static const unsigned char mapped[12] = {[10] = 0xff, [11] = 0xff};
    return memcmp(a, one, 16) == 0 || (memcmp(a, mapped, 12) == 0 && a[12] == 127);
}

/* Parse "HOST:PORT" or "[HOST6]:PORT" into SA. */
static int server_parse_addr(const char *text, struct sockaddr_storage *sa, err *e)
{
    char host[64];
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text)
        return err_set(e, "internal", "--listen wants HOST:PORT, not '%s'", text);
    char *end;
    long port = strtol(colon + 1, &end, 10);
    /* Digits only: strtol would take " 80" and "+80" as 80. */
    if (*end || port < 1 || port > 65535 || !isdigit((unsigned char)colon[1]))
        return err_set(e, "internal", "--listen: '%s' is not a port number", colon + 1);
    const char *h = text;
    size_t hl = (size_t)(colon - text);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= sizeof host)
        return err_set(e, "internal", "--listen: host too long");
    memcpy(host, h, hl);
    host[hl] = '\0';
    memset(sa, 0, sizeof *sa);
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)sa) == 0 ||
        uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)sa) == 0)
        return 0;
    return err_set(e, "internal", "--listen: '%s' is not a numeric IP address", host);
}

int server_check_listen(const char *addr, int force, err *e)
{
    struct sockaddr_storage sa;
    if (server_parse_addr(addr, &sa, e) < 0)
        return -1;
    if (!server_is_loopback(&sa) && !force)
        return err_set(e, "internal",
                       "--listen %s is not a loopback address: the protocol has no "
                       "authentication; add --force-listen if you really mean it", addr);
    return 0;
}

/* Bind and open the Unix listener on srv->socket_path, and note the file
 * made (server_close).  0, or a libuv error code. */
static int server_bind_unix(server *srv)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t n = strlen(srv->socket_path);
    if (n >= sizeof sa.sun_path)
        return UV_ENAMETOOLONG;
    memcpy(sa.sun_path, srv->socket_path, n + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* 0660 as it is made: no chmod after, which would follow a symbolic
     * link put in its place meanwhile by whoever may write the directory. */
    mode_t old = umask(0117);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    int saved = errno;
    umask(old);
    struct stat sb;
    int found = rc == 0 && lstat(srv->socket_path, &sb) == 0;
    if (!found || !S_ISSOCK(sb.st_mode)) {
        /* Not found: made, but not to be told from another's later.  Not a
         * socket: replaced at once, and not this server's to remove. */
        int why = rc < 0 ? -saved : !found ? -errno : UV_EEXIST;
        if (rc == 0 && !found)
            unlink(srv->socket_path);
        close(fd);
        return why;
    }
    srv->socket_dev = sb.st_dev;
    srv->socket_ino = sb.st_ino;
    srv->socket_made = 1;
    if ((rc = uv_pipe_open(&srv->unix_listener, fd)) < 0) {
        close(fd);
        return rc;
    }
    return 0;
}

/* Remove the socket file, if it is still the one this server made: another
 * server may have been started on the path since it was removed. */
static void server_unlink_socket(server *srv)
{
    struct stat sb;
    if (!srv->socket_made)
        return;
    srv->socket_made = 0;
    if (lstat(srv->socket_path, &sb) != 0)
        return;
    if (sb.st_dev == srv->socket_dev && sb.st_ino == srv->socket_ino)
        unlink(srv->socket_path);
    else
        log_warn("%s is no longer this server's socket (another server's?): left in place",
                 srv->socket_path);
}

static void server_handle_closed(uv_handle_t *h);

/* The listener closed (server_watch_socket): bind it again on the path, or,
 * stopping meanwhile, count it closed. */
static void server_rebind(uv_handle_t *h)
{
    server *srv = h->data;
    srv->rebinding = 0;
    if (srv->stopping) {
        server_handle_closed(h);
        return;
    }
    int rc = uv_pipe_init(srv->loop, &srv->unix_listener, 0);
    int made = rc == 0;
    if (made) {
        srv->unix_listener.data = srv;
        if ((rc = server_bind_unix(srv)) == 0) {
            rc = uv_listen((uv_stream_t *)&srv->unix_listener, 511, server_accept);
            if (rc == 0) {
                log_warn("the socket file %s was removed: made it again", srv->socket_path);
                return;
            }
        }
        server_unlink_socket(srv);   /* a file bound but not listened on is no use to anyone */
    }
    log_error("the socket file %s was removed and cannot be made again (%s): new clients "
              "cannot connect; the %zu connections open go on", srv->socket_path,
              uv_strerror(rc), srv->nconns);
    /* Closed for good, and counted so: the new handle once closed, or the
     * old one, closed already, when no new one was made. */
    srv->have_unix = 0;
    if (made)
        uv_close((uv_handle_t *)&srv->unix_listener, server_handle_closed);
    else
        server_handle_closed(h);
}

/* Is the socket's path still this server's socket?  Removed (a cleaner of
 * the directory, a hand), no client could reach the server any more: the
 * listener is made again on the path.  Taken by another file (another
 * server's socket, made after the removal), it is left alone, said once:
 * new clients reach that one. */
static void server_watch_socket(server *srv)
{
    if (!srv->have_unix || !srv->listening || srv->stopping || srv->rebinding)
        return;
    struct stat sb;
    if (lstat(srv->socket_path, &sb) == 0) {
        if (sb.st_dev == srv->socket_dev && sb.st_ino == srv->socket_ino) {
            srv->socket_lost = 0;
            return;
        }
        if (!srv->socket_lost)
            log_warn("%s is no longer this server's socket (another server's?): new clients "
                     "reach whatever made it; this server goes on with its %zu connections",
                     srv->socket_path, srv->nconns);
        srv->socket_lost = 1;
        srv->socket_made = 0;   /* not ours to remove at the stop */
        return;
    }
    if (errno != ENOENT)
        return;   /* cannot tell (a directory made unreadable): leave it */
    srv->socket_made = 0;
    srv->rebinding = 1;
    uv_close((uv_handle_t *)&srv->unix_listener, server_rebind);
}

int server_listen(server *srv, pool *p, err *e)
{
    srv->pool = p;
    int rc;

    struct sockaddr_storage sa;
    if (srv->cfg.listen) {
        if (server_check_listen(srv->cfg.listen, srv->cfg.force_listen, e) < 0 ||
            server_parse_addr(srv->cfg.listen, &sa, e) < 0)
            return -1;
    }

    if ((rc = uv_pipe_init(srv->loop, &srv->unix_listener, 0)) < 0)
        return err_set(e, "internal", "uv_pipe_init: %s", uv_strerror(rc));
    srv->unix_listener.data = srv;
    srv->have_unix = 1;
    srv->open_handles++;
    /* Bound here, not by uv_pipe_bind: libuv would remove the file it bound
     * when the listener closes, even one another server made since at the
     * same path (server_close removes it only while it is still ours).
     * Created as 0660 from the start, not after a chmod. */
    rc = server_bind_unix(srv);
    if (rc < 0) {
        /* libuv says "permission denied" for a missing directory too. */
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", srv->socket_path);
        char *slash = strrchr(dir, '/');
        struct stat sb;
        if (slash && slash != dir) {
            *slash = '\0';
            if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
                return err_set(e, "internal", "cannot bind %s: the directory %s does not exist",
                               srv->socket_path, dir);
        }
        char why[600] = "";
        if (rc == UV_EACCES || rc == UV_EROFS)
            err_denied(srv->socket_path, 1, why, sizeof why);
        return err_set(e, "internal", "cannot bind %s: %s%s%s", srv->socket_path, uv_strerror(rc),
                       *why ? ": " : "", why);
    }
    if ((rc = uv_listen((uv_stream_t *)&srv->unix_listener, 511, server_accept)) < 0)
        return err_set(e, "internal", "cannot listen on %s: %s", srv->socket_path,
                       uv_strerror(rc));
    log_info("listening on %s", srv->socket_path);

    if (srv->cfg.listen) {
        if ((rc = uv_tcp_init(srv->loop, &srv->tcp_listener)) < 0)
            return err_set(e, "internal", "uv_tcp_init: %s", uv_strerror(rc));
        srv->tcp_listener.data = srv;
        srv->have_tcp = 1;
        srv->open_handles++;
        if ((rc = uv_tcp_bind(&srv->tcp_listener, (struct sockaddr *)&sa, 0)) < 0 ||
            (rc = uv_listen((uv_stream_t *)&srv->tcp_listener, 511, server_accept)) < 0)
            return err_set(e, "internal", "cannot listen on %s: %s", srv->cfg.listen,
                           uv_strerror(rc));
        log_info("listening on %s", srv->cfg.listen);
        if (!server_is_loopback(&sa))
            log_warn("listening on a non-loopback address: anyone who can reach it can submit");
    }
    /* The sweep closes idle connections and slow lines' ones, and looks at
     * the socket's file; a timeout is kept to within a quarter of itself. */
    uint64_t every = SERVER_WATCH_MS;
    if (srv->cfg.idle_timeout_ms && srv->cfg.idle_timeout_ms / 4 < every)
        every = srv->cfg.idle_timeout_ms / 4;
    if (srv->cfg.line_timeout_ms && srv->cfg.line_timeout_ms / 4 < every)
        every = srv->cfg.line_timeout_ms / 4;
    if (every < 10)
        every = 10;
    if (every > SERVER_WATCH_MS)
        every = SERVER_WATCH_MS;
    srv->socket_looked = uv_now(srv->loop);
    uv_timer_start(&srv->sweep, server_sweep_cb, every, every);
    srv->listening = 1;
    return 0;
}

/* ---- health ------------------------------------------------------------- */

void server_health(void *ud, buf *out)
{
    server *srv = ud;
    double uptime = (double)(uv_hrtime() - srv->started) / 1e9;
    buf_printf(out,
               ",\"version\":\"%s\",\"uptime_s\":%.3f,\"connections\":%zu,\"requests\":%llu,"
               "\"overloaded\":%llu,\"in_flight\":%zu",
               srv->cfg.version, uptime, atomic_load(&srv->a_conns),
               (unsigned long long)atomic_load(&srv->a_requests),
               (unsigned long long)atomic_load(&srv->a_overloaded),
               atomic_load(&srv->a_inflight));
    buf_adds(out, ",\"errors\":{");
    for (size_t k = 0; k < SERVER_NERRORS; k++)
        buf_printf(out, "%s\"%s\":%llu", k ? "," : "", error_codes[k],
                   (unsigned long long)atomic_load(&srv->a_errors[k]));
    buf_adds(out, "}");
    static const struct {
        const char *name;
        double q;
    } qs[] = {{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p999", 0.999}, {"max", 1.0}};
    enum { NQ = sizeof qs / sizeof qs[0] };
    double q[NQ];
    uint64_t v[LAT_N][NQ], count[LAT_N];
    for (int i = 0; i < NQ; i++)
        q[i] = qs[i].q;
    pthread_mutex_lock(&srv->lat_mu);   /* one pass per stage: the loop waits that long */
    for (int k = 0; k < LAT_N; k++) {
        count[k] = srv->lat[k].count;
        hist_quantiles(&srv->lat[k], q, NQ, v[k]);
    }
    pthread_mutex_unlock(&srv->lat_mu);
    buf_adds(out, ",\"latency_ms\":{");
    for (int k = 0; k < LAT_N; k++) {
        buf_printf(out, "%s\"%s\":{\"count\":%llu", k ? "," : "", lat_names[k],
                   (unsigned long long)count[k]);
        for (int i = 0; i < NQ; i++)
            buf_printf(out, ",\"%s\":%.3f", qs[i].name, (double)v[k][i] / 1e6);
        buf_addc(out, '}');
    }
    buf_addc(out, '}');
}

/* ---- shutting down ------------------------------------------------------ */

static void server_handle_closed(uv_handle_t *h)
{
    server *srv = h->data;
    if (--srv->open_handles > 0)
        return;
    server_close_cb *cb = srv->close_cb;
    void *arg = srv->close_arg;
    pthread_mutex_destroy(&srv->lat_mu);
    pthread_mutex_destroy(&srv->mu);
    if (srv->id_L)
        lua_close(srv->id_L);
    buf_free(&srv->id_scratch);
    free(srv->socket_path);
    free(srv);
    if (cb)
        cb(arg);
}

/* Once stopping, and every connection is gone and every job is back: close
 * the server's own handles. */
static void server_maybe_finish(server *srv)
{
    if (!srv->stopping || srv->finishing || srv->conns || srv->inflight)
        return;
    srv->finishing = 1;
    if (srv->listening)   /* a server that never served has nothing to say */
        log_info("every request in flight is answered");
    pthread_mutex_lock(&srv->mu);   /* no uv_async_send can be under way */
    uv_close((uv_handle_t *)&srv->async, server_handle_closed);
    pthread_mutex_unlock(&srv->mu);
    uv_close((uv_handle_t *)&srv->sweep, server_handle_closed);
}

void server_close(server *srv, server_close_cb *cb, void *arg)
{
    if (srv->stopping)
        return;
    srv->stopping = 1;
    srv->close_cb = cb;
    srv->close_arg = arg;
    if (srv->have_unix) {
        server_unlink_socket(srv);   /* first: while open, its inode cannot be another's */
        if (!srv->rebinding)         /* else server_rebind counts it closed */
            uv_close((uv_handle_t *)&srv->unix_listener, server_handle_closed);
    }
    if (srv->have_tcp)
        uv_close((uv_handle_t *)&srv->tcp_listener, server_handle_closed);
    if (srv->listening)
        log_info("stopped accepting; %zu requests in flight on %zu connections", srv->inflight,
                 srv->nconns);
    conn *next;
    for (conn *c = srv->conns; c; c = next) {
        next = c->next;   /* conn_process may close c, never frees it here */
        c->eof = 1;
        c->in_len = 0;    /* unread requests were never acknowledged */
        c->scanned = 0;
        conn_process(c);
    }
    uv_timer_stop(&srv->sweep);
    uv_timer_start(&srv->sweep, server_stop_timeout_cb, SERVER_STOP_GRACE_MS, 0);
    server_maybe_finish(srv);
}
