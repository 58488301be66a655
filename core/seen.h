/*
 * seen.h -- the applicants who have a decision in the store, as a set in
 * memory, so that a history-aware rule asking for the past of a new
 * applicant does not have to search the database to find nothing.
 *
 * The set holds 64-bit hashes of applicant ids.  A hash it does not hold
 * means the applicant has no decision (as of the last seen_add); a hash it
 * holds means the applicant may have one, and the store is asked.  So a
 * collision costs a query, never a wrong answer.  seen_load fills the set
 * from the store once, at start; the writer adds each application's
 * applicant once it has committed.  Any number of threads may ask while one
 * adds.  When the writer finds that another process has written to the
 * database (store_other_writer), it calls seen_forget: from then on every
 * applicant's past is looked up, as before the set existed.
 */
#ifndef ELIGO_SEEN_H
#define ELIGO_SEEN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "store.h"

typedef struct seen seen;

/* An empty set, or NULL when out of memory. */
seen *seen_new(void);

/* Add every applicant with a decision in ST.  Returns 0, or -1 with E. */
int seen_load(seen *s, store *st, err *e);

/* Add the N ids at IDS (NULLs are skipped), under one lock.  Returns 0, or
 * -1 when out of memory (the set then answers "may have" for everyone, so
 * answers stay right).  Any thread. */
int seen_add(seen *s, const char *const *ids, size_t n);

/* Whether ID may have a decision: 0 only when it certainly has none.  Any
 * thread. */
int seen_may_have(seen *s, const char *id);

/* From now on answer "may have" for every id: another writer has added
 * decisions this set does not know of.  Any thread. */
void seen_forget(seen *s);

/* How many distinct hashes the set holds (for health and tests). */
size_t seen_count(seen *s);

/* The 64-bit hash the set keeps of ID, never 0 (past.c keys by it too). */
uint64_t seen_hash(const char *id);

/* NULL is fine. */
void seen_free(seen *s);

#endif
