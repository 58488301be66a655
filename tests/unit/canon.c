/* tests/unit/canon.c -- numbers as canonical JSON writes them: an integral
 * double below 2^53 in plain decimal, as "%.0f" prints it but -0 as 0; any
 * other the shortest of %.15g..%.17g that reads back exactly.  Strings, short
 * and long, with and without bytes to escape.  Tables written from the keys
 * kept of the last one (canon_try_keys) as when written anew (canon_try). */
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
#include <lualib.h>

#include "amounts.h"
#include "buf.h"
#include "canon.h"
#include "text.h"

/* canon_add_number of D must append exactly WANT. */
static void check_number(double d, const char *want)
{
    buf b;
    buf_init(&b, 64);
    if (canon_add_number(&b, d) != 0)
        fail_msg("%.17g was refused", d);
    assert_string_equal(b.data, want);
    buf_free(&b);
}

static void test_canon_number_edges(void **state)
{
    (void)state;
    check_number(0.0, "0");
    check_number(-0.0, "0");
    check_number(1.0, "1");
    check_number(-1.0, "-1");
    check_number(4200.0, "4200");
    check_number(-123456789012345.0, "-123456789012345");
    check_number(9007199254740991.0, "9007199254740991");     /* 2^53 - 1 */
    check_number(-9007199254740991.0, "-9007199254740991");
    check_number(9007199254740992.0, "9007199254740992");     /* 2^53: by %.17g */
    check_number(-9007199254740992.0, "-9007199254740992");
    check_number(1e300, "1e+300");
    check_number(-1e300, "-1e+300");
    check_number(0.1, "0.1");
    check_number(-0.5, "-0.5");
    check_number(4200.5, "4200.5");
    check_number(1.0 / 3.0, "0.3333333333333333");
}

/* What canon_add_number wrote before it took integral doubles without
 * printf; every integral double below 2^53 must come out the same. */
static void reference(double d, char *out, size_t n)
{
    if (d == floor(d) && fabs(d) < 9007199254740992.0) {
        snprintf(out, n, "%.0f", d);
        if (!strcmp(out, "-0"))
            snprintf(out, n, "0");
        return;
    }
    for (int prec = 15;; prec++) {
        snprintf(out, n, "%.*g", prec, d);
        if (prec == 17 || strtod(out, NULL) == d)
            break;
    }
}

static void test_canon_number_as_printf(void **state)
{
    (void)state;
    char want[40];
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;   /* xorshift64 */
        /* Integers of every magnitude up to 2^54, both signs, and some
         * halves, which are not integral. */
        double d = (double)(x >> (10 + i % 54)) * (x & 1 ? -1.0 : 1.0);
        if (i % 7 == 0)
            d += 0.5;
        reference(d, want, sizeof want);
        check_number(d, want);
    }
}

/* Amounts: whole numbers of hundredths of every size up to 10^15 (those
 * from 10^13 by printf), both signs, and their neighbouring doubles, which
 * are not; each as the printf code writes it. */
static void test_canon_number_hundredths_as_printf(void **state)
{
    (void)state;
    char want[40];
    uint64_t x = 2463534242u;
    for (int i = 0; i < 300000; i++) {
        double d = amount_draw(&x, i);
        reference(d, want, sizeof want);
        check_number(d, want);
    }
    check_number(0.01, "0.01");
    check_number(-0.07, "-0.07");
    check_number(9999999999999.99, "9999999999999.99");
    check_number(1234567.8, "1234567.8");
}

static void test_canon_number_not_finite(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 64);
    assert_int_equal(canon_add_number(&b, INFINITY), -1);
    assert_int_equal(canon_add_number(&b, -INFINITY), -1);
    assert_int_equal(canon_add_number(&b, NAN), -1);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

/* The JSON string literal of the N bytes S, byte by byte, into OUT. */
static size_t escaped(const char *s, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *short_esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n"
                              : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
        if (short_esc) {
            memcpy(o, short_esc, 2);
            o += 2;
        } else if (c < 0x20) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    *o = '\0';
    return (size_t)(o - out);
}

/* Texts of every length up to 40 (short ones are copied as they are looked
 * over, longer eight bytes at a time), plain or with one byte to escape at
 * each place, appended after other text: each must come out as the byte by
 * byte escaping writes it, and what was there before must stay; canon_plain
 * tells those written as they are. */
static void test_canon_string_escapes_anywhere(void **state)
{
    (void)state;
    static const char special[] = {'"', '\\', '\n', '\r', '\t', '\0', '\001', '\037', '\177'};
    char text[40], want[16 + 6 * sizeof text + 2];
    buf b;
    buf_init(&b, 1 << 16);
    for (size_t n = 0; n <= sizeof text; n++) {
        for (size_t at = 0; at <= n; at++) {
            for (size_t k = 0; k < sizeof special; k++) {
                for (size_t i = 0; i < n; i++)
                    text[i] = i % 3 == 0 ? (char)('a' + i % 26) : i % 3 == 1 ? '\xc3' : '\xa9';
                if (at < n)
                    text[at] = special[k];
                buf_reset(&b);
                assert_int_equal(buf_adds(&b, "[1,"), 0);
                assert_int_equal(canon_add_string(&b, text, n), 0);
                memcpy(want, "[1,", 3);
                size_t len = 3 + escaped(text, n, want + 3);
                assert_int_equal(b.len, len);
                assert_memory_equal(b.data, want, len + 1);   /* and its NUL */
                /* canon_plain: exactly when nothing is escaped */
                assert_int_equal(canon_plain(text, n), len == 3 + n + 2);
                if (at == n)
                    break;   /* nothing replaced: once is enough */
            }
        }
    }
    buf_free(&b);
}

/* canon_look tells a byte JSON escapes and a byte of 0x80 or more wherever
 * they are, in texts of every length up to 40 (looked at eight bytes at a
 * time, then byte by byte): ASCII around one or two bytes of each kind. */
static void test_canon_look_anywhere(void **state)
{
    (void)state;
    static const char kinds[] = {'a', '"', '\\', '\0', '\037', '\177', '\x80', '\xc3', '\xff'};
    char text[40];
    for (size_t n = 0; n <= sizeof text; n++)
        for (size_t at = 0; at < n; at++)
            for (size_t k = 0; k < sizeof kinds; k++)
                for (size_t j = 0; j < sizeof kinds; j++) {
                    for (size_t i = 0; i < n; i++)
                        text[i] = (char)('a' + i % 26);
                    text[at] = kinds[k];
                    text[n - 1 - at] = kinds[j];   /* the same place when at is the middle */
                    int want = 0;
                    for (size_t i = 0; i < n; i++) {
                        unsigned char c = (unsigned char)text[i];
                        if (c < 0x20 || c == '"' || c == '\\')
                            want |= CANON_ESCAPES;
                        if (c >= 0x80)
                            want |= CANON_HIGH;
                    }
                    if (canon_look(text, n) != want)
                        fail_msg("length %zu, bytes %02x at %zu and %02x at %zu: %d, not %d", n,
                                 (unsigned char)kinds[k], at, (unsigned char)kinds[j], n - 1 - at,
                                 canon_look(text, n), want);
                    assert_int_equal(canon_plain(text, n), !(want & CANON_ESCAPES));
                }
}

/* A short text is held to the cap as any other: with the memory there
 * already, the cap still decides. */
static void test_canon_string_short_at_cap(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 10);
    assert_int_equal(canon_add_string(&b, "abcdefgh", 8), 0);   /* 10 bytes: the cap */
    assert_string_equal(b.data, "\"abcdefgh\"");
    buf_reset(&b);
    assert_int_equal(canon_add_string(&b, "abcdefghi", 9), -1);  /* 11 */
    assert_int_equal(b.len, 0);
    assert_int_equal(canon_add_string(&b, "abcdef", 6), 0);
    assert_int_equal(canon_add_string(&b, "", 0), 0);            /* 10 */
    assert_int_equal(canon_add_string(&b, "", 0), -1);           /* 12 */
    assert_string_equal(b.data, "\"abcdef\"\"\"");
    buf_free(&b);
}

/* Lua numbers of both kinds from a plain Lua state, written as the engine
 * wrote them before integral floats were converted by lua_tointegerx: an
 * integer in decimal whatever its size, a float by canon_add_number. */
static void test_canon_lua_numbers(void **state)
{
    (void)state;
    static const struct {
        const char *lua, *want;
    } cases[] = {
        {"3", "3"},
        {"3.0", "3"},
        {"-0.0", "0"},
        {"-7.0", "-7"},
        {"4200.5", "4200.5"},
        {"2^53 - 1", "9007199254740991"},
        {"-(2^53 - 1)", "-9007199254740991"},
        {"2^53", "9007199254740992"},
        {"-2^53", "-9007199254740992"},
        {"2^60", "1.152921504606847e+18"},
        {"-2^60", "-1.152921504606847e+18"},
        {"1 << 60", "1152921504606846976"},
        {"(1 << 53) + 1", "9007199254740993"},
        {"math.maxinteger", "9223372036854775807"},
        {"math.mininteger", "-9223372036854775808"},
        {"2^63", "9.223372036854776e+18"},
        {"1e300", "1e+300"},
        {"0.1", "0.1"},
        {"{a = 2^53, b = 2.0, c = 1 << 62}",
         "{\"a\":9007199254740992,\"b\":2,\"c\":4611686018427387904}"},
    };
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    char msg[128];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char chunk[128];
        snprintf(chunk, sizeof chunk, "return %s", cases[i].lua);
        assert_int_equal(luaL_dostring(L, chunk), LUA_OK);
        buf b;
        buf_init(&b, 256);
        if (canon_try(L, -1, &b, msg, sizeof msg) != 0)
            fail_msg("%s was refused: %s", cases[i].lua, msg);
        if (strcmp(b.data, cases[i].want) != 0)
            fail_msg("%s: %s, not %s", cases[i].lua, b.data, cases[i].want);
        buf_free(&b);
        lua_pop(L, 1);
    }
    lua_close(L);
}

/* The tables test_canon_kept_as_anew writes, one case each: the same keys
 * again, in another insertion order, more, fewer, others, nil holes and a
 * key deleted, keys that are not strings, values with no JSON form, nested
 * tables, 16 and 17 keys, keys longer than Lua interns, keys whose text
 * escaped passes what canon_keys holds, texts not UTF-8, metatables. */
static const char canon_kept_cases[] =
    "local cases = {}\n"
    "local function add(f) cases[#cases + 1] = f end\n"
    "local function many(n, from)\n"
    "  return function()\n"
    "    local t = {}\n"
    "    for i = from or 1, n do t[string.format('k%02d', i)] = i end\n"
    "    return t\n"
    "  end\n"
    "end\n"
    "local function backwards(n)\n"
    "  return function()\n"
    "    local t = {}\n"
    "    for i = n, 1, -1 do t[string.format('k%02d', i)] = -i end\n"
    "    return t\n"
    "  end\n"
    "end\n"
    "add(function() return {a = 1, b = 'x'} end)\n"
    "add(function() return {a = 1.5, b = 'y'} end)\n"
    "add(function() local t = {}; t.b = 'z'; t.a = 2; return t end)\n"
    "add(function() local t = {}; t.z = 0; t.b = 'z'; t.a = 2; t.z = nil; return t end)\n"
    "add(function() return {a = 1, b = 'x', c = true} end)\n"
    "add(function() return {a = false} end)\n"
    "add(function() return {a = 1, c = 2} end)\n"
    "add(function() return {a = 1, b = nil, c = 3} end)\n"
    "add(function() local t = {a = 1, b = 2, c = 3}; t.b = nil; return t end)\n"
    "add(function() return {a = 1, [1] = 2} end)\n"
    "add(function() return {a = 1, b = 2, [1] = 2} end)\n"
    "add(function() return {a = 1, b = 2, [2.5] = 2} end)\n"
    "add(function() return {a = 1, b = 2, [true] = 2} end)\n"
    "add(function() return {a = 1, b = 2, [{}] = 2} end)\n"
    "add(function() return {a = 1, b = 2, [print] = 2, [false] = 1} end)\n"
    "add(function() return {a = 0/0, b = 1} end)\n"
    "add(function() return {a = 1, b = 1/0} end)\n"
    "add(function() return {a = 1, b = print} end)\n"
    "add(function() return {a = 1, b = coroutine.create(print)} end)\n"
    "add(function() local t = {a = 1}; t.b = t; return t end)\n"
    "add(function() return {a = {x = {1, 2}, y = {}}, b = 1} end)\n"
    "add(function() return {a = {x = {1, 2, nil, 4}, y = {z = 'w'}}, b = {}} end)\n"
    "add(function() return {a = {[1] = 1, [3] = 3}, b = 2} end)\n"
    "add(function() return {['a\\0b'] = 1, b = 2} end)\n"
    "add(function() return {a = 'caf\\xc3\\xa9', b = 2} end)\n"
    "add(function() return {a = '\\xff', b = 2} end)\n"
    "add(function() return {['\\xff'] = 1, b = 2} end)\n"
    "add(function() return {['\\xc3\\xa9t\\xc3\\xa9'] = 1, b = 2} end)\n"
    "add(function() return {a = 'q\"\\n\\1', b = 2} end)\n"
    "add(function() return {['q\"\\n'] = 1, b = 2} end)\n"
    "add(function() return {[string.rep('\\1', 8)] = 1, b = 2} end)\n"
    "add(function() return {[string.rep('\\1', 40)] = 1, b = 2} end)\n"
    "add(function() return {[string.rep('k', 40)] = 1, b = 2} end)\n"
    "add(function() return {[string.rep('k', 41)] = 1, b = 2} end)\n"
    "add(function() return {[string.rep('k', 44)] = 1, [string.rep('j', 43)] = 2} end)\n"
    "-- after {[y] = 1}, {[y] = 1, [x] = 3}: x, not kept, given after y\n"
    "local last = 0\n"
    "for i = 1, 60 do\n"
    "  local y, x = 'y' .. i, 'x' .. i\n"
    "  local probe, at = {[y] = 1, [x] = 3}\n"
    "  for key in next, probe do at = key end\n"
    "  if at == x then last = last + 1 end\n"
    "  add(function() return {[y] = 1} end)\n"
    "  add(function() return {[y] = 1, [x] = 3} end)\n"
    "  add(function() return {a = 1, b = 'x', [x] = 3} end)\n"
    "end\n"
    "assert(last > 0, 'no key given after the kept one')\n"
    "add(many(15)) add(many(16)) add(backwards(16)) add(many(17)) add(many(17, 2))\n"
    "add(function() return {} end)\n"
    "add(function() return {1, 2} end)\n"
    "add(function() return setmetatable({a = 1, b = 2}, {}) end)\n"
    "add(function() return setmetatable({a = 1, b = 2}, {__json = 'array'}) end)\n"
    "add(function() return setmetatable({}, {__index = {a = 1}, __pairs = error}) end)\n"
    "add(function() return 'a' end)\n"
    "add(function() return nil end)\n"
    "return function(i) return cases[i % #cases + 1](), #cases end\n";

/* Write the value at the top with canon_try_keys (KEYS, the anchor at 1)
 * and with canon_try, both into a buffer of CAP bytes: the same status,
 * the same message, the same bytes, and *UTF8 set when the text is UTF-8.
 * A text cut short is not compared: written from kept keys, a key's text
 * goes in whole or not at all, where canon_try writes its comma first. */
static void check_kept_as_anew(lua_State *L, canon_keys *keys, size_t cap, int c)
{
    buf a, b;
    char amsg[128] = "", bmsg[128] = "";
    int utf8 = 1;
    buf_init(&a, cap);
    buf_init(&b, cap);
    int arc = canon_try_keys(L, -1, &a, amsg, sizeof amsg, keys, 1, 0, &utf8);
    int brc = canon_try(L, -1, &b, bmsg, sizeof bmsg);
    if (arc != brc || strcmp(amsg, bmsg) != 0 ||
        (arc == 0 && (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0))))
        fail_msg("case %d, cap %zu: %d %s [%s], not %d %s [%s]", c, cap, arc, amsg,
                 a.len ? a.data : "", brc, bmsg, b.len ? b.data : "");
    if (arc == 0)
        assert_int_equal(utf8, text_utf8_bad(b.data, b.len) == b.len);
    buf_free(&a);
    buf_free(&b);
}

static void test_canon_kept_as_anew(void **state)
{
    (void)state;
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_newtable(L);                                      /* 1: the anchor */
    assert_int_equal(luaL_loadstring(L, canon_kept_cases), LUA_OK);
    assert_int_equal(lua_pcall(L, 0, 1, 0), LUA_OK);      /* 2: the cases */
    lua_pushvalue(L, 2);
    lua_pushinteger(L, 0);
    lua_call(L, 1, 2);
    int ncases = (int)lua_tointeger(L, -1);
    lua_pop(L, 2);
    canon_keys keys = {0};
    /* Each case three times running, then cases one after another at
     * random, so that each follows others. */
    uint64_t x = 88172645463325252u;
    for (int step = 0; step < 3 * ncases + 4000; step++) {
        int c;
        if (step < 3 * ncases) {
            c = step / 3;
        } else {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            c = (int)(x % (uint64_t)ncases);
        }
        lua_pushvalue(L, 2);
        lua_pushinteger(L, c);
        lua_call(L, 1, 1);                                /* 1 2 value */
        check_kept_as_anew(L, &keys, 4096, c);
        if (step % 5 == 0) {
            /* Caps that cut it anywhere, the kept keys as they are now. */
            for (size_t cap = 0; cap < 140; cap += 1 + cap / 16)
                check_kept_as_anew(L, &keys, cap, c);
        }
        lua_pop(L, 1);
        if (step % 97 == 0)
            lua_gc(L, LUA_GCCOLLECT);   /* the kept keys, anchored, stay */
        assert_int_equal(lua_gettop(L), 2);
    }
    lua_close(L);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canon_number_edges),
        cmocka_unit_test(test_canon_number_as_printf),
        cmocka_unit_test(test_canon_number_hundredths_as_printf),
        cmocka_unit_test(test_canon_number_not_finite),
        cmocka_unit_test(test_canon_string_escapes_anywhere),
        cmocka_unit_test(test_canon_look_anywhere),
        cmocka_unit_test(test_canon_string_short_at_cap),
        cmocka_unit_test(test_canon_lua_numbers),
        cmocka_unit_test(test_canon_kept_as_anew),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
