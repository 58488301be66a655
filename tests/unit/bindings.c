/* tests/unit/bindings.c -- numbers as a message shows them
 * (bindings_format): integers and integral floats below 1e15 in plain
 * decimal, as "%lld" and "%.0f" print them (-0 included), a whole number of
 * centimes with two decimals, any other number as the shortest text that
 * reads back exactly. */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lauxlib.h>

#include "amounts.h"
#include "bindings.h"
#include "buf.h"

static lua_State *L;

static int setup(void **state)
{
    (void)state;
    L = luaL_newstate();
    return L ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    lua_close(L);
    return 0;
}

/* bindings_format of the value at the top (popped) must append WANT. */
static void check_top(const char *want)
{
    buf b;
    buf_init(&b, 64);
    assert_int_equal(bindings_format(L, -1, &b), 0);
    assert_string_equal(b.data, want);
    buf_free(&b);
    lua_pop(L, 1);
}

static void check_float(double d, const char *want)
{
    lua_pushnumber(L, d);
    check_top(want);
}

static void test_bindings_format_edges(void **state)
{
    (void)state;
    lua_pushinteger(L, 0);
    check_top("0");
    lua_pushinteger(L, -42);
    check_top("-42");
    lua_pushinteger(L, LLONG_MAX);
    check_top("9223372036854775807");
    lua_pushinteger(L, LLONG_MIN);
    check_top("-9223372036854775808");
    check_float(0.0, "0");
    check_float(-0.0, "-0");
    check_float(18.0, "18");
    check_float(-4200.0, "-4200");
    check_float(999999999999999.0, "999999999999999");   /* 1e15 - 1 */
    check_float(-999999999999999.0, "-999999999999999");
    check_float(1e15, "1e+15");                          /* by %.15g */
    check_float(9007199254740992.0, "9007199254740992");
    check_float(1e300, "1e+300");
    check_float(0.1, "0.10");
    check_float(4200.5, "4200.50");
    check_float(-0.25, "-0.25");
    check_float(0.125, "0.125");
}

/* Every integral double below 1e15, both signs, as "%.0f" prints it. */
static void test_bindings_format_integral_as_printf(void **state)
{
    (void)state;
    char want[64];
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;   /* xorshift64 */
        double d = (double)(x >> (14 + i % 50)) * (x & 1 ? -1.0 : 1.0);
        if (fabs(d) >= 1e15)
            continue;
        snprintf(want, sizeof want, "%.0f", d);
        check_float(d, want);
    }
}

/* Non-integral numbers as the printf code wrote them: an amount below 1e15
 * that "%.2f" reads back exactly, to the centime; any other the shortest of
 * %.15g..%.17g that reads back.  Whole numbers of hundredths of every size
 * (below 10^13 without printf now), and their neighbouring doubles. */
static void test_bindings_format_hundredths_as_printf(void **state)
{
    (void)state;
    char want[64];
    uint64_t x = 2463534242u;
    for (int i = 0; i < 300000; i++) {
        double d = amount_draw(&x, i);
        if (d == floor(d))
            continue;
        if (!(fabs(d) < 1e15 && snprintf(want, sizeof want, "%.2f", d) > 0 &&
              strtod(want, NULL) == d))
            for (int digits = 15; digits <= 17; digits++)
                if (snprintf(want, sizeof want, "%.*g", digits, d) > 0 && strtod(want, NULL) == d)
                    break;
        check_float(d, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bindings_format_edges),
        cmocka_unit_test(test_bindings_format_integral_as_printf),
        cmocka_unit_test(test_bindings_format_hundredths_as_printf),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
