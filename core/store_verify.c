/*
 * store_verify.c -- proving that the store still holds what it appended: the
 * hash chain recomputed, checked against signed checkpoints, and the stored
 * rule sets checked against their keys.
 *
 * Why a file of the store, not a module of its own: verifying reads what
 * only the store knows -- its prepared statements, the columns of a record
 * in their canonical order, and the hashing store.c's appends use -- so a
 * verify_ module over store.h would need all of that exported to every
 * caller of the store.  It shares the handle's layout and those few helpers
 * through store_int.h instead (SQLite's sqliteInt.h is the model), and what
 * it exports stays in store.h, under the store_ prefix.
 *
 * Design notes
 * ------------
 * store_verify_chain reads the two record tables merged in seq order and
 * hashes each record again, its content as store.c's design notes define
 * it.  What the chain cannot show (a cut tail, a past rewritten and
 * rehashed) a signed checkpoint can: store_verify_chain takes checkpoints'
 * (seq, hash) pairs as anchors; with several, a rewrite is placed between
 * the last that holds and the first that does not.  Once the chain holds,
 * what it does not cover is checked in turn: the applications table
 * (verify_applications), ids that must name one record each
 * (verify_unique), the applicant index (verify_applicants) and the stored
 * rule sets no record names (verify_rulesets_unused).  Before a fault is
 * reported as a change to the records, SQLite checks the file itself
 * (verify_damaged): damage on disk can read as records altered.
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "hex.h"
#include "store_int.h"

#define STORE_PROGRESS_EVERY 100000

/* ---- Verifying ------------------------------------------------------------ */

/* The rule sets as verify found them: each stored set's files must still
 * hash to the set's key, or every record decided under it is reported. */
typedef struct rs_check {
    char hash[2 * STORE_HASH_LEN + 1];
    int damaged;
    char why[256];   /* how, when damaged: what store_load_ruleset said after "is damaged: " */
} rs_check;

/* Check every stored rule set; *OUT (n entries) is malloc'd.  Some sets over
 * the years, not millions: this runs once per verify, not per record. */
static int store_check_rulesets(store *st, rs_check **out, size_t *n, err *e)
{
    sqlite3_stmt *s = st->q[Q_RULESETS];
    rs_check *v = NULL;
    size_t len = 0, alloc = 0;
    int rc;
    *out = NULL;
    *n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (len == alloc) {
            size_t na = alloc ? 2 * alloc : 16;
            rs_check *nv = realloc(v, na * sizeof *nv);
            if (!nv) {
                sqlite3_reset(s);
                free(v);
                return err_set(e, "internal", "out of memory");
            }
            v = nv;
            alloc = na;
        }
        size_t hl;
        const char *h = store_col_text(s, 0, &hl);
        snprintf(v[len].hash, sizeof v[len].hash, "%s", h ? h : "");
        /* A key with a NUL in it would be read as its part before it. */
        v[len].damaged = !h || strlen(h) != hl || sqlite3_column_type(s, 0) != SQLITE_TEXT;
        snprintf(v[len].why, sizeof v[len].why, "%s",
                 v[len].damaged ? "its key is not stored as a text of hex digits" : "");
        len++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        free(v);
        return store_sqlerr(st, e, "listing the rule sets");
    }
    for (size_t i = 0; i < len; i++) {
        err why = {0};
        int damaged = 0;
        if (v[i].damaged)
            continue;
        ruleset *rs = store_load_ruleset(st, v[i].hash, &damaged, &why);
        if (!rs && !damaged) {
            free(v);
            return err_set(e, "internal", "%s", why.msg);
        }
        v[i].damaged = damaged;
        if (damaged) {   /* "stored rule set H is damaged: how": the how */
            const char *how = strstr(why.msg, " is damaged: ");
            snprintf(v[i].why, sizeof v[i].why, "%s",
                     how ? how + strlen(" is damaged: ")
                     : why.code && !strcmp(why.code, "not_found") ? "its files are not in the database"
                                                                  : why.msg);
        }
        ruleset_free(rs);
    }
    *out = v;
    *n = len;
    return 0;
}

/* Once the chain holds, a damaged set is one no record names (a record
 * that did would have failed): no decision rests on it, yet the stored rules
 * were changed, which is what verify is for.  0, or 1 with E ("ruleset")
 * and REP's bad_seq just past the chain's HEAD. */
static int verify_rulesets_unused(const rs_check *v, size_t n, int64_t head, store_report *rep,
                                  err *e)
{
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i].damaged && bad++ == 0)
            first = i;
    if (!bad)
        return 0;
    /* Every record holds, as for an orphan application: a reader that
     * places the fault by seq (audit show) must find it after them all. */
    rep->bad_seq = head + 1;
    err_set(e, "ruleset", "the stored rule set %s changed since it was stored (no record was "
            "decided under it): %s%s", *v[first].hash ? v[first].hash : "(with an empty or "
            "unreadable key)", v[first].why, bad > 1 ? "; and other stored rule sets changed too" : "");
    return 1;
}

/* The stored rule set HASH as verify found it, or NULL when not stored. */
static const rs_check *store_ruleset_state(const rs_check *v, size_t n, const char *hash)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].hash, hash) == 0)
            return &v[i];
    return NULL;
}

/* What the walk of the chain carries from one record to the next. */
typedef struct verify_ctx {
    int64_t app_id;                          /* the application last digested */
    int64_t app_upto;                        /* ... the last record it lists */
    int64_t last_seq;                        /* the last decision record met */
    int64_t apps;                            /* distinct applications met so far */
    int64_t with_applicant;                  /* decision records naming an applicant */
    char app_hex[2 * STORE_HASH_LEN + 1];
    char rs_ok[2 * STORE_HASH_LEN + 1];      /* the rule set last found intact */
    rs_check *sets;
    size_t nsets;
    char why[384];                           /* a message made for one record */
} verify_ctx;

/* The storage types eligo writes, column by column from FROM, as TYPES
 * spells them: T text, t text or NULL, I integer, i integer or NULL, B blob.
 * A hash covers a value's bytes, not its type: a text rewritten as a blob of
 * the same bytes hashes alike, yet a query by value no longer finds it.
 * Returns the first column that differs, or -1. */
static int verify_types(sqlite3_stmt *s, int from, const char *types, int *type)
{
    for (int i = 0; types[i]; i++) {
        int t = sqlite3_column_type(s, from + i), want = SQLITE_BLOB;
        char k = types[i];
        if ((k == 't' || k == 'i') && t == SQLITE_NULL)
            continue;
        if (k == 'T' || k == 't')
            want = SQLITE_TEXT;
        else if (k == 'I' || k == 'i')
            want = SQLITE_INTEGER;
        if (t != want)
            return *type = t, from + i;
    }
    return -1;
}

static const char *verify_type_name(int t)
{
    return t == SQLITE_TEXT ? "text" : t == SQLITE_INTEGER ? "an integer" :
           t == SQLITE_FLOAT ? "a real" : t == SQLITE_BLOB ? "a blob" : "NULL";
}

/* Why column COL of S's row, of the record (WHOSE: "" or "its application's "),
 * stored as TYPE, is not as eligo writes it. */
static const char *verify_type_why(verify_ctx *c, sqlite3_stmt *s, int col, int type,
                                   const char *whose)
{
    const char *name = sqlite3_column_name(s, col);
    if (!strcmp(name, "hash") || !strcmp(name, "prev_hash"))   /* the chain's own, not hashed */
        snprintf(c->why, sizeof c->why, "%scolumn %s is stored as %s, where eligo writes a "
                 "32-byte blob", whose, name, verify_type_name(type));
    else
        snprintf(c->why, sizeof c->why, "%scolumn %s is stored as %s, which eligo never writes "
                 "there: its bytes hash alike, but a query by value no longer finds it", whose,
                 name, verify_type_name(type));
    return c->why;
}

/* Whether a record row's prev_hash (column PCOL) is PREV, the hash of the
 * record before it, and its hash (column HCOL) is HASH, its content's: NULL,
 * or what is wrong, CHANGED for a hash that is not its content's. */
static const char *verify_hashes(sqlite3_stmt *s, int pcol, int hcol,
                                 const unsigned char prev[STORE_HASH_LEN],
                                 const unsigned char hash[STORE_HASH_LEN], const char *changed)
{
    const void *ph = sqlite3_column_blob(s, pcol);
    if (sqlite3_column_bytes(s, pcol) != STORE_HASH_LEN || memcmp(ph, prev, STORE_HASH_LEN) != 0)
        return "its prev_hash is not the hash of the record before it";
    const void *h = sqlite3_column_blob(s, hcol);
    if (sqlite3_column_bytes(s, hcol) != STORE_HASH_LEN || memcmp(h, hash, STORE_HASH_LEN) != 0)
        return changed;
    return NULL;
}

/* Check one decision row of Q_VERIFY (the current row of S), the next record
 * after N good ones whose last hash is PREV.  Returns NULL and the record's
 * hash in HASH when it matches, else why not; 1 in *FAILED when hashing
 * itself failed. */
static const char *verify_decision(store *st, sqlite3_stmt *s, verify_ctx *c, int64_t n,
                                   const unsigned char prev[STORE_HASH_LEN],
                                   unsigned char hash[STORE_HASH_LEN], int *failed)
{
    /* Types first: reading a value as text may convert it. */
    int type = 0, atype = 0;
    int col = verify_types(s, V_SEQ, "ITTtTtTTTTBBI", &type);   /* V_SEQ .. V_APP_ID */
    int acol = verify_types(s, V_APP_FIRST, "TtttTTTTiiII", &atype);   /* A_REQUEST .. */
    int64_t seq = sqlite3_column_int64(s, V_SEQ);
    rec_fields r;
    for (int f = V_SEQ; f <= V_DECISION; f++)
        r.f[f] = store_col_text(s, f, &r.len[f]);
    c->with_applicant += r.f[V_APPLICANT_ID] != NULL;

    /* Each test names what it found, for the person reading the report. */
    if (seq != n + 1)
        return "the records before it are missing";
    if (sqlite3_column_type(s, V_APP_FIRST + A_REQUEST) == SQLITE_NULL)
        return "its application row is missing";
    if (col >= 0)
        return verify_type_why(c, s, col, type, "");
    if (acol >= 0)
        return verify_type_why(c, s, acol, atype, "its application's ");
    int64_t id = sqlite3_column_int64(s, V_APP_ID);
    int64_t first = sqlite3_column_int64(s, V_APP_FIRST + A_FIRST_SEQ);
    /* An application's records are consecutive, from its first_seq on, as
     * many as it lists, and applications are numbered in the order of their
     * records: the column that links a record to its application is not
     * hashed, so that a record pointing at a copy of its application, or an
     * application met twice, could not otherwise be told. */
    if (id == c->app_id && seq > c->app_upto) {
        snprintf(c->why, sizeof c->why, "its application lists records %lld to %lld, not this "
                 "one", (long long)first, (long long)c->app_upto);
        return c->why;
    }
    if (id != c->app_id && c->app_id >= 0 && c->app_upto != c->last_seq) {
        snprintf(c->why, sizeof c->why, "it points to another application while the one "
                 "before it lists records up to %lld", (long long)c->app_upto);
        return c->why;
    }
    if (id != c->app_id && id <= c->app_id)
        return "its application comes before the previous record's: applications are "
               "numbered in the order of their records";
    if (id != c->app_id && seq != first) {
        snprintf(c->why, sizeof c->why, "its application's records begin at %lld, not here",
                 (long long)first);
        return c->why;
    }
    c->last_seq = seq;
    if (id != c->app_id) {
        c->apps++;
        c->app_upto = first + sqlite3_column_int64(s, V_APP_FIRST + A_NDECISIONS) - 1;
        /* A screen's five decisions are consecutive and share one
         * application, hashed once. */
        app_fields af;
        for (int f = 0; f < A_N; f++)
            af.f[f] = store_col_text(s, V_APP_FIRST + f, &af.len[f]);
        if (store_app_digest(st, &af, c->app_hex) != 0) {
            *failed = 1;
            return NULL;
        }
        c->app_id = id;
    }
    if (store_record_hash(st, prev, &r, c->app_hex, hash) != 0) {
        *failed = 1;
        return NULL;
    }
    const char *why = verify_hashes(s, V_PREV_HASH, V_HASH, prev, hash,
                                    "its content changed: a field of it or of its application is "
                                    "not what was hashed (or its hash column itself was changed)");
    if (why)
        return why;
    if (r.f[V_RULESET] && strcmp(r.f[V_RULESET], c->rs_ok) != 0) {
        const rs_check *rs = store_ruleset_state(c->sets, c->nsets, r.f[V_RULESET]);
        if (!rs)
            return "its rule set is not in the database";
        if (rs->damaged) {   /* which set, and what of it: an auditor looks there */
            snprintf(c->why, sizeof c->why, "the files of its rule set %.12s... changed since "
                     "they were stored: %s", rs->hash, rs->why);
            return c->why;
        }
        snprintf(c->rs_ok, sizeof c->rs_ok, "%s", r.f[V_RULESET]);
    }
    return NULL;
}

/* The same for one review row of Q_VERIFY_REVIEWS; NREV good reviews came
 * before it. */
static const char *verify_review(store *st, sqlite3_stmt *s, verify_ctx *c, int64_t n,
                                 int64_t nrev, const unsigned char prev[STORE_HASH_LEN],
                                 unsigned char hash[STORE_HASH_LEN], int *failed)
{
    int type = 0;
    int col = verify_types(s, R_SEQ, "IITTTtTTTiiTBB", &type);   /* R_SEQ .. R_HASH, before */
    review_fields r;                                       /* reading converts them */
    for (int f = R_SEQ; f <= R_REVIEW; f++)
        r.f[f] = store_col_text(s, f, &r.len[f]);
    if (sqlite3_column_int64(s, R_SEQ) != n + 1)
        return "the records before it are missing";
    if (col >= 0)
        return verify_type_why(c, s, col, type, "");
    if (sqlite3_column_int64(s, R_N) != nrev + 1) {
        snprintf(c->why, sizeof c->why, "its review number n is %lld where %lld comes next: "
                 "reviews were deleted or renumbered", (long long)sqlite3_column_int64(s, R_N),
                 (long long)(nrev + 1));
        return c->why;
    }
    if (store_review_hash(st, prev, &r, hash) != 0) {
        *failed = 1;
        return NULL;
    }
    return verify_hashes(s, R_PREV_HASH, R_HASH, prev, hash,
                         "its content changed: a field of the review is not what was hashed (or "
                         "its hash column itself was changed)");
}

/* Name the current row of S (a decision row, or a review row) in REP. */
static void verify_name(store_report *rep, sqlite3_stmt *s, int is_review)
{
    size_t len;
    const char *id = store_col_text(s, is_review ? R_REVIEW_ID : V_DECISION_ID, &len);
    rep->bad_seq = sqlite3_column_int64(s, is_review ? R_SEQ : V_SEQ);
    rep->bad_kind = is_review ? "review" : "decision";
    snprintf(rep->bad_id, sizeof rep->bad_id, "%s", id ? id : "");
    if (is_review) {
        const char *d = store_col_text(s, R_DECISION_ID, &len);
        snprintf(rep->bad_decision, sizeof rep->bad_decision, "%s", d ? d : "");
    }
}

static void verify_hex(const unsigned char *p, char out[2 * STORE_HASH_LEN + 1])
{
    hex_encode(p, STORE_HASH_LEN, out);
}

/* The applicant index holds one entry for each decision with an applicant,
 * and nothing else (see "The applicant index"): a decision left out would be
 * missing from the past that history-aware rules are given, and later
 * decisions would be made as if it had not been.  Not part of the chain, so
 * checked here: as many entries as the chain walk met decisions with an
 * applicant (C), each the entry of such a decision, none in both levels nor
 * twice in one; then no two entries name one decision (its seq), so the
 * entries are those decisions'.  Only on a mismatch are the decisions read again, to name one
 * left out.  Returns 0, 1 with E ("applicant_index"), or -1. */
static int verify_applicants(store *st, const verify_ctx *c, store_report *rep, err *e)
{
    static const char count_sql[] =
        "SELECT (SELECT count(*) FROM applicant_index) + (SELECT count(*) FROM applicant_recent)";
    /* An entry of no such decision, one in both levels, or one twice in a
     * level: each level's primary key forbids that, but a level rebuilt
     * without it could hold one decision's entry twice in place of
     * another's, and the count would still match.  Each level is grouped
     * in its key's order, one scan, no sort. */
    static const char extra_sql[] =
        "SELECT min(seq), applicant_id FROM (SELECT x.seq, x.applicant_id FROM"
        " (SELECT applicant_id, seq FROM applicant_index UNION ALL"
        "  SELECT applicant_id, seq FROM applicant_recent) x"
        " WHERE NOT EXISTS (SELECT 1 FROM decisions d WHERE d.seq = x.seq"
        "                   AND d.applicant_id = x.applicant_id)"
        " UNION ALL SELECT r.seq, r.applicant_id FROM applicant_recent r"
        " JOIN applicant_index i ON i.applicant_id = r.applicant_id AND i.seq = r.seq"
        " UNION ALL SELECT seq, applicant_id FROM applicant_index"
        "  GROUP BY applicant_id, seq HAVING count(*) > 1"
        " UNION ALL SELECT seq, applicant_id FROM applicant_recent"
        "  GROUP BY applicant_id, seq HAVING count(*) > 1)"
        " HAVING count(*) > 0";
    static const char missing_sql[] =   /* a decision with an applicant and no entry */
        "SELECT d.seq, d.decision_id FROM decisions d WHERE d.applicant_id IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM applicant_index i WHERE i.applicant_id = d.applicant_id"
        "                 AND i.seq = d.seq)"
        " AND NOT EXISTS (SELECT 1 FROM applicant_recent r WHERE r.applicant_id = d.applicant_id"
        "                 AND r.seq = d.seq) ORDER BY d.seq LIMIT 1";
    int64_t entries = 0;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db, count_sql, -1, &q, NULL) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW) {
        sqlite3_finalize(q);
        return store_sqlerr(st, e, "checking the applicant index");
    }
    entries = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    for (int k = 0; k < 2; k++) {
        if (k == 1 && entries == c->with_applicant)
            break;
        if (sqlite3_prepare_v2(st->db, k == 0 ? extra_sql : missing_sql, -1, &q, NULL) !=
            SQLITE_OK)
            return store_sqlerr(st, e, "checking the applicant index");
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            int64_t seq = sqlite3_column_int64(q, 0);
            const char *t = (const char *)sqlite3_column_text(q, 1);
            rep->bad_seq = seq;
            rep->bad_kind = "decision";
            snprintf(rep->bad_id, sizeof rep->bad_id, "%s", k == 1 && t ? t : "");
            if (k == 1)
                err_set(e, "applicant_index", "record %lld (decision %s) is not in the "
                        "applicant index: history-aware rules would not be given it",
                        (long long)seq, t ? t : "");
            else if (seq > rep->head_seq)
                err_set(e, "applicant_index", "the applicant index holds record %lld for "
                        "applicant %s, but the chain ends at record %lld: records were cut "
                        "off the end, or the entry was added", (long long)seq, t ? t : "",
                        (long long)rep->head_seq);
            else
                err_set(e, "applicant_index", "the applicant index holds record %lld for "
                        "applicant %s, which that record is not, or holds it twice",
                        (long long)seq, t ? t : "");
            sqlite3_finalize(q);
            return 1;
        }
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE)
            return store_sqlerr(st, e, "checking the applicant index");
    }
    if (entries != c->with_applicant)   /* (not reached: one of the two names it) */
        return err_set(e, "applicant_index", "the applicant index holds %lld entries for %lld "
                       "decisions with an applicant", (long long)entries,
                       (long long)c->with_applicant), 1;
    return 0;
}

/* The ids that name one record each still do: a table rebuilt without its
 * UNIQUE constraint could take a second record under a decision id the
 * chain already holds (appended at the end, the chain still holds), and
 * every lookup by that id -- `decision`, audit show, a review -- would find
 * one or the other.  0 when they hold, 1 with E and REP, -1 when they could
 * not be read.  An index scan each, where the constraint's index is there. */
static int verify_unique(store *st, store_report *rep, err *e)
{
    static const struct {
        const char *sql, *what, *kind;
    } ids[] = {
        {"SELECT decision_id, min(seq), max(seq) FROM decisions GROUP BY decision_id"
         " HAVING count(*) > 1 LIMIT 1", "decision id", "decision"},
        {"SELECT review_id, min(seq), max(seq) FROM reviews GROUP BY review_id"
         " HAVING count(*) > 1 LIMIT 1", "review id", "review"},
        /* Application ids, which the key's index holds (its first_seq would be
         * a lookup in the table per key); the records are looked up after. */
        {"SELECT k, (SELECT first_seq FROM applications WHERE id = lo),"
         " (SELECT first_seq FROM applications WHERE id = hi) FROM"
         " (SELECT request_key AS k, min(id) AS lo, max(id) AS hi FROM applications"
         "  WHERE request_key IS NOT NULL GROUP BY request_key HAVING count(*) > 1 LIMIT 1)",
         "request key", NULL},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        sqlite3_stmt *s;
        if (sqlite3_prepare_v2(st->db, ids[i].sql, -1, &s, NULL) != SQLITE_OK)
            return store_sqlerr(st, e, "checking that ids are unique");
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            const char *id = (const char *)sqlite3_column_text(s, 0);
            int64_t a = sqlite3_column_int64(s, 1), b = sqlite3_column_int64(s, 2);
            rep->bad_seq = b;
            rep->bad_kind = ids[i].kind ? ids[i].kind : "decision";
            snprintf(rep->bad_id, sizeof rep->bad_id, "%s", id ? id : "");
            err_set(e, "duplicate", "records %lld and %lld carry the same %s %s: each must "
                    "name one record, and lookups by it find either (the table was rebuilt "
                    "without its UNIQUE constraint)", (long long)a, (long long)b, ids[i].what,
                    id ? id : "");
            sqlite3_finalize(s);
            return 1;
        }
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE)
            return store_sqlerr(st, e, "checking that ids are unique");
    }
    return 0;
}

/* What the chain alone cannot show, but the applications table still can,
 * once the N records of the chain have matched: application rows that no
 * decision points to (added after the fact), and an application whose
 * records run past the chain's end (the tail was cut, its application row
 * left behind).  Applications are numbered in the order of their records,
 * so the last one is the one to ask.  0 when they hold, 1 with E and REP,
 * -1 when they could not be read. */
static int verify_applications(store *st, const verify_ctx *c, int64_t n, store_report *rep,
                               err *e)
{
    sqlite3_stmt *s = st->q[Q_VERIFY_APPS];
    int rc = sqlite3_step(s);
    int64_t count = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(s, 1) : 0;
    int64_t first = rc == SQLITE_ROW ? sqlite3_column_int64(s, 2) : 0;
    int64_t last = first + (rc == SQLITE_ROW ? sqlite3_column_int64(s, 3) : 0) - 1;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_sqlerr(st, e, "reading the applications");
    if (rc == SQLITE_ROW && last > n) {
        rep->bad_seq = first > n ? first : n + 1;
        char held[64];
        if (first == last)
            snprintf(held, sizeof held, "record %lld", (long long)first);
        else
            snprintf(held, sizeof held, "records %lld to %lld", (long long)first, (long long)last);
        err_set(e, "cut_tail", "application %lld holds %s, but the chain ends at record %lld: "
                "records were cut off the end, their application left behind", (long long)id,
                held, (long long)n);
        return 1;
    }
    if (count != c->apps) {
        rep->bad_seq = n + 1;   /* every record holds; the database does not */
        err_set(e, "orphan", "the applications table holds %lld rows, but the decisions "
                "point to %lld: application rows that belong to no decision were added "
                "after the fact, or their decisions deleted", (long long)count,
                (long long)c->apps);
        return 1;
    }
    return 0;
}

/* The anchors in seq order, for one pass.  Few: a checkpoint a day. */
static int anchor_cmp(const void *a, const void *b)
{
    int64_t x = (*(const store_anchor *const *)a)->seq;
    int64_t y = (*(const store_anchor *const *)b)->seq;
    return (x > y) - (x < y);
}

/* A file damaged on disk can read as records missing or altered: a b-tree
 * page overwritten with another (a log put beside the wrong file) makes
 * rows skip or repeat.  So before a fault is blamed on a tamperer, SQLite
 * checks the file's structure; if that fails, E says the file is damaged,
 * with what the chain seemed to show, and 1 is returned.  0 when the file
 * is sound (E, the fault, as it was). */
static int verify_damaged(store *st, const store_report *rep, err *e)
{
    sqlite3_stmt *s;
    char seemed[600], why[300] = "";
    int rc = sqlite3_prepare_v2(st->db, "PRAGMA quick_check(1)", -1, &s, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        const char *t = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
        if (t && strcmp(t, "ok") != 0) {
            const char *nl = strchr(t, '\n');   /* past "*** in database main ***" */
            snprintf(why, sizeof why, "%s", !strncmp(t, "***", 3) && nl ? nl + 1 : t);
            for (char *c = why; *c; c++)
                *c = *c == '\n' ? ' ' : *c;
        }
        sqlite3_finalize(s);
    }
    /* A check that could not run (busy, out of memory) says nothing of the
     * file: the fault found stands.  One that failed reading it does. */
    if (!*why && ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB))
        snprintf(why, sizeof why, "%s", sqlite3_errstr(rc));
    if (!*why)
        return 0;
    store_verdict(rep, e, seemed, sizeof seemed);
    err_set(e, "internal", "the file %s is damaged (SQLite's quick_check: %s), so what the "
            "records seem to show (%s) may be the damage, not a change to them: sqlite3 %s "
            "'PRAGMA integrity_check' says where; a backup holds what it held",
            st->path, why, seemed, st->path);
    return 1;
}

/* Decisions and reviews are read by two statements in seq order and merged
 * as they go, like the merge step of a merge sort: no UNION, no sort.  On a
 * mismatch rep->checked counts the records before the bad one, so
 * rep->bad_seq > checked + 1 means the records between were deleted.
 * Everything is read in one read transaction, so a server appending
 * meanwhile is not seen half-way. */
int store_verify_chain(store *st, const store_anchor *anchors, size_t nanchors,
                       store_report *rep,
                       void (*progress)(void *ud, int64_t done, int64_t total), void *ud,
                       err *e)
{
    store_invariants(st);
    unsigned char prev[STORE_HASH_LEN] = {0}, hash[STORE_HASH_LEN];
    verify_ctx c = {.app_id = -1};
    const store_anchor **order = NULL;
    size_t next = 0;                         /* the next anchor to meet */
    int64_t n = 0;
    int ret = -1, rcd = SQLITE_DONE, rcr = SQLITE_DONE;
    sqlite3_stmt *sd = st->q[Q_VERIFY], *sr = st->q[Q_VERIFY_REVIEWS], *s;

    memset(rep, 0, sizeof *rep);
    if (nanchors) {
        order = malloc(nanchors * sizeof *order);
        if (!order)
            return err_set(e, "internal", "out of memory");
        for (size_t i = 0; i < nanchors; i++)
            order[i] = &anchors[i];
        qsort(order, nanchors, sizeof *order, anchor_cmp);
    }
    /* Anchors at seq 0 sign an empty chain, whose head is all zeros (the
     * first record's prev_hash): any other head was never this chain's. */
    for (; next < nanchors && order[next]->seq <= 0; next++) {
        if (memcmp(order[next]->hash, prev, STORE_HASH_LEN) != 0) {
            char want[2 * STORE_HASH_LEN + 1];
            verify_hex(order[next]->hash, want);
            rep->head_seq = 0;
            memset(rep->head_hash, 0, sizeof rep->head_hash);
            err_set(e, "rewritten", "a checkpoint of record 0, an empty chain, signed the head "
                    "%.16s..., where an empty chain's is all zeros: no eligo database had that "
                    "head", want);
            free(order);
            return 1;
        }
    }
    if (store_begin_read(st, e) != 0) {
        free(order);
        return -1;
    }
    s = st->q[Q_TALLY];
    if (sqlite3_step(s) == SQLITE_ROW)
        rep->total = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (progress)
        progress(ud, 0, rep->total);
    if (store_check_rulesets(st, &c.sets, &c.nsets, e) != 0)
        goto done;

    rcd = sqlite3_step(sd);
    rcr = sqlite3_step(sr);
    /* A read that fails (a damaged page) stops both walks: taking the
     * other's records on would report the unread ones as missing. */
#define VERIFY_OK(rc) ((rc) == SQLITE_ROW || (rc) == SQLITE_DONE)
    while ((rcd == SQLITE_ROW || rcr == SQLITE_ROW) && VERIFY_OK(rcd) && VERIFY_OK(rcr)) {
        int is_review = rcr == SQLITE_ROW &&
                        (rcd != SQLITE_ROW ||
                         sqlite3_column_int64(sr, R_SEQ) < sqlite3_column_int64(sd, V_SEQ));
        s = is_review ? sr : sd;
        int failed = 0;
        const char *why = is_review
                              ? verify_review(st, s, &c, n, rep->reviews, prev, hash, &failed)
                              : verify_decision(st, s, &c, n, prev, hash, &failed);
        if (failed) {
            err_set(e, "internal", "SHA-256 failed");
            goto done;
        }
        if (why) {
            int64_t seq = sqlite3_column_int64(s, is_review ? R_SEQ : V_SEQ);
            verify_name(rep, s, is_review);
            if (seq < 1)   /* read first, ORDER BY seq: nothing before it took it */
                err_set(e, "mismatch", "its seq %lld is not a position in the chain, which "
                        "runs from 1", (long long)seq);
            else if (seq <= n)
                err_set(e, "mismatch", "its seq %lld was already taken by the record before "
                        "it", (long long)seq);
            else if (seq == n + 2)
                err_set(e, "mismatch", "record %lld is missing before it", (long long)(n + 1));
            else if (seq != n + 1)
                err_set(e, "mismatch", "records %lld to %lld are missing before it",
                        (long long)(n + 1), (long long)(seq - 1));
            else
                err_set(e, "mismatch", "%s", why);
            ret = 1;
            goto done;
        }
        memcpy(prev, hash, STORE_HASH_LEN);
        n++;
        if (is_review)
            rep->reviews++;
        else
            rep->decisions++;
        /* Every anchor at N is looked at before one is blamed: two checkpoints
         * may sign the same record, one as it is and one not, and the one that
         * holds places no rewrite "after N and at or before N". */
        const store_anchor *differs = NULL;
        int held_here = 0;
        for (; next < nanchors && order[next]->seq == n; next++) {
            if (memcmp(hash, order[next]->hash, STORE_HASH_LEN) == 0)
                held_here = 1;
            else if (!differs)
                differs = order[next];
        }
        if (held_here && !differs)
            rep->anchor_held = n;
        if (differs) {
            char have[2 * STORE_HASH_LEN + 1], want[2 * STORE_HASH_LEN + 1];
            verify_hex(hash, have);
            verify_hex(differs->hash, want);
            verify_name(rep, s, is_review);
            rep->head_seq = n;   /* the record, for the caller to tell the anchors apart */
            memcpy(rep->head_hash, hash, STORE_HASH_LEN);
            if (held_here)
                err_set(e, "rewritten", "the chain is consistent and another checkpoint signed "
                        "this record as it is (hash %.16s...), but this one signed %.16s...: the "
                        "key signed two histories of record %lld (a checkpoint of another "
                        "database, or the chain rewritten at or before it and signed again)",
                        have, want, (long long)n);
            else if (rep->anchor_held)
                err_set(e, "rewritten", "the chain is consistent, but this record's hash is "
                        "%.16s... where the checkpoint signed %.16s...: a record after %lld "
                        "(which still holds as signed) and at or before %lld was rewritten and "
                        "the chain recomputed from there on", have, want,
                        (long long)rep->anchor_held, (long long)n);
            else
                err_set(e, "rewritten", "the chain is consistent, but this record's hash is "
                        "%.16s... where the checkpoint signed %.16s...: a record at or before "
                        "it was rewritten and the chain recomputed from there on", have, want);
            ret = 1;
            goto done;
        }
        if (progress && n % STORE_PROGRESS_EVERY == 0)
            progress(ud, n, rep->total);
        if (is_review)
            rcr = sqlite3_step(sr);
        else
            rcd = sqlite3_step(sd);
    }
    if (rcd != SQLITE_DONE || rcr != SQLITE_DONE) {
        store_rcerr(st, e, "reading the records", VERIFY_OK(rcd) ? rcr : rcd);
        goto done;
    }
#undef VERIFY_OK
    rep->head_seq = n;
    memcpy(rep->head_hash, prev, STORE_HASH_LEN);
    if (next < nanchors) {
        int64_t want = order[nanchors - 1]->seq;
        rep->bad_seq = want;
        /* Those up to the signed record are known; records appended after
         * it may have been cut too, and no checkpoint can count them. */
        err_set(e, "truncated", "the chain ends at record %lld, but the checkpoint signed "
                "record %lld: at least the last %lld records were cut off (records %lld to "
                "%lld, and any appended after the checkpoint)", (long long)n, (long long)want,
                (long long)(want - n), (long long)(n + 1), (long long)want);
        ret = 1;
        goto done;
    }
    if ((ret = verify_applications(st, &c, n, rep, e)) != 0 ||
        (ret = verify_unique(st, rep, e)) != 0 ||
        (ret = verify_applicants(st, &c, rep, e)) != 0 ||
        (ret = verify_rulesets_unused(c.sets, c.nsets, n, rep, e)) != 0)
        goto done;
    if (progress && (n == 0 || n % STORE_PROGRESS_EVERY != 0))
        progress(ud, n, rep->total);   /* the last word, unless just said */
done:
    sqlite3_reset(sd);
    sqlite3_reset(sr);
    store_step_done(st->q[Q_COMMIT]);   /* ends the read transaction */
    free(c.sets);
    free(order);
    rep->checked = n;
    if (ret > 0 && verify_damaged(st, rep, e))
        ret = -1;
    store_invariants(st);
    return ret;
}

void store_verdict(const store_report *rep, const err *e, char *out, size_t n)
{
    const char *code = e->code ? e->code : "";
    if (!strcmp(code, "truncated") || !strcmp(code, "cut_tail"))
        snprintf(out, n, "records were cut off the end: %s", e->msg);
    else if (!strcmp(code, "orphan") || !strcmp(code, "duplicate") ||
             !strcmp(code, "applicant_index") || !strcmp(code, "ruleset"))
        snprintf(out, n, "%s", e->msg);
    else if (rep->bad_seq > rep->checked + 1) {
        char gap[64];
        if (rep->bad_seq == rep->checked + 2)
            snprintf(gap, sizeof gap, "record %lld is", (long long)(rep->checked + 1));
        else
            snprintf(gap, sizeof gap, "records %lld to %lld are", (long long)(rep->checked + 1),
                     (long long)(rep->bad_seq - 1));
        snprintf(out, n, "%s missing, before record %lld (%s %s)", gap, (long long)rep->bad_seq,
                 rep->bad_kind ? rep->bad_kind : "record", rep->bad_id);
    } else {
        snprintf(out, n, "record %lld (%s %s) %s: %s", (long long)rep->bad_seq,
                 rep->bad_kind ? rep->bad_kind : "record", rep->bad_id,
                 !strcmp(code, "rewritten") ? "is not the record a checkpoint signed"
                                            : "does not match its hash", e->msg);
    }
}

int store_verify(store *st, int64_t *checked, int64_t *bad_seq, char bad_id[64],
                 void (*progress)(void *ud, int64_t done, int64_t total), void *ud,
                 err *e)
{
    store_report rep;
    int rc = store_verify_chain(st, NULL, 0, &rep, progress, ud, e);
    *checked = rep.checked;
    *bad_seq = rep.bad_seq;
    snprintf(bad_id, 64, "%s", rep.bad_id);
    return rc;
}
