/* tests/unit/decision.c -- the decider of bindings/decision.c driven from a
 * plain Lua state: as_of, lang and decided_at, which decide copies from
 * what it wrote for the decision before when they come from the same
 * string (decision_put_said), written as canon writes them whatever the
 * order they come in, and with what they say of UTF-8. */
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

#include "buf.h"
#include "canon.h"
#include "decision.h"

static lua_State *L;

/* One programme of one criterion that passes, its message "m"; the
 * function left at 1 decides it for (on, lang, now) after a reset and
 * returns the decision's number and JSON, or nil and why. */
static const char driver[] =
    "local decider = ...\n"
    "local decide, _, reset, json = decider({}, { en = 'missing: ' }, function() return 'm' end,\n"
    "  {}, {}, {})\n"
    "local p = { id = 'p', version = '1', criteria = { { id = 'c', check = function() return true end } } }\n"
    "return function(on, lang, now)\n"
    "  reset()\n"
    "  local i, kind, c, why = decide(p, {}, on, lang, now, 'h')\n"
    "  if not i then return nil, tostring(why) end\n"
    "  return i, json(i)\n"
    "end\n";

static int setup(void **state)
{
    (void)state;
    L = luaL_newstate();
    if (!L)
        return -1;
    luaL_openlibs(L);
    if (luaL_loadstring(L, driver) != LUA_OK)
        return -1;
    decision_push(L);
    return lua_pcall(L, 1, 1, 0) == LUA_OK ? 0 : -1;   /* the driver, at 1 */
}

static int teardown(void **state)
{
    (void)state;
    lua_close(L);
    return 0;
}

/* ,"KEY": and the value at IDX as canon writes it, or "" when it is nil.  */
static void member(buf *b, const char *key, int idx)
{
    char why[128];
    buf_reset(b);
    if (lua_isnil(L, idx))
        return;
    assert_int_equal(buf_add(b, ",\"", 2), 0);
    assert_int_equal(buf_add(b, key, strlen(key)), 0);
    assert_int_equal(buf_add(b, "\":", 2), 0);
    if (canon_try(L, idx, b, why, sizeof why) != 0)
        fail_msg("canon_try: %s", why);
}

#define TEXT(b) ((b).data ? (b).data : "")

/* Decide with the three values at the top (on, lang, now; popped): the
 * decision shows each as canon writes it, in its place, and is said to be
 * UTF-8 exactly when all three are.  [-3, +0] */
static void decide_top(int utf8, const char *what)
{
    int now = lua_gettop(L), lang = now - 1, on = now - 2;
    buf as_of, lg, at;
    buf_init(&as_of, 1024);
    buf_init(&lg, 1024);
    buf_init(&at, 1024);
    member(&as_of, "as_of", on);
    member(&lg, "lang", lang);
    member(&at, "decided_at", now);
    lua_pushvalue(L, 1);
    lua_rotate(L, on, 1);                                 /* f on lang now */
    if (lua_pcall(L, 3, 2, 0) != LUA_OK || lua_isnil(L, -2))
        fail_msg("%s: %s", what, lua_tostring(L, -1));
    size_t n;
    const char *json = lua_tolstring(L, -1, &n);
    char want[4096];
    snprintf(want, sizeof want, ",\"ruleset\":\"h\"%s%s,\"outcome\":", TEXT(as_of), TEXT(lg));
    if (!strstr(json, want))
        fail_msg("%s: no %s in %s", what, want, json);
    snprintf(want, sizeof want, "\"parameters\":{}%s}", TEXT(at));
    if (n < strlen(want) || strcmp(json + n - strlen(want), want) != 0)
        fail_msg("%s: %s does not end with %s", what, json, want);
    decision_out out;
    assert_int_equal(decision_written(L, lua_tointeger(L, -2), &out), 0);
    if (out.utf8 != utf8)
        fail_msg("%s: said %sUTF-8: %s", what, out.utf8 ? "" : "not ", json);
    lua_pop(L, 2);
    buf_free(&as_of);
    buf_free(&lg);
    buf_free(&at);
}

static void decide_strings(const char *on, const char *lang, const char *now, int utf8)
{
    char what[256];
    snprintf(what, sizeof what, "on %.60s, lang %.60s, now %.60s", on ? on : "nil",
             lang ? lang : "nil", now ? now : "nil");
    on ? (void)lua_pushstring(L, on) : lua_pushnil(L);
    lang ? (void)lua_pushstring(L, lang) : lua_pushnil(L);
    now ? (void)lua_pushstring(L, now) : lua_pushnil(L);
    decide_top(utf8, what);
}

/* The same strings again and again, others between, texts to escape, not
 * UTF-8, too long to keep, numbers and nils: each decision as the first. */
static void test_decide_said_in_any_order(void **state)
{
    (void)state;
    static const char *const ons[] = {"2025-03-01", "2025-03-01", "2025-03-02", "a\"b\\c\n\x01",
                                      "2025-03-01", NULL, "\xc3\xa9t\xc3\xa9"};
    static const char *const langs[] = {"en", "fr", "\xff\xfe", "\xff\xfe", "en", NULL, "ar"};
    static const char *const nows[] = {"2025-03-01T10:00:00.000Z", "2025-03-01T10:00:00.000Z",
                                       "2025-03-01T10:00:00.001Z", NULL, "x"};
    char longer[200];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < sizeof ons / sizeof ons[0]; i++)
            for (size_t j = 0; j < sizeof langs / sizeof langs[0]; j++)
                for (size_t k = 0; k < sizeof nows / sizeof nows[0]; k++) {
                    /* Twice each: the second from what the first kept. */
                    int utf8 = !(langs[j] && langs[j][0] == '\xff');
                    decide_strings(ons[i], langs[j], nows[k], utf8);
                    decide_strings(ons[i], langs[j], nows[k], utf8);
                    decide_strings(round ? longer : ons[i], langs[j], round == 2 ? longer : nows[k],
                                   utf8);
                }
    lua_pushinteger(L, 20250301);
    lua_pushliteral(L, "en");
    lua_pushnumber(L, 0.5);
    decide_top(1, "numbers");
    lua_pushinteger(L, 20250301);
    lua_pushliteral(L, "en");
    lua_pushnumber(L, 0.5);
    decide_top(1, "numbers again");
}

/* A string no one holds any more is collected, and a new one of the same
 * length may be made at its address: what decide kept of the old must not
 * be taken for the new. */
static void test_decide_said_after_collection(void **state)
{
    (void)state;
    for (int i = 0; i < 400; i++) {
        lua_pushfstring(L, "2025-%d%d-%d%d", i / 100 % 10, i / 10 % 10, i % 10, i % 7);
        lua_pushstring(L, i % 2 ? "en" : "fr");
        lua_pushfstring(L, "2025-03-01T10:00:00.%d%d%dZ", i / 100 % 10, i / 10 % 10, i % 10);
        decide_top(1, "a fresh date");
        lua_gc(L, LUA_GCCOLLECT);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide_said_in_any_order),
        cmocka_unit_test(test_decide_said_after_collection),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
