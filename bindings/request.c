/* request.c -- see request.h.
 *
 * The fast path works in two phases.  The first only reads: it decodes the
 * line (first by the fused read, applicant.h's fuse, which makes the
 * prepared applicant as it parses, then, when that gives up, by decode)
 * and checks every envelope field; anything unusual (an error to
 * report, an op other than decide or screen, a programme with no version in
 * force) makes it return false before anything was changed, and rules.lua
 * handles the request from the start, errors and all.  The second phase
 * writes the reply's fields in the order rules.lua does, prepares the
 * applicant and decides; an error there (the applicant's fields, a rule)
 * is raised as rules.lua raises it.
 */
#define _GNU_SOURCE 1   /* memmem */
#include "request.h"

#include <lauxlib.h>
#include <string.h>

#include "bindings.h"
#include "buf.h"
#include "canon.h"
#include "date.h"
#include "ids.h"
#include "text.h"

/* Upvalues of fast. */
#define UP_DECODE lua_upvalueindex(1)
#define UP_PREPARE lua_upvalueindex(2)
#define UP_FUSE lua_upvalueindex(3)
#define UP_SCHEMA lua_upvalueindex(4)
#define UP_PROGRAMS lua_upvalueindex(5)
#define UP_ORDER lua_upvalueindex(6)
#define UP_DECIDE lua_upvalueindex(7)
#define UP_FAIL lua_upvalueindex(8)
#define UP_CURRENT lua_upvalueindex(9)
#define UP_BOX lua_upvalueindex(10)
static const char *const request_keys[] = {
    "id", "op", "lang", "request_key", "as_of", "program", "applicant", "applicant_id",
    "decisions", "fingerprint", "from_day", "to_day", "decide", "screen", "en", "__frozen"};
enum { K_ID, K_OP, K_LANG, K_REQUEST_KEY, K_AS_OF, K_PROGRAM, K_APPLICANT, K_APPLICANT_ID,
       K_DECISIONS, K_FINGERPRINT, K_FROM_DAY, K_TO_DAY, K_DECIDE, K_SCREEN, K_EN, K_FROZEN,
       K_COUNT };
#define UP_KEY(k) lua_upvalueindex(11 + (k))

/* Arguments. */
enum { ARG_RES = 1, ARG_LINE, ARG_OP, ARG_PROGRAM, ARG_AS_OF, ARG_LANG,
       /* then the slots of the first phase: */
       S_REQ, S_ID, S_OP, S_LANG, S_KEY, S_AS_OF_GIVEN, S_AS_OF, S_PROGRAM, S_APPLICANT, S_P,
       S_PREPARED,   /* the applicant as rules see it, when the fused read made it; else nil */
       S_COUNT };

/* Off in a thread whose tests compare the fused read with the ordinary one
 * (request_fused); the requests the fused read served in this thread. */
static _Thread_local int request_unfused;
static _Thread_local unsigned long request_fused_count;

void request_fused(int on)
{
    request_unfused = !on;
}

unsigned long request_fused_reads(void)
{
    return request_fused_count;
}

/* Push T[key k], raw.  [-0, +1, -] */
static int request_get(lua_State *L, int t, int k)
{
    t = lua_absindex(L, t);
    lua_pushvalue(L, UP_KEY(k));
    return lua_rawget(L, t);
}

static int request_is_null(lua_State *L, int idx)
{
    int t = lua_type(L, idx);
    return t == LUA_TNIL || (t == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL);
}

/* Push field K of the request as a string, or the value of argument
 * DEFAULT_ARG (nil when 0) when it is absent or null.  Returns 0, or -1
 * (nothing pushed) when it is there but not a string.  [-0, +(0|1), -] */
static int request_string(lua_State *L, int k, int default_arg)
{
    request_get(L, S_REQ, k);
    if (request_is_null(L, -1)) {
        lua_pop(L, 1);
        if (default_arg)
            lua_pushvalue(L, default_arg);
        else
            lua_pushnil(L);
        return 0;
    }
    if (lua_type(L, -1) != LUA_TSTRING) {
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

/* The version of the programme named at ID in force on DAY: pushed, or
 * nothing and -1.  [-0, +(0|1), -] */
static int request_version(lua_State *L, int id, lua_Integer day)
{
    lua_pushvalue(L, id);
    if (lua_rawget(L, UP_PROGRAMS) != LUA_TTABLE) {
        lua_pop(L, 1);
        return -1;
    }
    int versions = lua_gettop(L);
    for (lua_Integer i = (lua_Integer)lua_rawlen(L, versions); i >= 1; i--) {
        lua_rawgeti(L, versions, i);                      /* versions p */
        request_get(L, -1, K_FROM_DAY);
        request_get(L, -2, K_TO_DAY);                     /* versions p from to */
        int in_force = lua_isinteger(L, -2) && lua_tointeger(L, -2) <= day &&
                       (lua_isnil(L, -1) || (lua_isinteger(L, -1) && day <= lua_tointeger(L, -1)));
        lua_pop(L, 2);
        if (in_force) {
            lua_remove(L, versions);
            return 0;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return -1;
}

/* res[k] = the value at IDX.  [-0, +0, m] */
static void request_set(lua_State *L, int k, int idx)
{
    idx = lua_absindex(L, idx);
    lua_pushvalue(L, UP_KEY(k));
    lua_pushvalue(L, idx);
    lua_rawset(L, ARG_RES);
}

/* The request's fingerprint, as rules.lua writes it: SHA-256 of the
 * canonical JSON of {op, program, as_of (as given), applicant}, in Unicode
 * NFC (a retry sent decomposed is the same application, as the rules
 * decide it).  [-0, +1, m] */
static int request_fingerprint(lua_State *L, buf *b)
{
    char msg[128];
    static const struct {
        int slot;
        const char *key;
    } parts[] = {{S_OP, "op"}, {S_PROGRAM, "program"}, {S_AS_OF_GIVEN, "as_of"}, {S_APPLICANT, "applicant"}};
    buf_reset(b);
    int rc = buf_addc(b, '{');
    int first = 1;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (lua_isnil(L, parts[i].slot))
            continue;
        rc |= (!first && buf_addc(b, ',') != 0);
        rc |= canon_add_string(b, parts[i].key, strlen(parts[i].key)) != 0 || buf_addc(b, ':') != 0;
        if (rc || canon_try(L, parts[i].slot, b, msg, sizeof msg) != 0)
            return luaL_error(L, "%s", rc ? "request too large" : msg);
        first = 0;
    }
    if (rc || buf_addc(b, '}') != 0)
        return luaL_error(L, "request too large");
    lua_pushlstring(L, b->data, b->len);                  /* canon */
    bindings_push_nfc(L, -1);                             /* canon nfc */
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    bindings_push_sha256(L, s, n);                        /* canon nfc hash */
    lua_replace(L, -3);                                   /* hash nfc */
    lua_pop(L, 1);                                        /* hash */
    return 0;
}

/* Whether the applicant's id is blank (text_blank), which handle()
 * refuses.  [-0, +0, -] */
static int request_blank_id(lua_State *L)
{
    if (request_get(L, S_APPLICANT, K_APPLICANT_ID) != LUA_TSTRING)
        return lua_pop(L, 1), 0;
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    int blank = text_blank(s, n);
    lua_pop(L, 1);
    return blank;
}

/* fail(code, fmt, ...) as rules.lua's: raises.  [-0, +0, e] */
static void request_fail(lua_State *L, const char *code, int why)
{
    lua_pushvalue(L, UP_FAIL);
    lua_pushstring(L, code);
    lua_pushliteral(L, "%s");
    lua_pushvalue(L, why);
    lua_call(L, 3, 0);
}

/* Phase one: read the line (by the fused read when FUSED) and check every
 * envelope field into the slots S_REQ .. S_PREPARED, changing nothing.
 * Returns 0; 1, the request is not for the fast path; 2, the fused read
 * cannot serve it (a request_key: its fingerprint is of the applicant as
 * it came), and the line must be read again the ordinary way.  *DAY: the
 * day of as_of.  Returning 1 or 2 it leaves what it pushed, for the caller
 * to drop.  [-0, +(S_COUNT - S_REQ | ?), e] */
static int request_read(lua_State *L, buf *b, int fused, int32_t *day_out)
{
    char msg[128];
    if (fused) {
        lua_pushvalue(L, UP_FUSE);
        lua_pushvalue(L, ARG_LINE);
        lua_pushvalue(L, UP_SCHEMA);
        lua_pushvalue(L, UP_KEY(K_APPLICANT));
        lua_call(L, 3, 1);                                /* req | nil */
        if (lua_isnil(L, -1))
            return 2;
    } else {
        lua_pushvalue(L, UP_DECODE);
        lua_pushvalue(L, ARG_LINE);
        lua_call(L, 1, 2);                                /* req at */
        if (!lua_isnil(L, -1) || lua_type(L, -2) != LUA_TTABLE || lua_getmetatable(L, -2))
            return 1;
        lua_pop(L, 1);                                    /* S_REQ */
    }
    request_get(L, S_REQ, K_ID);                          /* S_ID: its canonical text, or nil */
    if (lua_type(L, S_ID) == LUA_TNUMBER && !lua_isinteger(L, S_ID)) {
        double d = lua_tonumber(L, S_ID);
        if (!(d > -9007199254740992.0 && d < 9007199254740992.0)) {
            return 1;                                     /* not echoed exactly: refused */
        }
    }
    if (!lua_isnil(L, S_ID)) {
        buf_reset(b);
        if (canon_try(L, S_ID, b, msg, sizeof msg) != 0) {
            return 1;
        }
        lua_pushlstring(L, b->data, b->len);
        lua_replace(L, S_ID);
    }
    if (request_string(L, K_OP, ARG_OP) != 0 ||           /* S_OP */
        request_string(L, K_LANG, ARG_LANG) != 0 ||       /* S_LANG */
        request_string(L, K_REQUEST_KEY, 0) != 0 ||       /* S_KEY (0: nothing, so nil) */
        request_string(L, K_AS_OF, 0) != 0) {             /* S_AS_OF_GIVEN */
        return 1;
    }
    int decide = lua_rawequal(L, S_OP, UP_KEY(K_DECIDE));
    if (!decide && !lua_rawequal(L, S_OP, UP_KEY(K_SCREEN))) {
        return 1;
    }
    /* Only the fields the op knows: handle() names any other. */
    lua_pushnil(L);
    while (lua_next(L, S_REQ)) {
        lua_pop(L, 1);
        int k = 0;
        while (k <= K_APPLICANT && !lua_rawequal(L, -1, UP_KEY(k)))
            k++;
        if (k > K_APPLICANT || (k == K_PROGRAM && !decide)) {
            lua_pop(L, 1);
            return 1;
        }
    }
    if (lua_isnil(L, S_LANG)) {
        lua_pushvalue(L, UP_KEY(K_EN));
        lua_replace(L, S_LANG);
    } else {
        const char *lang = lua_tostring(L, S_LANG);   /* another falls back to English */
        if (strcmp(lang, "en") && strcmp(lang, "fr") && strcmp(lang, "ar"))
            return 1;
    }
    if (!lua_isnil(L, S_KEY)) {
        if (fused)
            return 2;
        size_t n;
        const char *k = lua_tolstring(L, S_KEY, &n);
        if (n == 0 || n > 200 || text_blank(k, n))
            return 1;
    }
    lua_pushvalue(L, S_AS_OF_GIVEN);                      /* S_AS_OF */
    if (lua_isnil(L, S_AS_OF)) {
        lua_pop(L, 1);
        if (lua_isnil(L, ARG_AS_OF)) {
            char today[11];
            date_format(date_today(), today);
            lua_pushstring(L, today);
        } else {
            lua_pushvalue(L, ARG_AS_OF);
        }
    }
    size_t n;
    const char *on = lua_tolstring(L, S_AS_OF, &n);
    int32_t day;
    if (!on || date_parse(on, n, &day) != 0)
        return 1;
    if (decide) {
        if (request_string(L, K_PROGRAM, ARG_PROGRAM) != 0 || lua_isnil(L, -1))   /* S_PROGRAM */
            return 1;
    } else {
        lua_pushnil(L);
    }
    request_get(L, S_REQ, K_APPLICANT);                   /* S_APPLICANT */
    if (fused) {
        /* The proxy json.c made, whose contents (its __frozen) take its
         * place: the applicant prepare left, its text in NFC (text_blank
         * says the same of a text and of its NFC: no character NFC makes
         * or takes apart is blank but those it maps to blank ones). */
        lua_getmetatable(L, S_APPLICANT);                 /* proxy mt */
        lua_pushvalue(L, UP_KEY(K_FROZEN));
        lua_rawget(L, -2);                                /* proxy mt contents */
        lua_replace(L, -2);                               /* proxy contents */
        lua_insert(L, -2);                                /* contents proxy */
        if (request_blank_id(L))
            return 1;
    } else if (lua_type(L, S_APPLICANT) != LUA_TTABLE || lua_getmetatable(L, S_APPLICANT) ||
               request_blank_id(L)) {
        return 1;
    }
    if (decide) {
        if (request_version(L, S_PROGRAM, day) != 0)      /* S_P */
            return 1;
    } else {
        lua_pushnil(L);
    }
    if (fused) {
        lua_pushvalue(L, -2);                             /* S_PREPARED */
        lua_remove(L, -3);
    } else {
        lua_pushnil(L);
    }
    *day_out = day;
    return 0;
}

/* fast(res, line, d_op, d_program, d_as_of, d_lang) -> true | false
 * [-0, +1, e] */
static int request_fast(lua_State *L)
{
    buf *b = lua_touserdata(L, UP_BOX);
    int32_t day = 0;
    lua_settop(L, ARG_LANG);
    luaL_checkstack(L, S_COUNT + 16, "request");
    /* A line that names a request_key is read the ordinary way at once:
     * its fingerprint needs the applicant as it came (request_read). */
    size_t len = 0;
    const char *line = lua_type(L, ARG_LINE) == LUA_TSTRING ? lua_tolstring(L, ARG_LINE, &len) : NULL;
    int fused = !request_unfused && line && !memmem(line, len, "request_key", 11), rc;
    do {
        lua_settop(L, ARG_LANG);
        rc = request_read(L, b, fused, &day);
        fused = 0;
    } while (rc == 2);
    if (rc != 0) {
        lua_pushboolean(L, 0);
        return 1;
    }
    int decide = lua_rawequal(L, S_OP, UP_KEY(K_DECIDE));
    request_fused_count += !lua_isnil(L, S_PREPARED);

    /* Phase two: the reply's fields, the applicant, the decisions. */
    if (!lua_isnil(L, S_ID)) {
        request_set(L, K_ID, S_ID);
        lua_pushvalue(L, UP_KEY(K_ID));
        lua_pushvalue(L, S_ID);
        lua_rawset(L, UP_CURRENT);                        /* current.id */
    }
    request_set(L, K_OP, S_OP);
    request_set(L, K_LANG, S_LANG);
    request_set(L, K_REQUEST_KEY, S_KEY);
    request_set(L, K_AS_OF, S_AS_OF);
    if (decide)
        request_set(L, K_PROGRAM, S_PROGRAM);
    if (!lua_isnil(L, S_KEY)) {
        request_fingerprint(L, b);
        request_set(L, K_FINGERPRINT, lua_gettop(L));
        /* current.op, .request_key, .fingerprint: read by engine.c when a
         * limit stops the request (rules.lua's handle does the same). */
        static const int kept[][2] = {{K_OP, S_OP}, {K_REQUEST_KEY, S_KEY}, {K_FINGERPRINT, 0}};
        for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
            lua_pushvalue(L, UP_KEY(kept[i][0]));
            lua_pushvalue(L, kept[i][1] ? kept[i][1] : lua_gettop(L) - 1);
            lua_rawset(L, UP_CURRENT);
        }
        lua_pop(L, 1);
    }
    if (lua_isnil(L, S_PREPARED)) {
        lua_pushvalue(L, UP_PREPARE);
        lua_pushvalue(L, S_APPLICANT);
        lua_pushvalue(L, UP_SCHEMA);
        lua_pushliteral(L, "");
        lua_call(L, 3, 1);                                /* ... a */
    } else {
        lua_pushvalue(L, S_PREPARED);                     /* ... a: the fused read's */
    }
    int a = lua_gettop(L);
    /* a is read-only (applicant.c); S_APPLICANT holds its contents. */
    if (request_get(L, S_APPLICANT, K_APPLICANT_ID) == LUA_TSTRING)
        request_set(L, K_APPLICANT_ID, -1);
    lua_pop(L, 1);

    char now[25];
    ids_now(now);
    lua_pushstring(L, now);
    int at = lua_gettop(L);
    lua_createtable(L, decide ? 1 : (int)lua_rawlen(L, UP_ORDER), 0);
    int decisions = lua_gettop(L);
    if (decide) {
        lua_pushvalue(L, UP_DECIDE);
        lua_pushvalue(L, S_P);
        lua_pushvalue(L, a);
        lua_pushvalue(L, S_AS_OF);
        lua_pushvalue(L, S_LANG);
        lua_pushvalue(L, at);
        lua_call(L, 5, 2);                                /* d why */
        if (lua_isnil(L, -2))
            request_fail(L, "rule_error", lua_gettop(L));
        lua_pop(L, 1);
        lua_rawseti(L, decisions, 1);
    } else {
        /* A decision with no JSON form fails the request, but only once
         * every programme is decided: an error in a later one comes first. */
        lua_pushnil(L);
        int why = lua_gettop(L);                          /* the first unencodable's why */
        lua_Integer count = 0, norder = (lua_Integer)lua_rawlen(L, UP_ORDER);
        for (lua_Integer i = 1; i <= norder; i++) {
            lua_rawgeti(L, UP_ORDER, i);                  /* id */
            if (request_version(L, lua_gettop(L), day) != 0) {
                lua_pop(L, 1);
                continue;
            }
            lua_pushvalue(L, UP_DECIDE);
            lua_insert(L, -2);                            /* id decide p */
            lua_pushvalue(L, a);
            lua_pushvalue(L, S_AS_OF);
            lua_pushvalue(L, S_LANG);
            lua_pushvalue(L, at);
            lua_call(L, 5, 2);                            /* id d why */
            if (lua_isnil(L, why) && !lua_isnil(L, -1)) {
                lua_replace(L, why);
            } else {
                lua_pop(L, 1);
            }
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                lua_pushboolean(L, 0);
            }
            lua_rawseti(L, decisions, ++count);
            lua_pop(L, 1);
        }
        if (!lua_isnil(L, why))
            request_fail(L, "rule_error", why);
        lua_pop(L, 1);
    }
    request_set(L, K_DECISIONS, decisions);
    lua_pushboolean(L, 1);
    return 1;
}

/* fast_request(decode, prepare, fuse, schema, programs, program_order,
 *              decide, fail, current) -> fast  [-0, +1, m] */
static int request_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    luaL_checktype(L, 4, LUA_TTABLE);
    luaL_checktype(L, 5, LUA_TTABLE);
    luaL_checktype(L, 6, LUA_TTABLE);
    luaL_checktype(L, 7, LUA_TFUNCTION);
    luaL_checktype(L, 8, LUA_TFUNCTION);
    luaL_checktype(L, 9, LUA_TTABLE);
    lua_settop(L, 9);
    bindings_push_buf(L, (size_t)16 << 20);
    for (int k = 0; k < K_COUNT; k++)
        lua_pushstring(L, request_keys[k]);
    lua_pushcclosure(L, request_fast, 10 + K_COUNT);
    return 1;
}

void request_push(lua_State *L)
{
    lua_pushcfunction(L, request_new);
}
