/* tests/unit/past.c -- the applicants' earlier decisions kept in memory:
 * what past_get answers after reads kept and commits handed over, the
 * tickets that keep a stale read out, the row limit, the window of the
 * store's choice, the byte cap, forget, an override's note and clear.
 * (The server end to end: tests/integration/replay.py, test_history_kept.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "past.h"

/* A row as the store writes it; ID goes in decision_id. */
static const char *row(char *out, size_t n, const char *id)
{
    snprintf(out, n, "{\"decision_id\":\"%s\",\"program\":\"intelaka\",\"program_version\":"
             "\"1\",\"outcome\":\"eligible\",\"as_of\":\"2025-01-01\",\"decided_at\":\"x\"}", id);
    return out;
}

static buf got;

/* What past_get says of ID: the array, or "-" when it keeps nothing. */
static const char *get(past *p, const char *id, uint64_t *ticket)
{
    buf *b = &got;
    buf_free(b);
    buf_init(b, 1 << 20);
    uint64_t t = 0;
    int rc = past_get(p, id, b, &t);
    if (ticket)
        *ticket = t;
    return rc == 1 ? b->data : "-";
}

/* Hand over one commit of one application of ID with ROWS, newest NEWEST. */
static void commit(past *p, const char *id, const char *rows, int64_t newest)
{
    past_note *n = past_note_new(id, rows, strlen(rows));
    assert_non_null(n);
    n->newest = newest;
    past_commit(p, &n, 1);
}

/* Read once, kept; each commit after goes in front; a commit the read held
 * already is not added twice. */
static void test_past_kept_then_added_to(void **state)
{
    (void)state;
    past *p = past_new(1 << 20, 200, 2000);
    char r1[256], r2[256], r3[256], text[1024];
    uint64_t t;
    assert_string_equal(get(p, "A", &t), "-");
    snprintf(text, sizeof text, "[%s]", row(r1, sizeof r1, "d1"));
    past_keep(p, "A", text, strlen(text), 1, 1, t);
    assert_string_equal(get(p, "A", NULL), text);
    commit(p, "A", row(r2, sizeof r2, "d2"), 2);
    snprintf(text, sizeof text, "[%s,%s]", r2, r1);
    assert_string_equal(get(p, "A", NULL), text);
    commit(p, "A", r2, 2);   /* the same seq again: already there */
    assert_string_equal(get(p, "A", NULL), text);
    commit(p, "B", row(r3, sizeof r3, "d3"), 3);   /* not kept: not added */
    assert_string_equal(get(p, "B", NULL), "-");
    past_free(p);
}

/* A read made before a commit touching the applicant, handed over before
 * the read is offered, is not kept: it may lack that commit. */
static void test_past_stale_read_refused(void **state)
{
    (void)state;
    past *p = past_new(1 << 20, 200, 2000);
    char r1[256], r2[256], text[1024];
    uint64_t t;
    assert_string_equal(get(p, "A", &t), "-");
    commit(p, "A", row(r2, sizeof r2, "d2"), 2);   /* after the ticket */
    snprintf(text, sizeof text, "[%s]", row(r1, sizeof r1, "d1"));
    past_keep(p, "A", text, strlen(text), 1, 1, t);
    assert_string_equal(get(p, "A", &t), "-");
    past_stats st;
    past_get_stats(p, &st);
    assert_int_equal(st.refused, 1);
    /* Read again now: kept. */
    snprintf(text, sizeof text, "[%s,%s]", r2, r1);
    past_keep(p, "A", text, strlen(text), 2, 2, t);
    assert_string_equal(get(p, "A", NULL), text);
    past_free(p);
}

/* An entry let go takes the commits it held with it: a read begun before
 * them, offered after, is not kept in its place. */
static void test_past_stale_read_after_eviction(void **state)
{
    (void)state;
    past *p = past_new(2048, 200, 2000);
    char r1[256], r2[256], text[1024], other[300], id[16];
    uint64_t early, t;
    assert_string_equal(get(p, "A", &early), "-");   /* a read begins: it will see d1 */
    snprintf(text, sizeof text, "[%s]", row(r1, sizeof r1, "d1"));
    assert_string_equal(get(p, "A", &t), "-");       /* another read, kept */
    past_keep(p, "A", text, strlen(text), 1, 1, t);
    commit(p, "A", row(r2, sizeof r2, "d2"), 2);
    char both[1024];
    snprintf(both, sizeof both, "[%s,%s]", r2, r1);
    assert_string_equal(get(p, "A", NULL), both);
    for (int i = 0; i < 30; i++) {   /* others push A out (2048 bytes hold a few) */
        snprintf(id, sizeof id, "B%d", i);
        get(p, id, &t);
        snprintf(other, sizeof other, "[%s]", row(r1, sizeof r1, id));
        past_keep(p, id, other, strlen(other), 10 + i, 1, t);
    }
    assert_string_equal(get(p, "A", &t), "-");
    past_keep(p, "A", text, strlen(text), 1, 1, early);   /* lacks d2: refused */
    assert_string_equal(get(p, "A", NULL), "-");
    past_free(p);
}

/* At most LIMIT rows, the newest; the cut finds rows whose strings hold
 * braces, commas and escaped quotes. */
static void test_past_row_limit(void **state)
{
    (void)state;
    past *p = past_new(1 << 20, 2, 20);
    char r[3][256], text[1024];
    uint64_t t;
    assert_string_equal(get(p, "A", &t), "-");
    row(r[0], sizeof r[0], "x},{\\\"y");
    past_keep(p, "A", "[]", 2, 0, 0, t);
    assert_string_equal(get(p, "A", NULL), "[]");
    commit(p, "A", r[0], 1);
    commit(p, "A", row(r[1], sizeof r[1], "d2"), 2);
    commit(p, "A", row(r[2], sizeof r[2], "d3}{"), 3);
    snprintf(text, sizeof text, "[%s,%s]", r[2], r[1]);
    assert_string_equal(get(p, "A", NULL), text);
    past_free(p);
}

/* The limit is per programme, as the store's: a programme decided often
 * does not push another's rows out. */
static void test_past_row_limit_per_program(void **state)
{
    (void)state;
    past *p = past_new(1 << 20, 2, 20);
    char r[4][256], text[2048];
    uint64_t t;
    assert_string_equal(get(p, "A", &t), "-");
    past_keep(p, "A", "[]", 2, 0, 0, t);
    commit(p, "A", row(r[0], sizeof r[0], "i1"), 1);   /* intelaka */
    for (int i = 0; i < 3; i++) {
        snprintf(r[1 + i], sizeof r[1 + i], "{\"decision_id\":\"t%d\",\"program\":\"taehil\","
                 "\"program_version\":\"1\",\"outcome\":\"eligible\",\"as_of\":\"2025-01-01\","
                 "\"decided_at\":\"x\"}", i);
        commit(p, "A", r[1 + i], 2 + i);
    }
    /* taehil's newest two, and intelaka's one, older than all of them */
    snprintf(text, sizeof text, "[%s,%s,%s]", r[3], r[2], r[0]);
    assert_string_equal(get(p, "A", NULL), text);

    /* Names are compared whole: two of 150 bytes differing in the last are
     * two programmes. */
    char name[2][160], rr[4][512];
    for (int k = 0; k < 2; k++) {
        memset(name[k], 'p', 150);
        name[k][149] = (char)('a' + k);
        name[k][150] = '\0';
    }
    assert_string_equal(get(p, "B", &t), "-");
    past_keep(p, "B", "[]", 2, 0, 0, t);
    for (int i = 0; i < 4; i++) {   /* a, b, b, b: a's one row must stay */
        snprintf(rr[i], sizeof rr[i], "{\"decision_id\":\"d%d\",\"program\":\"%s\","
                 "\"program_version\":\"1\",\"outcome\":\"eligible\",\"as_of\":\"2025-01-01\","
                 "\"decided_at\":\"x\"}", i, name[i > 0]);
        commit(p, "B", rr[i], 1 + i);
    }
    snprintf(text, sizeof text, "[%s,%s,%s]", rr[3], rr[2], rr[0]);
    assert_string_equal(get(p, "B", NULL), text);
    past_free(p);
}

/* The store chooses among an applicant's newest WINDOW decisions, and the
 * rows kept do not say how many lie between them: an applicant with as
 * many is not kept (a read that went through WINDOW), and one that commits
 * reach is let go, stamped, so that a read begun before is not kept
 * either. */
static void test_past_window(void **state)
{
    (void)state;
    past *p = past_new(1 << 20, 2, 5);
    char r[256], text[1024], id[16];
    uint64_t t, early;
    assert_string_equal(get(p, "A", &t), "-");
    snprintf(text, sizeof text, "[%s]", row(r, sizeof r, "d1"));
    past_keep(p, "A", text, strlen(text), 9, 5, t);   /* went through 5: maybe more */
    assert_string_equal(get(p, "A", &t), "-");
    past_stats st;
    past_get_stats(p, &st);
    assert_int_equal(st.refused, 1);

    past_keep(p, "A", text, strlen(text), 9, 3, t);   /* all 3 of them */
    assert_string_equal(get(p, "A", &early), text);
    commit(p, "A", row(r, sizeof r, "d10"), 10);      /* the 4th */
    assert_string_not_equal(get(p, "A", NULL), "-");
    for (int i = 11; i < 13; i++) {
        snprintf(id, sizeof id, "d%d", i);
        commit(p, "A", row(r, sizeof r, id), i);
    }
    assert_string_equal(get(p, "A", &t), "-");        /* the 5th let it go */
    past_keep(p, "A", text, strlen(text), 9, 3, early);
    assert_string_equal(get(p, "A", NULL), "-");
    past_free(p);
}

/* The store cuts the rows of the first 64 programmes it meets, newest
 * first, and keeps every row of any other: past that, which are cut
 * changes with each new programme, so the applicant is let go. */
static void test_past_many_programs(void **state)
{
    (void)state;
    past *p = past_new(1 << 20, 1, 100000);
    char r[256];
    uint64_t t;
    assert_string_equal(get(p, "A", &t), "-");
    past_keep(p, "A", "[]", 2, 0, 0, t);
    for (int i = 0; i < 64; i++) {
        snprintf(r, sizeof r, "{\"decision_id\":\"d%d\",\"program\":\"p%d\","
                 "\"program_version\":\"1\",\"outcome\":\"eligible\",\"as_of\":\"2025-01-01\","
                 "\"decided_at\":\"x\"}", i, i);
        commit(p, "A", r, 1 + i);
    }
    assert_string_not_equal(get(p, "A", NULL), "-");   /* 64 programmes: kept */
    snprintf(r, sizeof r, "{\"decision_id\":\"d64\",\"program\":\"p64\","
             "\"program_version\":\"1\",\"outcome\":\"eligible\",\"as_of\":\"2025-01-01\","
             "\"decided_at\":\"x\"}");
    commit(p, "A", r, 65);
    assert_string_equal(get(p, "A", NULL), "-");       /* a 65th: let go */
    past_free(p);
}

/* Within CAP bytes: the applicant asked for least recently goes first. */
static void test_past_cap(void **state)
{
    (void)state;
    past *p = past_new(4096, 200, 2000);
    char r[256], text[300], id[16];
    for (int i = 0; i < 100; i++) {
        uint64_t t;
        snprintf(id, sizeof id, "A%d", i);
        assert_string_equal(get(p, id, &t), "-");
        snprintf(text, sizeof text, "[%s]", row(r, sizeof r, id));
        past_keep(p, id, text, strlen(text), i + 1, 1, t);
        if (i >= 1)
            assert_string_not_equal(get(p, "A0", NULL), "-");   /* asked for: kept */
    }
    past_stats st;
    past_get_stats(p, &st);
    assert_true(st.bytes <= 4096);
    assert_true(st.applicants > 2 && st.applicants < 100);
    assert_string_equal(get(p, "A1", NULL), "-");   /* the least recent went */
    assert_string_not_equal(get(p, "A0", NULL), "-");
    assert_string_not_equal(get(p, "A99", NULL), "-");
    past_free(p);
}

/* Notes wait for a worker; past_tidy leaves a few waiting and puts them in
 * place once enough wait; past_forget drops everything and keeps nothing
 * after. */
static void test_past_tidy_and_forget(void **state)
{
    (void)state;
    past *p = past_new(1 << 20, 200, 2000);
    char r[256], text[300], id[16];
    uint64_t t;
    assert_string_equal(get(p, "A", &t), "-");
    snprintf(text, sizeof text, "[%s]", row(r, sizeof r, "d0"));
    past_keep(p, "A", text, strlen(text), 1, 1, t);
    past_stats st, before;
    past_get_stats(p, &before);
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "d%d", i + 1);
        commit(p, "A", row(r, sizeof r, id), i + 2);
    }
    past_tidy(p);   /* ten wait: left so */
    past_get_stats(p, &st);
    assert_int_equal(st.waiting, 10);
    assert_int_equal(st.bytes, before.bytes);
    for (int i = 10; i < 70; i++) {
        snprintf(id, sizeof id, "d%d", i + 1);
        commit(p, "A", row(r, sizeof r, id), i + 2);
    }
    past_tidy(p);   /* seventy: put in place */
    past_get_stats(p, &st);
    assert_int_equal(st.waiting, 0);
    assert_true(st.bytes > before.bytes);
    int rows = 0;
    for (const char *q = get(p, "A", NULL); (q = strstr(q, "\"decision_id\"")) != NULL; q++)
        rows++;
    assert_int_equal(rows, 71);
    past_forget(p);
    assert_string_equal(get(p, "A", &t), "-");
    past_keep(p, "A", text, strlen(text), 1, 1, t);
    assert_string_equal(get(p, "A", NULL), "-");
    commit(p, "A", r, 200);   /* freed, not kept */
    past_tidy(p);
    past_get_stats(p, &st);
    assert_int_equal(st.applicants, 0);
    past_free(p);
}

/* An override of one of A's decisions lets A go; a read begun before it
 * is not kept, one begun after is.  B, untouched, stays. */
static void test_past_changed(void **state)
{
    (void)state;
    past *p = past_new(1 << 20, 200, 2000);
    char r[256], text[300], rb[256], textb[300];
    uint64_t t, early;
    snprintf(text, sizeof text, "[%s]", row(r, sizeof r, "d1"));
    snprintf(textb, sizeof textb, "[%s]", row(rb, sizeof rb, "e1"));
    get(p, "A", &t);
    past_keep(p, "A", text, strlen(text), 1, 1, t);
    get(p, "B", &t);
    past_keep(p, "B", textb, strlen(textb), 2, 1, t);
    assert_string_equal(get(p, "A", NULL), text);
    past_note *n = past_note_changed("A");
    assert_non_null(n);
    past_commit(p, &n, 1);
    assert_string_equal(get(p, "A", &t), "-");
    assert_string_equal(get(p, "B", NULL), textb);
    past_keep(p, "A", text, strlen(text), 1, 1, t);   /* read after: kept */
    assert_string_equal(get(p, "A", NULL), text);

    /* Not kept when changed: a read begun before is refused. */
    assert_string_equal(get(p, "C", &early), "-");
    n = past_note_changed("C");
    past_commit(p, &n, 1);
    past_keep(p, "C", text, strlen(text), 1, 1, early);
    assert_string_equal(get(p, "C", &t), "-");
    past_keep(p, "C", text, strlen(text), 1, 1, t);
    assert_string_equal(get(p, "C", NULL), text);
    past_free(p);
}

/* past_clear lets everyone go, refuses reads begun before, and keeps what
 * is read after (unlike past_forget). */
static void test_past_clear(void **state)
{
    (void)state;
    past *p = past_new(1 << 20, 200, 2000);
    char r[256], text[300];
    uint64_t t, early;
    snprintf(text, sizeof text, "[%s]", row(r, sizeof r, "d1"));
    get(p, "A", &t);
    past_keep(p, "A", text, strlen(text), 1, 1, t);
    assert_string_equal(get(p, "Z", &early), "-");
    past_clear(p);
    past_stats st;
    past_get_stats(p, &st);
    assert_int_equal(st.applicants, 0);
    assert_int_equal(st.bytes, 0);
    assert_string_equal(get(p, "A", &t), "-");
    past_keep(p, "Z", text, strlen(text), 1, 1, early);   /* begun before */
    assert_string_equal(get(p, "Z", NULL), "-");
    past_keep(p, "A", text, strlen(text), 1, 1, t);
    assert_string_equal(get(p, "A", NULL), text);
    commit(p, "A", row(r, sizeof r, "d2"), 2);
    assert_non_null(strstr(get(p, "A", NULL), "\"d2\""));
    past_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_past_kept_then_added_to),
        cmocka_unit_test(test_past_stale_read_refused),
        cmocka_unit_test(test_past_stale_read_after_eviction),
        cmocka_unit_test(test_past_row_limit),
        cmocka_unit_test(test_past_row_limit_per_program),
        cmocka_unit_test(test_past_window),
        cmocka_unit_test(test_past_many_programs),
        cmocka_unit_test(test_past_cap),
        cmocka_unit_test(test_past_tidy_and_forget),
        cmocka_unit_test(test_past_changed),
        cmocka_unit_test(test_past_clear),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    buf_free(&got);
    return rc;
}
