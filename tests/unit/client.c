/*
 * tests/unit/client.c -- unit tests for core/client.c (and the small modules
 * the clients share: core/hist.c, core/synth.c).
 *
 * Request lines are compared as text, so a failure prints the line that was
 * built next to the one expected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "client.h"
#include "hist.h"
#include "synth.h"

/* client_prepare LINE with D (and ID) must give EXPECTED (and return RC). */
#define assert_prepared(line, d, id, expected, rc) \
    prepared((line), (d), (id), (expected), (rc), __FILE__, __LINE__)

static void prepared(const char *line, const client_defaults *d, const char *id,
                     const char *expected, int rc, const char *file, int lineno)
{
    buf out;
    err e;
    buf_init(&out, 1 << 20);
    int got = client_prepare(line, strlen(line), d, id, &out, NULL, &e);
    if (got != rc || strcmp(out.data ? out.data : "", expected))
        fail_msg("%s:%d: client_prepare(%s)\n  expected (%d) %s  got      (%d) %s", file, lineno,
                 line, rc, expected, got, out.data ? out.data : "(nothing)\n");
    buf_free(&out);
}

static void test_prepare_inserts_what_is_missing(void **state)
{
    (void)state;
    client_defaults decide = {"decide", "idmaj", "fr"};
    client_defaults screen = {"screen", NULL, NULL};
    client_defaults none = {NULL, NULL, NULL};

    /* The applicant's text is kept byte for byte (spacing, number spelling). */
    assert_prepared("{\"id\":\"A1\", \"applicant\":{\"x\": 1.50}}", &decide, "7",
                    "{\"op\":\"decide\",\"program\":\"idmaj\",\"lang\":\"fr\","
                    "\"id\":\"A1\", \"applicant\":{\"x\": 1.50}}\n", 0);
    /* No id: the one given is inserted first. */
    assert_prepared("{\"applicant\":{}}", &screen, "3",
                    "{\"id\":3,\"op\":\"screen\",\"applicant\":{}}\n", 0);
    /* The line's own members win; a screen gets no programme. */
    assert_prepared("{\"id\":1,\"op\":\"screen\",\"lang\":\"ar\"}", &decide, NULL,
                    "{\"id\":1,\"op\":\"screen\",\"lang\":\"ar\"}\n", 0);
    assert_prepared("{\"id\":1,\"program\":\"awrach\"}", &decide, NULL,
                    "{\"op\":\"decide\",\"lang\":\"fr\",\"id\":1,\"program\":\"awrach\"}\n", 0);
    /* A line naming its programme is decided for it under a default screen
     * too: a screen with a programme is refused. */
    assert_prepared("{\"id\":1,\"program\":\"awrach\"}", &screen, NULL,
                    "{\"op\":\"decide\",\"id\":1,\"program\":\"awrach\"}\n", 0);
    /* Without defaults: decide when the line names a programme, else screen. */
    assert_prepared("{\"id\":1,\"program\":\"awrach\"}", &none, NULL,
                    "{\"op\":\"decide\",\"id\":1,\"program\":\"awrach\"}\n", 0);
    assert_prepared("{\"id\":1}", &none, NULL, "{\"op\":\"screen\",\"id\":1}\n", 0);
    /* An empty object, surrounding blanks and a CR. */
    assert_prepared("  {  }  \r", &screen, NULL, "  {\"op\":\"screen\"  }\n", 0);
    assert_prepared("{}", &none, NULL, "{\"op\":\"screen\"}\n", 0);
    /* Not an object: passed through for the server to refuse. */
    assert_prepared("{not json", &decide, "1", "{not json\n", 1);
    assert_prepared("[1,2]", &decide, "1", "[1,2]\n", 1);
    /* Defaults are JSON-escaped. */
    client_defaults odd = {"decide", "a\"b", NULL};
    assert_prepared("{}", &odd, NULL, "{\"op\":\"decide\",\"program\":\"a\\\"b\"}\n", 0);
}

static void test_prepare_respects_the_cap(void **state)
{
    (void)state;
    buf out;
    err e;
    buf_init(&out, 10);
    assert_int_equal(client_prepare("{\"id\":1}", 8, NULL, NULL, &out, NULL, &e), -1);
    assert_int_equal(out.len, 0);
    assert_string_equal(e.code, "line_too_long");
    buf_free(&out);
}

static void test_lines(void **state)
{
    (void)state;
    client_lines l;
    const char *line;
    size_t len;
    client_lines_init(&l, 16);
    assert_int_equal(client_lines_feed(&l, "ab\ncd\r\nef", 9), 0);
    assert_int_equal(client_lines_next(&l, &line, &len), 1);
    assert_int_equal(len, 2);
    assert_memory_equal(line, "ab", 2);
    assert_int_equal(client_lines_next(&l, &line, &len), 1);
    assert_int_equal(len, 2);   /* the CR is not part of the line */
    assert_memory_equal(line, "cd", 2);
    assert_int_equal(client_lines_next(&l, &line, &len), 0);
    /* The cap bounds what is pending, not what has passed through. */
    assert_int_equal(client_lines_feed(&l, "0123456789\n", 11), 0);
    assert_int_equal(client_lines_next(&l, &line, &len), 1);
    assert_int_equal(len, 12);
    assert_memory_equal(line, "ef0123456789", 12);
    assert_int_equal(client_lines_feed(&l, "0123456789abcdefg", 17), -1);
    assert_int_equal(client_lines_feed(&l, "tail", 4), 0);
    assert_int_equal(client_lines_rest(&l, &line, &len), 1);
    assert_memory_equal(line, "tail", 4);
    assert_int_equal(client_lines_rest(&l, &line, &len), 0);
    client_lines_free(&l);
}

static void test_reading_replies(void **state)
{
    (void)state;
    const char *ok = "{\"id\":\"x\\\"}\",\"ok\":true,\"decisions\":[{\"a\":[1,{\"b\":\"]\"}]},{},3]}";
    const char *bad = "{\"id\":7, \"ok\" : false, \"error\":{\"message\":\"m\",\"code\":\"overloaded\"}}";
    const char *v, *code;
    size_t vlen, clen;
    assert_int_equal(client_member(ok, strlen(ok), "id", &v, &vlen), 1);
    assert_int_equal(vlen, 6);
    assert_int_equal(client_member(ok, strlen(ok), "decision", &v, &vlen), 0);
    assert_int_equal(client_member(ok, strlen(ok), "decisions", &v, &vlen), 1);
    assert_int_equal(client_array_len(v, vlen), 3);
    assert_int_equal(client_reply_decisions(ok, strlen(ok)), 3);
    assert_int_equal(client_reply_ok(ok, strlen(ok), &code, &clen), 1);
    assert_int_equal(client_reply_ok(bad, strlen(bad), &code, &clen), 0);
    assert_int_equal(clen, 10);
    assert_memory_equal(code, "overloaded", 10);
    assert_int_equal(client_reply_ok("garbage", 7, &code, &clen), 0);
    assert_memory_equal(code, "bad_reply", 9);
    assert_int_equal(client_array_len("[]", 2), 0);
    assert_int_equal(client_array_len("[1,", 3), -1);
    assert_int_equal(client_reply_decisions("{\"id\":1,\"ok\":true,\"decision\":{}}", 32), 1);
    /* The decisions are counted up to their own ']', whatever follows; an
     * array cut short counts none. */
    const char *more = "{\"ok\":true,\"decisions\":[{\"c\":[9]},{}],\"x\":[1,2,3]}";
    assert_int_equal(client_reply_decisions(more, strlen(more)), 2);
    assert_int_equal(client_reply_decisions(more, 30), 0);
    /* Cut short inside a string, just after a backslash: not a member, and
     * nothing read or stepped past the text's end. */
    assert_int_equal(client_member("{\"a\":\"x\\", 7, "b", &v, &vlen), 0);
    assert_int_equal(client_member("{\"a\\", 4, "a", &v, &vlen), 0);
}

static void test_hist(void **state)
{
    (void)state;
    static hist h;
    hist_init(&h);
    assert_int_equal(hist_quantile(&h, 0.5), 0);
    for (uint64_t v = 1; v <= 100000; v++)
        hist_record(&h, v * 1000);   /* 1 us .. 100 ms */
    assert_int_equal(h.count, 100000);
    assert_int_equal(h.max, 100000000);
    assert_int_equal(hist_quantile(&h, 1.0), 100000000);
    static const double qs[] = {0.5, 0.9, 0.99, 0.999};
    for (int i = 0; i < 4; i++) {
        double want = qs[i] * 100000 * 1000;
        double got = (double)hist_quantile(&h, qs[i]);
        if (got < want * 0.996 || got > want * 1.004)
            fail_msg("quantile %g: expected about %.0f, got %.0f", qs[i], want, got);
    }
    /* Small values are exact. */
    hist_init(&h);
    for (uint64_t v = 0; v < 200; v++)
        hist_record(&h, v);
    assert_int_equal(hist_quantile(&h, 0.5), 99);
    assert_int_equal(h.min, 0);
}

static void test_synth_is_deterministic(void **state)
{
    (void)state;
    synth a, b;
    buf x, y;
    synth_init(&a, 42);
    synth_init(&b, 42);
    buf_init(&x, 1 << 20);
    buf_init(&y, 1 << 20);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(synth_request(&a, i % 2 ? "screen" : "decide", (uint64_t)i, &x), 0);
        assert_int_equal(synth_request(&b, i % 2 ? "screen" : "decide", (uint64_t)i, &y), 0);
    }
    assert_int_equal(x.len, y.len);
    assert_memory_equal(x.data, y.data, x.len);
    /* Every line is one JSON object the protocol reads. */
    const char *p = x.data;
    for (int i = 0; i < 100; i++) {
        const char *nl = strchr(p, '\n');
        const char *v;
        size_t vlen;
        assert_non_null(nl);
        assert_int_equal(client_member(p, (size_t)(nl - p), "applicant", &v, &vlen), 1);
        assert_int_equal(client_member(p, (size_t)(nl - p), "program", &v, &vlen), i % 2 == 0);
        p = nl + 1;
    }
    buf_free(&x);
    buf_free(&y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prepare_inserts_what_is_missing),
        cmocka_unit_test(test_prepare_respects_the_cap),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_reading_replies),
        cmocka_unit_test(test_hist),
        cmocka_unit_test(test_synth_is_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
