/*
 * tests/unit/replay.c -- unit tests for core/replay.c and the store functions
 * it reads through (store_scan_*, store_applicant_decisions), on a temporary
 * database filled by a real engine and store_append, without a server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine.h"
#include "replay.h"
#include "ruleset.h"
#include "store.h"

#define NAPPS 40

/* Applicant I: aged 26, unemployed; applicants 0..3 share one id. */
#define REQUEST                                                                            \
    "{\"id\":%d,\"op\":\"%s\"%s,\"as_of\":\"2025-0%d-15\",\"applicant\":{"                 \
    "\"applicant_id\":\"U%d\",\"birth_date\":\"1998-05-10\",\"nationality\":\"MA\","       \
    "\"residence\":\"MA\",\"region\":\"Casablanca-Settat\",\"education\":\"bac+2\","       \
    "\"registered_with_agency\":true,\"employment_status\":\"unemployed\","                \
    "\"unemployed_since\":\"2024-06-15\",\"monthly_household_income\":%d,"                  \
    "\"household_size\":4,\"disability\":false,\"in_training\":false,\"business\":null,"    \
    "\"previous_benefits\":[]}}"

typedef struct fixture {
    char dir[64];
    char db[96];
    ruleset *rs;
    int64_t ndecisions;
} fixture;

/* Decide application I and append it, as the server's writer would. */
static void put(store *st, engine *en, int i, int64_t *ndecisions)
{
    char line[2048];
    int screen = i % 3 == 0;
    snprintf(line, sizeof line, REQUEST, i, screen ? "screen" : "decide",
             screen ? "" : ",\"program\":\"awrach\"", 3 + i % 6, i < 4 ? 0 : i,
             4000 + 300 * (i % 10));
    engine_result *r = engine_request(en, line, strlen(line), NULL);
    assert_non_null(r);
    assert_null(r->error_code);
    store_decision d[8];
    assert_true(r->ndecisions <= 8);
    for (size_t k = 0; k < r->ndecisions; k++)
        d[k] = (store_decision){r->decisions[k].decision_id, r->decisions[k].program,
                                r->decisions[k].program_version, r->decisions[k].outcome,
                                r->decisions[k].json, r->decisions[k].json_len};
    store_application a = {
        .request = line, .request_len = strlen(line), .fingerprint = r->fingerprint,
        .applicant_id = r->applicant_id, .as_of = r->as_of, .ruleset = r->ruleset,
        .received_at = "2026-01-01T00:00:00.000Z", .decided_at = "2026-01-01T00:00:00.001Z",
        .client_uid = -1, .client_pid = -1, .decisions = d, .ndecisions = r->ndecisions,
    };
    store_outcome out;
    err e;
    assert_int_equal(store_append(st, &a, 1, &out, &e), 0);
    buf_free(&out.stored);
    *ndecisions += (int64_t)r->ndecisions;
    engine_result_free(r);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    err e;
    store *st = NULL;
    snprintf(f->dir, sizeof f->dir, "/tmp/eligo-unit-replay-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
    f->rs = ruleset_load(ELIGO_SOURCE_DIR "/rules", &e);
    assert_non_null(f->rs);
    engine *en = engine_new(f->rs, NULL, &e);
    assert_non_null(en);
    assert_int_equal(store_open(&st, f->db, STORE_NOSYNC, &e), 0);
    assert_int_equal(store_put_ruleset(st, f->rs, &e), 0);
    for (int i = 0; i < NAPPS; i++)
        put(st, en, i, &f->ndecisions);
    store_close(st);
    engine_free(en);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char path[128];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s%s", f->db, suffix[i]);
        unlink(path);
    }
    rmdir(f->dir);
    ruleset_free(f->rs);
    free(f);
    return 0;
}

/* Every application once, in seq order, with its decisions together. */
static void test_scan_all(void **state)
{
    fixture *f = *state;
    store *st = NULL;
    store_scan *sc = NULL;
    store_scan_app a;
    err e;
    assert_int_equal(store_open(&st, f->db, STORE_READONLY, &e), 0);
    assert_int_equal(store_scan_open(st, NULL, &sc, &e), 0);
    int napps = 0, rc;
    int64_t ndec = 0, last = 0;
    while ((rc = store_scan_next(sc, &a, &e)) == 1) {
        assert_int_equal(a.first_seq, last + 1);
        assert_int_equal((int64_t)a.ndecisions, a.ndecisions_stored);
        assert_int_equal(a.ndecisions, napps % 3 == 0 ? 5 : 1);
        for (size_t k = 0; k < a.ndecisions; k++) {
            assert_int_equal(a.decisions[k].seq, a.first_seq + (int64_t)k);
            assert_true(a.decisions[k].json[0] == '{');
            assert_int_equal(strlen(a.decisions[k].json), a.decisions[k].json_len);
        }
        assert_memory_equal(a.request, "{\"id\":", 6);
        assert_int_equal(strlen(a.request), a.request_len);
        last = a.first_seq + (int64_t)a.ndecisions - 1;
        ndec += (int64_t)a.ndecisions;
        napps++;
        /* Other calls on the handle between steps. */
        ruleset *rs = store_get_ruleset(st, a.ruleset, &e);
        assert_non_null(rs);
        ruleset_free(rs);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(store_scan_next(sc, &a, &e), 0);   /* stays at the end */
    assert_int_equal(napps, NAPPS);
    assert_int_equal(ndec, f->ndecisions);
    store_scan_close(sc);
    store_scan_close(NULL);
    store_close(st);
}

/* Filters select decisions; a screen keeps only the selected programme. */
static void test_scan_filters(void **state)
{
    fixture *f = *state;
    store *st = NULL;
    store_scan *sc = NULL;
    store_scan_app a;
    err e;
    assert_int_equal(store_open(&st, f->db, STORE_READONLY, &e), 0);

    store_scan_filter flt = {.program = "idmaj"};
    assert_int_equal(store_scan_open(st, &flt, &sc, &e), 0);
    int n = 0;
    while (store_scan_next(sc, &a, &e) == 1) {
        assert_int_equal(a.ndecisions, 1);
        assert_int_equal(a.ndecisions_stored, 5);
        assert_string_equal(a.decisions[0].program, "idmaj");
        n++;
    }
    assert_int_equal(n, (NAPPS + 2) / 3);
    store_scan_close(sc);

    flt = (store_scan_filter){.applicant_id = "U0"};
    assert_int_equal(store_scan_open(st, &flt, &sc, &e), 0);
    for (n = 0; store_scan_next(sc, &a, &e) == 1; n++)
        assert_string_equal(a.applicant_id, "U0");
    assert_int_equal(n, 4);
    store_scan_close(sc);

    char prefix[9];
    snprintf(prefix, sizeof prefix, "%s", ruleset_hash(f->rs));
    flt = (store_scan_filter){.since = "2026-01", .until = "2026-01-01", .ruleset = prefix};
    assert_int_equal(store_scan_open(st, &flt, &sc, &e), 0);
    n = 0;
    while (store_scan_next(sc, &a, &e) == 1)
        n++;
    assert_int_equal(n, NAPPS);
    store_scan_close(sc);

    flt = (store_scan_filter){.ruleset = "not-a-hash"};
    assert_int_equal(store_scan_open(st, &flt, &sc, &e), 0);
    assert_int_equal(store_scan_next(sc, &a, &e), 0);
    store_scan_close(sc);

    flt = (store_scan_filter){.since = "2026-01-02"};
    assert_int_equal(store_scan_open(st, &flt, &sc, &e), 0);
    assert_int_equal(store_scan_next(sc, &a, &e), 0);
    store_scan_close(sc);
    store_close(st);
}

/* Newest first, limited for each programme, bounded by seq, rows of the
 * documented shape. */
static void test_applicant_decisions(void **state)
{
    fixture *f = *state;
    store *st = NULL;
    err e;
    buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(store_open(&st, f->db, STORE_READONLY, &e), 0);
    /* U0 made applications 0 (screen: seq 1-5), 1, 2, 3 (screen: 8-12). */
    assert_int_equal(store_applicant_decisions(st, "U0", 0, 0, &b, NULL, &e), 12);
    assert_true(b.len > 2 && b.data[0] == '[' && b.data[b.len - 1] == ']');
    int rows = 0;
    for (const char *p = b.data; (p = strstr(p, "{\"decision_id\":")) != NULL; p++)
        rows++;
    assert_int_equal(rows, 12);
    assert_non_null(strstr(b.data, "\"program_version\":\"2022.1\",\"outcome\":"));
    assert_non_null(strstr(b.data, "\"as_of\":\"2025-0"));
    assert_non_null(strstr(b.data, "\"decided_at\":\"2026-01-01T00:00:00.001Z\"}"));

    /* At most LIMIT of each programme: the newest, here the screen of
     * application 3, which decided all five; among the newest 10 x LIMIT,
     * which the count says. */
    buf_reset(&b);
    assert_int_equal(store_applicant_decisions(st, "U0", 0, 1, &b, NULL, &e), 10);
    assert_non_null(strstr(b.data, "\"as_of\":\"2025-06-15\""));   /* application 3 */
    assert_null(strstr(b.data, "2025-03-15"));
    rows = 0;
    for (const char *p = b.data; (p = strstr(p, "{\"decision_id\":")) != NULL; p++)
        rows++;
    assert_int_equal(rows, 5);

    buf_reset(&b);
    assert_int_equal(store_applicant_decisions(st, "U0", 7, 0, &b, NULL, &e), 6);   /* before 3 */
    rows = 0;
    for (const char *p = b.data; (p = strstr(p, "{\"decision_id\":")) != NULL; p++)
        rows++;
    assert_int_equal(rows, 6);
    assert_null(strstr(b.data, "2025-06-15"));

    buf_reset(&b);
    assert_int_equal(store_applicant_decisions(st, "nobody", 0, 200, &b, NULL, &e), 0);
    assert_string_equal(b.data, "[]");

    buf small;   /* too small: fails, OUT unchanged */
    buf_init(&small, 64);
    assert_int_equal(buf_adds(&small, "x"), 0);
    assert_int_equal(store_applicant_decisions(st, "U0", 0, 0, &small, NULL, &e), -1);
    assert_string_equal(small.data, "x");
    buf_free(&small);
    buf_free(&b);
    store_close(st);
}

static int64_t count_listed(const replay_report *r)
{
    buf b;
    buf_init(&b, 1 << 24);
    assert_int_equal(replay_json(r, &b), 0);
    assert_true(b.data[0] == '{' && b.data[b.len - 1] == '}');
    int64_t n = strstr(b.data, "\"listed\":[]") ? 0 : 1;
    buf_free(&b);
    return n;
}

static void test_replay_original(void **state)
{
    fixture *f = *state;
    for (size_t jobs = 1; jobs <= 3; jobs++) {
        replay_config cfg = {.db_path = f->db, .jobs = jobs, .sample = 5};
        replay_report *r = NULL;
        err e;
        assert_int_equal(replay_run(&cfg, &r, &e), 0);
        assert_int_equal(replay_applications(r), NAPPS);
        assert_int_equal(replay_decisions(r), f->ndecisions);
        assert_int_equal(replay_differences(r), 0);
        assert_int_equal(count_listed(r), 0);
        replay_report_free(r);
    }
}

/* The same rules as a candidate: every decision stays where it was. */
static void test_replay_candidate(void **state)
{
    fixture *f = *state;
    replay_config cfg = {.db_path = f->db, .rules = f->rs, .jobs = 2, .sample = 3};
    replay_report *r = NULL;
    err e;
    assert_int_equal(replay_run(&cfg, &r, &e), 0);
    assert_int_equal(replay_decisions(r), f->ndecisions);
    assert_int_equal(replay_errors(r), 0);
    buf b;
    buf_init(&b, 1 << 24);
    assert_int_equal(replay_json(r, &b), 0);
    /* No move names two different outcomes. */
    const char *kinds[] = {"eligible", "ineligible", "incomplete", "error", "none"};
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) {
            char pat[96];
            snprintf(pat, sizeof pat, "\"from\":\"%s\",\"to\":\"%s\"", kinds[i], kinds[j]);
            if (i != j)
                assert_null(strstr(b.data, pat));
        }
    assert_non_null(strstr(b.data, "\"program\":\"awrach\""));
    buf_free(&b);
    replay_report_free(r);

    cfg.filter.program = "awrach";   /* others left out, not "none" */
    assert_int_equal(replay_run(&cfg, &r, &e), 0);
    buf_init(&b, 1 << 24);
    assert_int_equal(replay_json(r, &b), 0);
    assert_null(strstr(b.data, "idmaj"));
    buf_free(&b);
    replay_report_free(r);
}

static void test_replay_errors(void **state)
{
    fixture *f = *state;
    replay_config cfg = {.db_path = "/nonexistent/dir/t.db"};
    replay_report *r = NULL;
    err e;
    err_clear(&e);
    assert_int_equal(replay_run(&cfg, &r, &e), -1);
    assert_null(r);
    assert_non_null(e.code);
    replay_report_free(NULL);
    (void)f;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_all),
        cmocka_unit_test(test_scan_filters),
        cmocka_unit_test(test_applicant_decisions),
        cmocka_unit_test(test_replay_original),
        cmocka_unit_test(test_replay_candidate),
        cmocka_unit_test(test_replay_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
