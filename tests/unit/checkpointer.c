/*
 * tests/unit/checkpointer.c -- unit tests of core/checkpointer.c, on a real
 * store in a temporary directory: the thread copies the log while this one
 * commits, a reader that pins the log hands the work to the writer without
 * stalling it, and closing leaves no log behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checkpointer.h"
#include "store.h"

typedef struct fixture {
    char dir[64];
    char path[96];
    store *st;
    checkpointer *ck;
    ruleset *rs;
    int next_id;
    char json[4000];       /* one big decision, so that few commits fill pages */
} fixture;

#define FILE_OF(name, text) {name, text, sizeof text - 1}
static const ruleset_file test_files[] = {
    FILE_OF("idmaj.lua", "program \"idmaj\" { version = \"2025.1\" }\n"),
};

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    err e = {0};
    snprintf(f->dir, sizeof f->dir, "/tmp/eligo-ckpt-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/test.db", f->dir);
    assert_int_equal(store_open(&f->st, f->path, STORE_NOSYNC, &e), 0);
    f->rs = ruleset_from_files(test_files, 1, &e);
    assert_non_null(f->rs);
    assert_int_equal(store_put_ruleset(f->st, f->rs, &e), 0);
    assert_int_equal(checkpointer_new(&f->ck, f->st, f->path, STORE_NOSYNC, &e), 0);
    memset(f->json, 'x', sizeof f->json - 1);
    *state = f;
    return 0;
}

static int wal_exists(const fixture *f)
{
    char p[128];
    snprintf(p, sizeof p, "%s-wal", f->path);
    return access(p, F_OK) == 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    checkpointer_free(f->ck);
    store_close(f->st);
    assert_false(wal_exists(f));   /* the last close checkpointed and removed it */
    ruleset_free(f->rs);
    char p[128];
    snprintf(p, sizeof p, "%s-shm", f->path);
    unlink(p);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Commit N batches of 10 decisions of 4 KB each (about 5 pages a decision). */
static void commit(fixture *f, int n)
{
    for (int b = 0; b < n; b++) {
        char ids[10][32];
        store_decision d[10];
        store_application a[10];
        store_outcome out[10];
        for (int i = 0; i < 10; i++) {
            snprintf(ids[i], sizeof ids[i], "D%07d", ++f->next_id);
            d[i] = (store_decision){ids[i], "idmaj", "2025.1", "eligible", f->json,
                                    sizeof f->json - 1};
            a[i] = (store_application){
                .request = "{}", .request_len = 2, .fingerprint = "fp", .applicant_id = "A1",
                .as_of = "2025-03-01", .ruleset = ruleset_hash(f->rs),
                .received_at = "2025-03-01T10:00:00.000Z",
                .decided_at = "2025-03-01T10:00:00.001Z", .client_uid = -1, .client_pid = -1,
                .decisions = &d[i], .ndecisions = 1,
            };
        }
        err e = {0};
        assert_int_equal(store_append(f->st, a, 10, out, &e), 0);
        for (int i = 0; i < 10; i++)
            buf_free(&out[i].stored);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_background(void **state)
{
    fixture *f = *state;
    long bg = 0, wr = 0;
    /* Well past the threshold, well below the writer's limit. */
    for (int i = 0; i < 20 && bg == 0; i++) {
        commit(f, 40);
        usleep(50 * 1000);
        checkpointer_counts(f->ck, &bg, &wr);
    }
    assert_true(bg > 0);
    assert_int_equal(wr, 0);
    int64_t checked = 0, bad = 0;
    char id[64];
    err e = {0};
    assert_int_equal(store_verify(f->st, &checked, &bad, id, NULL, NULL, &e), 0);
    assert_int_equal(checked, f->next_id);
}

static void test_pinned_log(void **state)
{
    fixture *f = *state;
    err e = {0};
    commit(f, 1);
    /* A scan holds one snapshot from its first step to its close: it keeps
     * every later page in the log, so no checkpoint can empty it. */
    store *ro;
    store_scan *sc;
    store_scan_app app;
    assert_int_equal(store_open(&ro, f->path, STORE_READONLY, &e), 0);
    assert_int_equal(store_scan_open(ro, NULL, &sc, &e), 0);
    assert_int_equal(store_scan_next(sc, &app, &e), 1);

    /* Past the limit (64 MiB) the writer checkpoints too, and never waits
     * for the reader: no commit takes anywhere near the busy timeout. */
    long bg = 0, wr = 0;
    double slowest = 0;
    for (int i = 0; i < 400 && wr == 0; i++) {
        double t0 = now_s();
        commit(f, 5);
        double dt = now_s() - t0;
        if (dt > slowest)
            slowest = dt;
        checkpointer_counts(f->ck, &bg, &wr);
    }
    assert_true(wr > 0);
    assert_true(slowest < 2.0);
    store_scan_close(sc);
    store_close(ro);

    /* The reader gone, commits go on; the close in teardown cleans up. */
    commit(f, 5);
    int64_t checked = 0, bad = 0;
    char id[64];
    assert_int_equal(store_verify(f->st, &checked, &bad, id, NULL, NULL, &e), 0);
    assert_int_equal(checked, f->next_id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_background, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pinned_log, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
