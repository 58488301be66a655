/*
 * store.h -- the durable, hash-chained record of decisions (SQLite inside).
 *
 * The store is the only module that speaks SQL, and nothing in this header
 * is an SQLite type.  A store handle is used by one thread at a time: the
 * server gives its writer thread one handle (opened read-write) and each
 * reader its own (opened read-only).
 *
 * Records.  Every appended record -- a decision, or a human review of one --
 * gets the next sequence number from the same head, and a chain hash:
 *     hash = SHA-256(prev_hash || canonical content)
 * where prev_hash is the 32 raw bytes of the previous record's hash (32 zero
 * bytes for the first) and the canonical content is documented in store.c and
 * the README.  store_verify recomputes it.
 */
#ifndef ELIGO_STORE_H
#define ELIGO_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "ruleset.h"

typedef struct store store;

enum {
    STORE_READONLY = 1,   /* open for reading only (readers, audit, verify) */
    STORE_NOSYNC = 2,     /* synchronous=NORMAL instead of FULL (benchmarks) */
};

/* One decision to append. */
typedef struct store_decision {
    const char *decision_id;
    const char *program;
    const char *program_version;
    const char *outcome;
    const char *json;             /* the decision, canonical JSON */
    size_t json_len;
} store_decision;

/* One application (one request line) and the decisions it produced: one for
 * decide, one per programme for screen.  The application is stored once. */
typedef struct store_application {
    const char *request;          /* the request line exactly as received */
    size_t request_len;
    const char *request_key;      /* idempotency key, or NULL */
    const char *fingerprint;      /* 64 hex, identifies the application for request_key */
    const char *applicant_id;     /* or NULL */
    const char *as_of;            /* YYYY-MM-DD */
    const char *ruleset;          /* 64 hex; the set must have been stored (store_put_ruleset) */
    const char *received_at;      /* ISO 8601 UTC, milliseconds */
    const char *decided_at;
    int64_t client_uid;           /* peer credentials, -1 when unknown */
    int64_t client_pid;
    const store_decision *decisions;
    size_t ndecisions;
} store_application;

/* What store_append did with one application. */
typedef enum store_status {
    STORE_NEW = 0,        /* appended */
    STORE_REPEAT,         /* request_key seen with the same fingerprint, or the
                             same application (conflict_same): nothing
                             appended; `stored` holds the stored decisions */
    STORE_CONFLICT,       /* request_key seen with another application */
} store_status;

typedef struct store_outcome {
    store_status status;
    buf stored;           /* STORE_REPEAT: the stored decision JSON objects,
                             comma-separated, in their original order;
                             STORE_CONFLICT: the request line stored under
                             the key (empty when too long); the caller frees
                             it with buf_free */
    int64_t first_seq;    /* STORE_NEW, once committed: the seq of its first
                             decision (the others follow it) */
} store_outcome;

/* What appending an application with request key KEY, FINGERPRINT and
 * request line REQUEST (LEN bytes) would find, without appending: STORE_NEW
 * (the key is not stored), STORE_REPEAT (the stored decisions in
 * OUT->stored, which the caller buf_inits and frees) or STORE_CONFLICT.
 * A stored fingerprint an older eligo wrote differently is a repeat all
 * the same when the request lines hold the same application, as in
 * store_append (conflict_same).  Asked for an application that has no
 * decision to store (a screen with no programme in force): its key may still
 * be a repeat or a conflict.  Returns 0, or -1 with E. */
int store_key_outcome(store *st, const char *key, const char *fingerprint, const char *request,
                      size_t len, store_outcome *out, err *e);

/* Open (creating and migrating if needed) the database at PATH.  WAL mode,
 * synchronous=FULL unless STORE_NOSYNC.  Returns 0 and *OUT, or -1 and E.
 * STORE_READONLY never changes the file: one an older eligo wrote is read in
 * its own schema, what later versions added seen empty. */
int store_open(store **out, const char *path, int flags, err *e);

/* The schema version of ST's file: STORE_SCHEMA, or below it for a file an
 * older eligo wrote, opened read-only. */
int store_schema(const store *st);
#define STORE_SCHEMA 5

/* ST's database id, 32 lowercase hex digits made at random when the file
 * was made (or first opened by an eligo of schema 5) and kept by its
 * backups, into OUT; "" for a file an older eligo wrote, read as it is.
 * Returns 0, or -1 with E. */
int store_database_id(store *st, char out[33], err *e);

/* The path ST was opened with, for messages: a server's log names the file
 * whose writes fail, one of several an operator may run.  Owned by ST. */
const char *store_path(const store *st);

/* Close; NULL is fine. */
void store_close(store *st);

/* ---- Checkpoints of the write-ahead log --------------------------------------
 *
 * By default each commit that leaves 1000 pages or more in the write-ahead
 * log copies them into the database file before it returns (SQLite's
 * automatic checkpoint).  A caller that would rather do that elsewhere
 * watches the log instead. */

/* Told the number of pages in the log after a commit, on the committing
 * thread; returns non-zero to have the store checkpoint right there, on the
 * handle that committed, as SQLite's automatic checkpoint would. */
typedef int store_wal_fn(void *ud, long pages);

/* Turn the automatic checkpoint of ST (read-write) off and call FN(UD, pages)
 * after each of its commits instead; FN NULL gives the automatic checkpoint
 * back.  Call it when no other thread is using ST.  Returns 0 or -1 with E. */
int store_wal_watch(store *st, store_wal_fn *fn, void *ud, err *e);

/* A passive checkpoint: copy as much of the log into the database file as
 * the readers allow, without waiting for anyone, and sync the file if all of
 * it was copied.  ST must be read-write; any handle on the file will do.
 * Returns 0, with the pages in the log in *LOGGED and how many of them are
 * now in the database file in *COPIED (either may be NULL); 1 when another
 * checkpoint was running (nothing done); -1 with E. */
int store_checkpoint(store *st, long *logged, long *copied, err *e);

/* Store every file of RS keyed by its hash, if not already there. */
int store_put_ruleset(store *st, const ruleset *rs, err *e);

/* Load the stored rule set with hash HASH (NULL with E "not_found" if absent). */
ruleset *store_get_ruleset(store *st, const char *hash, err *e);

/* As store_get_ruleset, which checks each file's stored sha256 against its
 * text, its size and the count of files, and the set's hash against its
 * files; *DAMAGED is set when they do not hold (the message names the file
 * to blame when one is), as opposed to the database failing. */
ruleset *store_get_ruleset_checked(store *st, const char *hash, int *damaged, err *e);

/* Append N applications in ONE transaction (group commit): for each, check
 * its request_key, then append its decisions to the chain.  OUT (N entries)
 * receives what happened to each.  Returns 0 once committed, -1 (nothing
 * committed) with E. */
int store_append(store *st, const store_application *apps, size_t n,
                 store_outcome *out, err *e);

/* Whether ST's last failure was the database's as a whole (full, unwritable,
 * busy, out of memory, damaged), which every write would meet alike, rather
 * than one application's. */
int store_failed_whole(store *st);

/* Record an event (kind: "start", "stop", "reload", "reload_rejected", ...)
 * with a free-text detail, in its own transaction. */
int store_event(store *st, const char *kind, const char *detail, err *e);

/* The server start in force at AT, a stored time such as a decided_at: the
 * last "start" event recorded at or before it.  Appends its time to WHEN and
 * its detail (which names the eligo build) to DETAIL.  Returns 1, 0 when
 * there is none, or -1 with E. */
int store_started(store *st, const char *at, buf *when, buf *detail, err *e);

/* Append to OUT the stored decision DECISION_ID as a JSON object (the
 * decision's canonical JSON).  -1 with E code "not_found" if there is none. */
int store_get_decision(store *st, const char *decision_id, buf *out, err *e);

/* Append to OUT a JSON array of the applicant's decisions, newest first, at
 * most LIMIT.  Each item is the decision's stored JSON object with one member
 * added at its end: "reviews", the array store_reviews gives ([] when none). */
int store_history(store *st, const char *applicant_id, long limit, buf *out, err *e);

/* Number of decision records (reviews not counted): a few B-tree descents,
 * cheap enough for every health request.  -1 when the database fails. */
int64_t store_count(store *st);

/* Number of review records, the same way. */
int64_t store_count_reviews(store *st);

/* ---- Human review ----------------------------------------------------------
 *
 * A case worker confirms or overrides a stored decision.  The review is a
 * record of its own, chained after whatever was appended last; the decision
 * is never modified. */

/* One review to append.  Strings are NUL-terminated. */
typedef struct store_review {
    const char *review_id;        /* unique (ids_next), chosen by the caller */
    const char *decision_id;      /* the decision reviewed; must be stored */
    const char *action;           /* "confirm" or "override" */
    const char *outcome;          /* override: eligible | ineligible | incomplete;
                                     confirm: NULL */
    const char *by;               /* who reviewed: non-empty */
    const char *reason;           /* why: non-empty */
    const char *reviewed_at;      /* ISO 8601 UTC, milliseconds */
    int64_t client_uid;           /* peer credentials, -1 when unknown */
    int64_t client_pid;
} store_review;

/* Check RV's fields (not whether its decision exists).  0, or -1 with E code
 * "invalid_request" and a message naming the field ("by", "reason",
 * "action", "outcome"). */
int store_review_check(const store_review *rv, err *e);

/* Append RV as the next record, in its own transaction, and append to OUT
 * the review as stored, one JSON object:
 *   {"review_id", "decision_id", "seq", "action", "outcome" (override only),
 *    "decision_outcome" (the decision's own outcome), "by", "reason",
 *    "reviewed_at"}
 * Returns 0 once committed; -1 with E: "invalid_request" (see
 * store_review_check), "not_found" (no decision RV->decision_id), "internal"
 * (nothing committed; OUT unchanged). */
int store_append_review(store *st, const store_review *rv, buf *out, err *e);

/* Append to OUT the JSON array of DECISION_ID's reviews, oldest first ([]
 * when none; the decision need not exist). */
int store_reviews(store *st, const char *decision_id, buf *out, err *e);

/* As store_reviews, with each review's "client_uid" and "client_pid" (the
 * peer credentials of whoever recorded it: hashed with the review, but not
 * part of its JSON; null when unknown) and "record" (its row's seq: where it
 * is in the chain, whatever its JSON says) added at the end of its object,
 * for audits. */
int store_reviews_client(store *st, const char *decision_id, buf *out, err *e);

/* ---- Verifying ------------------------------------------------------------ */

#define STORE_HASH_SIZE 32

/* A position in the chain vouched for from outside (a signed checkpoint):
 * record SEQ had hash HASH. */
typedef struct store_anchor {
    int64_t seq;
    unsigned char hash[STORE_HASH_SIZE];
} store_anchor;

/* What store_verify_chain found. */
typedef struct store_report {
    int64_t checked;              /* records that matched, from seq 1 on */
    int64_t total;                /* the highest seq when the check began */
    int64_t decisions, reviews;   /* of CHECKED, how many of each kind */
    int64_t bad_seq;              /* the record that failed, 0 when none */
    const char *bad_kind;         /* "decision" or "review" (static), or NULL */
    char bad_id[64];              /* its decision id, or its review id */
    char bad_decision[64];        /* a review: the decision it reviews */
    int64_t head_seq;             /* the last record checked, and its hash (on
                                     "rewritten", the anchored record) */
    unsigned char head_hash[STORE_HASH_SIZE];
    int64_t anchor_held;          /* the highest anchored seq found as anchored
                                     (0: none); on "rewritten", the change lies
                                     after it and at or before bad_seq */
} store_report;

/* Recompute the whole chain, decisions and reviews merged in seq order, in
 * one read transaction.  With NANCHORS anchors (ANCHORS may be NULL when 0;
 * any order), also prove that the database still holds the anchored
 * history: each record ANCHORS[i].seq must exist and hash to
 * ANCHORS[i].hash.  Returns 0 when everything holds; 1 when not, with *REP
 * naming the record and E saying what failed, its code one of
 *   "mismatch"   a record does not match its hash (or its rule set changed);
 *   "rewritten"  the chain is sound but an anchored record is not the one
 *                anchored: the past was rewritten and rehashed (somewhere
 *                after rep->anchor_held);
 *   "truncated"  the chain ends before the highest anchored seq: records
 *                were cut off;
 *   "cut_tail"   the chain holds, but the last application's records run
 *                past its end: records were cut off, their application left;
 *   "orphan"     the chain holds, but application rows belong to no
 *                decision;
 *   "duplicate"  the chain holds, but two records carry the same decision
 *                id or review id, or two applications the same request key
 *                (rep->bad_seq the later; bad_id the id);
 * -1 with E when the database could not be read.  PROGRESS, when not NULL,
 * is called with (0, total) first, now and then, and once at the end. */
int store_verify_chain(store *st, const store_anchor *anchors, size_t nanchors,
                       store_report *rep,
                       void (*progress)(void *ud, int64_t done, int64_t total), void *ud,
                       err *e);

/* One line saying what store_verify_chain found (REP and E, after it returned
 * 1), for a command's message: the record and why, or what the tail or the
 * applications show. */
void store_verdict(const store_report *rep, const err *e, char *out, size_t n);

/* store_verify_chain without anchors, for callers that need only the
 * verdict.  Returns 0 when intact; 1 when a record does not match (its
 * sequence number and its decision id, or review id, in *BAD_SEQ / BAD_ID); -1
 * with E when the database could not be read.  *CHECKED receives the number
 * of records checked.  PROGRESS, when not NULL, is called now and then. */
int store_verify(store *st, int64_t *checked, int64_t *bad_seq, char bad_id[64],
                 void (*progress)(void *ud, int64_t done, int64_t total), void *ud,
                 err *e);

/* ---- Backup -------------------------------------------------------------------
 *
 * Copy the database into a new file PATH, as it was at one moment: one read
 * transaction, so a server may go on writing meanwhile (its log then grows
 * until the copy ends, as beside any long reader).  The copy is written as
 * PATH.partial, synced, renamed to PATH and the directory synced: PATH never
 * holds half a copy, and it is never made over a file (one created there
 * during the copy included).  *PAGES receives the pages copied.  Returns 0,
 * or -1 with E: nothing is left behind, except when only the directory's
 * sync failed (E says so; PATH is the whole copy). */
int store_backup(store *st, const char *path, long *pages, err *e);


/* Remove the database file PATH and whatever SQLite keeps beside it (its
 * -journal, -wal and -shm): a copy cut short, a start that failed.  Only
 * while no handle has it open. */
void store_remove_files(const char *path);

/* ---- Reading for audits ------------------------------------------------- */

/* Which decisions a query reads.  Every member may be NULL/0 (no condition).
 * SINCE and UNTIL are dates (YYYY-MM-DD) or times (ISO 8601, as stored),
 * both inclusive: UNTIL "2025-03-31" takes the whole of that day.  They
 * apply to decided_at (when the decision was made), or to as_of (the date it
 * was made for) when BY_AS_OF is set; the month store_stats groups by
 * follows the same choice. */
typedef struct store_filter {
    const char *decision_id;     /* exactly this decision */
    const char *applicant;       /* applicant_id */
    const char *program;
    const char *outcome;
    const char *ruleset;         /* the full 64-hex hash, or a prefix of it */
    const char *since;
    const char *until;
    int by_as_of;
    const char *after;           /* a cursor: only decisions after this one in the
                                    order read (older when newest first) */
    int oldest_first;            /* chain order (seq ascending) instead of newest first */
    int64_t limit;               /* at most this many rows (0: all) */
    int64_t offset;              /* skip this many rows first */
} store_filter;

/* One decision as store_each reads it, with its application.  Strings are
 * NUL-terminated and NULL for an SQL NULL; they live until the callback
 * returns. */
typedef struct store_row {
    int64_t seq;
    const char *decision_id;
    const char *program;
    const char *program_version;
    const char *outcome;
    const char *applicant_id;
    const char *as_of;
    const char *decided_at;
    const char *ruleset;
    const char *json;            /* the decision's canonical JSON */
    size_t json_len;
    const char *request;         /* the application: the request line as received */
    size_t request_len;
    const char *request_key;
    const char *received_at;
    int64_t client_uid;          /* -1 when unknown */
    int64_t client_pid;
    const char *review_action;   /* the latest review's: "confirm" or "override"; NULL: none */
    const char *review_outcome;  /* ... the outcome an override gave */
    const char *overridden_to;   /* the latest override's outcome, where a decision
                                    stands after its reviews; NULL: never overridden */
} store_row;

/* Called once per row; a non-zero return stops the reading (store_each then
 * returns that value).  It runs inside the store's read transaction, so it
 * must not call into the same store handle: copy what it needs. */
typedef int store_row_fn(void *ud, const store_row *row);

/* Call FN for every decision that F selects (NULL: all), newest first unless
 * F->oldest_first, in one read transaction (one consistent snapshot).
 * Returns 0, FN's non-zero value when it stopped, or -1 with E: "not_found"
 * when F->after names no decision, "internal" when the database fails. */
int store_each(store *st, const store_filter *f, store_row_fn *fn, void *ud, err *e);

/* Hold one read transaction until store_release: the store_each calls
 * between them read the same snapshot, whatever a writer commits meanwhile
 * (a CSV export reads twice, for its columns, then its rows).  0, or -1
 * with E. */
int store_hold(store *st, err *e);
void store_release(store *st);

/* Read decision DECISION_ID and its application into FN (called once).
 * Returns 0, or -1 with E "not_found" when there is no such decision. */
int store_application_of(store *st, const char *decision_id, store_row_fn *fn, void *ud,
                         err *e);

/* Counts for audit statistics over the decisions F selects (its limit,
 * offset, after and order are ignored):
 *   BY_MONTH(ud, program, month "YYYY-MM", outcome, n), ordered by program,
 *     month and outcome;
 *   FAILING(ud, program, criterion, failed, missing, decisions): for each
 *     criterion of each programme, how many decisions it failed (passed
 *     false) and lacked data for (passed null), out of the DECISIONS that
 *     evaluated it (all of the programme's, unless its versions differ in
 *     criteria); ordered by program, then failures, most first.
 * Either callback may be NULL.  Returns 0 or -1 with E. */
typedef void store_month_fn(void *ud, const char *program, const char *month,
                            const char *outcome, int64_t n);
typedef void store_failing_fn(void *ud, const char *program, const char *criterion,
                              int64_t failed, int64_t missing, int64_t decisions);
int store_stats(store *st, const store_filter *f, store_month_fn *by_month,
                store_failing_fn *failing, void *ud, err *e);

/* ---- An applicant's earlier decisions, for history-aware rules ---------- */

/* Whether another connection has added decisions to the file since the
 * last call (as this handle found at the start of its write transactions,
 * and in store_look; reviews do not count).  The writer's copy of which applicants have a
 * decision (seen.h) is then out of date. */
int store_other_writer(store *st);

/* Whether another connection has added reviews, and no decisions, since
 * the last call (as found by the same looks): where some earlier decisions
 * stand may have changed. */
int store_other_review(store *st);

/* Look, outside a write, whether another connection has written since the
 * last look (store_other_writer and store_other_review then say what): a
 * read transaction of two statements.  0, or -1 with E. */
int store_look(store *st, err *e);

/* Append to OUT the applicant id of decision DECISION_ID: 1; 0 when the
 * decision has none or is not stored; -1 with E when it cannot be read. */
int store_decision_applicant(store *st, const char *decision_id, buf *out, err *e);

/* Whether the file at the path opened is no longer the one open (removed,
 * or replaced by another): what would be written now goes where no one can
 * read it.  Returns 0, or -1 with E saying which. */
int store_moved(store *st, err *e);

/* The seqs of the N decisions IDS into SEQS (0 for an id no decision has),
 * in one read transaction: 0, or -1 with E when the store could not be
 * read. */
int store_decision_seqs(store *st, const char *const *ids, size_t n, int64_t *seqs, err *e);

/* Call FN(UD, id) for each distinct applicant id with a decision (a walk of
 * the applicant index).  FN returns 0 to go on.  Returns 0, -1 with E, or
 * what FN returned when not 0. */
int store_each_applicant(store *st, int (*fn)(void *ud, const char *id), void *ud, err *e);

/* Append to OUT the ids of the programmes with a stored decision, in
 * order, ", " between: how many, or -1 with E. */
int store_programs(store *st, buf *out, err *e);

/* Whether a decision of PROGRAM is stored: 1, 0, or -1 with E. */
int store_program_decided(store *st, const char *program, err *e);

/* An applicant's past is read among the newest LIMIT x this decisions. */
#define STORE_HISTORY_SCAN 10

/* Append to OUT a JSON array, newest first, of the applicant's decisions
 * with a sequence number below BEFORE_SEQ (<= 0: every one stored), at most
 * LIMIT (<= 0: all) of each programme, among the newest LIMIT x
 * STORE_HISTORY_SCAN, each as
 *   {"decision_id", "program", "program_version", "outcome", "as_of",
 *    "decided_at"}
 * -- the rows an engine_history_fn answers with.  "outcome" is where the
 * decision stands: the outcome its last override (of seq below BEFORE_SEQ)
 * gave it, with its own then in a "decision_outcome" member after
 * "outcome", or its own when no override changed it.  Of the first 64
 * programmes met, newest first, that is; the rows of any other are all
 * there.  Uses the applicant index: the cost grows with LIMIT, not with the
 * table.  Only committed decisions are seen.  NEWEST, unless NULL, receives
 * the seq of the first row (0 when there is none).  Returns how many
 * decisions it went through (so LIMIT x STORE_HISTORY_SCAN when there may
 * be more); on failure OUT is left as it was and -1 is returned with E. */
long store_applicant_decisions(store *st, const char *applicant_id, int64_t before_seq,
                               long limit, buf *out, int64_t *newest, err *e);

/* One row of that array, from the six fields in its order (a NULL is
 * null), then the outcome the decision's last override gave it (NULL: no
 * override): the writer makes the rows of what it commits with it
 * (past.h).  Returns 0, or -1 when OUT cannot take it. */
int store_history_row(buf *out, const char *const f[7], const size_t len[7]);

/* ---- Scanning stored applications (replay) ------------------------------- */

/* Which decisions a scan returns; NULL members do not filter.  SINCE and
 * UNTIL compare with the start of decided_at, both inclusive ("2025-03"
 * takes all of March), or of as_of when BY_AS_OF is set (then they are
 * dates, YYYY to YYYY-MM-DD); RULESET is a prefix of the rule-set hash. */
typedef struct store_scan_filter {
    const char *program;
    const char *applicant_id;
    const char *since;
    const char *until;
    int by_as_of;
    const char *ruleset;
} store_scan_filter;

typedef struct store_scan_decision {
    int64_t seq;
    const char *decision_id;
    const char *program;
    const char *outcome;
    const char *json;              /* the stored decision, canonical JSON */
    size_t json_len;
} store_scan_decision;

/* One application with those of its decisions the filter selected. */
typedef struct store_scan_app {
    const char *request;           /* the request line exactly as received */
    size_t request_len;
    const char *as_of;
    const char *ruleset;           /* 64 hex: the rule set that decided it */
    const char *applicant_id;      /* or NULL */
    const char *decided_at;
    int64_t first_seq;             /* seq of its first decision */
    int64_t ndecisions_stored;     /* decisions it produced (the filter may
                                      have selected fewer) */
    const store_scan_decision *decisions;
    size_t ndecisions;             /* >= 1 */
} store_scan_app;

typedef struct store_scan store_scan;

/* Start a scan of the stored applications, in seq order, with the decisions
 * F selects (F may be NULL).  Nothing is read yet.  The scan reads one
 * consistent snapshot of the database from its first step to its close, and
 * holds only one application in memory at a time; other functions may be
 * called on ST between store_scan_next calls (store_get_ruleset, say), on
 * the same thread.  Returns 0 and *OUT, or -1 with E. */
int store_scan_open(store *st, const store_scan_filter *f, store_scan **out, err *e);

/* Read the next application into *APP.  Returns 1, or 0 at the end, or -1
 * with E.  The strings and the decisions array belong to the scan and stay
 * valid until the next store_scan_next or store_scan_close. */
int store_scan_next(store_scan *sc, store_scan_app *app, err *e);

/* End the scan and free it; NULL is fine. */
void store_scan_close(store_scan *sc);

#endif
