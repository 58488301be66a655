/* applicant.c -- see applicant.h.
 *
 * The path of a value (the field name errors show) is needed only when a
 * value fails or a record type gets its metatable, so it is kept as a chain
 * of stack slots on the C stack and written out only then.
 */
#include "applicant.h"

#include <lauxlib.h>
#include <string.h>

#include "bindings.h"
#include "date.h"

#define APPLICANT_MAX_DEPTH 100   /* deeper: the Lua prepare takes over */

/* Upvalues of prepare. */
#define UP_LUA_PREPARE lua_upvalueindex(1)
#define UP_RECORD_MT lua_upvalueindex(2)
#define UP_ARRAY lua_upvalueindex(3)
#define UP_NULLS lua_upvalueindex(4)
#define UP_SCALES lua_upvalueindex(5)
#define UP_KINDS lua_upvalueindex(6)   /* kind name -> T_ number */
static const char *const applicant_keys[] = {"kind", "of", "fields", "names", "set", "scale", "rank", "mt"};
enum { K_KIND, K_OF, K_FIELDS, K_NAMES, K_SET, K_SCALE, K_RANK, K_MT, K_COUNT };
#define UP_KEY(k) lua_upvalueindex(7 + (k))

enum { T_OTHER, T_NULLABLE, T_TEXT, T_DATE, T_BOOLEAN, T_INTEGER, T_NUMBER, T_MONEY, T_ENUM, T_LIST,
       T_RECORD };
static const char *const applicant_kinds[] = {NULL, "nullable", "text", "date", "boolean", "integer",
                                              "number", "money", "enum", "list", "record"};

/* A path: the root's text, or its parent's path, a '.', and a field name. */
typedef struct applicant_path {
    const struct applicant_path *parent;
    int name;   /* stack index of the root path, or of the field name */
} applicant_path;

/* T[key k] of one of rules.lua's own tables (no metamethods).  [-0, +1, -] */
static int applicant_get(lua_State *L, int t, int k)
{
    t = lua_absindex(L, t);
    lua_pushvalue(L, UP_KEY(k));
    return lua_rawget(L, t);
}

/* The T_ number of the type name at IDX.  [-0, +0, -] */
static int applicant_kind(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TSTRING)
        return T_OTHER;
    lua_pushvalue(L, idx);
    lua_rawget(L, UP_KINDS);
    int kind = (int)lua_tointeger(L, -1);   /* 0, T_OTHER, when not a kind */
    lua_pop(L, 1);
    return kind;
}

/* Push PATH as rules.lua builds it: each step is path == "" and name or
 * path .. "." .. name.  [-0, +1, m] */
static void applicant_push_path(lua_State *L, const applicant_path *path)
{
    const applicant_path *chain[APPLICANT_MAX_DEPTH + 2];
    int n = 0;
    for (const applicant_path *p = path; p && n < (int)(sizeof chain / sizeof chain[0]); p = p->parent)
        chain[n++] = p;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t len = 0;
    for (int i = n - 1; i >= 0; i--) {
        size_t k;
        const char *s = lua_tolstring(L, chain[i]->name, &k);
        if (i < n - 1 && len > 0) {
            luaL_addchar(&b, '.');
            len++;
        }
        luaL_addlstring(&b, s ? s : "", s ? k : 0);
        len += s ? k : 0;
    }
    luaL_pushresult(&b);
}

/* The value at V does not pass (or is not ours to judge): the Lua prepare
 * decides, and raises what it always has.  [-0, +1, e] */
static void applicant_lua(lua_State *L, int v, int t, const applicant_path *path)
{
    lua_pushvalue(L, UP_LUA_PREPARE);
    lua_pushvalue(L, v);
    lua_pushvalue(L, t);
    applicant_push_path(L, path);
    lua_call(L, 3, 1);
}

static int applicant_is_null(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL;
}

/* Push the value rules see for the value at V of type T.  [-0, +1, e] */
static void applicant_prepare(lua_State *L, int v, int t, const applicant_path *path, int depth);

static void applicant_record(lua_State *L, int v, int t, const applicant_path *path, int depth)
{
    int top = lua_gettop(L);
    applicant_get(L, t, K_FIELDS);                        /* fields */
    applicant_get(L, t, K_NAMES);                         /* fields names */
    lua_pushnil(L);                                       /* fields names nulls */
    int fields = top + 1, names = top + 2, nulls = top + 3;
    if (lua_type(L, fields) != LUA_TTABLE || lua_type(L, names) != LUA_TTABLE) {
        lua_settop(L, top);
        applicant_lua(L, v, t, path);
        return;
    }
    for (lua_Integer i = 1; lua_rawgeti(L, names, i) != LUA_TNIL; i++) {   /* ... name */
        int name = lua_gettop(L);
        applicant_path child = {path, name};
        lua_pushvalue(L, name);
        if (lua_rawget(L, v) != LUA_TNIL) {               /* ... name x */
            int x = name + 1;
            lua_pushvalue(L, name);
            lua_gettable(L, fields);                      /* ... name x ftype */
            int ftype = name + 2;
            if (applicant_is_null(L, x)) {
                if (lua_type(L, ftype) != LUA_TTABLE ||
                    (applicant_get(L, ftype, K_KIND), applicant_kind(L, -1)) != T_NULLABLE)
                    applicant_lua(L, x, ftype, &child);   /* raises: null where not allowed */
                lua_settop(L, ftype);
                if (lua_isnil(L, nulls)) {
                    lua_newtable(L);
                    lua_replace(L, nulls);
                }
                lua_pushvalue(L, name);
                lua_pushboolean(L, 1);
                lua_rawset(L, nulls);
                lua_pushvalue(L, name);
                lua_pushnil(L);
                lua_rawset(L, v);
            } else {
                applicant_prepare(L, x, ftype, &child, depth + 1);   /* ... name x ftype value */
                if (!lua_rawequal(L, -1, x) ||            /* an integer for a float, say */
                    (lua_type(L, x) == LUA_TNUMBER && lua_isinteger(L, -1) != lua_isinteger(L, x))) {
                    lua_pushvalue(L, name);
                    lua_insert(L, -2);
                    lua_rawset(L, v);
                }
            }
        }
        lua_settop(L, nulls);
    }
    lua_settop(L, nulls);
    if (!lua_isnil(L, nulls)) {
        lua_pushvalue(L, v);
        lua_pushvalue(L, nulls);
        lua_settable(L, UP_NULLS);                        /* NULLS[v] = nulls */
    }
    if (applicant_get(L, t, K_MT) == LUA_TNIL) {          /* t.mt = t.mt or record_mt(t, prefix) */
        lua_pop(L, 1);
        lua_pushvalue(L, UP_RECORD_MT);
        lua_pushvalue(L, t);
        applicant_push_path(L, path);
        if (lua_rawlen(L, -1) > 0) {
            lua_pushliteral(L, ".");
            lua_concat(L, 2);
        }
        lua_call(L, 2, 1);                                /* ... mt */
        lua_pushvalue(L, UP_KEY(K_MT));
        lua_pushvalue(L, -2);
        lua_rawset(L, t);
    }
    lua_setmetatable(L, v);
    lua_settop(L, top);
    lua_pushvalue(L, v);
}

static void applicant_prepare(lua_State *L, int v, int t, const applicant_path *path, int depth)
{
    luaL_checkstack(L, 12, "prepare");
    int top = lua_gettop(L);
    if (depth > APPLICANT_MAX_DEPTH || lua_type(L, t) != LUA_TTABLE) {
        applicant_lua(L, v, t, path);
        return;
    }
    applicant_get(L, t, K_KIND);
    int kind = applicant_kind(L, -1);
    lua_settop(L, top);
    if (applicant_is_null(L, v)) {
        if (kind == T_NULLABLE)
            lua_pushnil(L);
        else
            applicant_lua(L, v, t, path);
        return;
    }
    int ok = 1, vt = lua_type(L, v);
    switch (kind) {
    case T_NULLABLE:
        applicant_get(L, t, K_OF);
        applicant_prepare(L, v, top + 1, path, depth + 1);
        lua_replace(L, top + 1);
        return;
    case T_TEXT:
    case T_NUMBER:
        ok = vt == (kind == T_TEXT ? LUA_TSTRING : LUA_TNUMBER);
        break;
    case T_BOOLEAN:
        ok = vt == LUA_TBOOLEAN;
        break;
    case T_DATE: {
        size_t n;
        int32_t days;
        const char *s = vt == LUA_TSTRING ? lua_tolstring(L, v, &n) : NULL;
        ok = s && date_parse(s, n, &days) == 0;
        break;
    }
    case T_INTEGER:
    case T_MONEY: {
        int exact = 0;
        lua_Integer i = vt == LUA_TNUMBER ? lua_tointegerx(L, v, &exact) : 0;
        if (kind == T_MONEY)
            ok = vt == LUA_TNUMBER && !(exact ? i < 0 : lua_tonumber(L, v) < 0) && bindings_is_cents(L, v);
        else
            ok = exact;
        if (ok) {
            if (exact)
                lua_pushinteger(L, i);
            else
                lua_pushvalue(L, v);
            return;
        }
        break;
    }
    case T_ENUM:
        if (!applicant_get(L, t, K_SET) || !lua_toboolean(L, -1)) {   /* t.set or scales[t.scale].rank */
            lua_pop(L, 1);
            applicant_get(L, t, K_SCALE);
            if (lua_rawget(L, UP_SCALES) != LUA_TTABLE) {
                ok = 0;   /* the Lua prepare says what is wrong */
                break;
            }
            applicant_get(L, -1, K_RANK);
        }
        ok = vt == LUA_TSTRING && lua_type(L, -1) == LUA_TTABLE &&
             (lua_pushvalue(L, v), lua_rawget(L, -2) != LUA_TNIL) && lua_toboolean(L, -1);
        break;
    case T_LIST:
        ok = vt == LUA_TTABLE && lua_getmetatable(L, v) && lua_rawequal(L, -1, UP_ARRAY);
        if (ok) {
            lua_settop(L, top);
            applicant_get(L, t, K_OF);                    /* of */
            lua_Integer n = (lua_Integer)lua_rawlen(L, v);
            for (lua_Integer i = 1; i <= n; i++) {
                lua_rawgeti(L, v, i);                     /* of item */
                applicant_prepare(L, top + 2, top + 1, path, depth + 1);   /* of item value */
                lua_rawseti(L, v, i);
                lua_settop(L, top + 1);
            }
            lua_settop(L, top);
            lua_pushvalue(L, v);
            return;
        }
        break;
    case T_RECORD: {
        ok = vt == LUA_TTABLE && !lua_getmetatable(L, v);
        if (ok) {
            applicant_record(L, v, t, path, depth);
            return;
        }
        break;
    }
    default:
        break;
    }
    lua_settop(L, top);
    if (ok)
        lua_pushvalue(L, v);
    else
        applicant_lua(L, v, t, path);
}

/* prepare(v, t, path) -> value  [-0, +1, e] */
static int applicant_prepare_lua(lua_State *L)
{
    lua_settop(L, 3);
    applicant_path root = {NULL, 3};
    applicant_prepare(L, 1, 2, &root, 0);
    return 1;
}

/* preparer(lua_prepare, record_mt, ARRAY, NULLS, scales) -> prepare
 * [-0, +1, m] */
static int applicant_preparer(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    luaL_checktype(L, 3, LUA_TTABLE);
    luaL_checktype(L, 4, LUA_TTABLE);
    luaL_checktype(L, 5, LUA_TTABLE);
    lua_settop(L, 5);
    lua_createtable(L, 0, T_RECORD);
    for (int k = T_NULLABLE; k <= T_RECORD; k++) {
        lua_pushinteger(L, k);
        lua_setfield(L, -2, applicant_kinds[k]);
    }
    for (int k = 0; k < K_COUNT; k++)
        lua_pushstring(L, applicant_keys[k]);
    lua_pushcclosure(L, applicant_prepare_lua, 6 + K_COUNT);
    return 1;
}

void applicant_push(lua_State *L)
{
    lua_pushcfunction(L, applicant_preparer);
}
