/* applicant.c -- see applicant.h.
 *
 * The path of a value (the field name errors show) is needed only when a
 * value fails or a record type gets its metatable, so it is kept as a chain
 * of stack slots on the C stack and written out only then.
 */
#include "applicant.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "bindings.h"
#include "date.h"
#include "json.h"
#include "order.h"
#include "text.h"

#define APPLICANT_MAX_DEPTH 100   /* deeper: the Lua prepare takes over */
/* An integer field holds what a double holds exactly, below 2^53 in size:
 * beyond, 9007199254740993 would be decided as ...992. */
#define APPLICANT_EXACT ((lua_Integer)1 << 53)

/* Upvalues of prepare. */
#define UP_LUA_PREPARE lua_upvalueindex(1)
#define UP_RECORD_MT lua_upvalueindex(2)
#define UP_ARRAY lua_upvalueindex(3)
#define UP_NULLS lua_upvalueindex(4)
#define UP_SCALES lua_upvalueindex(5)
#define UP_KINDS lua_upvalueindex(6)   /* kind name -> T_ number */
#define UP_COMPILED lua_upvalueindex(7)   /* a table: [1] the compiled schema (an aschema), or nil;
                                           shared by prepare and fuse */
#define UP_LEN lua_upvalueindex(8)        /* the proxies' metamethods */
#define UP_PAIRS lua_upvalueindex(9)
#define UP_REFUSE lua_upvalueindex(10)
static const char *const applicant_keys[] = {
    "kind", "of", "fields", "names", "set", "scale", "rank",
    /* a proxy's metatable (applicant_proxy) */
    "__index", "__frozen", "__len", "__pairs", "__newindex", "__metatable", "__json",
    "applicant record", "list", "min", "max"};
enum { K_KIND, K_OF, K_FIELDS, K_NAMES, K_SET, K_SCALE, K_RANK, K_INDEX, K_FROZEN, K_LEN,
       K_PAIRS, K_NEWINDEX, K_METATABLE, K_JSON, K_RECORD, K_LIST, K_MIN, K_MAX, K_COUNT };
#define UP_KEY(k) lua_upvalueindex(11 + (k))
/* fuse's own, after the keys: its scratch buffer and its keys cache. */
#define UP_BOX lua_upvalueindex(11 + K_COUNT)
#define UP_KEYS lua_upvalueindex(12 + K_COUNT)

enum { T_OTHER, T_NULLABLE, T_TEXT, T_DATE, T_BOOLEAN, T_INTEGER, T_NUMBER, T_MONEY, T_ENUM, T_LIST,
       T_RECORD };
static const char *const applicant_kinds[] = {NULL, "nullable", "text", "date", "boolean", "integer",
                                              "number", "money", "enum", "list", "record"};

/* A path: the root's text, or its parent's path, a '.', and a field name. */
typedef struct applicant_path {
    const struct applicant_path *parent;
    int name;   /* stack index of the root path, of the field name, or of a list
                   element's number */
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
 * path .. "." .. name, and a list's element, with NUMBERED, path .. "[i]"
 * (without, as a field of the schema: the element left out).
 * [-0, +1, m] */
static void applicant_push_path(lua_State *L, const applicant_path *path, int numbered)
{
    const applicant_path *chain[APPLICANT_MAX_DEPTH + 2];
    int n = 0;
    for (const applicant_path *p = path; p && n < (int)(sizeof chain / sizeof chain[0]); p = p->parent)
        chain[n++] = p;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t len = 0;
    for (int i = n - 1; i >= 0; i--) {
        if (lua_type(L, chain[i]->name) == LUA_TNUMBER) {   /* a list's element */
            if (numbered) {
                char num[32];
                int k = snprintf(num, sizeof num, "[%lld]",
                                 (long long)lua_tointeger(L, chain[i]->name));
                luaL_addlstring(&b, num, (size_t)k);
                len += (size_t)k;
            }
            continue;
        }
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
    applicant_push_path(L, path, 1);
    lua_call(L, 3, 1);
}

/* The applicant rules see is read-only: each record and list a proxy, empty,
 * whose metatable reads the contents.  Otherwise a rule that changed a
 * field changed what the next criterion, and the next programme of a
 * screen, read.  The contents are out of the rules' reach: __index is the
 * table itself (no rule code is handed it; a record's own metatable, which
 * tells a missing field from a null one, is ours), and pairs and the
 * sandbox's next read it through the metatable's __frozen. */

/* next(proxy, key) over the contents.  [-0, +(1|2), e] */
static int applicant_next(lua_State *L)
{
    lua_settop(L, 2);
    if (!lua_getmetatable(L, 1) || (lua_pushliteral(L, "__frozen"), lua_rawget(L, 3)) != LUA_TTABLE)
        return luaL_error(L, "bad argument #1 to 'next' (an applicant's record or list expected)");
    /* p k mt v */
    lua_pushvalue(L, 2);
    if (lua_next(L, 4))
        return 2;
    lua_pushnil(L);
    return 1;
}

/* __pairs: applicant_next, the proxy, nil.  [-0, +3, -] */
static int applicant_pairs(lua_State *L)
{
    lua_pushcfunction(L, applicant_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* "file:line: " of the innermost Lua function on the stack, or "": the
 * rule's line also when the write is a library function's on its behalf
 * (table.sort, table.insert and table.move write from C, where luaL_where
 * finds no line).  [-0, +1, m] */
static void applicant_where(lua_State *L)
{
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
            lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
            return;
        }
    }
    lua_pushliteral(L, "");
}

/* __newindex: refused, at the rule's line.  [-0, +0, v] */
static int applicant_refuse(lua_State *L)
{
    applicant_where(L);   /* the function that assigned, or had a library function assign */
    lua_pushfstring(L, "cannot change field '%s' of the applicant: what a criterion reads may not "
                    "depend on another's rule", bindings_name(L, 2));
    lua_remove(L, -2);
    lua_concat(L, 2);
    return lua_error(L);
}

/* mt[key k] = the value at VAL.  [-0, +0, m] */
static void applicant_mt_set(lua_State *L, int mt, int k, int val)
{
    lua_pushvalue(L, UP_KEY(k));
    lua_pushvalue(L, val);
    lua_rawset(L, mt);
}

/* Replace the table at the top by its proxy; NAME is K_RECORD or K_LIST.
 * [-1, +1, m] */
static void applicant_proxy(lua_State *L, int name)
{
    int v = lua_gettop(L);
    luaL_checkstack(L, 6, "prepare");
    lua_createtable(L, 0, 0);                             /* v p */
    lua_createtable(L, 0, 7);                             /* v p mt */
    int mt = v + 2;
    applicant_mt_set(L, mt, K_INDEX, v);
    applicant_mt_set(L, mt, K_FROZEN, v);
    applicant_mt_set(L, mt, K_LEN, UP_LEN);
    applicant_mt_set(L, mt, K_PAIRS, UP_PAIRS);
    applicant_mt_set(L, mt, K_NEWINDEX, UP_REFUSE);
    applicant_mt_set(L, mt, K_METATABLE, UP_KEY(name));
    if (lua_getmetatable(L, v)) {                         /* how it is written, as JSON */
        lua_pushvalue(L, UP_KEY(K_JSON));
        if (lua_rawget(L, -2) != LUA_TNIL)
            applicant_mt_set(L, mt, K_JSON, lua_gettop(L));
        lua_pop(L, 2);
    }
    lua_setmetatable(L, v + 1);                           /* v p */
    lua_replace(L, v);                                    /* p */
}

static int applicant_is_null(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL;
}

/* The schema, compiled ----------------------------------------------------
 * The first prepare of a schema walks its type tables once and keeps what
 * every request needs in C: each type's kind, the inner type of a nullable
 * or a list, the set of an enum, the field names of a record.  The Lua
 * values these refer to (type tables, names, sets) sit in an anchor table,
 * the compiled schema's user value, found again by their number there. */

typedef struct anode {
    int kind;          /* T_*; T_OTHER: the Lua prepare judges every value */
    int type;          /* the type table, in the anchor */
    int of;            /* nullable, list: the inner type's node */
    int set;           /* enum: the allowed values (value -> truthy), in the anchor;
                          record: its fields table (name -> type), in the anchor */
    int field, nfields;   /* record: its fields are fields[field .. field + nfields) */
    int mt;            /* record: the metatable of its values, in the anchor once made */
    lua_Integer min, max; /* integer: its bounds (integer { min = 1 }), or the widest */
    int first;         /* record: the field the last value read by fuse began with, or -1 */
} anode;

typedef struct afield {
    int name;          /* in the anchor */
    int node;
    const char *str;   /* the name's bytes, those of the anchored string */
    size_t len;
    int after;         /* the field that followed it in the last value fuse read, or -1 */
} afield;

typedef struct aschema {
    anode *nodes;
    afield *fields;
    int nnodes, nfields, cap_nodes, cap_fields;
    int nanchors;
} aschema;

static int aschema_gc(lua_State *L)
{
    aschema *s = lua_touserdata(L, 1);
    free(s->nodes);
    free(s->fields);
    s->nodes = NULL;
    s->fields = NULL;
    return 0;
}

/* Put the value at IDX in the anchor (at ANCHOR); its number.  [-0, +0, m] */
static int aschema_anchor(lua_State *L, aschema *s, int anchor, int idx)
{
    lua_pushvalue(L, idx);
    lua_rawseti(L, anchor, ++s->nanchors);
    return s->nanchors;
}

static int aschema_grow(lua_State *L, void **p, int *cap, int need, size_t size)
{
    if (need <= *cap)
        return 0;
    int n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, (size_t)n * size);
    if (!q)
        return luaL_error(L, "not enough memory");
    *p = q;
    *cap = n;
    return 0;
}

/* A table a rule's check closes over is frozen (rules.lua, freeze): its
 * contents are in the table its metatable's __frozen names, and a raw read
 * of it finds nothing.  Replace the table at IDX by those contents, when it
 * is one.  [-0, +0, -] */
static void applicant_thaw(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) == LUA_TTABLE && order_contents(L, idx, 0))
        lua_replace(L, idx);
}

/* Compile the type at T, the type of the values at PATH (a string at that
 * stack index: field names joined by dots, list elements left out, as
 * applicant_push_path writes it unnumbered); its node number.  A type
 * frozen because a check closes over it (local R = record {...}) is read
 * through its contents: read raw, it compiled as T_OTHER, and its values
 * went without a proxy, to be written by rules.  Each record's metatable
 * is made here, by rules.lua's record_mt, and not at the first value: that
 * is Lua code, and a request that made one would take more instructions
 * than the same request in an engine that had made it before.
 * [-0, +0, e] */
static int aschema_compile(lua_State *L, aschema *s, int anchor, int t, int path, int depth)
{
    luaL_checkstack(L, 10, "schema");
    t = lua_absindex(L, t);
    path = lua_absindex(L, path);
    int base = lua_gettop(L);
    aschema_grow(L, (void **)&s->nodes, &s->cap_nodes, s->nnodes + 1, sizeof *s->nodes);
    int at = s->nnodes++;
    anode n = {T_OTHER, aschema_anchor(L, s, anchor, t), -1, 0, 0, 0, 0, LUA_MININTEGER, LUA_MAXINTEGER, -1};
    if (depth <= APPLICANT_MAX_DEPTH && lua_type(L, t) == LUA_TTABLE) {
        lua_pushvalue(L, t);
        applicant_thaw(L, -1);
        t = lua_gettop(L);
        int top = t;
        applicant_get(L, t, K_KIND);
        n.kind = applicant_kind(L, -1);
        lua_settop(L, top);
        switch (n.kind) {
        case T_NULLABLE:
        case T_LIST:
            applicant_get(L, t, K_OF);
            n.of = aschema_compile(L, s, anchor, -1, path, depth + 1);
            break;
        case T_INTEGER:   /* rules.lua's integer {} made them whole numbers */
            if (applicant_get(L, t, K_MIN) == LUA_TNUMBER)
                n.min = lua_tointeger(L, -1);
            if (applicant_get(L, t, K_MAX) == LUA_TNUMBER)
                n.max = lua_tointeger(L, -1);
            break;
        case T_ENUM:   /* t.set or scales[t.scale].rank */
            if (!applicant_get(L, t, K_SET) || !lua_toboolean(L, -1)) {
                applicant_get(L, t, K_SCALE);
                if (lua_rawget(L, UP_SCALES) == LUA_TTABLE) {
                    applicant_thaw(L, -1);
                    applicant_get(L, -1, K_RANK);
                }
            }
            applicant_thaw(L, -1);
            if (lua_type(L, -1) == LUA_TTABLE)
                n.set = aschema_anchor(L, s, anchor, -1);
            else
                n.kind = T_OTHER;   /* the Lua prepare says what is wrong */
            break;
        case T_RECORD: {
            applicant_get(L, t, K_FIELDS);
            applicant_get(L, t, K_NAMES);                 /* fields names */
            int fields = top + 1, names = top + 2;
            applicant_thaw(L, fields);
            applicant_thaw(L, names);
            if (lua_type(L, fields) != LUA_TTABLE || lua_type(L, names) != LUA_TTABLE) {
                n.kind = T_OTHER;
                break;
            }
            n.set = aschema_anchor(L, s, anchor, fields);
            lua_pushvalue(L, path);                       /* ... prefix: "" or path "." */
            if (lua_rawlen(L, -1) > 0) {
                lua_pushliteral(L, ".");
                lua_concat(L, 2);
            }
            int prefix = lua_gettop(L);
            lua_pushvalue(L, UP_RECORD_MT);
            lua_rawgeti(L, anchor, n.type);
            lua_pushvalue(L, prefix);
            lua_call(L, 2, 1);                            /* ... prefix mt */
            n.mt = aschema_anchor(L, s, anchor, -1);
            lua_pop(L, 1);
            int count = 0;
            while (lua_rawgeti(L, names, count + 1) != LUA_TNIL)
                lua_pop(L, 1), count++;
            lua_pop(L, 1);
            aschema_grow(L, (void **)&s->fields, &s->cap_fields, s->nfields + count,
                         sizeof *s->fields);
            n.field = s->nfields;
            n.nfields = count;
            s->nfields += count;   /* reserved: inner records come after */
            for (int i = 0; i < count; i++) {
                lua_rawgeti(L, names, i + 1);             /* ... prefix name */
                int name = aschema_anchor(L, s, anchor, -1);
                size_t len = 0;
                const char *str = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
                lua_pushvalue(L, prefix);
                lua_pushvalue(L, -2);
                lua_concat(L, 2);                         /* ... prefix name path */
                lua_insert(L, -2);
                lua_gettable(L, fields);                  /* ... prefix path ftype */
                int node = aschema_compile(L, s, anchor, -1, -2, depth + 1);
                lua_pop(L, 2);
                s->fields[n.field + i] = (afield){name, node, str, len, -1};
            }
            break;
        }
        default:
            break;
        }
    }
    lua_settop(L, base);
    s->nodes[at] = n;
    return at;
}

/* Whether the value at V passes integer or money node NODE as it stands:
 * a number, an integer within the node's bounds and below 2^53 in size, or
 * an amount of whole hundredths that is not negative.  *I and *EXACT: its
 * integer value, and whether it has one.  [-0, +0, -] */
static int applicant_number_ok(lua_State *L, const anode *node, int v, lua_Integer *i,
                               int *exact)
{
    int number = lua_type(L, v) == LUA_TNUMBER;
    *exact = 0;
    *i = number ? lua_tointegerx(L, v, exact) : 0;
    if (node->kind == T_MONEY)
        return number && !(*exact ? *i < 0 : lua_tonumber(L, v) < 0) && bindings_is_cents(L, v);
    return *exact && *i >= node->min && *i <= node->max && *i > -APPLICANT_EXACT &&
           *i < APPLICANT_EXACT;
}

/* Push the value rules see for the value at V, of the type of node N.
 * ANCHOR is the compiled schema's anchor table.  [-0, +1, e] */
static void applicant_prepare(lua_State *L, const aschema *s, int anchor, int v, int n,
                              const applicant_path *path);

static void applicant_record(lua_State *L, const aschema *s, int anchor, int v, const anode *node,
                             const applicant_path *path)
{
    int top = lua_gettop(L), kept = 0;                   /* declared fields left in V */
    lua_pushnil(L);                                       /* nulls */
    int nulls = top + 1;
    for (int i = 0; i < node->nfields; i++) {
        const afield *f = &s->fields[node->field + i];
        lua_rawgeti(L, anchor, f->name);                  /* ... name */
        int name = nulls + 1;
        applicant_path child = {path, name};
        lua_pushvalue(L, name);
        if (lua_rawget(L, v) != LUA_TNIL) {               /* ... name x */
            int x = name + 1;
            const anode *fn = &s->nodes[f->node];
            if (applicant_is_null(L, x)) {
                if (fn->kind != T_NULLABLE) {
                    lua_rawgeti(L, anchor, fn->type);
                    applicant_lua(L, x, x + 1, &child);   /* raises: null where not allowed */
                }
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
                kept++;
                applicant_prepare(L, s, anchor, x, f->node, &child);   /* ... name x value */
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
    /* A field the schema does not declare (a front office's own) is stored
     * with the request line as received, and no rule reads it: the proxy
     * reads V raw, so it would give such a field, and a table there would
     * be the rule's to write.  Taken out, it reads as the record's
     * metatable says: not declared, the rule's error.  (Setting a field
     * already there to nil does not disturb lua_next.)  Most records hold
     * none: counted first, they are left alone. */
    int keys = 0;
    lua_pushnil(L);
    while (lua_next(L, v))
        lua_pop(L, 1), keys++;
    if (keys != kept) {
        lua_rawgeti(L, anchor, node->set);                /* ... declared */
        int declared = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, v)) {                          /* ... declared k x */
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            if (lua_rawget(L, declared) == LUA_TNIL) {    /* ... declared k type */
                lua_pushvalue(L, -2);
                lua_pushnil(L);
                lua_rawset(L, v);
            }
            lua_pop(L, 1);                                /* ... declared k */
        }
        lua_pop(L, 1);
    }
    if (!lua_isnil(L, nulls)) {
        lua_pushvalue(L, v);
        lua_pushvalue(L, nulls);
        lua_settable(L, UP_NULLS);                        /* NULLS[v] = nulls */
    }
    /* One metatable for the values of each record of the schema, made when
     * it was compiled (aschema_compile): every element of a list shares it,
     * since its prefix leaves their numbers out.  Per node, not per type: a
     * type declared once and given to two fields (local ADDR = record {...};
     * home = ADDR, work = ADDR) is two nodes, and a field missing from work
     * is work.city, not whichever of the two was prepared first.  Kept in
     * the anchor, where no rule reaches it, not in the type, which a check
     * may close over. */
    lua_rawgeti(L, anchor, node->mt);                     /* ... mt */
    lua_setmetatable(L, v);
    lua_settop(L, top);
    lua_pushvalue(L, v);
    applicant_proxy(L, K_RECORD);
}

static void applicant_prepare(lua_State *L, const aschema *s, int anchor, int v, int n,
                              const applicant_path *path)
{
    luaL_checkstack(L, 12, "prepare");
    const anode *node = &s->nodes[n];
    int top = lua_gettop(L), vt = lua_type(L, v), ok;
    if (vt == LUA_TLIGHTUSERDATA && lua_touserdata(L, v) == NULL) {   /* null */
        if (node->kind == T_NULLABLE) {
            lua_pushnil(L);
            return;
        }
        ok = 0;
    } else {
        switch (node->kind) {
        case T_NULLABLE:
            applicant_prepare(L, s, anchor, v, node->of, path);
            return;
        case T_TEXT:
            if ((ok = vt == LUA_TSTRING) != 0) {
                bindings_push_nfc(L, v);
                return;
            }
            break;
        case T_NUMBER:
            ok = vt == LUA_TNUMBER;
            break;
        case T_BOOLEAN:
            ok = vt == LUA_TBOOLEAN;
            break;
        case T_DATE: {
            size_t len;
            int32_t days;
            const char *str = vt == LUA_TSTRING ? lua_tolstring(L, v, &len) : NULL;
            ok = str && date_parse(str, len, &days) == 0;
            break;
        }
        case T_INTEGER:
        case T_MONEY: {
            int exact;
            lua_Integer i;
            if ((ok = applicant_number_ok(L, node, v, &i, &exact)) != 0) {
                if (exact)
                    lua_pushinteger(L, i);
                else
                    lua_pushvalue(L, v);
                return;
            }
            break;
        }
        case T_ENUM:
            if ((ok = vt == LUA_TSTRING) != 0) {
                bindings_push_nfc(L, v);                  /* text */
                lua_rawgeti(L, anchor, node->set);        /* text set */
                lua_pushvalue(L, top + 1);
                ok = lua_rawget(L, -2) != LUA_TNIL && lua_toboolean(L, -1);
                if (ok) {
                    lua_settop(L, top + 1);
                    return;
                }
            }
            break;
        case T_LIST:
            ok = vt == LUA_TTABLE && lua_getmetatable(L, v) && lua_rawequal(L, -1, UP_ARRAY);
            if (ok) {
                lua_settop(L, top);
                lua_Integer len = (lua_Integer)lua_rawlen(L, v);
                for (lua_Integer i = 1; i <= len; i++) {
                    lua_pushinteger(L, i);                /* i */
                    applicant_path item = {path, top + 1};
                    lua_rawgeti(L, v, i);                 /* i item */
                    applicant_prepare(L, s, anchor, top + 2, node->of, &item);   /* i item value */
                    lua_rawseti(L, v, i);
                    lua_settop(L, top);
                }
                lua_pushvalue(L, v);
                applicant_proxy(L, K_LIST);
                return;
            }
            break;
        case T_RECORD:
            ok = vt == LUA_TTABLE && !lua_getmetatable(L, v);
            if (ok) {
                applicant_record(L, s, anchor, v, node, path);
                return;
            }
            break;
        default:
            ok = 0;
            break;
        }
    }
    lua_settop(L, top);
    if (ok) {
        lua_pushvalue(L, v);
        return;
    }
    lua_rawgeti(L, anchor, node->type);                   /* the Lua prepare judges */
    applicant_lua(L, v, top + 1, path);
    lua_remove(L, top + 1);
}

/* prepare(v, t, path) -> value  [-0, +1, e]
 * The compiled schema of T is kept in upvalue UP_COMPILED, for as long as
 * T is the type asked for.  prepare(nil, t, path) compiles it, and returns
 * nothing. */
static int applicant_prepare_lua(lua_State *L)
{
    lua_settop(L, 3);
    lua_rawgeti(L, UP_COMPILED, 1);                       /* v t path compiled */
    aschema *s = lua_touserdata(L, 4);
    if (!s || (lua_getiuservalue(L, 4, 1), lua_rawgeti(L, -1, 1), !lua_rawequal(L, -1, 2))) {
        lua_settop(L, 3);
        s = lua_newuserdatauv(L, sizeof *s, 1);
        memset(s, 0, sizeof *s);
        lua_newtable(L);
        lua_pushcfunction(L, aschema_gc);
        lua_setfield(L, -2, "__gc");
        lua_setmetatable(L, -2);                          /* v t path s */
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, 4, 1);                       /* v t path s anchor */
        aschema_compile(L, s, 5, 2, 3, 0);                /* anchor[1] is the root type */
        lua_pop(L, 1);
        lua_rawseti(L, UP_COMPILED, 1);
        lua_rawgeti(L, UP_COMPILED, 1);                   /* v t path compiled */
    }
    if (lua_isnil(L, 1))
        return 0;   /* compiled: the seal asks so, before any request */
    lua_settop(L, 4);
    lua_getiuservalue(L, 4, 1);                           /* v t path compiled anchor */
    lua_replace(L, 4);                                    /* v t path anchor */
    applicant_path root = {NULL, 3};
    applicant_prepare(L, s, 4, 1, 0, &root);
    return 1;
}

/* Fused reading ------------------------------------------------------------
 * fuse reads a request line with json.c's fused read: the applicant is
 * checked and converted field by field as it is parsed, into the very
 * tables, metatables, nulls and proxies applicant_prepare makes of the
 * decoded applicant, so that there is no table of the applicant as it came
 * to walk again.  It covers the common case only: whatever applicant_prepare
 * would hand to the Lua prepare (a value that does not pass), or would
 * take out (a field the schema does not declare), and whatever the
 * decoding would refuse (a key twice, a byte that is not UTF-8), makes it
 * give up, and the request is read the ordinary way, which says what is
 * wrong as it always has.  The callbacks below are json_fused's (json.h);
 * they run inside fuse, so the upvalues they use are fuse's. */

typedef struct applicant_fusing {
    aschema *s;
    int anchor;        /* stack index of the compiled schema's anchor */
} applicant_fusing;

static int applicant_fuse_shape(void *ctx, int n, int *inner, int *item)
{
    const aschema *s = ((const applicant_fusing *)ctx)->s;
    while (s->nodes[n].kind == T_NULLABLE)   /* a value there: the inner type's */
        n = s->nodes[n].of;
    if (s->nodes[n].kind == T_RECORD) {
        *inner = n;
        return JSON_OBJECT;
    }
    if (s->nodes[n].kind == T_LIST) {
        *inner = n;
        *item = s->nodes[n].of;
        return JSON_ARRAY;
    }
    return JSON_SCALAR;
}

/* The members of the requests a front office sends come in one order,
 * which need not be the schema's: the field that followed the previous one
 * last time (or began the record) is tried first, and only when it is not
 * the one are the fields looked through.  The guesses change no result:
 * a wrong one costs a look through the fields. */
static int applicant_fuse_member(void *ctx, int n, const char *key, size_t len, int *field)
{
    aschema *s = ((applicant_fusing *)ctx)->s;
    anode *node = &s->nodes[n];
    afield *f = &s->fields[node->field];
    int *guess = *field < 0 ? &node->first : &f[*field].after, i = *guess;
    if (i < 0 || f[i].len != len || !f[i].str || memcmp(f[i].str, key, len) != 0) {
        for (i = 0; i < node->nfields; i++)
            if (f[i].str && f[i].len == len && memcmp(f[i].str, key, len) == 0)
                break;
        if (i == node->nfields)
            return -1;   /* not declared: applicant_record takes it out */
        *guess = i;
    }
    *field = i;
    return f[i].node;
}

/* Push the name of field FIELD of record node N.  [-0, +1, -] */
static void applicant_fuse_name(lua_State *L, void *ctx, int n, int field)
{
    const applicant_fusing *c = ctx;
    lua_rawgeti(L, c->anchor, c->s->fields[c->s->nodes[n].field + field].name);
}

/* As applicant_prepare for a value that is no table.  [-1, +1, m] */
static int applicant_fuse_scalar(lua_State *L, void *ctx, int n)
{
    const applicant_fusing *c = ctx;
    const anode *node = &c->s->nodes[n];
    int v = lua_gettop(L), vt = lua_type(L, v);
    if (vt == LUA_TLIGHTUSERDATA)                         /* null */
        return node->kind == T_NULLABLE && lua_touserdata(L, v) == NULL ? 1 : -1;
    while (node->kind == T_NULLABLE)
        node = &c->s->nodes[node->of];
    switch (node->kind) {
    case T_TEXT:
        if (vt != LUA_TSTRING)
            return -1;
        bindings_push_nfc(L, v);
        lua_replace(L, v);
        return 0;
    case T_NUMBER:
        return vt == LUA_TNUMBER ? 0 : -1;
    case T_BOOLEAN:
        return vt == LUA_TBOOLEAN ? 0 : -1;
    case T_DATE: {
        size_t len;
        int32_t days;
        const char *str = vt == LUA_TSTRING ? lua_tolstring(L, v, &len) : NULL;
        return str && date_parse(str, len, &days) == 0 ? 0 : -1;
    }
    case T_INTEGER:
    case T_MONEY: {
        int exact;
        lua_Integer i;
        if (!applicant_number_ok(L, node, v, &i, &exact))
            return -1;
        if (exact && !lua_isinteger(L, v)) {
            lua_pushinteger(L, i);
            lua_replace(L, v);
        }
        return 0;
    }
    case T_ENUM:
        if (vt != LUA_TSTRING)
            return -1;
        bindings_push_nfc(L, v);                          /* v text */
        lua_rawgeti(L, c->anchor, node->set);             /* v text set */
        lua_pushvalue(L, v + 1);
        if (lua_rawget(L, -2) == LUA_TNIL || !lua_toboolean(L, -1)) {
            lua_settop(L, v);
            return -1;
        }
        lua_settop(L, v + 1);
        lua_replace(L, v);
        return 0;
    default:
        return -1;   /* a record or a list given no table, or a type the Lua prepare judges */
    }
}

/* As applicant_record ends, and applicant_prepare for a list.  [-1, +1, m] */
static int applicant_fuse_finish(lua_State *L, void *ctx, int n, int nulls)
{
    const applicant_fusing *c = ctx;
    const anode *node = &c->s->nodes[n];
    if (node->kind == T_LIST) {
        applicant_proxy(L, K_LIST);
        return 0;
    }
    int v = lua_gettop(L);
    if (nulls) {
        lua_pushvalue(L, v);
        lua_pushvalue(L, nulls);
        lua_settable(L, UP_NULLS);                        /* NULLS[v] = nulls */
    }
    lua_rawgeti(L, c->anchor, node->mt);
    lua_setmetatable(L, v);
    applicant_proxy(L, K_RECORD);
    return 0;
}

/* fuse(line, t, key) -> the request, its member KEY the applicant as
 * prepare(applicant, t, "") makes it; or nil, having changed nothing but
 * the weak NULLS (an entry for a table no one holds), when the line is not
 * for the fused read (see above) or T is not the type compiled.
 * [-0, +1, e] */
static int applicant_fuse_lua(lua_State *L)
{
    size_t n, klen;
    const char *line = luaL_checklstring(L, 1, &n);
    const char *key = luaL_checklstring(L, 3, &klen);
    lua_settop(L, 3);
    lua_rawgeti(L, UP_COMPILED, 1);                       /* line t key compiled */
    aschema *s = lua_touserdata(L, 4);
    if (!s || text_utf8_scan(line, n, 1) != n) {
        lua_pushnil(L);
        return 1;
    }
    lua_getiuservalue(L, 4, 1);                           /* line t key compiled anchor */
    lua_rawgeti(L, 5, 1);
    if (!lua_rawequal(L, -1, 2)) {
        lua_pushnil(L);
        return 1;
    }
    lua_pop(L, 1);
    applicant_fusing c = {s, 5};
    json_fused f = {key, klen, 0, &c, applicant_fuse_shape, applicant_fuse_member,
                    applicant_fuse_name, applicant_fuse_scalar, applicant_fuse_finish};
    if (json_push_fused(L, line, n, UP_ARRAY, UP_KEYS, lua_touserdata(L, UP_BOX), &f) != 0)
        lua_pushnil(L);
    return 1;
}

/* preparer(lua_prepare, record_mt, ARRAY, NULLS, scales) -> prepare, fuse
 * [-0, +2, m] */
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
    lua_createtable(L, 1, 0);                             /* nothing compiled yet */
    lua_pushcfunction(L, bindings_frozen_len);
    lua_pushcfunction(L, applicant_pairs);
    lua_pushcfunction(L, applicant_refuse);
    for (int k = 0; k < K_COUNT; k++)
        lua_pushstring(L, applicant_keys[k]);
    int count = 10 + K_COUNT;                             /* the upvalues at 1 .. count */
    luaL_checkstack(L, count + 2, "preparer");
    for (int i = 1; i <= count; i++)
        lua_pushvalue(L, i);
    lua_pushcclosure(L, applicant_prepare_lua, count);   /* ups prepare */
    lua_insert(L, 1);                                     /* prepare ups */
    bindings_push_buf(L, (size_t)16 << 20);
    json_keys_new(L);
    lua_pushcclosure(L, applicant_fuse_lua, count + 2);   /* prepare fuse */
    return 2;
}

void applicant_push(lua_State *L)
{
    lua_pushcfunction(L, applicant_preparer);
}
