/*
 * job.h -- one request line on its way through the service, and its reply.
 *
 * A job is created by the server (loop thread) for each line it frames, goes
 * to a worker (pool), for decide/screen/review on to the writer, and comes
 * back to the loop thread with its reply line built.  At any moment exactly one
 * thread owns it: the queue it sits on is its owner's, and handing it over is
 * a push under that queue's lock.  The fields marked "loop" are touched only
 * on the loop thread, whoever else owns the job.
 *
 * Everything the request needs is freed in one step by job_free, once its
 * reply has been copied to the connection.
 */
#ifndef ELIGO_JOB_H
#define ELIGO_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "engine.h"

/* The most a reply line may hold (a history of many decisions is large). */
#define JOB_REPLY_CAP ((size_t)64 << 20)

typedef struct job {
    struct job *next;          /* link on whichever queue holds the job */
    struct job *conn_next;     /* loop: the connection's FIFO, request order */
    void *conn;                /* loop: the connection that sent the line (set
                                  before the job leaves the loop; a worker may
                                  read it: server_refuses_big) */
    int done;                  /* loop: reply is final, may be written */
    size_t weight;             /* loop: its share of the connection's in-flight budget */
    size_t early;              /* reply bytes a worker counted as unread before the loop
                                  has the job (pool_config.built_big), or 0 */
    int64_t client_uid;        /* peer credentials; -1 when unknown (TCP) */
    int64_t client_pid;
    char received_at[32];      /* when the server framed the line */
    char decided_at[32];       /* when the engine finished with it */
    /* Monotonic times (job_clock) of its stages, for the service's own
     * latency figures (health): framed by the loop, taken by a worker,
     * decided, committed by the writer (0 when it needed no commit). */
    uint64_t t_framed, t_taken, t_decided, t_committed;
    size_t stored;             /* writer: the records it added to the store (its
                                  decisions, or its review) */
    engine_result *res;        /* what the engine decided (decide/screen), or
                                  the parsed request (review) */
    struct review *review;     /* op review: the review to append (review.h) */
    struct past_note *note;    /* its decisions as rows of its applicant's
                                  past (past.h), or NULL */
    char error[24];            /* the code of an error reply (job_error), or "" */
    buf reply;                 /* the reply line, '\n' included */
    size_t len;                /* bytes in line */
    char line[];               /* the request line, NUL-terminated */
} job;

/* A new job holding a copy of the N bytes of LINE.  NULL when memory is
 * short. */
job *job_new(const char *line, size_t n);

/* Now, in nanoseconds of CLOCK_MONOTONIC: the clock of the t_ fields. */
uint64_t job_clock(void);

/* Free J, its engine result, its review, its note and its reply.  NULL is
 * fine. */
void job_free(job *j);

/* Make J's reply an error: {"id":ID,"ok":false,"error":{"code":CODE,
 * "message":...}}, and J->error CODE.  ID is JSON text (NULL means null).  Returns 0, or -1 when
 * memory is short (the reply is then empty: see job_reply_line). */
int job_error(job *j, const char *id, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The error code of J's reply: J->error, "internal" for an empty reply
 * (job_reply_line's), or NULL for a success. */
const char *job_error_code(const job *j);

/* Start a success reply, {"id":ID,"ok":true -- the caller appends its
 * ,"field":value members to J->reply and calls job_finish. */
int job_begin(job *j, const char *id);

/* Close the reply object and add the newline.  Returns 0, or -1 (reply
 * emptied) when the cap or memory ran out. */
int job_finish(job *j);

/* The reply line to send: J's reply, or a fixed internal-error line when it
 * is empty (memory ran out while building it). */
const char *job_reply_line(const job *j, size_t *len);

#endif
