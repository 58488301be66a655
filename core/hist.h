/*
 * hist.h -- a latency histogram in the spirit of HdrHistogram: fixed memory,
 * constant-time recording, percentiles within 0.4 %.
 *
 * Values (nanoseconds, or any unsigned count) below 256 have a bucket each;
 * above, every power of two is cut into 256 equal buckets, so a value is known
 * to within 1/256 of itself whatever its size.  The exact minimum and maximum
 * are kept beside the buckets.  Recording never allocates: a benchmark records
 * millions of values without disturbing what it measures.
 */
#ifndef ELIGO_HIST_H
#define ELIGO_HIST_H

#include <stdint.h>

#define HIST_SUB 256                                 /* buckets per power of two */
#define HIST_BUCKETS (HIST_SUB + (64 - 8) * HIST_SUB)

typedef struct hist {
    uint64_t count;
    uint64_t min, max;
    uint64_t sum, sum_carry;   /* the sum in 128 bits: sum_carry counts its wraps */
    uint64_t bucket[HIST_BUCKETS];
} hist;

/* Make H empty. */
void hist_init(hist *h);

/* Count one value V. */
void hist_record(hist *h, uint64_t v);

/* The value below or at which a fraction Q (0..1) of the values lie: the
 * middle of the bucket holding it, clamped to the exact min and max.  Q = 1
 * (or more) gives the exact maximum, Q = 0 (or less) the exact minimum; an
 * empty histogram gives 0. */
uint64_t hist_quantile(const hist *h, double q);

/* The mean of the values counted, exact to a double's precision whatever
 * their size (their sum is kept in 128 bits); 0 when empty. */
double hist_mean(const hist *h);

/* hist_quantile of each of the N fractions Q (in rising order) into OUT, in
 * one pass over the buckets. */
void hist_quantiles(const hist *h, const double *q, int n, uint64_t *out);

#endif
