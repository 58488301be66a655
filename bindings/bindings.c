/* bindings.c -- see bindings.h. */
#include "bindings.h"

#include <lauxlib.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "canon.h"
#include "date.h"
#include "decision.h"
#include "ids.h"

/* Check that argument ARG is a valid date string; return its day number.
 * [-0, +0, v] */
static int32_t bindings_checkdate(lua_State *L, int arg, const char *fn)
{
    size_t n;
    const char *s = lua_tolstring(L, arg, &n);
    int32_t days;
    if (!s)
        luaL_error(L, "%s: argument %d is %s, expected a date", fn, arg,
                   luaL_typename(L, arg));
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

/* months_before(on, n) -> date string  [-0, +1, v] */
static int bindings_months_before(lua_State *L)
{
    int32_t on = bindings_checkdate(L, 1, "months_before");
    lua_Integer n = luaL_checkinteger(L, 2);
    if (n < -120000 || n > 120000)
        luaL_error(L, "months_before: %d months is out of range", (int)n);
    char out[11];
    date_format(date_add_months(on, -(int)n), out);
    lua_pushstring(L, out);
    return 1;
}

/* add_days(date, n) -> date string  [-0, +1, v] */
static int bindings_add_days(lua_State *L)
{
    int32_t d = bindings_checkdate(L, 1, "add_days");
    lua_Integer n = luaL_checkinteger(L, 2);
    if (n < -3650000 || n > 3650000)
        luaL_error(L, "add_days: %d days is out of range", (int)n);
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
 * exactly. */
static int bindings_cents(lua_State *L)
{
    if (lua_isinteger(L, 1)) {
        lua_Integer v = lua_tointeger(L, 1);
        if (v > LUA_MAXINTEGER / 100 || v < LUA_MININTEGER / 100)
            luaL_error(L, "cents: %I is too large an amount", (LUAI_UACINT)v);
        lua_pushinteger(L, v * 100);
        return 1;
    }
    if (lua_type(L, 1) != LUA_TNUMBER)
        luaL_error(L, "cents: expected an amount, got %s", luaL_typename(L, 1));
    double x = lua_tonumber(L, 1) * 100.0;
    double r = nearbyint(x);
    if (!isfinite(x) || fabs(r) > 9.0e15)
        luaL_error(L, "cents: %f is out of range", lua_tonumber(L, 1));
    if (fabs(x - r) > 1e-9 * fmax(1.0, fabs(x)))
        luaL_error(L, "cents: %f has more than two decimals", lua_tonumber(L, 1));
    lua_pushinteger(L, (lua_Integer)r);
    return 1;
}

int bindings_format(lua_State *L, int idx, buf *out)
{
    char tmp[64];
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            snprintf(tmp, sizeof tmp, "%lld", (long long)lua_tointeger(L, idx));
        } else {
            double d = lua_tonumber(L, idx);
            if (d == floor(d) && fabs(d) < 1e15)
                snprintf(tmp, sizeof tmp, "%.0f", d);
            else
                snprintf(tmp, sizeof tmp, "%.2f", d);
        }
        return buf_adds(out, tmp);
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

static int bindings_scratch_gc(lua_State *L)
{
    buf_free(lua_touserdata(L, 1));
    return 0;
}

/* render(template, values) -> string  [-0, +1, e] */
static int bindings_render(lua_State *L)
{
    size_t n;
    const char *t = luaL_checklstring(L, 1, &n);
    buf *b = bindings_scratch(L);
    decision_render(L, t, n, 2, b);   /* cut at the cap */
    lua_pushlstring(L, b->data ? b->data : "", b->len);
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

/* sha256(s) -> hex  [-0, +1, v] */
static int bindings_sha256(lua_State *L)
{
    static const char hex[] = "0123456789abcdef";
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    unsigned char md[32];
    unsigned int mdlen = 0;
    char out[65];
    if (!EVP_Digest(s, n, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        luaL_error(L, "sha256: digest failed");
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    lua_pushlstring(L, out, 64);
    return 1;
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

void bindings_push(lua_State *L)
{
    static const luaL_Reg plain[] = {
        {"age", bindings_age},
        {"months_between", bindings_months_between},
        {"months_before", bindings_months_before},
        {"parse_date", bindings_parse_date},
        {"add_days", bindings_add_days},
        {"cents", bindings_cents},
        {"sha256", bindings_sha256},
        {"decision_id", bindings_decision_id},
        {"now", bindings_now},
        {"today", bindings_today},
        {NULL, NULL},
    };
    static const luaL_Reg scratch[] = {
        {"render", bindings_render},
        {"format", bindings_format_lua},
        {"canon", bindings_canon},
        {NULL, NULL},
    };
    luaL_newlib(L, plain);                            /* t */
    decision_push(L);
    lua_setfield(L, -2, "decider");
    buf *b = lua_newuserdatauv(L, sizeof *b, 0);      /* t ud */
    buf_init(b, (size_t)16 << 20);
    lua_newtable(L);                                  /* t ud mt */
    lua_pushcfunction(L, bindings_scratch_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);                          /* t ud */
    luaL_setfuncs(L, scratch, 1);                     /* t */
}
