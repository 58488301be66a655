/*
 * date.c -- see date.h.
 *
 * Day numbers and civil dates are converted with the classic "shifted year"
 * arithmetic.  Two observations make it branch-free and exact:
 *
 *  1. If the year is taken to start on 1 March, the leap day is the last day
 *     of the year, so the day-of-year of every other date does not depend on
 *     whether the year is leap.  The month lengths from March to January then
 *     follow the fixed pattern 31 30 31 30 31 31 30 31 30 31 31, and the day
 *     of the year on which (shifted) month MP begins is (153 * MP + 2) / 5.
 *  2. The Gregorian calendar repeats exactly every 400 years ("an era"), which
 *     is 146097 days.  Splitting a date into era and year-of-era keeps every
 *     intermediate value non-negative, so C's truncating division behaves like
 *     floor division and dates before 1970 (or before year 1) need no special
 *     case.
 *
 * 1970-01-01 is day 719468 counted from 0000-03-01, the origin of the shifted
 * calendar; that constant moves the origin to the Unix epoch.
 *
 * Intermediate values are int64_t so that no int32_t day number or int month
 * count can overflow; results that do not fit an int32_t saturate (see
 * date_clamp) instead of wrapping.
 */
#include "date.h"

#include <time.h>

enum {
    DAYS_PER_ERA = 146097,          /* 400 Gregorian years */
    EPOCH_FROM_SHIFTED_ORIGIN = 719468  /* 0000-03-01 to 1970-01-01 */
};

/* Saturate a 64-bit day number to the int32_t range.  Only reachable with
 * absurd inputs (millions of years away), but it keeps the conversion defined
 * and monotonic instead of implementation-defined. */
static int32_t date_clamp(int64_t days)
{
    if (days > INT32_MAX)
        return INT32_MAX;
    if (days < INT32_MIN)
        return INT32_MIN;
    return (int32_t)days;
}

/* Floor division for a positive divisor; C's '/' truncates toward zero. */
static int64_t date_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b) != 0 && (a < 0))
        q--;
    return q;
}

static int64_t date_days_from_civil64(int64_t y, int m, int d)
{
    /* January and February belong to the previous shifted year. */
    if (m <= 2)
        y--;
    int64_t era = date_floor_div(y, 400);
    int64_t yoe = y - era * 400;                    /* [0, 399] */
    int mp = (m + 9) % 12;                          /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + d - 1;       /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;  /* [0, 146096] */
    return era * DAYS_PER_ERA + doe - EPOCH_FROM_SHIFTED_ORIGIN;
}

int32_t date_from_civil(int y, int m, int d)
{
    return date_clamp(date_days_from_civil64(y, m, d));
}

void date_to_civil(int32_t days, int *y, int *m, int *d)
{
    int64_t z = (int64_t)days + EPOCH_FROM_SHIFTED_ORIGIN;
    int64_t era = date_floor_div(z, DAYS_PER_ERA);
    int64_t doe = z - era * DAYS_PER_ERA;           /* [0, 146096] */
    /* Years of era: undo the leap days (every 4th year, but not every 100th,
     * but every 400th) before dividing by 365.  The last day of an era,
     * doe = 146096, is the 400-year leap day and needs the third term. */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);  /* [0, 365] */
    int mp = (int)((5 * doy + 2) / 153);            /* March = 0 */
    int day = (int)(doy - (153 * mp + 2) / 5 + 1);
    int month = mp < 10 ? mp + 3 : mp - 9;
    int64_t year = yoe + era * 400 + (month <= 2);
    /* |days| < 2^31 keeps the year within about 5.9 million of 1970, so the
     * narrowing below cannot lose anything. */
    *y = (int)year;
    *m = month;
    *d = day;
}

int date_is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int date_month_days(int y, int m)
{
    static const unsigned char len[12] = {31, 28, 31, 30, 31, 30,
                                          31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12)
        return 0;
    if (m == 2 && date_is_leap(y))
        return 29;
    return len[m - 1];
}

/* Read exactly N decimal digits from S into *OUT; -1 on any non-digit.  The
 * test is written out rather than isdigit() so that the locale cannot admit
 * other characters. */
static int date_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int date_parse(const char *s, size_t n, int32_t *days)
{
    int y, m, d;

    if (!s || n != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    if (date_digits(s, 4, &y) != 0 || date_digits(s + 5, 2, &m) != 0 ||
        date_digits(s + 8, 2, &d) != 0)
        return -1;
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > date_month_days(y, m))
        return -1;
    *days = date_from_civil(y, m, d);
    return 0;
}

void date_format(int32_t days, char out[11])
{
    int y, m, d;

    date_to_civil(days, &y, &m, &d);
    if (y < 1 || y > 9999) {
        /* Not representable in four digits.  Write a value date_parse
         * rejects, so that it can never be read back as some other date. */
        y = m = d = 0;
    }
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
}

int date_age(int32_t birth, int32_t on)
{
    int by, bm, bd, oy, om, od;

    date_to_civil(birth, &by, &bm, &bd);
    date_to_civil(on, &oy, &om, &od);
    /* The birthday in year OY has not come yet while (OM, OD) is before
     * (BM, BD).  For a 29 February birthday in a common year, 28 February is
     * still before it and 1 March is not, which is the documented rule with
     * no special case.  The same comparison before birth gives floor
     * semantics, so any day before BIRTH yields a negative age. */
    int age = oy - by;
    if (om < bm || (om == bm && od < bd))
        age--;
    return age;
}

int date_months_between(int32_t from, int32_t to)
{
    int fy, fm, fd, ty, tm, td;

    /* Counted from the earlier date to the later one and then signed, so
     * that swapping the arguments only flips the sign. */
    if (to < from)
        return -date_months_between(to, from);
    date_to_civil(from, &fy, &fm, &fd);
    date_to_civil(to, &ty, &tm, &td);
    int months = (ty - fy) * 12 + (tm - fm);
    if (td < fd)
        months--;
    return months;
}

int32_t date_add_months(int32_t days, int months)
{
    int y, m, d;

    date_to_civil(days, &y, &m, &d);
    int64_t index = (int64_t)y * 12 + (m - 1) + months;
    int64_t ny = date_floor_div(index, 12);
    int nm = (int)(index - ny * 12) + 1;
    /* NY is within a few hundred million (years of an int32_t day number
     * plus INT_MAX months / 12), so it fits an int. */
    int last = date_month_days((int)ny, nm);
    if (d > last)
        d = last;
    return date_clamp(date_days_from_civil64(ny, nm, d));
}

int32_t date_today(void)
{
    time_t now = time(NULL);
    struct tm tm;

    if (localtime_r(&now, &tm) == NULL) {
        /* Only fails when the year overflows struct tm; fall back to UTC
         * arithmetic rather than returning garbage. */
        return date_clamp(date_floor_div((int64_t)now, 86400));
    }
    return date_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}
