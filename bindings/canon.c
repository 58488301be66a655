/* canon.c -- see canon.h. */
#include "canon.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define CANON_MAX_DEPTH 64

static void canon_value(lua_State *L, int idx, buf *b, int depth);

static void canon_put(lua_State *L, buf *b, const char *p, size_t n)
{
    if (buf_add(b, p, n) != 0)
        luaL_error(L, "JSON text over %d bytes", (int)b->cap);
}

static void canon_putc(lua_State *L, buf *b, char c)
{
    canon_put(L, b, &c, 1);
}

static void canon_puts(lua_State *L, buf *b, const char *s)
{
    canon_put(L, b, s, strlen(s));
}

/* Bytes that JSON strings must escape: '"', '\\' and the controls. */
static const unsigned char canon_escape[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

/* Reserve room for N more bytes and return where they go.  [-0, +0, v] */
static char *canon_room(lua_State *L, buf *b, size_t n)
{
    if (buf_reserve(b, n) != 0)
        luaL_error(L, "JSON text over %d bytes", (int)b->cap);
    return b->data + b->len;
}

static void canon_string(lua_State *L, const char *s, size_t n, buf *b)
{
    static const char hex[] = "0123456789abcdef";
    /* Worst case: every byte becomes \u00XX. */
    char *o = canon_room(L, b, 6 * n + 2), *start = o;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!canon_escape[c]) {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            *o++ = 'u'; *o++ = '0'; *o++ = '0';
            *o++ = hex[c >> 4]; *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    b->len += (size_t)(o - start);
    b->data[b->len] = '\0';
}

static void canon_number(lua_State *L, int idx, buf *b)
{
    char tmp[40];
    int n;
    if (lua_isinteger(L, idx)) {
        /* Integers are most numbers in a decision: no printf for them. */
        lua_Integer v = lua_tointeger(L, idx);
        lua_Unsigned u = v < 0 ? 0u - (lua_Unsigned)v : (lua_Unsigned)v;
        char *e = tmp + sizeof tmp, *p = e;
        do
            *--p = (char)('0' + u % 10);
        while ((u /= 10) != 0);
        if (v < 0)
            *--p = '-';
        canon_put(L, b, p, (size_t)(e - p));
        return;
    } else {
        double d = lua_tonumber(L, idx);
        if (!isfinite(d))
            luaL_error(L, "cannot encode %f as JSON", d);
        if (d == floor(d) && fabs(d) < 9007199254740992.0) {
            n = snprintf(tmp, sizeof tmp, "%.0f", d);
            if (!strcmp(tmp, "-0"))
                n = snprintf(tmp, sizeof tmp, "0");
        } else {
            /* The shortest of %.15g..%.17g that reads back exactly. */
            for (int prec = 15;; prec++) {
                n = snprintf(tmp, sizeof tmp, "%.*g", prec, d);
                if (prec == 17 || strtod(tmp, NULL) == d)
                    break;
            }
        }
    }
    canon_put(L, b, tmp, (size_t)n);
}

static int canon_key_cmp(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    return strcmp(*x, *y);
}

/* An object without a declared order: keys in bytewise order.  Up to
 * CANON_FEW keys are sorted in a C array (the table keeps the strings
 * alive); more go through a Lua table and a userdata, so that an error
 * raised while encoding cannot leak anything. */
#define CANON_FEW 32

static void canon_object_sorted(lua_State *L, int t, buf *b, int depth)
{
    const char *few[CANON_FEW];
    const char **keys = few;
    size_t n = 0, cap = CANON_FEW;
    int top = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "cannot encode a table with a %s key as JSON", luaL_typename(L, -1));
        if (n == cap) {
            cap *= 4;
            const char **more = lua_newuserdatauv(L, cap * sizeof *more, 0);
            memcpy(more, keys, n * sizeof *more);
            keys = more;
            lua_insert(L, -2);   /* keep it below the iteration key */
        }
        keys[n++] = lua_tostring(L, -1);
    }
    qsort(keys, n, sizeof *keys, canon_key_cmp);
    canon_putc(L, b, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            canon_putc(L, b, ',');
        canon_string(L, keys[i], strlen(keys[i]), b);
        canon_putc(L, b, ':');
        lua_getfield(L, t, keys[i]);
        canon_value(L, lua_gettop(L), b, depth);
        lua_pop(L, 1);
    }
    canon_putc(L, b, '}');
    lua_settop(L, top);
}

/* How a table is written is said by its metatable's __json: the string
 * "array", or a list of keys (an object in that order).  A frozen table
 * (rules.lua) keeps its contents in the table its metatable's __frozen
 * names. */
static void canon_table(lua_State *L, int idx, buf *b, int depth)
{
    if (depth >= CANON_MAX_DEPTH)
        luaL_error(L, "cannot encode JSON nested deeper than %d", CANON_MAX_DEPTH);
    luaL_checkstack(L, 8, "canon");
    int base = lua_gettop(L);
    int t = idx, order = 0, array = 0;
    if (lua_getmetatable(L, idx)) {                       /* mt */
        int mt = lua_gettop(L);
        int kind = lua_getfield(L, mt, "__json");         /* mt json */
        if (kind == LUA_TTABLE)
            order = lua_gettop(L);
        else
            array = kind == LUA_TSTRING;
        if (lua_getfield(L, mt, "__frozen") == LUA_TTABLE)
            t = lua_gettop(L);                            /* mt json shadow */
    }
    if (!order && !array)
        array = lua_rawgeti(L, t, 1) != LUA_TNIL, lua_pop(L, 1);

    if (order) {
        int first = 1;
        canon_putc(L, b, '{');
        for (lua_Integer i = 1; lua_rawgeti(L, order, i) == LUA_TSTRING; i++) {
            size_t klen;
            const char *k = lua_tolstring(L, -1, &klen);
            lua_pushvalue(L, -1);
            if (lua_rawget(L, t) != LUA_TNIL) {           /* ... k v */
                if (!first)
                    canon_putc(L, b, ',');
                first = 0;
                canon_string(L, k, klen, b);
                canon_putc(L, b, ':');
                canon_value(L, lua_gettop(L), b, depth + 1);
            }
            lua_pop(L, 2);
        }
        lua_pop(L, 1);
        canon_putc(L, b, '}');
    } else if (array) {
        lua_Unsigned n = lua_rawlen(L, t);
        canon_putc(L, b, '[');
        for (lua_Unsigned i = 1; i <= n; i++) {
            if (i > 1)
                canon_putc(L, b, ',');
            lua_rawgeti(L, t, (lua_Integer)i);
            canon_value(L, lua_gettop(L), b, depth + 1);
            lua_pop(L, 1);
        }
        canon_putc(L, b, ']');
    } else {
        canon_object_sorted(L, t, b, depth + 1);
    }
    lua_settop(L, base);
}

static void canon_value(lua_State *L, int idx, buf *b, int depth)
{
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
    case LUA_TLIGHTUSERDATA:   /* the JSON null sentinel */
        canon_puts(L, b, "null");
        break;
    case LUA_TBOOLEAN:
        canon_puts(L, b, lua_toboolean(L, idx) ? "true" : "false");
        break;
    case LUA_TNUMBER:
        canon_number(L, idx, b);
        break;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        canon_string(L, s, n, b);
        break;
    }
    case LUA_TTABLE:
        canon_table(L, idx, b, depth);
        break;
    default:
        luaL_error(L, "cannot encode a %s as JSON", luaL_typename(L, idx));
    }
}

void canon_encode(lua_State *L, int idx, buf *b)
{
    canon_value(L, lua_absindex(L, idx), b, 0);
}
