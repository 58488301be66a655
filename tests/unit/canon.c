/* tests/unit/canon.c -- numbers as canonical JSON writes them: an integral
 * double below 2^53 in plain decimal, as "%.0f" prints it but -0 as 0; any
 * other the shortest of %.15g..%.17g that reads back exactly. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "canon.h"

/* canon_add_number of D must append exactly WANT. */
static void check_number(double d, const char *want)
{
    buf b;
    buf_init(&b, 64);
    if (canon_add_number(&b, d) != 0)
        fail_msg("%.17g was refused", d);
    assert_string_equal(b.data, want);
    buf_free(&b);
}

static void test_canon_number_edges(void **state)
{
    (void)state;
    check_number(0.0, "0");
    check_number(-0.0, "0");
    check_number(1.0, "1");
    check_number(-1.0, "-1");
    check_number(4200.0, "4200");
    check_number(-123456789012345.0, "-123456789012345");
    check_number(9007199254740991.0, "9007199254740991");     /* 2^53 - 1 */
    check_number(-9007199254740991.0, "-9007199254740991");
    check_number(9007199254740992.0, "9007199254740992");     /* 2^53: by %.17g */
    check_number(-9007199254740992.0, "-9007199254740992");
    check_number(1e300, "1e+300");
    check_number(-1e300, "-1e+300");
    check_number(0.1, "0.1");
    check_number(-0.5, "-0.5");
    check_number(4200.5, "4200.5");
    check_number(1.0 / 3.0, "0.3333333333333333");
}

/* What canon_add_number wrote before it took integral doubles without
 * printf; every integral double below 2^53 must come out the same. */
static void reference(double d, char *out, size_t n)
{
    if (d == floor(d) && fabs(d) < 9007199254740992.0) {
        snprintf(out, n, "%.0f", d);
        if (!strcmp(out, "-0"))
            snprintf(out, n, "0");
        return;
    }
    for (int prec = 15;; prec++) {
        snprintf(out, n, "%.*g", prec, d);
        if (prec == 17 || strtod(out, NULL) == d)
            break;
    }
}

static void test_canon_number_as_printf(void **state)
{
    (void)state;
    char want[40];
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;   /* xorshift64 */
        /* Integers of every magnitude up to 2^54, both signs, and some
         * halves, which are not integral. */
        double d = (double)(x >> (10 + i % 54)) * (x & 1 ? -1.0 : 1.0);
        if (i % 7 == 0)
            d += 0.5;
        reference(d, want, sizeof want);
        check_number(d, want);
    }
}

static void test_canon_number_not_finite(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 64);
    assert_int_equal(canon_add_number(&b, INFINITY), -1);
    assert_int_equal(canon_add_number(&b, -INFINITY), -1);
    assert_int_equal(canon_add_number(&b, NAN), -1);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canon_number_edges),
        cmocka_unit_test(test_canon_number_as_printf),
        cmocka_unit_test(test_canon_number_not_finite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
