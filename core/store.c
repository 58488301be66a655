/*
 * store.c -- the durable, hash-chained record of decisions, on SQLite.
 *
 * Design notes
 * ------------
 * This file and store_verify.c (which shares the handle's layout through
 * store_int.h) are the only ones in eligo that speak SQL.  A handle wraps
 * one SQLite connection, its prepared statements (prepared once at open,
 * reset after every use, never finalized before close) and the head of the
 * chain: the sequence number and hash of the last record, read once at open
 * so that an append does not have to query it for every row.
 *
 * States of a handle and the functions that move it:
 *
 *     store_open ──▶ IDLE ──store_append, store_append_review,──▶ WRITING
 *                     ▲      store_put_ruleset, store_event          │
 *                     └──────── COMMIT (head advanced) or ROLLBACK ──┘
 *     IDLE ──store_close──▶ (gone)
 *
 * Readers (store_get_decision, store_reviews, store_count, ...) run single
 * statements in IDLE; each statement sees one consistent snapshot.
 * store_history and store_verify_chain, which read with several statements,
 * hold a read transaction (BEGIN ... COMMIT) for one snapshot.
 *
 * Durability.  The database is in WAL mode with synchronous=FULL (NORMAL with
 * STORE_NOSYNC): a COMMIT returns only once the WAL has been fsync'd, so a
 * decision the server acknowledges after store_append returned survives a
 * crash of the process or the machine.  store_append writes a whole batch of
 * applications in one transaction, so one fsync covers the batch (group
 * commit).
 *
 * Checkpoints.  A WAL database needs its log copied back into the database
 * file now and then (a checkpoint).  SQLite does it inside a commit, on the
 * committing thread, once the log holds 1000 pages.  The server moves that
 * work to a thread of its own (checkpointer.c) with store_wal_watch, which
 * turns the automatic checkpoint off on the writer's handle and reports the
 * size of the log after each commit, and store_checkpoint, which the other
 * thread runs on its own handle.  A checkpoint never makes a commit any more
 * or less durable: it copies pages that are already safe in the log.
 *
 * Several writers.  The server has one writing handle, but an operator may
 * run an offline tool against the same file.  So each write transaction
 * starts with BEGIN IMMEDIATE (the write lock) and then asks SQLite's
 * data_version whether another connection committed since our last look; only
 * then is the head read again.  That costs one tiny statement per batch, not
 * one per row.
 *
 * Invariants (checked by store_invariants() in debug builds at the entry and
 * exit of every exported function):
 *   1. Outside a call, the connection holds no open transaction.
 *   2. Outside a call, no prepared statement is part-way through a step
 *      (every one has been reset).
 *   3. head_seq / head_hash are the seq and hash of the record (decisions or
 *      reviews row) with the highest seq as of this connection's last write
 *      transaction or store_look (0 and 32 zero bytes when there is none); a
 *      failed append leaves them unchanged.
 *   4. Across both tables, seq runs 1, 2, 3, ... without gaps, and each row's
 *      prev_hash is the hash of the record before (zeros for seq 1): rows are
 *      only ever appended, by store_append and store_append_review, at
 *      head_seq + 1.  Reviews are also numbered n = 1, 2, 3, ... among
 *      themselves, so the number of decisions is the highest seq minus the
 *      highest n (store_count).
 *   5. A read-only handle never starts a write transaction.
 *
 * The canonical content of a record
 * ---------------------------------
 * Each record's hash is  SHA-256(prev_hash || content)  where prev_hash is the
 * 32 raw bytes of the previous record's hash (32 zero bytes for seq 1).  The
 * content is a sequence of fields, each encoded as
 *
 *     the length of the value in bytes, in decimal ASCII, a NUL, the bytes
 *     or, for an SQL NULL, the single byte '-' and a NUL
 *
 * so that no choice of values can make two different records encode alike
 * (a JSON text may contain anything but NUL; a length prefix makes even that
 * irrelevant).  Integers are written in decimal ASCII.  A decision record is
 * these fields, in this order:
 *
 *     "decision", seq, decision_id, program, program_version, outcome,
 *     applicant_id, as_of, decided_at, ruleset, APP, decision (the JSON)
 *
 * where APP is the SHA-256, as 64 lowercase hex digits, of the application it
 * belongs to, encoded the same way:
 *
 *     "application", request (the exact bytes received), request_key,
 *     fingerprint, applicant_id, as_of, ruleset, received_at, decided_at,
 *     client_uid, client_pid, first_seq, ndecisions
 *
 * Every column of both tables is covered except the application's row id
 * (decisions point at it; pointing one at another application changes APP)
 * and the chain columns themselves.  So changing, adding or deleting any
 * decision or application row, or any column an auditor's query would read,
 * makes store_verify name the first record whose hash no longer matches.
 * Deleting records from the tail cannot be seen from the chain alone (that is
 * what signed checkpoints are for: see store_verify.c).
 *
 * A review record (migration 2) takes the next seq from the same head, in a
 * table of its own, and its content starts with its own kind name, so that
 * no review can ever encode like a decision:
 *
 *     "review", seq, n, review_id, decision_id, action, outcome, by (column
 *     reviewer), reason, reviewed_at, client_uid, client_pid, review (the JSON)
 *
 * covering every column but the chain's.
 */
#include "store.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "conflict.h"
#include "file.h"
#include "hex.h"
#include "ids.h"
#include "log.h"
#include "store_int.h"
#include "text.h"

#define STORE_STORED_CAP ((size_t)64 << 20)   /* a REPEAT's stored decisions */
#define STORE_BUSY_MS 10000
#define STORE_APP_ID 0x456c6731                /* "Elg1", PRAGMA application_id */

/* Schema migrations: migration[i] takes user_version i to i + 1, inside the
 * transaction that also sets the new user_version.  Never edit one that has
 * shipped; append a new one. */
static const char *const store_migrations[] = {
    /* 1: the first schema. */
    "CREATE TABLE rulesets ("
    "  hash      TEXT PRIMARY KEY,"           /* 64 hex, ruleset_hash() */
    "  stored_at TEXT NOT NULL,"
    "  nfiles    INTEGER NOT NULL"
    ");"
    /* File texts are stored once however many rule sets share them: a reload
     * that changed one file stores one new text. */
    "CREATE TABLE file_texts ("
    "  sha256 TEXT PRIMARY KEY,"              /* 64 hex of the bytes */
    "  text   TEXT NOT NULL"
    ");"
    "CREATE TABLE ruleset_files ("
    "  ruleset TEXT NOT NULL REFERENCES rulesets(hash),"
    "  name    TEXT NOT NULL,"
    "  sha256  TEXT NOT NULL REFERENCES file_texts(sha256),"
    "  size    INTEGER NOT NULL,"
    "  PRIMARY KEY (ruleset, name)"
    ") WITHOUT ROWID;"
    "CREATE TABLE applications ("
    "  id           INTEGER PRIMARY KEY,"
    "  request      TEXT NOT NULL,"           /* the line exactly as received */
    "  request_key  TEXT UNIQUE,"
    "  fingerprint  TEXT,"
    "  applicant_id TEXT,"
    "  as_of        TEXT NOT NULL,"
    "  ruleset      TEXT NOT NULL REFERENCES rulesets(hash),"
    "  received_at  TEXT NOT NULL,"
    "  decided_at   TEXT NOT NULL,"
    "  client_uid   INTEGER,"
    "  client_pid   INTEGER,"
    "  first_seq    INTEGER NOT NULL,"        /* its decisions are seq first_seq .. */
    "  ndecisions   INTEGER NOT NULL"         /* .. first_seq + ndecisions - 1 */
    ");"
    "CREATE TABLE decisions ("
    "  seq             INTEGER PRIMARY KEY,"  /* chain position, from 1 */
    "  decision_id     TEXT NOT NULL UNIQUE,"
    "  application     INTEGER NOT NULL REFERENCES applications(id),"
    "  program         TEXT NOT NULL,"
    "  program_version TEXT,"
    "  outcome         TEXT NOT NULL,"
    "  applicant_id    TEXT,"
    "  as_of           TEXT NOT NULL,"
    "  decided_at      TEXT NOT NULL,"
    "  ruleset         TEXT NOT NULL REFERENCES rulesets(hash),"
    "  decision        TEXT NOT NULL,"        /* canonical JSON */
    "  prev_hash       BLOB NOT NULL,"
    "  hash            BLOB NOT NULL"
    ");"
    "CREATE INDEX decisions_applicant ON decisions(applicant_id, seq DESC);"
    "CREATE INDEX decisions_program ON decisions(program, decided_at);"
    "CREATE INDEX decisions_time ON decisions(decided_at);"
    "CREATE TABLE events ("
    "  id     INTEGER PRIMARY KEY,"
    "  at     TEXT NOT NULL,"
    "  kind   TEXT NOT NULL,"
    "  detail TEXT"
    ");"
    /* Records are append-only.  A tamperer with the file can drop these
     * triggers (the chain is what catches him); they are here so that no
     * accident -- a hurried UPDATE in the sqlite3 shell -- can rewrite the
     * past. */
    "CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions"
    "  BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;"
    "CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions"
    "  BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;"
    "CREATE TRIGGER applications_no_update BEFORE UPDATE ON applications"
    "  BEGIN SELECT RAISE(ABORT, 'applications are append-only'); END;"
    "CREATE TRIGGER applications_no_delete BEFORE DELETE ON applications"
    "  BEGIN SELECT RAISE(ABORT, 'applications are append-only'); END;"
    "CREATE TRIGGER ruleset_files_no_update BEFORE UPDATE ON ruleset_files"
    "  BEGIN SELECT RAISE(ABORT, 'rule sets are append-only'); END;"
    "CREATE TRIGGER ruleset_files_no_delete BEFORE DELETE ON ruleset_files"
    "  BEGIN SELECT RAISE(ABORT, 'rule sets are append-only'); END;"
    "CREATE TRIGGER file_texts_no_update BEFORE UPDATE ON file_texts"
    "  BEGIN SELECT RAISE(ABORT, 'rule sets are append-only'); END;"
    "CREATE TRIGGER file_texts_no_delete BEFORE DELETE ON file_texts"
    "  BEGIN SELECT RAISE(ABORT, 'rule sets are append-only'); END;",

    /* 2: human reviews of decisions, chained with them.  A review takes the
     * next seq from the same head as decisions; `n` numbers the reviews
     * alone (1, 2, 3, ...) so that both counts stay one B-tree descent each
     * (store_count).  The decision row is never touched. */
    "CREATE TABLE reviews ("
    "  seq          INTEGER PRIMARY KEY,"     /* chain position, shared with decisions */
    "  n            INTEGER NOT NULL UNIQUE," /* this review's number among reviews */
    "  review_id    TEXT NOT NULL UNIQUE,"
    "  decision_id  TEXT NOT NULL REFERENCES decisions(decision_id),"
    "  action       TEXT NOT NULL,"           /* confirm | override */
    "  outcome      TEXT,"                    /* override: the new outcome */
    "  reviewer     TEXT NOT NULL,"           /* the review's "by" */
    "  reason       TEXT NOT NULL,"
    "  reviewed_at  TEXT NOT NULL,"
    "  client_uid   INTEGER,"
    "  client_pid   INTEGER,"
    "  review       TEXT NOT NULL,"           /* the review's JSON, as replied */
    "  prev_hash    BLOB NOT NULL,"
    "  hash         BLOB NOT NULL"
    ");"
    "CREATE INDEX reviews_decision ON reviews(decision_id, seq);"
    "CREATE TRIGGER reviews_no_update BEFORE UPDATE ON reviews"
    "  BEGIN SELECT RAISE(ABORT, 'reviews are append-only'); END;"
    "CREATE TRIGGER reviews_no_delete BEFORE DELETE ON reviews"
    "  BEGIN SELECT RAISE(ABORT, 'reviews are append-only'); END;",

    /* 3: the rule sets' own rows and the server's events are append-only
     * too: they say which rules decided and when a reload changed them. */
    "CREATE TRIGGER rulesets_no_update BEFORE UPDATE ON rulesets"
    "  BEGIN SELECT RAISE(ABORT, 'rule sets are append-only'); END;"
    "CREATE TRIGGER rulesets_no_delete BEFORE DELETE ON rulesets"
    "  BEGIN SELECT RAISE(ABORT, 'rule sets are append-only'); END;"
    "CREATE TRIGGER events_no_update BEFORE UPDATE ON events"
    "  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;"
    "CREATE TRIGGER events_no_delete BEFORE DELETE ON events"
    "  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;",

    /* 4: the applicant index in two levels (see "The applicant index"
     * below): an index of the decisions' table took each commit's entries
     * at as many places as it had applicants, each a page the commit wrote
     * whole; these tables take them at a few. */
    "CREATE TABLE applicant_index ("
    "  applicant_id TEXT NOT NULL,"
    "  seq          INTEGER NOT NULL,"
    "  PRIMARY KEY (applicant_id, seq)"
    ") WITHOUT ROWID;"
    "CREATE TABLE applicant_recent ("
    "  applicant_id TEXT NOT NULL,"
    "  seq          INTEGER NOT NULL,"
    "  PRIMARY KEY (applicant_id, seq)"
    ") WITHOUT ROWID;"
    "INSERT INTO applicant_index SELECT applicant_id, seq FROM decisions"
    "  WHERE applicant_id IS NOT NULL ORDER BY applicant_id, seq;"
    "DROP INDEX IF EXISTS decisions_applicant;"
    "CREATE TRIGGER applicant_index_no_update BEFORE UPDATE ON applicant_index"
    "  BEGIN SELECT RAISE(ABORT, 'the applicant index is append-only'); END;"
    "CREATE TRIGGER applicant_index_no_delete BEFORE DELETE ON applicant_index"
    "  BEGIN SELECT RAISE(ABORT, 'the applicant index is append-only'); END;"
    "CREATE TRIGGER applicant_recent_no_update BEFORE UPDATE ON applicant_recent"
    "  BEGIN SELECT RAISE(ABORT, 'the applicant index is append-only'); END;",

    /* 5: the database's own id, made once, at random: a signed checkpoint
     * names it (sign.h), so that one of another database is said to be
     * one, not taken for a rewritten past.  A backup is the same database
     * and keeps it. */
    "CREATE TABLE database_id (id TEXT NOT NULL CHECK (length(id) = 32));"
    "INSERT INTO database_id SELECT lower(hex(randomblob(16)));"
    "CREATE TRIGGER database_id_no_update BEFORE UPDATE ON database_id"
    "  BEGIN SELECT RAISE(ABORT, 'the database id is fixed'); END;"
    "CREATE TRIGGER database_id_no_delete BEFORE DELETE ON database_id"
    "  BEGIN SELECT RAISE(ABORT, 'the database id is fixed'); END;",
};
#define STORE_VERSION ((int)(sizeof store_migrations / sizeof store_migrations[0]))
_Static_assert(STORE_VERSION == STORE_SCHEMA, "store.h's STORE_SCHEMA is the last migration");

/* A read-only handle cannot migrate, yet an auditor must be able to verify a
 * file that an older eligo wrote (a backup kept for years) without changing
 * it.  So a reader of a version-V file sees, for each later migration that
 * added a table, an empty table of that name in its own temporary schema:
 * store_shims[v] stands in for what migration v + 1 created.  The statements
 * then read the old file as if nothing had been added since.  A migration
 * that only adds triggers or indexes needs none. */
static const struct {
    const char *table, *sql;
} store_shims[STORE_VERSION] = {
    [1] = {"reviews",
           "CREATE TEMP TABLE reviews (seq INTEGER PRIMARY KEY, n, review_id, decision_id,"
           " action, outcome, reviewer, reason, reviewed_at, client_uid, client_pid, review,"
           " prev_hash, hash)"},
    /* The old index of the decisions' table does as the first level. */
    [3] = {"applicant_index",
           "CREATE TEMP VIEW applicant_index AS SELECT applicant_id, seq FROM main.decisions"
           " WHERE applicant_id IS NOT NULL;"
           "CREATE TEMP TABLE applicant_recent (applicant_id TEXT NOT NULL, seq INTEGER NOT NULL,"
           " PRIMARY KEY (applicant_id, seq)) WITHOUT ROWID"},
    /* No id: an older file is read as having none (store_database_id). */
    [4] = {"database_id", "CREATE TEMP TABLE database_id (id TEXT)"},
};

/* The applicant index.  The decisions of an applicant are found through two
 * tables of (applicant_id, seq): applicant_recent takes each commit's
 * entries, and when it holds STORE_RECENT_MAX of them the commit that finds
 * so moves them all, in key order, into applicant_index (store_merge).  A
 * commit then writes the few pages of the small table, and a merge the
 * pages of the large one that its entries fall in, once for many commits:
 * an index of the decisions' table had taken every commit's entries at as
 * many places as it had applicants, each a page written whole, about half
 * of what a commit wrote at 25,000 decisions/s.  A merge is one statement
 * pair in the commit's own transaction, so a reader's snapshot sees every
 * entry in exactly one of the two, and a crash loses nothing.  Every entry
 * of the recent table comes after every entry of the index (a merge moves
 * them all), so an applicant's decisions, newest first, are the recent
 * ones then the index's. */
#define STORE_RECENT_MAX 1024
/* The decisions of the applicant bound as P (a parameter, written twice),
 * as a condition on "d", for the audit filters. */
#define STORE_APPLICANT_IN(P)                                                             \
    "d.seq IN (SELECT seq FROM applicant_recent WHERE applicant_id = " P                 \
    " UNION ALL SELECT seq FROM applicant_index WHERE applicant_id = " P ")"
#define STORE_APPLICANT_SEQS                                                              \
    "SELECT seq FROM applicant_recent WHERE applicant_id = ?1 UNION ALL"                 \
    " SELECT * FROM (SELECT seq FROM applicant_index WHERE applicant_id = ?1"            \
    " ORDER BY seq DESC LIMIT ?2)"
#define STORE_APPLICANT_SEQS_BEFORE                                                       \
    "SELECT seq FROM applicant_recent WHERE applicant_id = ?1 AND seq < ?2 UNION ALL"    \
    " SELECT * FROM (SELECT seq FROM applicant_index WHERE applicant_id = ?1"            \
    " AND seq < ?2 ORDER BY seq DESC LIMIT ?3)"

static const char *const store_sql[Q_N] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_BEGIN_READ] = "BEGIN",
    [Q_RULESETS] = "SELECT hash FROM rulesets",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_DATA_VERSION] = "PRAGMA data_version",
    /* Two descents, one per record table: the head is the higher. */
    [Q_HEAD] = "SELECT seq, hash FROM ("
               "SELECT * FROM (SELECT seq, hash FROM decisions ORDER BY seq DESC LIMIT 1)"
               " UNION ALL "
               "SELECT * FROM (SELECT seq, hash FROM reviews ORDER BY seq DESC LIMIT 1))"
               " ORDER BY seq DESC LIMIT 1",
    [Q_APP_BY_KEY] = "SELECT fingerprint, first_seq, ndecisions, request FROM applications"
                     " WHERE request_key = ?1",
    [Q_APP_INSERT] = "INSERT INTO applications (request, request_key, fingerprint,"
                     " applicant_id, as_of, ruleset, received_at, decided_at, client_uid,"
                     " client_pid, first_seq, ndecisions)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [Q_DEC_INSERT] = "INSERT INTO decisions (seq, decision_id, program, program_version,"
                     " outcome, applicant_id, as_of, decided_at, ruleset, decision,"
                     " prev_hash, hash, application)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [Q_DEC_RANGE] = "SELECT decision FROM decisions WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq",
    [Q_GET_DECISION] = "SELECT decision FROM decisions WHERE decision_id = ?1",
    /* An applicant's decisions, newest first: the recent level, whose seqs
     * all come after the index's, then the index, which stops at the limit:
     * the cost grows with the limit, not with the applicant's whole
     * history. */
    [Q_HISTORY] = "SELECT d.decision, d.decision_id FROM (" STORE_APPLICANT_SEQS ") s"
                  " JOIN decisions d ON d.seq = s.seq ORDER BY s.seq DESC LIMIT ?2",
    /* The newest ?3 decisions (all when ?3 < 0): store_applicant_decisions
     * keeps the newest of each programme among them. */
    [Q_APPLICANT_ROWS] = "SELECT d.decision_id, d.program, d.program_version, d.outcome,"
                         " d.as_of, d.decided_at,"
                         " (SELECT r.outcome FROM reviews r WHERE r.decision_id = d.decision_id"
                         " AND r.action = 'override' AND r.seq < ?2 ORDER BY r.seq DESC LIMIT 1),"
                         " d.seq FROM (" STORE_APPLICANT_SEQS_BEFORE ") s"
                         " JOIN decisions d ON d.seq = s.seq ORDER BY s.seq DESC LIMIT ?3",
    [Q_RECENT_INSERT] = "INSERT INTO applicant_recent (applicant_id, seq) VALUES (?1, ?2)",
    [Q_RECENT_COUNT] = "SELECT count(*) FROM applicant_recent",
    [Q_MAX_SEQ] = "SELECT coalesce(max(seq), 0) FROM decisions",
    /* The highest seq of all records, and the number of reviews: three
     * B-tree descents (store_count). */
    [Q_TALLY] = "SELECT max((SELECT coalesce(max(seq), 0) FROM decisions),"
                " (SELECT coalesce(max(seq), 0) FROM reviews)),"
                " (SELECT coalesce(max(n), 0) FROM reviews)",
    /* The decision's outcome, and the one its last override gave it. */
    [Q_DEC_OUTCOME] = "SELECT outcome, (SELECT outcome FROM reviews WHERE decision_id = ?1"
                      " AND action = 'override' ORDER BY seq DESC LIMIT 1)"
                      " FROM decisions WHERE decision_id = ?1",
    [Q_DEC_SEQ] = "SELECT seq FROM decisions WHERE decision_id = ?1",
    [Q_DEC_APPLICANT] = "SELECT applicant_id FROM decisions WHERE decision_id = ?1",
    [Q_REVIEW_INSERT] = "INSERT INTO reviews (seq, n, review_id, decision_id, action, outcome,"
                        " reviewer, reason, reviewed_at, client_uid, client_pid, review,"
                        " prev_hash, hash)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    [Q_REVIEWS_OF] = "SELECT review, client_uid, client_pid, seq FROM reviews WHERE decision_id = ?1"
                     " ORDER BY seq",
    [Q_VERIFY_REVIEWS] = "SELECT seq, n, review_id, decision_id, action, outcome, reviewer,"
                         " reason, reviewed_at, client_uid, client_pid, review,"
                         " prev_hash, hash FROM reviews ORDER BY seq",
    /* The applications, counted, and the last one's records. */
    [Q_VERIFY_APPS] = "SELECT (SELECT count(*) FROM applications), id, first_seq, ndecisions"
                      " FROM applications ORDER BY id DESC LIMIT 1",
    [Q_RULESET_INSERT] = "INSERT OR IGNORE INTO rulesets (hash, stored_at, nfiles)"
                         " VALUES (?1, ?2, ?3)",
    [Q_TEXT_INSERT] = "INSERT OR IGNORE INTO file_texts (sha256, text) VALUES (?1, ?2)",
    [Q_RFILE_INSERT] = "INSERT INTO ruleset_files (ruleset, name, sha256, size)"
                       " VALUES (?1, ?2, ?3, ?4)",
    /* The size and the count are not hashed: each is checked against what
     * it describes, so that neither can say something false. */
    [Q_RULESET_FILES] = "SELECT f.name, t.text, f.size = length(CAST(t.text AS BLOB)),"
                        " (SELECT nfiles FROM rulesets WHERE hash = ?1), f.sha256"
                        " FROM ruleset_files f"
                        " JOIN file_texts t ON t.sha256 = f.sha256"
                        " WHERE f.ruleset = ?1 ORDER BY f.name",
    [Q_RULESET_HAS] = "SELECT 1 FROM rulesets WHERE hash = ?1",
    [Q_EVENT_INSERT] = "INSERT INTO events (at, kind, detail) VALUES (?1, ?2, ?3)",
    [Q_STARTED] = "SELECT at, detail FROM events WHERE kind = 'start' AND at <= ?1"
                  " ORDER BY at DESC, id DESC LIMIT 1",
    /* A LEFT JOIN, so that a decision whose application was deleted is still
     * read (and fails) rather than silently skipped. */
    [Q_VERIFY] = "SELECT d.seq, d.decision_id, d.program, d.program_version, d.outcome,"
                 " d.applicant_id, d.as_of, d.decided_at, d.ruleset, d.decision,"
                 " d.prev_hash, d.hash, d.application,"
                 " a.request, a.request_key, a.fingerprint, a.applicant_id, a.as_of,"
                 " a.ruleset, a.received_at, a.decided_at, a.client_uid, a.client_pid,"
                 " a.first_seq, a.ndecisions"
                 " FROM decisions d LEFT JOIN applications a ON a.id = d.application"
                 " ORDER BY d.seq",
};

/* ---- Hashing ---------------------------------------------------------- */

/* A SHA-256 being computed over a stream of small writes.  Fields are tiny
 * and EVP_DigestUpdate is not free, so writes are gathered in a block on the
 * stack and handed over in large pieces: no allocation, few calls. */
typedef struct hasher {
    EVP_MD_CTX *md;
    int failed;
    size_t n;
    unsigned char blk[4096];
} hasher;

static void hasher_start(hasher *h, store *st)
{
    h->md = st->md;
    h->n = 0;
    h->failed = EVP_DigestInit_ex(st->md, st->sha256, NULL) != 1;
}

static void hasher_flush(hasher *h)
{
    if (h->n && EVP_DigestUpdate(h->md, h->blk, h->n) != 1)
        h->failed = 1;
    h->n = 0;
}

static void hasher_add(hasher *h, const void *p, size_t len)
{
    if (len == 0)
        return;
    if (len > sizeof h->blk - h->n) {
        hasher_flush(h);
        if (len >= sizeof h->blk) {
            if (EVP_DigestUpdate(h->md, p, len) != 1)
                h->failed = 1;
            return;
        }
    }
    memcpy(h->blk + h->n, p, len);
    h->n += len;
}

/* Write V in decimal just before END; return where the digits start. */
static char *store_utoa(uint64_t v, char *end)
{
    char *p = end;
    do
        *--p = (char)('0' + v % 10);
    while (v /= 10);
    return p;
}

/* V in decimal, NUL-terminated, somewhere in TMP (what %lld would write;
 * the hot path of store_append_one writes five of these per application). */
static const char *store_decimal(int64_t v, char tmp[24])
{
    tmp[23] = '\0';
    if (v >= 0)
        return store_utoa((uint64_t)v, tmp + 23);
    char *p = store_utoa(0 - (uint64_t)v, tmp + 23);
    *--p = '-';
    return p;
}

/* One field of the canonical content: length, NUL, bytes; NULL is "-", NUL. */
static void hasher_field(hasher *h, const void *p, size_t len)
{
    if (!p) {
        hasher_add(h, "-", 2);   /* '-' and the string's NUL */
        return;
    }
    char num[24];
    char *s = store_utoa(len, num + sizeof num - 1);
    num[sizeof num - 1] = '\0';
    hasher_add(h, s, (size_t)(num + sizeof num - s));   /* digits and NUL */
    hasher_add(h, p, len);
}

static void hasher_str(hasher *h, const char *s)
{
    hasher_field(h, s, s ? strlen(s) : 0);
}

static int hasher_end(hasher *h, unsigned char out[STORE_HASH_LEN])
{
    hasher_flush(h);
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(h->md, out, &n) != 1 || n != STORE_HASH_LEN)
        h->failed = 1;
    return h->failed ? -1 : 0;
}

int store_app_digest(store *st, const app_fields *a, char hex[2 * STORE_HASH_LEN + 1])
{
    hasher h;
    unsigned char d[STORE_HASH_LEN];
    hasher_start(&h, st);
    hasher_str(&h, "application");
    for (int i = 0; i < A_N; i++)
        hasher_field(&h, a->f[i], a->len[i]);
    if (hasher_end(&h, d) != 0)
        return -1;
    hex_encode(d, sizeof d, hex);
    return 0;
}

int store_record_hash(store *st, const unsigned char prev[STORE_HASH_LEN],
                      const rec_fields *r, const char *app_hex,
                      unsigned char out[STORE_HASH_LEN])
{
    hasher h;
    hasher_start(&h, st);
    hasher_add(&h, prev, STORE_HASH_LEN);
    hasher_str(&h, "decision");
    for (int i = V_SEQ; i < V_DECISION; i++)
        hasher_field(&h, r->f[i], r->len[i]);
    hasher_field(&h, app_hex, 2 * STORE_HASH_LEN);
    hasher_field(&h, r->f[V_DECISION], r->len[V_DECISION]);
    return hasher_end(&h, out);
}

int store_review_hash(store *st, const unsigned char prev[STORE_HASH_LEN],
                      const review_fields *r, unsigned char out[STORE_HASH_LEN])
{
    hasher h;
    hasher_start(&h, st);
    hasher_add(&h, prev, STORE_HASH_LEN);
    hasher_str(&h, "review");
    for (int i = R_SEQ; i <= R_REVIEW; i++)
        hasher_field(&h, r->f[i], r->len[i]);
    return hasher_end(&h, out);
}

/* ---- Small SQLite helpers ------------------------------------------- */

int store_rcerr(store *st, err *e, const char *what, int rc)
{
    st->last_error = rc;
    const char *msg = sqlite3_extended_errcode(st->db) == rc ? sqlite3_errmsg(st->db)
                                                              : sqlite3_errstr(rc);
    if ((rc & 0xff) == SQLITE_NOTADB)   /* the first read says it: name the file */
        return err_set(e, "internal", "%s is not a database file", st->path);
    if ((rc & 0xff) == SQLITE_CORRUPT)   /* the disk's doing, not a tamperer's */
        return err_set(e, "internal", "%s: %s: the file %s is damaged (sqlite3 %s "
                       "'PRAGMA integrity_check' says where; a backup holds what it held)",
                       what, msg, st->path, st->path);
    return err_set(e, "internal", "%s: %s", what, msg);
}

int store_sqlerr(store *st, err *e, const char *what)
{
    /* read before a ROLLBACK clears it */
    return store_rcerr(st, e, what, sqlite3_extended_errcode(st->db));
}

/* Into WHY (empty when ID could be one), why ID is no decision id at all: a
 * client that cut one short or mistyped a letter is told so, rather than
 * only that no decision has it. */
static void id_shape(const char *id, char *why, size_t size)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghjkmnpqrstvwxyz";
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        chars += (*p & 0xC0) != 0x80;
    why[0] = '\0';
    if (chars != IDS_LEN) {
        snprintf(why, size, ": a decision id is %d characters of Crockford base32, this one has %zu",
                 IDS_LEN, chars);
        return;
    }
    size_t ok = strspn(id, alphabet);   /* the characters before it are ASCII */
    if (!id[ok])
        return;
    int n = 1;
    while (((unsigned char)id[ok + n] & 0xC0) == 0x80)
        n++;
    snprintf(why, size, ": a decision id is %d characters of Crockford base32 (digits, and "
             "letters but I, L, O and U), and its character %zu, '%.*s', is none of them",
             IDS_LEN, ok + 1, n, id + ok);
}

/* "no decision ID" into E, as not_found; and when ID is a review's (an
 * auditor may well paste one), whose decision it reviews, or is no id at
 * all, why.  Returns -1. */
static int store_no_decision(store *st, const char *id, err *e)
{
    sqlite3_stmt *s = NULL;
    char of[64] = "";
    if (sqlite3_prepare_v2(st->db, "SELECT decision_id FROM reviews WHERE review_id = ?", -1, &s,
                           NULL) == SQLITE_OK &&
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        snprintf(of, sizeof of, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    if (of[0])
        return err_set(e, "not_found", "no decision %s: that is the id of a review, of decision %s",
                       id, of);
    char why[200];
    id_shape(id, why, sizeof why);
    /* A long one is cut (at a character) so that the message keeps the why. */
    int shown = (int)strlen(id);
    const char *more = "";
    if (why[0] && shown > 80) {
        for (shown = 80; ((unsigned char)id[shown] & 0xC0) == 0x80; shown--)
            ;
        more = "...";
    }
    return err_set(e, "not_found", "no decision %.*s%s%s", shown, id, more, why);
}

static int bind_str(sqlite3_stmt *s, int i, const char *p)
{
    return p ? sqlite3_bind_text(s, i, p, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

int store_step_done(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}

const char *store_col_text(sqlite3_stmt *s, int i, size_t *len)
{
    if (sqlite3_column_type(s, i) == SQLITE_NULL) {
        *len = 0;
        return NULL;
    }
    const char *p = (const char *)sqlite3_column_text(s, i);
    *len = (size_t)sqlite3_column_bytes(s, i);
    return p ? p : "";
}

/* The time now, as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC, milliseconds). */
static void store_now(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    int ms = (int)(ts.tv_nsec / 1000000);
    if (n + 6 > 32)   /* a year past 9999: leave the seconds */
        return;
    out[n] = '.';
    out[n + 1] = (char)('0' + ms / 100);
    out[n + 2] = (char)('0' + ms / 10 % 10);
    out[n + 3] = (char)('0' + ms % 10);
    out[n + 4] = 'Z';
    out[n + 5] = '\0';
}

static int store_exec(store *st, const char *sql, err *e)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    err_set(e, "internal", "%s: %s", sql, msg ? msg : sqlite3_errmsg(st->db));
    sqlite3_free(msg);
    return -1;
}

/* One integer from a one-row statement text (at open, and store_wal_watch). */
static int store_pragma_int(store *st, const char *sql, int64_t *out, err *e)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    if (rc != SQLITE_ROW) {
        store_sqlerr(st, e, sql);
        sqlite3_finalize(s);
        return -1;
    }
    sqlite3_finalize(s);
    return 0;
}

/* One integer from the prepared one-row statement Q, reset after; WHAT
 * names it in the error.  Returns 0, or -1 with E. */
static int store_row_int(store *st, int q, const char *what, int64_t *out, err *e)
{
    sqlite3_stmt *s = st->q[q];
    int ok = sqlite3_step(s) == SQLITE_ROW;
    if (ok)
        *out = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return ok ? 0 : store_sqlerr(st, e, what);
}

/* Read the chain head (invariant 3), the last decision's seq and the data
 * version: all of them, or, on failure, none (what a refresh compares with
 * must stay what was last read whole). */
static int store_load_head(store *st, err *e)
{
    sqlite3_stmt *s = st->q[Q_HEAD];
    int64_t seq = 0, decisions = 0, version = 0;
    unsigned char hash[STORE_HASH_LEN] = {0};
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const void *h = sqlite3_column_blob(s, 1);
        seq = sqlite3_column_int64(s, 0);
        if (sqlite3_column_bytes(s, 1) == STORE_HASH_LEN && h) {
            memcpy(hash, h, STORE_HASH_LEN);
        } else if (!(st->flags & STORE_READONLY)) {
            /* (read-only: nothing is chained to it; verify says what it is) */
            sqlite3_reset(s);
            return err_set(e, "internal", "the last record (%lld) has no valid hash, so no "
                           "record can be chained to it; eligo verify --db %s says more",
                           (long long)seq, st->path);
        }
    } else if (rc != SQLITE_DONE) {
        sqlite3_reset(s);
        return store_sqlerr(st, e, "reading the chain head");
    }
    sqlite3_reset(s);
    if (store_row_int(st, Q_MAX_SEQ, "reading the last decision", &decisions, e) != 0 ||
        store_row_int(st, Q_DATA_VERSION, "PRAGMA data_version", &version, e) != 0)
        return -1;
    st->head_seq = seq;
    memcpy(st->head_hash, hash, STORE_HASH_LEN);
    st->decisions_seq = decisions;
    st->data_version = version;
    return 0;
}

/* A writer appends to the chain's end: one cut off (the last
 * application's decisions gone, its row left) would have records appended
 * where others were, each new one chained to a head that was not the last.
 * One lookup, at open; eligo verify says the rest.  0, or -1 with E. */
static int store_tail_whole(store *st, err *e)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT id, first_seq + ndecisions - 1 FROM applications"
                           " ORDER BY id DESC LIMIT 1", -1, &s, NULL) != SQLITE_OK)
        return store_sqlerr(st, e, "reading the last application");
    int rc = sqlite3_step(s);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    int64_t last = rc == SQLITE_ROW ? sqlite3_column_int64(s, 1) : 0;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_rcerr(st, e, "reading the last application", rc);
    if (last > st->decisions_seq)
        return err_set(e, "internal", "application %lld holds decisions up to record %lld, "
                       "but the last stored is record %lld: the chain's end was cut, and "
                       "nothing is appended to it (eligo verify --db %s says more)",
                       (long long)id, (long long)last, (long long)st->decisions_seq, st->path);
    return 0;
}

#ifndef NDEBUG
void store_invariants(const store *st)
{
    assert(sqlite3_get_autocommit(st->db) || st->holding);   /* store_hold keeps one open */
    for (int i = 0; i < Q_N; i++)
        assert(!st->q[i] || !sqlite3_stmt_busy(st->q[i]));
    assert(st->head_seq >= 0);
}
#endif

/* ---- Open and close ----------------------------------------------------- */

/* Bring the schema to STORE_VERSION, in one transaction. */
/* The decisions' indexes, as this eligo wants them.  No version number
 * covers indexes (no statement names one, so any eligo reads and writes a
 * file whatever its indexes), and a read-write open puts them right, in
 * the transaction that migrates: an older eligo still opens the file.
 *
 * (decided_at, program), for time and for a programme over time, replaced
 * (program, decided_at) and (decided_at).  Decisions come in time order, so
 * a commit adds at the end of this one index, where the programme's took
 * entries at one place per programme, each place a leaf page the commit
 * wrote to the log whole (the middle ones split three pages at a time).
 * Read from a log of `eligo bench -c 16 -P 32` (about 200 decisions a
 * commit, 105 pages): the two indexes wrote 18 pages a commit; decide went
 * from 40,600, 39,600 and 36,700 decisions/s to 43,200, 42,300 and 38,800
 * (alternating, fresh databases).  A programme with no time span is now
 * read from the table, newest first, until a page of it is found. */
static const char store_indexes_wanted[] =
    "SELECT (SELECT count(*) FROM sqlite_schema WHERE type = 'index'"
    "        AND name IN ('decisions_program', 'decisions_time'))"
    "     + (SELECT count(*) = 0 FROM sqlite_schema WHERE name = 'decisions_time_program')";
static const char store_indexes[] =
    "DROP INDEX IF EXISTS decisions_program;"
    "DROP INDEX IF EXISTS decisions_time;"
    "CREATE INDEX IF NOT EXISTS decisions_time_program ON decisions(decided_at, program);";

/* Refuse a file that is not an eligo database of a version this eligo knows
 * (given its user_version, application_id and count of schema rows): -1
 * with E, or 0 (eligo's, or a new file). */
static int store_foreign(store *st, int64_t version, int64_t appid, int64_t ntables, err *e)
{
    const char *path = sqlite3_db_filename(st->db, "main");
    /* A file with no table yet is taken as new, unless another program has
     * already marked it as its own: eligo would stamp its mark over it. */
    if ((version == 0 && (ntables > 0 || (appid != 0 && appid != STORE_APP_ID))) ||
        (version > 0 && appid != STORE_APP_ID))
        return err_set(e, "internal", "%s is an SQLite database but not eligo's "
                       "(application_id %lld)", path, (long long)appid);
    if (version > STORE_VERSION)
        return err_set(e, "internal", "%s has database schema version %lld, newer than this "
                       "eligo knows (%d); upgrade eligo", path, (long long)version,
                       STORE_VERSION);
    return 0;
}

/* What the file holds, read before anything is written to it: another
 * program's SQLite file is refused as it is (putting it in WAL mode would
 * change it for good).  store_migrate asks again, inside its transaction. */
static int store_identify(store *st, err *e)
{
    int64_t version = 0, appid = 0, ntables = 0;
    if (store_pragma_int(st, "PRAGMA user_version", &version, e) != 0 ||
        store_pragma_int(st, "PRAGMA application_id", &appid, e) != 0 ||
        store_pragma_int(st, "SELECT count(*) FROM sqlite_schema", &ntables, e) != 0)
        return -1;
    return store_foreign(st, version, appid, ntables, e);
}

static int store_migrate(store *st, err *e)
{
    int64_t version = 0, appid = 0, ntables = 0;
    if (store_exec(st, "BEGIN IMMEDIATE", e) != 0)
        return -1;
    if (store_pragma_int(st, "PRAGMA user_version", &version, e) != 0 ||
        store_pragma_int(st, "PRAGMA application_id", &appid, e) != 0 ||
        store_pragma_int(st, "SELECT count(*) FROM sqlite_schema", &ntables, e) != 0)
        goto fail;
    if (store_foreign(st, version, appid, ntables, e) != 0)
        goto fail;
    /* Upgrading a file that holds millions of decisions rewrites some of
     * them once (schema 4 copies the applicant index): a server that starts
     * in silence for a minute would look hung. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (version > 0 && version < STORE_VERSION)
        log_info("store: upgrading %s from schema %lld to %d, once, in one transaction",
                 sqlite3_db_filename(st->db, "main"), (long long)version, STORE_VERSION);
    for (int64_t v = version; v < STORE_VERSION; v++)
        if (store_exec(st, store_migrations[v], e) != 0)
            goto fail;
    if (version < STORE_VERSION) {
        char sql[96];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d; PRAGMA application_id = %d",
                 STORE_VERSION, STORE_APP_ID);
        if (store_exec(st, sql, e) != 0)
            goto fail;
    }
    int64_t unwanted = 0;
    if (store_pragma_int(st, store_indexes_wanted, &unwanted, e) != 0 ||
        (unwanted && store_exec(st, store_indexes, e) != 0))
        goto fail;
    if (store_exec(st, "COMMIT", e) != 0)
        goto fail;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (version > 0 && version < STORE_VERSION)
        log_info("store: upgraded to schema %d in %.1f s", STORE_VERSION,
                 (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
fail:
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* A read-only handle reads the file as it is: any version this eligo knows,
 * the tables added since shimmed (store_shims).  Run before query_only. */
static int store_check_version(store *st, err *e)
{
    int64_t version = 0, appid = 0;
    if (store_pragma_int(st, "PRAGMA user_version", &version, e) != 0 ||
        store_pragma_int(st, "PRAGMA application_id", &appid, e) != 0)
        return -1;
    /* Each refusal names the file: an auditor may verify many. */
    int64_t ntables = 0;
    if (version == 0 &&
        store_pragma_int(st, "SELECT count(*) FROM sqlite_schema", &ntables, e) != 0)
        return -1;
    if (version == 0 && ntables > 0)
        return err_set(e, "internal", "%s is an SQLite database but not eligo's (it has tables, "
                       "but no eligo schema version)", sqlite3_db_filename(st->db, "main"));
    if (version == 0)
        return err_set(e, "internal", "%s is not an eligo database (no schema)",
                       sqlite3_db_filename(st->db, "main"));
    if (appid != STORE_APP_ID)
        return err_set(e, "internal", "%s is not an eligo database (application_id %lld)",
                       sqlite3_db_filename(st->db, "main"), (long long)appid);
    if (version > STORE_VERSION)
        return err_set(e, "internal", "database schema version %lld is newer than this eligo "
                       "knows (%d); upgrade eligo", (long long)version, STORE_VERSION);
    for (int64_t v = version; v < STORE_VERSION; v++) {
        if (!store_shims[v].sql)
            continue;
        /* A file whose version was set back would hide the real table. */
        char sql[160];
        int64_t there = 0;
        snprintf(sql, sizeof sql, "SELECT count(*) FROM main.sqlite_schema WHERE type = 'table'"
                 " AND name = '%s'", store_shims[v].table);
        if (store_pragma_int(st, sql, &there, e) != 0)
            return -1;
        if (there)
            return err_set(e, "internal", "%s says it is schema %lld but holds the table %s "
                           "of schema %lld: its user_version was changed",
                           sqlite3_db_filename(st->db, "main"), (long long)version,
                           store_shims[v].table, (long long)(v + 1));
        if (store_exec(st, store_shims[v].sql, e) != 0)
            return -1;
        if (!st->shadow)
            st->shadow = (int)v;
    }
    st->version = (int)version;
    return 0;
}

int store_begin_read(store *st, err *e)
{
    if (store_step_done(st->q[Q_BEGIN_READ]) != SQLITE_DONE)
        return store_sqlerr(st, e, "BEGIN");
    if (!st->shadow)
        return 0;
    int64_t now = 0;
    if (store_pragma_int(st, "PRAGMA user_version", &now, e) != 0) {
        store_step_done(st->q[Q_COMMIT]);
        return -1;
    }
    if (now > st->shadow) {
        store_step_done(st->q[Q_COMMIT]);
        return err_set(e, "internal", "%s was migrated from schema %d to %lld while open; "
                       "open it again", sqlite3_db_filename(st->db, "main"), st->version,
                       (long long)now);
    }
    return 0;
}

/* A single statement that reads a table a handle may stand in for runs in
 * such a checked transaction too; on other handles these cost nothing. */
static int store_guard(store *st, err *e)
{
    return st->shadow ? store_begin_read(st, e) : 0;
}

static void store_unguard(store *st)
{
    if (st->shadow)
        store_step_done(st->q[Q_COMMIT]);
}

/* A write-ahead log beside a file that is not in WAL mode is another
 * file's: a backup (eligo writes them in rollback mode) copied over a
 * database whose server died, with the old log left beside it.  SQLite
 * would replay that log onto the copy, and corrupt it.  0, or -1 with E. */
static int store_stray_wal(const char *path, err *e)
{
    unsigned char h[20];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, h, sizeof h);
    close(fd);
    if (n < (ssize_t)sizeof h || memcmp(h, "SQLite format 3", 16) != 0 || (h[18] == 2 && h[19] == 2))
        return 0;
    char wal[4200];
    struct stat sb;
    snprintf(wal, sizeof wal, "%s-wal", path);
    if (stat(wal, &sb) != 0 || sb.st_size == 0)
        return 0;
    return err_set(e, "invalid_request", "%s is beside %s, which is not in WAL mode, so it is the "
                   "log of another file (a backup copied over a database whose -wal was left?); "
                   "SQLite would replay it onto this one.  Move %s and %s-shm away to open %s as "
                   "it is", wal, path, wal, path, path);
}

/* A log beside a file in WAL mode may be another database's too (a copy
 * put in place of one whose server died, its -wal left; another file's log
 * copied beside it): SQLite reads the two as one, and the first checkpoint
 * writes that log into the file, cutting it to the other's size.  A log
 * carries no mark of its database, but eligo's databases never shrink
 * (records are only added, nothing is vacuumed): a log whose last commit
 * makes the database smaller than its file is not this file's.  Looked at
 * before anything is written, with the checkpoint that closing the handle
 * would make turned off until the log is found to fit.  0, or -1 with E. */
static int store_wal_fits(store *st, const char *path, err *e)
{
    char wal[4200];
    struct stat fs, ws;
    snprintf(wal, sizeof wal, "%s-wal", path);
    if (stat(path, &fs) != 0 || stat(wal, &ws) != 0 || ws.st_size == 0)
        return 0;
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
    int64_t pages = 0, size = 0;
    err ignored;
    if (store_pragma_int(st, "PRAGMA page_count", &pages, &ignored) != 0 ||
        store_pragma_int(st, "PRAGMA page_size", &size, &ignored) != 0) {
        sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, (int *)NULL);
        return 0;   /* what cannot be read is said by what reads it next */
    }
    if (pages > 0 && size > 0 && (int64_t)fs.st_size > pages * size)
        return err_set(e, "invalid_request", "the log beside %s (%s) would make the database "
                       "%lld pages of %lld bytes, where the file holds %lld: eligo's databases "
                       "never shrink, so it is most likely another database's log (copied "
                       "beside it, or left by the file this one replaced), which SQLite would "
                       "write into this one, cutting it short.  Move %s and %s-shm away to open "
                       "%s as it is (if the log is this file's own, after a VACUUM, open the "
                       "file once with the sqlite3 shell instead)",
                       path, wal, (long long)pages, (long long)size,
                       (long long)(fs.st_size / size), wal, path, path);
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, (int *)NULL);
    return 0;
}

/* Handles open in this process.  Closing any descriptor of a file drops
 * every POSIX lock the process holds on it, SQLite's included: the file is
 * opened by hand (store_stray_wal) only while no handle is open. */
static atomic_int store_handles;

/* SQLite's set-up for the process, before its first use: no count of the
 * memory it holds (nothing here reads it), which otherwise takes a global
 * mutex on every allocation, some thirty a decision in the writer. */
static pthread_once_t store_once = PTHREAD_ONCE_INIT;

static void store_configure(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);   /* refused if too late: it costs only time */
}

/* The directory PATH is in, into DIR (N bytes); returns DIR. */
static char *store_dir_of(const char *path, char *dir, size_t n)
{
    snprintf(dir, n, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, n, ".");
    else
        slash[slash == dir] = '\0';   /* "/x" is in "/" */
    return dir;
}

/* For a reader of PATH in a directory it cannot write, with no log beside
 * it (a database stopped cleanly, on a read-only mount or in an archive):
 * the URI that opens it as immutable, or NULL to open PATH as usual.  In WAL
 * mode SQLite must otherwise make the -shm file beside it, and cannot; and
 * with no log and no room for one, no writer can be at work on the file. */
static char *store_immutable_uri_of(const char *path)
{
    char dir[4096], wal[4096 + 8];
    store_dir_of(path, dir, sizeof dir);
    snprintf(wal, sizeof wal, "%s-wal", path);
    if (access(dir, W_OK) == 0 || access(wal, F_OK) == 0 || access(path, R_OK) != 0)
        return NULL;
    size_t n = strlen(path);
    char *uri = malloc(3 * n + sizeof "file://?immutable=1");
    if (!uri)
        return NULL;
    /* "file://" and an empty authority before an absolute path: one that
     * begins "//" is then not read as a host. */
    char *o = uri + sprintf(uri, path[0] == '/' ? "file://" : "file:");
    for (const char *p = path; *p; p++) {
        if (*p == '%' || *p == '?' || *p == '#')   /* what a URI path cannot hold as is */
            o += sprintf(o, "%%%02X", (unsigned char)*p);
        else
            *o++ = *p;
    }
    strcpy(o, "?immutable=1");
    return uri;
}

static char *store_immutable_uri(const char *given)
{
    /* Where the file is: SQLite follows a link to it, and keeps its -wal
     * and -shm beside the file, not beside the link. */
    char *path = realpath(given, NULL);
    if (!path)
        return NULL;
    char *uri = store_immutable_uri_of(path);
    free(path);
    return uri;
}

/* Whether a reader can open PATH, before SQLite tries: its -wal and -shm
 * are readable, and the -shm can be made if it is missing.  SQLite itself
 * says only "unable to open database file".  0, or -1 with E. */
static int store_reader_can_open(const char *path, err *e)
{
    /* A log beside the file, no index of it, and a directory no one may
     * write: SQLite cannot make the index.  Beside the file, not a link
     * to it. */
    char wal[4200], shm[4200], dir[4096];
    char *real = realpath(path, NULL);
    const char *file = real ? real : path;
    snprintf(wal, sizeof wal, "%s-wal", file);
    snprintf(shm, sizeof shm, "%s-shm", file);
    int logged = access(wal, F_OK) == 0;
    int dir_ro = access(store_dir_of(file, dir, sizeof dir), W_OK) != 0;
    int stuck = logged && access(shm, F_OK) != 0 && dir_ro;
    free(real);
    /* Every reader reads the log and maps its index too: a reader the
     * database's own mode lets in and theirs do not (the database made
     * group-readable while a server held them open) would get no more
     * than SQLite's "unable to open database file".  One the database
     * itself refuses is told so by store_open, as SQLite fails to open it.
     * One that opens it as immutable (no log, a directory it cannot write:
     * store_immutable_uri_of) reads neither. */
    char why[600] = "";
    const char *shut = access(path, R_OK) != 0 || (!logged && dir_ro) ? NULL
                     : access(wal, F_OK) == 0 && *err_denied(wal, 0, why, sizeof why) ? wal
                     : access(shm, F_OK) == 0 && *err_denied(shm, 0, why, sizeof why) ? shm
                     : NULL;
    if (shut)
        return err_set(e, "internal", "cannot read %s: %s beside it: %s; a reader needs to read "
                       "the database's -wal and -shm files as well as the database (SQLite makes "
                       "them with the database's mode and group)", path, shut, why);
    if (stuck)
        return err_set(e, "internal", "cannot read %s: its write-ahead log %s is there, and "
                       "SQLite needs to make %s beside it, in a directory that cannot be written "
                       "(%s): copy the database and its -wal to a directory you can write, and "
                       "read the copy", path, wal, shm, dir);
    return 0;
}

/* Put the writer's database PATH in WAL mode.  0, or -1 with E saying why
 * it could not be: most often a directory it cannot write, as the log and
 * its index are files beside the database. */
static int store_wal_mode(store *st, const char *path, err *e)
{
    sqlite3_stmt *s = NULL;
    int ok = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s, NULL) == SQLITE_OK &&
             sqlite3_step(s) == SQLITE_ROW &&
             !sqlite3_stricmp((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    if (ok)
        return 0;
    char dir[4096], why[600];
    if (*err_denied(path, 1, why, sizeof why))   /* the file itself */
        return err_set(e, "internal", "cannot put %s in WAL mode: %s: %s", path,
                       sqlite3_errmsg(st->db), why);
    int writable = access(store_dir_of(path, dir, sizeof dir), W_OK) == 0;
    return err_set(e, "internal", "cannot put %s in WAL mode: %s%s%s%s", path,
                   sqlite3_errmsg(st->db), writable ? "" : " (the directory ",
                   writable ? "" : dir,
                   writable ? "" : " cannot be written: the database needs its -wal and -shm "
                                   "files beside it; to only read it, use verify or audit)");
}

/* The writer's set-up of the database PATH it opened: identity, page size,
 * WAL mode, pragmas, and the schema migrated to STORE_VERSION.  0, or -1
 * with E. */
static int store_setup_writer(store *st, const char *path, err *e)
{
    /* 8 KiB pages, which only a new file takes: a decision row is about
     * 1.4 KB and an application 0.6 KB, so 4 KiB pages held two rows and
     * left 30% of the table empty.  Measured with bench_store (1.1 KB
     * decisions, synchronous=FULL): the file is 14% smaller, appends in
     * batches of 10 to 1000 are 10-20% faster (also on a database of a
     * million records), verify 10% faster; single-row commits are about
     * even.  WAL must then be set outside a transaction, and before
     * anything is written. */
    if (store_identify(st, e) != 0 || store_exec(st, "PRAGMA page_size = 8192", e) != 0 ||
        store_wal_mode(st, path, e) != 0)
        return -1;
    /* secure_delete off: the SQLite of some systems (Debian's) is built to
     * zero every byte a deletion frees, and to write every page freed as
     * zeros.  Here nothing is ever deleted that the file does not still hold
     * elsewhere: records are only appended, and what is removed -- the
     * applicant index's recent entries at each merge (store_merge), an index
     * replaced (store_indexes) -- is a copy of columns kept in their tables.
     * The zeroing only cost time: the merge's freed pages went to the log. */
    const char *pragmas = (st->flags & STORE_NOSYNC)
        ? "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
          "PRAGMA cache_size = -32768; PRAGMA journal_size_limit = 67108864;"
          "PRAGMA secure_delete = OFF"
        : "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
          "PRAGMA cache_size = -32768; PRAGMA journal_size_limit = 67108864;"
          "PRAGMA secure_delete = OFF";
    if (store_exec(st, pragmas, e) != 0 || store_migrate(st, e) != 0)
        return -1;
    st->version = STORE_VERSION;
    return 0;
}

/* A reader's set-up: the schema checked, writes refused, the file mapped.
 * 0, or -1 with E. */
static int store_setup_reader(store *st, err *e)
{
    /* Readers start a transaction per request, and every commit of the
     * writer in between empties their page cache: reading the database
     * file through a mapping rather than read() spares copying it back in
     * each time. */
    if (store_check_version(st, e) != 0 ||
        store_exec(st, "PRAGMA query_only = ON; PRAGMA mmap_size = 1073741824", e) != 0)
        return -1;
    return 0;
}

/* Prepare every statement of store_sql into ST->q.  0, or -1 with E; the
 * ones prepared are left for the caller to finalize. */
static int store_prepare_all(store *st, err *e)
{
    for (int i = 0; i < Q_N; i++) {
        if (sqlite3_prepare_v3(st->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &st->q[i], NULL) != SQLITE_OK)
            return err_set(e, "internal", "preparing \"%s\": %s", store_sql[i],
                           sqlite3_errmsg(st->db));
    }
    return 0;
}

int store_open(store **out, const char *path, int flags, err *e)
{
    *out = NULL;
    pthread_once(&store_once, store_configure);
    /* Before anything opens it: a FIFO would block the open until a writer
     * came, and a device is no database (SQLite says "disk I/O error" for a
     * directory). */
    struct stat given;
    if (stat(path, &given) == 0 && !S_ISREG(given.st_mode))
        return err_set(e, "internal", "cannot open %s: it is %s, not a database file", path,
                       S_ISDIR(given.st_mode) ? "a directory" : "not a regular file");
    if (atomic_load(&store_handles) == 0 && store_stray_wal(path, e) != 0)
        return -1;
    int rdonly = (flags & STORE_READONLY) != 0;
    int oflags = (rdonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                 SQLITE_OPEN_NOMUTEX;   /* one thread at a time: no locking needed */
    store *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path))) {
        free(st);
        return err_set(e, "internal", "out of memory");
    }
    st->flags = flags;

    /* The file holds applicants' data: a new one is the owner's alone, as
     * a backup is (SQLite gives its -wal and -shm the same mode). */
    if (!rdonly) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
    }
    if (rdonly && store_reader_can_open(path, e) != 0) {
        free(st->path);
        free(st);
        return -1;
    }
    char *uri = rdonly ? store_immutable_uri(path) : NULL;
    atomic_fetch_add(&store_handles, 1);   /* SQLite may hold locks from here on */
    int opened = sqlite3_open_v2(uri ? uri : path, &st->db, oflags | (uri ? SQLITE_OPEN_URI : 0),
                                 NULL);
    free(uri);
    if (opened != SQLITE_OK) {
        char why[600] = "";
        if (st->db)
            err_denied(path, !rdonly, why, sizeof why);
        err_set(e, "internal", "cannot open %s: %s%s%s", path,
                st->db ? sqlite3_errmsg(st->db) : "out of memory", *why ? ": " : "", why);
        goto fail_db;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
    if (!uri && store_wal_fits(st, path, e) != 0)
        goto fail_db;
    struct stat sb;
    if (stat(path, &sb) == 0) {   /* the file opened, for store_moved */
        st->dev = sb.st_dev;
        st->ino = sb.st_ino;
    }

    if (rdonly ? store_setup_reader(st, e) != 0 : store_setup_writer(st, path, e) != 0)
        goto fail_db;
    if (store_prepare_all(st, e) != 0)
        goto fail_stmts;

    st->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    st->md = EVP_MD_CTX_new();
    if (!st->sha256 || !st->md) {
        err_set(e, "internal", "OpenSSL has no SHA-256");
        goto fail_md;
    }
    if (store_load_head(st, e) != 0 || (!rdonly && store_tail_whole(st, e) != 0))
        goto fail_md;

    *out = st;
    store_invariants(st);
    return 0;

fail_md:
    EVP_MD_CTX_free(st->md);
    EVP_MD_free(st->sha256);
fail_stmts:
    for (int i = 0; i < Q_N; i++)
        sqlite3_finalize(st->q[i]);
fail_db:
    sqlite3_close(st->db);
    atomic_fetch_sub(&store_handles, 1);
    free(st->path);
    free(st);
    return -1;
}

int store_failed_whole(store *st)
{
    switch (st->last_error & 0xff) {
    case SQLITE_FULL: case SQLITE_IOERR: case SQLITE_CANTOPEN: case SQLITE_READONLY:
    case SQLITE_BUSY: case SQLITE_LOCKED: case SQLITE_NOMEM: case SQLITE_CORRUPT:
    case SQLITE_NOTADB: case SQLITE_PERM:
        return 1;
    default:
        return 0;
    }
}

int store_schema(const store *st)
{
    return st->version;
}

int store_database_id(store *st, char out[33], err *e)
{
    store_invariants(st);
    sqlite3_stmt *s = NULL;
    out[0] = '\0';
    if (sqlite3_prepare_v2(st->db, "SELECT id FROM database_id", -1, &s, NULL) != SQLITE_OK)
        return store_sqlerr(st, e, "reading the database id");
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        size_t len;
        const char *id = store_col_text(s, 0, &len);
        if (id && len == 32)
            memcpy(out, id, 33);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_sqlerr(st, e, "reading the database id");
}

const char *store_path(const store *st)
{
    return st->path;
}

void store_close(store *st)
{
    if (!st)
        return;
    store_invariants(st);
    for (int i = 0; i < Q_N; i++)
        sqlite3_finalize(st->q[i]);
    sqlite3_close(st->db);
    atomic_fetch_sub(&store_handles, 1);
    EVP_MD_CTX_free(st->md);
    EVP_MD_free(st->sha256);
    free(st->path);
    free(st);
}

/* Whether the file under ST's connection still looks as a database in WAL
 * mode does, as large as it was or larger (it never shrinks: records are
 * only added).  A copy written over it in place -- cp keeps the inode --
 * is caught when it is shorter, or when it is a backup, which is in
 * rollback mode.  (The file's header alone: the rest of page 1, such as the
 * application id, may still be in the log.)  Read through SQLite's own file
 * object: opening and closing a descriptor of our own would drop the
 * process's locks on the file. */
static int store_file_holds(store *st, const struct stat *sb)
{
    sqlite3_file *f = NULL;
    unsigned char h[20];
    if ((int64_t)sb->st_size < st->size_seen || sb->st_size < 100)
        return 0;   /* (a reader maps the file: a read past its end would be SIGBUS) */
    st->size_seen = (int64_t)sb->st_size;
    if (sqlite3_file_control(st->db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || !f ||
        !f->pMethods)
        return 1;   /* nothing to read it with: not ours to judge */
    if (f->pMethods->xRead(f, h, (int)sizeof h, 0) != SQLITE_OK)
        return 0;   /* shorter than a header */
    return h[18] == 2 && h[19] == 2;
}

int store_moved(store *st, err *e)
{
    struct stat sb;
    int found = stat(st->path, &sb) == 0;
    if (found && sb.st_dev == st->dev && sb.st_ino == st->ino) {
        /* Once seen, for good: a checkpoint may write page 1, WAL header
         * and all, over the copy afterwards. */
        if (!st->overwritten && store_file_holds(st, &sb))
            return 0;
        st->overwritten = 1;
        return err_set(e, "internal", "the database file %s was written over while the server "
                       "ran (it is shorter than before, or no longer a database in WAL mode): "
                       "what it would write now could corrupt it; stop the server, and restore "
                       "a backup only while no server runs on the file", st->path);
    }
    return err_set(e, "internal", "the database file %s was %s while the server ran: what it "
                   "would write now goes to a file no one can read; restart the server", st->path,
                   found ? "replaced" : "removed");
}

/* ---- Transactions ------------------------------------------------------- */

/* In a transaction: read the head again if another connection wrote since
 * the last look, and note what it wrote. */
static int store_refresh(store *st, err *e)
{
    int64_t dv = 0;
    if (store_row_int(st, Q_DATA_VERSION, "PRAGMA data_version", &dv, e) != 0)
        return -1;
    if (dv == st->data_version)
        return 0;
    /* New decisions make the writer's picture of who has a past old; new
     * reviews only where some of them stand. */
    int64_t decisions = st->decisions_seq, head = st->head_seq;
    if (store_load_head(st, e) != 0)
        return -1;
    st->other_writer |= st->decisions_seq != decisions;
    st->other_review |= st->decisions_seq == decisions && st->head_seq != head;
    return 0;
}

/* BEGIN IMMEDIATE, then refresh the head if another connection wrote. */
static int store_begin(store *st, err *e)
{
    if (st->flags & STORE_READONLY)
        return err_set(e, "internal", "the store was opened read-only");   /* invariant 5 */
    if (store_step_done(st->q[Q_BEGIN]) != SQLITE_DONE)
        return store_sqlerr(st, e, "BEGIN");
    if (store_refresh(st, e) == 0)
        return 0;
    store_step_done(st->q[Q_ROLLBACK]);
    return -1;
}

int store_look(store *st, err *e)
{
    store_invariants(st);
    if (store_step_done(st->q[Q_BEGIN_READ]) != SQLITE_DONE)
        return store_sqlerr(st, e, "BEGIN");
    int rc = store_refresh(st, e);
    store_step_done(st->q[rc == 0 ? Q_COMMIT : Q_ROLLBACK]);
    store_invariants(st);
    return rc;
}

static int store_commit(store *st, err *e)
{
    if (store_step_done(st->q[Q_COMMIT]) != SQLITE_DONE) {
        store_sqlerr(st, e, "COMMIT");
        store_step_done(st->q[Q_ROLLBACK]);
        return -1;
    }
    return 0;
}

static void store_rollback(store *st)
{
    /* A failed COMMIT or an I/O error may already have rolled back. */
    if (!sqlite3_get_autocommit(st->db))
        store_step_done(st->q[Q_ROLLBACK]);
}

/* ---- Checkpoints ---------------------------------------------------------- */

/* SQLite calls this after each commit on a watched handle, the write lock
 * already released, so it may checkpoint (as SQLite's own automatic
 * checkpoint does from the same place).  The commit has happened whatever
 * follows: a checkpoint that cannot finish is no error of the commit's. */
static int store_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    store *st = arg;
    if (st->wal_fn(st->wal_ud, pages))
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

int store_wal_watch(store *st, store_wal_fn *fn, void *ud, err *e)
{
    store_invariants(st);
    if (st->flags & STORE_READONLY)
        return err_set(e, "internal", "the store was opened read-only");
    if (!fn) {
        if (st->wal_fn)   /* this also takes our hook off: it registers SQLite's */
            sqlite3_wal_autocheckpoint(st->db, (int)st->autocheckpoint);
        st->wal_fn = NULL;
        st->wal_ud = NULL;
        return 0;
    }
    /* The automatic checkpoint is itself a WAL hook, and a handle has one:
     * registering ours is what turns it off.  The pragma says so plainly, and
     * must come first (run after, it would replace our hook). */
    if (!st->wal_fn &&
        (store_pragma_int(st, "PRAGMA wal_autocheckpoint", &st->autocheckpoint, e) != 0 ||
         store_exec(st, "PRAGMA wal_autocheckpoint = 0", e) != 0))
        return -1;
    st->wal_fn = fn;
    st->wal_ud = ud;
    sqlite3_wal_hook(st->db, store_wal_hook, st);
    return 0;
}

int store_checkpoint(store *st, long *logged, long *copied, err *e)
{
    store_invariants(st);
    if (st->flags & STORE_READONLY)
        return err_set(e, "internal", "the store was opened read-only");
    /* A file written over in place would take the log's pages, page 1 with
     * its WAL mark among them, and then no longer look written over to the
     * writer, which checks before it commits (store_moved). */
    if (store_moved(st, e) != 0)
        return -1;
    int nlog = -1, nckpt = -1;
    int rc = sqlite3_wal_checkpoint_v2(st->db, "main", SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
    if (logged)
        *logged = nlog;
    if (copied)
        *copied = nckpt;
    if ((rc & 0xff) == SQLITE_BUSY)
        return 1;
    if (rc != SQLITE_OK)
        return store_sqlerr(st, e, "checkpoint");
    return 0;
}


/* HEX = the SHA-256 of TEXT (N bytes): the key of a file's text in
 * file_texts.  Returns 0, or -1 when hashing failed. */
static int store_text_key(store *st, const char *text, size_t n, char hex[2 * STORE_HASH_LEN + 1])
{
    hasher h;
    unsigned char d[STORE_HASH_LEN];
    hasher_start(&h, st);
    hasher_add(&h, text, n);
    if (hasher_end(&h, d) != 0)
        return -1;
    hex_encode(d, sizeof d, hex);
    return 0;
}

/* ---- Rule sets ------------------------------------------------------------ */

int store_put_ruleset(store *st, const ruleset *rs, err *e)
{
    store_invariants(st);
    const char *hash = ruleset_hash(rs);
    size_t n = ruleset_count(rs);
    char now[32];
    store_now(now);
    if (store_begin(st, e) != 0)
        return -1;

    sqlite3_stmt *s = st->q[Q_RULESET_INSERT];
    bind_str(s, 1, hash);
    bind_str(s, 2, now);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)n);
    if (store_step_done(s) != SQLITE_DONE) {
        store_sqlerr(st, e, "storing a rule set");
        goto fail;
    }
    if (sqlite3_changes(st->db) == 0)   /* already stored: rule sets never change */
        goto commit;

    for (size_t i = 0; i < n; i++) {
        const ruleset_file *f = ruleset_file_at(rs, i);
        char hex[2 * STORE_HASH_LEN + 1];
        const char *text = f->text ? f->text : "";   /* NULL only when empty */
        if (store_text_key(st, text, f->len, hex) != 0) {
            err_set(e, "internal", "SHA-256 failed");
            goto fail;
        }

        s = st->q[Q_TEXT_INSERT];
        bind_str(s, 1, hex);
        sqlite3_bind_text(s, 2, text, (int)f->len, SQLITE_STATIC);
        if (store_step_done(s) != SQLITE_DONE) {
            store_sqlerr(st, e, "storing a rule file");
            goto fail;
        }
        s = st->q[Q_RFILE_INSERT];
        bind_str(s, 1, hash);
        bind_str(s, 2, f->name);
        bind_str(s, 3, hex);
        sqlite3_bind_int64(s, 4, (sqlite3_int64)f->len);
        if (store_step_done(s) != SQLITE_DONE) {
            store_sqlerr(st, e, "storing a rule file");
            goto fail;
        }
    }
commit:
    if (store_commit(st, e) != 0)
        return -1;
    store_invariants(st);
    return 0;
fail:
    store_rollback(st);
    store_invariants(st);
    return -1;
}

/* " (NAME)" into OUT (N bytes), the file a damaged rule set's fault is
 * found in, once: the first found is the one named.  NAME comes from the
 * database, so a control character in it is written '?', not sent to the
 * reader's terminal. */
static void store_ruleset_blame(char *out, size_t n, const char *name)
{
    if (*out)
        return;
    snprintf(out, n, " (%s)", name);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

/* Whether KEY (hex) is not the SHA-256 of TEXT (N bytes), file_texts' key. */
static int store_text_key_wrong(store *st, const char *text, size_t n, const char *key)
{
    char hex[2 * STORE_HASH_LEN + 1];
    return store_text_key(st, text, n, hex) != 0 || !key || strcmp(hex, key) != 0;
}

ruleset *store_load_ruleset(store *st, const char *hash, int *damaged, err *e)
{
    sqlite3_stmt *s = st->q[Q_RULESET_FILES];
    ruleset_file *files = NULL;
    size_t n = 0, alloc = 0;
    ruleset *rs = NULL;
    int rc, sizes_ok = 1;
    const char *label = NULL;   /* what a file's name or key says falsely */
    char label_of[80] = "";     /* ... and of which file, when one is to blame */
    char size_of[80] = "";      /* the first file whose recorded size is wrong */
    int64_t nfiles = 0;

    bind_str(s, 1, hash);
    /* Column texts die at the next step, so each file is copied out. */
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == alloc) {
            size_t na = alloc ? 2 * alloc : 16;
            ruleset_file *nf = realloc(files, na * sizeof *nf);
            if (!nf) {
                err_set(e, "internal", "out of memory");
                goto done;
            }
            files = nf;
            alloc = na;
        }
        /* Types first: reading a value as text converts it. */
        int typed = sqlite3_column_type(s, 0) == SQLITE_TEXT &&
                    sqlite3_column_type(s, 1) == SQLITE_TEXT;
        size_t nlen, tlen;
        const char *name = store_col_text(s, 0, &nlen);
        const char *text = store_col_text(s, 1, &tlen);
        char *nc = malloc(nlen + 1), *tc = malloc(tlen + 1);
        if (!nc || !tc || !name || !text) {
            free(nc);
            free(tc);
            err_set(e, "internal", "out of memory");
            goto done;
        }
        memcpy(nc, name, nlen + 1);
        memcpy(tc, text, tlen + 1);
        files[n++] = (ruleset_file){.name = nc, .text = tc, .len = tlen};
        if (sizes_ok && sqlite3_column_int(s, 2) != 1) {
            sizes_ok = 0;
            store_ruleset_blame(size_of, sizeof size_of, nc);
        }
        nfiles = sqlite3_column_int64(s, 3);
        /* Not hashed into the set's key, each must still say what it
         * describes: a name with a NUL would hash as its part before it,
         * and a query by name, or by key, would not find the file. */
        if (!label && !typed)
            label = "a file's name or text is not stored as text";
        if (!label && strlen(nc) != nlen)
            label = "a file's name holds a NUL byte";
        if (!label && store_text_key_wrong(st, tc, tlen, store_col_text(s, 4, &nlen))) {
            label = "a file's sha256 is not the SHA-256 of its text";
            store_ruleset_blame(label_of, sizeof label_of, nc);
        }
    }
    if (rc != SQLITE_DONE) {
        store_sqlerr(st, e, "reading a rule set");
        goto done;
    }
    if (n == 0) {
        err_set(e, "not_found", "no rule set %s in the database", hash);
        if (damaged)
            *damaged = 1;
        goto done;
    }
    if (!sizes_ok || nfiles != (int64_t)n || label) {
        err_set(e, "internal", "stored rule set %s is damaged: %s%s", hash,
                label ? label : sizes_ok ? "its count of files is not the number of its files"
                                         : "a file's recorded size is not the size of its text",
                label ? label_of : !sizes_ok ? size_of : "");
        if (damaged)
            *damaged = 1;
        goto done;
    }
    rs = ruleset_from_files(files, n, e);
    if (!rs && damaged && e && e->code && strcmp(e->code, "internal") != 0)
        *damaged = 1;   /* a renamed or mangled file */
    if (rs && strcmp(ruleset_hash(rs), hash) != 0) {
        if (damaged)
            *damaged = 1;
        err_set(e, "internal", "stored rule set %s is damaged: its files hash to %s",
                hash, ruleset_hash(rs));
        ruleset_free(rs);
        rs = NULL;
    }
done:
    sqlite3_reset(s);
    for (size_t i = 0; i < n; i++) {
        free((char *)files[i].name);
        free((char *)files[i].text);
    }
    free(files);
    return rs;
}

ruleset *store_get_ruleset(store *st, const char *hash, err *e)
{
    store_invariants(st);
    ruleset *rs = store_load_ruleset(st, hash, NULL, e);
    store_invariants(st);
    return rs;
}

ruleset *store_get_ruleset_checked(store *st, const char *hash, int *damaged, err *e)
{
    store_invariants(st);
    *damaged = 0;
    ruleset *rs = store_load_ruleset(st, hash, damaged, e);
    store_invariants(st);
    return rs;
}

/* ---- Appending ------------------------------------------------------------ */

/* REPEAT: copy the stored decisions seq FIRST .. FIRST+N-1 into OUT. */
static int store_collect(store *st, int64_t first, int64_t n, buf *out, err *e)
{
    sqlite3_stmt *s = st->q[Q_DEC_RANGE];
    int rc;
    sqlite3_bind_int64(s, 1, first);
    sqlite3_bind_int64(s, 2, first + n - 1);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        size_t len;
        const char *j = store_col_text(s, 0, &len);
        if ((out->len && buf_addc(out, ',') != 0) || buf_add(out, j, len) != 0) {
            sqlite3_reset(s);
            return err_set(e, "internal", "stored decisions too large for a reply");
        }
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_sqlerr(st, e, "reading stored decisions");
    return 0;
}

/* A conflict's outcome: the request line stored under the key, from
 * column 3 of Q_APP_BY_KEY's row, which S is on (conflict.h says what
 * differs).  Too long for OUT, it is left out: the conflict stands. */
static void store_conflict(sqlite3_stmt *s, store_outcome *out)
{
    size_t len;
    const char *request = store_col_text(s, 3, &len);
    out->status = STORE_CONFLICT;
    buf_reset(&out->stored);
    if (request && buf_add(&out->stored, request, len) != 0)
        buf_reset(&out->stored);
}

/* Whether the application at the row of Q_APP_BY_KEY in S is the one with
 * FINGERPRINT and request line REQUEST (LEN bytes): the fingerprints are
 * equal, or the stored one was written by an older eligo, differently, and
 * the two lines hold the same application (conflict_same). */
static int store_same(sqlite3_stmt *s, const char *fingerprint, const char *request, size_t len)
{
    size_t flen, slen;
    const char *fp = store_col_text(s, 0, &flen);
    if (fp && fingerprint && strcmp(fp, fingerprint) == 0)
        return 1;
    const char *stored = store_col_text(s, 3, &slen);
    return stored && request && conflict_same(request, len, stored, slen);
}

int store_key_outcome(store *st, const char *key, const char *fingerprint, const char *request,
                      size_t len, store_outcome *out, err *e)
{
    store_invariants(st);
    sqlite3_stmt *s = st->q[Q_APP_BY_KEY];
    out->status = STORE_NEW;
    bind_str(s, 1, key);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        int same = store_same(s, fingerprint, request, len);
        int64_t first = sqlite3_column_int64(s, 1), nd = sqlite3_column_int64(s, 2);
        if (!same)
            store_conflict(s, out);
        sqlite3_reset(s);
        if (!same)
            return 0;
        out->status = STORE_REPEAT;
        return nd > 0 ? store_collect(st, first, nd, &out->stored, e) : 0;
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : store_sqlerr(st, e, "looking up a request key");
}

static int store_app_valid(const store_application *a, size_t i, err *e)
{
    if (!a->request || !a->as_of || !a->ruleset || !a->received_at || !a->decided_at ||
        (a->request_key && !a->fingerprint) || (a->ndecisions && !a->decisions))
        return err_set(e, "internal", "application %zu lacks a required field", i);
    for (size_t k = 0; k < a->ndecisions; k++) {
        const store_decision *d = &a->decisions[k];
        if (!d->decision_id || !d->program || !d->outcome || !d->json)
            return err_set(e, "internal", "application %zu, decision %zu lacks a required "
                           "field", i, k);
    }
    return 0;
}

/* Append one application and its decisions at SEQ + 1 ..; advance SEQ/PREV. */
static int store_append_one(store *st, const store_application *a, size_t i,
                            int64_t *seq, unsigned char prev[STORE_HASH_LEN], err *e)
{
    int64_t first = *seq + 1;
    int64_t uid = a->client_uid, pid = a->client_pid;
    char uidbuf[24], pidbuf[24], firstbuf[24], ndbuf[24];
    const char *uidtxt = store_decimal(uid, uidbuf), *pidtxt = store_decimal(pid, pidbuf);
    const char *firsttxt = store_decimal(first, firstbuf);
    const char *ndtxt = store_decimal((int64_t)a->ndecisions, ndbuf);

    app_fields af = {.f = {
        [A_REQUEST] = a->request, [A_REQUEST_KEY] = a->request_key,
        [A_FINGERPRINT] = a->fingerprint, [A_APPLICANT_ID] = a->applicant_id,
        [A_AS_OF] = a->as_of, [A_RULESET] = a->ruleset, [A_RECEIVED_AT] = a->received_at,
        [A_DECIDED_AT] = a->decided_at, [A_CLIENT_UID] = uid < 0 ? NULL : uidtxt,
        [A_CLIENT_PID] = pid < 0 ? NULL : pidtxt, [A_FIRST_SEQ] = firsttxt,
        [A_NDECISIONS] = ndtxt,
    }};
    for (int k = 0; k < A_N; k++)
        af.len[k] = af.f[k] ? strlen(af.f[k]) : 0;
    af.len[A_REQUEST] = a->request_len;
    char app_hex[2 * STORE_HASH_LEN + 1];
    if (store_app_digest(st, &af, app_hex) != 0)
        return err_set(e, "internal", "SHA-256 failed");

    sqlite3_stmt *s = st->q[Q_APP_INSERT];
    sqlite3_bind_text(s, 1, a->request, (int)a->request_len, SQLITE_STATIC);
    bind_str(s, 2, a->request_key);
    bind_str(s, 3, a->fingerprint);
    bind_str(s, 4, a->applicant_id);
    bind_str(s, 5, a->as_of);
    bind_str(s, 6, a->ruleset);
    bind_str(s, 7, a->received_at);
    bind_str(s, 8, a->decided_at);
    uid < 0 ? sqlite3_bind_null(s, 9) : sqlite3_bind_int64(s, 9, uid);
    pid < 0 ? sqlite3_bind_null(s, 10) : sqlite3_bind_int64(s, 10, pid);
    sqlite3_bind_int64(s, 11, first);
    sqlite3_bind_int64(s, 12, (sqlite3_int64)a->ndecisions);
    int rc = store_step_done(s);
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        return err_set(e, "internal", "application %zu: rule set %s was never stored "
                       "(store_put_ruleset)", i, a->ruleset);
    if (rc != SQLITE_DONE) {
        st->last_error = rc;   /* a full disk, say: store_failed_whole */
        return err_set(e, "internal", "application %zu: %s", i, sqlite3_errmsg(st->db));
    }
    sqlite3_int64 app_id = sqlite3_last_insert_rowid(st->db);

    for (size_t k = 0; k < a->ndecisions; k++) {
        const store_decision *d = &a->decisions[k];
        char seqbuf[24];
        unsigned char hash[STORE_HASH_LEN];
        int64_t n = *seq + 1;
        const char *seqtxt = store_decimal(n, seqbuf);
        rec_fields r = {.f = {
            [V_SEQ] = seqtxt, [V_DECISION_ID] = d->decision_id, [V_PROGRAM] = d->program,
            [V_PROGRAM_VERSION] = d->program_version, [V_OUTCOME] = d->outcome,
            [V_APPLICANT_ID] = a->applicant_id, [V_AS_OF] = a->as_of,
            [V_DECIDED_AT] = a->decided_at, [V_RULESET] = a->ruleset, [V_DECISION] = d->json,
        }};
        for (int f = V_SEQ; f < V_DECISION; f++)
            r.len[f] = r.f[f] ? strlen(r.f[f]) : 0;
        r.len[V_DECISION] = d->json_len;
        if (store_record_hash(st, prev, &r, app_hex, hash) != 0)
            return err_set(e, "internal", "SHA-256 failed");

        s = st->q[Q_DEC_INSERT];
        sqlite3_bind_int64(s, 1, n);
        bind_str(s, 2, d->decision_id);
        bind_str(s, 3, d->program);
        bind_str(s, 4, d->program_version);
        bind_str(s, 5, d->outcome);
        bind_str(s, 6, a->applicant_id);
        bind_str(s, 7, a->as_of);
        bind_str(s, 8, a->decided_at);
        bind_str(s, 9, a->ruleset);
        sqlite3_bind_text(s, 10, d->json, (int)d->json_len, SQLITE_STATIC);
        sqlite3_bind_blob(s, 11, prev, STORE_HASH_LEN, SQLITE_STATIC);
        sqlite3_bind_blob(s, 12, hash, STORE_HASH_LEN, SQLITE_STATIC);
        sqlite3_bind_int64(s, 13, app_id);
        rc = store_step_done(s);
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return err_set(e, "internal", "application %zu: decision id %s is already stored",
                           i, d->decision_id);
        if (rc != SQLITE_DONE) {
            st->last_error = rc;
            return err_set(e, "internal", "application %zu, decision %s: %s", i,
                           d->decision_id, sqlite3_errmsg(st->db));
        }
        if (a->applicant_id) {
            s = st->q[Q_RECENT_INSERT];
            bind_str(s, 1, a->applicant_id);
            sqlite3_bind_int64(s, 2, n);
            if ((rc = store_step_done(s)) != SQLITE_DONE) {
                st->last_error = rc;
                return err_set(e, "internal", "application %zu, decision %s: the applicant "
                               "index: %s", i, d->decision_id, sqlite3_errmsg(st->db));
            }
        }
        *seq = n;
        memcpy(prev, hash, STORE_HASH_LEN);
    }
    return 0;
}

/* When the recent level holds STORE_RECENT_MAX entries or more, move them
 * all into the index, in key order, in the current transaction (see "The
 * applicant index").  Returns 0, or -1 with E.
 *
 * OR ROLLBACK: a statement that may fail part-way through its rows (ABORT,
 * the default) keeps the pages it changes in a statement journal, to undo
 * them alone, and past 64 KiB in a temporary file: a merge at full load
 * made, wrote (some 45 pages of 8 KiB) and removed one each time.  A merge
 * that fails takes its whole transaction with it anyway (store_append rolls
 * back), so that SQLite may as well roll it back itself and keep nothing. */
static int store_merge(store *st, err *e)
{
    int64_t recent = 0;
    if (store_row_int(st, Q_RECENT_COUNT, "counting the recent applicant entries", &recent,
                      e) != 0)
        return -1;
    if (recent < STORE_RECENT_MAX)
        return 0;
    if (store_exec(st, "INSERT OR ROLLBACK INTO applicant_index SELECT applicant_id, seq"
                       " FROM applicant_recent ORDER BY applicant_id, seq;"
                       "DELETE FROM applicant_recent;", e) != 0) {
        /* As any statement of the batch: a full disk or a damaged page here
         * is the whole database's failure (store_failed_whole). */
        st->last_error = sqlite3_extended_errcode(st->db);
        return -1;
    }
    return 0;
}

/* On failure every out[i].stored is left empty (freed), so a caller may
 * buf_free them all or none. */
int store_append(store *st, const store_application *apps, size_t n,
                 store_outcome *out, err *e)
{
    store_invariants(st);
    /* The head advances in these locals and reaches the handle only once the
     * batch has committed (invariant 3). */
    int64_t seq;
    unsigned char prev[STORE_HASH_LEN];

    st->last_error = 0;   /* store_failed_whole speaks of this batch */
    for (size_t i = 0; i < n; i++) {
        out[i].status = STORE_NEW;
        out[i].first_seq = 0;
        buf_init(&out[i].stored, STORE_STORED_CAP);
    }
    for (size_t i = 0; i < n; i++)
        if (store_app_valid(&apps[i], i, e) != 0)
            return -1;
    if (store_begin(st, e) != 0)
        return -1;
    seq = st->head_seq;
    memcpy(prev, st->head_hash, STORE_HASH_LEN);

    for (size_t i = 0; i < n; i++) {
        const store_application *a = &apps[i];
        if (a->request_key) {
            /* Inside the transaction, so an earlier application of this same
             * batch with the same key is seen too. */
            sqlite3_stmt *s = st->q[Q_APP_BY_KEY];
            bind_str(s, 1, a->request_key);
            int rc = sqlite3_step(s);
            if (rc == SQLITE_ROW) {
                int same = store_same(s, a->fingerprint, a->request, a->request_len);
                int64_t first = sqlite3_column_int64(s, 1);
                int64_t nd = sqlite3_column_int64(s, 2);
                if (!same)
                    store_conflict(s, &out[i]);
                sqlite3_reset(s);
                if (!same)
                    continue;
                out[i].status = STORE_REPEAT;
                if (nd > 0 && store_collect(st, first, nd, &out[i].stored, e) != 0)
                    goto fail;
                continue;
            }
            sqlite3_reset(s);
            if (rc != SQLITE_DONE) {
                store_sqlerr(st, e, "looking up a request key");
                goto fail;
            }
        }
        out[i].first_seq = seq + 1;
        if (store_append_one(st, a, i, &seq, prev, e) != 0)
            goto fail;
    }
    if (seq != st->head_seq && store_merge(st, e) != 0)
        goto fail;
    if (store_commit(st, e) != 0)
        goto fail_committed;
    if (seq != st->head_seq)
        st->decisions_seq = seq;
    st->head_seq = seq;
    memcpy(st->head_hash, prev, STORE_HASH_LEN);
    store_invariants(st);
    return 0;

fail:
    store_rollback(st);
fail_committed:
    for (size_t i = 0; i < n; i++) {
        buf_free(&out[i].stored);
        out[i].status = STORE_NEW;
    }
    store_invariants(st);
    return -1;
}

/* ---- Reviews -------------------------------------------------------------- */

#define STORE_REVIEW_BY_MAX 200
#define STORE_REVIEW_REASON_MAX 10000
#define STORE_REVIEW_CAP ((size_t)64 << 10)

static int store_tally(store *st, int64_t *total, int64_t *reviews);

static int store_nonblank(const char *s)
{
    return s && !text_blank(s, strlen(s));
}

int store_review_check(const store_review *rv, err *e)
{
    if (!rv->decision_id || !*rv->decision_id)
        return err_set(e, "invalid_request", "missing field 'decision_id'");
    if (!rv->action)
        return err_set(e, "invalid_request", "missing field 'action' (\"confirm\" or "
                       "\"override\")");
    int override = !strcmp(rv->action, "override");
    if (!override && strcmp(rv->action, "confirm") != 0)
        return err_set(e, "invalid_request", "field 'action' must be \"confirm\" or "
                       "\"override\", got \"%.40s\"", rv->action);
    if (override && !rv->outcome)
        return err_set(e, "invalid_request", "missing field 'outcome': an override gives the "
                       "new outcome (eligible, ineligible or incomplete)");
    if (override && strcmp(rv->outcome, "eligible") && strcmp(rv->outcome, "ineligible") &&
        strcmp(rv->outcome, "incomplete"))
        return err_set(e, "invalid_request", "field 'outcome' must be eligible, ineligible or "
                       "incomplete, got \"%.40s\"", rv->outcome);
    if (!override && rv->outcome)
        return err_set(e, "invalid_request", "field 'outcome' is only for an override: a "
                       "confirmation keeps the decision's outcome");
    if (!store_nonblank(rv->by))
        return err_set(e, "invalid_request", "field 'by' must say who reviewed the decision: "
                       "it is missing, empty or shows nothing");
    if (strlen(rv->by) > STORE_REVIEW_BY_MAX)
        return err_set(e, "invalid_request", "field 'by' is longer than %d bytes",
                       STORE_REVIEW_BY_MAX);
    if (!store_nonblank(rv->reason))
        return err_set(e, "invalid_request", "field 'reason' must say why the decision is "
                       "confirmed or overridden: it is missing, empty or shows nothing");
    if (strlen(rv->reason) > STORE_REVIEW_REASON_MAX)
        return err_set(e, "invalid_request", "field 'reason' is longer than %d bytes",
                       STORE_REVIEW_REASON_MAX);
    /* Stored as given in their columns, and as JSON in the record hashed:
     * bytes that are not UTF-8 would read otherwise in each. */
    size_t bad = text_utf8_bad(rv->by, strlen(rv->by));
    if (bad != strlen(rv->by))
        return err_set(e, "invalid_request", "field 'by' is not UTF-8 (at byte %zu)", bad + 1);
    bad = text_utf8_bad(rv->reason, strlen(rv->reason));
    if (bad != strlen(rv->reason))
        return err_set(e, "invalid_request", "field 'reason' is not UTF-8 (at byte %zu)", bad + 1);
    if (!rv->review_id || !rv->reviewed_at)
        return err_set(e, "internal", "a review lacks its review_id or reviewed_at");
    return 0;
}

/* The review's JSON, as stored and replied (see store.h). */
static int store_review_json(buf *b, const store_review *rv, int64_t seq,
                             const char *decision_outcome)
{
    int rc = 0;
    rc |= buf_adds(b, "{\"review_id\":");
    rc |= buf_add_json_string(b, rv->review_id, strlen(rv->review_id));
    rc |= buf_adds(b, ",\"decision_id\":");
    rc |= buf_add_json_string(b, rv->decision_id, strlen(rv->decision_id));
    rc |= buf_printf(b, ",\"seq\":%lld,\"action\":\"%s\"", (long long)seq, rv->action);
    if (rv->outcome)
        rc |= buf_printf(b, ",\"outcome\":\"%s\"", rv->outcome);
    rc |= buf_adds(b, ",\"decision_outcome\":");
    rc |= buf_add_json_string(b, decision_outcome, strlen(decision_outcome));
    rc |= buf_adds(b, ",\"by\":");
    rc |= buf_add_json_string(b, rv->by, strlen(rv->by));
    rc |= buf_adds(b, ",\"reason\":");
    rc |= buf_add_json_string(b, rv->reason, strlen(rv->reason));
    rc |= buf_adds(b, ",\"reviewed_at\":");
    rc |= buf_add_json_string(b, rv->reviewed_at, strlen(rv->reviewed_at));
    rc |= buf_addc(b, '}');
    return rc ? -1 : 0;
}

/* One transaction: find the decision, number the review, hash it at the
 * head, insert it, commit; only then does the head move (invariant 3) and
 * OUT receive the review, so a failure leaves both as they were. */
int store_append_review(store *st, const store_review *rv, buf *out, err *e)
{
    store_invariants(st);
    buf js;
    char dec_outcome[32], standing[32] = "";
    int overridden = 0;
    int64_t total, nrev;
    int ret = -1;

    st->last_error = 0;
    buf_init(&js, STORE_REVIEW_CAP);
    if (store_review_check(rv, e) != 0)
        return -1;
    if (store_begin(st, e) != 0)
        return -1;

    sqlite3_stmt *s = st->q[Q_DEC_OUTCOME];
    bind_str(s, 1, rv->decision_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        size_t len;
        const char *o = store_col_text(s, 0, &len);
        snprintf(dec_outcome, sizeof dec_outcome, "%s", o ? o : "");
        o = store_col_text(s, 1, &len);
        overridden = o != NULL;
        snprintf(standing, sizeof standing, "%s", o ? o : dec_outcome);
    }
    sqlite3_reset(s);
    if (rc == SQLITE_DONE) {
        store_no_decision(st, rv->decision_id, e);
        goto fail;
    }
    if (rc != SQLITE_ROW) {
        store_sqlerr(st, e, "looking up the decision reviewed");
        goto fail;
    }
    /* An override that changes nothing would read, in the trail, as if the
     * reviewer had reversed the decision. */
    if (!strcmp(rv->action, "override") && !strcmp(rv->outcome, standing)) {
        err_set(e, "invalid_request", "decision %s already stands as %s (%s): an override must "
                "change the outcome; to record that it stands, confirm it", rv->decision_id,
                standing, overridden ? "by its last override" : "its own outcome");
        goto fail;
    }
    if (store_tally(st, &total, &nrev) != 0) {
        store_sqlerr(st, e, "counting the reviews");
        goto fail;
    }

    int64_t seq = st->head_seq + 1, n = nrev + 1;
    if (store_review_json(&js, rv, seq, dec_outcome) != 0) {
        err_set(e, "internal", "the review is too large");
        goto fail;
    }
    char seqtxt[24], ntxt[24], uidtxt[24], pidtxt[24];
    snprintf(seqtxt, sizeof seqtxt, "%lld", (long long)seq);
    snprintf(ntxt, sizeof ntxt, "%lld", (long long)n);
    snprintf(uidtxt, sizeof uidtxt, "%lld", (long long)rv->client_uid);
    snprintf(pidtxt, sizeof pidtxt, "%lld", (long long)rv->client_pid);
    review_fields r = {.f = {
        [R_SEQ] = seqtxt, [R_N] = ntxt, [R_REVIEW_ID] = rv->review_id,
        [R_DECISION_ID] = rv->decision_id, [R_ACTION] = rv->action, [R_OUTCOME] = rv->outcome,
        [R_REVIEWER] = rv->by, [R_REASON] = rv->reason, [R_REVIEWED_AT] = rv->reviewed_at,
        [R_CLIENT_UID] = rv->client_uid < 0 ? NULL : uidtxt,
        [R_CLIENT_PID] = rv->client_pid < 0 ? NULL : pidtxt, [R_REVIEW] = js.data,
    }};
    for (int f = R_SEQ; f <= R_REVIEW; f++)
        r.len[f] = r.f[f] ? strlen(r.f[f]) : 0;
    r.len[R_REVIEW] = js.len;
    unsigned char hash[STORE_HASH_LEN];
    if (store_review_hash(st, st->head_hash, &r, hash) != 0) {
        err_set(e, "internal", "SHA-256 failed");
        goto fail;
    }

    s = st->q[Q_REVIEW_INSERT];
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_int64(s, 2, n);
    bind_str(s, 3, rv->review_id);
    bind_str(s, 4, rv->decision_id);
    bind_str(s, 5, rv->action);
    bind_str(s, 6, rv->outcome);
    bind_str(s, 7, rv->by);
    bind_str(s, 8, rv->reason);
    bind_str(s, 9, rv->reviewed_at);
    rv->client_uid < 0 ? sqlite3_bind_null(s, 10) : sqlite3_bind_int64(s, 10, rv->client_uid);
    rv->client_pid < 0 ? sqlite3_bind_null(s, 11) : sqlite3_bind_int64(s, 11, rv->client_pid);
    sqlite3_bind_text(s, 12, js.data, (int)js.len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 13, st->head_hash, STORE_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(s, 14, hash, STORE_HASH_LEN, SQLITE_STATIC);
    rc = store_step_done(s);
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        err_set(e, "internal", "review id %s is already stored", rv->review_id);
        goto fail;
    }
    if (rc != SQLITE_DONE) {
        store_sqlerr(st, e, "storing a review");
        goto fail;
    }
    /* Room in OUT before the commit: once committed, nothing may fail. */
    if (buf_reserve(out, js.len) != 0) {
        err_set(e, "internal", "the review does not fit the reply buffer");
        goto fail;
    }
    if (store_commit(st, e) != 0)
        goto fail_committed;
    st->head_seq = seq;
    memcpy(st->head_hash, hash, STORE_HASH_LEN);
    buf_add(out, js.data, js.len);
    ret = 0;
    goto done;

fail:
    store_rollback(st);
fail_committed:
done:
    buf_free(&js);
    store_invariants(st);
    return ret;
}

/* ---- Events --------------------------------------------------------------- */

int store_event(store *st, const char *kind, const char *detail, err *e)
{
    store_invariants(st);
    char now[32];
    store_now(now);
    if (st->flags & STORE_READONLY)
        return err_set(e, "internal", "the store was opened read-only");
    /* A single INSERT is its own transaction; no head is involved. */
    sqlite3_stmt *s = st->q[Q_EVENT_INSERT];
    bind_str(s, 1, now);
    bind_str(s, 2, kind);
    bind_str(s, 3, detail);
    if (store_step_done(s) != SQLITE_DONE)
        return store_sqlerr(st, e, "recording an event");
    store_invariants(st);
    return 0;
}

/* ---- Reading -------------------------------------------------------------- */

int store_started(store *st, const char *at, buf *when, buf *detail, err *e)
{
    store_invariants(st);
    sqlite3_stmt *s = st->q[Q_STARTED];
    bind_str(s, 1, at);
    int rc = sqlite3_step(s), found = rc == SQLITE_ROW;
    size_t wl = 0, dl = 0;
    const char *w = found ? store_col_text(s, 0, &wl) : NULL;
    const char *d = found ? store_col_text(s, 1, &dl) : NULL;
    int bad = found && ((buf_add(when, w ? w : "", wl) | buf_add(detail, d ? d : "", dl)) != 0);
    sqlite3_reset(s);
    store_invariants(st);
    if (!found && rc != SQLITE_DONE)
        return store_sqlerr(st, e, "reading the events");
    if (bad)
        return err_set(e, "internal", "a start event does not fit its buffer");
    return found;
}

int store_get_decision(store *st, const char *decision_id, buf *out, err *e)
{
    store_invariants(st);
    sqlite3_stmt *s = st->q[Q_GET_DECISION];
    int ret = -1;
    bind_str(s, 1, decision_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        size_t len;
        const char *j = store_col_text(s, 0, &len);
        if (buf_add(out, j, len) == 0)
            ret = 0;
        else
            err_set(e, "internal", "decision %s does not fit the reply buffer", decision_id);
    } else if (rc == SQLITE_DONE) {
        store_no_decision(st, decision_id, e);
    } else {
        store_sqlerr(st, e, "reading a decision");
    }
    sqlite3_reset(s);
    store_invariants(st);
    return ret;
}

/* ,"client_uid":U,"client_pid":P,"record":N} from columns COL to COL + 2 of
 * S (null for an SQL NULL), closing the object; without the first comma when
 * FIRST (an empty object). */
static int store_add_client(buf *out, sqlite3_stmt *s, int col, int first)
{
    int rc = 0;
    for (int k = 0; k < 2; k++) {
        rc |= buf_adds(out, k ? ",\"client_pid\":" : first ? "\"client_uid\":"
                                                       : ",\"client_uid\":");
        if (sqlite3_column_type(s, col + k) == SQLITE_NULL)
            rc |= buf_adds(out, "null");
        else
            rc |= buf_printf(out, "%lld", (long long)sqlite3_column_int64(s, col + k));
    }
    rc |= buf_printf(out, ",\"record\":%lld}", (long long)sqlite3_column_int64(s, col + 2)) < 0;
    return rc ? -1 : 0;
}

/* Append the reviews of DECISION_ID, as a JSON array, to OUT; with CLIENT,
 * each review object with its client's uid and pid (columns hashed with it,
 * not in its JSON) and its row's seq, "record" (its place in the chain,
 * whatever its JSON says), added at its end.  Statement Q_REVIEWS_OF only; the
 * caller checks invariants and resets nothing. */
static int store_reviews_into(store *st, const char *decision_id, int client, buf *out,
                              err *e)
{
    sqlite3_stmt *s = st->q[Q_REVIEWS_OF];
    int rc, first = 1;
    bind_str(s, 1, decision_id);
    if (buf_addc(out, '[') != 0)
        goto toolong;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        size_t len;
        const char *j = store_col_text(s, 0, &len);
        if (!first && buf_addc(out, ',') != 0)
            goto toolong;
        first = 0;
        if (!client) {
            if (buf_add(out, j ? j : "null", j ? len : 4) != 0)
                goto toolong;
            continue;
        }
        /* An audit reads what the file holds: a review whose stored text is
         * no JSON object (altered) is shown as that text, so that the array
         * still parses and the review is still counted, marked, in its place. */
        cJSON *v = j ? cJSON_ParseWithLength(j, len) : NULL;
        int object = cJSON_IsObject(v);
        cJSON_Delete(v);
        if (!object) {
            if (buf_adds(out, "{\"stored\":") != 0 ||
                buf_add_json_string(out, j ? j : "", j ? len : 0) != 0 ||
                store_add_client(out, s, 1, 0) != 0)
                goto toolong;
            continue;
        }
        /* Its members, if any, end before its closing brace, the last byte
         * but white space ("{}" stored gets no comma before its first). */
        size_t body = len;
        while (strchr(" \t\n\r", j[body - 1]))
            body--;
        do
            body--;
        while (body > 0 && strchr(" \t\n\r", j[body - 1]));
        if (buf_add(out, j, body) != 0 ||
            store_add_client(out, s, 1, body > 0 && j[body - 1] == '{') != 0)
            goto toolong;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_sqlerr(st, e, "reading reviews");
    if (buf_addc(out, ']') != 0)
        return err_set(e, "internal", "the reviews of %s do not fit the reply buffer",
                       decision_id);
    return 0;
toolong:
    sqlite3_reset(s);
    return err_set(e, "internal", "the reviews of %s do not fit the reply buffer", decision_id);
}

/* store_reviews and store_reviews_client. */
static int store_reviews_of(store *st, const char *decision_id, int client, buf *out, err *e)
{
    store_invariants(st);
    size_t start = out->len;
    if (store_guard(st, e) != 0)
        return -1;
    int rc = store_reviews_into(st, decision_id, client, out, e);
    store_unguard(st);
    if (rc != 0) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    store_invariants(st);
    return rc;
}

int store_reviews(store *st, const char *decision_id, buf *out, err *e)
{
    return store_reviews_of(st, decision_id, 0, out, e);
}

int store_reviews_client(store *st, const char *decision_id, buf *out, err *e)
{
    return store_reviews_of(st, decision_id, 1, out, e);
}

/* Each decision's JSON object gets a "reviews" member spliced in before its
 * closing brace; the stored text itself is never changed.  Decisions and
 * reviews are read in one read transaction, so a review committed meanwhile
 * is either seen with its decision or not at all. */
int store_history(store *st, const char *applicant_id, long limit, buf *out, err *e)
{
    store_invariants(st);
    sqlite3_stmt *s = st->q[Q_HISTORY];
    size_t start = out->len;
    int rc, first = 1;
    if (store_begin_read(st, e) != 0)
        return -1;
    bind_str(s, 1, applicant_id);
    sqlite3_bind_int64(s, 2, limit > 0 ? (sqlite3_int64)limit : -1);   /* -1: no limit */
    if (buf_addc(out, '[') != 0)
        goto toolong;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        size_t len, idlen;
        const char *j = store_col_text(s, 0, &len);
        const char *id = store_col_text(s, 1, &idlen);
        if (!first && buf_addc(out, ',') != 0)
            goto toolong;
        first = 0;
        if (!j || len < 2 || j[len - 1] != '}') {   /* not an object: as stored */
            if (buf_add(out, j ? j : "null", j ? len : 4) != 0)
                goto toolong;
            continue;
        }
        if (buf_add(out, j, len - 1) != 0 || buf_adds(out, len > 2 ? ",\"reviews\":" :
                                                      "\"reviews\":") != 0)
            goto toolong;
        if (store_reviews_into(st, id ? id : "", 0, out, e) != 0) {
            sqlite3_reset(s);
            goto fail;
        }
        if (buf_addc(out, '}') != 0)
            goto toolong;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        store_sqlerr(st, e, "reading a history");
        goto fail;
    }
    if (buf_addc(out, ']') != 0)
        goto toolong;
    store_step_done(st->q[Q_COMMIT]);
    store_invariants(st);
    return 0;
toolong:
    sqlite3_reset(s);
    err_set(e, "internal", "the history of %s does not fit the reply buffer", applicant_id);
fail:
    store_step_done(st->q[Q_COMMIT]);
    out->len = start;
    if (out->data)
        out->data[start] = '\0';
    store_invariants(st);
    return -1;
}

/* Records are numbered 1, 2, 3, ... without gaps across both kinds
 * (invariant 4) and reviews also 1, 2, 3, ... among themselves (column n),
 * so the counts are the highest seq and the highest n: three B-tree
 * descents, where count(*) would read a whole index (a tenth of a second at
 * five million rows, on every health request).  *TOTAL gets the number of
 * records, *REVIEWS the number of reviews. */
static int store_tally(store *st, int64_t *total, int64_t *reviews)
{
    sqlite3_stmt *s = st->q[Q_TALLY];
    int ok = sqlite3_step(s) == SQLITE_ROW;
    *total = ok ? sqlite3_column_int64(s, 0) : -1;
    *reviews = ok ? sqlite3_column_int64(s, 1) : -1;
    sqlite3_reset(s);
    return ok ? 0 : -1;
}

/* store_tally on its own: -1 when it fails. */
static int store_tally_alone(store *st, int64_t *total, int64_t *reviews)
{
    err e = {0};
    if (store_guard(st, &e) != 0)
        return -1;
    int rc = store_tally(st, total, reviews);
    store_unguard(st);
    return rc;
}

int64_t store_count(store *st)
{
    store_invariants(st);
    int64_t total, reviews;
    int64_t n = store_tally_alone(st, &total, &reviews) == 0 ? total - reviews : -1;
    store_invariants(st);
    return n;
}

int64_t store_count_reviews(store *st)
{
    store_invariants(st);
    int64_t total, reviews;
    if (store_tally_alone(st, &total, &reviews) != 0)
        reviews = -1;
    store_invariants(st);
    return reviews;
}

/* ---- Backup ---------------------------------------------------------------- */

void store_remove_files(const char *path)
{
    static const char *const beside[] = {"-journal", "-wal", "-shm"};
    char p[4200];
    unlink(path);
    for (size_t i = 0; i < sizeof beside / sizeof beside[0]; i++) {
        snprintf(p, sizeof p, "%s%s", path, beside[i]);
        unlink(p);
    }
}

int store_backup(store *st, const char *path, long *pages, err *e)
{
    char tmp[4096], dir[4096];
    *pages = 0;
    if (snprintf(tmp, sizeof tmp, "%s.partial", path) >= (int)sizeof tmp)
        return err_set(e, "invalid_request", "the path %s is too long", path);
    struct stat sb;
    if (lstat(path, &sb) == 0)   /* a dangling link too: link() would not write through it */
        return err_set(e, "invalid_request", "%s exists%s: a backup never overwrites a file", path,
                       S_ISLNK(sb.st_mode) && stat(path, &sb) != 0
                           ? " as a symbolic link to nothing"
                           : S_ISDIR(sb.st_mode) ? " and is a directory (give the copy's file name)"
                                                 : "");
    /* Claimed with O_EXCL: two backups to one name cannot mix their pages. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        int error = errno;
        char why[600] = ": ";
        if (error == EACCES || error == EROFS)
            err_denied(tmp, 1, why + 2, sizeof why - 2);
        return err_set(e, "invalid_request", "cannot create %s: %s%s%s", tmp, strerror(error),
                       error == EEXIST ? " (another backup to it under way, or a dead one's: "
                                         "remove it, and its -journal, if none is running)" : "",
                       why[2] ? why : "");
    }
    close(fd);

    sqlite3 *dst = NULL;
    sqlite3_backup *b = NULL;
    int rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(dst, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
    if (rc == SQLITE_OK && (b = sqlite3_backup_init(dst, "main", st->db, "main")) == NULL)
        rc = sqlite3_errcode(dst);
    if (b) {
        /* Every page in one step: one read transaction on the source, so the
         * copy is the database as of one moment, whoever writes meanwhile. */
        rc = sqlite3_backup_step(b, -1);
        *pages = sqlite3_backup_pagecount(b);
        if (sqlite3_backup_finish(b) != SQLITE_OK && rc == SQLITE_DONE)
            rc = sqlite3_errcode(dst);
    }
    /* One self-contained file: out of WAL mode, so that reading the copy
     * (read-only) leaves no -wal and -shm files beside it.  A server that
     * opens it puts it back in WAL mode. */
    if (rc == SQLITE_DONE)
        rc = sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
    if (rc != SQLITE_DONE && rc != SQLITE_OK) {
        err_set(e, "internal", "copying into %s: %s (the partial copy is removed)", tmp,
                dst ? sqlite3_errmsg(dst) : sqlite3_errstr(rc));
        sqlite3_close(dst);
        store_remove_files(tmp);
        return -1;
    }
    if (sqlite3_close(dst) != SQLITE_OK) {
        store_remove_files(tmp);
        return err_set(e, "internal", "closing %s", tmp);
    }
    /* Durable under its final name only once all of it is on disk.  link,
     * not rename: it fails, rather than replaces, if PATH was made meanwhile. */
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    if (file_sync(tmp, 0) != 0 || link(tmp, path) != 0) {
        err_set(e, errno == EEXIST ? "invalid_request" : "internal", "writing %s: %s%s", path,
                strerror(errno), errno == EEXIST ? " (made while the copy was being written)" : "");
        store_remove_files(tmp);
        return -1;
    }
    unlink(tmp);
    if (file_sync(dir, 1) != 0)
        return err_set(e, "internal", "%s is written, but its directory %s could not be synced: "
                       "%s", path, dir, strerror(errno));
    return 0;
}

/* ---- Reading for audits --------------------------------------------------- */

/* These statements depend on the filter, so they are prepared per call and
 * finalized before returning: audits are offline and run a few queries, not
 * thousands per second.  Values are always bound, never pasted into SQL. */
#define STORE_SQL_CAP 4096

/* The rows an audit reads: a decision, its application (LEFT JOIN, so a
 * decision whose application row went missing is still listed) and its
 * latest review, if any (found by the index on reviews' decision_id). */
enum {
    QR_SEQ, QR_DECISION_ID, QR_PROGRAM, QR_PROGRAM_VERSION, QR_OUTCOME, QR_APPLICANT_ID,
    QR_AS_OF, QR_DECIDED_AT, QR_RULESET, QR_DECISION, QR_REQUEST, QR_REQUEST_KEY,
    QR_RECEIVED_AT, QR_CLIENT_UID, QR_CLIENT_PID, QR_REVIEW_ACTION, QR_REVIEW_OUTCOME,
    QR_OVERRIDDEN_TO
};
static const char store_row_cols[] =
    "SELECT d.seq, d.decision_id, d.program, d.program_version, d.outcome,"
    " d.applicant_id, d.as_of, d.decided_at, d.ruleset, d.decision,"
    " a.request, a.request_key, a.received_at, a.client_uid, a.client_pid,"
    " rv.action, rv.outcome, ov.outcome"
    " FROM decisions d LEFT JOIN applications a ON a.id = d.application"
    " LEFT JOIN reviews rv ON rv.seq = (SELECT max(seq) FROM reviews"
    "                                   WHERE decision_id = d.decision_id)"
    " LEFT JOIN reviews ov ON ov.seq = (SELECT max(seq) FROM reviews"
    "                                   WHERE decision_id = d.decision_id AND action = 'override')";

/* Append F's conditions on the decisions table "d" as a WHERE clause with
 * named parameters (store_bind_filter binds them).  AFTER_SEQ > 0 adds the
 * cursor condition. */
static int store_where(buf *sql, const store_filter *f, int64_t after_seq)
{
    const char *col = f->by_as_of ? "d.as_of" : "d.decided_at";
    int n = 0, rc = 0;
#define STORE_COND(...) \
    (rc |= buf_adds(sql, n++ ? " AND " : " WHERE "), rc |= buf_printf(sql, __VA_ARGS__))
    if (f->decision_id)
        STORE_COND("d.decision_id = :id");
    if (f->applicant)   /* through the applicant index's two levels */
        STORE_COND("%s", STORE_APPLICANT_IN(":applicant"));
    if (f->program)
        STORE_COND("d.program = :program");
    if (f->outcome)
        STORE_COND("d.outcome = :outcome");
    if (f->ruleset)
        STORE_COND("substr(d.ruleset, 1, length(:ruleset)) = :ruleset");
    if (f->since)
        STORE_COND("%s >= :since", col);
    /* '~' sorts after every character of a date or time, so "2025-03-31~"
     * is above every time on that day: UNTIL is inclusive. */
    if (f->until)
        STORE_COND("%s <= :until || '~'", col);
    if (after_seq > 0)
        STORE_COND("d.seq %c :after", f->oldest_first ? '>' : '<');
#undef STORE_COND
    return rc ? -1 : 0;
}

static void store_bind_named(sqlite3_stmt *s, const char *name, const char *v)
{
    int i = sqlite3_bind_parameter_index(s, name);
    if (i > 0 && v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
}

static void store_bind_filter(sqlite3_stmt *s, const store_filter *f, int64_t after_seq)
{
    store_bind_named(s, ":id", f->decision_id);
    store_bind_named(s, ":applicant", f->applicant);
    store_bind_named(s, ":program", f->program);
    store_bind_named(s, ":outcome", f->outcome);
    store_bind_named(s, ":ruleset", f->ruleset);
    store_bind_named(s, ":since", f->since);
    store_bind_named(s, ":until", f->until);
    int i = sqlite3_bind_parameter_index(s, ":after");
    if (i > 0)
        sqlite3_bind_int64(s, i, after_seq);
    if ((i = sqlite3_bind_parameter_index(s, ":limit")) > 0)
        sqlite3_bind_int64(s, i, f->limit > 0 ? f->limit : -1);   /* -1: no limit */
    if ((i = sqlite3_bind_parameter_index(s, ":offset")) > 0)
        sqlite3_bind_int64(s, i, f->offset > 0 ? f->offset : 0);
}

static int store_prepare(store *st, const buf *sql, sqlite3_stmt **s, err *e)
{
    if (sqlite3_prepare_v2(st->db, sql->data, (int)sql->len, s, NULL) != SQLITE_OK) {
        store_sqlerr(st, e, "preparing an audit query");
        sqlite3_finalize(*s);
        *s = NULL;
        return -1;
    }
    return 0;
}

/* The seq of decision ID inside the read transaction: 0 with E "not_found". */
static int store_seq_of(store *st, const char *id, int64_t *seq, err *e)
{
    sqlite3_stmt *s = st->q[Q_DEC_SEQ];
    int ret = -1, rc;
    bind_str(s, 1, id);
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        *seq = sqlite3_column_int64(s, 0);
        ret = 0;
    } else if (rc == SQLITE_DONE) {
        store_no_decision(st, id, e);
    } else {
        store_sqlerr(st, e, "looking a decision up");
    }
    sqlite3_reset(s);
    return ret;
}

int store_decision_seqs(store *st, const char *const *ids, size_t n, int64_t *seqs, err *e)
{
    store_invariants(st);
    if (store_begin_read(st, e) != 0)   /* one snapshot, and one lock, for all */
        return -1;
    sqlite3_stmt *s = st->q[Q_DEC_SEQ];
    int ret = 0;
    for (size_t i = 0; i < n && ret == 0; i++) {
        bind_str(s, 1, ids[i]);
        int rc = sqlite3_step(s);
        seqs[i] = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            ret = store_sqlerr(st, e, "looking decisions up");
        sqlite3_reset(s);
    }
    store_step_done(st->q[Q_COMMIT]);
    store_invariants(st);
    return ret;
}

static int64_t col_int_or(sqlite3_stmt *s, int i, int64_t dflt)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? dflt : sqlite3_column_int64(s, i);
}

int store_each(store *st, const store_filter *f, store_row_fn *fn, void *ud, err *e)
{
    store_invariants(st);
    static const store_filter none = {0};
    sqlite3_stmt *s = NULL;
    int64_t after_seq = 0;
    int ret = -1, rc;
    buf sql;
    buf_init(&sql, STORE_SQL_CAP);
    if (!f)
        f = &none;

    if (!st->holding && store_begin_read(st, e) != 0)
        goto out;
    if (f->after && store_seq_of(st, f->after, &after_seq, e) != 0)
        goto end;
    if (buf_adds(&sql, store_row_cols) != 0 || store_where(&sql, f, after_seq) != 0 ||
        buf_printf(&sql, " ORDER BY d.seq %s LIMIT :limit OFFSET :offset",
                   f->oldest_first ? "ASC" : "DESC") != 0) {
        err_set(e, "internal", "an audit query is too long");
        goto end;
    }
    if (store_prepare(st, &sql, &s, e) != 0)
        goto end;
    store_bind_filter(s, f, after_seq);
    ret = 0;
    while (ret == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        size_t len;
        store_row r = {
            .seq = sqlite3_column_int64(s, QR_SEQ),
            .decision_id = store_col_text(s, QR_DECISION_ID, &len),
            .program = store_col_text(s, QR_PROGRAM, &len),
            .program_version = store_col_text(s, QR_PROGRAM_VERSION, &len),
            .outcome = store_col_text(s, QR_OUTCOME, &len),
            .applicant_id = store_col_text(s, QR_APPLICANT_ID, &len),
            .as_of = store_col_text(s, QR_AS_OF, &len),
            .decided_at = store_col_text(s, QR_DECIDED_AT, &len),
            .ruleset = store_col_text(s, QR_RULESET, &len),
            .request_key = store_col_text(s, QR_REQUEST_KEY, &len),
            .received_at = store_col_text(s, QR_RECEIVED_AT, &len),
            .client_uid = col_int_or(s, QR_CLIENT_UID, -1),
            .client_pid = col_int_or(s, QR_CLIENT_PID, -1),
            .review_action = store_col_text(s, QR_REVIEW_ACTION, &len),
            .review_outcome = store_col_text(s, QR_REVIEW_OUTCOME, &len),
            .overridden_to = store_col_text(s, QR_OVERRIDDEN_TO, &len),
        };
        r.json = store_col_text(s, QR_DECISION, &r.json_len);
        r.request = store_col_text(s, QR_REQUEST, &r.request_len);
        ret = fn(ud, &r);
    }
    if (ret == 0 && rc != SQLITE_DONE) {
        store_sqlerr(st, e, "reading decisions");
        ret = -1;
    }
end:
    sqlite3_finalize(s);
    if (!st->holding)
        store_step_done(st->q[Q_COMMIT]);   /* ends the read transaction */
out:
    buf_free(&sql);
    store_invariants(st);
    return ret;
}

int store_hold(store *st, err *e)
{
    if (store_begin_read(st, e) != 0)
        return -1;
    st->holding = 1;
    return 0;
}

void store_release(store *st)
{
    if (!st->holding)
        return;
    st->holding = 0;
    store_step_done(st->q[Q_COMMIT]);
}

/* Counts how many rows FN saw, for store_application_of. */
typedef struct store_one {
    store_row_fn *fn;
    void *ud;
    int seen;
} store_one;

static int store_one_row(void *ud, const store_row *r)
{
    store_one *o = ud;
    o->seen++;
    return o->fn(o->ud, r);
}

int store_application_of(store *st, const char *decision_id, store_row_fn *fn, void *ud,
                         err *e)
{
    store_filter f = {.decision_id = decision_id, .limit = 1};
    store_one o = {fn, ud, 0};
    int rc = store_each(st, &f, store_one_row, &o, e);
    if (rc == 0 && !o.seen)
        return store_no_decision(st, decision_id, e);
    return rc;
}

/* One counting query of store_stats: HEAD, the filter's WHERE, TAIL; ROW is
 * called for each result row with CTX. */
typedef struct stats_ctx {
    store_month_fn *by_month;
    store_failing_fn *failing;
    void *ud;
} stats_ctx;

static void stats_month_row(sqlite3_stmt *s, const stats_ctx *c)
{
    size_t len;
    c->by_month(c->ud, store_col_text(s, 0, &len), store_col_text(s, 1, &len),
                store_col_text(s, 2, &len), sqlite3_column_int64(s, 3));
}

static void stats_failing_row(sqlite3_stmt *s, const stats_ctx *c)
{
    size_t len;
    c->failing(c->ud, store_col_text(s, 0, &len), store_col_text(s, 1, &len),
               sqlite3_column_int64(s, 2), sqlite3_column_int64(s, 3), sqlite3_column_int64(s, 4));
}

static int store_stats_query(store *st, buf *sql, const char *head, const char *tail,
                             const store_filter *w,
                             void (*row)(sqlite3_stmt *, const stats_ctx *),
                             const stats_ctx *c, const char *what, err *e)
{
    sqlite3_stmt *s = NULL;
    buf_reset(sql);
    if (buf_adds(sql, head) != 0 || store_where(sql, w, 0) != 0 || buf_adds(sql, tail) != 0)
        return err_set(e, "internal", "an audit query is too long");
    if (store_prepare(st, sql, &s, e) != 0)
        return -1;
    store_bind_filter(s, w, 0);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        row(s, c);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return store_sqlerr(st, e, what);
    return 0;
}

/* The counts failed on a decision whose JSON does not parse, maybe: name the
 * first such one in E, for an answer that says where, not only what. */
static void store_stats_unreadable(store *st, buf *sql, const store_filter *w, err *e)
{
    sqlite3_stmt *s = NULL;
    err ignored;
    buf_reset(sql);
    if (buf_adds(sql, "SELECT seq, decision_id FROM (SELECT d.seq, d.decision_id, d.decision"
                      " FROM decisions d") != 0 ||
        store_where(sql, w, 0) != 0 ||
        buf_adds(sql, ") WHERE NOT json_valid(decision) ORDER BY seq LIMIT 1") != 0 ||
        store_prepare(st, sql, &s, &ignored) != 0)
        return;
    store_bind_filter(s, w, 0);
    if (sqlite3_step(s) == SQLITE_ROW) {
        size_t len;
        const char *id = store_col_text(s, 1, &len);
        err_set(e, "internal", "decision %lld (%s) holds JSON that does not parse, so its "
                "criteria cannot be counted: the file was changed or damaged; eligo verify --db "
                "%s says more", (long long)sqlite3_column_int64(s, 0), id ? id : "?", st->path);
    }
    sqlite3_finalize(s);
}

int store_stats(store *st, const store_filter *f, store_month_fn *by_month,
                store_failing_fn *failing, void *ud, err *e)
{
    store_invariants(st);
    static const store_filter none = {0};
    int ret = -1;
    buf sql;
    buf_init(&sql, STORE_SQL_CAP);
    if (!f)
        f = &none;
    /* The cursor, order and paging do not apply to counts. */
    store_filter w = *f;
    w.after = NULL;
    w.limit = w.offset = 0;
    stats_ctx c = {by_month, failing, ud};

    if (store_begin_read(st, e) != 0)
        goto out;
    if (by_month &&
        store_stats_query(st, &sql,
                          w.by_as_of ? "SELECT d.program, substr(d.as_of, 1, 7), d.outcome, count(*)"
                                       " FROM decisions d"
                                     : "SELECT d.program, substr(d.decided_at, 1, 7), d.outcome,"
                                       " count(*) FROM decisions d",
                          " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3", &w, stats_month_row, &c,
                          "counting decisions", e) != 0)
        goto end;
    /* Each decision's JSON lists every criterion with "passed" true, false,
     * or null when data was missing (see the README), each criterion once, so
     * count(*) per (programme, criterion) is the number of decisions that
     * evaluated it.  (A join with per-programme totals instead made this
     * three times slower: 15 s against 4.5 s over 200,000 decisions.) */
    if (failing &&
        store_stats_query(st, &sql,
                          "SELECT d.program, json_extract(c.value, '$.id'),"
                          " sum(json_type(c.value, '$.passed') = 'false'),"
                          " sum(json_type(c.value, '$.passed') = 'null'), count(*)"
                          " FROM decisions d JOIN json_each(d.decision, '$.criteria') AS c",
                          " GROUP BY 1, 2 ORDER BY 1, 3 DESC, 4 DESC, 2", &w, stats_failing_row,
                          &c, "counting failed criteria", e) != 0) {
        store_stats_unreadable(st, &sql, &w, e);
        goto end;
    }
    ret = 0;
end:
    store_step_done(st->q[Q_COMMIT]);
out:
    buf_free(&sql);
    store_invariants(st);
    return ret;
}

/* ---- An applicant's earlier decisions (history-aware rules) -------------- */

/* Append NAME:"value" (or null), preceded by a comma unless FIRST. */
static int store_json_member(buf *out, const char *name, const char *v, size_t len, int first)
{
    if ((!first && buf_addc(out, ',') != 0) || buf_addc(out, '"') != 0 ||
        buf_adds(out, name) != 0 || buf_add(out, "\":", 2) != 0)
        return -1;
    return v ? buf_add_json_string(out, v, len) : buf_add(out, "null", 4);
}

int store_other_writer(store *st)
{
    int seen = st->other_writer;
    st->other_writer = 0;
    return seen;
}

int store_other_review(store *st)
{
    int seen = st->other_review;
    st->other_review = 0;
    return seen;
}

int store_decision_applicant(store *st, const char *decision_id, buf *out, err *e)
{
    store_invariants(st);
    sqlite3_stmt *s = st->q[Q_DEC_APPLICANT];
    bind_str(s, 1, decision_id);
    int rc = sqlite3_step(s), found = 0;
    if (rc == SQLITE_ROW) {
        size_t len;
        const char *id = store_col_text(s, 0, &len);
        found = id != NULL;
        if (id && buf_add(out, id, len) != 0)
            rc = SQLITE_NOMEM;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        store_invariants(st);
        return rc == SQLITE_NOMEM ? err_set(e, "internal", "out of memory")
                                  : store_sqlerr(st, e, "reading a decision's applicant");
    }
    store_invariants(st);
    return found;
}

int store_program_decided(store *st, const char *program, err *e)
{
    sqlite3_stmt *s;
    store_invariants(st);
    if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM decisions WHERE program = ?1 LIMIT 1", -1, &s,
                           NULL) != SQLITE_OK)
        return store_sqlerr(st, e, "reading the programmes");
    bind_str(s, 1, program);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    store_invariants(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : store_sqlerr(st, e, "reading the programmes");
}

int store_programs(store *st, buf *out, err *e)
{
    sqlite3_stmt *s;
    store_invariants(st);
    /* One descent of the programme index per programme, not a walk of it. */
    if (sqlite3_prepare_v2(st->db, "WITH RECURSIVE p(x) AS (SELECT min(program) FROM decisions"
                           " UNION ALL SELECT (SELECT min(program) FROM decisions WHERE program > x)"
                           " FROM p WHERE x IS NOT NULL) SELECT x FROM p WHERE x IS NOT NULL",
                           -1, &s, NULL) != SQLITE_OK)
        return store_sqlerr(st, e, "reading the programmes");
    int rc, n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        size_t len;
        const char *x = store_col_text(s, 0, &len);
        if ((n && buf_add(out, ", ", 2) != 0) || buf_add(out, x, len) != 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        n++;
    }
    sqlite3_finalize(s);
    store_invariants(st);
    if (rc == SQLITE_NOMEM)
        return err_set(e, "internal", "out of memory");
    return rc == SQLITE_DONE ? n : store_sqlerr(st, e, "reading the programmes");
}

int store_each_applicant(store *st, int (*fn)(void *ud, const char *id), void *ud, err *e)
{
    sqlite3_stmt *s;
    store_invariants(st);
    if (sqlite3_prepare_v2(st->db, "SELECT applicant_id FROM applicant_index UNION"
                           " SELECT applicant_id FROM applicant_recent", -1, &s, NULL) != SQLITE_OK)
        return store_sqlerr(st, e, "reading the applicants");
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW)
        stop = fn(ud, (const char *)sqlite3_column_text(s, 0));
    if (!stop && rc != SQLITE_DONE)
        store_sqlerr(st, e, "reading the applicants");
    sqlite3_finalize(s);
    store_invariants(st);
    return stop ? stop : rc == SQLITE_DONE ? 0 : -1;
}

int store_history_row(buf *out, const char *const f[7], const size_t len[7])
{
    static const char *const names[] = {"decision_id", "program", "program_version",
                                        "outcome", "as_of", "decided_at"};
    /* Where the decision stands: an override's outcome, its own beside it. */
    int moved = f[6] && f[3] && (len[6] != len[3] || memcmp(f[6], f[3], len[3]) != 0);
    if (buf_addc(out, '{') != 0)
        return -1;
    for (int i = 0; i < 6; i++) {
        int k = i == 3 && moved ? 6 : i;
        if (store_json_member(out, names[i], f[k], len[k], i == 0) != 0 ||
            (k == 6 && store_json_member(out, "decision_outcome", f[3], len[3], 0) != 0))
            return -1;
    }
    return buf_addc(out, '}');
}

long store_applicant_decisions(store *st, const char *applicant_id, int64_t before_seq,
                               long limit, buf *out, int64_t *newest, err *e)
{
    store_invariants(st);
    sqlite3_stmt *s = st->q[Q_APPLICANT_ROWS];
    size_t start = out->len;
    int rc, first = 1;
    long went = 0;   /* through the applicant's decisions */
    if (newest)
        *newest = 0;
    if (store_guard(st, e) != 0)   /* reviews, the applicant index: stand-ins on old files */
        return -1;
    bind_str(s, 1, applicant_id);
    sqlite3_bind_int64(s, 2, before_seq > 0 ? (sqlite3_int64)before_seq : INT64_MAX);
    /* Among the newest LIMIT x STORE_HISTORY_SCAN, the newest LIMIT of each
     * programme (a programme decided often must not push another's rows out
     * of what a rule sees; one applicant's tens of thousands must not make
     * each read read them all).  Past PROGRAMS programmes, all are kept. */
    enum { PROGRAMS = 64 };
    size_t name_at[PROGRAMS], nprog = 0;   /* the names, whole, one after the other in */
    int64_t taken[PROGRAMS];
    buf names;                             /* NAMES, each with its NUL */
    buf_init(&names, (size_t)1 << 20);
    sqlite3_bind_int64(s, 3, limit > 0 ? (sqlite3_int64)limit * STORE_HISTORY_SCAN : -1);
    if (buf_addc(out, '[') != 0)
        goto toolong;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *f[7];
        size_t len[7];
        for (int i = 0; i < 7; i++)
            f[i] = store_col_text(s, i, &len[i]);
        went++;
        if (limit > 0 && f[1]) {
            size_t j = 0;
            while (j < nprog && strcmp(names.data + name_at[j], f[1]) != 0)
                j++;
            if (j == nprog && nprog < PROGRAMS) {
                name_at[nprog] = names.len;
                if (buf_add(&names, f[1], len[1] + 1) != 0)
                    goto toolong;
                taken[nprog++] = 0;
            }
            if (j < nprog && ++taken[j] > limit)
                continue;
        }
        if ((!first && buf_addc(out, ',') != 0) || store_history_row(out, f, len) != 0)
            goto toolong;
        if (first && newest)
            *newest = sqlite3_column_int64(s, 7);
        first = 0;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        store_sqlerr(st, e, "reading an applicant's decisions");
        goto fail;
    }
    if (buf_addc(out, ']') != 0)
        goto toolong;
    buf_free(&names);
    store_unguard(st);
    store_invariants(st);
    return went;
toolong:
    sqlite3_reset(s);
    err_set(e, "internal", "the decisions of %s do not fit the buffer", applicant_id);
fail:
    store_unguard(st);
    buf_free(&names);
    out->len = start;
    if (out->data)
        out->data[start] = '\0';
    if (newest)
        *newest = 0;
    store_invariants(st);
    return -1;
}

/* ---- Scanning applications (replay) --------------------------------------- */

/* A scan steps two statements of its own.  The first reads the selected
 * decisions in seq order; an application's decisions have consecutive seqs,
 * so they arrive together: the scan gathers rows while the application id
 * stays the same, and keeps the first row of the next application stepped
 * but unread (PENDING) for the next call.  The second reads the application
 * row, once per application (a join would read it again for each of a
 * screen's five decisions).  Both run in the one read transaction the first
 * statement holds open, so they see the same snapshot.  Row texts die at the
 * next step, so the gathered ones are copied into TEXT; pointers into it are
 * made only once the application is complete, as TEXT may move while it
 * grows. */

#define STORE_SCAN_TEXT_CAP ((size_t)256 << 20)
#define STORE_SCAN_MAX_DECISIONS 4096

/* Columns of the two scan statements. */
enum { SD_APP, SD_SEQ, SD_DECISION_ID, SD_PROGRAM, SD_OUTCOME, SD_DECISION };
enum {
    SA_REQUEST, SA_AS_OF, SA_RULESET, SA_APPLICANT_ID, SA_DECIDED_AT, SA_FIRST_SEQ,
    SA_NDECISIONS, SA_N
};

struct store_scan {
    store *st;
    sqlite3_stmt *s;                /* the decisions */
    sqlite3_stmt *app;              /* one application by id */
    int pending;                    /* a row of S is stepped and not yet gathered */
    int done;
    buf text;
    size_t off[SA_N];               /* the application's texts, as offsets */
    size_t *doff;                   /* per decision: 4 offsets (id, program, outcome, json) */
    store_scan_decision *dec;
    size_t alloc;
};

int store_scan_open(store *st, const store_scan_filter *f, store_scan **out, err *e)
{
    store_invariants(st);
    static const store_scan_filter none = {0};
    char sql[1024];
    int n = 0;
    const char *binds[5];
    int nb = 0;
    *out = NULL;
    if (!f)
        f = &none;
    n = snprintf(sql, sizeof sql,
                 "SELECT d.application, d.seq, d.decision_id, d.program, d.outcome, d.decision"
                 " FROM decisions d WHERE 1");
    /* Each filter adds a condition with the next parameter number. */
    if (f->program) {
        binds[nb++] = f->program;
        n += snprintf(sql + n, sizeof sql - (size_t)n, " AND d.program = ?%d", nb);
    }
    if (f->applicant_id) {
        binds[nb++] = f->applicant_id;
        n += snprintf(sql + n, sizeof sql - (size_t)n, " AND " STORE_APPLICANT_IN("?%d"), nb, nb);
    }
    const char *col = f->by_as_of ? "d.as_of" : "d.decided_at";
    if (f->since) {
        binds[nb++] = f->since;
        n += snprintf(sql + n, sizeof sql - (size_t)n,
                      " AND substr(%s, 1, length(?%d)) >= ?%d", col, nb, nb);
    }
    if (f->until) {
        binds[nb++] = f->until;
        n += snprintf(sql + n, sizeof sql - (size_t)n,
                      " AND substr(%s, 1, length(?%d)) <= ?%d", col, nb, nb);
    }
    if (f->ruleset) {   /* a prefix of the hash, as people copy them */
        binds[nb++] = f->ruleset;
        n += snprintf(sql + n, sizeof sql - (size_t)n,
                      " AND substr(d.ruleset, 1, length(?%d)) = ?%d", nb, nb);
    }
    snprintf(sql + n, sizeof sql - (size_t)n, " ORDER BY d.seq");

    store_scan *sc = calloc(1, sizeof *sc);
    if (!sc)
        return err_set(e, "internal", "out of memory");
    sc->st = st;
    buf_init(&sc->text, STORE_SCAN_TEXT_CAP);
    if (sqlite3_prepare_v2(st->db, sql, -1, &sc->s, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db,
                           "SELECT request, as_of, ruleset, applicant_id, decided_at, first_seq,"
                           " ndecisions FROM applications WHERE id = ?1",
                           -1, &sc->app, NULL) != SQLITE_OK) {
        store_sqlerr(st, e, "preparing the scan");
        sqlite3_finalize(sc->s);
        free(sc);
        return -1;
    }
    for (int i = 0; i < nb; i++)
        bind_str(sc->s, i + 1, binds[i]);
    *out = sc;
    return 0;
}

/* Copy column I of statement S into the scan's text; its offset, or
 * (size_t)-1 for an SQL NULL. */
static int store_scan_copy(store_scan *sc, sqlite3_stmt *s, int i, size_t *off)
{
    size_t len;
    const char *p = store_col_text(s, i, &len);
    if (!p) {
        *off = (size_t)-1;
        return 0;
    }
    *off = sc->text.len;
    return buf_add(&sc->text, p, len) != 0 || buf_addc(&sc->text, '\0') != 0 ? -1 : 0;
}

static const char *store_scan_str(const store_scan *sc, size_t off)
{
    return off == (size_t)-1 ? NULL : sc->text.data + off;
}

/* Read application ID into the scan's text and APP's numbers. */
static int store_scan_app_row(store_scan *sc, int64_t id, int64_t seq, store_scan_app *app,
                              err *e)
{
    sqlite3_stmt *s = sc->app;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
        if (rc == SQLITE_DONE)
            return err_set(e, "internal", "record %lld: its application row is missing "
                           "(eligo verify says more)", (long long)seq);
        return store_sqlerr(sc->st, e, "reading an application");
    }
    app->first_seq = sqlite3_column_int64(s, SA_FIRST_SEQ);
    app->ndecisions_stored = sqlite3_column_int64(s, SA_NDECISIONS);
    app->request_len = (size_t)sqlite3_column_bytes(s, SA_REQUEST);
    for (int i = SA_REQUEST; i <= SA_DECIDED_AT; i++)
        if (store_scan_copy(sc, s, i, &sc->off[i]) != 0) {
            sqlite3_reset(s);
            return err_set(e, "internal", "application %lld does not fit the scan buffer",
                           (long long)id);
        }
    sqlite3_reset(s);
    if (sc->off[SA_REQUEST] == (size_t)-1 || sc->off[SA_AS_OF] == (size_t)-1 ||
        sc->off[SA_RULESET] == (size_t)-1)
        return err_set(e, "internal", "application %lld lacks its request, as_of or rule set",
                       (long long)id);
    return 0;
}

int store_scan_next(store_scan *sc, store_scan_app *app, err *e)
{
    int rc;
    if (sc->done)
        return 0;
    if (!sc->pending) {
        rc = sqlite3_step(sc->s);
        if (rc == SQLITE_DONE) {
            sc->done = 1;
            return 0;
        }
        if (rc != SQLITE_ROW)
            return store_sqlerr(sc->st, e, "scanning the decisions");
    }
    sc->pending = 0;
    buf_reset(&sc->text);
    int64_t id = sqlite3_column_int64(sc->s, SD_APP);
    if (store_scan_app_row(sc, id, sqlite3_column_int64(sc->s, SD_SEQ), app, e) != 0)
        return -1;

    size_t nd = 0;
    for (;;) {
        if (nd == sc->alloc) {
            size_t na = sc->alloc ? 2 * sc->alloc : 8;
            if (na > STORE_SCAN_MAX_DECISIONS)
                return err_set(e, "internal", "application %lld has too many decisions",
                               (long long)id);
            size_t *no = realloc(sc->doff, na * 4 * sizeof *no);
            if (no)
                sc->doff = no;
            store_scan_decision *ndec = realloc(sc->dec, na * sizeof *ndec);
            if (ndec)
                sc->dec = ndec;
            if (!no || !ndec)
                return err_set(e, "internal", "out of memory");
            sc->alloc = na;
        }
        sc->dec[nd].seq = sqlite3_column_int64(sc->s, SD_SEQ);
        sc->dec[nd].json_len = (size_t)sqlite3_column_bytes(sc->s, SD_DECISION);
        if (store_scan_copy(sc, sc->s, SD_DECISION_ID, &sc->doff[4 * nd]) != 0 ||
            store_scan_copy(sc, sc->s, SD_PROGRAM, &sc->doff[4 * nd + 1]) != 0 ||
            store_scan_copy(sc, sc->s, SD_OUTCOME, &sc->doff[4 * nd + 2]) != 0 ||
            store_scan_copy(sc, sc->s, SD_DECISION, &sc->doff[4 * nd + 3]) != 0)
            return err_set(e, "internal", "application %lld does not fit the scan buffer",
                           (long long)id);
        nd++;
        rc = sqlite3_step(sc->s);
        if (rc == SQLITE_DONE) {
            sc->done = 1;
            break;
        }
        if (rc != SQLITE_ROW)
            return store_sqlerr(sc->st, e, "scanning the decisions");
        if (sqlite3_column_int64(sc->s, SD_APP) != id) {
            sc->pending = 1;
            break;
        }
    }

    /* TEXT is complete: now its addresses hold. */
    app->request = store_scan_str(sc, sc->off[SA_REQUEST]);
    app->as_of = store_scan_str(sc, sc->off[SA_AS_OF]);
    app->ruleset = store_scan_str(sc, sc->off[SA_RULESET]);
    app->applicant_id = store_scan_str(sc, sc->off[SA_APPLICANT_ID]);
    app->decided_at = store_scan_str(sc, sc->off[SA_DECIDED_AT]);
    for (size_t k = 0; k < nd; k++) {
        sc->dec[k].decision_id = store_scan_str(sc, sc->doff[4 * k]);
        sc->dec[k].program = store_scan_str(sc, sc->doff[4 * k + 1]);
        sc->dec[k].outcome = store_scan_str(sc, sc->doff[4 * k + 2]);
        sc->dec[k].json = store_scan_str(sc, sc->doff[4 * k + 3]);
    }
    app->decisions = sc->dec;
    app->ndecisions = nd;
    return 1;
}

void store_scan_close(store_scan *sc)
{
    if (!sc)
        return;
    sqlite3_finalize(sc->s);   /* ends the scan's read snapshot */
    sqlite3_finalize(sc->app);
    buf_free(&sc->text);
    free(sc->doff);
    free(sc->dec);
    free(sc);
}
