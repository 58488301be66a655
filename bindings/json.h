/*
 * json.h -- JSON text straight into Lua values, for requests.
 *
 * One pass over the text, no tree in between: objects become tables, arrays
 * tables with the metatable at ARRAY_MT (so that a list can be told from an
 * object, and written back as []), null the light userdata NULL, strings
 * Lua strings of their exact bytes (but \u0000 is refused).  A number is an
 * integer when its value is integral and below 2^53 in magnitude, however it
 * is written (1, 1.0 and 1e0 alike), otherwise a float.  A key given twice
 * keeps its last value.  The grammar is RFC 8259's, strictly: no leading
 * zeros, no trailing commas, no lone surrogates.  Bytes are not checked for
 * UTF-8 here: bindings.c checks the whole text first, and still returns the
 * value (as it does for a raw control character in a string) so that the
 * reply can echo the request's id.
 */
#ifndef ELIGO_JSON_H
#define ELIGO_JSON_H

#include <lua.h>
#include <stddef.h>

#include "buf.h"

#define JSON_MAX_DEPTH 64

/* Why a text was refused, beyond its grammar. */
enum { JSON_DEEP = 1, JSON_RANGE = 2, JSON_NUL = 3, JSON_DUP = 4, JSON_NUMBER = 5, JSON_TINY = 6 };

/* Decode the N bytes at S, which hold one JSON value and optional white
 * space around it, and push the value.  Returns 0; or, when the text is not
 * JSON, the 1-based offset of the first byte that cannot be taken (N + 1
 * when the text ends too early), with nothing pushed; *WHY is then
 * JSON_DEEP when that byte opens an array or object nested deeper than
 * JSON_MAX_DEPTH, JSON_RANGE when it starts a number too large for a double
 * (one that would round to infinity, which no JSON text can name),
 * JSON_TINY when it starts one nearer 0 than a double holds in full (1e-400
 * would be read as 0, an amount of 0.00 nobody sent),
 * JSON_NUL when it starts the escape \u0000, which the text of a request may
 * not hold (C would cut it there), JSON_DUP when it starts a key its object
 * already has (readers differ on which value counts: some take the first,
 * eligo would take the last, and an audit would show another applicant than
 * the one decided), JSON_NUMBER when it is where a number went wrong
 * ("1.", "1e", "-": digits missing after a '.', an 'e' or a '-'), else 0.
 * A string holding a raw control character (below 0x20), which JSON wants
 * escaped there, still decodes: NOTES->control is then the 1-based offset
 * of the first, else 0, for the caller to refuse the text with the value at
 * hand; when the text fails further on, NOTES->control still names such a
 * character read before the failing byte, which the caller reports first,
 * as it does a byte that is not UTF-8.  NOTES->id and id_len
 * give the text of the top-level object's "id" member when it was read
 * whole, even when the text fails further on, so that an error reply can
 * still echo it (id_len 0: none).  SCRATCH holds a string being unescaped.
 * Raises on memory errors.
 * [-0, +(0|1), e] */
typedef struct json_notes {
    size_t control;         /* 1-based; 0 when none */
    size_t id, id_len;      /* 0-based offset and length of the "id" value */
} json_notes;
size_t json_push(lua_State *L, const char *s, size_t n, int array_mt, buf *scratch, int *why,
                 json_notes *notes);

/* json_push, with the keys cache at stack index KEYS (json_keys_new; 0:
 * none).  Requests of one kind come with the same keys, the schema's field
 * names: a key read before is pushed as the string the cache kept, not
 * made (hashed, interned) again.  [-0, +(0|1), e] */
size_t json_push_keys(lua_State *L, const char *s, size_t n, int array_mt, int keys, buf *scratch,
                      int *why, json_notes *notes);

/* Push a new, empty keys cache (a userdata).  [-0, +1, m] */
void json_keys_new(lua_State *L);

#endif
