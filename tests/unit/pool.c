/*
 * tests/unit/pool.c -- unit tests for core/pool.c and core/writer.c, without
 * sockets: jobs go through real engines and a real store in a temporary
 * database, and come back through the DONE callback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cmocka.h>

#include "job.h"
#include "log.h"
#include "pool.h"
#include "ruleset.h"
#include "store.h"
#include "writer.h"

#define APPLICANT                                                                          \
    "{\"applicant_id\":\"U%d\",\"birth_date\":\"1998-05-10\",\"nationality\":\"MA\","     \
    "\"residence\":\"MA\",\"region\":\"Casablanca-Settat\",\"education\":\"bac+2\","       \
    "\"registered_with_agency\":true,\"employment_status\":\"unemployed\","                \
    "\"unemployed_since\":\"2024-06-15\",\"monthly_household_income\":4200,"                \
    "\"household_size\":4,\"disability\":false,\"in_training\":false,\"business\":null,"    \
    "\"previous_benefits\":[]}"

/* Collects finished jobs; any thread. */
typedef struct sink {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job **jobs;
    size_t n, cap;
} sink;

static void sink_done(void *ud, job *j)
{
    sink *s = ud;
    pthread_mutex_lock(&s->mu);
    if (s->n < s->cap)
        s->jobs[s->n++] = j;
    else
        job_free(j);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void sink_wait(sink *s, size_t n)
{
    pthread_mutex_lock(&s->mu);
    while (s->n < n)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

typedef struct fixture {
    char dir[64];
    char db[96];
    store *st;
    writer *w;
    pool *p;
    ruleset *rs;
    sink s;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    err e;
    snprintf(f->dir, sizeof f->dir, "/tmp/eligo-unit-pool-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
    log_set_level(LOG_ERROR);
    f->rs = ruleset_load(ELIGO_SOURCE_DIR "/rules", &e);
    assert_non_null(f->rs);
    assert_int_equal(store_open(&f->st, f->db, STORE_NOSYNC, &e), 0);
    assert_int_equal(store_put_ruleset(f->st, f->rs, &e), 0);
    pthread_mutex_init(&f->s.mu, NULL);
    pthread_cond_init(&f->s.cv, NULL);
    f->s.cap = 4096;
    f->s.jobs = calloc(f->s.cap, sizeof *f->s.jobs);
    assert_int_equal(writer_new(&f->w, f->st, 64, sink_done, &f->s, &e), 0);
    pool_config cfg = {.workers = 2, .db_path = f->db, .writer = f->w, .done = sink_done,
                       .ud = &f->s};
    assert_int_equal(pool_new(&f->p, f->rs, &cfg, &e), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    pool_free(f->p);
    writer_free(f->w);
    store_close(f->st);
    ruleset_free(f->rs);
    for (size_t i = 0; i < f->s.n; i++)
        job_free(f->s.jobs[i]);
    free(f->s.jobs);
    pthread_cond_destroy(&f->s.cv);
    pthread_mutex_destroy(&f->s.mu);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static job *submit(fixture *f, const char *fmt, int i)
{
    char line[2048];
    int n = snprintf(line, sizeof line, fmt, i, i);
    job *j = job_new(line, (size_t)n);
    assert_non_null(j);
    j->client_uid = 1000;
    j->client_pid = 4242;
    log_timestamp(j->received_at);
    pool_submit(f->p, j);
    return j;
}

/* Every decide is committed (in a few batches of at most 64) and replied to. */
static void test_decides_are_committed(void **state)
{
    fixture *f = *state;
    const int n = 500;
    for (int i = 0; i < n; i++)
        submit(f, "{\"id\":%d,\"op\":\"decide\",\"program\":\"idmaj\",\"as_of\":\"2025-03-01\","
                  "\"applicant\":" APPLICANT "}", i);
    sink_wait(&f->s, (size_t)n);
    assert_int_equal(store_count(f->st), n);
    for (size_t i = 0; i < f->s.n; i++) {
        const char *r = f->s.jobs[i]->reply.data;
        assert_non_null(r);
        if (!strstr(r, "\"ok\":true,\"decision\":{"))
            fail_msg("reply %zu: %s", i, r);
        assert_int_equal(r[f->s.jobs[i]->reply.len - 1], '\n');
    }
}

/* Errors and read-only ops are answered by the worker, never stored. */
static void test_other_ops(void **state)
{
    fixture *f = *state;
    submit(f, "{\"id\":%d,\"op\":\"decide\",\"program\":\"nope\",\"applicant\":{}}", 1);
    submit(f, "{\"id\":%d,\"op\":\"programs\"}", 2);
    submit(f, "{\"id\":%d,\"op\":\"history\",\"applicant_id\":\"nobody\"}", 3);
    submit(f, "{\"id\":%d,\"op\":\"decision\",\"decision_id\":\"01AAAAAAAAAAAAAAAAAAAAAAAA\"}", 4);
    submit(f, "{\"id\":%d, oops", 5);
    sink_wait(&f->s, 5);
    int got = 0;
    for (size_t i = 0; i < f->s.n; i++) {
        const char *r = f->s.jobs[i]->reply.data;
        if (strstr(r, "\"id\":1,") && strstr(r, "unknown_program"))
            got |= 1;
        if (strstr(r, "\"id\":2,\"ok\":true,\"programs\":["))
            got |= 2;
        if (strstr(r, "\"id\":3,\"ok\":true,\"decisions\":[]"))
            got |= 4;
        if (strstr(r, "\"id\":4,") && strstr(r, "not_found"))
            got |= 8;
        if (strstr(r, "invalid_json"))
            got |= 16;
    }
    if (got != 31)
        fail_msg("replies matched: %d of 31", got);
    assert_int_equal(store_count(f->st), 0);
}

/* A repeated request_key stores nothing and says so; another application
 * under the same key is a conflict. */
static void test_request_key(void **state)
{
    fixture *f = *state;
    const char *fmt = "{\"id\":%d,\"op\":\"decide\",\"program\":\"idmaj\",\"as_of\":\"2025-03-01\","
                      "\"request_key\":\"K\",\"applicant\":" APPLICANT "}";
    submit(f, fmt, 7);
    sink_wait(&f->s, 1);
    submit(f, fmt, 7);
    sink_wait(&f->s, 2);
    submit(f, fmt, 8);
    sink_wait(&f->s, 3);
    assert_int_equal(store_count(f->st), 1);
    assert_non_null(strstr(f->s.jobs[1]->reply.data, "\"repeated\":true"));
    assert_non_null(strstr(f->s.jobs[2]->reply.data, "\"code\":\"conflict\""));
}

/* The reply of REPLY's decision ids, each read back from the store, after
 * PREFIX: what a decide or a screen answers, exactly. */
static void reply_is(fixture *f, const char *reply, const char *prefix, int screen)
{
    buf want, d;
    buf_init(&want, 1 << 20);
    buf_init(&d, 1 << 20);
    err e = {0};
    assert_int_equal(buf_adds(&want, prefix), 0);
    const char *p = reply;
    int n = 0;
    while ((p = strstr(p, "{\"decision_id\":\""))) {
        char id[64];
        p += strlen("{\"decision_id\":\"");
        size_t len = strcspn(p, "\"");
        assert_true(len < sizeof id);
        memcpy(id, p, len);
        id[len] = '\0';
        buf_reset(&d);
        assert_int_equal(store_get_decision(f->st, id, &d, &e), 0);
        if (n++)
            assert_int_equal(buf_addc(&want, ','), 0);
        assert_int_equal(buf_add(&want, d.data, d.len), 0);
    }
    assert_true(n >= 1);
    assert_int_equal(buf_adds(&want, screen ? "]}\n" : "}\n"), 0);
    assert_string_equal(reply, want.data);
    buf_free(&want);
    buf_free(&d);
}

/* A decide's and a screen's replies, written by the writer once committed:
 * the id, ok, and the decisions as stored, nothing else. */
static void test_replies_exact(void **state)
{
    fixture *f = *state;
    submit(f, "{\"id\":%d,\"op\":\"decide\",\"program\":\"idmaj\",\"as_of\":\"2025-03-01\","
              "\"applicant\":" APPLICANT "}", 41);
    sink_wait(&f->s, 1);
    submit(f, "{\"id\":%d,\"op\":\"screen\",\"as_of\":\"2025-03-01\",\"applicant\":" APPLICANT "}",
           42);
    sink_wait(&f->s, 2);
    reply_is(f, f->s.jobs[0]->reply.data, "{\"id\":41,\"ok\":true,\"decision\":", 0);
    reply_is(f, f->s.jobs[1]->reply.data, "{\"id\":42,\"ok\":true,\"decisions\":[", 1);
    assert_true(strstr(f->s.jobs[1]->reply.data, "},{") != NULL);   /* several programmes */
}

typedef struct call_seen {
    pthread_t thread;
    char name[16];
    int stored;
} call_seen;

static int event_call(store *st, void *ud, err *e)
{
    call_seen *c = ud;
    c->thread = pthread_self();
    prctl(PR_GET_NAME, (unsigned long)c->name, 0, 0, 0);
    c->stored = store_event(st, "test", "from the test", e) == 0;
    return 7;
}

static int failed_call(store *st, void *ud, err *e)
{
    (void)st;
    (void)ud;
    return err_set(e, "internal", "cannot record the start event: database or disk is full");
}

/* writer_call runs on the writer thread and returns the function's status. */
static void test_writer_call(void **state)
{
    fixture *f = *state;
    call_seen c = {0};
    assert_int_equal(writer_call(f->w, event_call, &c), 7);
    assert_false(pthread_equal(c.thread, pthread_self()));
    assert_string_equal(c.name, "writer");
    assert_true(c.stored);   /* on the writer's handle */
    assert_int_equal(writer_depth(f->w), 0);
}

/* A write of the server's own that fails makes the writer failing, with its
 * message, until a write holds again. */
static void test_writer_call_failing(void **state)
{
    fixture *f = *state;
    call_seen c = {0};
    char why[256] = "";
    assert_false(writer_failing(f->w, why, sizeof why));
    assert_int_equal(writer_call(f->w, failed_call, NULL), -1);
    assert_true(writer_failing(f->w, why, sizeof why));
    assert_string_equal(why, "cannot record the start event: database or disk is full");
    assert_int_equal(writer_refused(f->w, why, sizeof why), 0);   /* no application refused */
    assert_int_equal(writer_call(f->w, event_call, &c), 7);
    assert_false(writer_failing(f->w, why, sizeof why));
}

/* After pool_swap, every job taken is answered by an engine of the new set:
 * health reports the hash of the set the worker's engine was built from,
 * and the new set differs from the old by one byte of idmaj.lua. */
static void test_swap(void **state)
{
    fixture *f = *state;
    err e;
    ruleset *cur = pool_ruleset(f->p);
    assert_ptr_equal(cur, f->rs);
    ruleset_free(cur);

    size_t n = ruleset_count(f->rs);
    ruleset_file files[64];
    char *edited = NULL;
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++) {
        files[i] = *ruleset_file_at(f->rs, i);
        if (!strcmp(files[i].name, "idmaj.lua")) {
            edited = malloc(files[i].len + 2);
            assert_non_null(edited);
            memcpy(edited, files[i].text, files[i].len);
            memcpy(edited + files[i].len, "\n", 2);
            files[i].text = edited;
            files[i].len++;
        }
    }
    assert_non_null(edited);
    ruleset *other = ruleset_from_files(files, n, &e);
    free(edited);
    assert_non_null(other);
    assert_string_not_equal(ruleset_hash(other), ruleset_hash(f->rs));

    /* Enough requests before the swap that both workers build an engine of
     * the old set, and as many after it, every one answered by the new. */
    enum { BURST = 20 };
    for (int i = 0; i < BURST; i++)
        submit(f, "{\"id\":%d,\"op\":\"health\"}", i);
    sink_wait(&f->s, BURST);
    for (int i = 0; i < BURST; i++)
        assert_non_null(strstr(f->s.jobs[i]->reply.data, ruleset_hash(f->rs)));

    engine **built = pool_build(f->p, other, &e);
    assert_non_null(built);
    pool_swap(f->p, other, built);
    cur = pool_ruleset(f->p);
    assert_ptr_equal(cur, other);
    ruleset_free(cur);
    for (int i = 0; i < BURST; i++)
        submit(f, "{\"id\":%d,\"op\":\"health\"}", BURST + i);
    sink_wait(&f->s, 2 * BURST);
    for (int i = BURST; i < 2 * BURST; i++) {
        const char *reply = f->s.jobs[i]->reply.data;
        if (!strstr(reply, ruleset_hash(other)) || strstr(reply, ruleset_hash(f->rs)))
            fail_msg("health after the swap should name %s: %s", ruleset_hash(other), reply);
    }
    ruleset_free(other);
}

/* Reviews go to the writer with the decides around them: each is committed
 * in its own transaction after its batch, and replied to only then; a bad
 * one is refused on the worker, an unknown decision by the store. */
static void test_reviews(void **state)
{
    fixture *f = *state;
    submit(f, "{\"id\":%d,\"op\":\"decide\",\"program\":\"idmaj\",\"as_of\":\"2025-03-01\","
              "\"applicant\":" APPLICANT "}", 0);
    sink_wait(&f->s, 1);
    const char *r = f->s.jobs[0]->reply.data, *p = strstr(r, "\"decision_id\":\"");
    assert_non_null(p);
    char id[27];
    memcpy(id, p + 15, 26);
    id[26] = '\0';

    char line[512];
    const char *reviews[] = {
        "{\"id\":\"ok\",\"op\":\"review\",\"decision_id\":\"%s\",\"review\":{\"action\":"
        "\"override\",\"outcome\":\"incomplete\",\"by\":\"w\",\"reason\":\"r\"}}",
        "{\"id\":\"bad\",\"op\":\"review\",\"decision_id\":\"%s\",\"review\":{\"action\":"
        "\"override\",\"by\":\"w\",\"reason\":\"r\"}}",
        "{\"id\":\"none\",\"op\":\"review\",\"decision_id\":\"X%.25s\",\"review\":{\"action\":"
        "\"confirm\",\"by\":\"w\",\"reason\":\"r\"}}",
        /* an override to where the first one put it changes nothing: refused */
        "{\"id\":\"same\",\"op\":\"review\",\"decision_id\":\"%s\",\"review\":{\"action\":"
        "\"override\",\"outcome\":\"incomplete\",\"by\":\"w\",\"reason\":\"r\"}}",
    };
    for (int i = 1; i <= 40; i++) {
        submit(f, "{\"id\":%d,\"op\":\"decide\",\"program\":\"idmaj\",\"as_of\":\"2025-03-01\","
                  "\"applicant\":" APPLICANT "}", i);
        if (i % 10 == 0) {
            int n = snprintf(line, sizeof line, reviews[i / 10 - 1], id);
            job *j = job_new(line, (size_t)n);
            assert_non_null(j);
            log_timestamp(j->received_at);
            pool_submit(f->p, j);
        }
    }
    sink_wait(&f->s, 45);
    int ok = 0, bad = 0, none = 0, same = 0;
    for (size_t i = 0; i < f->s.n; i++) {
        r = f->s.jobs[i]->reply.data;
#define STARTS(r, p) (strncmp((r), (p), strlen(p)) == 0)
        if (STARTS(r, "{\"id\":\"ok\",\"ok\":true,\"review\":{") &&
            strstr(r, "\"outcome\":\"incomplete\""))
            ok++;
        else if (STARTS(r, "{\"id\":\"bad\",\"ok\":false") &&
                 strstr(r, "\"invalid_request\"") && strstr(r, "'outcome'"))
            bad++;
        else if (STARTS(r, "{\"id\":\"none\",\"ok\":false") && strstr(r, "\"not_found\""))
            none++;
        else if (STARTS(r, "{\"id\":\"same\",\"ok\":false") && strstr(r, "\"invalid_request\"") &&
                 strstr(r, "already stands as incomplete (by its last override)"))
            same++;
#undef STARTS
    }
    assert_int_equal(ok, 1);      /* i = 10 */
    assert_int_equal(bad, 1);
    assert_int_equal(none, 1);
    assert_int_equal(same, 1);    /* i = 40 */
    assert_int_equal(store_count(f->st), 41);
    assert_int_equal(store_count_reviews(f->st), 1);
    int64_t checked, bad_seq;
    char bad_id[64];
    err e;
    err_clear(&e);
    assert_int_equal(store_verify(f->st, &checked, &bad_seq, bad_id, NULL, NULL, &e), 0);
    assert_int_equal(checked, 42);   /* 41 decisions and the review */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_decides_are_committed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_other_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replies_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_call_failing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reviews, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
