/* json.c -- see json.h.
 *
 * A recursive descent over the text.  Every value is pushed as soon as it is
 * read; a container is filled on the Lua stack as its members come.  On a
 * syntax error the parser unwinds with the offset, popping what it pushed.
 * Nothing is allocated outside Lua but SCRATCH, which the caller owns, so a
 * memory error raised midway leaks nothing.
 */
#include "json.h"

#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* How many members the last object and items the last array at each depth
 * held, per thread: requests of one kind come in one shape, so a table made
 * that size at once is not grown and rehashed as its members arrive. */
static _Thread_local unsigned char json_members[JSON_MAX_DEPTH + 1], json_items[JSON_MAX_DEPTH + 1];

/* The keys cache (json_keys_new): slot i holds the bytes of the Lua string
 * that is the userdata's user value i + 1, or nothing (s NULL).  The string
 * is anchored there, so S stays valid. */
#define JSON_KEYS 256          /* slots, a power of 2 */
#define JSON_KEY_MAX 40        /* longer keys are not kept (Lua's short strings) */
typedef struct json_slot {
    const char *s;
    size_t len;
} json_slot;

typedef struct json_parser {
    lua_State *L;
    const unsigned char *s, *p, *end;
    int array_mt;
    int keys;            /* stack index of the keys cache, or 0 */
    json_slot *slots;    /* its slots */
    buf *scratch;
    size_t bad;   /* 1-based offset of the error, 0 while there is none */
    int why;      /* JSON_DEEP, JSON_RANGE, JSON_NUL or 0: what the error is */
    size_t ctl;   /* 1-based offset of the first raw control character in a string */
    const unsigned char *id, *id_end;   /* the top-level object's "id" value, once read */
    const json_fused *fused;   /* a fused read's callbacks (json_push_fused), or NULL */
    int fused_read;            /* how many times the fused member was read so */
} json_parser;

/* The bytes that end a run a string holds as it is: '"', '\\' and the
 * control characters, which JSON wants escaped there.  Those are taken too
 * (json_run), the first one noted (json_control), so that the value still
 * decodes and the reply can echo the request's id. */
static const unsigned char json_stop[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, ['"'] = 1, ['\\'] = 1};

static int json_fail(json_parser *j, const unsigned char *at)
{
    if (!j->bad)
        j->bad = (size_t)(at - j->s) + 1;
    return -1;
}

static int json_control(json_parser *j, const unsigned char *p)
{
    if (!j->ctl)
        j->ctl = (size_t)(p - j->s) + 1;
    return 1;
}

/* Past the bytes a string holds as they are, from P: at the text's end,
 * the closing quote or a backslash. */
static const unsigned char *json_run(json_parser *j, const unsigned char *p)
{
    for (;;) {
        while (p < j->end && !json_stop[*p])
            p++;
        if (p == j->end || *p >= 0x20)
            return p;
        json_control(j, p++);
    }
}

static void json_space(json_parser *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int json_value(json_parser *j, int depth);
static int json_fused_value(json_parser *j, int depth, int node, int member);

/* Four hex digits at P, or -1. */
static long json_hex4(const unsigned char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v << 4 | d;
    }
    return v;
}

static int json_add_utf8(buf *b, unsigned long cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    } else {
        u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    }
    return buf_add(b, u, n);
}

/* The rest of a string with escapes, from P (at a '\\'); the bytes before
 * it, from START, are plain.  [-0, +(0|1), m] */
static int json_string_escaped(json_parser *j, const unsigned char *start, const unsigned char *p)
{
    buf *b = j->scratch;
    buf_reset(b);
    if (buf_add(b, start, (size_t)(p - start)) != 0)
        return luaL_error(j->L, "JSON string over %d bytes", (int)b->cap);
    for (;;) {
        const unsigned char *run = p;
        p = json_run(j, p);
        if (buf_add(b, run, (size_t)(p - run)) != 0)
            return luaL_error(j->L, "JSON string over %d bytes", (int)b->cap);
        if (p == j->end)
            return json_fail(j, p);
        if (*p == '"')
            break;
        if (j->end - p < 2)
            return json_fail(j, j->end);
        unsigned long cp;
        switch (p[1]) {
        case '"': cp = '"'; break;
        case '\\': cp = '\\'; break;
        case '/': cp = '/'; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u': {
            long hi = j->end - p >= 6 ? json_hex4(p + 2) : -1;
            if (hi < 0)
                return json_fail(j, p);
            if (hi == 0) {
                j->why = j->bad ? j->why : JSON_NUL;
                return json_fail(j, p);
            }
            if (hi >= 0xdc00 && hi <= 0xdfff)
                return json_fail(j, p);   /* a low surrogate first */
            if (hi >= 0xd800 && hi <= 0xdbff) {
                long lo = j->end - p >= 12 && p[6] == '\\' && p[7] == 'u' ? json_hex4(p + 8) : -1;
                if (lo < 0xdc00 || lo > 0xdfff)
                    return json_fail(j, p);   /* a high surrogate alone */
                cp = 0x10000 + (((unsigned long)hi - 0xd800) << 10) + ((unsigned long)lo - 0xdc00);
                p += 6;
            } else {
                cp = (unsigned long)hi;
            }
            p += 6;
            if (json_add_utf8(b, cp) != 0)
                return luaL_error(j->L, "JSON string over %d bytes", (int)b->cap);
            continue;
        }
        default:
            return json_fail(j, p);
        }
        if (buf_addc(b, (char)cp) != 0)
            return luaL_error(j->L, "JSON string over %d bytes", (int)b->cap);
        p += 2;
    }
    j->p = p + 1;
    lua_pushlstring(j->L, b->data ? b->data : "", b->len);
    return 0;
}

/* The slot of the N bytes at S in the keys cache: a hash of their length,
 * their first and their last 8 bytes (the 4 or the 3 when fewer).  */
static unsigned json_key_slot(const unsigned char *s, size_t n)
{
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, s + n - 4, 4);
        a = x, b = y;
    } else if (n > 0) {
        a = (uint64_t)s[0] | (uint64_t)s[n / 2] << 8 | (uint64_t)s[n - 1] << 16;
    }
    uint64_t h = (a ^ n) * UINT64_C(0x9e3779b97f4a7c15);
    h = (h ^ b) * UINT64_C(0xc2b2ae3d27d4eb4f);
    return (unsigned)(h >> 56) & (JSON_KEYS - 1);
}

/* Push the N bytes at S, a key: the string the keys cache holds for them,
 * else a new one, which the cache then keeps (in the slot after theirs
 * when their own holds another key, so that two keys of one object that
 * share a slot do not take it from each other in turn); its bytes.
 * [-0, +1, m] */
static const char *json_push_key(json_parser *j, const unsigned char *s, size_t n)
{
    lua_State *L = j->L;
    unsigned i = json_key_slot(s, n), k = i;
    for (int tries = 0; tries < 2; tries++, k = (k + 1) & (JSON_KEYS - 1)) {
        const json_slot *c = &j->slots[k];
        if (c->len == n && c->s && memcmp(c->s, s, n) == 0) {
            lua_getiuservalue(L, j->keys, (int)k + 1);
            return c->s;
        }
    }
    if (j->slots[i].s && !j->slots[(i + 1) & (JSON_KEYS - 1)].s)
        i = (i + 1) & (JSON_KEYS - 1);
    lua_pushlstring(L, (const char *)s, n);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, j->keys, (int)i + 1);
    return j->slots[i].s = lua_tolstring(L, -1, &j->slots[i].len);
}

/* A string, J->p at its opening quote.  [-0, +(0|1), m] */
static int json_string(json_parser *j)
{
    const unsigned char *start = j->p + 1, *p = json_run(j, start);
    if (p < j->end && *p == '"') {
        j->p = p + 1;
        lua_pushlstring(j->L, (const char *)start, (size_t)(p - start));
        return 0;
    }
    if (p < j->end && *p == '\\')
        return json_string_escaped(j, start, p);
    return json_fail(j, p);
}

/* A key, J->p at its opening quote; *KEY and *LEN: the bytes of the string
 * pushed.  [-0, +(0|1), m] */
static int json_key(json_parser *j, const char **key, size_t *len)
{
    const unsigned char *start = j->p + 1, *p = json_run(j, start);
    size_t n = (size_t)(p - start);
    if (j->keys && p < j->end && *p == '"' && n <= JSON_KEY_MAX) {
        j->p = p + 1;
        *key = json_push_key(j, start, n);
        *len = n;
        return 0;
    }
    if (json_string(j) != 0)
        return -1;
    *key = lua_tolstring(j->L, -1, len);
    return 0;
}

static int json_digits(const unsigned char **p, const unsigned char *end)
{
    const unsigned char *q = *p;
    while (q < end && *q >= '0' && *q <= '9')
        q++;
    int any = q > *p;
    *p = q;
    return any;
}

/* A number that went wrong at P: digits missing after '-', '.' or 'e'. */
static int json_bad_number(json_parser *j, const unsigned char *p)
{
    j->why = j->bad ? j->why : JSON_NUMBER;
    return json_fail(j, p);
}

/* A number: an integer when integral and below 2^53, as json.h says; an
 * error when too large for a double (strtod would give infinity, which
 * canonical JSON cannot write back) or too near 0 for one (it would give 0,
 * or a subnormal number of few digits).  [-0, +(0|1), -] */
static int json_number(json_parser *j)
{
    const unsigned char *p = j->p, *start = p;
    int neg = *p == '-', simple = 1;
    p += neg;
    if (p < j->end && *p == '0')
        p++;
    else if (!json_digits(&p, j->end))
        return json_bad_number(j, p);
    if (p < j->end && *p == '.') {
        p++, simple = 0;
        if (!json_digits(&p, j->end))
            return json_bad_number(j, p);
    }
    if (p < j->end && (*p == 'e' || *p == 'E')) {
        p++, simple = 0;
        if (p < j->end && (*p == '+' || *p == '-'))
            p++;
        if (!json_digits(&p, j->end))
            return json_bad_number(j, p);
    }
    j->p = p;
    size_t len = (size_t)(p - start);
    if (simple && len - (size_t)neg <= 15) {   /* below 10^15 < 2^53: exact */
        lua_Integer v = 0;
        for (const unsigned char *q = start + neg; q < p; q++)
            v = v * 10 + (*q - '0');
        lua_pushinteger(j->L, neg ? -v : v);
        return 0;
    }
    char tmp[64], *text = tmp;
    if (len >= sizeof tmp && !(text = malloc(len + 1)))
        return luaL_error(j->L, "not enough memory");
    memcpy(text, start, len);
    text[len] = '\0';
    errno = 0;
    double d = strtod(text, NULL);
    int range = errno == ERANGE;   /* beyond a double, or below its normal numbers */
    if (text != tmp)
        free(text);
    if (range) {
        j->why = j->bad ? j->why : isinf(d) ? JSON_RANGE : JSON_TINY;
        return json_fail(j, start);
    }
    if (d == floor(d) && fabs(d) < 9007199254740992.0)
        lua_pushinteger(j->L, (lua_Integer)d);
    else
        lua_pushnumber(j->L, d);
    return 0;
}

/* The literal WORD (true, false, null) at J->p.  Returns 0 or -1. */
static int json_word(json_parser *j, const char *word, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (j->p + i >= j->end || j->p[i] != (unsigned char)word[i])
            return json_fail(j, j->p + i);
    j->p += n;
    return 0;
}

/* After a member or an element, and the space after it: a ',' (1: another
 * follows) or CLOSE (0: the end), stepped over; anything else, -1, J->p
 * left on it for the error. */
static int json_sep(json_parser *j, char close)
{
    if (j->p < j->end && (*j->p == ',' || *j->p == close))
        return *j->p++ == ',';
    return -1;
}

/* [-0, +(0|1), e] */
static int json_array(json_parser *j, int depth)
{
    lua_State *L = j->L;
    j->p++;
    lua_createtable(L, json_items[depth], 0);
    json_space(j);
    lua_Integer i = 0;
    if (j->p < j->end && *j->p == ']') {
        j->p++;
    } else {
        for (;;) {
            if (json_value(j, depth + 1) != 0)
                return lua_pop(L, 1), -1;
            lua_rawseti(L, -2, ++i);
            json_space(j);
            int more = json_sep(j, ']');
            if (more < 0)
                return lua_pop(L, 1), json_fail(j, j->p);
            if (!more)
                break;
        }
    }
    json_items[depth] = (unsigned char)(i < 255 ? i : 255);
    lua_pushvalue(L, j->array_mt);
    lua_setmetatable(L, -2);
    return 0;
}

/* The keys of an object's first JSON_SEEN members, for json_again. */
#define JSON_SEEN 24
typedef struct json_seen {
    const char *key;
    size_t len;
} json_seen;

/* Whether the key at the top, KLEN bytes at KEY, of member N (from 1) of
 * the object just below, is one it already has.  The keys of its first
 * JSON_SEEN members are compared in SEEN (the same string, or the same
 * bytes); a later one is looked up in the table.  [-0, +0, -] */
static int json_again(lua_State *L, json_seen *seen, int n, const char *key, size_t klen)
{
    if (n > JSON_SEEN) {
        lua_pushvalue(L, -1);
        int t = lua_rawget(L, -3);
        lua_pop(L, 1);
        return t != LUA_TNIL;
    }
    for (int i = 0; i < n - 1; i++)
        if (seen[i].key == key || (seen[i].len == klen && memcmp(seen[i].key, key, klen) == 0))
            return 1;
    seen[n - 1] = (json_seen){key, klen};
    return 0;
}

/* [-0, +(0|1), e] */
static int json_object(json_parser *j, int depth)
{
    lua_State *L = j->L;
    json_seen seen[JSON_SEEN];
    j->p++;
    lua_createtable(L, 0, json_members[depth]);
    json_space(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        json_members[depth] = 0;
        return 0;
    }
    for (int n = 1;; n++) {
        json_space(j);
        const unsigned char *kat = j->p;
        const char *key;
        size_t klen;
        if (j->p >= j->end || *j->p != '"' || json_key(j, &key, &klen) != 0)
            return lua_pop(L, 1), json_fail(j, j->p);
        int is_id = depth == 0 && klen == 2 && key[0] == 'i' && key[1] == 'd';
        if (json_again(L, seen, n, key, klen)) {
            j->why = j->bad ? j->why : JSON_DUP;
            if (is_id)   /* two ids: readers differ on which counts, so echo neither */
                j->id = NULL;
            return lua_pop(L, 2), json_fail(j, kat);
        }
        json_space(j);
        if (j->p >= j->end || *j->p != ':')
            return lua_pop(L, 2), json_fail(j, j->p);
        j->p++;
        json_space(j);
        const unsigned char *from = j->p, *to;
        if (j->fused && depth == 0 && klen == j->fused->key_len &&
            memcmp(key, j->fused->key, klen) == 0) {
            int rc = json_fused_value(j, depth + 1, j->fused->root, 0);
            if (rc != 0)
                return lua_pop(L, 2), -1;
            j->fused_read++;
        } else if (json_value(j, depth + 1) != 0) {
            return lua_pop(L, 2), -1;
        }
        to = j->p;
        lua_rawset(L, -3);
        json_space(j);
        /* The id is kept, so that a line broken further on can still echo
         * it, only once what follows shows it ended there: in {"id":01} the
         * value read is 0, and the number sent was no number at all. */
        if (is_id && j->p < j->end && (*j->p == ',' || *j->p == '}'))
            j->id = from, j->id_end = to;
        int more = json_sep(j, '}');
        if (more < 0)
            return lua_pop(L, 1), json_fail(j, j->p);
        if (!more) {
            json_members[depth] = (unsigned char)(n < 255 ? n : 255);
            return 0;
        }
    }
}

static int json_value(json_parser *j, int depth)
{
    json_space(j);
    if (j->p >= j->end)
        return json_fail(j, j->end);
    switch (*j->p) {
    case '{':
    case '[':
        if (depth >= JSON_MAX_DEPTH) {
            j->why = j->bad ? j->why : JSON_DEEP;
            return json_fail(j, j->p);
        }
        luaL_checkstack(j->L, 4, "JSON");
        return *j->p == '{' ? json_object(j, depth) : json_array(j, depth);
    case '"':
        return json_string(j);
    case 't':
        if (json_word(j, "true", 4) != 0)
            return -1;
        lua_pushboolean(j->L, 1);
        return 0;
    case 'f':
        if (json_word(j, "false", 5) != 0)
            return -1;
        lua_pushboolean(j->L, 0);
        return 0;
    case 'n':
        if (json_word(j, "null", 4) != 0)
            return -1;
        lua_pushlightuserdata(j->L, NULL);
        return 0;
    default:
        if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
            return json_number(j);
        return json_fail(j, j->p);
    }
}

/* Fused reading --------------------------------------------------------------
 * The same grammar as json_object and json_array, and the same tables made
 * the same way (their sizes from json_members and json_items, their
 * members set in the order of the text, a null set and only then taken
 * out, as the walk after decoding takes it out), so that what rules see,
 * down to the order pairs walks a record in, is what decoding and then
 * preparing made.  Whatever the callbacks turn down, and every error,
 * unwinds with -1: the caller reads the text again the ordinary way. */

/* Turned down: not an error of the text, only not for the fused read. */
static int json_abandon(json_parser *j, const unsigned char *at)
{
    return json_fail(j, at);
}

/* An object read for record node NODE.  [-0, +(0|1), e] */
static int json_fused_object(json_parser *j, int depth, int node)
{
    lua_State *L = j->L;
    const json_fused *f = j->fused;
    j->p++;
    lua_createtable(L, 0, json_members[depth]);
    int t = lua_gettop(L), nulls = 0, n = 0, field = -1;
    uint64_t seen = 0;                                    /* the fields read, the first 64 */
    json_space(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
    } else {
        for (n = 1;; n++) {
            json_space(j);
            if (j->p >= j->end || *j->p != '"')
                return lua_settop(L, t - 1), json_fail(j, j->p);
            /* The key is the schema's name, pushed as the schema holds it:
             * its bytes are only compared, not made a string.  One with
             * escapes is read first. */
            const unsigned char *start = j->p + 1, *stop = json_run(j, start);
            const char *key = (const char *)start;
            size_t klen = (size_t)(stop - start);
            int escaped = stop < j->end && *stop == '\\';
            if (escaped) {
                if (json_string(j) != 0)
                    return lua_settop(L, t - 1), -1;
                key = lua_tolstring(L, -1, &klen);
            } else if (stop < j->end && *stop == '"') {
                j->p = stop + 1;
            } else {
                return lua_settop(L, t - 1), json_fail(j, stop);
            }
            int child = f->member(f->ctx, node, key, klen, &field);
            if (child < 0)
                return lua_settop(L, t - 1), json_abandon(j, j->p);
            if (escaped)
                lua_pop(L, 1);
            f->name(L, f->ctx, node, field);              /* ... t [nulls] key */
            int again;
            if (field < 64) {
                again = (int)(seen >> field & 1);
                seen |= (uint64_t)1 << field;
            } else {
                lua_pushvalue(L, -1);
                again = lua_rawget(L, t) != LUA_TNIL;
                lua_pop(L, 1);
            }
            json_space(j);
            if (again || j->p >= j->end || *j->p != ':')
                return lua_settop(L, t - 1), json_fail(j, j->p);
            j->p++;
            int rc = json_fused_value(j, depth + 1, child, 1);   /* ... t [nulls] key value */
            if (rc < 0)
                return lua_settop(L, t - 1), -1;
            if (rc == 1) {                                /* a null the record hides */
                if (!nulls) {
                    lua_newtable(L);
                    lua_insert(L, t + 1);                 /* ... t nulls key null */
                    nulls = t + 1;
                }
                lua_pushvalue(L, -2);
                lua_pushboolean(L, 1);
                lua_rawset(L, nulls);
            }
            lua_rawset(L, t);
            json_space(j);
            int more = json_sep(j, '}');
            if (more < 0)
                return lua_settop(L, t - 1), json_fail(j, j->p);
            if (!more)
                break;
        }
    }
    json_members[depth] = (unsigned char)(n < 255 ? n : 255);
    if (nulls) {                                          /* taken out now, as prepare does */
        lua_pushnil(L);
        while (lua_next(L, nulls)) {                      /* ... t nulls name true */
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            lua_pushnil(L);
            lua_rawset(L, t);
        }
    }
    lua_pushvalue(L, t);
    if (f->finish(L, f->ctx, node, nulls) != 0)
        return lua_settop(L, t - 1), json_abandon(j, j->p);
    lua_replace(L, t);
    lua_settop(L, t);
    return 0;
}

/* An array read for list node NODE, its elements for node ITEM.
 * [-0, +(0|1), e] */
static int json_fused_array(json_parser *j, int depth, int node, int item)
{
    lua_State *L = j->L;
    const json_fused *f = j->fused;
    j->p++;
    lua_createtable(L, json_items[depth], 0);
    int t = lua_gettop(L);
    json_space(j);
    lua_Integer i = 0;
    if (j->p < j->end && *j->p == ']') {
        j->p++;
    } else {
        for (;;) {
            if (json_fused_value(j, depth + 1, item, 0) != 0)
                return lua_settop(L, t - 1), -1;
            lua_rawseti(L, t, ++i);
            json_space(j);
            int more = json_sep(j, ']');
            if (more < 0)
                return lua_settop(L, t - 1), json_fail(j, j->p);
            if (!more)
                break;
        }
    }
    json_items[depth] = (unsigned char)(i < 255 ? i : 255);
    lua_pushvalue(L, j->array_mt);
    lua_setmetatable(L, t);
    if (f->finish(L, f->ctx, node, 0) != 0)
        return lua_settop(L, t - 1), json_abandon(j, j->p);
    return 0;
}

/* The value at J->p, read for node NODE, as MEMBER of an object or not.
 * Returns 0, what rules see pushed; 1, a null the object hides, pushed; or
 * -1, nothing pushed.  [-0, +(0|1), e] */
static int json_fused_value(json_parser *j, int depth, int node, int member)
{
    const json_fused *f = j->fused;
    json_space(j);
    if (j->p >= j->end)
        return json_fail(j, j->end);
    if (*j->p == '{' || *j->p == '[') {
        int inner = -1, item = -1, shape = f->shape(f->ctx, node, &inner, &item);
        if (depth >= JSON_MAX_DEPTH || shape != (*j->p == '{' ? JSON_OBJECT : JSON_ARRAY))
            return json_abandon(j, j->p);
        luaL_checkstack(j->L, 8, "JSON");
        return *j->p == '{' ? json_fused_object(j, depth, inner)
                            : json_fused_array(j, depth, inner, item);
    }
    const unsigned char *at = j->p;
    if (json_value(j, depth) != 0)
        return -1;
    int rc = f->scalar(j->L, f->ctx, node);
    if (rc < 0 || (rc == 1 && !member)) {
        lua_pop(j->L, 1);
        return json_abandon(j, at);
    }
    return rc;
}

int json_push_fused(lua_State *L, const char *s, size_t n, int array_mt, int keys, buf *scratch,
                    const json_fused *f)
{
    json_parser j = {L, (const unsigned char *)s, (const unsigned char *)s,
                     (const unsigned char *)s + n, lua_absindex(L, array_mt),
                     keys ? lua_absindex(L, keys) : 0, keys ? lua_touserdata(L, keys) : NULL,
                     scratch, 0, 0, 0, NULL, NULL, f, 0};
    if (json_value(&j, 0) != 0)
        return -1;
    json_space(&j);
    if (j.p < j.end || j.ctl || j.fused_read != 1 || !lua_istable(L, -1)) {
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

size_t json_push_keys(lua_State *L, const char *s, size_t n, int array_mt, int keys, buf *scratch,
                      int *why, json_notes *notes)
{
    json_parser j = {L, (const unsigned char *)s, (const unsigned char *)s,
                     (const unsigned char *)s + n, lua_absindex(L, array_mt),
                     keys ? lua_absindex(L, keys) : 0, keys ? lua_touserdata(L, keys) : NULL,
                     scratch, 0, 0, 0, NULL, NULL, NULL, 0};
    size_t at = 0;
    *why = 0;
    if (json_value(&j, 0) != 0) {
        *why = j.why;
        at = j.bad;
    } else {
        json_space(&j);
        if (j.p < j.end) {
            lua_pop(L, 1);
            at = (size_t)(j.p - j.s) + 1;
        }
    }
    notes->control = !at || j.ctl < at ? j.ctl : 0;   /* read before the failing byte */
    notes->id = j.id ? (size_t)(j.id - j.s) : 0;
    notes->id_len = j.id ? (size_t)(j.id_end - j.id) : 0;
    return at;
}

size_t json_push(lua_State *L, const char *s, size_t n, int array_mt, buf *scratch, int *why,
                 json_notes *notes)
{
    return json_push_keys(L, s, n, array_mt, 0, scratch, why, notes);
}

void json_keys_new(lua_State *L)
{
    json_slot *slots = lua_newuserdatauv(L, JSON_KEYS * sizeof *slots, JSON_KEYS);
    memset(slots, 0, JSON_KEYS * sizeof *slots);
}
