/*
 * date.h -- civil dates as day numbers, and the calendar arithmetic rules need.
 *
 * A date is the number of days since 1970-01-01 in the proleptic Gregorian
 * calendar (negative before).  Only years 0001..9999 are representable in
 * text.  Everything here is thread-safe, and everything but date_today is
 * pure.
 */
#ifndef ELIGO_DATE_H
#define ELIGO_DATE_H

#include <stddef.h>
#include <stdint.h>

/* Parse exactly "YYYY-MM-DD" (N bytes of S, no surrounding space; S need
 * not be NUL-terminated) into *DAYS.  Returns 0, or -1 for anything else,
 * leaving *DAYS unchanged: wrong shape or length ("2024-1-01", a sign, a
 * trailing space), year 0000, month 00 or 13, a day the month does not have
 * (2023-02-30, 2023-02-29). */
int date_parse(const char *s, size_t n, int32_t *days);

/* Write DAYS as "YYYY-MM-DD" and a NUL into OUT (11 bytes).  A day outside
 * 0001-01-01..9999-12-31 is written as "0000-00-00", which date_parse
 * rejects, so it can never be read back as a different date. */
void date_format(int32_t days, char out[11]);

/* Convert between day numbers and year/month/day (month 1..12, day 1..31).
 * date_from_civil expects a valid date; given anything else it returns some
 * day number without undefined behaviour, but not a meaningful one.  Both
 * work for years before 1 and after 9999; a result beyond the int32_t range
 * saturates at INT32_MIN / INT32_MAX. */
int32_t date_from_civil(int y, int m, int d);
void date_to_civil(int32_t days, int *y, int *m, int *d);

/* Number of days in month M of year Y (0 when M is not 1..12); and whether
 * Y is a leap year (1) or not (0). */
int date_month_days(int y, int m);
int date_is_leap(int y);

/* Whole years of age on ON for someone born on BIRTH.  A birthday counts on
 * its calendar date; a person born on 29 February becomes a year older on
 * 1 March in common years (and on 29 February in leap years).  Negative when
 * ON is before BIRTH: the same rule read backwards, so every day of the
 * year before BIRTH gives -1, which a caller can use to reject the data. */
int date_age(int32_t birth, int32_t on);

/* Whole calendar months from FROM to TO: a month is complete when TO's
 * day-of-month reaches FROM's (2024-01-29 -> 2024-02-28 is 0 months;
 * 2024-01-31 -> 2024-03-31 is 2).  When TO is before FROM the months are
 * counted from TO to FROM and the result negated, so that
 * date_months_between(a, b) == -date_months_between(b, a); dates less than a
 * whole month apart give 0 in either direction.
 *
 * Note that this is not the inverse of date_add_months, which clamps:
 * 2024-01-31 plus 1 month is 2024-02-29, yet only 0 whole months lie between
 * the two, because the 29th never reaches the 31st. */
int date_months_between(int32_t from, int32_t to);

/* DAYS moved by MONTHS calendar months (negative goes back), the day clamped
 * to the end of the target month (2024-03-31 minus 1 month = 2024-02-29).
 * Saturates like date_from_civil. */
int32_t date_add_months(int32_t days, int months);

/* Today's date in the local time zone (TZ).  Reads the clock, so rules must
 * never see it: a decision takes its date from as_of. */
int32_t date_today(void);

#endif
