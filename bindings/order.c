/* order.c -- see order.h.
 *
 * A key is read once into an order_key (its rank, and its number or its
 * bytes), and keys are compared from those.  A string's bytes stay where
 * Lua keeps them: every key read is also held by a Lua table of ours (or
 * is the key the table holds), so none is collected meanwhile.
 */
#include "order.h"

#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { ORDER_NUMBER, ORDER_STRING, ORDER_BOOLEAN };

typedef struct order_key {
    int rank;
    int isint;
    lua_Integer i;     /* an integer, or a boolean as 0 / 1 */
    lua_Number d;      /* a float */
    const char *s;     /* a string's bytes */
    size_t len;
    lua_Integer at;    /* pairs: its place among the keys as found */
} order_key;

static const char order_host_key;   /* its address: the registry's key for the host */

void order_set_host(lua_State *L, order_host *host)
{
    lua_pushlightuserdata(L, host);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &order_host_key);
}

static order_host *order_host_of(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &order_host_key);
    order_host *h = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return h;
}

/* See order.h. */
void order_pay(lua_State *L, lua_Integer cost)
{
    order_host *h = order_host_of(L);
    if (h)
        h->pay(h->ud, L, cost < 0 ? LUA_MAXINTEGER : cost);
}

/* A * B, saturated (both >= 0). */
static lua_Integer order_mul(lua_Integer a, lua_Integer b)
{
    return b && a > LUA_MAXINTEGER / b ? LUA_MAXINTEGER : a * b;
}

/* The bits of N: about how many times a merge sort compares each of N. */
static lua_Integer order_bits(lua_Integer n)
{
    lua_Integer bits = 0;
    for (; n > 0; n >>= 1)
        bits++;
    return bits;
}

lua_Integer order_chain_depth(lua_State *L, int idx, const char *field)
{
    lua_Integer depth = 1;
    if (lua_type(L, idx) != LUA_TTABLE)
        return 1;
    lua_pushvalue(L, idx);                                /* t */
    while (depth < 2000 && lua_getmetatable(L, -1)) {     /* t mt */
        lua_pushstring(L, field);
        int kind = lua_rawget(L, -2);                     /* t mt next */
        lua_remove(L, -2);
        lua_remove(L, -2);                                /* next */
        if (kind != LUA_TTABLE)
            break;
        depth++;
    }
    lua_pop(L, 1);
    return depth;
}

/* Read the key at IDX into O; raise an error naming FN when it has no order
 * of its own.  When the key is one of table T's, met walking it (T is 0
 * otherwise), the error names, of the types of T's keys that have no order,
 * the first by name, paying for a look at every key: which of them lua_next
 * meets first follows the string hashes, seeded anew in every state, and
 * the addresses, and one table must be refused in the same words every
 * time.  [-0, +0, v] */
static void order_read(lua_State *L, int idx, order_key *o, const char *fn, int t)
{
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
        o->rank = ORDER_NUMBER;
        o->isint = lua_isinteger(L, idx);
        o->i = o->isint ? lua_tointeger(L, idx) : 0;
        o->d = o->isint ? 0 : lua_tonumber(L, idx);
        if (o->d != o->d)
            luaL_error(L, "%s: NaN is no key", fn);
        return;
    case LUA_TSTRING:
        o->rank = ORDER_STRING;
        o->s = lua_tolstring(L, idx, &o->len);
        return;
    case LUA_TBOOLEAN:
        o->rank = ORDER_BOOLEAN;
        o->i = lua_toboolean(L, idx);
        return;
    default: {
        const char *type = luaL_typename(L, idx);
        if (t) {
            lua_Integer n = 0;
            t = lua_absindex(L, t);
            for (lua_pushnil(L); lua_next(L, t); lua_pop(L, 1), n++) {
                int k = lua_type(L, -2);
                if (k != LUA_TNUMBER && k != LUA_TSTRING && k != LUA_TBOOLEAN &&
                    strcmp(lua_typename(L, k), type) < 0)
                    type = lua_typename(L, k);
            }
            order_pay(L, n);
        }
        luaL_error(L, "%s: a key of type %s has no fixed order (Lua orders it by its address, "
                      "which changes from run to run, and a decision must come out the same when "
                      "replayed): key the table by numbers, strings or booleans",
                   fn, type);
    }
    }
}

/* The sign of I - F, exactly (F is never NaN: NaN is no key). */
static int order_int_float(lua_Integer i, lua_Number f)
{
    if (f >= 0x1p63)
        return -1;
    if (f < -0x1p63)
        return 1;
    lua_Number fl = floor(f);   /* in [-2^63, 2^63): an integer exactly */
    lua_Integer fi = (lua_Integer)fl;
    if (i != fi)
        return i < fi ? -1 : 1;
    return fl == f ? 0 : -1;
}

static int order_cmp(const order_key *a, const order_key *b)
{
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    if (a->rank == ORDER_STRING) {
        int c = memcmp(a->s, b->s, a->len < b->len ? a->len : b->len);
        if (c)
            return c < 0 ? -1 : 1;
        return (a->len > b->len) - (a->len < b->len);
    }
    if (a->rank == ORDER_NUMBER && !(a->isint && b->isint)) {
        if (a->isint)
            return order_int_float(a->i, b->d);
        if (b->isint)
            return -order_int_float(b->i, a->d);
        return (a->d > b->d) - (a->d < b->d);
    }
    return (a->i > b->i) - (a->i < b->i);
}

/* Sort the N keys at A, with TMP as room for as many: a merge sort, bottom
 * up.  (Both arrays are Lua's, under its memory cap.) */
static void order_merge_sort(order_key *a, order_key *tmp, lua_Integer n)
{
    order_key *src = a, *dst = tmp;
    for (lua_Integer w = 1; w < n; w *= 2) {
        for (lua_Integer lo = 0; lo < n; lo += 2 * w) {
            lua_Integer mid = lo + w < n ? lo + w : n, hi = mid + w < n ? mid + w : n;
            lua_Integer i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = order_cmp(&src[j], &src[i]) < 0 ? src[j++] : src[i++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        order_key *swap = src;
        src = dst, dst = swap;
    }
    if (src != a)
        memcpy(a, src, (size_t)n * sizeof *a);
}

/* See order.h. */
int order_contents(lua_State *L, int idx, int for_pairs)
{
    idx = lua_absindex(L, idx);
    int frozen = luaL_getmetafield(L, idx, "__frozen");
    if (frozen == LUA_TTABLE)
        return 1;
    if (frozen != LUA_TNIL)
        lua_pop(L, 1);
    if (for_pairs && luaL_getmetafield(L, idx, "__pairs") != LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (lua_type(L, idx) != LUA_TTABLE)
        return 0;
    lua_pushvalue(L, idx);
    return 1;
}

/* What pairs hands the rule as the walk's state: opaque (a full userdata
 * without a metatable; no rule can make one, or look inside), its user
 * values the contents and their keys, sorted. */
typedef struct order_walk {
    const void *tag;   /* &order_walk_tag: the state is ours */
    uint64_t epoch;    /* the host's when pairs made it */
} order_walk;
static const char order_walk_tag;

/* What comparing the key O with another costs: an instruction, and one per
 * 128 bytes of a string (as a new string pays). */
static lua_Integer order_key_cost(const order_key *o)
{
    return 1 + (o->rank == ORDER_STRING ? (lua_Integer)(o->len / 128) : 0);
}

/* Refuse to walk the contents at IDX when they are a weak table: its
 * entries go whenever the collector runs (which also runs while the keys
 * are being read here).  [-0, +0, v] */
static void order_not_weak(lua_State *L, int idx, const char *fn)
{
    if (luaL_getmetafield(L, idx, "__mode") != LUA_TNIL)
        luaL_error(L, "%s: the table is weak (__mode): its entries go whenever the collector runs, "
                      "which differs from run to run", fn);
}

/* The iterator pairs returns: (walk, key) -> the key after KEY (nil: the
 * first) among the walk's, whose value is not nil now, and that value; nil
 * after the last.  It keeps nothing between calls, and the walk is good
 * only within the call into the rules that began it: one made while the
 * rules loaded, or in another request, is refused.  [-0, +(1|2), e] */
static int order_iter(lua_State *L)
{
    order_walk *w = lua_touserdata(L, 1);
    if (lua_type(L, 1) != LUA_TUSERDATA || lua_rawlen(L, 1) != sizeof *w || w->tag != &order_walk_tag)
        return luaL_error(L, "bad argument #1 to 'for iterator' (the state pairs gave expected)");
    order_host *h = order_host_of(L);
    if (w->epoch != (h ? h->epoch : 0))
        return luaL_error(L, "pairs: this walk began in another request, or while the rules "
                             "loaded: no walk goes on from one to the next (call pairs again)");
    lua_settop(L, 2);
    lua_getiuservalue(L, 1, 1);   /* 3: the contents */
    lua_getiuservalue(L, 1, 2);   /* 4: the keys, sorted */
    order_not_weak(L, 3, "pairs");
    lua_Integer n = (lua_Integer)lua_rawlen(L, 4), i = 0, work = 0;
    if (!lua_isnil(L, 2)) {   /* i: how many keys are at or before KEY */
        order_key key, probe;
        order_read(L, 2, &key, "pairs", 0);
        lua_Integer lo = 0, hi = n;   /* the first place after KEY is in [lo, hi] */
        while (lo < hi) {
            lua_Integer mid = lo + (hi - lo) / 2;
            lua_rawgeti(L, 4, mid + 1);
            order_read(L, -1, &probe, "pairs", 0);
            int after = order_cmp(&probe, &key) > 0;
            work += order_key_cost(&probe);
            lua_pop(L, 1);
            if (after)
                hi = mid;
            else
                lo = mid + 1;
        }
        i = lo;
    }
    int found = 0;
    while (++i <= n) {   /* past the keys set to nil since */
        work++;
        lua_rawgeti(L, 4, i);
        lua_pushvalue(L, -1);
        if (lua_rawget(L, 3) != LUA_TNIL) {
            found = 1;
            break;
        }
        lua_pop(L, 2);
    }
    order_pay(L, work);
    if (!found)
        lua_pushnil(L);
    return found ? 2 : 1;
}

int order_pairs(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    if (luaL_getmetafield(L, 1, "__ownpairs") != LUA_TNIL) {   /* a frozen table's own */
        lua_pushvalue(L, 1);
        lua_call(L, 1, 3);
        return 3;
    }
    if (!order_contents(L, 1, 1)) {
        if (luaL_getmetafield(L, 1, "__pairs") != LUA_TNIL) {   /* the rule's own, as Lua's */
            lua_pushvalue(L, 1);
            lua_call(L, 1, 3);
            return 3;
        }
        luaL_checktype(L, 1, LUA_TTABLE);   /* the error Lua's pairs gives */
    }
    order_not_weak(L, 2, "pairs");
    /* 1 t, 2 contents.  Pays for the sort before it: each key compared
     * about bits(n) times. */
    lua_Integer n = 0, cost = 0;
    for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1)) {
        n++;
        cost += 1 + (lua_type(L, -2) == LUA_TSTRING ? (lua_Integer)(lua_rawlen(L, -2) / 128) : 0);
    }
    if (n > INT32_MAX / 2)
        return luaL_error(L, "pairs: a table of %I keys is too large to walk", (LUA_INTEGER)n);
    order_pay(L, order_mul(cost, order_bits(n)));
    order_key *keys = lua_newuserdatauv(L, 2 * (size_t)n * sizeof *keys, 0);   /* 3 */
    lua_createtable(L, (int)n, 0);                                             /* 4: as found */
    lua_Integer k = 0;
    for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1)) {
        if (k == n)   /* not weak, and no code of the rule's has run: cannot be */
            return luaL_error(L, "pairs: the table grew while its keys were read");
        order_read(L, -2, &keys[k], "pairs", 2);
        keys[k].at = k + 1;
        lua_pushvalue(L, -2);
        lua_rawseti(L, 4, ++k);
    }
    order_merge_sort(keys, keys + n, k);
    order_walk *w = lua_newuserdatauv(L, sizeof *w, 2);                        /* 5 */
    order_host *h = order_host_of(L);
    w->tag = &order_walk_tag;
    w->epoch = h ? h->epoch : 0;
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, 5, 1);
    lua_createtable(L, (int)k, 0);                                             /* 6: sorted */
    for (lua_Integer j = 0; j < k; j++) {
        lua_rawgeti(L, 4, keys[j].at);
        lua_rawseti(L, 6, j + 1);
    }
    lua_setiuservalue(L, 5, 2);
    lua_pushcfunction(L, order_iter);
    lua_insert(L, 5);
    lua_pushnil(L);
    return 3;
}

int order_next(lua_State *L)
{
    lua_settop(L, 2);
    if (!order_contents(L, 1, 0))
        luaL_checktype(L, 1, LUA_TTABLE);
    order_not_weak(L, 3, "next");
    /* 1 t, 2 after, 3 contents, 4 the best key yet */
    order_key after, best, o;
    int have_after = !lua_isnil(L, 2), found = 0;
    lua_Integer work = 0;
    if (have_after)
        order_read(L, 2, &after, "next", 0);
    lua_pushnil(L);
    for (lua_pushnil(L); lua_next(L, 3); lua_pop(L, 1)) {
        order_read(L, -2, &o, "next", 3);
        work += order_key_cost(&o);
        if ((have_after && order_cmp(&o, &after) <= 0) || (found && order_cmp(&o, &best) >= 0))
            continue;
        best = o, found = 1;
        lua_pushvalue(L, -2);
        lua_replace(L, 4);
    }
    order_pay(L, work);
    if (!found)
        return 1;   /* the nil at 4 */
    lua_pushvalue(L, 4);
    lua_rawget(L, 3);
    return 2;
}

/* Whether element A of the list at T comes before element B: by the
 * comparator at 2 when there is one, else by <; after a look at the clock
 * (Lua compares long texts, or reads through an __index chain, in one
 * instruction, and a comparator of the library's runs none).  [-0, +0, e] */
static int order_less(lua_State *L, order_host *h, int cmp, int t, lua_Integer a, lua_Integer b)
{
    if (h)
        h->tick(h->ud, L);
    if (cmp)
        lua_pushvalue(L, 2);
    lua_rawgeti(L, t, a);
    lua_rawgeti(L, t, b);
    int less;
    if (cmp) {
        lua_call(L, 2, 1);
        less = lua_toboolean(L, -1);
        lua_pop(L, 1);
    } else {
        less = lua_compare(L, -2, -1, LUA_OPLT);
        lua_pop(L, 2);
    }
    return less;
}

/* What the comparisons of a string element cost: an instruction per 128
 * bytes, and 4 per NUL byte (Lua compares text holding NULs a piece at a
 * time: two texts of 1 MiB of NULs took 7 ms, two plain ones 0.02 ms). */
static lua_Integer order_text_cost(lua_State *L, int idx)
{
    size_t len, nuls = 0;
    const char *s = lua_tolstring(L, idx, &len);
    for (const char *p = s; (p = memchr(p, '\0', len - (size_t)(p - s))) != NULL; p++)
        nuls++;
    return (lua_Integer)(len / 128 + 4 * nuls);
}

int order_sort(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int cmp = !lua_isnoneornil(L, 2);
    if (cmp)
        luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_Integer n = luaL_len(L, 1);   /* once */
    if (n < 2)
        return 0;
    luaL_argcheck(L, n < INT_MAX, 1, "array too big");
    lua_settop(L, 2);
    order_host *h = order_host_of(L);
    /* Each element read through every table of the chain, and written back
     * through every one of the other. */
    order_pay(L, order_mul(n, order_chain_depth(L, 1, "__index") +
                                  order_chain_depth(L, 1, "__newindex")));
    lua_createtable(L, (int)n, 0);   /* 3 */
    lua_createtable(L, (int)n, 0);   /* 4 */
    lua_Integer bits = order_bits(n), cost = 0;
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_geti(L, 1, i) == LUA_TSTRING && cost < LUA_MAXINTEGER / 2)
            cost += order_text_cost(L, -1);
        lua_rawseti(L, 3, i);
        if (h && i % 256 == 0)
            h->tick(h->ud, L);
    }
    order_pay(L, order_mul(n + cost, bits));
    int src = 3, dst = 4;
    for (lua_Integer w = 1; w < n; w *= 2) {
        for (lua_Integer lo = 1; lo <= n; lo += 2 * w) {
            lua_Integer mid = lo + w < n + 1 ? lo + w : n + 1;
            lua_Integer hi = mid + w < n + 1 ? mid + w : n + 1;
            lua_Integer i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {   /* the right one first only when it is less: stable */
                lua_rawgeti(L, src, order_less(L, h, cmp, src, j, i) ? j++ : i++);
                lua_rawseti(L, dst, k++);
            }
            while (i < mid) {
                lua_rawgeti(L, src, i++);
                lua_rawseti(L, dst, k++);
            }
            while (j < hi) {
                lua_rawgeti(L, src, j++);
                lua_rawseti(L, dst, k++);
            }
        }
        int swap = src;
        src = dst, dst = swap;
    }
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, src, i);
        lua_seti(L, 1, i);
    }
    return 0;
}
