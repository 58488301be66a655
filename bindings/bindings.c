/* bindings.c -- see bindings.h. */
#include "bindings.h"

#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uninorm.h>

#include "buf.h"
#include "canon.h"
#include "applicant.h"
#include "date.h"
#include "text.h"
#include "decision.h"
#include "hex.h"
#include "ids.h"
#include "json.h"
#include "order.h"
#include "request.h"

/* Raise "FN: argument ARG is <what it is>, expected EXPECTED", saying a
 * value as rules.lua's describe() does: "the number 20250101", not a text
 * '20250101' Lua would have made of it.  [-0, +1, v] */
static int bindings_bad_argument(lua_State *L, int arg, const char *fn, const char *expected)
{
    switch (lua_type(L, arg)) {
    case LUA_TNUMBER:
        luaL_tolstring(L, arg, NULL);
        return luaL_error(L, "%s: argument %d is the number %s, expected %s", fn, arg,
                          lua_tostring(L, -1), expected);
    case LUA_TBOOLEAN:
        return luaL_error(L, "%s: argument %d is the boolean %s, expected %s", fn, arg,
                          lua_toboolean(L, arg) ? "true" : "false", expected);
    case LUA_TSTRING:
        return luaL_error(L, "%s: argument %d is the string \"%s\", expected %s", fn, arg,
                          lua_tostring(L, arg), expected);
    case LUA_TTABLE:
        return luaL_error(L, "%s: argument %d is a table, expected %s", fn, arg, expected);
    default:
        return luaL_error(L, "%s: argument %d is %s, expected %s", fn, arg, luaL_typename(L, arg),
                          expected);
    }
}

/* Check that argument ARG is a valid date string; return its day number.
 * Only a string: Lua would make a text of a number, and 20250101 be refused
 * as if it had been written '20250101'.  [-0, +0, v] */
static int32_t bindings_checkdate(lua_State *L, int arg, const char *fn)
{
    size_t n;
    const char *s = lua_type(L, arg) == LUA_TSTRING ? lua_tolstring(L, arg, &n) : NULL;
    int32_t days;
    if (!s)
        return bindings_bad_argument(L, arg, fn, "a date");   /* raises: n is not read */
    if (date_parse(s, n, &days) != 0)
        luaL_error(L, "%s: '%s' is not a valid date (YYYY-MM-DD)", fn, s);
    return days;
}

/* age(birth, on) -> integer  [-0, +1, v] */
static int bindings_age(lua_State *L)
{
    int32_t birth = bindings_checkdate(L, 1, "age");
    int32_t on = bindings_checkdate(L, 2, "age");
    lua_pushinteger(L, date_age(birth, on));
    return 1;
}

/* months_between(from, to) -> integer  [-0, +1, v] */
static int bindings_months_between(lua_State *L)
{
    int32_t from = bindings_checkdate(L, 1, "months_between");
    int32_t to = bindings_checkdate(L, 2, "months_between");
    lua_pushinteger(L, date_months_between(from, to));
    return 1;
}

/* Push the date N months before ON, the date at ONIDX, and return 0; or
 * push why there is none and return -1.  [-0, +1, m] */
static int bindings_months_back(lua_State *L, int32_t on, int onidx, lua_Integer n)
{
    if (n < -120000 || n > 120000) {
        lua_pushfstring(L, "%I months is out of range", n);
        return -1;
    }
    int32_t d = date_add_months(on, -(int)n);
    if (d < date_from_civil(1, 1, 1) || d > date_from_civil(9999, 12, 31)) {
        lua_pushfstring(L, "%I months before %s is outside the years 0001 to 9999", n,
                        lua_tostring(L, onidx));
        return -1;
    }
    char out[11];
    date_format(d, out);
    lua_pushstring(L, out);
    return 0;
}

/* months_before(on, n) -> date string  [-0, +1, v] */
static int bindings_months_before(lua_State *L)
{
    int32_t on = bindings_checkdate(L, 1, "months_before");
    int whole = 0;
    /* A number only: luaL_checkinteger would take the text "3", and say
     * "bad argument #2 to 'months_before'" of 1.5. */
    lua_Integer n = lua_type(L, 2) == LUA_TNUMBER ? lua_tointegerx(L, 2, &whole) : 0;
    if (!whole)
        bindings_bad_argument(L, 2, "months_before", "a whole number of months");
    if (bindings_months_back(L, on, 1, n) != 0)
        return luaL_error(L, "months_before: %s", lua_tostring(L, -1));
    return 1;
}

/* Whether the value at IDX is a text that is a date, DAYS then its day.
 * [-0, +0, -] */
static int bindings_date_at(lua_State *L, int idx, int32_t *days)
{
    size_t n;
    const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &n) : NULL;
    return s && date_parse(s, n, days) == 0;
}

/* window_start(on, n) -> months_before(on, n), for the helpers whose window
 * of N months before ON it starts; or nil when ON is not a date, or nil and
 * why there is no such date: they raise it at their caller's line.  N is a
 * whole number (rules.lua looked).  [-0, +(1|2), m] */
static int bindings_window_start(lua_State *L)
{
    int32_t on;
    if (!bindings_date_at(L, 1, &on)) {
        lua_pushnil(L);
        return 1;
    }
    if (bindings_months_back(L, on, 1, lua_tointeger(L, 2)) == 0)
        return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

/* Keys is_in counts between two payments, when it must count them. */
#define BINDINGS_PIECE 256

/* is_in(x, set) for rules.lua's is_in: whether X is (==, as Lua compares)
 * one of the items of SET, 1 .. n where ipairs would stop; or nil and n
 * when SET's contents (a frozen table's or an applicant list's, in its
 * metatable's __frozen) hold another key, which ipairs would not reach.
 * A long list pays for the keys gone through, as ipairs over it would.
 * [-0, +(1|2), e] */
static int bindings_is_in(lua_State *L)
{
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    int raw = luaL_getmetafield(L, 2, "__frozen") == LUA_TTABLE ? 3 : 2;
    lua_settop(L, raw);
    int own = raw == 2 && lua_getmetatable(L, 2);   /* a metatable of the rule's own */
    lua_settop(L, raw);
    lua_Integer n = -1, paid = 0;
    if (!own) {
        /* Keys all whole numbers from 1, as many as the largest: 1 .. n. */
        lua_Integer keys = 0, largest = 0;
        int whole = 1;
        lua_pushnil(L);
        while (whole && lua_next(L, raw)) {
            lua_Integer k = lua_type(L, -2) == LUA_TNUMBER ? lua_tointegerx(L, -2, &whole) : 0;
            whole = whole && k >= 1;
            largest = k > largest ? k : largest;
            keys++;
            lua_pop(L, 1);
        }
        lua_settop(L, raw);
        if (whole && largest == keys)
            n = keys;
    }
    if (n < 0) {
        /* Then n is where ipairs stops, and a key beyond is refused.  The
         * count pays as it goes, each read for every table of the __index
         * chain: an __index that is a C function (type, say) never gives
         * nil, and runs no instruction the budget would count. */
        lua_Integer depth = order_chain_depth(L, 2, "__index");
        for (n = 0; lua_geti(L, 2, n + 1) != LUA_TNIL; n++) {
            lua_pop(L, 1);
            if ((n + 1) % BINDINGS_PIECE == 0) {
                order_pay(L, BINDINGS_PIECE * depth);
                paid += BINDINGS_PIECE;
            }
        }
        lua_pop(L, 1);
        lua_pushnil(L);
        while (lua_next(L, raw)) {
            int whole = 0;
            lua_Integer k = lua_type(L, -2) == LUA_TNUMBER ? lua_tointegerx(L, -2, &whole) : 0;
            if (!whole || k < 1 || k > n) {
                lua_pushnil(L);
                lua_pushinteger(L, n);
                return 2;
            }
            lua_pop(L, 1);
        }
    }
    order_pay(L, 2 * n - paid);   /* less what the count paid; a short list goes unpaid */
    for (lua_Integer i = 1; i <= n; i++) {
        own ? lua_geti(L, 2, i) : lua_rawgeti(L, raw, i);
        if (lua_compare(L, -1, 1, LUA_OPEQ)) {
            lua_pushboolean(L, 1);
            return 1;
        }
        lua_pop(L, 1);
    }
    lua_pushboolean(L, 0);
    return 1;
}

/* The rule helpers known, within, at_least and benefit_within, for
 * rules.lua (C.helpers): each a closure over rules.lua's NULLS (record ->
 * its fields given as null), scales (name -> { rank = { level -> i } })
 * and describe (a value as a message says it, called on errors only), each
 * called by a Lua function of rules.lua's (for the errors' lines: see
 * bindings_helper_raise).  In Lua they ran about as many VM instructions
 * as the checks that call them; here they run none, and pay for a list
 * they go through (benefit_within) as is_in does.  They read tables as the Lua did, through their metamethods
 * where it did (a frozen table's contents, a record's missing field). */
#define UP_NULLS lua_upvalueindex(1)
#define UP_SCALES lua_upvalueindex(2)
#define UP_DESCRIBE lua_upvalueindex(3)

/* Raise "HELPER: MSG", MSG the text on the top, at the line of the rule
 * that called the helper, as rules.lua's helper_error does.  The helper is
 * rules.lua's Lua function around this C one (level 1), and the rule its
 * caller (level 2): called by `return known(...)`, a tail call, the Lua
 * function has taken the rule's frame, Lua keeps no line for the call, and
 * the message says so.  (A C function called so would leave the rule's
 * frame in place, and could not tell.)  [-1, +0, v] */
static int bindings_helper_raise(lua_State *L, const char *helper)
{
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "t", &ar) && ar.istailcall) {
        lua_pushfstring(L, " (in a `return %s(...)`, whose line Lua does not keep)", helper);
        lua_concat(L, 2);
    }
    luaL_where(L, 2);                      /* msg where */
    lua_insert(L, -2);                     /* where msg */
    lua_pushfstring(L, "%s: ", helper);    /* where msg head */
    lua_insert(L, -2);                     /* where head msg */
    lua_concat(L, 3);
    return lua_error(L);
}

/* Push describe(v), V at IDX.  [-0, +1, e] */
static void bindings_describe(lua_State *L, int idx)
{
    lua_pushvalue(L, UP_DESCRIBE);
    lua_pushvalue(L, idx);
    lua_call(L, 1, 1);
}

/* Raise HELPER's "argument N is <describe(v)>, expected <EXPECTED>", V at
 * IDX, EXPECTED the text on the top: rules.lua's bad_argument.
 * [-1, +0, v] */
static int bindings_helper_bad(lua_State *L, const char *helper, int n, int idx)
{
    lua_pushfstring(L, "argument %d is ", n);   /* expected head */
    bindings_describe(L, idx);                  /* expected head d */
    lua_pushliteral(L, ", expected ");          /* expected head d sep */
    lua_rotate(L, -4, -1);                      /* head d sep expected */
    lua_concat(L, 4);
    return bindings_helper_raise(L, helper);
}

/* Whether the value at IDX is a text that is a date.  [-0, +0, -] */
static int bindings_is_date(lua_State *L, int idx)
{
    int32_t days;
    return bindings_date_at(L, idx, &days);
}

/* known(record, field): whether the application gave FIELD of RECORD, a
 * record of the applicant (its contents are its metatable's __frozen,
 * whose own metatable holds the type's __fields), a value or null.
 * [-0, +1, v] */
static int bindings_known(lua_State *L)
{
    lua_settop(L, 2);
    int ok = lua_type(L, 1) == LUA_TTABLE && lua_getmetatable(L, 1);   /* r f mt */
    if (ok) {
        lua_pushliteral(L, "__frozen");
        ok = lua_rawget(L, 3) == LUA_TTABLE && lua_getmetatable(L, 4);  /* r f mt v vmt */
    }
    if (ok) {
        lua_pushliteral(L, "__fields");
        ok = lua_rawget(L, 5) == LUA_TTABLE;                  /* r f mt v vmt fields */
    }
    if (!ok) {
        lua_pushliteral(L, "a record of the applicant");
        return bindings_helper_bad(L, "known", 1, 1);
    }
    int declared = 0;
    if (lua_type(L, 2) == LUA_TSTRING) {
        lua_pushvalue(L, 2);
        declared = lua_gettable(L, 6) != LUA_TNIL;            /* ... fields fields[f] */
    }
    if (!declared) {
        lua_pushliteral(L, "field ");
        bindings_describe(L, 2);
        lua_pushliteral(L, " is not declared in the schema");
        lua_concat(L, 3);
        return bindings_helper_raise(L, "known");
    }
    lua_settop(L, 4);                                         /* r f mt v */
    lua_pushvalue(L, 2);
    int given = lua_rawget(L, 4) != LUA_TNIL;                 /* r f mt v v[f] */
    if (!given) {
        lua_pushvalue(L, 4);
        if (lua_rawget(L, UP_NULLS) != LUA_TNIL) {            /* ... nulls */
            lua_pushvalue(L, 2);
            lua_gettable(L, -2);                              /* ... nulls nulls[f] */
            given = lua_type(L, -1) == LUA_TBOOLEAN && lua_toboolean(L, -1);
        }
    }
    lua_pushboolean(L, given);
    return 1;
}

/* within(x, lo, hi): lo <= x <= hi, numbers or dates (texts that are
 * dates, compared as Lua compares texts); a nil bound is no bound.
 * [-0, +1, v] */
static int bindings_within(lua_State *L)
{
    lua_settop(L, 3);
    int tx = lua_type(L, 1);
    if (tx != LUA_TNUMBER && !bindings_is_date(L, 1)) {
        lua_pushliteral(L, "a number or a date");
        return bindings_helper_bad(L, "within", 1, 1);
    }
    for (int i = 2; i <= 3; i++) {
        int t = lua_type(L, i);
        if (t != LUA_TNIL && (t != tx || (tx == LUA_TSTRING && !bindings_is_date(L, i)))) {
            if (tx == LUA_TNUMBER)
                lua_pushliteral(L, "a number, as argument 1");
            else
                lua_pushliteral(L, "a date, as argument 1");
            return bindings_helper_bad(L, "within", i, i);
        }
    }
    lua_pushboolean(L, (lua_isnil(L, 2) || lua_compare(L, 2, 1, LUA_OPLE)) &&
                           (lua_isnil(L, 3) || lua_compare(L, 1, 3, LUA_OPLE)));
    return 1;
}

/* Push "'<X>' is not on scale '<NAME>'", X at IDX, NAME at 3.
 * [-0, +1, e] */
static void bindings_not_on_scale(lua_State *L, int idx)
{
    lua_pushliteral(L, "'");
    bindings_name(L, idx);
    lua_pushliteral(L, "' is not on scale '");
    luaL_tolstring(L, 3, NULL);
    lua_pushliteral(L, "'");
    lua_concat(L, 5);
}

/* at_least(x, min, scale): X ranks at or above MIN on the scale named.
 * [-0, +1, v] */
static int bindings_at_least(lua_State *L)
{
    lua_settop(L, 3);
    lua_pushvalue(L, 3);
    int declared = lua_gettable(L, UP_SCALES);            /* x min name s */
    if (declared == LUA_TNIL || (declared == LUA_TBOOLEAN && !lua_toboolean(L, 4))) {
        lua_pushliteral(L, "scale '");
        bindings_name(L, 3);
        lua_pushliteral(L, "' is not declared");
        lua_concat(L, 3);
        return bindings_helper_raise(L, "at_least");
    }
    lua_getfield(L, 4, "rank");                           /* x min name s rank */
    lua_pushvalue(L, 1);
    lua_gettable(L, 5);                                   /* ... rank rx */
    lua_pushvalue(L, 2);
    lua_gettable(L, 5);                                   /* ... rank rx rm */
    for (int i = 1; i <= 2; i++) {
        if (lua_type(L, i) != LUA_TSTRING) {
            lua_pushliteral(L, "a level on scale '");
            luaL_tolstring(L, 3, NULL);
            lua_pushliteral(L, "'");
            lua_concat(L, 3);
            return bindings_helper_bad(L, "at_least", i, i);
        }
    }
    for (int i = 1; i <= 2; i++) {
        if (!lua_toboolean(L, 5 + i)) {
            bindings_not_on_scale(L, i);
            return bindings_helper_raise(L, "at_least");
        }
    }
    lua_pushboolean(L, lua_compare(L, 7, 6, LUA_OPLE));
    return 1;
}

/* benefit_within(list, program, months, on): the latest entry of LIST
 * for PROGRAM dated after months_before(ON, MONTHS) and on or before ON,
 * or nil.  LIST is read as ipairs reads it, each entry's program and
 * date as a rule would read them; a long list pays for the entries gone
 * through, each for every table of LIST's __index chain.  [-0, +1, v] */
static int bindings_benefit_within(lua_State *L)
{
    lua_settop(L, 4);
    if (lua_type(L, 1) != LUA_TTABLE) {
        lua_pushliteral(L, "a list of benefits");
        return bindings_helper_bad(L, "benefit_within", 1, 1);
    }
    if (lua_type(L, 2) != LUA_TSTRING) {
        lua_pushliteral(L, "a programme id");
        return bindings_helper_bad(L, "benefit_within", 2, 2);
    }
    /* A negative number of months would put the window's start after ON,
     * and nothing would ever be found in it. */
    int whole = 0;
    lua_Integer months = lua_type(L, 3) == LUA_TNUMBER ? lua_tointegerx(L, 3, &whole) : 0;
    if (!whole || months < 0) {
        lua_pushliteral(L, "a whole number of months, 0 or more");
        return bindings_helper_bad(L, "benefit_within", 3, 3);
    }
    int32_t on;
    if (!bindings_date_at(L, 4, &on)) {
        lua_pushliteral(L, "a date");
        return bindings_helper_bad(L, "benefit_within", 4, 4);
    }
    if (bindings_months_back(L, on, 4, months) != 0)      /* list program months on after|why */
        return bindings_helper_raise(L, "benefit_within");
    lua_pushnil(L);                                       /* ... after latest */
    lua_Integer depth = order_chain_depth(L, 1, "__index"), cost = depth + 3, paid = 0, i;
    for (i = 1; lua_geti(L, 1, i) != LUA_TNIL; i++) {     /* ... after latest b */
        if (i % BINDINGS_PIECE == 0) {
            order_pay(L, BINDINGS_PIECE * cost);
            paid += BINDINGS_PIECE;
        }
        if (lua_type(L, 7) != LUA_TTABLE) {
            lua_pushfstring(L, "entry %I of the list is ", i);
            bindings_describe(L, 7);
            lua_pushliteral(L, ", expected a record with program and date");
            lua_concat(L, 3);
            return bindings_helper_raise(L, "benefit_within");
        }
        lua_getfield(L, 7, "program");                    /* ... b b.program */
        int same = lua_rawequal(L, 8, 2);
        lua_pop(L, 1);
        if (same) {
            /* Read only for PROGRAM's entries: another's without a date needs none. */
            lua_getfield(L, 7, "date");                   /* ... b date */
            if (!bindings_is_date(L, 8)) {
                lua_pushfstring(L, "entry %I of the list has date ", i);
                bindings_describe(L, 8);
                lua_pushliteral(L, ", expected a date");
                lua_concat(L, 3);
                return bindings_helper_raise(L, "benefit_within");
            }
            int later = lua_compare(L, 5, 8, LUA_OPLT) && lua_compare(L, 8, 4, LUA_OPLE);
            if (later && !lua_isnil(L, 6)) {
                lua_getfield(L, 6, "date");               /* ... b date latest.date */
                later = lua_compare(L, 9, 8, LUA_OPLT);
            }
            if (later) {
                lua_pushvalue(L, 7);
                lua_replace(L, 6);
            }
        }
        lua_settop(L, 6);
    }
    lua_settop(L, 6);
    order_pay(L, (i - 1 - paid) * cost);   /* less what was paid; a short list goes unpaid */
    return 1;
}

/* helpers(NULLS, scales, describe) -> known, within, at_least,
 * benefit_within, for rules.lua to put in the sandbox.  [-0, +4, v] */
static int bindings_helpers(lua_State *L)
{
    static const lua_CFunction fns[] = {bindings_known, bindings_within, bindings_at_least,
                                        bindings_benefit_within};
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    lua_settop(L, 3);
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        lua_pushvalue(L, 1);
        lua_pushvalue(L, 2);
        lua_pushvalue(L, 3);
        lua_pushcclosure(L, fns[i], 3);
    }
    return (int)(sizeof fns / sizeof fns[0]);
}

/* add_days(date, n) -> date string  [-0, +1, v] */
static int bindings_add_days(lua_State *L)
{
    int32_t d = bindings_checkdate(L, 1, "add_days");
    lua_Integer n = luaL_checkinteger(L, 2);
    if (n < -3650000 || n > 3650000)
        luaL_error(L, "add_days: %I days is out of range", n);
    char out[11];
    date_format(d + (int32_t)n, out);
    lua_pushstring(L, out);
    return 1;
}

/* parse_date(s) -> day number | nil  [-0, +1, -] */
static int bindings_parse_date(lua_State *L)
{
    size_t n;
    const char *s = lua_tolstring(L, 1, &n);
    int32_t days;
    if (lua_type(L, 1) == LUA_TSTRING && date_parse(s, n, &days) == 0)
        lua_pushinteger(L, days);
    else
        lua_pushnil(L);
    return 1;
}

/* cents(x) -> integer  [-0, +1, v]
 * Money travels as JSON numbers of MAD with at most two decimals; as an
 * integer count of centimes it can be added, multiplied and compared
 * exactly.  A JSON number is read into the double nearest to it, so an
 * amount is whole centimes when its double is the one nearest to some c/100,
 * which is what dividing c by 100 gives (IEEE division rounds to nearest):
 * no tolerance, so 1200000.000000001 is not 1200000.  Up to BINDINGS_MONEY_MAX
 * MAD, doubles lie closer together than a centime (2^-9 MAD apart at most),
 * so each amount has one double and its c is found by rounding x * 100;
 * above it, two amounts a centime apart can share one double, and an
 * amount could be read as its neighbour. */
#define BINDINGS_MONEY_MAX 10000000000000LL   /* 10^13 MAD */

enum { CENTS_OK, CENTS_TYPE, CENTS_RANGE, CENTS_DECIMALS };

static int bindings_cents_of(lua_State *L, int idx, lua_Integer *c)
{
    if (lua_isinteger(L, idx)) {
        lua_Integer v = lua_tointeger(L, idx);
        if (v > BINDINGS_MONEY_MAX || v < -BINDINGS_MONEY_MAX)
            return CENTS_RANGE;
        *c = v * 100;
        return CENTS_OK;
    }
    if (lua_type(L, idx) != LUA_TNUMBER)
        return CENTS_TYPE;
    double x = lua_tonumber(L, idx);
    if (!(fabs(x) <= (double)BINDINGS_MONEY_MAX))   /* NaN too */
        return CENTS_RANGE;
    long long r = llround(x * 100.0);
    if ((double)r / 100.0 != x)
        return CENTS_DECIMALS;
    *c = (lua_Integer)r;
    return CENTS_OK;
}

int bindings_is_cents(lua_State *L, int idx)
{
    lua_Integer c;
    return bindings_cents_of(L, idx, &c) == CENTS_OK;
}

static int bindings_cents(lua_State *L)
{
    lua_Integer c = 0;
    int why = bindings_cents_of(L, 1, &c);
    if (why == CENTS_OK) {
        lua_pushinteger(L, c);
        return 1;
    }
    if (why == CENTS_TYPE)
        return luaL_error(L, "cents: expected an amount, got %s", luaL_typename(L, 1));
    /* The number as sent, to its last digit: 1200000.000000001 must not read
     * as 1200000 in the message. */
    char text[64];
    if (lua_isinteger(L, 1))
        snprintf(text, sizeof text, "%lld", (long long)lua_tointeger(L, 1));
    else
        for (int digits = 15; digits <= 17; digits++)
            if (snprintf(text, sizeof text, "%.*g", digits, lua_tonumber(L, 1)) > 0 &&
                strtod(text, NULL) == lua_tonumber(L, 1))
                break;
    if (why == CENTS_RANGE)
        return luaL_error(L, "cents: %s is beyond the largest amount, %I MAD", text,
                          (LUAI_UACINT)BINDINGS_MONEY_MAX);
    return luaL_error(L, "cents: %s has more than two decimals", text);
}

int bindings_format(lua_State *L, int idx, buf *out)
{
    char tmp[64];
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER: {
        if (lua_isinteger(L, idx))
            return canon_add_integer(out, (long long)lua_tointeger(L, idx));
        double d = lua_tonumber(L, idx);
        /* An integral double below 1e15 is exactly a long long: its digits
         * without printf (and -0 as "%.0f" writes it). */
        if (d == floor(d) && fabs(d) < 1e15)
            return d == 0 && signbit(d) ? buf_adds(out, "-0") : canon_add_integer(out, (long long)d);
        size_t h = canon_hundredths(d, tmp);
        if (h)   /* an amount: to the centime, 4200.50, without printf */
            return buf_add(out, tmp, h);
        if (fabs(d) < 1e15 && snprintf(tmp, sizeof tmp, "%.2f", d) > 0 && strtod(tmp, NULL) == d)
            ;   /* one beyond 10^13 */
        else   /* the shortest text that reads back exactly: 0.125, not 0.12 */
            for (int digits = 15; digits <= 17; digits++)
                if (snprintf(tmp, sizeof tmp, "%.*g", digits, d) > 0 && strtod(tmp, NULL) == d)
                    break;
        return buf_adds(out, tmp);
    }
    case LUA_TBOOLEAN:
        return buf_adds(out, lua_toboolean(L, idx) ? "true" : "false");
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        return buf_add(out, s, n);
    }
    case LUA_TNIL:
    case LUA_TLIGHTUSERDATA:
        return buf_adds(out, "null");
    case LUA_TTABLE: {   /* a list of skills reads ["python","sql"], not "table" */
        size_t mark = out->len;
        char why[8];
        if (canon_try(L, idx, out, why, sizeof why) == 0)
            return 0;
        out->len = mark;   /* what a failed encoding left */
        if (out->data)
            out->data[mark] = '\0';
        return buf_adds(out, "table");
    }
    default:
        return buf_adds(out, luaL_typename(L, idx));
    }
}

/* The scratch buffer of a state: a userdata upvalue whose __gc frees it, so
 * that a Lua error between two appends cannot leak it. */
static buf *bindings_scratch(lua_State *L)
{
    buf *b = lua_touserdata(L, lua_upvalueindex(1));
    buf_reset(b);
    return b;
}

static int bindings_buf_gc(lua_State *L)
{
    buf_free(lua_touserdata(L, 1));
    return 0;
}

buf *bindings_push_buf(lua_State *L, size_t cap)
{
    buf *b = lua_newuserdatauv(L, sizeof *b, 0);
    buf_init(b, cap);
    lua_newtable(L);
    lua_pushcfunction(L, bindings_buf_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    return b;
}

/* render(template, values) -> string  [-0, +1, e] */
static int bindings_render(lua_State *L)
{
    size_t n;
    const char *t = luaL_checklstring(L, 1, &n);
    buf *b = bindings_scratch(L);
    if (decision_render(L, t, n, 2, 0, 0, b) != 0)   /* not cut short: it would mislead */
        return luaL_error(L, "message over %d bytes", (int)b->cap);
    lua_pushlstring(L, b->data ? b->data : "", b->len);
    return 1;
}

/* braced(t) -> whether a string value of table T (read raw) holds a '{'
 * before a '}': a text that may name parameters.  The seal asks it of every
 * criterion's texts, and a search in Lua would cost the seal's budget three
 * calls a criterion.  [-0, +1, -] */
static int bindings_braced(lua_State *L)
{
    int found = 0;
    if (lua_type(L, 1) == LUA_TTABLE) {
        lua_pushnil(L);
        while (!found && lua_next(L, 1)) {
            if (lua_type(L, -1) == LUA_TSTRING) {
                size_t n;
                const char *s = lua_tolstring(L, -1, &n);
                const char *open = memchr(s, '{', n);
                found = open && memchr(open, '}', n - (size_t)(open - s)) != NULL;
            }
            lua_pop(L, 1);
        }
        if (found)
            lua_pop(L, 1);   /* the key left by the loop's stop */
    }
    lua_pushboolean(L, found);
    return 1;
}

/* format(v) -> string  [-0, +1, m] */
static int bindings_format_lua(lua_State *L)
{
    buf *b = bindings_scratch(L);
    bindings_format(L, 1, b);
    lua_pushlstring(L, b->data ? b->data : "", b->len);
    return 1;
}

/* canon(v) -> string  [-0, +1, e] */
static int bindings_canon(lua_State *L)
{
    buf *b = bindings_scratch(L);
    canon_encode(L, 1, b);
    lua_pushlstring(L, b->data ? b->data : "", b->len);
    return 1;
}

/* JSON decoding ------------------------------------------------------------
 * Requests are decoded by json.c, straight into Lua values, rather than by
 * lua-cjson, because lua-cjson 2.1.0 (Debian's) makes [] and {} the same
 * empty table and every number a float.  The box upvalue holds the scratch
 * buffer json.c unescapes strings into; its __gc frees it. */

/* NFC at most triples a text's UTF-8 length (U+0958, three bytes, is six
 * in NFC; Unicode bounds the growth at 3x). */
#define BINDINGS_NFC_GROWTH 3

void bindings_push_nfc(lua_State *L, int idx)
{
    size_t n, i = 0;
    const char *s = lua_tolstring(L, idx, &n);
    /* Lead bytes below 0xcc start characters below U+0300: none of those
     * decomposes, and none composes with another. */
    while (i < n && (unsigned char)s[i] < 0xcc)
        i++;
    if (i == n) {
        lua_pushvalue(L, idx);
        return;
    }
    idx = lua_absindex(L, idx);
    if (n > (SIZE_MAX - 16) / BINDINGS_NFC_GROWTH)
        luaL_error(L, "a text of %zu bytes is too long to normalize", n);
    /* The result's room is Lua's, under its memory cap, and freed by it
     * whatever raises next. */
    size_t room = BINDINGS_NFC_GROWTH * n + 16, len = room;
    uint8_t *out = lua_newuserdatauv(L, room, 0);
    uint8_t *t = u8_normalize(UNINORM_NFC, (const uint8_t *)s, n, out, &len);
    if (t != out) {
        if (!t && errno == EILSEQ) {   /* not UTF-8: its validation refuses it */
            lua_pop(L, 1);
            lua_pushvalue(L, idx);
            return;
        }
        if (!t)   /* out of memory: the text left as it came could be decided otherwise */
            luaL_error(L, "cannot put a text of %zu bytes in NFC: %s", n, strerror(errno));
        free(t);
        luaL_error(L, "a text of %zu bytes grew past %zu in NFC", n, room);
    }
    if (len == n && !memcmp(out, s, n))
        lua_pushvalue(L, idx);
    else
        lua_pushlstring(L, (const char *)out, len);
    lua_remove(L, -2);
}

/* nfc(s) -> S in Unicode NFC (bindings_push_nfc)  [-0, +1, m] */
static int bindings_nfc_lua(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TSTRING);
    bindings_push_nfc(L, 1);
    return 1;
}

/* blank(s) -> whether the string S shows nothing (text_blank).
 * [-0, +1, -] */
static int bindings_blank_lua(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    lua_pushboolean(L, text_blank(s, n));
    return 1;
}

/* decode(text) -> value | nil, byte offset (1-based) of the error
 *                 | nil, offset, "deep" (nested deeper than JSON_MAX_DEPTH)
 *                 | nil, offset, "range" (a number too large for a double)
 *                 | nil, offset, "nul" (the escape \u0000)
 *                 | nil, offset, "dup" (a key its object already has)
 *                 | nil, offset, "number" (digits missing after '-', '.' or 'e')
 *                 | nil, offset, "tiny" (a number nearer 0 than a double holds)
 *                 | nil, offset, "utf8" or "control" (a byte that is not
 *                 UTF-8, or a raw control character, before the byte where
 *                 the text stops being JSON)
 *                 (each failure also gives the request's id as a fourth
 *                 result when it was read before the text broke, else nil)
 *                 | value, offset of the first bad byte, "utf8" or "control"
 * [-0, +(1|2|3), m]  Upvalues: 1 the box, 2 array_mt, 3 the keys cache. */
static int bindings_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    size_t bad = text_utf8_scan(s, n, 1);
    lua_settop(L, 1);
    int why, idwhy;
    json_notes notes, idnotes;
    buf *scratch = lua_touserdata(L, lua_upvalueindex(1));
    size_t at = json_push_keys(L, s, n, lua_upvalueindex(2), lua_upvalueindex(3), scratch, &why,
                               &notes);
    if (at) {
        static const char *const whys[] = {
            [JSON_DEEP] = "deep", [JSON_RANGE] = "range", [JSON_NUL] = "nul", [JSON_DUP] = "dup",
            [JSON_NUMBER] = "number", [JSON_TINY] = "tiny"};
        /* The first byte that is wrong: a raw control character in a
         * string, or a byte that is not UTF-8, before the one the grammar
         * stopped at comes first, said as such (else the message would
         * name a later byte, and the client, once that is mended, be told
         * of an earlier one). */
        size_t first = at;
        const char *what = why && at <= bad ? whys[why] : NULL;
        if (notes.control && notes.control < first)
            first = notes.control, what = "control";
        if (bad + 1 < first)
            first = bad + 1, what = s[bad] >= 0 && s[bad] < 0x20 ? "control" : "utf8";
        lua_pushnil(L);
        lua_pushinteger(L, (lua_Integer)first);
        if (what)
            lua_pushstring(L, what);
        else
            lua_pushnil(L);
        /* The id, when it was read before the text broke: the reply echoes it. */
        if (!notes.id_len || json_push(L, s + notes.id, notes.id_len, lua_upvalueindex(2),
                                       scratch, &idwhy, &idnotes) != 0)
            lua_pushnil(L);
        return 4;
    }
    size_t ctl = notes.control;
    if (ctl && ctl - 1 < bad)
        bad = ctl - 1;   /* a tab or a CR, taken between tokens, not in a string */
    if (bad < n) {
        /* Well-formed JSON that is not UTF-8, or holds a raw control
         * character: the value is returned only so that the reply can still
         * echo the request's id. */
        lua_pushinteger(L, (lua_Integer)bad + 1);
        lua_pushstring(L, s[bad] >= 0 && s[bad] < 0x20 ? "control" : "utf8");
        return 3;
    }
    return 1;
}

/* utf8_ok(s) -> boolean: UTF-8 without JSON's forbidden controls
 * [-0, +1, -] */
static int bindings_utf8_ok(lua_State *L)
{
    size_t n;
    const char *s = lua_tolstring(L, 1, &n);
    lua_pushboolean(L, s && text_utf8_scan(s, n, 1) == n);
    return 1;
}

/* utf8_bad(s) -> nil when S is a string of well-formed UTF-8, else the
 * 1-based offset of its first bad byte (0 when S is not a string)
 * [-0, +1, -] */
static int bindings_utf8_bad_lua(lua_State *L)
{
    size_t n;
    const char *s = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &n) : NULL;
    size_t bad = s ? text_utf8_bad(s, n) : 0;
    if (s && bad == n)
        lua_pushnil(L);
    else
        lua_pushinteger(L, s ? (lua_Integer)bad + 1 : 0);
    return 1;
}

/* decision_where(json, bad) -> ", in criterion ID" or "": where the 1-based
 * byte BAD of a decision's JSON lies (decision_where).  [-0, +1, v] */
static int bindings_decision_where(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    lua_Integer bad = luaL_checkinteger(L, 2);
    char where[96] = "";
    if (bad >= 1 && (size_t)bad <= n)
        decision_where(s, n, (size_t)bad - 1, where, sizeof where);
    lua_pushstring(L, where);
    return 1;
}

/* sha256(s) -> hex  [-0, +1, v] */
static int bindings_sha256(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    bindings_push_sha256(L, s, n);
    return 1;
}

void bindings_push_sha256(lua_State *L, const void *s, size_t n)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    char out[65];
    if (!EVP_Digest(s, n, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        luaL_error(L, "sha256: digest failed");
    hex_encode(md, 32, out);
    lua_pushlstring(L, out, 64);
}

static int bindings_decision_id(lua_State *L)
{
    char id[IDS_LEN + 1];
    ids_next(id);
    lua_pushlstring(L, id, IDS_LEN);
    return 1;
}

static int bindings_now(lua_State *L)
{
    char now[25];
    ids_now(now);
    lua_pushstring(L, now);
    return 1;
}

static int bindings_today(lua_State *L)
{
    char d[11];
    date_format(date_today(), d);
    lua_pushstring(L, d);
    return 1;
}

int bindings_same(lua_State *L, int a, int b)
{
    if (lua_type(L, a) != LUA_TNUMBER || lua_type(L, b) != LUA_TNUMBER)
        return lua_rawequal(L, a, b);
    if (lua_isinteger(L, a) || lua_isinteger(L, b))
        return lua_isinteger(L, a) && lua_isinteger(L, b) && lua_tointeger(L, a) == lua_tointeger(L, b);
    lua_Number x = lua_tonumber(L, a), y = lua_tonumber(L, b);
    return memcmp(&x, &y, sizeof x) == 0;
}

/* restore(flat, count) -> the number of the first entry that changed, or nil
 * [-0, +1, v]
 * FLAT holds COUNT entries, entry k at 3k-2 .. 3k: f, i, value, an upvalue
 * of a rule function and the value it had when the set was sealed (nil
 * too, so FLAT has holes and its length says nothing).  An upvalue that no
 * longer holds that value is put back.  rules.lua's after() runs this on
 * every request in which engine.c found one changed. */
static int bindings_restore(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = 3 * luaL_checkinteger(L, 2), changed = 0;
    lua_settop(L, 1);
    for (lua_Integer k = 1; k + 2 <= n; k += 3) {
        lua_rawgeti(L, 1, k);                             /* f */
        lua_rawgeti(L, 1, k + 1);
        int up = (int)lua_tointeger(L, 3);
        lua_rawgeti(L, 1, k + 2);                         /* f i value */
        if (!lua_getupvalue(L, 2, up))                    /* f i value v */
            lua_pushnil(L);
        if (!bindings_same(L, 4, 5)) {
            if (!changed)
                changed = k / 3 + 1;
            lua_pushvalue(L, 4);
            if (!lua_setupvalue(L, 2, up))
                lua_pop(L, 1);
        }
        lua_settop(L, 1);
    }
    if (changed)
        lua_pushinteger(L, changed);
    else
        lua_pushnil(L);
    return 1;
}

/* The twins of frozen metatables: upvalue 1 of setmetatable, a table that
 * maps each frozen table that holds metamethods to its twin, and upvalue 1
 * of getmetatable, one that maps each twin back to its table (rules.lua's
 * freeze fills them, as C.twins and C.twinned; no rule can reach them).
 * Lua reads a metatable raw, and a frozen table's contents are in its
 * shadow: the twin holds its metamethods, for Lua to read.  Two maps, not
 * one both ways: given a frozen table that is some value's metatable as it
 * is (the engine's own set it so), getmetatable must not answer its twin. */
#define BINDINGS_TWINS lua_upvalueindex(1)

/* setmetatable(t, mt) as the rules get it: Lua's own, except that a frozen
 * MT is set as its twin, and that a metatable with __gc or __mode is
 * refused.  A finalizer would run whenever the collector reaches its table,
 * that is during some later request and on its budget; Lua marks a table
 * for finalizing only if __gc is there when its metatable is set, so
 * refusing it here is enough.  A weak table loses its entries when the
 * collector runs, which depends on what earlier requests left: a decision
 * reading one could come out otherwise when replayed.  In C, not Lua, so
 * that its errors name the rule's line even from a tail call.  [-0, +1, v] */
static int bindings_setmetatable(lua_State *L)
{
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    lua_settop(L, 2);
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "cannot change a protected metatable");
    if (t == LUA_TTABLE) {
        lua_pushvalue(L, 2);
        if (lua_rawget(L, BINDINGS_TWINS) == LUA_TTABLE)   /* a frozen one: its twin */
            lua_replace(L, 2);
        lua_settop(L, 2);
        lua_pushliteral(L, "__gc");
        int gc = lua_rawget(L, 2);
        lua_pushliteral(L, "__mode");
        int mode = lua_rawget(L, 2);
        lua_pop(L, 2);
        if (gc != LUA_TNIL)
            return luaL_error(L, "__gc is not available to rules: a finalizer would run during a later request");
        if (mode != LUA_TNIL)
            return luaL_error(L, "__mode is not available to rules: a weak table's entries go when the "
                                 "collector runs, which differs from run to run, and a decision must "
                                 "come out the same when replayed");
    }
    lua_setmetatable(L, 1);
    return 1;
}

/* getmetatable(v) as the rules get it: Lua's, but an instance of a frozen
 * class gets the class, not its twin, and a table frozen at load gets the
 * metatable it had if that one is a frozen class (it has a twin: the
 * engine's own record, which no rule can forge), else nil: nothing a rule
 * could write to.  Upvalue 2: C.twins.  [-0, +1, -] */
static int bindings_getmetatable(lua_State *L)
{
    luaL_checkany(L, 1);
    if (!lua_getmetatable(L, 1)) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushliteral(L, "__origin");
    int origin = lua_rawget(L, 2);   /* frozen at load: the metatable it had, or false */
    if (origin != LUA_TNIL) {
        lua_pushvalue(L, -1);
        if (origin == LUA_TTABLE && lua_rawget(L, lua_upvalueindex(2)) == LUA_TTABLE) {
            lua_pop(L, 1);
            return 1;
        }
        lua_pushnil(L);
        return 1;
    }
    lua_pop(L, 1);
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)   /* protected: what it says */
        return 1;
    lua_pushvalue(L, -1);
    if (lua_rawget(L, BINDINGS_TWINS) == LUA_TTABLE)   /* a twin: the frozen table */
        return 1;
    lua_pop(L, 1);
    return 1;
}

/* The length of a read-only table (a frozen one, an applicant's list): its
 * contents', the table its metatable names __frozen.  The table library
 * trusts this __len only: it reads the length again itself.
 * [-0, +1, -] */
int bindings_frozen_len(lua_State *L)
{
    if (!lua_getmetatable(L, 1) || (lua_pushliteral(L, "__frozen"), lua_rawget(L, -2)) != LUA_TTABLE)
        return luaL_error(L, "a read-only table's length read from something else");
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
    return 1;
}

/* Whether Lua writes the value at IDX as its address ("table: 0x5581..."):
 * a table, function, thread or userdata without a __tostring of its own.
 * The address changes from run to run.  [-0, +0, -] */
static int bindings_shows_address(lua_State *L, int idx)
{
    int t = lua_type(L, idx);
    if (t == LUA_TLIGHTUSERDATA)
        return lua_touserdata(L, idx) != NULL;   /* JSON's null is written "userdata: (nil)" */
    if (t != LUA_TTABLE && t != LUA_TFUNCTION && t != LUA_TTHREAD && t != LUA_TUSERDATA)
        return 0;
    if (luaL_getmetafield(L, idx, "__tostring") == LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    return 0;
}

const char *bindings_name(lua_State *L, int idx)
{
    switch (lua_type(L, idx)) {
    case LUA_TLIGHTUSERDATA:
        if (!lua_touserdata(L, idx))
            return lua_pushliteral(L, "null");
        /* fall through */
    case LUA_TTABLE:
    case LUA_TFUNCTION:
    case LUA_TTHREAD:
    case LUA_TUSERDATA:
        return lua_pushfstring(L, "a %s", luaL_typename(L, idx));
    default:   /* nil, a boolean, a number, a string: no metamethod of a rule's runs */
        return luaL_tolstring(L, idx, NULL);
    }
}

static int bindings_refuse_address(lua_State *L, const char *what)
{
    return luaL_error(L, "%s would write an address, which changes from run to run, and a "
                         "decision must come out the same when replayed", what);
}

/* name(v): bindings_name, for rules.lua.  [-0, +1, m] */
static int bindings_name_lua(lua_State *L)
{
    luaL_checkany(L, 1);
    bindings_name(L, 1);
    return 1;
}

/* tostring(v) as the rules get it: Lua's, refusing the address of a table
 * or a function.  [-0, +1, v] */
static int bindings_tostring(lua_State *L)
{
    luaL_checkany(L, 1);
    if (bindings_shows_address(L, 1)) {
        lua_pushfstring(L, "tostring of a %s", luaL_typename(L, 1));
        return bindings_refuse_address(L, lua_tostring(L, -1));
    }
    luaL_tolstring(L, 1, NULL);
    return 1;
}

/* string.format(fmt, ...) as the rules get it: Lua's (upvalue 1), refusing
 * %p, and %s of a value written as its address.  What else is wrong with
 * the format Lua's own reports.  [-?, +1, v] */
static int bindings_string_format(lua_State *L)
{
    size_t n;
    const char *p = luaL_checklstring(L, 1, &n), *end = p + n;
    int arg = 1;
    while ((p = memchr(p, '%', (size_t)(end - p))) != NULL && ++p < end) {
        if (*p == '%') {
            p++;
            continue;
        }
        while (p < end && memchr("-+ #0123456789.", *p, 15))
            p++;
        if (p == end)
            break;
        arg++;
        if (*p == 'p')
            return bindings_refuse_address(L, "string.format's %p");
        if (*p == 's' && bindings_shows_address(L, arg)) {
            lua_pushfstring(L, "string.format's %%s of a %s", luaL_typename(L, arg));
            return bindings_refuse_address(L, lua_tostring(L, -1));
        }
    }
    return lua_tocfunction(L, lua_upvalueindex(1))(L);
}

void bindings_push(lua_State *L)
{
    static const luaL_Reg plain[] = {
        {"age", bindings_age},
        {"months_between", bindings_months_between},
        {"months_before", bindings_months_before},
        {"parse_date", bindings_parse_date},
        {"is_in", bindings_is_in},
        {"window_start", bindings_window_start},
        {"helpers", bindings_helpers},
        {"add_days", bindings_add_days},
        {"utf8_ok", bindings_utf8_ok},
        {"utf8_bad", bindings_utf8_bad_lua},
        {"decision_where", bindings_decision_where},
        {"blank", bindings_blank_lua},
        {"nfc", bindings_nfc_lua},
        {"cents", bindings_cents},
        {"sha256", bindings_sha256},
        {"decision_id", bindings_decision_id},
        {"now", bindings_now},
        {"today", bindings_today},
        {"restore", bindings_restore},
        {"frozen_len", bindings_frozen_len},
        {"braced", bindings_braced},
        {"tostring", bindings_tostring},
        {"name", bindings_name_lua},
        {"pairs", order_pairs},
        {"next", order_next},
        {"sort", order_sort},
        {NULL, NULL},
    };
    static const luaL_Reg scratch[] = {
        {"render", bindings_render},
        {"format", bindings_format_lua},
        {"canon", bindings_canon},
        {NULL, NULL},
    };
    luaL_newlib(L, plain);                            /* t */
    lua_newtable(L);                                  /* t twins */
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "twins");
    lua_newtable(L);                                  /* t twins twinned */
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "twinned");
    lua_pushvalue(L, -2);
    lua_pushcclosure(L, bindings_getmetatable, 2);    /* t twins getmetatable */
    lua_setfield(L, -3, "getmetatable");
    lua_pushcclosure(L, bindings_setmetatable, 1);
    lua_setfield(L, -2, "setmetatable");              /* t */
    lua_getglobal(L, "string");
    lua_getfield(L, -1, "format");
    lua_pushcclosure(L, bindings_string_format, 1);   /* t string format */
    lua_setfield(L, -3, "string_format");
    lua_pop(L, 1);                                    /* t */
    decision_push(L);
    lua_setfield(L, -2, "decider");
    applicant_push(L);
    lua_setfield(L, -2, "preparer");
    request_push(L);
    lua_setfield(L, -2, "fast_request");
    bindings_push_buf(L, (size_t)16 << 20);           /* t ud */
    luaL_setfuncs(L, scratch, 1);                     /* t */

    /* decode, with its scratch box, the array metatable, also exported as
     * array_mt for rules.lua, and its keys cache. */
    bindings_push_buf(L, (size_t)16 << 20);               /* t box */
    lua_newtable(L);                                      /* t box mt */
    lua_pushliteral(L, "array");
    lua_setfield(L, -2, "__json");
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "array_mt");                      /* t.array_mt = mt */
    canon_push_order_mt(L);
    lua_setfield(L, -4, "order_mt");                      /* t.order_mt */
    json_keys_new(L);                                     /* t box mt keys */
    lua_pushcclosure(L, bindings_decode, 3);              /* t decode */
    lua_setfield(L, -2, "decode");
}
