/* tests/unit/conflict.c -- what a conflict says differs between an
 * application and the one stored under its request_key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conflict.h"

/* What conflict_describe says of MINE against STORED ("" for nothing). */
static const char *said(const char *mine, const char *stored)
{
    static char out[320];
    size_t n = conflict_describe(mine, strlen(mine), stored, strlen(stored), out, sizeof out);
    assert_int_equal(n, strlen(out));
    return out;
}

#define REQ(rest) "{\"op\":\"decide\",\"program\":\"idmaj\",\"as_of\":\"2025-03-01\"" rest "}"

/* The op, the programme and as_of are named with both values, in that
 * order; one left out is said to be. */
static void test_conflict_scalars(void **state)
{
    (void)state;
    assert_string_equal(said("{\"op\":\"screen\",\"applicant\":{}}",
                             REQ(",\"applicant\":{}")),
                        "op: screen here, decide stored; program: left out here, idmaj stored; "
                        "as_of: left out here, 2025-03-01 stored");
}

/* Of the applicant, the first field that differs, in the request's order,
 * through records and lists; its values are never shown. */
static void test_conflict_applicant_path(void **state)
{
    (void)state;
    assert_string_equal(said(REQ(",\"applicant\":{\"a\":1,\"b\":{\"c\":[1,{\"d\":\"secret\"}]}}"),
                             REQ(",\"applicant\":{\"b\":{\"c\":[1,{\"d\":\"other\"}]},\"a\":1}")),
                        "applicant: differs at applicant.b.c[2].d");
    assert_string_equal(said(REQ(",\"applicant\":{\"a\":1,\"x\":2}"), REQ(",\"applicant\":{\"a\":1}")),
                        "applicant: differs at applicant.x (only here)");
    assert_string_equal(said(REQ(",\"applicant\":{\"a\":1}"), REQ(",\"applicant\":{\"a\":1,\"y\":2}")),
                        "applicant: differs at applicant.y (only stored)");
    assert_string_equal(said(REQ(",\"applicant\":{\"l\":[1,2,3]}"), REQ(",\"applicant\":{\"l\":[1,2]}")),
                        "applicant: differs at applicant.l (3 items here, 2 stored)");
    assert_string_equal(said(REQ(",\"applicant\":{\"n\":\"4\"}"), REQ(",\"applicant\":{\"n\":4}")),
                        "applicant: differs at applicant.n (a text here, a number stored)");
    assert_string_equal(said(REQ(""), REQ(",\"applicant\":{}")),
                        "applicant: differs at applicant (only stored)");
    assert_null(strstr(said(REQ(",\"applicant\":{\"d\":\"secret\"}"),
                            REQ(",\"applicant\":{\"d\":\"other\"}")), "secret"));
}

/* Key order, white space and a number's spelling are no difference, as for
 * the fingerprint; nothing found, or a line that does not parse, says
 * nothing (the conflict stands, unexplained). */
static void test_conflict_nothing_to_say(void **state)
{
    (void)state;
    assert_string_equal(said("{ \"applicant\" : {\"b\":2.0,\"a\":1}, \"as_of\":\"2025-03-01\","
                             "\"program\":\"idmaj\",\"op\":\"decide\"}",
                             REQ(",\"applicant\":{\"a\":1,\"b\":2}")), "");
    assert_string_equal(said("{\"op\":", REQ("")), "");
    assert_string_equal(said(REQ(""), ""), "");
}

/* A long value is cut, and so is the whole text, within its room. */
static void test_conflict_cut(void **state)
{
    (void)state;
    char mine[2000], out[40];
    snprintf(mine, sizeof mine, "{\"op\":\"decide\",\"program\":\"%0900d\"}", 7);
    const char *stored = REQ("");
    size_t n = conflict_describe(mine, strlen(mine), stored, strlen(stored), out, sizeof out);
    assert_int_equal(n, strlen(out));
    assert_true(n < sizeof out);
    assert_memory_equal(out, "program: 0000", 13);
}

/* conflict_same: the same op, program, as_of and applicant, exactly,
 * whatever else the lines hold and in whatever order. */
static void test_conflict_same(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b;
        int same;
    } cases[] = {
        {"{\"id\":1,\"op\":\"decide\",\"program\":\"idmaj\",\"applicant\":{\"x\":[1,{\"y\":\"z\"}],\"w\":null}}",
         "{\"applicant\":{\"w\":null,\"x\":[1.0,{\"y\":\"z\"}]},\"program\":\"idmaj\",\"op\":\"decide\",\"id\":\"other\",\"lang\":\"fr\"}", 1},
        {"{\"op\":\"screen\",\"applicant\":{\"b\":[]}}", "{\"op\":\"screen\",\"applicant\":{\"b\":{}}}", 0},
        {"{\"op\":\"screen\",\"applicant\":{\"r\":\"F\u00e8s\"}}", "{\"op\":\"screen\",\"applicant\":{\"r\":\"Fe\u0300s\"}}", 0},
        {"{\"op\":\"screen\",\"applicant\":{\"x\":[1,2]}}", "{\"op\":\"screen\",\"applicant\":{\"x\":[2,1]}}", 0},
        {"{\"op\":\"screen\",\"applicant\":{\"x\":1}}", "{\"op\":\"screen\",\"applicant\":{\"x\":1,\"y\":1}}", 0},
        {"{\"op\":\"screen\",\"applicant\":{\"n\":0.1}}", "{\"op\":\"screen\",\"applicant\":{\"n\":0.10000000000000002}}", 0},
        {"{\"op\":\"screen\",\"applicant\":{\"t\":true}}", "{\"op\":\"screen\",\"applicant\":{\"t\":1}}", 0},
        {"{\"op\":\"screen\",\"as_of\":\"2025-01-01\",\"applicant\":{}}", "{\"op\":\"screen\",\"applicant\":{}}", 0},
        {"{\"op\":\"decide\",\"program\":\"a\",\"applicant\":{}}", "{\"op\":\"decide\",\"program\":\"b\",\"applicant\":{}}", 0},
        {"{\"op\":\"screen\",\"applicant\":{}}", "not json", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = conflict_same(cases[i].a, strlen(cases[i].a), cases[i].b, strlen(cases[i].b));
        if (got != cases[i].same)
            fail_msg("case %zu: conflict_same says %d, expected %d", i, got, cases[i].same);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conflict_scalars),
        cmocka_unit_test(test_conflict_applicant_path),
        cmocka_unit_test(test_conflict_nothing_to_say),
        cmocka_unit_test(test_conflict_cut),
        cmocka_unit_test(test_conflict_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
