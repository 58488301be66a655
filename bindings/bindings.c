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

/* window_start(on, n) -> months_before(on, n), for the helpers whose window
 * of N months before ON it starts; or nil when ON is not a date, or nil and
 * why there is no such date: they raise it at their caller's line.  N is a
 * whole number (rules.lua looked).  [-0, +(1|2), m] */
static int bindings_window_start(lua_State *L)
{
    size_t len;
    const char *s = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &len) : NULL;
    int32_t on;
    if (!s || date_parse(s, len, &on) != 0) {
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
