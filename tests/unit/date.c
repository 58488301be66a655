/*
 * tests/unit/date.c -- unit tests for core/date.c.
 *
 * Dates are written as text in the tests and compared as text on failure, so
 * a failing assertion reads "expected 2024-02-29, got 2024-03-02" instead of
 * two day numbers nobody can check by eye.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <limits.h>
#include <time.h>

#include <cmocka.h>

#include "date.h"

/* Parse a date literal that the test itself guarantees to be valid; failing
 * here is a bug in the test or in date_parse, and is reported with the text. */
#define D(text) date_literal((text), __FILE__, __LINE__)

static int32_t date_literal(const char *text, const char *file, int line)
{
    int32_t days = 0;
    if (date_parse(text, strlen(text), &days) != 0)
        fail_msg("%s:%d: date_parse(\"%s\") failed on a valid date", file, line, text);
    return days;
}

/* Compare two day numbers and print both as dates when they differ. */
#define assert_date_equal(expected, actual) \
    date_assert_equal((expected), (actual), #actual, __FILE__, __LINE__)

static void date_assert_equal(int32_t expected, int32_t actual, const char *expr,
                              const char *file, int line)
{
    if (expected != actual) {
        char e[11], a[11];
        date_format(expected, e);
        date_format(actual, a);
        fail_msg("%s:%d: %s: expected %s (day %ld), got %s (day %ld)", file, line,
                 expr, e, (long)expected, a, (long)actual);
    }
}

static void test_leap_years(void **state)
{
    (void)state;
    assert_int_equal(date_is_leap(1900), 0);
    assert_int_equal(date_is_leap(2000), 1);
    assert_int_equal(date_is_leap(2024), 1);
    assert_int_equal(date_is_leap(2023), 0);
    assert_int_equal(date_is_leap(2100), 0);
    assert_int_equal(date_is_leap(2400), 1);
    assert_int_equal(date_is_leap(4), 1);
    assert_int_equal(date_is_leap(0), 1);    /* proleptic: 1 BC */
    assert_int_equal(date_is_leap(-4), 1);
    assert_int_equal(date_is_leap(-100), 0);
}

static void test_month_ends(void **state)
{
    (void)state;
    static const int common[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (int m = 1; m <= 12; m++) {
        assert_int_equal(date_month_days(2023, m), common[m - 1]);
        assert_int_equal(date_month_days(2024, m), m == 2 ? 29 : common[m - 1]);
    }
    assert_int_equal(date_month_days(1900, 2), 28);
    assert_int_equal(date_month_days(2000, 2), 29);
    assert_int_equal(date_month_days(2024, 0), 0);
    assert_int_equal(date_month_days(2024, 13), 0);
}

static void test_known_day_numbers(void **state)
{
    (void)state;
    assert_int_equal(date_from_civil(1970, 1, 1), 0);
    assert_int_equal(date_from_civil(1969, 12, 31), -1);
    assert_int_equal(date_from_civil(1970, 1, 2), 1);
    assert_int_equal(date_from_civil(2000, 3, 1), 11017);
    assert_int_equal(date_from_civil(2024, 2, 29), 19782);
    assert_int_equal(date_from_civil(1, 1, 1), -719162);
    assert_int_equal(date_from_civil(9999, 12, 31), 2932896);
    assert_date_equal(D("1970-01-01"), 0);
    assert_date_equal(D("2000-03-01"), 11017);
}

static void test_invalid_dates(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "2024",
        "2024-01-0",
        "2024-01-001",
        "20240101",
        "2024/01/01",
        "2024-01/01",
        "2024-1-01",
        "2024-01-1",
        "24-01-01",
        "+2024-01-01",
        "+024-01-01",
        "-024-01-01",
        "-2024-01-01",
        "2024-+1-01",
        "2024--1-01",
        "2024-01--1",
        "2024-01-+1",
        " 2024-01-01",
        "2024-01-01 ",
        "2024-01-01\n",
        "2024-01-01T00:00:00",
        "2024-01-1a",
        "abcd-ef-gh",
        "2O24-01-01",           /* letter O */
        "0000-01-01",
        "2024-00-10",
        "2024-13-01",
        "2024-99-01",
        "2024-01-00",
        "2024-01-32",
        "2023-02-29",
        "2023-02-30",
        "2024-02-30",
        "1900-02-29",
        "2100-02-29",
        "2024-04-31",
        "2024-06-31",
        "2024-09-31",
        "2024-11-31",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t days = 12345;
        if (date_parse(bad[i], strlen(bad[i]), &days) != -1)
            fail_msg("date_parse(\"%s\") accepted an invalid date", bad[i]);
        assert_int_equal(days, 12345);   /* untouched on failure */
    }

    /* A NUL inside the counted length is not a date either. */
    int32_t days = 0;
    assert_int_equal(date_parse("2024-01-01\0", 11, &days), -1);
    assert_int_equal(date_parse("2024-01\0-01", 10, &days), -1);
    assert_int_equal(date_parse(NULL, 10, &days), -1);
    /* The length counts, not the NUL: a prefix of a longer buffer parses. */
    assert_int_equal(date_parse("2024-01-011", 10, &days), 0);
    assert_date_equal(D("2024-01-01"), days);
    /* ...and a shorter count of a valid date does not. */
    assert_int_equal(date_parse("2024-01-01", 9, &days), -1);
}

static void test_valid_edges(void **state)
{
    (void)state;
    static const char *const good[] = {
        "0001-01-01", "9999-12-31", "2000-02-29", "2024-02-29", "1900-02-28",
        "2024-01-31", "2024-04-30", "2024-12-31", "1969-12-31",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int32_t days;
        char out[11];
        if (date_parse(good[i], strlen(good[i]), &days) != 0)
            fail_msg("date_parse(\"%s\") rejected a valid date", good[i]);
        date_format(days, out);
        assert_string_equal(out, good[i]);
    }
}

/* Walk every day from 1900-01-01 to 2100-12-31 with a y/m/d counter that is
 * incremented independently of date.c, and check format, parse and both
 * conversions against it. */
static void test_round_trip_1900_2100(void **state)
{
    (void)state;
    int y = 1900, m = 1, d = 1;
    int32_t first = D("1900-01-01"), last = D("2100-12-31");
    long count = 0;

    for (int32_t day = first; day <= last; day++, count++) {
        /* Sized for any int so that the compiler can prove no truncation. */
        char text[11], expect[40];
        int32_t back = 0;
        int cy, cm, cd;

        snprintf(expect, sizeof expect, "%04d-%02d-%02d", y, m, d);
        date_format(day, text);
        if (strcmp(text, expect) != 0)
            fail_msg("day %ld: formatted %s, expected %s", (long)day, text, expect);
        if (date_parse(text, 10, &back) != 0 || back != day)
            fail_msg("%s: parsed back as day %ld, expected %ld", text, (long)back,
                     (long)day);
        date_to_civil(day, &cy, &cm, &cd);
        if (cy != y || cm != m || cd != d)
            fail_msg("day %ld: to_civil gave %d-%d-%d, expected %s", (long)day, cy, cm,
                     cd, expect);
        if (date_from_civil(y, m, d) != day)
            fail_msg("%s: from_civil gave %ld, expected %ld", expect,
                     (long)date_from_civil(y, m, d), (long)day);

        if (++d > date_month_days(y, m)) {
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
    }
    /* 201 years, 49 of them leap (2000 is, 1900 and 2100 are not). */
    assert_int_equal(count, 201L * 365 + 49);
}

/* The whole text range and a margin beyond it: to_civil and from_civil are
 * inverse, and consecutive day numbers are consecutive dates. */
static void test_conversions_whole_range(void **state)
{
    (void)state;
    int32_t first = date_from_civil(-400, 1, 1), last = date_from_civil(10400, 12, 31);
    int py, pm, pd;
    date_to_civil(first - 1, &py, &pm, &pd);
    assert_int_equal(py, -401);
    for (int32_t day = first; day <= last; day++) {
        int y, m, d;
        date_to_civil(day, &y, &m, &d);
        if (date_from_civil(y, m, d) != day)
            fail_msg("day %ld -> %d-%d-%d -> %ld", (long)day, y, m, d,
                     (long)date_from_civil(y, m, d));
        int next = (d == 1) && (m == 1 ? (py == y - 1 && pm == 12 && pd == 31)
                                       : (py == y && pm == m - 1 &&
                                          pd == date_month_days(y, m - 1)));
        int same = (py == y && pm == m && pd == d - 1);
        if (!next && !same)
            fail_msg("day %ld is %d-%d-%d after %d-%d-%d", (long)day, y, m, d, py, pm, pd);
        py = y, pm = m, pd = d;
    }
}

static void test_format_out_of_range(void **state)
{
    (void)state;
    char out[11];
    date_format(date_from_civil(0, 12, 31), out);
    assert_string_equal(out, "0000-00-00");
    date_format(date_from_civil(10000, 1, 1), out);
    assert_string_equal(out, "0000-00-00");
    date_format(INT32_MAX, out);
    assert_string_equal(out, "0000-00-00");
    date_format(INT32_MIN, out);
    assert_string_equal(out, "0000-00-00");

    /* The extremes convert without overflow and back again. */
    int y, m, d;
    date_to_civil(INT32_MAX, &y, &m, &d);
    assert_int_equal(date_from_civil(y, m, d), INT32_MAX);
    date_to_civil(INT32_MIN, &y, &m, &d);
    assert_int_equal(date_from_civil(y, m, d), INT32_MIN);
}

static void test_age_18th_birthday(void **state)
{
    (void)state;
    int32_t birth = D("2006-05-20");
    assert_int_equal(date_age(birth, D("2024-05-19")), 17);
    assert_int_equal(date_age(birth, D("2024-05-20")), 18);
    assert_int_equal(date_age(birth, D("2024-05-21")), 18);
    assert_int_equal(date_age(birth, D("2006-05-20")), 0);
    assert_int_equal(date_age(birth, D("2007-05-19")), 0);
    assert_int_equal(date_age(birth, D("2007-05-20")), 1);

    /* Birthday at a year boundary. */
    birth = D("2006-01-01");
    assert_int_equal(date_age(birth, D("2023-12-31")), 17);
    assert_int_equal(date_age(birth, D("2024-01-01")), 18);
    birth = D("2006-12-31");
    assert_int_equal(date_age(birth, D("2024-12-30")), 17);
    assert_int_equal(date_age(birth, D("2024-12-31")), 18);
}

static void test_age_29_february(void **state)
{
    (void)state;
    int32_t birth = D("2004-02-29");
    /* Common year: a year older on 1 March, not on 28 February. */
    assert_int_equal(date_age(birth, D("2022-02-28")), 17);
    assert_int_equal(date_age(birth, D("2022-03-01")), 18);
    assert_int_equal(date_age(birth, D("2005-02-28")), 0);
    assert_int_equal(date_age(birth, D("2005-03-01")), 1);
    /* Leap year: on 29 February itself. */
    assert_int_equal(date_age(birth, D("2024-02-28")), 19);
    assert_int_equal(date_age(birth, D("2024-02-29")), 20);
    assert_int_equal(date_age(birth, D("2024-03-01")), 20);
    /* 2100 is not a leap year. */
    assert_int_equal(date_age(birth, D("2100-02-28")), 95);
    assert_int_equal(date_age(birth, D("2100-03-01")), 96);
}

static void test_age_before_birth(void **state)
{
    (void)state;
    int32_t birth = D("2006-05-20");
    assert_int_equal(date_age(birth, D("2006-05-19")), -1);
    assert_int_equal(date_age(birth, D("2005-05-20")), -1);
    assert_int_equal(date_age(birth, D("2005-05-19")), -2);
    assert_int_equal(date_age(D("2004-02-29"), D("2004-02-28")), -1);
}

static void test_months_between(void **state)
{
    (void)state;
    assert_int_equal(date_months_between(D("2024-01-29"), D("2024-02-28")), 0);
    assert_int_equal(date_months_between(D("2024-01-29"), D("2024-02-29")), 1);
    assert_int_equal(date_months_between(D("2024-01-31"), D("2024-02-29")), 0);
    assert_int_equal(date_months_between(D("2024-01-31"), D("2024-03-01")), 1);
    assert_int_equal(date_months_between(D("2024-01-31"), D("2024-03-30")), 1);
    assert_int_equal(date_months_between(D("2024-01-31"), D("2024-03-31")), 2);
    assert_int_equal(date_months_between(D("2024-01-15"), D("2024-07-15")), 6);
    assert_int_equal(date_months_between(D("2024-01-15"), D("2024-07-14")), 5);
    assert_int_equal(date_months_between(D("2024-01-15"), D("2024-01-15")), 0);
    assert_int_equal(date_months_between(D("2024-01-15"), D("2024-02-14")), 0);
    assert_int_equal(date_months_between(D("2023-11-30"), D("2024-02-29")), 2);
    assert_int_equal(date_months_between(D("2023-12-31"), D("2024-12-31")), 12);
    assert_int_equal(date_months_between(D("1999-12-31"), D("2024-01-01")), 288);
}

static void test_months_between_negative(void **state)
{
    (void)state;
    assert_int_equal(date_months_between(D("2024-07-15"), D("2024-01-15")), -6);
    assert_int_equal(date_months_between(D("2024-07-14"), D("2024-01-15")), -5);
    assert_int_equal(date_months_between(D("2024-07-16"), D("2024-01-15")), -6);
    assert_int_equal(date_months_between(D("2024-03-31"), D("2024-01-31")), -2);
    assert_int_equal(date_months_between(D("2024-02-29"), D("2024-01-31")), 0);
    assert_int_equal(date_months_between(D("2024-02-15"), D("2024-02-10")), 0);
    assert_int_equal(date_months_between(D("2025-01-01"), D("2023-12-31")), -12);

    /* Swapping the arguments flips the sign, over two years of pairs. */
    int32_t base = D("2023-12-01");
    for (int32_t a = base; a < base + 730; a += 7)
        for (int32_t b = base; b < base + 730; b += 3)
            assert_int_equal(date_months_between(a, b), -date_months_between(b, a));
}

static void test_add_months_clamping(void **state)
{
    (void)state;
    assert_date_equal(D("2024-02-29"), date_add_months(D("2024-03-31"), -1));
    assert_date_equal(D("2023-02-28"), date_add_months(D("2023-03-31"), -1));
    assert_date_equal(D("2023-03-31"), date_add_months(D("2025-03-31"), -24));
    assert_date_equal(D("2023-02-28"), date_add_months(D("2024-02-29"), -12));
    assert_date_equal(D("2024-02-29"), date_add_months(D("2024-01-31"), 1));
    assert_date_equal(D("2024-04-30"), date_add_months(D("2024-01-31"), 3));
    assert_date_equal(D("2025-02-28"), date_add_months(D("2024-02-29"), 12));
    assert_date_equal(D("2028-02-29"), date_add_months(D("2024-02-29"), 48));
    assert_date_equal(D("2023-12-15"), date_add_months(D("2024-01-15"), -1));
    assert_date_equal(D("2022-12-15"), date_add_months(D("2024-01-15"), -13));
    assert_date_equal(D("2025-01-15"), date_add_months(D("2024-12-15"), 1));
    assert_date_equal(D("2024-06-30"), date_add_months(D("2024-06-30"), 0));
    assert_date_equal(D("0001-01-31"), date_add_months(D("9999-12-31"), -9998 * 12 - 11));

    /* Absurd counts saturate rather than wrap. */
    assert_int_equal(date_add_months(0, INT_MAX), INT32_MAX);
    assert_int_equal(date_add_months(0, INT_MIN), INT32_MIN);
}

static void test_today(void **state)
{
    (void)state;
    int32_t today = date_today();
    int32_t utc = (int32_t)(time(NULL) / 86400);
    /* Local time is at most a day away from UTC. */
    assert_in_range(today, utc - 1, utc + 1);
    assert_true(today > D("2024-01-01"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leap_years),
        cmocka_unit_test(test_month_ends),
        cmocka_unit_test(test_known_day_numbers),
        cmocka_unit_test(test_invalid_dates),
        cmocka_unit_test(test_valid_edges),
        cmocka_unit_test(test_round_trip_1900_2100),
        cmocka_unit_test(test_conversions_whole_range),
        cmocka_unit_test(test_format_out_of_range),
        cmocka_unit_test(test_age_18th_birthday),
        cmocka_unit_test(test_age_29_february),
        cmocka_unit_test(test_age_before_birth),
        cmocka_unit_test(test_months_between),
        cmocka_unit_test(test_months_between_negative),
        cmocka_unit_test(test_add_months_clamping),
        cmocka_unit_test(test_today),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
