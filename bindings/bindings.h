/*
 * bindings.h -- the C functions the Lua side of eligo calls.
 *
 * bindings_push builds one table of C functions and leaves it on the stack.
 * It is handed to bindings/rules.lua (the rule language, compiled into the
 * binary), which decides which of them rule scripts may see: the calendar
 * and money helpers are re-exported to rules; the clock, ids, hashing and
 * JSON encoding stay private to the engine's own Lua code.
 *
 *   age(birth, on)              whole years (date.h's rule for 29 February)
 *   months_between(from, to)    whole calendar months
 *   months_before(on, n)        date string, day clamped to the month's end
 *   parse_date(s)               day number, or nil when s is not a valid date
 *   add_days(date, n)           date string n days later
 *   cents(x)                    exact integer centimes of a money amount
 *   render(template, values)    "{name}" replaced by the formatted value
 *   format(v)                   how a value is written in a message
 *   decision_id(), now(), today()
 *   sha256(s)                   64 hex digits
 *   canon(v)                    canonical JSON text (canon.h)
 */
#ifndef ELIGO_BINDINGS_H
#define ELIGO_BINDINGS_H

#include <lua.h>

/* [-0, +1, m] */
void bindings_push(lua_State *L);

/* Append the text of the value at IDX as a message shows it.  [-0, +0, m]
 * Integers and integral floats in plain decimal, a whole number of
 * centimes with two decimals (4200.50), any other number as the shortest
 * text that reads back as it (0.125, 1e-07), booleans as true/false, nil as null, strings as they are, a
 * table as its canonical JSON (its type name when it has none). */
struct buf;
int bindings_format(lua_State *L, int idx, struct buf *out);

/* Push a userdata holding a buffer of cap CAP, freed by its __gc, so that
 * a Lua error between two appends cannot leak it; return the buffer.
 * [-0, +1, m] */
struct buf *bindings_push_buf(lua_State *L, size_t cap);

/* Push the SHA-256 of the N bytes at S, as 64 hex digits.  [-0, +1, v] */
void bindings_push_sha256(lua_State *L, const void *s, size_t n);

/* Push the string at IDX in Unicode NFC, the composed form ("é" as one
 * character, not "e" and a combining accent): the string itself when it is
 * already, as every text below U+0300 is.  Applicants' texts are compared
 * in this form, so that a front office that sends decomposed text is
 * decided as one that does not.  Text that is not UTF-8 is pushed as it is
 * (its validation refuses it).  [-0, +1, m] */
void bindings_push_nfc(lua_State *L, int idx);

/* Whether cents(x) would accept the value at IDX (an amount with at most two
 * decimals, in range), without raising.  [-0, +0, -] */
int bindings_is_cents(lua_State *L, int idx);

/* Whether the values at A and B are one value as a rule can tell: raw
 * equality, and for numbers the same subtype and, for floats, the same bits
 * (0 and 0.0 differ, as math.type tells them, and so do 0.0 and -0.0, as
 * 1/x does; a NaN is itself).  [-0, +0, -] */
int bindings_same(lua_State *L, int a, int b);

/* Push the text an error message gives the value at IDX, and return it:
 * Lua's tostring, but a table, a function or a thread is "a table", "a
 * function", "a thread" (Lua writes its address, which changes from run to
 * run, and a rule may catch the message and keep it in a decision), and
 * JSON's null "null".  [-0, +1, m] */
const char *bindings_name(lua_State *L, int idx);

/* __len of a read-only table (a frozen one, an applicant's record or list):
 * the rawlen of the table its metatable names __frozen.  The only __len the
 * table library trusts.  [-0, +1, e] */
int bindings_frozen_len(lua_State *L);

#endif
