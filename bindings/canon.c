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

static void canon_string(lua_State *L, const char *s, size_t n, buf *b)
{
    static const char hex[] = "0123456789abcdef";
    canon_putc(L, b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        canon_put(L, b, s + i - run, run);
        run = 0;
        canon_putc(L, b, '\\');
        switch (c) {
        case '"': canon_putc(L, b, '"'); break;
        case '\\': canon_putc(L, b, '\\'); break;
        case '\n': canon_putc(L, b, 'n'); break;
        case '\r': canon_putc(L, b, 'r'); break;
        case '\t': canon_putc(L, b, 't'); break;
        default:
            canon_putc(L, b, 'u');
            canon_putc(L, b, '0');
            canon_putc(L, b, '0');
            canon_putc(L, b, hex[c >> 4]);
            canon_putc(L, b, hex[c & 15]);
        }
    }
    canon_put(L, b, s + n - run, run);
    canon_putc(L, b, '"');
}

static void canon_number(lua_State *L, int idx, buf *b)
{
    char tmp[40];
    int n;
    if (lua_isinteger(L, idx)) {
        n = snprintf(tmp, sizeof tmp, "%lld", (long long)lua_tointeger(L, idx));
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

/* The table whose entries to read: a frozen table (see rules.lua) keeps its
 * contents in the table its metatable's __index names. [-0, +1, -] */
static void canon_contents(lua_State *L, int idx)
{
    if (lua_getmetatable(L, idx)) {
        if (lua_getfield(L, -1, "__frozen") == LUA_TTABLE) {
            lua_remove(L, -2);
            return;
        }
        lua_pop(L, 2);
    }
    lua_pushvalue(L, idx);
}

static int canon_key_cmp(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    return strcmp(*x, *y);
}

static void canon_object_sorted(lua_State *L, int t, buf *b, int depth)
{
    /* Collect the keys in a Lua table (so that an error cannot leak them),
     * then sort pointers to their strings, which that table keeps alive. */
    size_t n = 0;
    lua_newtable(L);                                  /* t ... keys */
    int keys = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "cannot encode a table with a %s key as JSON", luaL_typename(L, -1));
        lua_pushvalue(L, -1);
        lua_rawseti(L, keys, (lua_Integer)++n);
    }
    const char **sorted = lua_newuserdatauv(L, n ? n * sizeof *sorted : 1, 0);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, keys, (lua_Integer)i + 1);
        sorted[i] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    qsort(sorted, n, sizeof *sorted, canon_key_cmp);
    canon_putc(L, b, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            canon_putc(L, b, ',');
        canon_string(L, sorted[i], strlen(sorted[i]), b);
        canon_putc(L, b, ':');
        lua_getfield(L, t, sorted[i]);
        canon_value(L, lua_gettop(L), b, depth);
        lua_pop(L, 1);
    }
    canon_putc(L, b, '}');
    lua_pop(L, 2);
}

static void canon_table(lua_State *L, int idx, buf *b, int depth)
{
    if (depth >= CANON_MAX_DEPTH)
        luaL_error(L, "cannot encode JSON nested deeper than %d", CANON_MAX_DEPTH);
    luaL_checkstack(L, 8, "canon");
    canon_contents(L, idx);                           /* t */
    int t = lua_gettop(L);
    int order = 0, array = 0;
    if (lua_getmetatable(L, idx)) {
        if (lua_getfield(L, -1, "__order") == LUA_TTABLE)
            order = lua_gettop(L);
        else
            lua_pop(L, 1);
        array = lua_getfield(L, -1 - (order != 0), "__array") != LUA_TNIL;
        lua_pop(L, 1);
        if (order)
            lua_remove(L, order - 1), order--;
        else
            lua_pop(L, 1);
    }                                                 /* t [order] */
    if (!order && !array)
        array = lua_rawgeti(L, t, 1) != LUA_TNIL, lua_pop(L, 1);

    if (order) {
        int first = 1;
        canon_putc(L, b, '{');
        for (lua_Integer i = 1; lua_rawgeti(L, order, i) == LUA_TSTRING; i++) {
            size_t klen;
            const char *k = lua_tolstring(L, -1, &klen);
            if (lua_rawget(L, t) != LUA_TNIL) {       /* t order v */
                if (!first)
                    canon_putc(L, b, ',');
                first = 0;
                canon_string(L, k, klen, b);
                canon_putc(L, b, ':');
                canon_value(L, lua_gettop(L), b, depth + 1);
            }
            lua_pop(L, 1);
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
    lua_pop(L, 1);
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
