/*
 * tests/unit/review.c -- unit tests for core/review.c: the `review` op's body
 * becomes a checked store_review, or a refusal naming what is wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "ids.h"
#include "review.h"
#include "store.h"

#define DECISION "01JN0000000000000000000001"

/* review_parse BODY must fail with a message containing WANT. */
static void refused(const char *body, const char *want)
{
    err e = {0};
    review *r = review_parse(DECISION, body, &e);
    if (r)
        fail_msg("review_parse(%s) took it, expected a refusal with \"%s\"", body, want);
    assert_string_equal(e.code, "invalid_request");
    if (!strstr(e.msg, want))
        fail_msg("review_parse(%s) said \"%s\", expected \"%s\"", body, e.msg, want);
}

static void test_parse(void **state)
{
    (void)state;
    err e = {0};
    review *r = review_parse(DECISION, "{\"action\":\"override\",\"outcome\":\"ineligible\","
                                       "\"by\":\"agent 12\",\"reason\":\"income misreported\"}",
                             &e);
    assert_non_null(r);
    store_review *rec = review_record(r);
    assert_string_equal(rec->decision_id, DECISION);
    assert_string_equal(rec->action, "override");
    assert_string_equal(rec->outcome, "ineligible");
    assert_string_equal(rec->by, "agent 12");
    assert_string_equal(rec->reason, "income misreported");
    assert_int_equal(strlen(rec->review_id), IDS_LEN);
    assert_int_equal(rec->client_uid, -1);
    review_free(r);

    refused("[]", "must be an object");
    refused("{\"action\":\"confirm\",\"by\":\"w\",\"reason\":\"r\",\"reson\":\"r\"}",
            "'review.reson' is unknown");
    refused("{\"action\":\"confirm\",\"by\":\"w\",\"reason\":\" \"}", "'reason'");
    /* What shows nothing, beyond ASCII blanks, is refused as the protocol's
     * ids are: a zero-width space, an ideographic space, a soft hyphen. */
    refused("{\"action\":\"confirm\",\"by\":\"\\u200b\",\"reason\":\"r\"}",
            "field 'by' must say who reviewed the decision: it is missing, empty or shows nothing");
    refused("{\"action\":\"confirm\",\"by\":\"\\u3000\\u00ad\",\"reason\":\"r\"}", "'by'");
    refused("{\"action\":\"confirm\",\"by\":\"w\",\"reason\":\"\\u200b\\ufe0f\"}",
            "field 'reason' must say why");
}

/* cJSON ends a string at its first NUL: a reason with one would be recorded
 * cut short (and the review replied as recorded), and a key with one read as
 * the key before it.  Found by fuzz/records. */
static void test_nul_is_refused(void **state)
{
    (void)state;
    refused("{\"action\":\"confirm\",\"by\":\"w\",\"reason\":\"ok\\u0000 but not this\"}",
            "NUL");
    refused("{\"action\":\"confirm\",\"by\":\"w\",\"reason\\u0000x\":\"r\"}", "NUL");

    /* An escaped backslash before "u0000" is text, not a NUL. */
    err e = {0};
    review *r = review_parse(DECISION, "{\"action\":\"confirm\",\"by\":\"w\","
                                       "\"reason\":\"path C:\\\\u0000\"}", &e);
    assert_non_null(r);
    assert_string_equal(review_record(r)->reason, "path C:\\u0000");
    review_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_nul_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
