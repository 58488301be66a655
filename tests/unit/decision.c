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

/* Programme p, of one criterion that passes, its message "m", and q,
 * whose criterion x shows parameter p.x and whose criterion raise raises
 * when the applicant says so; the function left at 1 decides p (or PROG)
 * for (on, lang, now) after a reset and returns the decision's number and
 * JSON, or nil and why; at 2, param. */
static const char driver[] =
    "local decider = ...\n"
    "local params = { ['p.x'] = { values = {\n"
    "  { from = '2025-01-01', value = 1 },\n"
    "  { from = '2025-03-01', to = '2025-03-31', value = 2 },\n"
    "  { from = '2025-04-01', value = 'three' } } } }\n"
    "local decide, param, reset, json, _, keep_params = decider({}, { en = 'missing: ' },\n"
    "  function() return 'm' end, {}, params, {})\n"
    "keep_params()\n"
    "local p = { id = 'p', version = '1', criteria = { { id = 'c', check = function() return true end } } }\n"
    "local q = { id = 'q', version = '1', criteria = {\n"
    "  { id = 'x', check = function() return true, { x = param 'p.x' } end },\n"
    "  { id = 'raise', check = function(a) if a.raise then error('raised') end return true end } } }\n"
    "return function(on, lang, now, prog, a)\n"
    "  reset()\n"
    "  local i, kind, c, why = decide(prog == 'q' and q or p, a or {}, on, lang, now, 'h')\n"
    "  if not i then return nil, tostring(why) end\n"
    "  return i, json(i)\n"
    "end, param\n";

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
    return lua_pcall(L, 1, 2, 0) == LUA_OK ? 0 : -1;   /* the driver, at 1, and param, at 2 */
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
    assert_int_equal(on, 3);   /* the driver and param below */
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

/* Decide q on ON (after a reset): its JSON, in a static buffer, or why
 * it was not written. */
static const char *decide_q(const char *on, int raise)
{
    static char out[4096];
    lua_pushvalue(L, 1);
    lua_pushstring(L, on);
    lua_pushliteral(L, "en");
    lua_pushliteral(L, "2025-03-01T10:00:00.000Z");
    lua_pushliteral(L, "q");
    lua_createtable(L, 0, 1);
    lua_pushboolean(L, raise);
    lua_setfield(L, -2, "raise");
    if (lua_pcall(L, 5, 2, 0) != LUA_OK)
        fail_msg("on %s: %s", on, lua_tostring(L, -1));
    snprintf(out, sizeof out, "%s", lua_tostring(L, -1));
    lua_pop(L, 2);
    return out;
}

/* param(name) outside a check: its value or its error message, in a
 * static buffer. */
static const char *param_now(void)
{
    static char out[256];
    lua_pushvalue(L, 2);
    lua_pushliteral(L, "p.x");
    int status = lua_pcall(L, 1, 1, 0);
    snprintf(out, sizeof out, "%s%s", status == LUA_OK ? "" : "error: ", luaL_tolstring(L, -1, NULL));
    lua_pop(L, 2);
    return out;
}

/* param() finds the value in force on the date of the decision being
 * decided (kept by decide, as current.as_of holds it), whatever the order of
 * the dates; outside a decision it refuses, and after a criterion that
 * raised, which leaves current.as_of set, it answers for that date, as it
 * always has. */
static void test_param_reads_the_decision_date(void **state)
{
    (void)state;
    static const struct {
        const char *on, *value;
    } days[] = {{"2025-03-15", "2"}, {"2025-01-01", "1"}, {"2025-04-01", "\"three\""},
                {"2025-03-31", "2"}, {"2025-03-31", "2"}, {"2025-02-28", "1"},
                {"2025-12-31", "\"three\""}, {"2025-03-01", "2"}, {"2024-12-31", NULL}};
    assert_string_equal(param_now(), "error: param() can only be called while deciding");
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < sizeof days / sizeof days[0]; i++) {
            const char *json = decide_q(days[i].on, 0);
            char want[256];
            if (days[i].value)
                snprintf(want, sizeof want, "\"values\":{\"x\":%s}", days[i].value);
            else
                snprintf(want, sizeof want, "parameter 'p.x' has no value in force on %s", days[i].on);
            if (!strstr(json, want))
                fail_msg("on %s: no %s in %s", days[i].on, want, json);
            if (days[i].value) {
                snprintf(want, sizeof want, "\"parameters\":{\"p.x\":%s}", days[i].value);
                if (!strstr(json, want))
                    fail_msg("on %s: no %s in %s", days[i].on, want, json);
            }
            /* A check that raised (no value in force) leaves the date set. */
            snprintf(want, sizeof want, "error: %s", days[i].value ? "param() can only be called while deciding" :
                     "parameter 'p.x' has no value in force on 2024-12-31");
            assert_string_equal(param_now(), want);
        }
    decide_q("2025-03-02", 1);
    assert_string_equal(param_now(), "2");
    decide_q("2025-01-02", 0);
    assert_string_equal(param_now(), "error: param() can only be called while deciding");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide_said_in_any_order),
        cmocka_unit_test(test_decide_said_after_collection),
        cmocka_unit_test(test_param_reads_the_decision_date),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
