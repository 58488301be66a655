/* tests/unit/json.c -- JSON text into Lua values: what each text decodes
 * to (written back as canonical JSON, with Lua types where they matter),
 * and where a text that is not JSON goes wrong. */
#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lualib.h>

#include "buf.h"
#include "canon.h"
#include "json.h"

/* Null-safe text for messages. */
#define S(x) ((x) ? (x) : "(null)")

static json_notes notes;   /* json_push's notes of the last text */

static lua_State *L;
static buf scratch, out;
static int with_keys;   /* decoded with a keys cache (json_push_keys) */
static const char keys_key = 'k';   /* the cache, in the registry */

/* json_push, or json_push_keys with the cache, as WITH_KEYS says. */
static size_t push(const char *text, size_t n, int *why)
{
    if (!with_keys)
        return json_push(L, text, n, 1, &scratch, why, &notes);
    int base = lua_gettop(L);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &keys_key);
    size_t at = json_push_keys(L, text, n, 1, base + 1, &scratch, why, &notes);
    lua_remove(L, base + 1);
    return at;
}

static int setup(void **state)
{
    (void)state;
    L = luaL_newstate();
    luaL_openlibs(L);                  /* for the chunks canon_of runs */
    lua_newtable(L);                   /* 1: the array metatable */
    lua_pushliteral(L, "array");
    lua_setfield(L, -2, "__json");
    buf_init(&scratch, 1 << 20);
    buf_init(&out, 1 << 20);
    json_keys_new(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &keys_key);
    with_keys = 0;
    return 0;
}

/* The same tests, each text decoded with the keys cache. */
static int setup_keys(void **state)
{
    setup(state);
    with_keys = 1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lua_close(L);
    buf_free(&scratch);
    buf_free(&out);
    return 0;
}

/* Decode TEXT; return the value written back as canonical JSON. */
static const char *decoded(const char *text)
{
    lua_settop(L, 1);
    int deep;
    size_t at = push(text, strlen(text), &deep);
    if (at)
        fail_msg("'%s' did not decode: error at byte %zu", text, at);
    assert_int_equal(lua_gettop(L), 2);
    buf_reset(&out);
    canon_encode(L, 2, &out);
    buf_addc(&out, '\0');
    return out.data;
}

/* The offset json_push gives for TEXT, which must not decode; the stack is
 * left as it was. */
static size_t error_at(const char *text, size_t n)
{
    lua_settop(L, 1);
    int deep;
    size_t at = push(text, n, &deep);
    if (!at)
        fail_msg("'%s' decoded, expected an error", text);
    assert_int_equal(lua_gettop(L), 1);
    return at;
}

static void test_json_values_round_trip(void **state)
{
    (void)state;
    assert_string_equal(decoded(" {\"b\":[1,2,{}],\"a\":null,\"c\":true,\"d\":false} "),
                        "{\"a\":null,\"b\":[1,2,{}],\"c\":true,\"d\":false}");
    assert_string_equal(decoded("[]"), "[]");
    assert_string_equal(decoded("{}"), "{}");
    assert_string_equal(decoded("\"\""), "\"\"");
    assert_string_equal(decoded("\t\r\n[ 1 , [ ] ]\n"), "[1,[]]");
}

static void test_json_array_gets_metatable_object_none(void **state)
{
    (void)state;
    decoded("[[],{}]");
    lua_rawgeti(L, 2, 1);
    assert_true(lua_getmetatable(L, -1));
    assert_true(lua_rawequal(L, -1, 1));
    lua_rawgeti(L, 2, 2);
    assert_false(lua_getmetatable(L, -1));
}

/* An integral value below 2^53 is an integer however it is written; others
 * are floats. */
static void test_json_numbers_integer_or_float(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int integer;
        const char *canon;
    } cases[] = {
        {"0", 1, "0"},           {"-0", 1, "0"},
        {"42", 1, "42"},         {"-17", 1, "-17"},
        {"1.0", 1, "1"},         {"1e3", 1, "1000"},
        {"2.5E-1", 0, "0.25"},   {"1200000.50", 0, "1200000.5"},
        {"999999999999999", 1, "999999999999999"},
        {"9007199254740991", 1, "9007199254740991"},
        {"9007199254740992", 0, "9007199254740992"},
        {"-123456789012345678", 0, "-1.2345678901234568e+17"},
        {"1e300", 0, "1e+300"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *c = decoded(cases[i].text);
        if (strcmp(c, cases[i].canon) != 0)
            fail_msg("%s decoded as %s, expected %s", cases[i].text, c, cases[i].canon);
        if (lua_isinteger(L, 2) != cases[i].integer)
            fail_msg("%s: expected %s", cases[i].text, cases[i].integer ? "an integer" : "a float");
    }
}

static void test_json_string_escapes(void **state)
{
    (void)state;
    decoded("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\te\\u00e9\\u0645\\ud83d\\ude00\"");
    size_t n;
    const char *s = lua_tolstring(L, 2, &n);
    static const char want[] = "a\"b\\c/d\b\f\n\r\te\xc3\xa9\xd9\x85\xf0\x9f\x98\x80";
    assert_int_equal(n, sizeof want - 1);
    assert_memory_equal(s, want, n);
}

/* \u0000 is kept, not a place where the string ends. */
/* A text that breaks after the top-level object's "id" still names it, so
 * that the error reply can echo it; an id further down, or nested, is not
 * the request's. */
static void test_json_id_of_a_broken_text(void **state)
{
    (void)state;
    static const struct {
        const char *text, *id;   /* NULL: none */
    } cases[] = {
        {"{\"id\":7,\"op\":\"health\"", "7"},
        {"{\"op\":1, \"id\" : \"a-b\" ,\"x\":tru}", "\"a-b\""},
        {"{\"x\":{\"id\":5},\"y\":}", NULL},
        {"{\"id\":[1,2", NULL},
        {"{\"x\":1,,\"id\":3}", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lua_settop(L, 1);
        int why;
        assert_true(push(cases[i].text, strlen(cases[i].text), &why) > 0);
        if (!cases[i].id ? notes.id_len != 0
                         : notes.id_len != strlen(cases[i].id) ||
                               memcmp(cases[i].text + notes.id, cases[i].id, notes.id_len))
            fail_msg("'%s': id '%.*s', expected '%s'", cases[i].text, (int)notes.id_len,
                     cases[i].text + notes.id, cases[i].id ? cases[i].id : "(none)");
    }
}

/* TEXT is refused at byte AT (from 1) for reason WHY, nothing pushed. */
static void refused(const char *text, size_t at_want, int why_want)
{
    lua_settop(L, 1);
    int why = 0;
    size_t at = push(text, strlen(text), &why);
    if (at != at_want || why != why_want)
        fail_msg("'%.40s': error at byte %zu (why %d), expected %zu (why %d)", text, at, why,
                 at_want, why_want);
    assert_int_equal(lua_gettop(L), 1);
}

/* What a request's text may not hold, though a JSON parser could take it:
 * the escape \u0000 (C would cut a text there; a NUL in an applicant id made
 * two people one) is refused; a raw control character inside a string (RFC
 * 8259 wants it escaped; between tokens, tab and CR are white space) is
 * noted, the value still decoded, for the caller to refuse with its id. */
static void test_json_string_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t at;
    } nul[] = {
        {"{\"k\\u0000x\":1}", 4},
        {"[\"ab\\u0000\"]", 5},
    }, control[] = {
        {"\"a\tb\"", 3},
        {"\"x\\n\rb\"", 5},
        {"{\"id\":\"a\x01\",\"b\":\"\x02\"}", 9},
    };
    for (size_t i = 0; i < sizeof nul / sizeof nul[0]; i++)
        refused(nul[i].text, nul[i].at, JSON_NUL);
    for (size_t i = 0; i < sizeof control / sizeof control[0]; i++) {
        decoded(control[i].text);
        if (notes.control != control[i].at)
            fail_msg("'%s': control at %zu, expected %zu", control[i].text, notes.control,
                     control[i].at);
    }
    decoded("{\t\"a\"\r:\t\"\\u0001\\t\"}");   /* white space, and escapes, are fine */
    assert_int_equal(notes.control, 0);
    /* A text that fails further on still names the raw control character
     * read before: that is the first byte a client must mend. */
    refused("{\"a\":\"x\ty\",}", 12, 0);
    assert_int_equal(notes.control, 8);
    refused("{\"a\":\"xy\",}\t\"\t\"", 11, 0);
    assert_int_equal(notes.control, 0);
}

/* A key twice in one object is refused at its second place: readers differ
 * on which value counts (cJSON, which the audit tools use, takes the first),
 * so the audit trail could show another applicant than the one decided. */
static void test_json_duplicate_key_refused(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t at;
    } cases[] = {
        {"{\"a\":1,\"a\":2}", 8},
        {"{\"x\":{\"b\":[],\"c\":0,\"b\":null}}", 20},
        {"{\"ab\":1,\"a\\u0062\":2}", 9},   /* the same key, written otherwise */
        {"[{\"k\":1},{\"k\":1,\"k\":1}]", 17},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        refused(cases[i].text, cases[i].at, JSON_DUP);
    decoded("[{\"k\":1},{\"k\":1}]");   /* one key in each of two objects */
}

/* An object of N members "k0".."k<N-1>", each of its own number, in TEXT;
 * then, when DUP >= 0, "kDUP" again.  The offset of that last key.  */
static size_t many_keys(char *text, size_t size, int n, int dup)
{
    size_t len = 0, at = 0;
    text[len++] = '{';
    for (int i = 0; i < n + (dup >= 0); i++) {
        if (i == n)
            at = len + 2;   /* after the comma, from 1 */
        len += (size_t)snprintf(text + len, size - len, "%s\"k%d\":%d", i ? "," : "",
                                i < n ? i : dup, i);
    }
    snprintf(text + len, size - len, "}");
    return at;
}

/* Keys, however many, however long, and seen before or not (the keys cache
 * keeps 256, and no key over 40 bytes): each decodes to its member, and a
 * key twice is refused wherever the second stands, among an object's first
 * members (compared as they come) or further on (looked up in the table). */
static void test_json_keys_many_and_long(void **state)
{
    (void)state;
    static char text[16384];
    for (int round = 0; round < 2; round++) {   /* the second: keys seen before */
        many_keys(text, sizeof text, 600, -1);
        decoded(text);
        for (int i = 0; i < 600; i += 37) {
            char k[16];
            snprintf(k, sizeof k, "k%d", i);
            lua_getfield(L, 2, k);
            assert_int_equal(lua_tointeger(L, -1), i);
            lua_pop(L, 1);
        }
        static const int dups[][2] = {{2, 1}, {5, 0}, {24, 3}, {24, 23}, {30, 3}, {30, 27},
                                      {600, 599}, {600, 0}};
        for (size_t i = 0; i < sizeof dups / sizeof dups[0]; i++) {
            size_t at = many_keys(text, sizeof text, dups[i][0], dups[i][1]);
            refused(text, at, JSON_DUP);
        }
    }
    /* Keys of 39 to 42 bytes, around the longest kept, twice: the second
     * time the same key, or another of the same length. */
    for (int len = 39; len <= 42; len++) {
        char a[64], b[64];
        memset(a, 'a', (size_t)len), a[len] = '\0';
        memset(b, 'a', (size_t)len), b[len] = '\0', b[len - 1] = 'b';
        snprintf(text, sizeof text, "{\"%s\":1,\"%s\":2}", a, b);
        assert_string_equal(decoded(text), text);
        snprintf(text, sizeof text, "{\"%s\":1,\"%s\":2}", a, a);
        refused(text, (size_t)len + 7, JSON_DUP);
        snprintf(text, sizeof text, "[{\"%s\":1},{\"%s\":2,\"%s\":3}]", b, a, b);
        assert_string_equal(decoded(text), text);
    }
}

/* The 1-based offset of the first byte that cannot be taken. */
static void test_json_errors_name_the_byte(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t at;
    } cases[] = {
        {"{\"op\":\"decide\",}", 16},   /* the '}' after a comma */
        {"[1,2,]", 6},
        {"[01]", 3},                    /* no leading zeros */
        {"{\"a\" 1}", 6},
        {"{a:1}", 2},
        {"nul", 4},
        {"[1] [2]", 5},                 /* only white space after the value */
        {"-", 2},
        {"1.", 3},
        {"1e+", 4},
        {"\"\\x\"", 2},                 /* an unknown escape */
        {"\"\\u12G4\"", 2},
        {"\"\\udc00\"", 2},             /* a low surrogate alone */
        {"\"\\ud800x\"", 2},            /* a high surrogate alone */
        {"\"abc", 5},                   /* the text ends in a string */
        {"{\"a\":[1,", 9},
        {"", 1},
        {"   ", 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t at = error_at(cases[i].text, strlen(cases[i].text));
        if (at != cases[i].at)
            fail_msg("'%s': error at byte %zu, expected %zu", cases[i].text, at, cases[i].at);
    }
}

/* Nesting deeper than JSON_MAX_DEPTH is an error at the bracket that goes
 * too deep, told apart from other errors; at the limit the text decodes. */
static void test_json_depth_limit(void **state)
{
    (void)state;
    char text[2 * (JSON_MAX_DEPTH + 1) + 16];
    memset(text, '[', JSON_MAX_DEPTH);
    memset(text + JSON_MAX_DEPTH, ']', JSON_MAX_DEPTH);
    text[2 * JSON_MAX_DEPTH] = '\0';
    decoded(text);
    memset(text, '[', JSON_MAX_DEPTH + 1);
    strcpy(text + JSON_MAX_DEPTH + 1, "1, oops");   /* a syntax error further on, too */
    lua_settop(L, 1);
    int deep = 0;
    size_t at = push(text, strlen(text), &deep);
    assert_int_equal(at, JSON_MAX_DEPTH + 1);
    assert_int_equal(deep, 1);
    assert_int_equal(lua_gettop(L), 1);
    at = push("[1,]", 4, &deep);
    assert_int_equal(at, 4);
    assert_int_equal(deep, 0);
}

/* A number longer than the parser's stack buffer reads as strtod reads it. */
static void test_json_long_number(void **state)
{
    (void)state;
    char text[200] = "0.";
    memset(text + 2, '5', 150);
    text[152] = '\0';
    decoded(text);
    assert_false(lua_isinteger(L, 2));
    assert_true(lua_tonumber(L, 2) == strtod(text, NULL));
    memset(text, '1', 80);
    strcpy(text + 80, "e-79");                 /* 1.11...e0: not integral */
    decoded(text);
    assert_true(lua_tonumber(L, 2) == strtod(text, NULL));
}

/* A number too large for a double is an error at its first byte, told
 * apart from other errors; it used to decode as infinity, which canonical
 * JSON cannot write back (found by fuzzing: a request_key's fingerprint then
 * failed as an internal error).  The largest double decodes.  A number
 * nearer 0 than a double holds in full is an error too (JSON_TINY): it was
 * read as 0, an amount of 0.00 nobody sent; the smallest normal double and
 * a zero with any exponent decode. */
static void test_json_number_out_of_range(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t at;
    } cases[] = {
        {"1e309", 1},
        {"[0, -1e309]", 5},
        {"{\"a\":121e30822222222222222222222222}", 6},
        {"2e308", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        refused(cases[i].text, cases[i].at, JSON_RANGE);
    decoded("1.7976931348623157e308");
    assert_true(lua_tonumber(L, 2) == DBL_MAX);
    refused("-1e-400", 1, JSON_TINY);
    refused("[1, 1e-310]", 5, JSON_TINY);                  /* subnormal: few digits held */
    refused("{\"a\":4.9e-324}", 6, JSON_TINY);
    decoded("2.2250738585072014e-308");                     /* the smallest normal double */
    assert_true(lua_tonumber(L, 2) == DBL_MIN);
    decoded("0e-999");
    assert_true(lua_tonumber(L, 2) == 0.0);
}

/* Near its buffer's cap a string is written when what it really takes fits,
 * escapes counted, not only when six bytes a byte would: a decision's JSON
 * (capped at 1 MiB) may hold one string of most of that. */
static void test_canon_string_near_cap(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 20);
    assert_int_equal(canon_add_string(&b, "abcdefghijklmnopqr", 18), 0);   /* 20 bytes: the cap */
    assert_string_equal(b.data, "\"abcdefghijklmnopqr\"");
    buf_reset(&b);
    assert_int_equal(canon_add_string(&b, "abcdefghijklmnopqrs", 19), -1);  /* 21 */
    assert_int_equal(b.len, 0);
    assert_int_equal(canon_add_string(&b, "a\nb\001c", 5), 0);            /* \n 2, \u0001 6 */
    assert_string_equal(b.data, "\"a\\nb\\u0001c\"");
    assert_int_equal(b.len, 13);
    assert_int_equal(canon_add_string(&b, "\"\"", 2), 0);                  /* 6 more: 19 */
    assert_int_equal(canon_add_string(&b, "", 0), -1);                       /* 2 more: over */
    assert_int_equal(b.len, 19);
    buf_free(&b);
}

/* The value the Lua chunk CODE returns, written as canonical JSON into OUT
 * (1 MiB cap): 0, or -1 with MSG. */
static int canon_of(const char *code, char *msg, size_t msglen)
{
    lua_settop(L, 1);
    if (luaL_loadstring(L, code) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK)
        fail_msg("%s: %s", code, lua_tostring(L, -1));
    buf_reset(&out);
    int rc = canon_try(L, 2, &out, msg, msglen);
    lua_settop(L, 1);
    return rc;
}

/* A key order is followed only when the engine made it: a value's own
 * __json order could name a key twice, or leave one out of the text. */
static void test_canon_key_order_engine_only(void **state)
{
    (void)state;
    char msg[256];
    assert_int_equal(canon_of("return setmetatable({b = 2, a = 1}, {__json = {'b', 'b'}})", msg,
                              sizeof msg), 0);
    assert_string_equal(out.data, "{\"a\":1,\"b\":2}");
    canon_push_order_mt(L);
    lua_setglobal(L, "ORDER");
    assert_int_equal(canon_of("return setmetatable({b = 2, a = 1, c = 3},"
                              " {__json = setmetatable({'b', 'a'}, ORDER)})", msg, sizeof msg), 0);
    assert_string_equal(out.data, "{\"b\":2,\"a\":1}");
}

/* A list holds nothing but its items: other keys are refused, not dropped
 * from the text (they were: {1, 2, max = 7} was written [1,2]). */
static void test_canon_list_with_other_keys(void **state)
{
    (void)state;
    char msg[256];
    assert_int_equal(canon_of("return {1, 2, max = 7}", msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "list items and other keys"));
    assert_int_equal(canon_of("local t = {1, 2, 3} t[10] = 4 return t", msg, sizeof msg), -1);
    assert_int_equal(canon_of("return {1, nil, 3}", msg, sizeof msg), 0);
    assert_string_equal(out.data, "[1,null,3]");
    assert_int_equal(canon_of("return {{5}, {a = 1}}", msg, sizeof msg), 0);
    assert_string_equal(out.data, "[[5],{\"a\":1}]");
    /* Marked a list (as the decoder and rules.lua mark theirs): the same. */
    assert_int_equal(canon_of("return setmetatable({1, 2, x = 3}, {__json = 'array'})", msg,
                              sizeof msg), -1);
    assert_non_null(strstr(msg, "list items and other keys"));
    assert_int_equal(canon_of("local t = setmetatable({1, 2}, {__json = 'array'}) t[10] = 4 return t",
                              msg, sizeof msg), -1);
    assert_int_equal(canon_of("return setmetatable({1, 2}, {__json = 'array'})", msg, sizeof msg), 0);
    assert_string_equal(out.data, "[1,2]");
}

/* The fused read (json_push_fused), through a small schema of its own:
 *   0 record { name = 1, note = 2, items = 3, n = 5 }
 *   1 text, made "T:" .. text     2 text or null    3 list of 4
 *   4 record { x = 1 }            5 a whole number
 * Each record and list read is replaced by { kind = "r" or "l", v = it,
 * nulls = the names it held as null }, so that what the callbacks were
 * asked shows in the canonical JSON of the result. */
static const struct {
    const char *name;
    int node;
} fused_fields[] = {{"name", 1}, {"note", 2}, {"items", 3}, {"n", 5}, {"x", 1}};

static int fused_shape(void *ctx, int n, int *inner, int *item)
{
    (void)ctx;
    if (n == 0 || n == 4)
        return *inner = n, JSON_OBJECT;
    if (n == 3)
        return *inner = n, *item = 4, JSON_ARRAY;
    return JSON_SCALAR;
}

static int fused_member(void *ctx, int n, const char *key, size_t len, int *field)
{
    (void)ctx;
    for (int i = n == 0 ? 0 : 4; i < (n == 0 ? 4 : 5); i++)
        if (strlen(fused_fields[i].name) == len && !memcmp(fused_fields[i].name, key, len))
            return *field = i - (n == 0 ? 0 : 4), fused_fields[i].node;
    return -1;
}

static void fused_name(lua_State *Ls, void *ctx, int n, int field)
{
    (void)ctx;
    lua_pushstring(Ls, fused_fields[field + (n == 0 ? 0 : 4)].name);
}

static int fused_scalar(lua_State *Ls, void *ctx, int n)
{
    (void)ctx;
    int t = lua_type(Ls, -1);
    if (t == LUA_TLIGHTUSERDATA)
        return n == 2 ? 1 : -1;
    if ((n == 1 || n == 2) && t == LUA_TSTRING) {
        if (n == 1) {
            lua_pushfstring(Ls, "T:%s", lua_tostring(Ls, -1));
            lua_remove(Ls, -2);
        }
        return 0;
    }
    return n == 5 && lua_isinteger(Ls, -1) ? 0 : -1;
}

static int fused_finish(lua_State *Ls, void *ctx, int n, int nulls)
{
    (void)ctx;
    lua_createtable(Ls, 0, 3);
    lua_pushstring(Ls, n == 3 ? "l" : "r");
    lua_setfield(Ls, -2, "kind");
    lua_insert(Ls, -2);
    lua_setfield(Ls, -2, "v");
    if (nulls) {
        lua_pushvalue(Ls, nulls);
        lua_setfield(Ls, -2, "nulls");
    }
    return 0;
}

static const json_fused fused_schema = {"app", 3, 0, NULL, fused_shape, fused_member, fused_name,
                                        fused_scalar, fused_finish};

/* The fused read of TEXT, as canonical JSON, or NULL when it gave up (the
 * stack then as it was). */
static const char *fused(const char *text)
{
    lua_settop(L, 1);
    int base = with_keys ? 2 : 0;
    if (with_keys)
        lua_rawgetp(L, LUA_REGISTRYINDEX, &keys_key);
    int rc = json_push_fused(L, text, strlen(text), 1, base, &scratch, &fused_schema);
    if (rc != 0) {
        assert_int_equal(lua_gettop(L), 1 + (base != 0));
        return NULL;
    }
    assert_int_equal(lua_gettop(L), 2 + (base != 0));
    buf_reset(&out);
    canon_encode(L, -1, &out);
    buf_addc(&out, '\0');
    return out.data;
}

static void test_json_fused_read(void **state)
{
    (void)state;
    assert_string_equal(
        S(fused("{\"id\":1,\"app\":{\"name\":\"a\",\"note\":null,\"items\":[{\"x\":\"b\"},{}],\"n\":3}}")),
        "{\"app\":{\"kind\":\"r\",\"nulls\":{\"note\":true},\"v\":{\"items\":{\"kind\":\"l\",\"v\":"
        "[{\"kind\":\"r\",\"v\":{\"x\":\"T:b\"}},{\"kind\":\"r\",\"v\":{}}]},\"n\":3,\"name\":\"T:a\"}},"
        "\"id\":1}");
    /* Members in any order, an escaped key, white space, the rest decoded. */
    assert_string_equal(
        S(fused(" { \"app\" : { \"n\\u0061me\" : \"\\u0041\" , \"items\" : [ ] , \"note\" : \"z\" } ,"
                " \"other\" : {\"name\":[1, null]} } ")),
        "{\"app\":{\"kind\":\"r\",\"v\":{\"items\":{\"kind\":\"l\",\"v\":[]},\"name\":\"T:A\","
        "\"note\":\"z\"}},\"other\":{\"name\":[1,null]}}");
    assert_string_equal(S(fused("{\"app\":{}}")), "{\"app\":{\"kind\":\"r\",\"v\":{}}}");
    static const char *const refused[] = {
        "{\"app\":{\"zzz\":1}}",                        /* not a field */
        "{\"app\":{\"name\":\"a\",\"name\":\"b\"}}",    /* a key twice */
        "{\"app\":{\"items\":[{\"x\":\"a\",\"x\":\"a\"}]}}",
        "{\"app\":{\"name\":1}}",                       /* refused by scalar */
        "{\"app\":{\"n\":null}}",                       /* a null scalar does not hide */
        "{\"app\":{\"items\":[null]}}",                 /* a null in a list */
        "{\"app\":{\"items\":{}}}",                     /* the wrong shape */
        "{\"app\":{\"name\":{}}}",
        "{\"app\":[]}",
        "{\"app\":null}",
        "{\"id\":1}",                                   /* no member, or two */
        "{\"app\":{},\"app\":{}}",
        "[{\"app\":{}}]",
        "{\"app\":{\"name\":\"a\tb\"}}",                /* a raw control character */
        "{\"app\":{\"name\":\"a\"}} x",                 /* not JSON */
        "{\"app\":{\"name\":\"a\"",
        "{\"app\":{\"name\":\"a\",}}",
        "{\"app\":{\"items\":[{\"x\":\"a\"},]}}",
        "{\"app\":{\"items\":[{\"x\":\"a\"}}}",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (fused(refused[i]))
            fail_msg("'%s' read fused as %s", refused[i], out.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_values_round_trip),
        cmocka_unit_test(test_json_array_gets_metatable_object_none),
        cmocka_unit_test(test_json_numbers_integer_or_float),
        cmocka_unit_test(test_json_string_escapes),
        cmocka_unit_test(test_json_string_refusals),
        cmocka_unit_test(test_json_id_of_a_broken_text),
        cmocka_unit_test(test_json_duplicate_key_refused),
        cmocka_unit_test(test_json_keys_many_and_long),
        cmocka_unit_test(test_json_errors_name_the_byte),
        cmocka_unit_test(test_json_depth_limit),
        cmocka_unit_test(test_json_long_number),
        cmocka_unit_test(test_json_number_out_of_range),
        cmocka_unit_test(test_canon_string_near_cap),
        cmocka_unit_test(test_canon_key_order_engine_only),
        cmocka_unit_test(test_canon_list_with_other_keys),
        cmocka_unit_test(test_json_fused_read),
    };
    int failed = cmocka_run_group_tests(tests, setup, teardown);
    return failed + cmocka_run_group_tests(tests, setup_keys, teardown);
}
