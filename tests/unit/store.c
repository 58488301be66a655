/* tests/unit/store.c -- unit tests of core/store.c, each on a fresh database
 * in its own temporary directory.  Tampering is done the way a tamperer
 * would: with the sqlite3 C API, after dropping the append-only triggers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "seen.h"
#include "store.h"

/* ---- Fixture ---------------------------------------------------------- */

typedef struct fixture {
    char dir[64];
    char path[96];
    store *st;
    ruleset *rs;
    int next_id;          /* numbering of made-up decision ids */
} fixture;

#define FILE_OF(name, text) {name, text, sizeof text - 1}
static const ruleset_file test_files[] = {
    FILE_OF("idmaj.lua", "program \"idmaj\" { version = \"2025.1\" }\n"),
    FILE_OF("idmaj.test.lua", "case \"x\" { program = \"idmaj\" }\n"),
};

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/eligo-store-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/test.db", f->dir);
    err e = {0};
    if (store_open(&f->st, f->path, STORE_NOSYNC, &e) != 0) {
        fprintf(stderr, "store_open: %s\n", e.msg);
        return -1;
    }
    f->rs = ruleset_from_files(test_files, 2, &e);
    if (!f->rs) {
        fprintf(stderr, "ruleset_from_files: %s\n", e.msg);
        return -1;
    }
    if (store_put_ruleset(f->st, f->rs, &e) != 0) {
        fprintf(stderr, "store_put_ruleset: %s\n", e.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    store_close(f->st);
    ruleset_free(f->rs);
    const char *suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* An application being built: its strings live here. */
typedef struct test_app {
    store_application app;
    store_decision dec[5];
    char ids[5][32];
    char json[5][256];
    char request[256];
} test_app;

/* Fill T as a decide (1 program) or screen (5) application for APPLICANT. */
static void make_app(fixture *f, test_app *t, const char *applicant, int nprog,
                     const char *key, const char *fingerprint)
{
    static const char *progs[] = {"idmaj", "tahfiz", "intelaka", "awrach", "forsa"};
    memset(t, 0, sizeof *t);
    snprintf(t->request, sizeof t->request,
             "{\"op\":\"%s\",\"applicant\":{\"applicant_id\":\"%s\"}}",
             nprog > 1 ? "screen" : "decide", applicant);
    for (int i = 0; i < nprog; i++) {
        snprintf(t->ids[i], sizeof t->ids[i], "D%06d", ++f->next_id);
        snprintf(t->json[i], sizeof t->json[i],
                 "{\"decision_id\":\"%s\",\"program\":\"%s\",\"outcome\":\"eligible\","
                 "\"applicant\":\"%s\"}", t->ids[i], progs[i], applicant);
        t->dec[i] = (store_decision){
            .decision_id = t->ids[i], .program = progs[i], .program_version = "2025.1",
            .outcome = "eligible", .json = t->json[i], .json_len = strlen(t->json[i]),
        };
    }
    t->app = (store_application){
        .request = t->request, .request_len = strlen(t->request), .request_key = key,
        .fingerprint = fingerprint ? fingerprint : "fp-none",
        .applicant_id = applicant, .as_of = "2025-03-01", .ruleset = ruleset_hash(f->rs),
        .received_at = "2025-03-01T10:00:00.000Z", .decided_at = "2025-03-01T10:00:00.001Z",
        .client_uid = 1000, .client_pid = 4242, .decisions = t->dec,
        .ndecisions = (size_t)nprog,
    };
}

/* Append one application; return its status. */
static store_status append1(fixture *f, test_app *t, buf *stored)
{
    store_outcome out;
    err e = {0};
    int rc = store_append(f->st, &t->app, 1, &out, &e);
    if (rc != 0)
        fprintf(stderr, "store_append: %s\n", e.msg);
    assert_int_equal(rc, 0);
    if (stored)
        *stored = out.stored;
    else
        buf_free(&out.stored);
    return out.status;
}

static int verify(fixture *f, int64_t *checked, int64_t *bad_seq, char bad_id[64])
{
    err e = {0};
    int rc = store_verify(f->st, checked, bad_seq, bad_id, NULL, NULL, &e);
    if (rc < 0)
        fprintf(stderr, "store_verify: %s\n", e.msg);
    return rc;
}

/* Run SQL on the database through a connection of our own, as a tamperer. */
static void tamper(fixture *f, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "tamper: %s\n", msg);
    sqlite3_free(msg);
    sqlite3_close(db);
    assert_int_equal(rc, SQLITE_OK);
}

static const char drop_triggers[] =
    "DROP TRIGGER decisions_no_update; DROP TRIGGER decisions_no_delete;"
    "DROP TRIGGER applications_no_update; DROP TRIGGER applications_no_delete;";

/* ---- Tests ---------------------------------------------------------------- */

static store_review make_review(const char *review_id, const char *decision_id,
                                const char *action, const char *outcome);

/* Decisions added by another connection are noticed at this handle's next
 * write, and told once; a review added beside it is not such a write. */
static void test_other_writer(void **state)
{
    fixture *f = *state;
    test_app a, b;
    make_app(f, &a, "A1", 1, NULL, NULL);
    append1(f, &a, NULL);
    assert_int_equal(store_other_writer(f->st), 0);   /* its own writes do not count */
    store *other;
    err e = {0};
    assert_int_equal(store_open(&other, f->path, STORE_NOSYNC, &e), 0);
    buf rb;
    buf_init(&rb, 4096);
    store_review rv = make_review("R1", a.ids[0], "confirm", NULL);
    assert_int_equal(store_append_review(other, &rv, &rb, &e), 0);
    buf_free(&rb);
    make_app(f, &a, "A2", 1, NULL, NULL);
    append1(f, &a, NULL);                             /* chained after the review */
    assert_int_equal(store_other_writer(f->st), 0);
    store_outcome out;
    make_app(f, &b, "B1", 1, NULL, NULL);
    assert_int_equal(store_append(other, &b.app, 1, &out, &e), 0);
    buf_free(&out.stored);
    store_close(other);
    make_app(f, &a, "A2", 1, NULL, NULL);
    append1(f, &a, NULL);
    assert_int_equal(store_other_writer(f->st), 1);
    assert_int_equal(store_other_writer(f->st), 0);
}

/* Reviews added by another connection, and no decisions, are told apart:
 * found by store_look without a write, and by the next write. */
static void test_other_review(void **state)
{
    fixture *f = *state;
    test_app a;
    make_app(f, &a, "A1", 1, NULL, NULL);
    append1(f, &a, NULL);
    err e = {0};
    assert_int_equal(store_look(f->st, &e), 0);
    assert_int_equal(store_other_review(f->st), 0);
    store *other;
    assert_int_equal(store_open(&other, f->path, STORE_NOSYNC, &e), 0);
    buf rb;
    buf_init(&rb, 4096);
    store_review rv = make_review("R1", a.ids[0], "override", "ineligible");
    assert_int_equal(store_append_review(other, &rv, &rb, &e), 0);
    assert_int_equal(store_look(f->st, &e), 0);
    assert_int_equal(store_other_review(f->st), 1);
    assert_int_equal(store_other_review(f->st), 0);   /* told once */
    assert_int_equal(store_other_writer(f->st), 0);
    assert_int_equal(store_look(f->st, &e), 0);       /* nothing new */
    assert_int_equal(store_other_review(f->st), 0);

    /* Found at a write too, which chains after the review. */
    buf_reset(&rb);
    rv = make_review("R2", a.ids[0], "confirm", NULL);
    assert_int_equal(store_append_review(other, &rv, &rb, &e), 0);
    make_app(f, &a, "A2", 1, NULL, NULL);
    append1(f, &a, NULL);
    assert_int_equal(store_other_review(f->st), 1);
    int64_t checked, bad;
    char id[64];
    assert_int_equal(verify(f, &checked, &bad, id), 0);
    assert_int_equal(checked, 4);

    /* New decisions from the other are the other kind. */
    test_app b;
    store_outcome out;
    make_app(f, &b, "B1", 1, NULL, NULL);
    assert_int_equal(store_append(other, &b.app, 1, &out, &e), 0);
    buf_free(&out.stored);
    buf_reset(&rb);
    rv = make_review("R3", b.ids[0], "confirm", NULL);
    assert_int_equal(store_append_review(other, &rv, &rb, &e), 0);
    assert_int_equal(store_look(f->st, &e), 0);
    assert_int_equal(store_other_writer(f->st), 1);
    assert_int_equal(store_other_review(f->st), 0);
    buf_free(&rb);
    store_close(other);

    /* The applicant of a reviewed decision. */
    buf_reset(&rb);
    assert_int_equal(store_decision_applicant(f->st, b.ids[0], &rb, &e), 1);
    assert_string_equal(rb.data, "B1");
    buf_reset(&rb);
    assert_int_equal(store_decision_applicant(f->st, "D999999", &rb, &e), 0);
    assert_int_equal((int)rb.len, 0);
    buf_free(&rb);
}

/* An applicant's rows give where each decision stands: the outcome of its
 * last override, with its own beside it; and, before a seq, as it stood
 * then. */
static void test_rows_standing(void **state)
{
    fixture *f = *state;
    test_app t[3];
    for (int i = 0; i < 3; i++) {
        make_app(f, &t[i], "A1", 1, NULL, NULL);
        append1(f, &t[i], NULL);
    }
    err e = {0};
    buf b, rb;
    buf_init(&b, 1 << 20);
    buf_init(&rb, 4096);
    store_review rv = make_review("R1", t[1].ids[0], "override", "ineligible");   /* seq 4 */
    assert_int_equal(store_append_review(f->st, &rv, &rb, &e), 0);
    rv = make_review("R2", t[1].ids[0], "confirm", NULL);                         /* seq 5 */
    assert_int_equal(store_append_review(f->st, &rv, &rb, &e), 0);
    rv = make_review("R3", t[0].ids[0], "override", "incomplete");                /* seq 6 */
    assert_int_equal(store_append_review(f->st, &rv, &rb, &e), 0);
    rv = make_review("R4", t[0].ids[0], "override", "eligible");                  /* seq 7 */
    assert_int_equal(store_append_review(f->st, &rv, &rb, &e), 0);

    static const char row[] = "{\"decision_id\":\"%s\",\"program\":\"idmaj\","
                              "\"program_version\":\"2025.1\",\"outcome\":\"%s\"%s,"
                              "\"as_of\":\"2025-03-01\",\"decided_at\":\"2025-03-01T10:00:00.001Z\"}";
    char want[1024], r0[300], r1[300], r2[300];
    /* Now: the second overridden (a confirmation keeps the override), the
     * first overridden back to its own outcome. */
    snprintf(r2, sizeof r2, row, t[2].ids[0], "eligible", "");
    snprintf(r1, sizeof r1, row, t[1].ids[0], "ineligible", ",\"decision_outcome\":\"eligible\"");
    snprintf(r0, sizeof r0, row, t[0].ids[0], "eligible", "");
    snprintf(want, sizeof want, "[%s,%s,%s]", r2, r1, r0);
    assert_int_equal(store_applicant_decisions(f->st, "A1", 0, 0, &b, NULL, &e), 3);
    assert_string_equal(b.data, want);
    /* Before seq 7: the first still incomplete. */
    snprintf(r0, sizeof r0, row, t[0].ids[0], "incomplete", ",\"decision_outcome\":\"eligible\"");
    snprintf(want, sizeof want, "[%s,%s,%s]", r2, r1, r0);
    buf_reset(&b);
    assert_int_equal(store_applicant_decisions(f->st, "A1", 7, 0, &b, NULL, &e), 3);
    assert_string_equal(b.data, want);
    /* Before seq 4: as decided. */
    snprintf(r1, sizeof r1, row, t[1].ids[0], "eligible", "");
    snprintf(r0, sizeof r0, row, t[0].ids[0], "eligible", "");
    snprintf(want, sizeof want, "[%s,%s,%s]", r2, r1, r0);
    buf_reset(&b);
    assert_int_equal(store_applicant_decisions(f->st, "A1", 4, 0, &b, NULL, &e), 3);
    assert_string_equal(b.data, want);
    buf_free(&b);
    buf_free(&rb);
}

/* seen_load reads each applicant with a decision once, and only those. */
static void test_seen_load(void **state)
{
    fixture *f = *state;
    test_app a, b, c;
    make_app(f, &a, "A1", 1, NULL, NULL);
    append1(f, &a, NULL);
    make_app(f, &b, "A2", 5, NULL, NULL);
    append1(f, &b, NULL);
    make_app(f, &c, "A1", 1, NULL, NULL);
    append1(f, &c, NULL);
    seen *s = seen_new();
    err e = {0};
    assert_int_equal(seen_load(s, f->st, &e), 0);
    assert_int_equal(seen_count(s), 2);
    assert_true(seen_may_have(s, "A1"));
    assert_true(seen_may_have(s, "A2"));
    assert_false(seen_may_have(s, "A3"));
    seen_free(s);
}

static void test_append_and_get(void **state)
{
    fixture *f = *state;
    test_app decide, screen;
    make_app(f, &decide, "A1", 1, NULL, NULL);
    make_app(f, &screen, "A2", 5, NULL, NULL);
    store_application apps[2] = {decide.app, screen.app};
    store_outcome out[2];
    err e = {0};
    assert_int_equal(store_append(f->st, apps, 2, out, &e), 0);
    assert_int_equal(out[0].status, STORE_NEW);
    assert_int_equal(out[1].status, STORE_NEW);
    buf_free(&out[0].stored);
    buf_free(&out[1].stored);
    assert_int_equal(store_count(f->st), 6);

    buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(store_get_decision(f->st, screen.ids[3], &b, &e), 0);
    assert_string_equal(b.data, screen.json[3]);
    buf_reset(&b);
    assert_int_equal(store_get_decision(f->st, "nope", &b, &e), -1);
    assert_string_equal(e.code, "not_found");
    assert_int_equal(b.len, 0);
    buf_free(&b);

    /* The screen's application is stored once, with its five decisions. */
    sqlite3 *db;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), sum(ndecisions) FROM applications",
                                        -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 2);
    assert_int_equal(sqlite3_column_int(s, 1), 6);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void test_history(void **state)
{
    fixture *f = *state;
    test_app t[3], other;
    for (int i = 0; i < 3; i++) {
        make_app(f, &t[i], "A1", 1, NULL, NULL);
        assert_int_equal(append1(f, &t[i], NULL), STORE_NEW);
        make_app(f, &other, "B9", 1, NULL, NULL);
        assert_int_equal(append1(f, &other, NULL), STORE_NEW);
    }
    buf b, want;
    buf_init(&b, 1 << 20);
    buf_init(&want, 1 << 20);
    err e = {0};
    /* Each item is the stored decision with "reviews" spliced in. */
    assert_int_equal(store_history(f->st, "A1", 0, &b, &e), 0);
    buf_printf(&want, "[%.*s,\"reviews\":[]},%.*s,\"reviews\":[]},%.*s,\"reviews\":[]}]",
               (int)strlen(t[2].json[0]) - 1, t[2].json[0], (int)strlen(t[1].json[0]) - 1,
               t[1].json[0], (int)strlen(t[0].json[0]) - 1, t[0].json[0]);
    assert_string_equal(b.data, want.data);

    buf_reset(&b);
    buf_reset(&want);
    assert_int_equal(store_history(f->st, "A1", 2, &b, &e), 0);
    buf_printf(&want, "[%.*s,\"reviews\":[]},%.*s,\"reviews\":[]}]",
               (int)strlen(t[2].json[0]) - 1, t[2].json[0], (int)strlen(t[1].json[0]) - 1,
               t[1].json[0]);
    assert_string_equal(b.data, want.data);

    buf_reset(&b);
    assert_int_equal(store_history(f->st, "nobody", 10, &b, &e), 0);
    assert_string_equal(b.data, "[]");

    /* A cap too small fails and leaves the buffer as it was. */
    buf small;
    buf_init(&small, 20);
    buf_adds(&small, "x");
    assert_int_equal(store_history(f->st, "A1", 0, &small, &e), -1);
    assert_string_equal(small.data, "x");
    buf_free(&small);
    buf_free(&b);
    buf_free(&want);
}

/* Make T's request line another application than make_app's for the
 * same applicant: the fingerprint alone no longer tells them apart. */
static void other_application(test_app *t)
{
    snprintf(t->request, sizeof t->request,
             "{\"op\":\"decide\",\"applicant\":{\"applicant_id\":\"%s\",\"size\":2}}",
             t->app.applicant_id);
    t->app.request_len = strlen(t->request);
}

static void test_repeat_and_conflict(void **state)
{
    fixture *f = *state;
    test_app first, again, other, screen, screen_again;
    make_app(f, &first, "A1", 1, "KEY-1", "fp-one");
    assert_int_equal(append1(f, &first, NULL), STORE_NEW);

    /* A retry: new decision ids, same application. */
    make_app(f, &again, "A1", 1, "KEY-1", "fp-one");
    buf stored;
    assert_int_equal(append1(f, &again, &stored), STORE_REPEAT);
    assert_string_equal(stored.data, first.json[0]);
    buf_free(&stored);

    make_app(f, &other, "A1", 1, "KEY-1", "fp-two");
    other_application(&other);
    assert_int_equal(append1(f, &other, NULL), STORE_CONFLICT);

    make_app(f, &screen, "A3", 5, "KEY-S", "fp-screen");
    assert_int_equal(append1(f, &screen, NULL), STORE_NEW);
    make_app(f, &screen_again, "A3", 5, "KEY-S", "fp-screen");
    assert_int_equal(append1(f, &screen_again, &stored), STORE_REPEAT);
    buf want;
    buf_init(&want, 1 << 20);
    buf_printf(&want, "%s,%s,%s,%s,%s", screen.json[0], screen.json[1], screen.json[2],
               screen.json[3], screen.json[4]);
    assert_string_equal(stored.data, want.data);
    buf_free(&want);
    buf_free(&stored);

    assert_int_equal(store_count(f->st), 6);
}

/* A fingerprint an older eligo stored, written differently (without NFC,
 * or [] as {}), for the same request line: a repeat, not a conflict, both
 * appending and looking up; another application under that key still is a
 * conflict.  The lines are compared for what the fingerprint covers. */
static void test_repeat_of_older_fingerprint(void **state)
{
    fixture *f = *state;
    test_app old, retry, other;
    make_app(f, &old, "A1", 1, "KEY-OLD", "fp-as-an-older-eligo-wrote-it");
    assert_int_equal(append1(f, &old, NULL), STORE_NEW);
    make_app(f, &retry, "A1", 1, "KEY-OLD", "fp-as-today");
    /* Another id and member order: the same application. */
    snprintf(retry.request, sizeof retry.request,
             "{\"id\":7,\"applicant\":{\"applicant_id\":\"A1\"},\"op\":\"decide\"}");
    retry.app.request_len = strlen(retry.request);
    buf stored;
    assert_int_equal(append1(f, &retry, &stored), STORE_REPEAT);
    assert_string_equal(stored.data, old.json[0]);
    buf_free(&stored);

    store_outcome o = {STORE_NEW, {0}, 0};
    err e = {0};
    buf_init(&o.stored, 1 << 20);
    assert_int_equal(store_key_outcome(f->st, "KEY-OLD", "fp-as-today", retry.request,
                                       strlen(retry.request), &o, &e), 0);
    assert_int_equal(o.status, STORE_REPEAT);
    assert_string_equal(o.stored.data, old.json[0]);
    buf_free(&o.stored);

    make_app(f, &other, "A1", 1, "KEY-OLD", "fp-as-today");
    other_application(&other);
    assert_int_equal(append1(f, &other, NULL), STORE_CONFLICT);
    buf_init(&o.stored, 1 << 20);
    assert_int_equal(store_key_outcome(f->st, "KEY-OLD", "fp-as-today", other.request,
                                       strlen(other.request), &o, &e), 0);
    assert_int_equal(o.status, STORE_CONFLICT);
    buf_free(&o.stored);
    assert_int_equal(store_count(f->st), 1);
}

static void test_repeat_within_batch(void **state)
{
    fixture *f = *state;
    test_app a, b, c, d;
    make_app(f, &a, "A1", 1, "K", "fp-1");
    make_app(f, &b, "A1", 1, "K", "fp-1");
    make_app(f, &c, "A1", 1, "K", "fp-2");
    other_application(&c);
    make_app(f, &d, "A2", 1, NULL, NULL);
    store_application apps[4] = {a.app, b.app, c.app, d.app};
    store_outcome out[4];
    err e = {0};
    assert_int_equal(store_append(f->st, apps, 4, out, &e), 0);
    assert_int_equal(out[0].status, STORE_NEW);
    assert_int_equal(out[1].status, STORE_REPEAT);
    assert_string_equal(out[1].stored.data, a.json[0]);
    assert_int_equal(out[2].status, STORE_CONFLICT);
    assert_int_equal(out[3].status, STORE_NEW);
    for (int i = 0; i < 4; i++)
        buf_free(&out[i].stored);
    assert_int_equal(store_count(f->st), 2);

    int64_t checked, bad;
    char id[64];
    assert_int_equal(verify(f, &checked, &bad, id), 0);
    assert_int_equal(checked, 2);
}

static void test_group_commit_atomic(void **state)
{
    fixture *f = *state;
    test_app ok1, ok2, bad, dup;
    make_app(f, &ok1, "A1", 1, "K1", "fp");
    assert_int_equal(append1(f, &ok1, NULL), STORE_NEW);

    /* A rule set never stored: the foreign key refuses it, and the batch
     * (with a good application and a key before it) commits nothing. */
    make_app(f, &ok2, "A2", 5, "K2", "fp");
    make_app(f, &bad, "A3", 1, NULL, NULL);
    bad.app.ruleset = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
    store_application apps[2] = {ok2.app, bad.app};
    store_outcome out[2];
    err e = {0};
    assert_int_equal(store_append(f->st, apps, 2, out, &e), -1);
    assert_non_null(strstr(e.msg, "never stored"));
    assert_null(out[0].stored.data);
    assert_int_equal(store_count(f->st), 1);

    /* A decision id already stored: same. */
    make_app(f, &dup, "A4", 1, NULL, NULL);
    dup.dec[0].decision_id = ok1.ids[0];
    store_application apps2[2] = {ok2.app, dup.app};
    assert_int_equal(store_append(f->st, apps2, 2, out, &e), -1);
    assert_int_equal(store_count(f->st), 1);

    /* The head did not move: the key of the failed batch is free, and the
     * chain continues from the one committed record. */
    assert_int_equal(append1(f, &ok2, NULL), STORE_NEW);
    assert_int_equal(store_count(f->st), 6);
    int64_t checked, bad_seq;
    char id[64];
    assert_int_equal(verify(f, &checked, &bad_seq, id), 0);
    assert_int_equal(checked, 6);
}

static void test_ruleset_round_trip(void **state)
{
    fixture *f = *state;
    err e = {0};
    /* Storing it again changes nothing. */
    assert_int_equal(store_put_ruleset(f->st, f->rs, &e), 0);
    ruleset *back = store_get_ruleset(f->st, ruleset_hash(f->rs), &e);
    assert_non_null(back);
    assert_string_equal(ruleset_hash(back), ruleset_hash(f->rs));
    assert_int_equal(ruleset_count(back), 2);
    for (size_t i = 0; i < 2; i++) {
        const ruleset_file *a = ruleset_file_at(f->rs, i), *b = ruleset_file_at(back, i);
        assert_string_equal(a->name, b->name);
        assert_int_equal(a->len, b->len);
        assert_memory_equal(a->text, b->text, a->len);
    }
    ruleset_free(back);

    /* A second set sharing one file stores only the new text. */
    ruleset_file files2[2] = {test_files[0], FILE_OF("other.lua", "-- other\n")};
    ruleset *rs2 = ruleset_from_files(files2, 2, &e);
    assert_non_null(rs2);
    assert_int_equal(store_put_ruleset(f->st, rs2, &e), 0);
    back = store_get_ruleset(f->st, ruleset_hash(rs2), &e);
    assert_non_null(back);
    assert_string_equal(ruleset_hash(back), ruleset_hash(rs2));
    ruleset_free(back);
    ruleset_free(rs2);

    assert_null(store_get_ruleset(f->st, "0123", &e));
    assert_string_equal(e.code, "not_found");

    sqlite3 *db;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM file_texts),"
                                        " (SELECT count(*) FROM ruleset_files)", -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 3);
    assert_int_equal(sqlite3_column_int(s, 1), 4);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void test_events(void **state)
{
    fixture *f = *state;
    err e = {0};
    assert_int_equal(store_event(f->st, "start", "pid 1", &e), 0);
    assert_int_equal(store_event(f->st, "reload_rejected", "idmaj.lua:3: boom", &e), 0);
    sqlite3 *db;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT kind, detail, length(at) FROM events"
                                        " ORDER BY id", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "start");
    assert_int_equal(sqlite3_column_int(s, 2), 24);   /* 2025-03-01T10:00:00.000Z */
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 1), "idmaj.lua:3: boom");
    assert_int_equal(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

/* Ten records: decides at seq 1, 2; a screen at 3..7; decides at 8, 9, 10. */
static void fill(fixture *f, test_app t[6])
{
    make_app(f, &t[0], "A1", 1, "K0", "fp");
    make_app(f, &t[1], "A2", 1, NULL, NULL);
    make_app(f, &t[2], "A3", 5, "K2", "fp");
    make_app(f, &t[3], "A1", 1, NULL, NULL);
    make_app(f, &t[4], "A4", 1, NULL, NULL);
    make_app(f, &t[5], "A5", 1, NULL, NULL);
    t[5].app.client_uid = -1;
    t[5].app.applicant_id = NULL;
    for (int i = 0; i < 6; i++)
        assert_int_equal(append1(f, &t[i], NULL), STORE_NEW);
    assert_int_equal(store_count(f->st), 10);
}

static void progress_count(void *ud, int64_t done, int64_t total)
{
    int *calls = ud;
    (*calls)++;
    assert_true(done <= total);
}

static void test_verify_intact(void **state)
{
    fixture *f = *state;
    test_app t[6];
    int64_t checked, bad;
    char id[64];
    assert_int_equal(verify(f, &checked, &bad, id), 0);   /* empty chain */
    assert_int_equal(checked, 0);
    fill(f, t);
    int calls = 0;
    err e = {0};
    assert_int_equal(store_verify(f->st, &checked, &bad, id, progress_count, &calls, &e), 0);
    assert_int_equal(checked, 10);
    assert_true(calls >= 2);

    /* The triggers keep an accident from rewriting the past. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE decisions SET outcome = 'x' WHERE seq = 2",
                                  NULL, NULL, NULL), SQLITE_CONSTRAINT);
    assert_int_equal(sqlite3_exec(db, "DELETE FROM decisions WHERE seq = 2", NULL, NULL, NULL),
                     SQLITE_CONSTRAINT);
    assert_int_equal(sqlite3_exec(db, "DELETE FROM applications", NULL, NULL, NULL),
                     SQLITE_CONSTRAINT);
    sqlite3_close(db);
    assert_int_equal(verify(f, &checked, &bad, id), 0);
}

static void expect_bad(fixture *f, const char *sql, int64_t seq, const char *id_want,
                       int64_t checked_want)
{
    char sqlbuf[512];
    snprintf(sqlbuf, sizeof sqlbuf, "%s %s", drop_triggers, sql);
    tamper(f, sqlbuf);
    int64_t checked, bad;
    char id[64];
    assert_int_equal(verify(f, &checked, &bad, id), 1);
    assert_int_equal(bad, seq);
    assert_string_equal(id, id_want);
    assert_int_equal(checked, checked_want);
}

static void test_verify_altered_json(void **state)
{
    fixture *f = *state;
    test_app t[6];
    fill(f, t);
    expect_bad(f, "UPDATE decisions SET decision = replace(decision, 'eligible', 'ineligible')"
                  " WHERE seq = 4", 4, t[2].ids[1], 3);
}

static void test_verify_altered_column(void **state)
{
    fixture *f = *state;
    test_app t[6];
    fill(f, t);
    /* The JSON untouched, only the column an auditor's query would read. */
    expect_bad(f, "UPDATE decisions SET outcome = 'ineligible' WHERE seq = 9", 9, t[4].ids[0],
               8);
}

static void test_verify_altered_application(void **state)
{
    fixture *f = *state;
    test_app t[6];
    fill(f, t);
    /* The screen's application: its first decision (seq 3) is the first hit. */
    expect_bad(f, "UPDATE applications SET request = replace(request, 'A3', 'A9')"
                  " WHERE id = (SELECT application FROM decisions WHERE seq = 5)",
               3, t[2].ids[0], 2);
}

/* Verify after SQL (the triggers dropped): it fails at record SEQ with CODE
 * and a message holding NEEDLE. */
static void expect_why(fixture *f, const char *sql, int64_t seq, const char *code,
                       const char *needle)
{
    char sqlbuf[2048];
    snprintf(sqlbuf, sizeof sqlbuf, "%s %s", drop_triggers, sql);
    tamper(f, sqlbuf);
    store_report rep;
    err e = {0};
    assert_int_equal(store_verify_chain(f->st, NULL, 0, &rep, NULL, NULL, &e), 1);
    if (rep.bad_seq != seq)
        fail_msg("record %lld, not %lld: %s", (long long)rep.bad_seq, (long long)seq, e.msg);
    assert_string_equal(e.code, code);
    if (!strstr(e.msg, needle))
        fail_msg("'%s' not in '%s'", needle, e.msg);
}

/* A row put in at seq 0, or below, is read first: it is no position in the
 * chain, and no record before it took its seq. */
static void test_verify_seq_below_one(void **state)
{
    fixture *f = *state;
    test_app t[6];
    fill(f, t);
    expect_why(f, "INSERT INTO decisions SELECT -2, 'X', application, program, program_version,"
                  " outcome, applicant_id, as_of, decided_at, ruleset, decision, prev_hash, hash"
                  " FROM decisions WHERE seq = 1",
               -2, "mismatch", "its seq -2 is not a position in the chain, which runs from 1");
}

/* The same bytes under another storage type hash alike, but a query by value
 * no longer finds them: a decision hidden from `audit list --program`. */
static void test_verify_retyped_decision(void **state)
{
    fixture *f = *state;
    test_app t[6];
    fill(f, t);
    expect_why(f, "UPDATE decisions SET program = CAST(program AS BLOB) WHERE seq = 9", 9,
               "mismatch", "column program is stored as a blob");
}

static void test_verify_retyped_application(void **state)
{
    fixture *f = *state;
    test_app t[6];
    fill(f, t);
    expect_why(f, "UPDATE applications SET applicant_id = CAST(applicant_id AS BLOB)"
                  " WHERE id = (SELECT application FROM decisions WHERE seq = 8)", 8,
               "mismatch", "its application's column applicant_id is stored as a blob");
}

/* Records cut off the end leave their application row behind: the chain
 * alone holds, the applications table says what is missing. */
static void test_verify_cut_tail_left_application(void **state)
{
    fixture *f = *state;
    test_app t[6];
    fill(f, t);
    expect_why(f, "DELETE FROM decisions WHERE seq = 10", 10, "cut_tail",
               "holds record 10, but the chain ends at record 9");
}

/* An application row no decision points to was added after the fact. */
static void test_verify_orphan_application(void **state)
{
    fixture *f = *state;
    test_app t[6];
    fill(f, t);
    expect_why(f, "INSERT INTO applications (request, as_of, ruleset, received_at, decided_at,"
                  " first_seq, ndecisions) SELECT request, as_of, ruleset, received_at,"
                  " decided_at, 2, 1 FROM applications WHERE id = 1", 11, "orphan",
               "holds 7 rows, but the decisions point to 6");
}

/* SQL: application ID copied as application 100, its request key KEY (an
 * SQL expression). */
#define APP_COPY(id, key)                                                                    \
    "INSERT INTO applications SELECT 100, request, " key ", fingerprint, applicant_id, as_of," \
    " ruleset, received_at, decided_at, client_uid, client_pid, first_seq, ndecisions"         \
    " FROM applications WHERE id = " #id ";"

/* The column that links a record to its application is not hashed: a
 * record of a screen pointed at a copy of its application (the same
 * content, the same hash, when it has no request key to keep unique) left
 * a count to spare for a forged row, which then claimed a request key.  An
 * application's records run from its first_seq, all of them, and
 * applications come in the order of theirs.  (Here the screen has a key,
 * which the copy cannot share: the check comes before the hash.) */
static void test_verify_application_copied(void **state)
{
    fixture *f = *state;
    test_app t[6];
    fill(f, t);
    expect_why(f, "INSERT INTO applications (id, request, request_key, as_of, ruleset,"
                  " received_at, decided_at, first_seq, ndecisions) SELECT 0, '{}', 'FORGED',"
                  " as_of, ruleset, received_at, decided_at, 1, 1 FROM applications WHERE id = 1;"
                  APP_COPY(3, "NULL")
                  "UPDATE decisions SET application = 100 WHERE seq = 5",
               5, "mismatch", "while the one before it lists records up to 7");
}

/* A record moved to an identical copy of its application with a higher
 * number, the original row deleted: every hash holds, the count too, and
 * the next application comes before it. */
static void test_verify_application_renumbered_up(void **state)
{
    fixture *f = *state;
    test_app t[6];
    fill(f, t);
    expect_why(f, APP_COPY(2, "request_key")
                  "UPDATE decisions SET application = 100 WHERE application = 2;"
                  "DELETE FROM applications WHERE id = 2",
               3, "mismatch", "applications are numbered in the order of their records");
}

/* The decisions table rebuilt without UNIQUE on decision_id, then a record
 * appended -- hashed as the chain wants, so that it holds, a signed
 * checkpoint before it too -- under the id of an earlier one: lookups by
 * that id could find either. */
static void test_verify_duplicate_id(void **state)
{
    fixture *f = *state;
    test_app t[6], x;
    fill(f, t);
    tamper(f, "CREATE TABLE d2 (seq INTEGER PRIMARY KEY, decision_id TEXT NOT NULL,"
              " application INTEGER NOT NULL, program TEXT NOT NULL, program_version TEXT,"
              " outcome TEXT NOT NULL, applicant_id TEXT, as_of TEXT NOT NULL,"
              " decided_at TEXT NOT NULL, ruleset TEXT NOT NULL, decision TEXT NOT NULL,"
              " prev_hash BLOB NOT NULL, hash BLOB NOT NULL);"
              "INSERT INTO d2 SELECT * FROM decisions; DROP TABLE decisions;"
              "ALTER TABLE d2 RENAME TO decisions;");
    store_report rep;
    err e = {0};
    assert_int_equal(store_verify_chain(f->st, NULL, 0, &rep, NULL, NULL, &e), 0);
    make_app(f, &x, "A9", 1, NULL, NULL);
    x.dec[0].decision_id = t[1].ids[0];
    assert_int_equal(append1(f, &x, NULL), STORE_NEW);
    assert_int_equal(store_verify_chain(f->st, NULL, 0, &rep, NULL, NULL, &e), 1);
    assert_string_equal(e.code, "duplicate");
    assert_int_equal(rep.bad_seq, 11);
    assert_string_equal(rep.bad_id, t[1].ids[0]);
    if (!strstr(e.msg, "records 2 and 11 carry the same decision id"))
        fail_msg("not said: %s", e.msg);
}

/* The applicant index is checked against the decisions: an entry taken out
 * (the decision would be missing from the past rules are given), one that
 * names no decision, one in both levels: each fails verify, naming the
 * record; put back, verify passes. */
static void test_verify_applicant_index(void **state)
{
    fixture *f = *state;
    test_app t[6];
    fill(f, t);
    store_report rep;
    err e = {0};
    assert_int_equal(store_verify_chain(f->st, NULL, 0, &rep, NULL, NULL, &e), 0);
    static const struct {
        const char *sql, *undo, *says;
        int64_t seq;
    } cases[] = {
        {"DELETE FROM applicant_recent WHERE seq = 3",
         "INSERT INTO applicant_recent SELECT applicant_id, seq FROM decisions WHERE seq = 3",
         "record 3 (decision ", 3},
        {"INSERT INTO applicant_recent VALUES ('A9', 4)", "DELETE FROM applicant_recent WHERE"
         " applicant_id = 'A9'", "holds record 4 for applicant A9", 4},
        {"INSERT INTO applicant_index SELECT applicant_id, seq FROM decisions WHERE seq = 5",
         "DROP TRIGGER applicant_index_no_delete; DELETE FROM applicant_index WHERE seq = 5",
         "holds record 5 for applicant", 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tamper(f, cases[i].sql);
        assert_int_equal(store_verify_chain(f->st, NULL, 0, &rep, NULL, NULL, &e), 1);
        assert_string_equal(e.code, "applicant_index");
        assert_int_equal(rep.bad_seq, cases[i].seq);
        if (!strstr(e.msg, cases[i].says))
            fail_msg("not said: %s", e.msg);
        tamper(f, cases[i].undo);
        assert_int_equal(store_verify_chain(f->st, NULL, 0, &rep, NULL, NULL, &e), 0);
    }
}

/* A level of the applicant index rebuilt without its primary key, one
 * decision's entry taken out and another's put in twice: as many entries
 * as decisions with an applicant, each naming such a decision, yet record 3
 * is no longer in the past that history-aware rules are given. */
static void test_verify_applicant_index_rebuilt(void **state)
{
    fixture *f = *state;
    test_app t[6];
    fill(f, t);
    tamper(f, "CREATE TABLE r2 (applicant_id TEXT NOT NULL, seq INTEGER NOT NULL);"
              "INSERT INTO r2 SELECT applicant_id, seq FROM applicant_recent WHERE seq <> 3;"
              "INSERT INTO r2 SELECT applicant_id, seq FROM applicant_recent WHERE seq = 4;"
              "DROP TABLE applicant_recent; ALTER TABLE r2 RENAME TO applicant_recent");
    store_report rep;
    err e = {0};
    assert_int_equal(store_verify_chain(f->st, NULL, 0, &rep, NULL, NULL, &e), 1);
    assert_string_equal(e.code, "applicant_index");
    assert_int_equal(rep.bad_seq, 4);
    if (!strstr(e.msg, "holds record 4 for applicant A3, which that record is not, or holds it "
                       "twice"))
        fail_msg("not said: %s", e.msg);
}

/* Another program's SQLite file, or one of a newer eligo: refused as it is,
 * left in its journal mode (putting it in WAL mode came first, and stayed). */
static void test_open_foreign_untouched(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *sql, *says;
    } files[] = {
        {"CREATE TABLE x (a); INSERT INTO x VALUES (1)", "is an SQLite database but not eligo's"},
        {"CREATE TABLE t (a); PRAGMA user_version = 12", "is an SQLite database but not eligo's"},
        {"CREATE TABLE t (a); PRAGMA user_version = 99; PRAGMA application_id = 1164732209",
         "has database schema version 99, newer than this eligo knows"},
        /* No table yet, but marked as another program's. */
        {"PRAGMA application_id = 99", "is an SQLite database but not eligo's"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[160];
        snprintf(path, sizeof path, "%s/other%zu.db", f->dir, i);
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, files[i].sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        err e = {0};
        store *st = NULL;
        assert_int_equal(store_open(&st, path, 0, &e), -1);
        if (!strstr(e.msg, files[i].says))
            fail_msg("'%s' not in '%s'", files[i].says, e.msg);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        sqlite3_stmt *q = NULL;
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(q, 0), "delete");
        sqlite3_finalize(q);
        sqlite3_close(db);
        unlink(path);
    }
}

/* A file whose user_version was set back would have a reader stand in for
 * tables it holds: refused by name. */
static void test_readonly_version_set_back(void **state)
{
    fixture *f = *state;
    store_close(f->st);
    f->st = NULL;
    tamper(f, "PRAGMA user_version = 1");
    err e = {0};
    store *st;
    assert_int_equal(store_open(&st, f->path, STORE_READONLY, &e), -1);
    assert_non_null(strstr(e.msg, "says it is schema 1 but holds the table reviews of schema 2"));
}

static void test_verify_altered_client(void **state)
{
    fixture *f = *state;
    test_app t[6];
    fill(f, t);
    expect_bad(f, "UPDATE applications SET client_uid = 0 WHERE id = 2", 2, t[1].ids[0], 1);
}

static void test_verify_deleted_row(void **state)
{
    fixture *f = *state;
    test_app t[6];
    fill(f, t);
    /* The record after the gap no longer chains; 4 records were intact. */
    expect_bad(f, "DELETE FROM decisions WHERE seq = 5", 6, t[2].ids[3], 4);
}

static void test_verify_deleted_application(void **state)
{
    fixture *f = *state;
    test_app t[6];
    fill(f, t);
    expect_bad(f, "DELETE FROM applications WHERE id = 4", 8, t[3].ids[0], 7);
}

static void test_verify_renumbered(void **state)
{
    fixture *f = *state;
    test_app t[6];
    fill(f, t);
    /* Delete seq 1 and shift every other down by one: no gap, but the
     * hashes cover both the seq and the previous hash. */
    expect_bad(f, "DELETE FROM decisions WHERE seq = 1;"
                  "UPDATE decisions SET seq = seq - 1",
               1, t[1].ids[0], 0);
}

static void test_verify_altered_rules(void **state)
{
    fixture *f = *state;
    test_app t[6], later;
    fill(f, t);
    /* Records 11.. decided under a second rule set; its own file is changed. */
    err e = {0};
    ruleset_file files2[2] = {test_files[0], FILE_OF("other.lua", "-- other\n")};
    ruleset *rs2 = ruleset_from_files(files2, 2, &e);
    assert_non_null(rs2);
    assert_int_equal(store_put_ruleset(f->st, rs2, &e), 0);
    make_app(f, &later, "A1", 1, NULL, NULL);
    later.app.ruleset = ruleset_hash(rs2);
    assert_int_equal(append1(f, &later, NULL), STORE_NEW);
    char set[13];
    snprintf(set, sizeof set, "%s", ruleset_hash(rs2));
    ruleset_free(rs2);
    expect_bad(f, "DROP TRIGGER file_texts_no_update;"
                  "UPDATE file_texts SET text = '-- other, edited' WHERE sha256 ="
                  " (SELECT sha256 FROM ruleset_files WHERE name = 'other.lua')",
               11, later.ids[0], 10);
    /* The reason names the set and the file changed: where to look. */
    store_report rep;
    assert_int_equal(store_verify_chain(f->st, NULL, 0, &rep, NULL, NULL, &e), 1);
    if (!strstr(e.msg, set) ||
        !strstr(e.msg, "a file's sha256 is not the SHA-256 of its text (other.lua)"))
        fail_msg("the set %s and other.lua are not named in '%s'", set, e.msg);
}

/* A stored rule set that no record was decided under is checked too: the
 * chain holds, but its changed file fails verify, which names the set. */
static void test_verify_altered_unused_rules(void **state)
{
    fixture *f = *state;
    test_app t[6];
    fill(f, t);
    err e = {0};
    ruleset_file files2[2] = {test_files[0], FILE_OF("unused.lua", "-- loaded, never used\n")};
    ruleset *rs2 = ruleset_from_files(files2, 2, &e);
    assert_non_null(rs2);
    assert_int_equal(store_put_ruleset(f->st, rs2, &e), 0);
    char hash[65];
    snprintf(hash, sizeof hash, "%s", ruleset_hash(rs2));
    ruleset_free(rs2);
    store_report rep;
    assert_int_equal(store_verify_chain(f->st, NULL, 0, &rep, NULL, NULL, &e), 0);
    tamper(f, "DROP TRIGGER file_texts_no_update;"
              "UPDATE file_texts SET text = '-- edited' WHERE sha256 ="
              " (SELECT sha256 FROM ruleset_files WHERE name = 'unused.lua')");
    assert_int_equal(store_verify_chain(f->st, NULL, 0, &rep, NULL, NULL, &e), 1);
    assert_string_equal(e.code, "ruleset");
    assert_int_equal(rep.checked, 10);   /* every record holds */
    assert_int_equal(rep.bad_seq, 11);   /* so the fault is after them all (audit show) */
    if (!strstr(e.msg, hash) || !strstr(e.msg, "no record was decided under it") ||
        !strstr(e.msg, "): a file's sha256 is not the SHA-256 of its text"))
        fail_msg("the set %s is not named so in '%s'", hash, e.msg);
    /* Damage the files still hash alike through is said as what it is. */
    tamper(f, "UPDATE file_texts SET text = '-- loaded, never used\n' WHERE sha256 ="
              " (SELECT sha256 FROM ruleset_files WHERE name = 'unused.lua');"
              "DROP TRIGGER rulesets_no_update;"
              "UPDATE rulesets SET nfiles = nfiles + 1 WHERE hash = (SELECT ruleset FROM"
              " ruleset_files WHERE name = 'unused.lua')");
    assert_int_equal(store_verify_chain(f->st, NULL, 0, &rep, NULL, NULL, &e), 1);
    if (!strstr(e.msg, "): its count of files is not the number of its files"))
        fail_msg("not said as a count of files: '%s'", e.msg);
}

/* A rule set's file sizes and count are not hashed; each must still say
 * what it describes. */
static void test_verify_rules_size_and_count(void **state)
{
    fixture *f = *state;
    test_app t[6];
    fill(f, t);
    expect_why(f, "DROP TRIGGER ruleset_files_no_update; UPDATE ruleset_files SET size = size + 1"
                  " WHERE name = 'idmaj.test.lua'",
               1, "mismatch", "a file's recorded size is not the size of its text (idmaj.test.lua)");
    tamper(f, "UPDATE ruleset_files SET size = size - 1 WHERE name = 'idmaj.test.lua';"
              "DROP TRIGGER rulesets_no_update; UPDATE rulesets SET nfiles = nfiles + 1");
    int64_t checked, bad;
    char id[64];
    assert_int_equal(verify(f, &checked, &bad, id), 1);
    assert_int_equal(bad, 1);
    tamper(f, "UPDATE rulesets SET nfiles = nfiles - 1");
    assert_int_equal(verify(f, &checked, &bad, id), 0);
}

/* Two faults in two files: the message says the one it names first (a
 * wrong sha256 before a wrong size) with that file, not the other's. */
static void test_verify_rules_blame(void **state)
{
    fixture *f = *state;
    test_app t[6];
    fill(f, t);
    /* idmaj.lua is read first: its size is wrong; idmaj.test.lua's text
     * changed, its length kept. */
    expect_why(f, "DROP TRIGGER ruleset_files_no_update; DROP TRIGGER file_texts_no_update;"
                  "UPDATE ruleset_files SET size = size + 1 WHERE name = 'idmaj.lua';"
                  "UPDATE file_texts SET text = replace(text, '\"x\"', '\"y\"') WHERE sha256 ="
                  " (SELECT sha256 FROM ruleset_files WHERE name = 'idmaj.test.lua')",
               1, "mismatch", "a file's sha256 is not the SHA-256 of its text (idmaj.test.lua)");
    /* A fault no file is named for names none. */
    tamper(f, "UPDATE file_texts SET text = replace(text, '\"y\"', '\"x\"');"
              "UPDATE ruleset_files SET name = CAST(CAST(name AS BLOB) || x'0078' AS TEXT)"
              " WHERE name = 'idmaj.test.lua'");
    store_report rep;
    err e = {0};
    assert_int_equal(store_verify_chain(f->st, NULL, 0, &rep, NULL, NULL, &e), 1);
    if (!strstr(e.msg, "a file's name holds a NUL byte") || strstr(e.msg, "(idmaj"))
        fail_msg("a NUL in a name, and no file named: '%s'", e.msg);
}

/* A rule set's labels are not hashed into its key either: a file's name,
 * the key of its text, the set's own key, and how they are stored. */
static void test_verify_rules_labels(void **state)
{
    static const char *const tampers[] = {
        "DROP TRIGGER ruleset_files_no_update;"
        "UPDATE ruleset_files SET name = CAST(CAST(name AS BLOB) || x'0078' AS TEXT)",
        "DROP TRIGGER ruleset_files_no_update; DROP TRIGGER file_texts_no_update;"
        "UPDATE ruleset_files SET sha256 = 'deadbeef' WHERE sha256 ="
        " (SELECT sha256 FROM file_texts ORDER BY rowid LIMIT 1);"
        "UPDATE file_texts SET sha256 = 'deadbeef' WHERE rowid ="
        " (SELECT rowid FROM file_texts ORDER BY rowid LIMIT 1)",
        "DROP TRIGGER file_texts_no_update; UPDATE file_texts SET text = CAST(text AS BLOB)",
        "DROP TRIGGER rulesets_no_update; UPDATE rulesets SET hash ="
        " CAST(CAST(hash AS BLOB) || x'0078' AS TEXT)",
    };
    for (size_t i = 0; i < sizeof tampers / sizeof tampers[0]; i++) {
        fixture *f = *state;
        test_app t[6];
        fill(f, t);
        expect_why(f, tampers[i], 1, "mismatch", "rule set");
        teardown(state);
        assert_int_equal(setup(state), 0);
    }
}

static void test_verify_reasons(void **state)
{
    fixture *f = *state;
    test_app t[6];
    fill(f, t);
    tamper(f, "DROP TRIGGER decisions_no_delete; DELETE FROM decisions WHERE seq IN (4, 5)");
    int64_t checked, bad;
    char id[64];
    err e = {0};
    assert_int_equal(store_verify(f->st, &checked, &bad, id, NULL, NULL, &e), 1);
    assert_int_equal(bad, 6);
    assert_string_equal(e.msg, "records 4 to 5 are missing before it");
}

static void test_reopen_keeps_head(void **state)
{
    fixture *f = *state;
    test_app t[6], more;
    fill(f, t);
    err e = {0};
    store_close(f->st);
    assert_int_equal(store_open(&f->st, f->path, 0, &e), 0);
    make_app(f, &more, "A1", 5, NULL, NULL);
    assert_int_equal(append1(f, &more, NULL), STORE_NEW);
    int64_t checked, bad;
    char id[64];
    assert_int_equal(verify(f, &checked, &bad, id), 0);
    assert_int_equal(checked, 15);

    /* Read-only: reads work, writes are refused. */
    store *ro;
    assert_int_equal(store_open(&ro, f->path, STORE_READONLY, &e), 0);
    assert_int_equal(store_count(ro), 15);
    buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(store_get_decision(ro, more.ids[4], &b, &e), 0);
    assert_string_equal(b.data, more.json[4]);
    buf_free(&b);
    test_app x;
    make_app(f, &x, "A1", 1, NULL, NULL);
    store_outcome out;
    assert_int_equal(store_append(ro, &x.app, 1, &out, &e), -1);
    assert_int_equal(store_event(ro, "start", "", &e), -1);
    store_close(ro);
}

static void test_two_writers(void **state)
{
    fixture *f = *state;
    err e = {0};
    store *second;
    assert_int_equal(store_open(&second, f->path, STORE_NOSYNC, &e), 0);
    /* Each handle caches the head; each must notice the other's commits. */
    for (int i = 0; i < 4; i++) {
        test_app t;
        make_app(f, &t, "A1", 1 + i % 2 * 4, NULL, NULL);
        store_outcome out;
        assert_int_equal(store_append(i % 2 ? second : f->st, &t.app, 1, &out, &e), 0);
        buf_free(&out.stored);
    }
    store_close(second);
    int64_t checked, bad;
    char id[64];
    assert_int_equal(verify(f, &checked, &bad, id), 0);
    assert_int_equal(checked, 12);
}

/* What a WAL watcher was told; it asks for a checkpoint from FROM pages on. */
typedef struct wal_seen {
    long last, most;
    long from;
} wal_seen;

static int wal_seen_fn(void *ud, long pages)
{
    wal_seen *w = ud;
    w->last = pages;
    if (pages > w->most)
        w->most = pages;
    return w->from > 0 && pages >= w->from;
}

static void append_n(fixture *f, int n)
{
    for (int i = 0; i < n; i++) {
        test_app t;
        make_app(f, &t, "A1", 5, NULL, NULL);
        assert_int_equal(append1(f, &t, NULL), STORE_NEW);
    }
}

static int count_row(void *ud, const store_row *r)
{
    (void)r;
    ++*(int *)ud;
    return 0;
}

/* store_hold: the store_each calls until store_release read one snapshot,
 * whatever another handle commits meanwhile. */
static void test_hold_snapshot(void **state)
{
    fixture *f = *state;
    err e = {0};
    append_n(f, 3);
    store *rd = NULL;
    assert_int_equal(store_open(&rd, f->path, STORE_READONLY, &e), 0);
    assert_int_equal(store_hold(rd, &e), 0);
    int n = 0;
    assert_int_equal(store_each(rd, NULL, count_row, &n, &e), 0);
    assert_int_equal(n, 15);   /* applications of 5 decisions */
    append_n(f, 2);            /* committed by the writer while the reader holds */
    n = 0;
    assert_int_equal(store_each(rd, NULL, count_row, &n, &e), 0);
    assert_int_equal(n, 15);
    store_release(rd);
    n = 0;
    assert_int_equal(store_each(rd, NULL, count_row, &n, &e), 0);
    assert_int_equal(n, 25);
    store_close(rd);
}

static void test_wal_watch(void **state)
{
    fixture *f = *state;
    err e = {0};
    wal_seen w = {0, 0, 0};
    assert_int_equal(store_wal_watch(f->st, wal_seen_fn, &w, &e), 0);

    /* No automatic checkpoint: the log only grows, past SQLite's 1000 pages. */
    append_n(f, 1100);
    assert_true(w.last > 1000);
    assert_int_equal(w.last, w.most);

    /* A checkpoint on another handle copies it all; the next commit starts
     * the log again. */
    store *other;
    long logged = 0, copied = 0;
    assert_int_equal(store_open(&other, f->path, STORE_NOSYNC, &e), 0);
    assert_int_equal(store_checkpoint(other, &logged, &copied, &e), 0);
    assert_true(logged >= w.last);
    assert_int_equal(copied, logged);
    append_n(f, 1);
    assert_true(w.last < 100);   /* one application's pages */

    /* The watcher asks: the store checkpoints after that commit, and the log
     * starts again at the one after. */
    w.from = 50;
    w.most = 0;
    append_n(f, 100);
    assert_true(w.most < 100);

    /* Unwatched: SQLite's automatic checkpoint is back, and nothing is told. */
    assert_int_equal(store_wal_watch(f->st, NULL, NULL, &e), 0);
    w = (wal_seen){0, 0, 0};
    append_n(f, 1100);
    assert_int_equal(w.most, 0);
    assert_int_equal(store_checkpoint(other, &logged, &copied, &e), 0);
    assert_true(logged <= 1000);

    /* A read-only handle has no log to watch or copy. */
    store *ro;
    assert_int_equal(store_open(&ro, f->path, STORE_READONLY, &e), 0);
    assert_int_equal(store_wal_watch(ro, wal_seen_fn, &w, &e), -1);
    assert_int_equal(store_checkpoint(ro, NULL, NULL, &e), -1);
    store_close(ro);
    store_close(other);
}

/* A file written over in place (a backup copied onto it: rollback mode in
 * its header) is not checkpointed into: the log's page 1 would put the WAL
 * mark back, and the writer, which checks before it commits, would no
 * longer see what happened. */
static void test_checkpoint_refuses_written_over(void **state)
{
    fixture *f = *state;
    err e = {0};
    wal_seen w = {0, 0, 0};
    assert_int_equal(store_wal_watch(f->st, wal_seen_fn, &w, &e), 0);   /* no automatic one */
    store *other;
    assert_int_equal(store_open(&other, f->path, STORE_NOSYNC, &e), 0);
    append_n(f, 200);
    FILE *fp = fopen(f->path, "r+b");
    assert_non_null(fp);
    unsigned char mark[2] = {1, 1}, now[2];
    assert_int_equal(fseek(fp, 18, SEEK_SET), 0);
    assert_int_equal(fwrite(mark, 1, 2, fp), 2);   /* same inode, same size */
    assert_int_equal(fflush(fp), 0);
    assert_int_equal(store_checkpoint(other, NULL, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "was written over while the server ran"));
    assert_int_equal(fseek(fp, 18, SEEK_SET), 0);
    assert_int_equal(fread(now, 1, 2, fp), 2);
    assert_memory_equal(now, mark, 2);   /* the log was not copied in */
    fclose(fp);
    store_close(other);
}

static int user_version(const char *path, int *nschema)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    int v = -1;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        return -1;
    if (sqlite3_prepare_v2(db, "SELECT (SELECT user_version FROM pragma_user_version),"
                           " (SELECT count(*) FROM sqlite_schema),"
                           " (SELECT page_size FROM pragma_page_size),"
                           " (SELECT journal_mode FROM pragma_journal_mode)",
                           -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
        v = sqlite3_column_int(s, 0);
        *nschema = sqlite3_column_int(s, 1);
        assert_int_equal(sqlite3_column_int(s, 2), 8192);
        assert_string_equal((const char *)sqlite3_column_text(s, 3), "wal");
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void test_migrations_idempotent(void **state)
{
    fixture *f = *state;
    err e = {0};
    int n1 = 0, n2 = 0;
    int v1 = user_version(f->path, &n1);
    assert_true(v1 >= 1);
    for (int i = 0; i < 3; i++) {
        store_close(f->st);
        assert_int_equal(store_open(&f->st, f->path, 0, &e), 0);
    }
    assert_int_equal(user_version(f->path, &n2), v1);
    assert_int_equal(n2, n1);

    /* Missing files are not created by read-only opens; foreign databases
     * are refused. */
    char p[128];
    store *st;
    snprintf(p, sizeof p, "%s/absent.db", f->dir);
    assert_int_equal(store_open(&st, p, STORE_READONLY, &e), -1);
    assert_int_equal(access(p, F_OK), -1);
    snprintf(p, sizeof p, "%s/foreign.db", f->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(&st, p, 0, &e), -1);
    assert_non_null(strstr(e.msg, "not eligo's"));
    unlink(p);
}

/* ---- Reading for audits: store_each, store_application_of, store_stats ---- */

typedef struct seen {
    int n;
    int64_t seq[16];
    char ids[16][32];
    char request[16][256];
    int64_t uid[16];
} seen;

static int seen_row(void *ud, const store_row *r)
{
    seen *s = ud;
    if (s->n < 16) {
        s->seq[s->n] = r->seq;
        snprintf(s->ids[s->n], sizeof s->ids[s->n], "%s", r->decision_id);
        snprintf(s->request[s->n], sizeof s->request[s->n], "%.*s", (int)r->request_len,
                 r->request ? r->request : "");
        s->uid[s->n] = r->client_uid;
    }
    s->n++;
    return 0;
}

static int each(fixture *f, const store_filter *flt, seen *s)
{
    err e = {0};
    memset(s, 0, sizeof *s);
    int rc = store_each(f->st, flt, seen_row, s, &e);
    if (rc != 0)
        fprintf(stderr, "store_each: %s\n", e.msg);
    return rc;
}

/* Seven decisions: A1 decide (seq 1), A2 screen (2-6), A3 decide (7). */
static void audit_data(fixture *f, test_app t[3])
{
    make_app(f, &t[0], "A1", 1, NULL, NULL);
    make_app(f, &t[1], "A2", 5, NULL, NULL);
    make_app(f, &t[2], "A3", 1, NULL, NULL);
    t[2].dec[0].outcome = "ineligible";
    for (int i = 0; i < 3; i++)
        assert_int_equal(append1(f, &t[i], NULL), STORE_NEW);
}

static void test_each_filters(void **state)
{
    fixture *f = *state;
    test_app t[3];
    seen s;
    audit_data(f, t);

    assert_int_equal(each(f, NULL, &s), 0);          /* all, newest first */
    assert_int_equal(s.n, 7);
    for (int i = 0; i < 7; i++)
        assert_int_equal(s.seq[i], 7 - i);
    assert_string_equal(s.ids[0], t[2].ids[0]);
    assert_string_equal(s.request[0], t[2].request);  /* with its application */
    assert_int_equal(s.uid[0], 1000);

    store_filter flt = {.applicant = "A2"};
    assert_int_equal(each(f, &flt, &s), 0);
    assert_int_equal(s.n, 5);
    assert_string_equal(s.request[4], t[1].request);
    flt = (store_filter){.program = "idmaj"};
    assert_int_equal(each(f, &flt, &s), 0);
    assert_int_equal(s.n, 3);
    flt = (store_filter){.program = "idmaj", .outcome = "ineligible"};
    assert_int_equal(each(f, &flt, &s), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.seq[0], 7);
    flt = (store_filter){.decision_id = t[1].ids[2]};
    assert_int_equal(each(f, &flt, &s), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.seq[0], 4);

    /* A rule set by a prefix of its hash; a prefix that is not its. */
    char prefix[9];
    snprintf(prefix, sizeof prefix, "%.8s", ruleset_hash(f->rs));
    flt = (store_filter){.ruleset = prefix};
    assert_int_equal(each(f, &flt, &s), 0);
    assert_int_equal(s.n, 7);
    prefix[0] = prefix[0] == '0' ? '1' : '0';
    assert_int_equal(each(f, &flt, &s), 0);
    assert_int_equal(s.n, 0);

    /* Dates, inclusive, on decided_at (2025-03-01T10:00:00.001Z) or as_of. */
    flt = (store_filter){.until = "2025-02-28"};
    assert_int_equal(each(f, &flt, &s), 0);
    assert_int_equal(s.n, 0);
    flt = (store_filter){.since = "2025-03-01", .until = "2025-03-01"};
    assert_int_equal(each(f, &flt, &s), 0);
    assert_int_equal(s.n, 7);
    flt = (store_filter){.since = "2025-03-01T10:00:00.002Z"};
    assert_int_equal(each(f, &flt, &s), 0);
    assert_int_equal(s.n, 0);
    flt = (store_filter){.since = "2025-03-01", .until = "2025-03-01", .by_as_of = 1};
    assert_int_equal(each(f, &flt, &s), 0);
    assert_int_equal(s.n, 7);
    flt = (store_filter){.since = "2025-03-02", .by_as_of = 1};
    assert_int_equal(each(f, &flt, &s), 0);
    assert_int_equal(s.n, 0);
}

static void test_each_paging(void **state)
{
    fixture *f = *state;
    test_app t[3];
    seen s;
    err e = {0};
    audit_data(f, t);

    store_filter flt = {.limit = 2, .offset = 2};
    assert_int_equal(each(f, &flt, &s), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.seq[0], 5);
    assert_int_equal(s.seq[1], 4);

    /* A cursor: the rows after decision seq 5 in the order read. */
    flt = (store_filter){.after = t[1].ids[3], .limit = 3};
    assert_int_equal(each(f, &flt, &s), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.seq[0], 4);
    assert_int_equal(s.seq[2], 2);
    flt = (store_filter){.after = t[1].ids[3], .oldest_first = 1};
    assert_int_equal(each(f, &flt, &s), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.seq[0], 6);
    assert_int_equal(s.seq[1], 7);

    flt = (store_filter){.after = "nope"};
    assert_int_equal(store_each(f->st, &flt, seen_row, &s, &e), -1);
    assert_string_equal(e.code, "not_found");

    /* Pages of 3 cover everything once. */
    int total = 0;
    for (int64_t off = 0; off < 9; off += 3) {
        flt = (store_filter){.limit = 3, .offset = off};
        assert_int_equal(each(f, &flt, &s), 0);
        for (int i = 0; i < s.n; i++)
            assert_int_equal(s.seq[i], 7 - off - i);
        total += s.n;
    }
    assert_int_equal(total, 7);
}

static int stop_at_two(void *ud, const store_row *r)
{
    (void)r;
    return ++*(int *)ud == 2 ? 42 : 0;
}

static void test_application_of(void **state)
{
    fixture *f = *state;
    test_app t[3];
    seen s = {0};
    err e = {0};
    audit_data(f, t);
    assert_int_equal(store_application_of(f->st, t[1].ids[4], seen_row, &s, &e), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.seq[0], 6);
    assert_string_equal(s.request[0], t[1].request);
    memset(&s, 0, sizeof s);
    assert_int_equal(store_application_of(f->st, "nope", seen_row, &s, &e), -1);
    assert_string_equal(e.code, "not_found");
    assert_int_equal(s.n, 0);

    int calls = 0;
    assert_int_equal(store_each(f->st, NULL, stop_at_two, &calls, &e), 42);
    assert_int_equal(calls, 2);
}

typedef struct tally {
    char lines[32][96];
    int n;
} tally;

static void tally_month(void *ud, const char *program, const char *month, const char *outcome,
                        int64_t n)
{
    tally *t = ud;
    if (t->n < 32)
        snprintf(t->lines[t->n++], 96, "M %s %s %s %lld", program, month, outcome,
                 (long long)n);
}

static void tally_failing(void *ud, const char *program, const char *criterion, int64_t failed,
                          int64_t missing, int64_t decisions)
{
    tally *t = ud;
    if (t->n < 32)
        snprintf(t->lines[t->n++], 96, "F %s %s %lld %lld %lld", program, criterion,
                 (long long)failed, (long long)missing, (long long)decisions);
}

static void test_stats(void **state)
{
    fixture *f = *state;
    /* edu fails more often than age, which comes first by name. */
    static const char *crit[3] = {
        "[{\"id\":\"age\",\"passed\":true},{\"id\":\"edu\",\"passed\":false}]",
        "[{\"id\":\"age\",\"passed\":null},{\"id\":\"edu\",\"passed\":false}]",
        "[{\"id\":\"age\",\"passed\":false},{\"id\":\"edu\",\"passed\":true}]",
    };
    static const char *outcome[3] = {"ineligible", "ineligible", "ineligible"};
    test_app t[3];
    for (int i = 0; i < 3; i++) {
        make_app(f, &t[i], i == 2 ? "B" : "A", 1, NULL, NULL);
        char id[32];   /* a copy: snprintf's source may not lie in its destination's struct */
        snprintf(id, sizeof id, "%s", t[i].ids[0]);
        snprintf(t[i].json[0], sizeof t[i].json[0],
                 "{\"decision_id\":\"%s\",\"criteria\":%s}", id, crit[i]);
        t[i].dec[0].json_len = strlen(t[i].json[0]);
        t[i].dec[0].outcome = outcome[i];
    }
    t[1].app.decided_at = "2025-04-02T09:00:00.000Z";
    for (int i = 0; i < 3; i++)
        assert_int_equal(append1(f, &t[i], NULL), STORE_NEW);

    tally ty = {0};
    err e = {0};
    assert_int_equal(store_stats(f->st, NULL, tally_month, tally_failing, &ty, &e), 0);
    assert_int_equal(ty.n, 4);
    assert_string_equal(ty.lines[0], "M idmaj 2025-03 ineligible 2");
    assert_string_equal(ty.lines[1], "M idmaj 2025-04 ineligible 1");
    assert_string_equal(ty.lines[2], "F idmaj edu 2 0 3");   /* most failures first */
    assert_string_equal(ty.lines[3], "F idmaj age 1 1 3");

    /* The same filters as store_each; months of as_of on request. */
    store_filter flt = {.applicant = "A", .by_as_of = 1};
    memset(&ty, 0, sizeof ty);
    assert_int_equal(store_stats(f->st, &flt, tally_month, tally_failing, &ty, &e), 0);
    assert_int_equal(ty.n, 3);
    assert_string_equal(ty.lines[0], "M idmaj 2025-03 ineligible 2");
    assert_string_equal(ty.lines[1], "F idmaj edu 2 0 2");
    assert_string_equal(ty.lines[2], "F idmaj age 0 1 2");

    flt = (store_filter){.until = "2025-03-31"};
    memset(&ty, 0, sizeof ty);
    assert_int_equal(store_stats(f->st, &flt, tally_month, NULL, &ty, &e), 0);
    assert_int_equal(ty.n, 1);
    assert_string_equal(ty.lines[0], "M idmaj 2025-03 ineligible 2");
}

/* ---- Reviews and anchored verification ------------------------------------ */

/* A review of DECISION_ID, its strings in static storage per call site. */
static store_review make_review(const char *review_id, const char *decision_id,
                                const char *action, const char *outcome)
{
    return (store_review){
        .review_id = review_id, .decision_id = decision_id, .action = action,
        .outcome = outcome, .by = "case worker 17", .reason = "documents checked in person",
        .reviewed_at = "2025-03-02T09:00:00.000Z", .client_uid = 1000, .client_pid = 77,
    };
}

static void test_review_append(void **state)
{
    fixture *f = *state;
    test_app t[3];
    for (int i = 0; i < 3; i++) {
        make_app(f, &t[i], "A1", 1, NULL, NULL);
        assert_int_equal(append1(f, &t[i], NULL), STORE_NEW);
    }
    buf before, b;
    buf_init(&before, 1 << 20);
    buf_init(&b, 1 << 20);
    err e = {0};
    assert_int_equal(store_get_decision(f->st, t[1].ids[0], &before, &e), 0);

    store_review rv = make_review("R1", t[1].ids[0], "confirm", NULL);
    assert_int_equal(store_append_review(f->st, &rv, &b, &e), 0);
    assert_string_equal(b.data,
                        "{\"review_id\":\"R1\",\"decision_id\":\"D000002\",\"seq\":4,"
                        "\"action\":\"confirm\",\"decision_outcome\":\"eligible\","
                        "\"by\":\"case worker 17\",\"reason\":\"documents checked in person\","
                        "\"reviewed_at\":\"2025-03-02T09:00:00.000Z\"}");
    buf_reset(&b);
    rv = make_review("R2", t[1].ids[0], "override", "ineligible");
    assert_int_equal(store_append_review(f->st, &rv, &b, &e), 0);
    assert_non_null(strstr(b.data, "\"seq\":5,\"action\":\"override\",\"outcome\":\"ineligible\""));

    /* Decisions take the next seq after the reviews; counts stay apart. */
    test_app later;
    make_app(f, &later, "A1", 5, NULL, NULL);
    assert_int_equal(append1(f, &later, NULL), STORE_NEW);
    assert_int_equal(store_count(f->st), 8);
    assert_int_equal(store_count_reviews(f->st), 2);

    /* The decision is unchanged; its reviews come oldest first. */
    buf_reset(&b);
    assert_int_equal(store_get_decision(f->st, t[1].ids[0], &b, &e), 0);
    assert_string_equal(b.data, before.data);
    buf_reset(&b);
    assert_int_equal(store_reviews(f->st, t[1].ids[0], &b, &e), 0);
    assert_true(strncmp(b.data, "[{\"review_id\":\"R1\"", 18) == 0);
    assert_non_null(strstr(b.data, "},{\"review_id\":\"R2\""));
    buf_reset(&b);
    assert_int_equal(store_reviews(f->st, t[0].ids[0], &b, &e), 0);
    assert_string_equal(b.data, "[]");
    /* For audits, each with who recorded it: the columns hashed beside its
     * JSON, which store_reviews leaves out. */
    assert_null(strstr(b.data, "client_uid"));
    buf_reset(&b);
    assert_int_equal(store_reviews_client(f->st, t[1].ids[0], &b, &e), 0);
    assert_non_null(strstr(b.data, "\"reviewed_at\":\"2025-03-02T09:00:00.000Z\","
                                   "\"client_uid\":1000,\"client_pid\":77,\"record\":4},"
                                   "{\"review_id\":\"R2\""));
    static const char last[] = "\"client_uid\":1000,\"client_pid\":77,\"record\":5}]";
    assert_true(b.len > sizeof last - 1 && !strcmp(b.data + b.len - (sizeof last - 1), last));
    buf_reset(&b);
    assert_int_equal(store_reviews_client(f->st, t[0].ids[0], &b, &e), 0);
    assert_string_equal(b.data, "[]");

    /* history carries them in the decision's item. */
    buf_reset(&b);
    assert_int_equal(store_history(f->st, "A1", 0, &b, &e), 0);
    assert_non_null(strstr(b.data, "\"applicant\":\"A1\",\"reviews\":[{\"review_id\":\"R1\""));

    int64_t checked, bad;
    char id[64];
    assert_int_equal(verify(f, &checked, &bad, id), 0);
    assert_int_equal(checked, 10);

    /* A new handle finds the head among the reviews too. */
    store_close(f->st);
    assert_int_equal(store_open(&f->st, f->path, STORE_NOSYNC, &e), 0);
    rv = make_review("R3", t[0].ids[0], "confirm", NULL);
    buf_reset(&b);
    assert_int_equal(store_append_review(f->st, &rv, &b, &e), 0);
    assert_non_null(strstr(b.data, "\"seq\":11,"));
    assert_int_equal(verify(f, &checked, &bad, id), 0);
    assert_int_equal(checked, 11);

    /* A stored review that is an empty object (the file altered) stays
     * JSON: no comma before the first member added, and the others kept. */
    tamper(f, "DROP TRIGGER reviews_no_update;"
              "UPDATE reviews SET review = '{ }' WHERE review_id = 'R2'");
    buf_reset(&b);
    assert_int_equal(store_reviews_client(f->st, t[1].ids[0], &b, &e), 0);
    static const char tail[] = "\"record\":4},{\"client_uid\":1000,\"client_pid\":77,"
                               "\"record\":5}]";
    if (b.len < sizeof tail - 1 || strcmp(b.data + b.len - (sizeof tail - 1), tail) != 0 ||
        strncmp(b.data, "[{\"review_id\":\"R1\"", 18) != 0)
        fail_msg("the reviews with R2 stored as '{ }': %s", b.data);
    /* One that is no JSON object is given as its text, at its record; one
     * with white space after its brace gets the members before it. */
    static const struct {
        const char *stored, *shown;
    } bent[] = {
        {"not json", "{\"stored\":\"not json\",\"client_uid\":1000,\"client_pid\":77,\"record\":5}]"},
        {"[1]", "{\"stored\":\"[1]\",\"client_uid\":1000,\"client_pid\":77,\"record\":5}]"},
        {"{\"a\":1} \n", "{\"a\":1,\"client_uid\":1000,\"client_pid\":77,\"record\":5}]"},
    };
    for (size_t i = 0; i < sizeof bent / sizeof bent[0]; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "UPDATE reviews SET review = '%s' WHERE review_id = 'R2'",
                 bent[i].stored);
        tamper(f, sql);
        buf_reset(&b);
        assert_int_equal(store_reviews_client(f->st, t[1].ids[0], &b, &e), 0);
        size_t n = strlen(bent[i].shown);
        if (b.len < n || strcmp(b.data + b.len - n, bent[i].shown) != 0)
            fail_msg("the reviews with R2 stored as '%s': %s", bent[i].stored, b.data);
    }
    buf_free(&b);
    buf_free(&before);
}

static void test_review_invalid(void **state)
{
    fixture *f = *state;
    test_app t;
    make_app(f, &t, "A1", 1, NULL, NULL);
    assert_int_equal(append1(f, &t, NULL), STORE_NEW);
    struct {
        store_review rv;
        const char *code, *names;
    } cases[] = {
        {make_review("R", t.ids[0], "approve", NULL), "invalid_request", "'action'"},
        {make_review("R", t.ids[0], NULL, NULL), "invalid_request", "'action'"},
        {make_review("R", t.ids[0], "override", NULL), "invalid_request", "'outcome'"},
        {make_review("R", t.ids[0], "override", "maybe"), "invalid_request", "'outcome'"},
        {make_review("R", t.ids[0], "confirm", "eligible"), "invalid_request", "'outcome'"},
        {make_review("R", "D999999", "confirm", NULL), "not_found", "D999999"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf b;
        buf_init(&b, 1 << 20);
        err e = {0};
        assert_int_equal(store_append_review(f->st, &cases[i].rv, &b, &e), -1);
        assert_string_equal(e.code, cases[i].code);
        assert_non_null(strstr(e.msg, cases[i].names));
        assert_int_equal(b.len, 0);
        buf_free(&b);
    }
    store_review rv = make_review("R", t.ids[0], "confirm", NULL);
    rv.by = "  ";
    err e = {0};
    buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(store_append_review(f->st, &rv, &b, &e), -1);
    assert_non_null(strstr(e.msg, "'by'"));
    rv.by = "someone";
    rv.reason = "";
    assert_int_equal(store_append_review(f->st, &rv, &b, &e), -1);
    assert_non_null(strstr(e.msg, "'reason'"));
    buf_free(&b);
    assert_int_equal(store_count_reviews(f->st), 0);
    assert_int_equal(store_count(f->st), 1);
}

static void test_verify_retyped_review(void **state)
{
    fixture *f = *state;
    test_app t;
    make_app(f, &t, "A1", 1, NULL, NULL);
    assert_int_equal(append1(f, &t, NULL), STORE_NEW);
    store_review rv = make_review("R1", t.ids[0], "confirm", NULL);
    buf b;
    buf_init(&b, 1 << 20);
    err e = {0};
    assert_int_equal(store_append_review(f->st, &rv, &b, &e), 0);
    buf_free(&b);
    expect_why(f, "DROP TRIGGER reviews_no_update; UPDATE reviews SET reason = CAST(reason AS BLOB)",
               2, "mismatch", "column reason is stored as a blob");
}

static void test_review_tampered(void **state)
{
    fixture *f = *state;
    test_app t[2];
    for (int i = 0; i < 2; i++) {
        make_app(f, &t[i], "A1", 1, NULL, NULL);
        assert_int_equal(append1(f, &t[i], NULL), STORE_NEW);
    }
    store_review rv = make_review("R1", t[0].ids[0], "override", "ineligible");
    buf b;
    buf_init(&b, 1 << 20);
    err e = {0};
    assert_int_equal(store_append_review(f->st, &rv, &b, &e), 0);
    buf_free(&b);
    tamper(f, "DROP TRIGGER reviews_no_update;"
              "UPDATE reviews SET outcome = 'eligible' WHERE review_id = 'R1'");
    store_report rep;
    assert_int_equal(store_verify_chain(f->st, NULL, 0, &rep, NULL, NULL, &e), 1);
    assert_string_equal(e.code, "mismatch");
    assert_int_equal(rep.bad_seq, 3);
    assert_string_equal(rep.bad_kind, "review");
    assert_string_equal(rep.bad_id, "R1");
    assert_string_equal(rep.bad_decision, t[0].ids[0]);
    assert_int_equal(rep.checked, 2);
}

/* Hash of record SEQ, read as a tamperer would not need to. */
static void stored_hash(fixture *f, int64_t seq, unsigned char out[STORE_HASH_SIZE])
{
    sqlite3 *db;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT hash FROM decisions WHERE seq = ?1 UNION ALL "
                                        "SELECT hash FROM reviews WHERE seq = ?1", -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(s, 1, seq);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_bytes(s, 0), STORE_HASH_SIZE);
    memcpy(out, sqlite3_column_blob(s, 0), STORE_HASH_SIZE);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void test_verify_anchor(void **state)
{
    fixture *f = *state;
    test_app t[6];
    for (int i = 0; i < 6; i++) {
        make_app(f, &t[i], "A1", 1, NULL, NULL);
        assert_int_equal(append1(f, &t[i], NULL), STORE_NEW);
    }
    err e = {0};
    store_report rep;
    store_anchor a = {.seq = 4};
    stored_hash(f, 4, a.hash);

    /* Intact: the anchor holds, and the report gives the head. */
    assert_int_equal(store_verify_chain(f->st, &a, 1, &rep, NULL, NULL, &e), 0);
    assert_int_equal(rep.anchor_held, 4);
    assert_int_equal(rep.checked, 6);
    assert_int_equal(rep.head_seq, 6);
    unsigned char h6[STORE_HASH_SIZE];
    stored_hash(f, 6, h6);
    assert_memory_equal(rep.head_hash, h6, STORE_HASH_SIZE);

    /* An anchor at record 0 signs the empty chain, whose head is all
     * zeros; any other head is no chain's. */
    store_anchor empty = {.seq = 0};
    assert_int_equal(store_verify_chain(f->st, &empty, 1, &rep, NULL, NULL, &e), 0);
    empty.hash[5] = 1;
    assert_int_equal(store_verify_chain(f->st, &empty, 1, &rep, NULL, NULL, &e), 1);
    assert_string_equal(e.code, "rewritten");
    assert_int_equal(rep.bad_seq, 0);
    assert_non_null(strstr(e.msg, "a checkpoint of record 0, an empty chain, signed the head "
                                  "0000000000010000..."));

    /* A different hash at the anchor: the past was rewritten. */
    store_anchor wrong = a;
    wrong.hash[0] ^= 1;
    assert_int_equal(store_verify_chain(f->st, &wrong, 1, &rep, NULL, NULL, &e), 1);
    assert_string_equal(e.code, "rewritten");
    assert_int_equal(rep.bad_seq, 4);
    assert_string_equal(rep.bad_id, t[3].ids[0]);
    assert_int_equal(rep.anchor_held, 0);

    /* With an earlier anchor that holds (given in any order), the rewrite
     * is placed after it. */
    store_anchor two[2] = {wrong, {.seq = 2}};
    stored_hash(f, 2, two[1].hash);
    assert_int_equal(store_verify_chain(f->st, two, 2, &rep, NULL, NULL, &e), 1);
    assert_string_equal(e.code, "rewritten");
    assert_int_equal(rep.anchor_held, 2);
    assert_int_equal(rep.bad_seq, 4);
    assert_non_null(strstr(e.msg, "after 2"));

    /* Two anchors at one record, one as it is and one not, in either order:
     * the one that holds places no rewrite "after 4 and at or before 4"; the
     * report gives the record's hash, by which the caller names the other. */
    for (int swap = 0; swap < 2; swap++) {
        store_anchor same[3] = {{.seq = 2}, a, wrong};
        stored_hash(f, 2, same[0].hash);
        if (swap) {
            same[1] = wrong;
            same[2] = a;
        }
        assert_int_equal(store_verify_chain(f->st, same, 3, &rep, NULL, NULL, &e), 1);
        assert_string_equal(e.code, "rewritten");
        assert_int_equal(rep.bad_seq, 4);
        assert_int_equal(rep.anchor_held, 2);
        assert_null(strstr(e.msg, "after 4"));
        assert_non_null(strstr(e.msg, "two histories of record 4"));
        assert_int_equal(rep.head_seq, 4);
        assert_memory_equal(rep.head_hash, a.hash, STORE_HASH_SIZE);
    }

    /* Cut the tail back to 3, applications and applicant index too: plain
     * verify passes, the anchor does not. */
    tamper(f, "DROP TRIGGER decisions_no_delete; DELETE FROM decisions WHERE seq > 3;"
              "DROP TRIGGER applications_no_delete; DELETE FROM applications WHERE first_seq > 3;"
              "DELETE FROM applicant_recent WHERE seq > 3;"
              "DROP TRIGGER applicant_index_no_delete; DELETE FROM applicant_index WHERE seq > 3");
    int64_t checked, bad;
    char id[64];
    assert_int_equal(verify(f, &checked, &bad, id), 0);
    assert_int_equal(store_verify_chain(f->st, &a, 1, &rep, NULL, NULL, &e), 1);
    assert_string_equal(e.code, "truncated");
    assert_int_equal(rep.bad_seq, 4);
    assert_int_equal(rep.checked, 3);
    assert_non_null(strstr(e.msg, "ends at record 3"));
}

/* SHA-256 of the file at PATH, as raw bytes: "unchanged" means this. */
static void file_digest(const char *path, unsigned char out[32])
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
    unsigned char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        assert_int_equal(EVP_DigestUpdate(md, chunk, n), 1);
    assert_int_equal(EVP_DigestFinal_ex(md, out, NULL), 1);
    EVP_MD_CTX_free(md);
    fclose(fp);
}

/* Append one decision for applicant A1, close the handle, and make the file
 * as an older eligo left it: schema 4's applicant tables and schema 3's
 * triggers undone, the index of before put back, then SQL run. */
static void make_older(fixture *f, test_app *t, const char *sql)
{
    make_app(f, t, "A1", 1, NULL, NULL);
    assert_int_equal(append1(f, t, NULL), STORE_NEW);
    store_close(f->st);
    f->st = NULL;
    tamper(f, "DROP TABLE database_id; DROP TABLE applicant_index; DROP TABLE applicant_recent;"
              "CREATE INDEX decisions_applicant ON decisions(applicant_id, seq DESC);"
              "DROP TRIGGER rulesets_no_update; DROP TRIGGER rulesets_no_delete;"
              "DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;");
    tamper(f, sql);
}

/* A database has an id of its own from its making, the same at every open;
 * a file from before ids (here schema 1, read as it is) has none, and its
 * first read-write open gives it one. */
static void test_database_id(void **state)
{
    fixture *f = *state;
    err e = {0};
    char id[33], again[33];
    assert_int_equal(store_database_id(f->st, id, &e), 0);
    assert_int_equal(strlen(id), 32);
    assert_int_equal(strspn(id, "0123456789abcdef"), 32);
    store_close(f->st);
    assert_int_equal(store_open(&f->st, f->path, STORE_READONLY, &e), 0);
    assert_int_equal(store_database_id(f->st, again, &e), 0);
    assert_string_equal(again, id);
    store_close(f->st);
    assert_int_equal(store_open(&f->st, f->path, 0, &e), 0);
    test_app t;
    make_older(f, &t, "DROP TABLE reviews; PRAGMA user_version = 1");
    assert_int_equal(store_open(&f->st, f->path, STORE_READONLY, &e), 0);
    assert_int_equal(store_database_id(f->st, again, &e), 0);
    assert_string_equal(again, "");
    store_close(f->st);
    assert_int_equal(store_open(&f->st, f->path, 0, &e), 0);
    assert_int_equal(store_database_id(f->st, again, &e), 0);
    assert_int_equal(strlen(again), 32);
}

/* A database made before reviews existed (schema 1), as an older eligo left
 * it: a read-only open reads it as it is, the file byte for byte unchanged;
 * the first read-write open migrates it, and it keeps verifying. */
static void test_migrate_to_reviews(void **state)
{
    fixture *f = *state;
    test_app t;
    make_older(f, &t, "PRAGMA journal_mode = DELETE; DROP TABLE reviews; PRAGMA user_version = 1");
    unsigned char before[32], after[32];
    file_digest(f->path, before);

    err e = {0};
    assert_int_equal(store_open(&f->st, f->path, STORE_READONLY, &e), 0);
    assert_int_equal(store_schema(f->st), 1);
    assert_int_equal(store_count(f->st), 1);
    assert_int_equal(store_count_reviews(f->st), 0);
    int64_t checked, bad;
    char id[64];
    assert_int_equal(verify(f, &checked, &bad, id), 0);
    assert_int_equal(checked, 1);
    buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(store_history(f->st, "A1", 0, &b, &e), 0);
    assert_non_null(strstr(b.data, t.ids[0]));
    assert_non_null(strstr(b.data, "\"reviews\":[]"));
    store_close(f->st);
    f->st = NULL;
    file_digest(f->path, after);
    assert_memory_equal(before, after, 32);

    /* A reader of the old file notices when a writer migrates it under it,
     * rather than read the new reviews through its stand-in table. */
    char moved[64];
    snprintf(moved, sizeof moved, "migrated from schema 1 to %d while open", STORE_SCHEMA);
    store *old;
    assert_int_equal(store_open(&old, f->path, STORE_READONLY, &e), 0);
    assert_int_equal(store_open(&f->st, f->path, STORE_NOSYNC, &e), 0);
    assert_int_equal(store_schema(f->st), STORE_SCHEMA);
    assert_int_equal(store_count(f->st), 1);
    store_review rv = make_review("R1", t.ids[0], "confirm", NULL);
    buf_reset(&b);
    assert_int_equal(store_append_review(f->st, &rv, &b, &e), 0);
    buf_free(&b);
    assert_int_equal(store_verify(old, &checked, &bad, id, NULL, NULL, &e), -1);
    assert_non_null(strstr(e.msg, moved));
    buf_init(&b, 1 << 20);
    e = (err){0};
    assert_int_equal(store_reviews(old, t.ids[0], &b, &e), -1);
    assert_non_null(strstr(e.msg, moved));
    assert_int_equal(b.len, 0);
    e = (err){0};
    assert_int_equal(store_history(old, "A1", 0, &b, &e), -1);
    assert_non_null(strstr(e.msg, moved));
    assert_int_equal(store_count(old), -1);
    assert_int_equal(store_count_reviews(old), -1);
    store_close(old);
    assert_int_equal(verify(f, &checked, &bad, id), 0);
    assert_int_equal(checked, 2);
    assert_int_equal(store_reviews(f->st, t.ids[0], &b, &e), 0);
    assert_non_null(strstr(b.data, "\"R1\""));
    buf_free(&b);
}

/* A reader of a schema-2 file, with schema 4's applicant tables stood in
 * for, is told to open it again once a writer has migrated it (a stand-in
 * would now hide the real tables), not given a stale answer; opened again,
 * it reads the review the writer added. */
static void test_migrate_triggers_under_reader(void **state)
{
    fixture *f = *state;
    test_app t;
    make_older(f, &t, "PRAGMA user_version = 2");
    err e = {0};
    store *old;
    assert_int_equal(store_open(&old, f->path, STORE_READONLY, &e), 0);
    assert_int_equal(store_schema(old), 2);
    assert_int_equal(store_open(&f->st, f->path, STORE_NOSYNC, &e), 0);
    store_review rv = make_review("R1", t.ids[0], "confirm", NULL);
    buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(store_append_review(f->st, &rv, &b, &e), 0);
    buf_reset(&b);
    assert_int_equal(store_reviews(old, t.ids[0], &b, &e), -1);
    char said[96];
    snprintf(said, sizeof said, "was migrated from schema 2 to %d while open; open it again",
             STORE_SCHEMA);
    assert_non_null(strstr(e.msg, said));
    store_close(old);
    assert_int_equal(store_open(&old, f->path, STORE_READONLY, &e), 0);
    assert_int_equal(store_reviews(old, t.ids[0], &b, &e), 0);
    assert_non_null(strstr(b.data, "\"R1\""));
    buf_free(&b);
    assert_int_equal(store_count_reviews(old), 1);
    int64_t checked, bad;
    char id[64];
    assert_int_equal(store_verify(old, &checked, &bad, id, NULL, NULL, &e), 0);
    assert_int_equal(checked, 2);
    store_close(old);
}

/* Column COL of every row SQL gives on the file at PATH, joined by commas,
 * into OUT. */
static const char *query_texts(const char *path, const char *sql, int col, char *out, size_t n)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    size_t len = 0;
    out[0] = '\0';
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW)
        len += (size_t)snprintf(out + len, n - len, "%s%s", len ? "," : "",
                                (const char *)sqlite3_column_text(s, col));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return out;
}

/* Whether the decision rows of JSON (a list whose members hold
 * "decision_id") are N, with the ids IDS[0], IDS[1], ... in order. */
static int rows_are(const char *json, char ids[][16], int n)
{
    const char *p = json;
    int k = 0;
    while ((p = strstr(p, "\"decision_id\":\"")) != NULL) {
        p += strlen("\"decision_id\":\"");
        if (k >= n || strncmp(p, ids[k], strlen(ids[k])) != 0)
            return 0;
        k++;
    }
    return k == n;
}

/* An applicant's decisions are found through the applicant index's two
 * levels, before and after merges: all of them, newest first, with a limit
 * and before a seq; the recent level never reaches STORE_RECENT_MAX (1024)
 * after a commit, its entries all come after the index's, and the two hold
 * one entry per decision with an applicant. */
static void test_applicant_index_levels(void **state)
{
    fixture *f = *state;
    enum { N = 2500, PEOPLE = 7 };
    static char ids[PEOPLE][N][16];   /* each person's, newest first once reversed */
    int count[PEOPLE] = {0};
    test_app t;
    for (int i = 0; i < N; i++) {
        char who[8];
        int p = (i * 5 + i / 3) % PEOPLE;
        snprintf(who, sizeof who, "P%d", p);
        make_app(f, &t, i % 11 == 10 ? NULL : who, 1, NULL, NULL);
        if (i % 11 == 10)
            t.app.applicant_id = NULL;   /* a decision without an applicant */
        assert_int_equal(append1(f, &t, NULL), STORE_NEW);
        if (i % 11 != 10)
            snprintf(ids[p][count[p]++], 16, "%s", t.ids[0]);
    }
    buf b;
    buf_init(&b, 8 << 20);
    err e = {0};
    for (int p = 0; p < PEOPLE; p++) {
        static char newest[N][16];
        char who[8];
        snprintf(who, sizeof who, "P%d", p);
        for (int k = 0; k < count[p]; k++)
            snprintf(newest[k], 16, "%s", ids[p][count[p] - 1 - k]);
        buf_reset(&b);
        int64_t top = 0;
        assert_int_equal(store_applicant_decisions(f->st, who, 0, 0, &b, &top, &e), count[p]);
        assert_true(rows_are(b.data, newest, count[p]));
        buf_reset(&b);
        assert_int_equal(store_applicant_decisions(f->st, who, 0, 5, &b, NULL, &e),
                         count[p] < 50 ? count[p] : 50);
        assert_true(rows_are(b.data, newest, 5));
        buf_reset(&b);   /* before the newest: all but it */
        assert_int_equal(store_applicant_decisions(f->st, who, top, 0, &b, NULL, &e), count[p] - 1);
        assert_true(rows_are(b.data, newest + 1, count[p] - 1));
        buf_reset(&b);
        assert_int_equal(store_history(f->st, who, 0, &b, &e), 0);
        assert_true(rows_are(b.data, newest, count[p]));
    }
    buf_free(&b);
    char v[64];
    int recent = atoi(query_texts(f->path, "SELECT count(*) FROM applicant_recent", 0, v, sizeof v));
    int indexed = atoi(query_texts(f->path, "SELECT count(*) FROM applicant_index", 0, v, sizeof v));
    assert_true(recent < 1024 && indexed > 0);
    assert_int_equal(recent + indexed, N - N / 11);
    assert_string_equal(query_texts(f->path, "SELECT (SELECT max(seq) FROM applicant_index) <"
                                             " (SELECT coalesce(min(seq), 1e18) FROM applicant_recent)",
                                    0, v, sizeof v), "1");
    assert_string_equal(query_texts(f->path, "SELECT count(*) FROM (SELECT applicant_id, seq FROM"
                                             " decisions WHERE applicant_id IS NOT NULL EXCEPT"
                                             " SELECT * FROM (SELECT * FROM applicant_index UNION ALL"
                                             " SELECT * FROM applicant_recent))", 0, v, sizeof v), "0");
}

/* The default VFS, counting the files SQLite opens as statement journals:
 * a statement that may stop half-way through its rows keeps what it
 * changed in one, to undo it, in a temporary file once it is larger than
 * 64 KiB. */
static sqlite3_vfs *journal_vfs_real;
static int journal_vfs_opened;

static int journal_vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
                            int *out)
{
    (void)vfs;
    if (flags & SQLITE_OPEN_SUBJOURNAL)
        journal_vfs_opened++;
    return journal_vfs_real->xOpen(journal_vfs_real, name, file, flags, out);
}

/* A merge of the applicant index writes no statement journal: it moves its
 * entries in the commit's own transaction, which a failure rolls back
 * whole, so nothing has to be kept to undo it alone.  (Each merge of a
 * busy server wrote the index's pages it changed to a temporary file,
 * made and removed each time.)  Every entry is still in exactly one of
 * the two levels. */
static void test_merge_no_statement_journal(void **state)
{
    fixture *f = *state;
    err e = {0};
    store_close(f->st);
    f->st = NULL;
    journal_vfs_real = sqlite3_vfs_find(NULL);
    assert_non_null(journal_vfs_real);
    static sqlite3_vfs counting;
    counting = *journal_vfs_real;
    counting.zName = "eligo-test-journals";
    counting.pNext = NULL;
    counting.xOpen = journal_vfs_open;
    assert_int_equal(sqlite3_vfs_register(&counting, 1), SQLITE_OK);
    journal_vfs_opened = 0;
    assert_int_equal(store_open(&f->st, f->path, STORE_NOSYNC, &e), 0);

    /* Long applicant ids in no order, so that each merge changes every
     * page of an index of several: more than a statement journal keeps in
     * memory. */
    enum { BATCH = 64, N = 3 * 1024 + 10 };
    static test_app t[BATCH];
    static char who[BATCH][80];
    store_application apps[BATCH];
    store_outcome out[BATCH];
    for (int done = 0; done < N; done += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            snprintf(who[i], sizeof who[i], "%05d-an-applicant-id-long-enough-to-fill-pages",
                     (done + i) * 7919 % 4999);
            make_app(f, &t[i], who[i], 1, NULL, NULL);
            apps[i] = t[i].app;
        }
        assert_int_equal(store_append(f->st, apps, BATCH, out, &e), 0);
        for (int i = 0; i < BATCH; i++)
            buf_free(&out[i].stored);
    }
    store_close(f->st);
    f->st = NULL;
    assert_int_equal(sqlite3_vfs_unregister(&counting), SQLITE_OK);
    assert_int_equal(sqlite3_vfs_register(journal_vfs_real, 1), SQLITE_OK);
    assert_int_equal(journal_vfs_opened, 0);

    char v[64];
    int pages = atoi(query_texts(f->path, "SELECT count(*) FROM dbstat WHERE name ="
                                          " 'applicant_index'", 0, v, sizeof v));
    assert_true(pages > 8);   /* more than 64 KiB to keep, had it been kept */
    int indexed = atoi(query_texts(f->path, "SELECT count(*) FROM applicant_index", 0, v, sizeof v));
    int recent = atoi(query_texts(f->path, "SELECT count(*) FROM applicant_recent", 0, v, sizeof v));
    assert_int_equal(indexed, 3 * 1024);
    assert_int_equal(indexed + recent, (N + BATCH - 1) / BATCH * BATCH);
    assert_int_equal(store_open(&f->st, f->path, STORE_NOSYNC, &e), 0);
}

/* The pages a merge frees (the recent level's) are left as they were, not
 * written again as zeros: nothing deleted here is missing from the file
 * (the entries are now in the index), so erasing it would only cost a page
 * of the log for each.  Read from the file: page 1 names the freelist's
 * first trunk page, which lists the free leaves. */
static void test_merge_frees_unwritten(void **state)
{
    fixture *f = *state;
    err e = {0};
    enum { BATCH = 64 };
    static test_app t[BATCH];
    static char who[BATCH][80];
    store_application apps[BATCH];
    store_outcome out[BATCH];
    for (int done = 0; done < 1024; done += BATCH) {   /* the last batch merges */
        for (int i = 0; i < BATCH; i++) {
            snprintf(who[i], sizeof who[i], "%05d-an-applicant-id-long-enough-to-fill-pages",
                     done + i);
            make_app(f, &t[i], who[i], 1, NULL, NULL);
            apps[i] = t[i].app;
        }
        assert_int_equal(store_append(f->st, apps, BATCH, out, &e), 0);
        for (int i = 0; i < BATCH; i++)
            buf_free(&out[i].stored);
    }
    store_close(f->st);   /* the last close checkpoints the log into the file */
    f->st = NULL;
    char v[64];
    assert_string_equal(query_texts(f->path, "SELECT count(*) FROM applicant_recent", 0, v,
                                    sizeof v), "0");

    FILE *fp = fopen(f->path, "rb");
    assert_non_null(fp);
    static unsigned char page[8192];
    assert_int_equal(fread(page, 1, 100, fp), 100);
    assert_int_equal((page[16] << 8) | page[17], 8192);
    uint32_t trunk = (uint32_t)page[32] << 24 | page[33] << 16 | page[34] << 8 | page[35];
    assert_true(trunk > 1);
    assert_int_equal(fseek(fp, (long)(trunk - 1) * 8192, SEEK_SET), 0);
    assert_int_equal(fread(page, 1, sizeof page, fp), sizeof page);
    uint32_t leaves = (uint32_t)page[4] << 24 | page[5] << 16 | page[6] << 8 | page[7];
    assert_true(leaves >= 4);   /* some 70 bytes an entry: 1024 fill several pages */
    for (uint32_t k = 0; k < leaves; k++) {
        const unsigned char *n = page + 8 + 4 * k;
        uint32_t leaf = (uint32_t)n[0] << 24 | n[1] << 16 | n[2] << 8 | n[3];
        static unsigned char content[8192];
        assert_int_equal(fseek(fp, (long)(leaf - 1) * 8192, SEEK_SET), 0);
        assert_int_equal(fread(content, 1, sizeof content, fp), sizeof content);
        size_t nonzero = 0;
        for (size_t b = 0; b < sizeof content; b++)
            nonzero += content[b] != 0;
        assert_true(nonzero > 0);
    }
    fclose(fp);
    assert_int_equal(store_open(&f->st, f->path, STORE_NOSYNC, &e), 0);
}

/* A file of schema 3, with the index of the decisions' table: read as it
 * is, its applicant's decisions found through that index; opened to write,
 * migrated, the entries moved into the applicant index. */
static void test_migrate_applicant_index(void **state)
{
    fixture *f = *state;
    test_app t;
    make_older(f, &t, "PRAGMA user_version = 3");
    err e = {0};
    buf b;
    buf_init(&b, 1 << 20);
    char v[64], one[1][16];
    snprintf(one[0], 16, "%s", t.ids[0]);
    assert_int_equal(store_open(&f->st, f->path, STORE_READONLY, &e), 0);
    assert_int_equal(store_schema(f->st), 3);
    assert_int_equal(store_applicant_decisions(f->st, "A1", 0, 0, &b, NULL, &e), 1);
    assert_true(rows_are(b.data, one, 1));
    store_close(f->st);
    assert_string_equal(query_texts(f->path, "PRAGMA user_version", 0, v, sizeof v), "3");
    assert_int_equal(store_open(&f->st, f->path, STORE_NOSYNC, &e), 0);
    assert_int_equal(store_schema(f->st), STORE_SCHEMA);
    buf_reset(&b);
    assert_int_equal(store_applicant_decisions(f->st, "A1", 0, 0, &b, NULL, &e), 1);
    assert_true(rows_are(b.data, one, 1));
    buf_free(&b);
    assert_string_equal(query_texts(f->path, "SELECT applicant_id || ':' || seq FROM applicant_index",
                                    0, v, sizeof v), "A1:1");
    assert_string_equal(query_texts(f->path, "SELECT count(*) FROM sqlite_schema WHERE"
                                             " name = 'decisions_applicant'", 0, v, sizeof v), "0");
}

/* A file with the decisions' indexes of before, (program, decided_at) and
 * (decided_at), is left as it is by a read-only open, and given
 * (decided_at, program) in their place by a read-write one, at the same
 * schema version: no statement names an index, so an older eligo still
 * opens it. */
static void test_indexes_put_right(void **state)
{
    fixture *f = *state;
    test_app t;
    char names[256];
    make_app(f, &t, "A1", 1, NULL, NULL);
    assert_int_equal(append1(f, &t, NULL), STORE_NEW);
    store_close(f->st);
    f->st = NULL;
    tamper(f, "DROP INDEX decisions_time_program;"
              "CREATE INDEX decisions_program ON decisions(program, decided_at);"
              "CREATE INDEX decisions_time ON decisions(decided_at)");
    static const char indexes[] = "SELECT name FROM sqlite_schema WHERE type = 'index'"
                                  " AND tbl_name = 'decisions' ORDER BY name";
    static const char before[] = "decisions_program,decisions_time,"
                                 "sqlite_autoindex_decisions_1";
    assert_string_equal(query_texts(f->path, indexes, 0, names, sizeof names), before);
    err e = {0};
    store *ro;
    assert_int_equal(store_open(&ro, f->path, STORE_READONLY, &e), 0);
    store_close(ro);
    assert_string_equal(query_texts(f->path, indexes, 0, names, sizeof names), before);

    assert_int_equal(store_open(&f->st, f->path, STORE_NOSYNC, &e), 0);
    assert_string_equal(query_texts(f->path, indexes, 0, names, sizeof names),
                        "decisions_time_program,sqlite_autoindex_decisions_1");
    char latest[8];
    snprintf(latest, sizeof latest, "%d", STORE_SCHEMA);
    assert_string_equal(query_texts(f->path, "PRAGMA user_version", 0, names, sizeof names), latest);
    int64_t checked, bad;
    char id[64];
    assert_int_equal(verify(f, &checked, &bad, id), 0);
    assert_int_equal(checked, 1);
}

/* A read-only open refuses an SQLite file that is not eligo's by name. */
static void test_readonly_foreign(void **state)
{
    fixture *f = *state;
    store_close(f->st);
    f->st = NULL;
    tamper(f, "PRAGMA application_id = 7");
    err e = {0};
    store *st;
    assert_int_equal(store_open(&st, f->path, STORE_READONLY, &e), -1);
    char want[300];
    snprintf(want, sizeof want, "%s is not an eligo database (application_id 7)", f->path);
    if (!strstr(e.msg, want))
        fail_msg("'%s' not in '%s'", want, e.msg);

    /* Another program's file, with tables but no user_version, is said to
     * be one, not to have no schema. */
    char other[300];
    snprintf(other, sizeof other, "%s/other.db", f->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE x (a)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(&st, other, STORE_READONLY, &e), -1);
    snprintf(want, sizeof want, "%s is an SQLite database but not eligo's", other);
    if (!strstr(e.msg, want))
        fail_msg("'%s' not in '%s'", want, e.msg);
    unlink(other);
}

/* Schema 3: a rule set's row and the server's events are append-only, like
 * every other record. */
static void test_rulesets_events_append_only(void **state)
{
    fixture *f = *state;
    err e = {0};
    assert_int_equal(store_event(f->st, "start", "test", &e), 0);
    const char *sql[] = {
        "UPDATE events SET detail = 'x'", "DELETE FROM events",
        "INSERT INTO rulesets VALUES ('ab', 'now', 0); UPDATE rulesets SET nfiles = 1",
        "INSERT INTO rulesets VALUES ('cd', 'now', 0); DELETE FROM rulesets",
    };
    for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
        sqlite3 *db = NULL;
        char *msg = NULL;
        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
        assert_int_not_equal(sqlite3_exec(db, sql[i], NULL, NULL, &msg), SQLITE_OK);
        assert_non_null(msg);
        assert_non_null(strstr(msg, "append-only"));
        sqlite3_free(msg);
        sqlite3_close(db);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_and_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seen_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_applicant_index_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_no_statement_journal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_frees_unwritten, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_applicant_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_applicant_index_rebuilt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_seq_below_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_applicant_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeat_and_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeat_within_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeat_of_older_fingerprint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ruleset_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_intact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_altered_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_altered_column, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_altered_application, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_altered_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_deleted_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_deleted_application, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_renumbered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_altered_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_altered_unused_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_reasons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_watch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_refuses_written_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrations_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_application_of, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_review_append, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_review, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rows_standing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_review_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_review_tampered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_anchor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_database_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_to_reviews, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rulesets_events_append_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_triggers_under_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indexes_put_right, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly_foreign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_retyped_decision, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_retyped_application, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_retyped_review, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_rules_size_and_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_rules_blame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_cut_tail_left_application, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_orphan_application, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_application_copied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_duplicate_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_rules_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_application_renumbered_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly_version_set_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_foreign_untouched, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
