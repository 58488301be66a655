/* tests/unit/amounts.h -- the amounts that the writers of amounts are
 * compared with the printf code on (tests/unit/canon.c, bindings.c). */
#ifndef ELIGO_TEST_AMOUNTS_H
#define ELIGO_TEST_AMOUNTS_H

#include <math.h>
#include <stdint.h>

/* The Ith amount drawn from the state *X (xorshift64, not 0): a whole number
 * of hundredths of any size up to 10^15, either sign; every fifth is the
 * double next to one, which is not. */
static inline double amount_draw(uint64_t *x, int i)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    long long c = (long long)(*x >> (14 + i % 50)) % 100000000000000000LL;
    double d = (double)c / 100.0 * (*x & 1 ? -1.0 : 1.0);
    return i % 5 == 0 ? nextafter(d, i % 2 ? INFINITY : -INFINITY) : d;
}

#endif
