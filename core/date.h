/*
 * date.h -- civil dates as day numbers, and the calendar arithmetic rules need.
 *
 * A date is the number of days since 1970-01-01 in the proleptic Gregorian
 * calendar (negative before).  Only years 0001..9999 are representable in
 * text.  Everything here is pure and thread-safe.
 */
#ifndef ELIGO_DATE_H
#define ELIGO_DATE_H

#include <stddef.h>
#include <stdint.h>

/* Parse exactly "YYYY-MM-DD" (N bytes of S, no surrounding space) into
 * *DAYS.  Returns 0, or -1 for anything else: wrong shape, year 0000, month
 * 00 or 13, a day the month does not have (2023-02-30, 2023-02-29). */
int date_parse(const char *s, size_t n, int32_t *days);

/* Write DAYS as "YYYY-MM-DD" and a NUL into OUT. */
void date_format(int32_t days, char out[11]);

/* Convert between day numbers and year/month/day.  date_from_civil expects a
 * valid date. */
int32_t date_from_civil(int y, int m, int d);
void date_to_civil(int32_t days, int *y, int *m, int *d);

/* Number of days in month M of year Y; and whether Y is a leap year. */
int date_month_days(int y, int m);
int date_is_leap(int y);

/* Whole years of age on ON for someone born on BIRTH.  A birthday counts on
 * its calendar date; a person born on 29 February becomes a year older on
 * 1 March in common years (and on 29 February in leap years).  Negative when
 * ON is before BIRTH. */
int date_age(int32_t birth, int32_t on);

/* Whole calendar months from FROM to TO: a month is complete when TO's
 * day-of-month reaches FROM's (2024-01-29 -> 2024-02-28 is 0 months;
 * 2024-01-31 -> 2024-03-31 is 2).  Negative when TO is before FROM. */
int date_months_between(int32_t from, int32_t to);

/* DAYS moved by MONTHS calendar months (negative goes back), the day clamped
 * to the end of the target month (2024-03-31 minus 1 month = 2024-02-29). */
int32_t date_add_months(int32_t days, int months);

/* Today's date in the local time zone. */
int32_t date_today(void);

#endif
