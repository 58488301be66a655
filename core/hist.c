/* hist.c -- see hist.h. */
#include "hist.h"

#include <string.h>

void hist_init(hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

/* Bucket of V: V itself below 256; above, 256 buckets per octave, chosen by
 * the 8 bits after the leading one. */
static unsigned hist_index(uint64_t v)
{
    if (v < HIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);    /* 8..63 */
    unsigned m = (unsigned)(v >> (e - 8)) - HIST_SUB;    /* 0..255 */
    return HIST_SUB + (e - 8) * HIST_SUB + m;
}

/* The smallest value and the width of bucket I. */
static void hist_bucket(unsigned i, uint64_t *lo, uint64_t *width)
{
    if (i < HIST_SUB) {
        *lo = i;
        *width = 1;
        return;
    }
    unsigned e = (i - HIST_SUB) / HIST_SUB + 8;
    uint64_t m = (i - HIST_SUB) % HIST_SUB + HIST_SUB;
    *lo = m << (e - 8);
    *width = (uint64_t)1 << (e - 8);
}

void hist_record(hist *h, uint64_t v)
{
    h->bucket[hist_index(v)]++;
    h->count++;
    h->sum += v;
    h->sum_carry += h->sum < v;   /* wrapped: values near 2^64 are counts, not just latencies */
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void hist_quantiles(const hist *h, const double *q, int n, uint64_t *out)
{
    int k = 0;
    if (!h->count) {
        for (; k < n; k++)
            out[k] = 0;
        return;
    }
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS && k < n; i++) {
        seen += h->bucket[i];
        for (; k < n; k++) {
            if (q[k] >= 1.0) {   /* the exact maximum */
                out[k] = h->max;
                continue;
            }
            if (!(q[k] > 0.0)) {   /* the exact minimum (and a NaN's rank is none) */
                out[k] = h->min;
                continue;
            }
            /* The rank of the value asked for, counted from 1: ceil(q * count). */
            double r = q[k] * (double)h->count;
            uint64_t rank = (uint64_t)r;
            if ((double)rank < r)
                rank++;
            if (rank < 1)
                rank = 1;
            if (seen < rank)
                break;
            uint64_t lo, width;
            hist_bucket(i, &lo, &width);
            uint64_t v = lo + width / 2;
            out[k] = v < h->min ? h->min : v > h->max ? h->max : v;
        }
    }
    for (; k < n; k++)
        out[k] = h->max;
}

double hist_mean(const hist *h)
{
    if (!h->count)
        return 0;
    return ((double)h->sum_carry * 18446744073709551616.0 + (double)h->sum) / (double)h->count;
}

uint64_t hist_quantile(const hist *h, double q)
{
    uint64_t v;
    hist_quantiles(h, &q, 1, &v);
    return v;
}
