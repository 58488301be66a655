/* tests/unit/ids.c -- decision ids: shape, order, time prefix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ids.h"

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* The millisecond time the first 10 digits of ID encode (48 bits). */
static int64_t id_ms(const char *id)
{
    uint64_t v = 0;
    for (int i = 0; i < 10; i++)
        v = v << 5 | (uint64_t)(strchr(alphabet, id[i]) - alphabet);
    return (int64_t)v;   /* 50 bits read, the top 2 always zero */
}

/* ids_encode against the plain reading of the layout, a 128-bit number
 * (48 bits of time, then the 80 low ones) cut into 5-bit digits from the
 * end: each bit alone, none, all, and a run of mixed values. */
static void encode_slowly(uint64_t ms, const uint8_t low[10], char out[IDS_LEN + 1])
{
    unsigned __int128 v = ms & 0xffffffffffffu;
    for (int i = 0; i < 10; i++)
        v = v << 8 | low[i];
    for (int i = IDS_LEN - 1; i >= 0; i--, v >>= 5)
        out[i] = alphabet[v & 31];
    out[IDS_LEN] = '\0';
}

static void check_encode(uint64_t ms, const uint8_t low[10])
{
    char got[IDS_LEN + 1], want[IDS_LEN + 1];
    ids_encode(ms, low, got);
    encode_slowly(ms, low, want);
    if (strcmp(got, want) != 0)
        fail_msg("ms %llx: %s, not %s", (unsigned long long)ms, got, want);
}

static void test_ids_encode_every_bit(void **state)
{
    (void)state;
    uint8_t low[10];
    for (int bit = 0; bit < 128; bit++) {
        memset(low, 0, sizeof low);
        uint64_t ms = 0;
        if (bit < 80)
            low[9 - bit / 8] = (uint8_t)(1u << (bit % 8));
        else
            ms = (uint64_t)1 << (bit - 80);
        check_encode(ms, low);
    }
    memset(low, 0, sizeof low);
    check_encode(0, low);
    memset(low, 0xff, sizeof low);
    check_encode(UINT64_MAX, low);   /* the time's bits above 48 are not the id's */
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 10000; i++) {
        for (int j = 0; j < 10; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            low[j] = (uint8_t)x;
        }
        check_encode(x, low);
    }
}

static void test_ids_shape(void **state)
{
    (void)state;
    char id[IDS_LEN + 1];
    ids_next(id);
    assert_int_equal(strlen(id), IDS_LEN);
    for (int i = 0; i < IDS_LEN; i++)
        assert_non_null(strchr(alphabet, id[i]));
    /* 128 bits in 130: the first digit holds 3 bits. */
    assert_true(id[0] <= '7');
}

static void test_ids_strictly_increasing(void **state)
{
    (void)state;
    char prev[IDS_LEN + 1], id[IDS_LEN + 1];
    ids_next(prev);
    for (int i = 0; i < 100000; i++) {
        ids_next(id);
        if (strcmp(prev, id) >= 0)
            fail_msg("id %d: %s does not sort after %s", i, id, prev);
        memcpy(prev, id, sizeof id);
    }
}

static void test_ids_time_prefix_is_now(void **state)
{
    (void)state;
    char id[IDS_LEN + 1];
    int64_t before = ids_now_ms();
    ids_next(id);
    int64_t after = ids_now_ms(), at = id_ms(id);
    if (at < before || at > after)
        fail_msg("id %s encodes %lld ms, made between %lld and %lld", id, (long long)at,
                 (long long)before, (long long)after);
}

static void test_ids_now_format(void **state)
{
    (void)state;
    char now[25];
    ids_now(now);
    assert_int_equal(strlen(now), 24);
    assert_true(now[4] == '-' && now[7] == '-' && now[10] == 'T' && now[13] == ':' &&
                now[16] == ':' && now[19] == '.' && now[23] == 'Z');
}

/* Fixed times, the answers worked out by hand (and by `date -u -d @SECONDS`). */
static void test_ids_format_fixed_times(void **state)
{
    (void)state;
    static const struct {
        int64_t ms;
        const char *text;
    } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {951782400999, "2000-02-29T00:00:00.999Z"},
        {1764415730123, "2025-11-29T11:28:50.123Z"},
        /* The same second again (the thread keeps its text), the next, and back. */
        {1764415730999, "2025-11-29T11:28:50.999Z"},
        {1764415731000, "2025-11-29T11:28:51.000Z"},
        {1764415730001, "2025-11-29T11:28:50.001Z"},
        {253402300799001, "9999-12-31T23:59:59.001Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {-86400000, "1969-12-31T00:00:00.000Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[25];
        ids_format(cases[i].ms, out);
        assert_string_equal(out, cases[i].text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_shape),
        cmocka_unit_test(test_ids_encode_every_bit),
        cmocka_unit_test(test_ids_strictly_increasing),
        cmocka_unit_test(test_ids_time_prefix_is_now),
        cmocka_unit_test(test_ids_now_format),
        cmocka_unit_test(test_ids_format_fixed_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
