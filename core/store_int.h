/*
 * store_int.h -- what the files of the store share, and nothing outside
 * them may include.
 *
 * The store is one module split over several files, each one subject:
 * store.c opens, migrates and appends; store_verify.c proves that the
 * records are the ones appended.  Verifying reads the handle's prepared
 * statements, the columns of the chain in their canonical order, and hashes
 * records exactly as the append did; a module of its own over store.h would
 * need all of that exported to every caller of the store.  So, as SQLite's
 * sqliteInt.h does, the layout of the handle and the few helpers both sides
 * use live here, every function store_-prefixed; store.h stays the contract
 * for the rest of eligo, with the handle opaque.
 */
#ifndef ELIGO_STORE_INT_H
#define ELIGO_STORE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "err.h"
#include "ruleset.h"
#include "store.h"

#define STORE_HASH_LEN 32

/* The prepared statements every handle keeps, each one's text at its index
 * in store_sql. */
enum {
    Q_BEGIN,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_DATA_VERSION,
    Q_HEAD,
    Q_APP_BY_KEY,
    Q_APP_INSERT,
    Q_DEC_INSERT,
    Q_DEC_RANGE,
    Q_GET_DECISION,
    Q_HISTORY,
    Q_APPLICANT_ROWS,
    Q_RECENT_INSERT,
    Q_RECENT_COUNT,
    Q_MAX_SEQ,
    Q_RULESET_INSERT,
    Q_TEXT_INSERT,
    Q_RFILE_INSERT,
    Q_RULESET_FILES,
    Q_RULESET_HAS,
    Q_EVENT_INSERT,
    Q_STARTED,
    Q_VERIFY,
    Q_BEGIN_READ,
    Q_RULESETS,
    Q_TALLY,
    Q_DEC_OUTCOME,
    Q_DEC_APPLICANT,
    Q_DEC_SEQ,
    Q_REVIEW_INSERT,
    Q_REVIEWS_OF,
    Q_VERIFY_REVIEWS,
    Q_VERIFY_APPS,
    Q_N
};

/* Columns of Q_VERIFY, in the order of the canonical content. */
enum {
    V_SEQ, V_DECISION_ID, V_PROGRAM, V_PROGRAM_VERSION, V_OUTCOME, V_APPLICANT_ID,
    V_AS_OF, V_DECIDED_AT, V_RULESET, V_DECISION, V_PREV_HASH, V_HASH,
    V_APP_ID, /* then the application's columns, from A_REQUEST on */
    V_APP_FIRST
};
enum {
    A_REQUEST, A_REQUEST_KEY, A_FINGERPRINT, A_APPLICANT_ID, A_AS_OF, A_RULESET,
    A_RECEIVED_AT, A_DECIDED_AT, A_CLIENT_UID, A_CLIENT_PID, A_FIRST_SEQ,
    A_NDECISIONS, A_N
};

struct store {
    sqlite3 *db;
    int flags;
    sqlite3_stmt *q[Q_N];
    int64_t head_seq;                        /* invariant 3 */
    unsigned char head_hash[STORE_HASH_LEN];
    int64_t data_version;                    /* as of our last write transaction */
    int64_t decisions_seq;                   /* the last decision's seq, as far as we know */
    int other_writer;                        /* store_other_writer: seen since last asked */
    int other_review;                        /* store_other_review: the same */
    EVP_MD *sha256;                          /* fetched once: lookups are slow */
    EVP_MD_CTX *md;                          /* reused for every hash */
    store_wal_fn *wal_fn;                    /* store_wal_watch, or NULL */
    void *wal_ud;
    int64_t autocheckpoint;                  /* SQLite's, to give back when unwatched */
    int version;                             /* the file's schema; below STORE_VERSION
                                                only read-only, with shims */
    int shadow;                              /* the first migration whose table a shim
                                                stands in for, or 0: none */
    int last_error;                          /* SQLite's code of the last store_sqlerr */
    int holding;                             /* store_hold: store_each stays in its snapshot */
    char *path;                              /* as opened, for store_moved */
    dev_t dev;                               /* the file opened (store_moved) */
    ino_t ino;
    int64_t size_seen;                       /* its size at the last store_moved */
    int overwritten;                         /* store_moved found it written over */
};

/* The fields of an application, however they were obtained (from a caller's
 * store_application, or from a row being verified).  NULL means SQL NULL;
 * client ids are NULL when negative. */
typedef struct app_fields {
    const char *f[A_N];
    size_t len[A_N];
} app_fields;

/* The fields of a decision record, in canonical order (V_SEQ .. V_DECISION,
 * with the application digest in place of nothing: see store_record_hash). */
typedef struct rec_fields {
    const char *f[V_DECISION + 1];
    size_t len[V_DECISION + 1];
} rec_fields;

/* The fields of a review record: the columns of Q_VERIFY_REVIEWS, whose
 * order R_SEQ .. R_REVIEW is the order of the canonical content. */
enum {
    R_SEQ, R_N, R_REVIEW_ID, R_DECISION_ID, R_ACTION, R_OUTCOME, R_REVIEWER, R_REASON,
    R_REVIEWED_AT, R_CLIENT_UID, R_CLIENT_PID, R_REVIEW, R_PREV_HASH, R_HASH
};
typedef struct review_fields {
    const char *f[R_REVIEW + 1];
    size_t len[R_REVIEW + 1];
} review_fields;

/* APP of the canonical content: the hex SHA-256 of an application. */
int store_app_digest(store *st, const app_fields *a, char hex[2 * STORE_HASH_LEN + 1]);

/* hash = SHA-256(prev || content), the content as documented at the top of
 * store.c. */
int store_record_hash(store *st, const unsigned char prev[STORE_HASH_LEN],
                      const rec_fields *r, const char *app_hex,
                      unsigned char out[STORE_HASH_LEN]);

/* hash = SHA-256(prev || "review", seq, n, review_id, ..., review JSON). */
int store_review_hash(store *st, const unsigned char prev[STORE_HASH_LEN],
                      const review_fields *r, unsigned char out[STORE_HASH_LEN]);

/* E for the failure RC of WHAT, which the handle's own error may no longer
 * hold (another statement has run since). */
int store_rcerr(store *st, err *e, const char *what, int rc);

/* E for the handle's last failure, while it still holds it, as
 * store_rcerr says one; sets last_error.  Returns -1. */
int store_sqlerr(store *st, err *e, const char *what);

/* Step a statement that returns no row; reset it.  SQLITE_DONE or an error. */
int store_step_done(sqlite3_stmt *s);

/* Text of column I, or NULL (with *LEN 0) for an SQL NULL. */
const char *store_col_text(sqlite3_stmt *s, int i, size_t *len);

/* Start a read transaction: one snapshot for several statements.  On a
 * handle with stand-in tables, check first that the file has not been
 * migrated since it opened: a stand-in would now hide the real table's rows
 * (SQLite looks a name up in the temporary schema before the file's). */
int store_begin_read(store *st, err *e);

/* store_get_ruleset without the invariant checks, for store_verify, which
 * calls it inside its read transaction.  *DAMAGED (when not NULL) is set
 * when the stored files are not a valid set with hash HASH, as opposed to
 * the database failing. */
ruleset *store_load_ruleset(store *st, const char *hash, int *damaged, err *e);

#ifndef NDEBUG
/* Invariants 1 and 2 (3 and 4 are what store_verify checks, at length). */
void store_invariants(const store *st);
#else
#define store_invariants(st) ((void)(st))
#endif

#endif
