/* tests/unit/hist.c -- the latency histogram: its quantiles against the
 * exact ones of the recorded values, and the one-pass hist_quantiles against
 * hist_quantile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "hist.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Values spread over many octaves: each quantile is within 1/256 of the
 * exact one (the value of rank ceil(q * n)), and the maximum is exact. */
static void test_hist_quantiles_within_bucket(void **state)
{
    (void)state;
    static hist h;
    enum { N = 20000 };
    static uint64_t v[N];
    hist_init(&h);
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        v[i] = (x % 1000) << (x % 24);   /* 0 .. about 16 billion */
        hist_record(&h, v[i]);
    }
    qsort(v, N, sizeof v[0], cmp_u64);
    static const double q[] = {0.0, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0};
    uint64_t got[7];
    hist_quantiles(&h, q, 7, got);
    for (int i = 0; i < 7; i++) {
        size_t rank = (size_t)(q[i] * N + 0.999999);
        uint64_t want = v[rank ? rank - 1 : 0];
        uint64_t slack = want / 256 + 1;
        assert_true(got[i] + slack >= want && got[i] <= want + slack);
        assert_int_equal(got[i], hist_quantile(&h, q[i]));
    }
    assert_int_equal(got[6], v[N - 1]);
}

/* An empty histogram gives 0 for every quantile; one value gives it for
 * every quantile. */
static void test_hist_quantiles_empty_and_single(void **state)
{
    (void)state;
    static hist h;
    static const double q[] = {0.5, 0.99, 1.0};
    uint64_t got[3];
    hist_init(&h);
    hist_quantiles(&h, q, 3, got);
    for (int i = 0; i < 3; i++)
        assert_int_equal(got[i], 0);
    hist_record(&h, 123456789);
    hist_quantiles(&h, q, 3, got);
    for (int i = 0; i < 3; i++)
        assert_int_equal(got[i], 123456789);
}

/* A fraction of 0 or less is the exact minimum, as 1 or more is the
 * maximum: a rank of none, where a negative one once came out of a cast. */
static void test_hist_quantile_zero_is_minimum(void **state)
{
    (void)state;
    static hist h;
    hist_init(&h);
    for (uint64_t v = 1000; v <= 5000; v += 7)
        hist_record(&h, v);
    static const double q[] = {-1.0, 0.0, 1.0, 2.0};
    uint64_t got[4];
    hist_quantiles(&h, q, 4, got);
    assert_int_equal(got[0], 1000);
    assert_int_equal(got[1], 1000);
    assert_int_equal(got[2], 4997);
    assert_int_equal(got[3], 4997);
    assert_int_equal(hist_quantile(&h, 0.0), 1000);
}

/* Values near 2^64 (the histogram takes any count, not only latencies):
 * the mean of two is their mean, not that of their sum wrapped to 64 bits. */
static void test_hist_mean_of_huge_values(void **state)
{
    (void)state;
    static hist h;
    hist_init(&h);
    assert_true(hist_mean(&h) == 0.0);
    hist_record(&h, UINT64_MAX);
    hist_record(&h, UINT64_MAX - 1);
    hist_record(&h, 1);
    double want = 2.0 * 18446744073709551616.0 / 3.0;   /* (2^64-1 + 2^64-2 + 1) / 3 */
    double got = hist_mean(&h);
    if (got < want * (1 - 1e-12) || got > want * (1 + 1e-12))
        fail_msg("mean %g, expected %g", got, want);
    assert_int_equal(hist_quantile(&h, 1.0), UINT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_quantiles_within_bucket),
        cmocka_unit_test(test_hist_quantiles_empty_and_single),
        cmocka_unit_test(test_hist_mean_of_huge_values),
        cmocka_unit_test(test_hist_quantile_zero_is_minimum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
