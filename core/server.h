/*
 * server.h -- the socket side of `eligo serve`: listeners, connections,
 * framing, limits, backpressure and replies in request order.
 *
 * Everything here runs on the loop thread, except server_post,
 * server_health, server_refuses_big and server_built_big, which any thread
 * may call.  The server never runs Lua or
 * SQLite: it cuts the byte stream into lines, wraps each in a job, hands the
 * job to the pool, and writes the reply when the job comes back (through
 * server_post, an async handle and a mailbox).
 *
 * Lifetime:  server_probe (before anything else: is another server there?),
 * server_init (handles), server_listen (bind, listen, accept from then on),
 * server_close (stop accepting, finish and reply to everything in flight,
 * close every handle, free).
 */
#ifndef ELIGO_SERVER_H
#define ELIGO_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "buf.h"
#include "err.h"
#include "job.h"
#include "pool.h"

typedef struct server server;

typedef struct server_config {
    const char *socket_path;     /* Unix socket to create (mode 0660) */
    const char *listen;          /* "127.0.0.1:PORT" / "[::1]:PORT", or NULL */
    int force_listen;            /* allow a non-loopback --listen address */
    size_t max_line;             /* bytes per request line (0: 1 MiB) */
    size_t max_connections;      /* (0: 1024) */
    size_t queue;                /* requests in flight, server-wide, before
                                    "overloaded" (0: 16384) */
    size_t conn_inflight;        /* requests in flight on one connection before
                                    it stops being read (0: 1024) */
    size_t conn_unwritten;       /* reply bytes not yet taken by the client
                                    before it stops being read (0: 1 MiB) */
    uint64_t idle_timeout_ms;    /* close a quiet connection after this (0: never) */
    uint64_t line_timeout_ms;    /* answer line_timeout and close a connection whose
                                    line is not complete this long after its first
                                    byte was read, reading all the while (0: never) */
    size_t id_memory;            /* the memory the loop may take to read the id
                                    of a line it refuses itself (overloaded): the
                                    engine's cap (0: ENGINE_DEFAULT_MEMORY) */
    const char *version;         /* reported by health */
} server_config;

/* Check that PATH is free for a new server: absent, or a stale socket left by
 * a dead server (which is removed).  Returns -1 with E when a server answers
 * on it, when PATH is something other than a socket, or when it is too long
 * for a socket address. */
int server_probe(const char *path, err *e);

/* Check a --listen address before anything starts: "HOST:PORT" or
 * "[HOST6]:PORT" with a numeric host, loopback unless FORCE.  Returns 0, or -1
 * with E saying what is wrong. */
int server_check_listen(const char *addr, int force, err *e);

/* Allocate the server and initialise its loop handles on LOOP.  Nothing is
 * bound yet.  Returns 0 and *OUT, or -1 with E.  After success the server
 * must be closed with server_close (and the loop run) whatever happens next. */
int server_init(server **out, uv_loop_t *loop, const server_config *cfg, err *e);

/* Bind the listeners and start accepting; requests go to P.  Returns 0, or -1
 * with E (address in use, refused non-loopback address, ...). */
int server_listen(server *srv, pool *p, err *e);

/* The pool's and the writer's DONE callback: hands a finished job back to
 * the loop thread.  Any thread.  UD is the server. */
void server_post(void *ud, job *j);

/* Whether J, a request whose reply has no size known in advance (decision,
 * history: a decision's reviews have no bound in number), is to be answered
 * overloaded, because replies wait for their clients to read them, counting
 * every reply byte a client has not taken (in its job, or in the output
 * buffers): POOL_HELD_MINE when its connection's are over SERVER_HELD_CONN
 * bytes, POOL_HELD_ALL when all connections' are over SERVER_HELD_ALL, else
 * 0; *HELD gets the bytes that decided.  Any thread. */
int server_refuses_big(void *ud, const job *j, size_t *held);

/* The pool's built_big callback: J's reply, just built, counts toward those
 * limits at once, rather than once the loop has it (many requests asked
 * together would each see the others' replies as nothing).  Any thread. */
void server_built_big(void *ud, job *j);
#define SERVER_HELD_CONN ((size_t)16 << 20)
#define SERVER_HELD_ALL ((size_t)256 << 20)

/* The pool's HEALTH callback: appends version, uptime, connections, request
 * counts and requests in flight.  Any thread.  UD is the server. */
void server_health(void *ud, buf *out);

/* Stop accepting, stop reading, let every request in flight finish, commit
 * and be answered, then close every handle; CB(ARG) runs after the last close
 * callback, and SRV is freed.  The socket file is removed.  Loop thread. */
typedef void server_close_cb(void *arg);
void server_close(server *srv, server_close_cb *cb, void *arg);

#endif
