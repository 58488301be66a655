/*
 * writer.h -- the single thread that owns the read-write store.
 *
 * Workers hand it decided applications (jobs whose engine result holds
 * decide or screen decisions) and reviews (jobs with a review: each is
 * appended in a transaction of its own, after the batch it came with).  It
 * takes everything queued -- up to a batch limit -- and appends the
 * applications with one store_append, one transaction (group commit).  Only
 * once that transaction has committed does it build each job's reply and
 * hand the job to the DONE callback, so no reply leaves before its decision
 * is durable.  A batch that fails as a whole is retried
 * one application at a time, so one bad application cannot fail the others.
 *
 * Other threads run short store operations on the writer's handle with
 * writer_call (store a rule set, record an event): they run between batches,
 * on the writer thread, and the caller waits for them.
 */
#ifndef ELIGO_WRITER_H
#define ELIGO_WRITER_H

#include <stddef.h>

#include "err.h"
#include "job.h"
#include "past.h"
#include "seen.h"
#include "store.h"

typedef struct writer writer;

/* Called on the writer thread with each finished job; ownership of the job
 * passes to the callee. */
typedef void writer_done_fn(void *ud, job *j);

/* Start the writer thread on ST (opened read-write; the writer uses it until
 * writer_free, the caller still owns and closes it afterwards).  BATCH is the
 * most applications in one transaction (0: 1024).  Returns 0 and *OUT, or -1
 * with E. */
int writer_new(writer **out, store *st, size_t batch, writer_done_fn *done, void *ud, err *e);

/* Queue J (its res holds the decisions; received_at, decided_at and the
 * client credentials are set).  Never blocks; the queue is bounded by the
 * server's admission limit, not here.  Any thread. */
void writer_submit(writer *w, job *j);

/* Build J's reply from O, as for a committed application: its decisions,
 * the stored ones of a repeat, or a conflict.  Any thread. */
void writer_answer(job *j, const store_outcome *o);

/* Run FN(ST, UD, E) on the writer thread between two batches and wait for
 * it; returns what FN returned.  A write of the server's own (an event, a
 * rule set) that fails returns -1 with E set: health then says failing,
 * with E's message, until a write holds again (writer_failing).  Any
 * thread but the writer's. */
int writer_call(writer *w, int (*fn)(store *st, void *ud, err *e), void *ud);

/* From now on, add the applicant of each application committed to S, and
 * its rows to KEPT (either may be NULL).  Call before the first
 * writer_submit. */
void writer_track(writer *w, seen *s, past *kept);

/* Applications queued and not yet committed (for health).  Any thread. */
size_t writer_depth(writer *w);

/* Applications refused since the last commit that held, because the
 * database as a whole failed (a full disk): 0 while writes succeed.  The
 * message of that failure goes to WHY (cut to N bytes) when not 0.  Any
 * thread. */
long writer_refused(writer *w, char *why, size_t n);

/* Whether the last write of the server's own (writer_call) failed, with no
 * write held since: its message goes to WHY (cut to N bytes).  Any thread. */
int writer_failing(writer *w, char *why, size_t n);

/* How long the commit under way has taken, in milliseconds (0 when none
 * is): one held up for seconds means the database's write lock is taken
 * elsewhere (a sqlite3 shell in a transaction, say).  Any thread. */
uint64_t writer_waiting_ms(writer *w);

/* Commit what is queued, stop the thread and free W (not the store).  NULL is
 * fine. */
void writer_free(writer *w);

#endif
