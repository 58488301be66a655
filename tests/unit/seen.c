/* tests/unit/seen.c -- the set of applicants with a decision: what it holds
 * after adds, across its growth.  (Loading it from a store: tests/unit/store.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "seen.h"

/* One id at a time. */
static int add1(seen *s, const char *id)
{
    return seen_add(s, &id, 1);
}

/* Added ids are there, others are not, through several doublings. */
static void test_seen_add_and_ask(void **state)
{
    (void)state;
    seen *s = seen_new();
    assert_non_null(s);
    char id[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "A%06d", i);
        assert_int_equal(add1(s, id), 0);
    }
    assert_int_equal(add1(s, "A000007"), 0);   /* again: counted once */
    assert_int_equal(add1(s, NULL), 0);
    assert_int_equal(seen_count(s), 5000);
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "A%06d", i);
        if (!seen_may_have(s, id))
            fail_msg("%s was added but is not seen", id);
    }
    int strangers = 0;
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "B%06d", i);
        strangers += seen_may_have(s, id);
    }
    assert_int_equal(strangers, 0);   /* 64-bit hashes: a collision here would be news */
    assert_false(seen_may_have(s, ""));
    seen_free(s);
}

/* seen_forget: every id may have a decision from then on. */
static void test_seen_forget(void **state)
{
    (void)state;
    seen *s = seen_new();
    assert_int_equal(add1(s, "A1"), 0);
    assert_false(seen_may_have(s, "Z9"));
    seen_forget(s);
    assert_true(seen_may_have(s, "Z9"));
    assert_true(seen_may_have(s, "A1"));
    seen_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seen_add_and_ask),
        cmocka_unit_test(test_seen_forget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
