/* canon.c -- see canon.h.
 *
 * The encoder reports failure by return value rather than by raising, so
 * that callers which must keep going after a value with no JSON form (the
 * decision writer in decision.c) need no protected call; canon_encode turns
 * a failure into the Lua error the rest of the engine expects.
 */
#include "canon.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "text.h"

#define CANON_MAX_DEPTH 64

/* Where an encoding stopped, and why. */
typedef struct canon_state {
    lua_State *L;
    buf *b;
    char *msg;
    size_t msglen;
    canon_keys *keys;     /* canon_try_keys': kept of the table at depth 0, or NULL */
    int anchor;           /* where its strings are held, from BASE + 1 */
    lua_Integer base;
    int *utf8;            /* canon_try_keys': set to 0 at a text not UTF-8, or NULL */
} canon_state;

/* Lua's LUAI_MAXSHORTLEN: a longer string is not interned, so that a key
 * as long is a new address in each table and never one canon_keys kept. */
#define CANON_KEY_SHORT 40

/* The key of the registry's metatable for the key orders canon follows
 * (canon_push_order_mt). */
static const char canon_order_key = 0;

static int canon_value(canon_state *cs, int idx, int depth);

static int canon_fail(canon_state *cs, const char *fmt, const char *arg)
{
    snprintf(cs->msg, cs->msglen, fmt, arg);
    return -1;
}

static int canon_cap(canon_state *cs)
{
    snprintf(cs->msg, cs->msglen, "JSON text over %d bytes", (int)cs->b->cap);
    return -1;
}

static int canon_put(canon_state *cs, const char *p, size_t n)
{
    return buf_add(cs->b, p, n) != 0 ? canon_cap(cs) : 0;
}

/* One byte: '{', ',' and the like, most of what a deep value writes.  The
 * cap holds here as everywhere: a value that holds one table many times
 * (t = {t, t}, again and again) costs a rule a few instructions and expands
 * to 2^n nodes, all written through here. */
static inline int canon_putc(canon_state *cs, char c)
{
    return buf_addc(cs->b, c) != 0 ? canon_cap(cs) : 0;
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

/* Whether any of the eight bytes of W needs escaping: a byte below 0x20, a
 * '"' or a '\\'.  (The classic "has a byte less than n" and "has a zero
 * byte" word tests; they may misplace which byte, never miss one.) */
static int canon_word_escapes(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t ctl = (w - ones * 0x20) & ~w;
    uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
    uint64_t quote = (q - ones) & ~q, slash = (bs - ones) & ~bs;
    return ((ctl | quote | slash) & high) != 0;
}

/* The length of S (N bytes) as a JSON string literal, quotes included. */
static size_t canon_string_len(const char *s, size_t n)
{
    size_t len = n + 2;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (canon_escape[c])
            len += c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' ? 1 : 5;
    }
    return len;
}

/* canon_add_string; with UTF8 not NULL, *UTF8 becomes 0 when S is not
 * UTF-8.  Only a text with a byte of 0x80 or more is looked at for it, and
 * then whole (text_utf8_bad): the copy below, which looks at every byte
 * anyway, tells which those are. */
static inline int canon_add_text(buf *b, const char *s, size_t n, int *utf8)
{
    static const char hex[] = "0123456789abcdef";
    /* Room for the worst case, every byte as \u00XX; near the cap, for
     * what the string really takes. */
    size_t room, left = b->cap - b->len;
    if (left < 2 || n > left - 2)   /* not even unescaped */
        return -1;
    /* Most strings written are short keys and values with nothing to
     * escape: each byte is looked at and copied in one pass, when the room
     * is there already.  A byte to escape leaves the copy to the general
     * case below, which writes the string again from its start. */
    uint64_t high = 0;   /* the bytes copied, or'ed: whether one is 0x80 or more */
    if (n < 16 && n + 3 <= b->alloc - b->len) {
        char *o = b->data + b->len;
        size_t i = 0;
        for (; i < n && !canon_escape[(unsigned char)s[i]]; i++)
            high |= (unsigned char)(o[i + 1] = s[i]);
        if (i == n) {
            o[0] = '"';
            o[n + 1] = '"';
            o[n + 2] = '\0';
            b->len += n + 2;
            if (utf8 && (high & 0x80) && text_utf8_bad(s, n) != n)
                *utf8 = 0;
            return 0;
        }
    }
    if (n <= (b->cap - 2) / 6 && 6 * n + 2 <= left)
        room = 6 * n + 2;
    else if ((room = canon_string_len(s, n)) > left)
        return -1;
    if (room + 1 > b->alloc - b->len && buf_reserve(b, room) != 0)
        return -1;
    char *o = b->data + b->len, *start = o;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        /* Eight plain bytes at a time, the usual case. */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (canon_word_escapes(w))
                break;
            high |= w;
            memcpy(o, &w, 8);
            o += 8;
            i += 8;
        }
        size_t stop = i + 8 < n ? i + 8 : n;
        for (; i < stop; i++) {
            unsigned char c = (unsigned char)s[i];
            high |= c;
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
    }
    *o++ = '"';
    b->len += (size_t)(o - start);
    b->data[b->len] = '\0';
    if (utf8 && (high & 0x8080808080808080u) && text_utf8_bad(s, n) != n)
        *utf8 = 0;
    return 0;
}

int canon_add_string(buf *b, const char *s, size_t n)
{
    return canon_add_text(b, s, n, NULL);
}

int canon_plain(const char *s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (canon_word_escapes(w))
            return 0;
    }
    for (; i < n; i++)
        if (canon_escape[(unsigned char)s[i]])
            return 0;
    return 1;
}

int canon_look(const char *s, size_t n)
{
    uint64_t high = 0;
    int escapes = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        escapes |= canon_word_escapes(w);
        high |= w;
    }
    for (; i < n; i++) {
        escapes |= canon_escape[(unsigned char)s[i]];
        high |= (unsigned char)s[i];
    }
    return (escapes ? CANON_ESCAPES : 0) | (high & 0x8080808080808080u ? CANON_HIGH : 0);
}

static int canon_string(canon_state *cs, const char *s, size_t n)
{
    return canon_add_text(cs->b, s, n, cs->utf8) != 0 ? canon_cap(cs) : 0;
}

/* The two digits of each number below 100, for canon_add_integer. */
static const char canon_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

int canon_add_integer(buf *b, long long v)
{
    char tmp[24], *e = tmp + sizeof tmp, *p = e;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    /* Two digits a division: most integers written are a few digits. */
    while (u >= 100) {
        const char *d = canon_pairs + 2 * (u % 100);
        u /= 100;
        *--p = d[1];
        *--p = d[0];
    }
    if (u >= 10) {
        *--p = canon_pairs[2 * u + 1];
        *--p = canon_pairs[2 * u];
    } else {
        *--p = (char)('0' + u);
    }
    if (v < 0)
        *--p = '-';
    size_t n = (size_t)(e - p);
    /* At most 20 bytes: copied here rather than by a call to memcpy. */
    if (n < b->alloc - b->len && n <= b->cap - b->len) {
        char *o = b->data + b->len;
        for (size_t i = 0; i < n; i++)
            o[i] = p[i];
        o[n] = '\0';
        b->len += n;
        return 0;
    }
    return buf_add(b, p, n);
}

size_t canon_hundredths(double d, char out[24])
{
    if (!(fabs(d) < 1e13))
        return 0;
    long long c = llround(d * 100.0);
    unsigned long long u = c < 0 ? 0ull - (unsigned long long)c : (unsigned long long)c;
    char tmp[24], *e = tmp + sizeof tmp, *p = e;
    *--p = (char)('0' + u % 10), u /= 10;
    *--p = (char)('0' + u % 10), u /= 10;
    *--p = '.';
    do
        *--p = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (d < 0)
        *--p = '-';
    size_t n = (size_t)(e - p);
    memcpy(out, p, n);
    out[n] = '\0';
    return strtod(out, NULL) == d ? n : 0;
}

int canon_add_number(buf *b, double d)
{
    char tmp[40];
    int n;
    if (!isfinite(d))
        return -1;
    /* Below 2^53 an integral double is exactly a long long: the digits
     * "%.0f" would print, without printf, and -0 as 0. */
    if (d == floor(d) && fabs(d) < 9007199254740992.0)
        return canon_add_integer(b, (long long)d);
    size_t h = canon_hundredths(d, tmp);
    if (h)   /* 4200.5, not 4200.50: %g writes no trailing 0 */
        return buf_add(b, tmp, h - (tmp[h - 1] == '0'));
    /* The shortest of %.15g..%.17g that reads back exactly. */
    for (int prec = 15;; prec++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (prec == 17 || strtod(tmp, NULL) == d)
            break;
    }
    return buf_add(b, tmp, (size_t)n);
}

/* 2^53: every integer below it in magnitude is exactly a double. */
#define CANON_EXACT ((lua_Integer)1 << 53)

static int canon_number(canon_state *cs, int idx)
{
    lua_State *L = cs->L;
    /* Integers are most numbers in a decision: no printf for them.  A
     * float with an integral value below 2^53 converts too, and is written
     * as canon_add_number writes it, by canon_add_integer; an integer
     * beyond is told from a float by lua_isinteger, as before. */
    int isint;
    lua_Integer v = lua_tointegerx(L, idx, &isint);
    if (isint && ((v > -CANON_EXACT && v < CANON_EXACT) || lua_isinteger(L, idx)))
        return canon_add_integer(cs->b, (long long)v) != 0 ? canon_cap(cs) : 0;
    double d = lua_tonumber(L, idx);
    if (!isfinite(d)) {
        snprintf(cs->msg, cs->msglen, "cannot encode %f as JSON", d);
        return -1;
    }
    return canon_add_number(cs->b, d) != 0 ? canon_cap(cs) : 0;
}

/* Bytewise order of two keys, as strcmp orders C strings (no key holds a
 * NUL). */
typedef struct canon_key {
    const char *s;
    size_t len;
    int value;   /* stack index of the value */
} canon_key;

static int canon_key_cmp(const void *a, const void *b)
{
    const canon_key *x = a, *y = b;
    return strcmp(x->s, y->s);
}

/* A key canon_object_sorted cannot write was met, at the top of the stack
 * (its value popped): the rest of table T is walked too, so that the error
 * is the same whichever of its keys lua_next gives first (its order follows
 * the string hashes, seeded anew in every Lua state).  A key that is not a
 * string is named before a key holding a NUL, and of two such types the
 * first in byte order; with PROBE, one returns 1 with nothing written.
 * [-1, +0, -] */
static int canon_bad_keys(canon_state *cs, int t, int probe)
{
    lua_State *L = cs->L;
    const char *type = NULL;   /* of the keys that are not strings, the first type */
    do {                                                  /* ... k */
        if (lua_type(L, -1) != LUA_TSTRING) {
            if (probe) {
                lua_pop(L, 1);
                return 1;
            }
            const char *name = luaL_typename(L, -1);
            if (!type || strcmp(name, type) < 0)
                type = name;
        }
    } while (lua_next(L, t) && (lua_pop(L, 1), 1));       /* ... k */
    if (type)
        return canon_fail(cs, "cannot encode a table with a %s key as JSON", type);
    return canon_fail(cs, "%s", "cannot encode a key holding a NUL byte (\\u0000) as JSON");
}

/* An object without a declared order: keys in bytewise order.  Each key and
 * value stays on the stack while the keys are sorted (the stack keeps the
 * strings alive); up to CANON_FEW keys are sorted in a C array, more in a
 * userdata, so that nothing leaks when encoding stops.  With PROBE, a key
 * that is not a string returns 1 with nothing written: the caller had not
 * yet looked whether the table is an array. */
#define CANON_FEW 16

static int canon_object_sorted(canon_state *cs, int t, int depth, int probe)
{
    lua_State *L = cs->L;
    canon_key few[CANON_FEW];
    canon_key *keys = few;
    size_t n = 0, cap = CANON_FEW;
    int top = lua_gettop(L), rc = 0;
    if (!lua_checkstack(L, 2 * CANON_FEW + 4))
        return canon_fail(cs, "%s", "cannot encode: out of stack");
    int pos = top + 1;                                    /* where the iteration key is */
    lua_pushnil(L);                                       /* k */
    while (lua_next(L, t)) {                              /* ... k v */
        if (lua_type(L, -2) != LUA_TSTRING) {
            if (probe) {
                rc = 1;
                goto done;
            }
            lua_pop(L, 1);                                /* ... k */
            rc = canon_bad_keys(cs, t, probe);
            goto done;
        }
        if (n == cap) {
            if (!lua_checkstack(L, 4)) {
                rc = canon_fail(cs, "%s", "cannot encode: out of stack");
                goto done;
            }
            cap *= 4;
            canon_key *more = lua_newuserdatauv(L, cap * sizeof *more, 0);
            memcpy(more, keys, n * sizeof *more);
            keys = more;
            lua_insert(L, -3);   /* keep it below this pair: the others stay put */
            pos++;
        }
        if (n >= CANON_FEW && !lua_checkstack(L, 3)) {
            rc = canon_fail(cs, "%s", "cannot encode: out of stack");
            goto done;
        }
        keys[n].s = lua_tolstring(L, pos, &keys[n].len);
        keys[n].value = pos + 1;
        pos += 2;
        if (strlen(keys[n].s) != keys[n].len) {
            /* It would sort, and be written, as its part before the NUL:
             * two keys could become one. */
            lua_pop(L, 1);                                /* ... k */
            rc = canon_bad_keys(cs, t, probe);
            goto done;
        }
        n++;
        lua_pushvalue(L, -2);                             /* ... k v k */
    }
    if (n <= 1) {
        /* nothing to sort */
    } else if (n <= CANON_FEW) {
        for (size_t i = 1; i < n; i++) {
            canon_key k = keys[i];
            size_t j = i;
            for (; j > 0 && strcmp(keys[j - 1].s, k.s) > 0; j--)
                keys[j] = keys[j - 1];
            keys[j] = k;
        }
    } else {
        qsort(keys, n, sizeof *keys, canon_key_cmp);
    }
    /* The table canon_try_keys was given: what it kept goes (the anchor's
     * strings are about to change), and these keys are kept instead when
     * the next table could match them. */
    canon_keys *kept = depth == 1 ? cs->keys : NULL;
    if (kept) {
        kept->n = 0;
        kept->utf8 = 1;
        if (n == 0 || n > CANON_KEYS_MAX)
            kept = NULL;
        for (size_t i = 0; kept && i < n; i++)
            if (keys[i].len > CANON_KEY_SHORT)
                kept = NULL;
    }
    size_t at = cs->b->len;   /* where the text of key I begins (the first's at '{') */
    if ((rc = canon_putc(cs, '{')) != 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        if (i)
            at = cs->b->len;
        if ((i && (rc = canon_putc(cs, ',')) != 0) ||
            (rc = canon_string(cs, keys[i].s, keys[i].len)) != 0 ||
            (rc = canon_putc(cs, ':')) != 0)
            goto done;
        size_t len = cs->b->len - at;
        if (kept && len > CANON_KEY_TEXT)
            kept = NULL;   /* escaped beyond the room kept: written in full each time */
        if (kept) {
            lua_pushvalue(L, keys[i].value - 1);          /* ... k */
            kept->key[i] = lua_topointer(L, -1);
            lua_rawseti(L, cs->anchor, cs->base + 1 + (lua_Integer)i);
            memset(kept->text[i], 0, CANON_KEY_TEXT);
            memcpy(kept->text[i], cs->b->data + at, len);
            kept->len[i] = (unsigned char)len;
            if (text_utf8_bad(kept->text[i], len) != len)
                kept->utf8 = 0;
        }
        if ((rc = canon_value(cs, keys[i].value, depth)) != 0)
            goto done;
    }
    if ((rc = canon_putc(cs, '}')) == 0 && kept) {
        kept->n = (int)n;
        for (size_t i = 0; i < n; i++)
            kept->at[i] = (unsigned char)i;
    }
done:
    lua_settop(L, top);
    return rc;
}

/* Whether the table at T, a list, holds only the keys 1 .. #T that its text
 * writes.  Returns 0, or -1 with the reason.  [-0, +(0|1), -] */
static int canon_list_only(canon_state *cs, int t)
{
    lua_State *L = cs->L;
    lua_Unsigned n = lua_rawlen(L, t);
    lua_pushnil(L);
    while (lua_next(L, t)) {                              /* ... k v */
        lua_pop(L, 1);
        int isint = 0;
        lua_Integer k = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
        if (!isint || k < 1 || (lua_Unsigned)k > n)
            return canon_fail(cs, "%s", "cannot encode a table of list items and other keys as JSON");
    }
    return 0;
}

void canon_push_order_mt(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &canon_order_key) == LUA_TTABLE)
        return;
    lua_pop(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "key order");
    lua_setfield(L, -2, "__metatable");                   /* not a rule's to take */
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &canon_order_key);
}

/* Whether the table at IDX is a key order of the engine's own.
 * [-0, +0, -] */
static int canon_is_order(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx))
        return 0;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &canon_order_key);
    int is = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return is;
}

/* How a table is written is said by its metatable's __json: the string
 * "array", or a key order (an object in that order) the engine made
 * (canon_push_order_mt); a rule's own order is not followed: it could name
 * a key twice, or leave one out of the text.  A frozen table (rules.lua)
 * keeps its contents in the table its metatable's __frozen names. */
static int canon_table(canon_state *cs, int idx, int depth)
{
    lua_State *L = cs->L;
    if (depth >= CANON_MAX_DEPTH) {
        snprintf(cs->msg, cs->msglen, "cannot encode JSON nested deeper than %d", CANON_MAX_DEPTH);
        return -1;
    }
    if (!lua_checkstack(L, 8))
        return canon_fail(cs, "%s", "cannot encode: out of stack");
    int base = lua_gettop(L), rc = 0;
    int t = idx, order = 0, array = 0;
    if (lua_getmetatable(L, idx)) {                       /* mt */
        int mt = lua_gettop(L);
        /* Raw: a metatable's own metamethods must not run here, where an
         * error could no longer name the rule that made the value. */
        lua_pushliteral(L, "__json");
        int kind = lua_rawget(L, mt);                     /* mt json */
        if (kind == LUA_TTABLE && canon_is_order(L, -1))
            order = lua_gettop(L);
        else
            array = kind == LUA_TSTRING;
        lua_pushliteral(L, "__frozen");
        if (lua_rawget(L, mt) == LUA_TTABLE)
            t = lua_gettop(L);                            /* mt json shadow */
    }
    if (!order && !array) {
        /* Most tables here are objects of string keys, which have no [1]:
         * write one, and look for [1] only at the first other key. */
        if ((rc = canon_object_sorted(cs, t, depth + 1, 1)) != 1)
            goto done;
        rc = 0;
        array = lua_rawgeti(L, t, 1) != LUA_TNIL, lua_pop(L, 1);
    }

    if (order) {
        int first = 1;
        if ((rc = canon_putc(cs, '{')) != 0)
            goto done;
        for (lua_Integer i = 1; lua_rawgeti(L, order, i) == LUA_TSTRING; i++) {
            size_t klen;
            const char *k = lua_tolstring(L, -1, &klen);
            lua_pushvalue(L, -1);
            if (lua_rawget(L, t) != LUA_TNIL) {           /* ... k v */
                if ((!first && (rc = canon_putc(cs, ',')) != 0) ||
                    (rc = canon_string(cs, k, klen)) != 0 ||
                    (rc = canon_putc(cs, ':')) != 0 ||
                    (rc = canon_value(cs, lua_gettop(L), depth + 1)) != 0)
                    goto done;
                first = 0;
            }
            lua_pop(L, 2);
        }
        lua_pop(L, 1);
        rc = canon_putc(cs, '}');
    } else if (array) {
        /* A list, marked or with a [1], holds nothing but its items. */
        lua_Unsigned n = lua_rawlen(L, t);
        if ((rc = canon_list_only(cs, t)) != 0 || (rc = canon_putc(cs, '[')) != 0)
            goto done;
        for (lua_Unsigned i = 1; i <= n; i++) {
            if (i > 1 && (rc = canon_putc(cs, ',')) != 0)
                goto done;
            lua_rawgeti(L, t, (lua_Integer)i);
            if ((rc = canon_value(cs, lua_gettop(L), depth + 1)) != 0)
                goto done;
            lua_pop(L, 1);
        }
        rc = canon_putc(cs, ']');
    } else {
        rc = canon_object_sorted(cs, t, depth + 1, 0);
    }
done:
    lua_settop(L, base);
    return rc;
}

static int canon_value(canon_state *cs, int idx, int depth)
{
    lua_State *L = cs->L;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
    case LUA_TLIGHTUSERDATA:   /* the JSON null sentinel */
        return canon_put(cs, "null", 4);
    case LUA_TBOOLEAN:
        return lua_toboolean(L, idx) ? canon_put(cs, "true", 4) : canon_put(cs, "false", 5);
    case LUA_TNUMBER:
        return canon_number(cs, idx);
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        return canon_string(cs, s, n);
    }
    case LUA_TTABLE:
        return canon_table(cs, idx, depth);
    default:
        return canon_fail(cs, "cannot encode a %s as JSON", luaL_typename(L, idx));
    }
}

int canon_try(lua_State *L, int idx, buf *b, char *msg, size_t msglen)
{
    canon_state cs = {L, b, msg, msglen, NULL, 0, 0, NULL};
    return canon_value(&cs, lua_absindex(L, idx), 0);
}

/* Append a kept key's text (canon_keys): all its CANON_KEY_TEXT bytes are
 * copied at once, a few moves rather than a call to memcpy, when there is
 * room for them; only LEN count.  No Lua involved. */
static inline int canon_put_kept(canon_state *cs, const char *text, size_t len)
{
    buf *b = cs->b;
    if (CANON_KEY_TEXT < b->alloc - b->len && len <= b->cap - b->len) {
        memcpy(b->data + b->len, text, CANON_KEY_TEXT);
        b->len += len;
        b->data[b->len] = '\0';
        return 0;
    }
    /* Near the cap: '{' and the key apart, as they were written before
     * they were kept together, so that a text cut short is cut the same. */
    if (text[0] == '{') {
        if (canon_putc(cs, '{') != 0)
            return -1;
        text++, len--;
    }
    return canon_put(cs, text, len);
}

/* The table at T, which has no metatable, written from KEYS (N > 0) when
 * its keys are exactly those: each key found among them by its address,
 * its value left on the stack for its place in their order.  Returns 1
 * with nothing written when they are not (a key not kept, one missing, no
 * room on the stack), else 0 or -1 as canon_object_sorted.  Its values are
 * written as canon_object_sorted writes them, in the same order, so that
 * the first that fails is the same, with the same message.
 *
 * A key is matched by lua_topointer alone, with no lua_type first: only a
 * kept string has a kept address.  A number or a boolean has none (NULL);
 * a table, a function, a thread, a full userdata or another string is an
 * object of its own, alive beside the kept strings the anchor holds, so at
 * another address; a light userdata is one of the engine's own C
 * addresses, none of which is a Lua string's.  Tables written with the
 * same keys usually give them in the same order: the kept key given i-th
 * last time (KEYS->at) is tried first.  [-0, +0, m] */
static int canon_object_kept(canon_state *cs, int t, canon_keys *keys)
{
    lua_State *L = cs->L;
    int value[CANON_KEYS_MAX];
    unsigned seen = 0;
    int n = keys->n, i = 0;
    int top = lua_gettop(L), pos = top + 1, rc = 1;
    if (!lua_checkstack(L, 2 * CANON_KEYS_MAX + 4))
        return 1;
    lua_pushnil(L);                                       /* k */
    while (lua_next(L, t)) {                              /* ... k v */
        /* Past N keys, all kept and each once, any other is not. */
        if (i == n)
            goto done;
        const void *k = lua_topointer(L, -2);
        int j = keys->at[i];
        if (keys->key[j] != k) {
            for (j = 0; j < n && keys->key[j] != k; j++)
                ;
            if (j == n)
                goto done;
            keys->at[i] = (unsigned char)j;
        }
        value[j] = pos + 1;
        seen |= 1u << j;
        pos += 2;
        i++;
        lua_pushvalue(L, -2);                             /* ... k v k */
    }
    if (seen != (1u << n) - 1)
        goto done;
    if (cs->utf8 && !keys->utf8)
        *cs->utf8 = 0;
    for (int j = 0; j < n; j++)
        if ((rc = canon_put_kept(cs, keys->text[j], keys->len[j])) != 0 ||
            (rc = canon_value(cs, value[j], 1)) != 0)
            goto done;
    rc = canon_putc(cs, '}');
done:
    lua_settop(L, top);
    return rc;
}

int canon_try_keys(lua_State *L, int idx, buf *b, char *msg, size_t msglen, canon_keys *keys,
                   int anchor, lua_Integer base, int *utf8)
{
    canon_state cs = {L, b, msg, msglen, NULL, 0, 0, utf8};
    idx = lua_absindex(L, idx);
    if (keys && lua_type(L, idx) == LUA_TTABLE) {
        if (lua_getmetatable(L, idx)) {
            /* Frozen, ordered or a list: as canon_try writes it, and kept
             * keys stay for the next table. */
            lua_pop(L, 1);
        } else {
            int rc = keys->n > 0 ? canon_object_kept(&cs, idx, keys) : 1;
            if (rc != 1)
                return rc;
            cs.keys = keys;
            cs.anchor = lua_absindex(L, anchor);
            cs.base = base;
        }
    }
    return canon_value(&cs, idx, 0);
}

void canon_encode(lua_State *L, int idx, buf *b)
{
    char msg[128];
    if (canon_try(L, idx, b, msg, sizeof msg) != 0)
        luaL_error(L, "%s", msg);
}
