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

/* A fused read: one member of the top-level object (the request's
 * applicant) read straight into the values a caller's schema makes of it,
 * each checked and converted as it is parsed, instead of pushed as it came
 * and walked again.  The schema is the caller's, seen through these
 * callbacks and its node numbers (N); they never raise but on memory
 * errors, and turn down (-1) whatever they would not pass as it stands.
 *   shape   what node N takes: JSON_OBJECT (its record's node in *INNER),
 *           JSON_ARRAY (its list's node in *INNER, its elements' in *ITEM),
 *           or JSON_SCALAR (anything else: a null behind a nullable, say).
 *   member  the node of the member whose key is the LEN bytes at KEY, in an
 *           object read for record node N, and its field number in *FIELD
 *           (the previous member's on entry, or -1), or -1: a field the
 *           schema does not declare.
 *   name    push the name of field FIELD of record node N, the member's
 *           key.  [-0, +1, -]
 *   scalar  replace the value at the top, read for node N, by what rules
 *           see: returns 0; 1 for a null that a record hides (the null left
 *           at the top); -1, the value left, when it does not pass.
 *           [-1, +1, m]
 *   finish  replace the table at the top, an object read for record node N
 *           (NULLS: the stack index of a table of the names it held as
 *           null, with their keys already taken out of it; 0 when none), or
 *           an array read for list node N, its metatable set, by what rules
 *           see.  [-1, +1, m] */
enum { JSON_SCALAR, JSON_OBJECT, JSON_ARRAY };
typedef struct json_fused {
    const char *key;      /* the member of the top-level object read so */
    size_t key_len;
    int root;             /* its node */
    void *ctx;            /* the callbacks' */
    int (*shape)(void *ctx, int n, int *inner, int *item);
    int (*member)(void *ctx, int n, const char *key, size_t len, int *field);
    void (*name)(lua_State *L, void *ctx, int n, int field);
    int (*scalar)(lua_State *L, void *ctx, int n);
    int (*finish)(lua_State *L, void *ctx, int n, int nulls);
} json_fused;

/* json_push_keys, with the member F->key of the top-level object read
 * through F.  Returns 0, the object pushed, when the text is JSON with no
 * raw control character in a string, the top-level value is an object
 * holding F->key once, and F passed all of it; else -1, nothing pushed,
 * and the caller reads the text the ordinary way (which finds the error to
 * report, if there is one).  Nothing outside Lua is changed but the sizes
 * json.c remembers for the next tables it makes.  [-0, +(0|1), e] */
int json_push_fused(lua_State *L, const char *s, size_t n, int array_mt, int keys, buf *scratch,
                    const json_fused *f);

/* Push a new, empty keys cache (a userdata).  [-0, +1, m] */
void json_keys_new(lua_State *L);

#endif
