/*
 * canon.h -- canonical JSON from Lua values.
 *
 * One encoding, used for everything eligo hashes or stores, so that the same
 * value always gives the same bytes:
 *   - objects: keys in the order the table's metatable lists in `__json`
 *     (absent keys skipped), when that list is one the engine made
 *     (canon_push_order_mt), or else in bytewise order of the keys;
 *   - arrays: a table whose metatable's `__json` is "array", or whose [1]
 *     is set; either may hold no key but 1 .. #t (others are refused, not
 *     dropped);
 *     an empty table without a marker is {};
 *   - numbers: integers (and floats with an integral value below 2^53) in
 *     plain decimal; other floats in the shortest form that reads back to
 *     the same double; NaN and infinities are refused;
 *   - strings: escaped as JSON requires (", \, control characters), the rest
 *     of the bytes as they are; the JSON null sentinel and nil are null.
 * No whitespace anywhere.
 */
#ifndef ELIGO_CANON_H
#define ELIGO_CANON_H

#include <lauxlib.h>
#include <lua.h>

#include "buf.h"

/* Append the value at IDX to B as canonical JSON.  [-0, +0, e]: raises a Lua
 * error on a value that has no JSON form (a function, NaN, nesting deeper
 * than 64) or when B's cap would be passed; B then holds a partial text and
 * stays owned by the caller, who must not lose it to the error's longjmp
 * (keep it in a long-lived struct, never in a local). */
void canon_encode(lua_State *L, int idx, buf *b);

/* Like canon_encode, but a value with no JSON form makes it return -1 with
 * MSG (MSGLEN bytes) saying why, instead of raising; B then holds a partial
 * text.  [-0, +0, m] */
int canon_try(lua_State *L, int idx, buf *b, char *msg, size_t msglen);

/* What canon_try_keys keeps of the last object of string keys it wrote for
 * one caller, so that the next with the same keys writes them without
 * sorting or escaping them again: the keys (their addresses: a string the
 * anchor table holds alive has an address no other string can have), in
 * bytewise order, each with its text as written, ,"key": (the first with {
 * instead of the comma), when each is at most CANON_KEY_TEXT bytes.  The
 * texts are here, not in Lua strings, and padded, so that each is copied
 * whole by a copy of a fixed size.  Its layout is here, not in canon.c, because
 * callers keep one per criterion inside their own structs; only canon.c
 * reads or writes it.  N = 0 keeps nothing: set it so before the first
 * use. */
#define CANON_KEYS_MAX 16
#define CANON_KEY_TEXT 48
typedef struct canon_keys {
    int n;
    int utf8;   /* every text is UTF-8 */
    const void *key[CANON_KEYS_MAX];
    unsigned char len[CANON_KEYS_MAX];
    unsigned char at[CANON_KEYS_MAX];   /* the kept key lua_next gave i-th, last time */
    char text[CANON_KEYS_MAX][CANON_KEY_TEXT];
} canon_keys;

/* As canon_try, the same bytes and the same failures, for a value written
 * again and again with the same keys (a criterion's compared values): a
 * table without a metatable whose keys are exactly those KEYS holds is
 * written from KEYS; otherwise it is written as canon_try writes it, and
 * its keys, when they are at most CANON_KEYS_MAX short strings, become
 * KEYS.  ANCHOR, a table of the caller's, holds those keys at BASE + 1
 * .. BASE + CANON_KEYS_MAX, and the slots up to BASE + 2 * CANON_KEYS_MAX
 * are kept for canon too; no one else may write there.  KEYS NULL:
 * as canon_try.  With UTF8 not NULL, *UTF8 becomes 0 when a text written
 * (a key or a string value) is not UTF-8, and is left as it is otherwise:
 * what is written around them is ASCII.  [-0, +0, m] */
int canon_try_keys(lua_State *L, int idx, buf *b, char *msg, size_t msglen, canon_keys *keys,
                   int anchor, lua_Integer base, int *utf8);

/* Append S as a JSON string / V in decimal, exactly as canon_encode writes
 * them.  Return 0, or -1 when B's cap would be passed.  No Lua involved. */
int canon_add_string(buf *b, const char *s, size_t n);
int canon_add_integer(buf *b, long long v);

/* Whether S (N bytes) has no byte a JSON string escapes ('"', '\\', the
 * controls): then canon_add_string writes it between quotes as it is. */
int canon_plain(const char *s, size_t n);

/* What S (N bytes) holds, in one look: CANON_ESCAPES when a byte JSON
 * escapes (then it is not canon_plain), CANON_HIGH when a byte of 0x80 or
 * more (then it may not be UTF-8; without one it is ASCII). */
#define CANON_ESCAPES 1
#define CANON_HIGH 2
int canon_look(const char *s, size_t n);

/* Append D as canon_encode writes a number that is not a Lua integer (an
 * integral one below 2^53 without a fraction, else the shortest text that
 * reads back exactly).  0, or -1 when B cannot take it or D is not finite. */
int canon_add_number(buf *b, double d);

/* D, not a whole number, written [-]I.FF into OUT (24 bytes) when it is a
 * whole number of hundredths below 10^13 in size that reads back exactly,
 * as an amount of money does: its length, or 0 (nothing else is written
 * then).  It is then what "%.2f" writes, and without a second decimal 0,
 * the shortest of "%.15g".."%.17g" that reads back: D lies within half an
 * ulp of it, under 0.002 there, and no other text of two decimals does. */
size_t canon_hundredths(double d, char out[24]);

/* Push the metatable that makes a list of keys a key order canon follows
 * (setmetatable(keys, it), then { __json = keys } on the object's
 * metatable); made once per state.  [-0, +1, m] */
void canon_push_order_mt(lua_State *L);

#endif
