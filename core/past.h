/*
 * past.h -- the applicants' earlier decisions, kept in memory, so that a
 * history-aware rule does not make a request read the database.
 *
 * A reader connection starts each request with an empty page cache when the
 * writer has committed since its last one (SQLite's rule in WAL mode), so
 * reading an applicant's past from the store costs a dozen page reads.  The
 * same rows, kept here, cost a copy.
 *
 * What is kept is an applicant's rows exactly as store_applicant_decisions
 * writes them, newest first, at most LIMIT of each programme, for the applicants whose
 * rows a worker read from the store (past_keep after past_get found none):
 * applicants who come back to a history-aware programme are read once.
 * Each committed application then updates them: the worker that decided it
 * writes its rows in a note (past_note_new); the writer, once it has
 * committed, hands the notes over (past_commit: a lock and a few stores on
 * its thread); the workers put them in place (the next past_get, past_keep
 * or past_tidy), in commit order.  A kept applicant gets the new rows in
 * front; one not kept is stamped (by hash) with the commit's ticket, and
 * rows read under an older ticket are not kept: they may miss it (an entry
 * let go is stamped too: the commits it held are known nowhere else).  A commit
 * already in the rows read is not added twice: rows carry the seq of the
 * newest.  A review that overrides a decision changes a row in place: its
 * note (past_note_changed) lets the applicant go and stamps it as a commit
 * does.  So what past_get answers is what the store held at some moment
 * since the request began.
 *
 * At most CAP bytes are held; the applicant asked for least recently goes
 * first.  Any thread; one mutex.
 */
#ifndef ELIGO_PAST_H
#define ELIGO_PAST_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct past past;

/* Room for CAP bytes of rows, at most LIMIT rows of each programme an
 * applicant, the newest, as store_applicant_decisions chooses them among
 * the applicant's newest WINDOW decisions.  Only an applicant with fewer
 * than WINDOW decisions, and rows of at most 64 programmes, is kept: the
 * rows kept do not say how many decisions lie between them, so beyond that
 * the store's choice cannot be followed here, and the store answers each
 * time.  NULL when out of memory. */
past *past_new(size_t cap, size_t limit, size_t window);

/* Append ID's rows to OUT as a JSON array, newest first, and return 1; or,
 * when they are not kept, return 0 with *TICKET set for past_keep.  -1, OUT
 * as it was, when OUT cannot take them. */
int past_get(past *p, const char *id, buf *out, uint64_t *ticket);

/* Keep ROWS (N bytes: a JSON array as store_applicant_decisions writes it),
 * the rows of ID read from the store after past_get gave TICKET; NEWEST is
 * the seq of the first row (0: none), DECISIONS how many of the applicant's
 * decisions the read went through (store_applicant_decisions' count).
 * Dropped if a commit since may be missing from them, or if the read went
 * through WINDOW decisions (there may be more). */
void past_keep(past *p, const char *id, const char *rows, size_t n, int64_t newest,
               size_t decisions, uint64_t ticket);

/* An application's rows on their way to past_commit. */
typedef struct past_note {
    struct past_note *next;
    uint64_t ticket;   /* past_commit: its commit's */
    int64_t newest;    /* the writer: the seq of its newest row */
    int changed;       /* past_note_changed: the rows changed in place */
    const char *rows;  /* comma-separated JSON objects, newest first */
    size_t len;
    char id[];
} past_note;

/* A note of applicant ID's ROWS (LEN bytes), or NULL when out of memory. */
past_note *past_note_new(const char *id, const char *rows, size_t len);

/* A note that where one of applicant ID's decisions stands has changed (a
 * review overrode it): the rows kept, and rows read before the commit that
 * changed it, are not kept.  NULL when out of memory. */
past_note *past_note_changed(const char *id);

/* NULL is fine. */
void past_note_free(past_note *n);

/* The writer, after a commit: hand over its N applications' notes, in
 * commit order, NEWEST set; past takes them. */
void past_commit(past *p, past_note *const *notes, size_t n);

/* Put the notes handed over in place, when enough wait: a worker calls it
 * after each request, so that they do not pile up where no rule reads a
 * past. */
void past_tidy(past *p);

/* Keep nothing from now on: another process has written decisions that the
 * rows kept here do not hold. */
void past_forget(past *p);

/* Let go of every applicant, and keep no rows read before: another process
 * has reviewed decisions, and who knows whose. */
void past_clear(past *p);

/* What is in place now (notes handed over wait apart, in WAITING). */
typedef struct past_stats {
    size_t applicants, bytes, waiting;
    long hits, misses, refused;   /* past_get found them / did not; past_keep dropped */
} past_stats;
void past_get_stats(past *p, past_stats *out);

/* NULL is fine. */
void past_free(past *p);

#endif
