/* decision.c -- see decision.h.
 *
 * Layout of the Lua stack while decide runs:
 *   1..6   the arguments (p, a, on, lang, now, ruleset)
 *   7..10  p.criteria, the parameters used (current.params, when param()
 *          made it: decision_used_table; else nil), p.id, p.version
 *   11     the set of missing fields seen so far (nil until the first)
 *   12     what keep kept of the programme's criteria (its user value), or
 *          nil: then each criterion is read as Lua reads it
 *   then, for each criterion decided, two slots: its values (or nil) and
 *          its missing field (or nil), kept until the decision is written,
 *          because the values are encoded only then, as they were when
 *          rules.lua encoded the finished decision table.
 * What cannot wait is written at once into box->crit: each criterion's
 * head, {"id":...,"passed":...,"message":"..." (strings cannot change).
 *
 * The buffers live in a userdata upvalue whose __gc frees them, so that a
 * Lua error between two appends cannot leak them.
 *
 * Whether a decision is UTF-8 is known as it is written (box->utf8), so
 * that the engine need not look over every byte again: a text kept at keep
 * or keep_params was looked at then (kc->utf8, kc->head_utf8,
 * kept->prefix_utf8, decision_dated.utf8), the words written here and the
 * decision's id are ASCII, and every other piece (what canon writes of a
 * value, what a template's name shows, a message from Lua, the history
 * read) is looked at where it goes in (decision_vouch).  Pieces that are
 * each UTF-8 make UTF-8 together; a piece that is not leaves box->utf8 0,
 * and the engine then looks over the whole text to name the first bad
 * byte, as it did for every decision.
 */
#include "decision.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bindings.h"
#include "buf.h"
#include "canon.h"
#include "ids.h"
#include "order.h"
#include "text.h"

#define DECISION_CAP ((size_t)64 << 20)   /* as the engine's result scratch */

/* Upvalues of decide. */
#define UP_BOX lua_upvalueindex(1)
#define UP_CURRENT lua_upvalueindex(2)
#define UP_WORDS lua_upvalueindex(3)
#define UP_MESSAGE lua_upvalueindex(4)
#define UP_MISSING lua_upvalueindex(5)
#define UP_KEPT lua_upvalueindex(6)   /* programme -> what keep kept of its criteria */
/* Then the keys decide looks up, interned once.  The languages come first,
 * in the order of a kept criterion's templates. */
static const char *const decision_keys[] = {
    "en", "fr", "ar", "check", "pass", "fail", "id", "field", "as_of", "params", "program",
    "criteria", "version", "history_used", "history_json", "signal", "applicant"};
enum { K_EN, K_FR, K_AR, K_CHECK, K_PASS, K_FAIL, K_ID, K_FIELD, K_AS_OF, K_PARAMS, K_PROGRAM,
       K_CRITERIA, K_VERSION, K_HISTORY_USED, K_HISTORY_JSON, K_SIGNAL, K_APPLICANT, K_COUNT };
#define DECISION_LANGS 3   /* K_EN, K_FR, K_AR */
#define UP_RAISED lua_upvalueindex(7)   /* decision_raised, a check's message handler */
#define UP_KEY(k) lua_upvalueindex(8 + (k))
#define UP_LABELS lua_upvalueindex(8 + K_COUNT)   /* lang -> name -> code -> display name */
#define UP_SAID lua_upvalueindex(9 + K_COUNT)     /* the strings box->said holds */

/* T[key k], with metamethods, as Lua's t.key.  [-0, +1, e] */
static int decision_get(lua_State *L, int t, int k)
{
    lua_pushvalue(L, UP_KEY(k));
    return lua_gettable(L, t < 0 && t > LUA_REGISTRYINDEX ? t - 1 : t);
}

/* Arguments of decide. */
enum { ARG_P = 1, ARG_A, ARG_ON, ARG_LANG, ARG_NOW, ARG_RULESET,
       /* then, pushed by decide itself: */
       ARG_CRITERIA, ARG_USED, ARG_PROGRAM, ARG_VERSION, SLOT_SEEN, SLOT_KEPT, SLOT_RAISED,
       SLOT_FIRST };

/* What keep kept of a programme's criteria, in a userdata whose user value
 * (a table) holds criterion i's check at [i], then the strings the pointers
 * below point into, and at [0] the table that holds the strings of the
 * keys kept of the last values and parameters written (canon_try_keys):
 * criterion i's from DECISION_KEYS_BASE(i) + 1, the parameters' from 1.  A
 * message template is split at its names, as decision_render reads it:
 * pieces up to the last, which has no name. */
typedef struct decision_piece {
    const char *lit;      /* the text before the name (or the rest) */
    size_t lit_len;
    const char *raw;      /* "{name}" as written, or NULL: the last piece */
    size_t raw_len;
    int name;             /* the name, at this index of the user value */
    int labels;           /* "{name|field}": name at this index, field's labels at
                           * the next (a table, or nil); else 0 */
} decision_piece;

typedef struct decision_crit {
    const char *head;     /* {"id":...,"passed": */
    size_t head_len;
    int tmpl[2][DECISION_LANGS];   /* [passed][lang]: first piece, or -1 for message() */
    unsigned char plain[2][DECISION_LANGS];   /* the template has no byte JSON escapes */
    unsigned char utf8[2][DECISION_LANGS];    /* the template is UTF-8 */
    unsigned char head_utf8;                  /* head is UTF-8 */
    canon_keys values;    /* the keys of its last values written */
} decision_crit;

#define DECISION_KEYS_BASE(i) ((lua_Integer)(i) * 2 * CANON_KEYS_MAX)

typedef struct decision_kept {
    lua_Integer n;        /* criteria */
    decision_crit *crit;
    decision_piece *piece;
    /* ,"program":...,"program_version":...,"ruleset":... as decision_write
     * writes them for the id, version and rule set hash below (strings the
     * user value holds, so that no other string can have their address),
     * or NULL when one of those was not a string. */
    const char *prefix;
    size_t prefix_len;
    int prefix_utf8;      /* prefix is UTF-8 */
    const char *id, *version, *ruleset;
    canon_keys params;    /* the keys of the last parameters written */
} decision_kept;

/* A decision written since the last reset: where its parts are. */
typedef struct decision_rec {
    size_t json, json_len;       /* in out */
    size_t program, version;     /* in names, NUL-terminated; 0 when absent, else offset + 1 */
    const char *outcome;
    int utf8;                    /* known to be UTF-8 (box->utf8 when written) */
    char id[IDS_LEN + 1];
} decision_rec;

/* What keep_params kept of a parameter: its dated values, in the order of
 * its values list, in a userdata whose user value is the list of the values
 * themselves, then their texts (the strings below are held by the
 * parameter's own tables, or by that list). */
typedef struct decision_dated {
    const char *from, *to;   /* NULL: not a string (to: nil) */
    size_t from_len, to_len;
    const char *text;        /* "name":value as "parameters" writes it, or NULL
                              * for a table (which a rule could change) */
    size_t text_len;
    int utf8;                /* text is UTF-8 */
} decision_dated;

typedef struct decision_param_kept {
    int rank;                /* of its name, in bytewise order among those kept */
    const char *name;        /* held by keep_params' table */
    lua_Integer n;
    decision_dated dated[];
} decision_param_kept;

/* A parameter param() read in the decision being decided, one that
 * keep_params kept with the text of its value in force: its K, and its
 * dated value I (from 1). */
typedef struct decision_used {
    const decision_param_kept *k;
    lua_Integer i;
} decision_used;

#define DECISION_USED_MAX 32

/* What decision_put_said wrote last of as_of, lang or decided_at: the
 * string it was written from (held at [K + 1] of decide's UP_SAID, so that
 * no other string can have its address while it is kept here), or NULL,
 * and its text as written, ,"key":"value".  A screen writes the same three
 * strings in each of its decisions, and a service the same as_of and lang
 * in most. */
#define DECISION_SAID 3   /* as_of, lang, decided_at */
#define DECISION_SAID_MAX 64
typedef struct decision_said {
    const char *str;
    size_t len;
    int utf8;               /* text is UTF-8 */
    char text[DECISION_SAID_MAX];
} decision_said;

typedef struct decision_box {
    buf out;     /* the decisions, one after the other */
    buf one;     /* the decision being written (DECISION_JSON_MAX) */
    buf names;   /* their programmes' ids and versions */
    buf crit;    /* the criteria's heads, one after the other (DECISION_JSON_MAX) */
    buf msg;     /* the message being rendered (DECISION_JSON_MAX) */
    buf marks;   /* a decision_mark per criterion */
    lua_Integer criterion;   /* the one being decided (from 1), 0 when none */
    lua_Integer serial;      /* criteria begun, ever: tells one from the next */
    int nrecs;
    decision_rec recs[DECISION_MAX];
    /* The parameters read in the decision being decided, in the order of
     * their names (decision_record), when every one was kept with its text;
     * else, once one is not (USED_LUA), all are in the table current.params,
     * as the JSON's "parameters" writes them. */
    int nused, used_lua;
    decision_used used[DECISION_USED_MAX];
    /* 1 while every byte written of the decision being decided, in crit
     * and in one, is known to be UTF-8; 0 once a piece was not (or was not
     * looked at): see the notes at the top. */
    int utf8;
    decision_said said[DECISION_SAID];
    /* current.as_of when it is a string, else NULL: decide sets both, and
     * decision_done clears both (no one else writes current.as_of), so
     * that param() need not look it up; current holds the string. */
    const char *on;
    size_t on_len;
} decision_box;

/* A piece of N bytes at S goes into the decision: whether it is UTF-8.
 * Once one piece was not, the others need not be looked at. */
static void decision_vouch(decision_box *box, const char *s, size_t n)
{
    if (box->utf8 && text_utf8_bad(s, n) != n)
        box->utf8 = 0;
}

static const char decision_box_key = 0;   /* the box, in the registry, for decision_written */

typedef struct decision_mark {
    size_t end;    /* where its head ends in crit */
    int missing;   /* decided missing: its field is at slot + 1 */
    int first;     /* the first criterion missing that field */
} decision_mark;

static int decision_box_gc(lua_State *L)
{
    decision_box *box = lua_touserdata(L, 1);
    buf_free(&box->out);
    buf_free(&box->one);
    buf_free(&box->names);
    buf_free(&box->crit);
    buf_free(&box->msg);
    buf_free(&box->marks);
    return 0;
}

/* What a message reads of VALUES (a table), as the decision's JSON does
 * (canon.c): a frozen table's contents, else the table itself, read raw.
 * Through a rule's __index the message could show values the decision
 * does not hold.  Pushed; its index.  [-0, +1, -] */
static int decision_values_view(lua_State *L, int values)
{
    order_contents(L, values, 0);
    return lua_gettop(L);
}

/* "{name|field}", RAW as written, whose whole text VALUES (the view) does
 * not hold: the value of NAME shown by its display name in LABELS (code ->
 * name, or nil), else as "{name}" shows it; RAW when there is no NAME.
 * Pops LABELS and NAME, pushed in that order.  [-2, +0, -] */
static int decision_labelled(lua_State *L, int values, const char *raw, size_t raw_len, buf *out)
{
    int rc;
    if (lua_rawget(L, values) == LUA_TNIL) {              /* labels value */
        rc = buf_add(out, raw, raw_len);
    } else {
        if (lua_type(L, -1) == LUA_TSTRING && lua_type(L, -2) == LUA_TTABLE) {
            lua_pushvalue(L, -1);
            if (lua_rawget(L, -3) == LUA_TSTRING)         /* labels value name */
                lua_replace(L, -2);
            else
                lua_pop(L, 1);
        }
        rc = bindings_format(L, -1, out);
    }
    lua_pop(L, 2);
    return rc;
}

/* LABELS[LANG][FIELD] (N bytes), the field's display names in that
 * language, or nil.  [-0, +1, -] */
static void decision_push_labels(lua_State *L, int labels, int lang, const char *field, size_t n)
{
    if (lua_type(L, labels) == LUA_TTABLE && (lua_pushvalue(L, lang), lua_rawget(L, labels)) == LUA_TTABLE) {
        lua_pushlstring(L, field, n);
        lua_rawget(L, -2);
        lua_remove(L, -2);
    } else {
        if (lua_type(L, labels) == LUA_TTABLE)
            lua_pop(L, 1);
        lua_pushnil(L);
    }
}

int decision_render(lua_State *L, const char *t, size_t n, int values, int labels, int lang,
                    buf *out)
{
    int have_values = lua_type(L, values) == LUA_TTABLE, rc = 0;
    const char *p = t, *end = t + n;
    if (have_values)
        values = decision_values_view(L, values);
    while (p < end) {
        const char *open = memchr(p, '{', (size_t)(end - p));
        const char *close = open ? memchr(open, '}', (size_t)(end - open)) : NULL;
        if (!close) {
            rc |= buf_add(out, p, (size_t)(end - p));
            break;
        }
        rc |= buf_add(out, p, (size_t)(open - p));
        int type = LUA_TNIL;
        if (have_values) {
            lua_pushlstring(L, open + 1, (size_t)(close - open - 1));
            type = lua_rawget(L, values);
        } else {
            lua_pushnil(L);
        }
        const char *bar;
        if (type == LUA_TNIL && labels && have_values &&
            (bar = memchr(open + 1, '|', (size_t)(close - open - 1))) != NULL) {
            lua_pop(L, 1);                                /* {name|field} */
            decision_push_labels(L, labels, lang, bar + 1, (size_t)(close - bar - 1));
            lua_pushlstring(L, open + 1, (size_t)(bar - open - 1));
            rc |= decision_labelled(L, values, open, (size_t)(close - open + 1), out);
            p = close + 1;
            continue;
        }
        if (type == LUA_TNIL)   /* unknown name: keep it visible to the author */
            rc |= buf_add(out, open, (size_t)(close - open + 1));
        else if (type == LUA_TNUMBER && lua_isinteger(L, -1))
            rc |= canon_add_integer(out, (long long)lua_tointeger(L, -1));
        else
            rc |= bindings_format(L, -1, out);
        lua_pop(L, 1);
        p = close + 1;
    }
    if (have_values)
        lua_pop(L, 1);   /* the view */
    return rc ? -1 : 0;
}

/* Split template T (N bytes) as decision_render reads it, into PIECE (when
 * not NULL), interning each name at the next free index *NEXT of the table
 * at UV; for a name "name|field", also name and LABELS[field] (the table at
 * LABELS, the display names of one language: nil when LABELS is 0 or the
 * field has none) at the two next.  Returns the number of pieces.
 * [-0, +0, m] */
static size_t decision_split(lua_State *L, const char *t, size_t n, decision_piece *piece, int uv,
                             int *next, int labels)
{
    const char *p = t, *end = t + n;
    size_t count = 0;
    for (;; count++) {
        const char *open = p < end ? memchr(p, '{', (size_t)(end - p)) : NULL;
        const char *close = open ? memchr(open, '}', (size_t)(end - open)) : NULL;
        if (!close) {
            if (piece)
                piece[count] = (decision_piece){p, (size_t)(end - p), NULL, 0, 0, 0};
            return count + 1;
        }
        if (piece) {
            lua_pushlstring(L, open + 1, (size_t)(close - open - 1));
            lua_rawseti(L, uv, *next);
            piece[count] = (decision_piece){p, (size_t)(open - p), open, (size_t)(close - open + 1),
                                            (*next)++, 0};
            const char *bar = memchr(open + 1, '|', (size_t)(close - open - 1));
            if (bar) {
                lua_pushlstring(L, open + 1, (size_t)(bar - open - 1));
                lua_rawseti(L, uv, *next);
                piece[count].labels = (*next)++;
                lua_pushlstring(L, bar + 1, (size_t)(close - bar - 1));
                if (labels)
                    lua_rawget(L, labels);
                else
                    lua_pop(L, 1), lua_pushnil(L);
                lua_rawseti(L, uv, (*next)++);
            }
        }
        p = close + 1;
    }
}

/* decision_render, from a kept template: the same appends to OUT, the same
 * lookups in VALUES, with each name already a string at its index of the
 * table at UV.  *PLAIN becomes 0 when what a name shows has a byte JSON
 * escapes (canon_plain), *UTF8 when it is not UTF-8 (the template's own
 * pieces were looked at when it was kept).  [-0, +0, e] */
static int decision_render_kept(lua_State *L, const decision_piece *piece, int uv, int values,
                                buf *out, int *plain, int *utf8)
{
    int have_values = lua_type(L, values) == LUA_TTABLE, rc = 0;
    if (have_values)
        values = decision_values_view(L, values);
    for (;; piece++) {
        if (!piece->raw) {
            if (piece->lit_len)   /* render adds no empty rest */
                rc |= buf_add(out, piece->lit, piece->lit_len);
            break;
        }
        rc |= buf_add(out, piece->lit, piece->lit_len);
        size_t at = out->len;
        int type = LUA_TNIL;
        if (have_values) {
            lua_rawgeti(L, uv, piece->name);
            type = lua_rawget(L, values);
        } else {
            lua_pushnil(L);
        }
        if (type == LUA_TNIL) {
            if (piece->labels && have_values) {   /* {name|field}: see decision_split */
                lua_pop(L, 1);
                lua_rawgeti(L, uv, piece->labels + 1);
                lua_rawgeti(L, uv, piece->labels);
                rc |= decision_labelled(L, values, piece->raw, piece->raw_len, out);
                lua_pushnil(L);   /* popped below */
            } else {
                rc |= buf_add(out, piece->raw, piece->raw_len);
            }
        } else if (type == LUA_TNUMBER && lua_isinteger(L, -1))
            rc |= canon_add_integer(out, (long long)lua_tointeger(L, -1));
        else
            rc |= bindings_format(L, -1, out);
        /* A number or a boolean shows in ASCII letters, digits and signs,
         * none of which JSON escapes; a text, a table's JSON or a display
         * name is looked at, and when it is not ASCII, at its UTF-8. */
        if (type != LUA_TNUMBER && type != LUA_TBOOLEAN && out->len > at && (*plain || *utf8)) {
            int look = canon_look(out->data + at, out->len - at);
            if (look & CANON_ESCAPES)
                *plain = 0;
            if (*utf8 && (look & CANON_HIGH) &&
                text_utf8_bad(out->data + at, out->len - at) != out->len - at)
                *utf8 = 0;
        }
        lua_pop(L, 1);
    }
    if (have_values)
        lua_pop(L, 1);   /* the view */
    return rc ? -1 : 0;
}

static int decision_message_lua(lua_State *L, decision_box *box, int c, int passed, int values);

/* Render the message of criterion C into box->msg: its pass or fail
 * template in LANG (or English), filled from VALUES.  Anything but a
 * template string (no template, a number, ...) goes to rules.lua's
 * message(), which handles every case as it always has.  Returns 0, or -1
 * when the message would be over box->msg's cap.  [-0, +0, e] */
static int decision_message(lua_State *L, decision_box *box, int c, int passed, int values)
{
    int top = lua_gettop(L);
    buf_reset(&box->msg);
    if (decision_get(L, c, passed ? K_PASS : K_FAIL) == LUA_TTABLE) {   /* texts */
        lua_pushvalue(L, ARG_LANG);
        int t = lua_gettable(L, top + 1);                 /* texts template */
        if (t == LUA_TNIL || (t == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
            lua_pop(L, 1);
            t = decision_get(L, top + 1, K_EN);
        }
        if (t == LUA_TSTRING) {
            size_t n;
            const char *s = lua_tolstring(L, -1, &n);
            int rc = decision_render(L, s, n, values, UP_LABELS, ARG_LANG, &box->msg);
            lua_settop(L, top);
            return rc;
        }
    }
    lua_settop(L, top);
    return decision_message_lua(L, box, c, passed, values);
}

/* The message of criterion C by rules.lua's message(), into box->msg
 * (reset).  Returns 0, or -1 over box->msg's cap.  [-0, +0, e] */
static int decision_message_lua(lua_State *L, decision_box *box, int c, int passed, int values)
{
    int top = lua_gettop(L);
    buf_reset(&box->msg);
    lua_pushvalue(L, UP_MESSAGE);
    lua_pushvalue(L, c);
    lua_pushboolean(L, passed);
    lua_pushvalue(L, values);
    lua_pushvalue(L, ARG_LANG);
    lua_pushvalue(L, ARG_ON);   /* for the parameters a text names */
    lua_call(L, 5, 1);                                    /* text */
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    int rc = s ? buf_add(&box->msg, s, n) : 0;
    lua_settop(L, top);
    return rc;
}

/* The message of a criterion missing FIELD: the words for LANG, then the
 * field, as Lua's concatenation would write it.  [-0, +0, e] */
static void decision_missing_message(lua_State *L, decision_box *box, int field)
{
    int top = lua_gettop(L);
    buf_reset(&box->msg);
    lua_pushvalue(L, ARG_LANG);
    lua_rawget(L, UP_WORDS);                              /* words[lang] */
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        lua_pushvalue(L, UP_KEY(K_EN));
        lua_rawget(L, UP_WORDS);
    }
    int ft = lua_type(L, field);
    if (lua_type(L, -1) != LUA_TSTRING || (ft != LUA_TSTRING && ft != LUA_TNUMBER))
        luaL_error(L, "attempt to concatenate a %s value (local 'field')",
                   luaL_typename(L, lua_type(L, -1) != LUA_TSTRING ? -1 : field));
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    buf_add(&box->msg, s, n);
    lua_pushvalue(L, field);
    s = lua_tolstring(L, -1, &n);   /* a copy: the field itself stays a number */
    buf_add(&box->msg, s, n);
    lua_settop(L, top);
}

/* A criterion that cannot be decided.  [-0, +4, -] */
static int decision_refuse(lua_State *L, int kind, lua_Integer i, int value)
{
    if (value)
        lua_pushvalue(L, value);
    else
        lua_pushnil(L);                                   /* ... value */
    lua_pushnil(L);
    lua_pushinteger(L, kind);
    lua_pushinteger(L, i);
    lua_rotate(L, -4, -1);                                /* ... nil kind i value */
    return 4;
}

/* Append the value at IDX to box->one as canon_try writes it, or with the
 * keys of the last one (KEYS, held in the table at ANCHOR from BASE + 1:
 * canon_try_keys) when KEYS is not NULL; canon looks at the UTF-8 of the
 * texts it writes.  Returns 0, or -1 with MSG set.  [-0, +0, m] */
static int decision_canon(lua_State *L, decision_box *box, int idx, canon_keys *keys, int anchor,
                          lua_Integer base, char *msg, size_t msglen)
{
    return canon_try_keys(L, idx, &box->one, msg, msglen, keys, anchor, base, &box->utf8);
}

/* Append LIT (the key, as ,"key":) and the value at IDX to box->one, unless
 * it is nil (an absent key of the table the decision used to be), as
 * decision_canon writes it.  Returns 0, or -1 with MSG set.  [-0, +0, m] */
static int decision_put_keys(lua_State *L, decision_box *box, const char *lit, size_t litlen,
                             int idx, canon_keys *keys, int anchor, lua_Integer base, char *msg,
                             size_t msglen)
{
    if (lua_isnil(L, idx))
        return 0;
    if (buf_add(&box->one, lit, litlen) != 0) {
        snprintf(msg, msglen, "JSON text over %d bytes", (int)box->one.cap);
        return -1;
    }
    return decision_canon(L, box, idx, keys, anchor, base, msg, msglen);
}

static int decision_put(lua_State *L, decision_box *box, const char *lit, size_t litlen, int idx,
                        char *msg, size_t msglen)
{
    return decision_put_keys(L, box, lit, litlen, idx, NULL, 0, 0, msg, msglen);
}

#define DECISION_KEY(key) ",\"" key "\":", sizeof(",\"" key "\":") - 1

/* decision_put for as_of (K 0), lang (1) or decided_at (2): a string
 * written from the same string last time is copied from what was written
 * then, the same bytes and, at the cap, the same failure; another is
 * written by decision_put and kept for the next time.  Only in decide's
 * frame (UP_SAID).  [-0, +0, m] */
static int decision_put_said(lua_State *L, decision_box *box, int k, const char *lit,
                             size_t litlen, int idx, char *msg, size_t msglen)
{
    decision_said *said = &box->said[k];
    buf *b = &box->one;
    const char *str = lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : NULL;
    if (str && str == said->str) {
        if (buf_add(b, said->text, said->len) != 0) {
            snprintf(msg, msglen, "JSON text over %d bytes", (int)b->cap);
            return -1;
        }
        box->utf8 &= said->utf8;
        return 0;
    }
    size_t at = b->len;
    int utf8 = box->utf8;
    box->utf8 = 1;   /* what this piece alone is */
    int rc = decision_put(L, box, lit, litlen, idx, msg, msglen);
    int piece = box->utf8;
    box->utf8 = utf8 & piece;
    said->str = NULL;
    if (rc == 0 && str && b->len - at <= sizeof said->text) {
        said->len = b->len - at;
        memcpy(said->text, b->data + at, said->len);
        said->utf8 = piece;
        lua_pushvalue(L, idx);
        lua_rawseti(L, UP_SAID, k + 1);   /* held, so that its address stays its own */
        said->str = str;
    }
    return rc;
}

/* Append the head of criterion C to box->crit: its id (skipped when nil)
 * and the key of "passed", which always follows; KC's, kept at seal, when
 * there is one.  Returns 0, or -1 with MSG set.  [-0, +0, e] */
static int decision_head(lua_State *L, decision_box *box, const decision_crit *kc, int c,
                         char *msg, size_t msglen)
{
    buf *h = &box->crit;
    int rc = 0;
    if (kc) {
        if (buf_add(h, kc->head, kc->head_len) != 0)
            goto cap;
        box->utf8 &= kc->head_utf8;
        return 0;
    }
    decision_get(L, c, K_ID);                             /* ... id */
    if (lua_isnil(L, -1)) {
        rc = buf_adds(h, "\"passed\":");
    } else if (buf_adds(h, "\"id\":") != 0) {
        rc = -1;
    } else if (canon_try_keys(L, -1, h, msg, msglen, NULL, 0, 0, &box->utf8) != 0) {
        lua_pop(L, 1);
        return -1;
    } else {
        rc = buf_adds(h, ",\"passed\":");
    }
    lua_pop(L, 1);
    if (rc == 0)
        return 0;
cap:
    snprintf(msg, msglen, "JSON text over %d bytes", (int)h->cap);
    return -1;
}

/* Whether the string at IDX is the one at S (a string held alive, so that
 * no other string has its address).  [-0, +0, -] */
static int decision_same_string(lua_State *L, int idx, const char *s)
{
    return lua_type(L, idx) == LUA_TSTRING && lua_tostring(L, idx) == s;
}

/* Append the decision to box->out; KEPT, when not NULL, is what keep kept
 * of its programme.  Returns 0, or -1 with MSG set. */
static int decision_write(lua_State *L, decision_box *box, decision_kept *kept,
                          lua_Integer n, const char *id, const char *outcome, char *msg,
                          size_t msglen, lua_Integer *crit)
{
    buf *b = &box->one;
    buf_reset(b);
    const decision_mark *marks = (const decision_mark *)box->marks.data;
    int anchor = 0;   /* where the kept keys' strings are held */
    if (kept) {
        lua_rawgeti(L, SLOT_KEPT, 0);
        anchor = lua_gettop(L);
    }
    if (buf_adds(b, "{\"decision_id\":") != 0 || canon_add_string(b, id, strlen(id)) != 0)
        goto cap;
    if (kept && kept->prefix && decision_same_string(L, ARG_PROGRAM, kept->id) &&
        decision_same_string(L, ARG_VERSION, kept->version) &&
        decision_same_string(L, ARG_RULESET, kept->ruleset)) {
        if (buf_add(b, kept->prefix, kept->prefix_len) != 0)   /* what the three puts write */
            goto cap;
        box->utf8 &= kept->prefix_utf8;
    } else if (decision_put(L, box, DECISION_KEY("program"), ARG_PROGRAM, msg, msglen) ||
               decision_put(L, box, DECISION_KEY("program_version"), ARG_VERSION, msg, msglen) ||
               decision_put(L, box, DECISION_KEY("ruleset"), ARG_RULESET, msg, msglen)) {
        return -1;
    }
    if (decision_put_said(L, box, 0, DECISION_KEY("as_of"), ARG_ON, msg, msglen) ||
        decision_put_said(L, box, 1, DECISION_KEY("lang"), ARG_LANG, msg, msglen))
        return -1;
    if (buf_adds(b, ",\"outcome\":\"") != 0 || buf_adds(b, outcome) != 0 ||
        buf_adds(b, "\",\"criteria\":[") != 0)
        goto cap;
    size_t from = 0;
    for (lua_Integer i = 0; i < n; i++) {
        int slot = SLOT_FIRST + 2 * (int)i;
        if ((i && buf_addc(b, ',') != 0) || buf_add(b, box->crit.data + from, marks[i].end - from) != 0)
            goto cap;
        from = marks[i].end;
        if (marks[i].missing) {
            if (buf_adds(b, ",\"missing\":[") != 0)
                goto cap;
            if (!lua_isnil(L, slot + 1) &&
                decision_canon(L, box, slot + 1, NULL, 0, 0, msg, msglen) != 0)
                return -1;
            if (buf_addc(b, ']') != 0)
                goto cap;
        } else if (decision_put_keys(L, box, DECISION_KEY("values"), slot,
                                     kept ? &kept->crit[i].values : NULL, anchor,
                                     DECISION_KEYS_BASE(i + 1), msg, msglen) != 0) {
            *crit = i + 1;   /* its check returned them: the error is named after it */
            return -1;
        }
        if (buf_addc(b, '}') != 0)
            goto cap;
    }
    if (buf_adds(b, "],\"missing\":[") != 0)
        goto cap;
    int listed = 0;
    for (lua_Integer i = 0; i < n; i++) {
        if (!marks[i].first)
            continue;
        if ((listed++ && buf_addc(b, ',') != 0))
            goto cap;
        if (decision_canon(L, box, SLOT_FIRST + 2 * (int)i + 1, NULL, 0, 0, msg, msglen) != 0)
            return -1;
    }
    if (buf_addc(b, ']') != 0)
        goto cap;
    if (box->used_lua) {
        if (decision_put_keys(L, box, DECISION_KEY("parameters"), ARG_USED,
                              kept ? &kept->params : NULL, anchor, 0, msg, msglen))
            return -1;
    } else {
        /* What canon writes of a table of these: their texts, kept in the
         * order of their names. */
        if (buf_adds(b, ",\"parameters\":{") != 0)
            goto cap;
        for (int j = 0; j < box->nused; j++) {
            const decision_dated *d = &box->used[j].k->dated[box->used[j].i - 1];
            if ((j && buf_addc(b, ',') != 0) || buf_add(b, d->text, d->text_len) != 0)
                goto cap;
            box->utf8 &= d->utf8;
        }
        if (buf_addc(b, '}') != 0)
            goto cap;
    }
    if (decision_put_said(L, box, 2, DECISION_KEY("decided_at"), ARG_NOW, msg, msglen))
        return -1;
    if (buf_addc(b, '}') != 0)
        goto cap;
    if (anchor)
        lua_pop(L, 1);
    return 0;
cap:
    snprintf(msg, msglen, "JSON text over %d bytes", (int)b->cap);
    return -1;
}

/* current[key k] = the value at the top (popped).  [-1, +0, m] */
static void decision_set_current(lua_State *L, int k)
{
    lua_pushvalue(L, UP_KEY(k));
    lua_insert(L, -2);
    lua_rawset(L, UP_CURRENT);
}

/* The programme is decided (or cannot be written): no criterion is being
 * decided, current.as_of and current.params are cleared.  [-0, +0, m] */
static void decision_done(lua_State *L, decision_box *box)
{
    box->criterion = 0;
    lua_pushnil(L);
    decision_set_current(L, K_AS_OF);
    box->on = NULL;
    if (box->used_lua) {   /* else param() did not set it: nil since decide began */
        lua_pushnil(L);
        decision_set_current(L, K_PARAMS);
    }
}

/* The rules read the applicant's earlier decisions (current.history_used):
 * the rows read (current.history_json) go last, after decided_at.  Returns
 * 0, or -1 when the cap is reached.  [-0, +0, e] */
static int decision_history(lua_State *L, decision_box *box)
{
    buf *b = &box->one;
    lua_pushvalue(L, UP_KEY(K_HISTORY_USED));
    int used = lua_toboolean(L, (lua_rawget(L, UP_CURRENT), -1));
    lua_pop(L, 1);
    if (!used)
        return 0;
    lua_pushvalue(L, UP_KEY(K_HISTORY_JSON));
    lua_rawget(L, UP_CURRENT);
    size_t n;
    const char *json = lua_tolstring(L, -1, &n);
    if (!json)
        return luaL_error(L, "attempt to concatenate a %s value (field 'history_json')",
                          luaL_typename(L, -1));
    if (b->len == 0 || b->data[b->len - 1] != '}')
        return luaL_error(L, "the decision's JSON does not end its object");
    b->len--;   /* the final '}' */
    decision_vouch(box, json, n);
    int rc = buf_adds(b, ",\"history\":") != 0 || buf_add(b, json, n) != 0 || buf_addc(b, '}') != 0;
    lua_pop(L, 1);
    return rc ? -1 : 0;
}

/* Keep the string at IDX in box->names: its offset + 1, 0 when IDX holds
 * no string, (size_t)-1 at the cap.  [-0, +0, -] */
static size_t decision_name(decision_box *box, lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TSTRING)
        return 0;
    size_t n, at = box->names.len;
    const char *s = lua_tolstring(L, idx, &n);
    if (buf_add(&box->names, s, n) != 0 || buf_addc(&box->names, '\0') != 0)
        return (size_t)-1;
    return at + 1;
}

/* The message handler of a check's call.  Lua adds the place an error was
 * raised to a text only: one raised as another value (error({ code = 1 }),
 * error(nil)) would name no line of the rule's.  current.raised is set to
 * { value, at = "file:line:" } for the refusal's message (rules.lua); the
 * value goes on unchanged, as a text or a signal of missing data does.
 * Upvalues: 1 the signals' metatable, 2 current.
 * [-1, +1, m] */
static int decision_raised(lua_State *L)
{
    lua_settop(L, 1);
    if (lua_type(L, 1) == LUA_TSTRING)
        return 1;
    if (lua_getmetatable(L, 1)) {
        int signal = lua_rawequal(L, -1, lua_upvalueindex(1));
        lua_pop(L, 1);
        if (signal)
            return 1;
    }
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
            lua_pushliteral(L, "raised");
            lua_createtable(L, 1, 1);                     /* { value, at = "file:line:" } */
            lua_pushvalue(L, 1);
            lua_rawseti(L, -2, 1);
            lua_pushfstring(L, "%s:%d:", ar.short_src, ar.currentline);
            lua_setfield(L, -2, "at");
            lua_rawset(L, lua_upvalueindex(2));
            break;
        }
    }
    return 1;
}

/* decide(p, a, on, lang, now, ruleset)  [-0, +1|4, e]: see decision.h. */
static int decision_decide(lua_State *L)
{
    decision_box *box = lua_touserdata(L, UP_BOX);
    int failed = 0, nmissing = 0;
    char msg[256];
    lua_settop(L, ARG_RULESET);
    luaL_checktype(L, ARG_P, LUA_TTABLE);
    lua_pushvalue(L, UP_KEY(K_CRITERIA));
    lua_rawget(L, ARG_P);                                 /* ARG_CRITERIA */
    luaL_checktype(L, ARG_CRITERIA, LUA_TTABLE);
    lua_pushnil(L);                                       /* ARG_USED: current.params, if param() made it */
    lua_pushvalue(L, UP_KEY(K_ID));
    lua_rawget(L, ARG_P);                                 /* ARG_PROGRAM */
    lua_pushvalue(L, UP_KEY(K_VERSION));
    lua_rawget(L, ARG_P);                                 /* ARG_VERSION */
    lua_pushnil(L);                                       /* SLOT_SEEN */
    lua_pushvalue(L, ARG_P);
    decision_kept *kept = NULL;
    if (lua_rawget(L, UP_KEPT) == LUA_TUSERDATA) {        /* SLOT_KEPT: its user value */
        kept = lua_touserdata(L, SLOT_KEPT);              /* (UP_KEPT holds it) */
        lua_getiuservalue(L, SLOT_KEPT, 1);
        lua_replace(L, SLOT_KEPT);
    }
    lua_pushvalue(L, UP_RAISED);                          /* SLOT_RAISED */
    int lang = -1;                                        /* of a kept template */
    for (int k = 0; kept && k < DECISION_LANGS; k++)
        if (lua_rawequal(L, ARG_LANG, UP_KEY(K_EN + k)))
            lang = k;
    /* current.history_used, current.as_of, current.params, current.program =
     * nil, on, nil, p; no parameter read yet */
    lua_pushnil(L);
    decision_set_current(L, K_HISTORY_USED);
    lua_pushnil(L);
    decision_set_current(L, K_SIGNAL);
    lua_pushvalue(L, ARG_A);
    decision_set_current(L, K_APPLICANT);
    lua_pushvalue(L, ARG_ON);
    decision_set_current(L, K_AS_OF);
    box->on = lua_type(L, ARG_ON) == LUA_TSTRING ? lua_tolstring(L, ARG_ON, &box->on_len) : NULL;
    if (box->used_lua) {   /* set by param() since the last decision_done */
        lua_pushnil(L);
        decision_set_current(L, K_PARAMS);
    }
    box->nused = 0;
    box->used_lua = 0;
    lua_pushvalue(L, ARG_P);
    decision_set_current(L, K_PROGRAM);
    lua_Integer n = (lua_Integer)lua_rawlen(L, ARG_CRITERIA);
    if (kept && kept->n != n)
        kept = NULL;
    buf_reset(&box->crit);
    buf_reset(&box->marks);
    box->utf8 = 1;
    for (lua_Integer i = 1; i <= n; i++) {
        luaL_checkstack(L, 16, "decide");
        int slot = lua_gettop(L) + 1;
        lua_pushnil(L);                                   /* values */
        lua_pushnil(L);                                   /* values field */
        int c = slot + 2;
        lua_rawgeti(L, ARG_CRITERIA, i);                  /* ... c */
        box->criterion = i;
        box->serial++;
        const decision_crit *kc = kept ? &kept->crit[i - 1] : NULL;
        if (kc)
            lua_rawgeti(L, SLOT_KEPT, i);
        else
            decision_get(L, c, K_CHECK);
        lua_pushvalue(L, ARG_A);
        lua_pushvalue(L, ARG_ON);
        int status = lua_pcall(L, 2, 2, SLOT_RAISED);     /* ... c passed values | c err */
        decision_mark m = {0, 0, 0};
        buf *h = &box->crit;
        int rc = 0, plain = 0;   /* the message needs no escapes (decision_render_kept) */
        int looked = 0;          /* decision_render_kept looked at the message's UTF-8 */
        rc |= buf_addc(h, '{');
        if (status == LUA_OK) {
            int passed = c + 1, values = c + 2;
            if (lua_type(L, passed) != LUA_TBOOLEAN)
                return decision_refuse(L, 1, i, passed);
            if (!lua_isnil(L, values) && lua_type(L, values) != LUA_TTABLE)
                return decision_refuse(L, 2, i, 0);
            int ok = lua_toboolean(L, passed), mrc;
            failed |= !ok;
            if (kc && lang >= 0 && kc->tmpl[ok][lang] >= 0) {
                buf_reset(&box->msg);
                plain = kc->plain[ok][lang];
                int utf8 = kc->utf8[ok][lang];
                mrc = decision_render_kept(L, kept->piece + kc->tmpl[ok][lang], SLOT_KEPT, values,
                                           &box->msg, &plain, &utf8);
                box->utf8 &= utf8;
                looked = 1;
            } else if (kc && lang >= 0) {
                mrc = decision_message_lua(L, box, c, ok, values);
            } else {
                mrc = decision_message(L, box, c, ok, values);
            }
            if (mrc != 0) {   /* not cut short: a message missing a piece would mislead */
                snprintf(msg, sizeof msg, "JSON text over %d bytes", (int)box->msg.cap);
                return decision_refuse(L, 4, i, (lua_pushstring(L, msg), lua_gettop(L)));
            }
            lua_copy(L, values, slot);
            if (decision_head(L, box, kc, c, msg, sizeof msg) != 0)
                return decision_refuse(L, 4, i, (lua_pushstring(L, msg), lua_gettop(L)));
            rc |= buf_adds(h, ok ? "true" : "false");
        } else {
            int err = c + 1;
            /* A signal whose error a __close handler replaced on the way out
             * (rules.lua, signal) is the criterion's all the same. */
            lua_pushvalue(L, UP_KEY(K_SIGNAL));
            if (lua_rawget(L, UP_CURRENT) != LUA_TNIL) {
                lua_replace(L, err);
                lua_pushnil(L);
                decision_set_current(L, K_SIGNAL);
            } else {
                lua_pop(L, 1);
            }
            if (!lua_getmetatable(L, err))
                return decision_refuse(L, 3, i, err);
            int missing = lua_rawequal(L, -1, UP_MISSING);
            lua_pop(L, 1);
            if (!missing)
                return decision_refuse(L, 3, i, err);
            decision_get(L, err, K_FIELD);                /* ... c err field */
            int field = c + 2;
            if (lua_isnil(L, SLOT_SEEN)) {
                lua_newtable(L);
                lua_replace(L, SLOT_SEEN);
            }
            lua_pushvalue(L, field);
            if (lua_rawget(L, SLOT_SEEN) == LUA_TNIL) {
                lua_pushvalue(L, field);
                lua_pushboolean(L, 1);
                lua_rawset(L, SLOT_SEEN);
                m.first = 1;
                nmissing++;
            }
            lua_pop(L, 1);
            decision_missing_message(L, box, field);
            m.missing = 1;
            lua_copy(L, field, slot + 1);
            if (decision_head(L, box, kc, c, msg, sizeof msg) != 0)
                return decision_refuse(L, 4, i, (lua_pushstring(L, msg), lua_gettop(L)));
            rc |= buf_adds(h, "null");
        }
        rc |= buf_adds(h, ",\"message\":");
        if (!looked)
            decision_vouch(box, box->msg.data, box->msg.len);
        if (plain)   /* as canon_add_string writes it, and refuses it at the cap */
            rc |= h->cap - h->len < box->msg.len + 2 || buf_addc(h, '"') != 0 ||
                  buf_add(h, box->msg.data, box->msg.len) != 0 || buf_addc(h, '"') != 0;
        else
            rc |= canon_add_string(h, box->msg.data ? box->msg.data : "", box->msg.len);
        m.end = h->len;
        rc |= buf_add(&box->marks, &m, sizeof m);
        if (rc != 0) {
            snprintf(msg, sizeof msg, "JSON text over %d bytes", (int)h->cap);
            return decision_refuse(L, 4, i, (lua_pushstring(L, msg), lua_gettop(L)));
        }
        lua_settop(L, slot + 1);
    }

    if (box->used_lua) {
        lua_pushvalue(L, UP_KEY(K_PARAMS));
        lua_rawget(L, UP_CURRENT);
        lua_replace(L, ARG_USED);
    }
    decision_done(L, box);
    if (box->nrecs == DECISION_MAX)
        return luaL_error(L, "more than %d decisions in one request", DECISION_MAX);
    decision_rec *rec = &box->recs[box->nrecs];
    rec->outcome = failed ? "ineligible" : nmissing ? "incomplete" : "eligible";
    ids_next(rec->id);
    lua_Integer crit = 0;
    if (decision_write(L, box, kept, n, rec->id, rec->outcome, msg, sizeof msg, &crit) != 0)
        return decision_refuse(L, 4, crit, (lua_pushstring(L, msg), lua_gettop(L)));
    if (decision_history(L, box) != 0) {   /* the rows the rules read are theirs too */
        snprintf(msg, sizeof msg, "JSON text over %d bytes", (int)box->one.cap);
        return decision_refuse(L, 4, 0, (lua_pushstring(L, msg), lua_gettop(L)));
    }
    rec->json = box->out.len;
    rec->json_len = box->one.len;
    rec->utf8 = box->utf8;
    if (buf_add(&box->out, box->one.data, box->one.len) != 0)
        return luaL_error(L, "JSON text over %d bytes", (int)box->out.cap);
    rec->program = decision_name(box, L, ARG_PROGRAM);
    rec->version = decision_name(box, L, ARG_VERSION);
    if (rec->program == (size_t)-1 || rec->version == (size_t)-1)
        return luaL_error(L, "JSON text over %d bytes", (int)box->names.cap);
    lua_pushinteger(L, ++box->nrecs);
    return 1;
}

/* reset(): forget the decisions written so far (a request begins).
 * [-0, +0, -] */
static int decision_reset(lua_State *L)
{
    decision_box *box = lua_touserdata(L, lua_upvalueindex(1));
    buf_reset(&box->out);
    buf_reset(&box->names);
    box->nrecs = 0;
    box->criterion = 0;
    return 0;
}

/* json(i) -> the canonical JSON of the I-th decision since the reset.
 * [-0, +1, v] */
static int decision_json(lua_State *L)
{
    decision_box *box = lua_touserdata(L, lua_upvalueindex(1));
    lua_Integer i = luaL_checkinteger(L, 1);
    luaL_argcheck(L, i >= 1 && i <= box->nrecs, 1, "no such decision");
    lua_pushlstring(L, box->out.data + box->recs[i - 1].json, box->recs[i - 1].json_len);
    return 1;
}

void decision_where(const char *json, size_t len, size_t off, char *out, size_t n)
{
    /* The criteria are the objects at depth 1 of the array after the
     * top-level "criteria": in canonical JSON a quote inside a string is
     * escaped, so the key cannot be met earlier, and each criterion's
     * object begins {"id":"...". */
    static const char key[] = "\"criteria\":[";
    const char *p = NULL;
    for (size_t i = 0; i + sizeof key - 1 <= len; i++)
        if (!memcmp(json + i, key, sizeof key - 1)) {
            p = json + i + sizeof key - 1;
            break;
        }
    out[0] = '\0';
    if (!p)
        return;
    const char *end = json + len, *at = json + off, *start = NULL;
    int depth = 0;
    for (; p < end && p <= at; p++) {
        if (*p == '"') {   /* past the string (a bad byte is never '"' or '\\') */
            for (p++; p < end && *p != '"'; p++)
                if (*p == '\\')
                    p++;
        } else if (*p == '{' || *p == '[') {
            if (depth++ == 0)
                start = p;
        } else if (*p == '}' || *p == ']') {
            if (depth-- == 0)
                return;   /* the array ended before OFF */
        }
    }
    static const char head[] = "{\"id\":\"";
    if (depth == 0 || !start || (size_t)(end - start) < sizeof head - 1 ||
        memcmp(start, head, sizeof head - 1) != 0)
        return;
    const char *id = start + sizeof head - 1, *q = id;
    while (q < end && *q != '"')
        q += *q == '\\' ? 2 : 1;
    size_t cut = (size_t)(q - id) < 64 ? (size_t)(q - id) : 64;
    while (cut > 0 && cut < (size_t)(q - id) && ((unsigned char)id[cut] & 0xc0) == 0x80)
        cut--;   /* between characters: the message stays UTF-8 */
    snprintf(out, n, ", in criterion %.*s%s", (int)cut, id, cut < (size_t)(q - id) ? "..." : "");
}

/* The box of L's decider, from the registry, or NULL.  [-0, +0, -] */
static decision_box *decision_box_of(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &decision_box_key);
    decision_box *box = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return box;
}

lua_Integer decision_criterion(lua_State *L)
{
    decision_box *box = decision_box_of(L);
    return box ? box->criterion : 0;
}

lua_Integer decision_serial(lua_State *L)
{
    decision_box *box = decision_box_of(L);
    return box ? box->serial : 0;
}

void decision_forget(lua_State *L)
{
    decision_box *box = decision_box_of(L);
    if (box)
        box->criterion = 0;
}

int decision_written(lua_State *L, lua_Integer i, decision_out *out)
{
    decision_box *box = decision_box_of(L);
    if (!box || i < 1 || i > box->nrecs)
        return -1;
    const decision_rec *rec = &box->recs[i - 1];
    out->json = box->out.data + rec->json;
    out->json_len = rec->json_len;
    out->decision_id = rec->id;
    out->outcome = rec->outcome;
    out->utf8 = rec->utf8;
    out->program = rec->program ? box->names.data + rec->program - 1 : NULL;
    out->program_version = rec->version ? box->names.data + rec->version - 1 : NULL;
    return 0;
}

/* Upvalues of param: the declared parameters, current, what keep_params
 * kept, its keys, then the box. */
static const char *const decision_param_keys[] = {"as_of", "params", "values", "from", "to", "value"};
enum { P_AS_OF, P_PARAMS, P_VALUES, P_FROM, P_TO, P_VALUE, P_COUNT };
#define UP_PARAMS lua_upvalueindex(1)
#define UP_P_CURRENT lua_upvalueindex(2)
#define UP_P_KEPT lua_upvalueindex(3)   /* name -> what keep_params kept of it */
#define UP_PKEY(k) lua_upvalueindex(4 + (k))
#define UP_P_BOX lua_upvalueindex(4 + P_COUNT)

/* T[key k] of a table of rules.lua's own (no metatable).  [-0, +1, -] */
static int decision_pget(lua_State *L, int t, int k)
{
    lua_pushvalue(L, UP_PKEY(k));
    return lua_rawget(L, t);
}

/* A <= B, bytewise, for the ISO dates parameters and as_of are.  (Lua's
 * own comparison of strings goes through strcoll.) */
static int decision_le(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c < 0 || (c == 0 && alen <= blen);
}

/* Record that the decision read K's dated value I: in box->used, in the
 * order of the names.  Returns 0 when there is no room.  [-0, +0, -] */
static int decision_record(decision_box *box, const decision_param_kept *k, lua_Integer i)
{
    int j = box->nused;
    while (j > 0 && box->used[j - 1].k->rank > k->rank)
        j--;
    if (j > 0 && box->used[j - 1].k == k) {   /* read again: as used[name] = value */
        box->used[j - 1].i = i;
        return 1;
    }
    if (box->nused == DECISION_USED_MAX)
        return 0;
    memmove(&box->used[j + 1], &box->used[j], (size_t)(box->nused - j) * sizeof box->used[0]);
    box->used[j] = (decision_used){k, i};
    box->nused++;
    return 1;
}

/* Push current.params, the table of the parameters read, and return its
 * type.  The first time in a decision it is made, with the parameters
 * box->used holds so far: from then on all go into it (box->used_lua).
 * [-0, +1, m] */
static int decision_used_table(lua_State *L, decision_box *box)
{
    if (box->used_lua)
        return decision_pget(L, UP_P_CURRENT, P_PARAMS);
    lua_createtable(L, 0, box->nused + 1);                /* used */
    for (int j = 0; j < box->nused; j++) {
        lua_pushstring(L, box->used[j].k->name);          /* used name */
        lua_pushvalue(L, -1);
        lua_rawget(L, UP_P_KEPT);                         /* used name kept */
        lua_getiuservalue(L, -1, 1);                      /* used name kept values */
        lua_rawgeti(L, -1, box->used[j].i);               /* used name kept values value */
        lua_replace(L, -3);
        lua_pop(L, 1);                                    /* used name value */
        lua_rawset(L, -3);
    }
    lua_pushvalue(L, UP_PKEY(P_PARAMS));
    lua_pushvalue(L, -2);
    lua_rawset(L, UP_P_CURRENT);                          /* current.params = used */
    box->used_lua = 1;
    return LUA_TTABLE;
}

/* param(name) -> the value of parameter NAME in force on current.as_of,
 * recorded (decision_record, else current.params).  An error names the
 * rule's line, the caller of param.  [-0, +1, e] */
static int decision_param(lua_State *L)
{
    lua_settop(L, 1);
    lua_pushvalue(L, 1);
    if (lua_rawget(L, UP_P_KEPT) == LUA_TUSERDATA) {      /* name kept */
        const decision_param_kept *k = lua_touserdata(L, 2);
        decision_box *box = lua_touserdata(L, UP_P_BOX);
        const char *on = box->on;   /* current.as_of, a string, or NULL */
        size_t onlen = box->on_len;
        if (!on)
            return luaL_error(L, "param() can only be called while deciding");
        for (lua_Integer i = k->n; i >= 1; i--) {
            const decision_dated *d = &k->dated[i - 1];
            if (!d->from || !decision_le(d->from, d->from_len, on, onlen) ||
                (d->to && !decision_le(on, onlen, d->to, d->to_len)))
                continue;
            lua_getiuservalue(L, 2, 1);
            lua_rawgeti(L, 3, i);                         /* name kept values value */
            if (!box->used_lua && d->text && decision_record(box, k, i))
                return 1;
            if (decision_used_table(L, box) == LUA_TTABLE) {   /* ... value used */
                lua_pushvalue(L, 1);
                lua_pushvalue(L, 4);
                lua_rawset(L, 5);                         /* used[name] = value */
            }
            lua_settop(L, 4);
            return 1;
        }
        return luaL_error(L, "parameter '%s' has no value in force on %s", bindings_name(L, 1), on);
    }
    lua_pop(L, 1);
    lua_pushvalue(L, 1);
    if (lua_rawget(L, UP_PARAMS) == LUA_TNIL)             /* name p */
        return luaL_error(L, "parameter '%s' is not declared", bindings_name(L, 1));
    decision_pget(L, UP_P_CURRENT, P_AS_OF);              /* name p on */
    size_t onlen;
    const char *on = lua_type(L, 3) == LUA_TSTRING ? lua_tolstring(L, 3, &onlen) : NULL;
    if (!on)
        return luaL_error(L, "param() can only be called while deciding");
    decision_pget(L, 2, P_VALUES);                        /* name p on values */
    for (lua_Integer i = (lua_Integer)lua_rawlen(L, 4); i >= 1; i--) {
        lua_rawgeti(L, 4, i);                             /* ... v */
        size_t n;
        decision_pget(L, 5, P_FROM);                      /* ... v from */
        const char *from = lua_tolstring(L, 6, &n);
        int in_force = from && decision_le(from, n, on, onlen);
        if (in_force && decision_pget(L, 5, P_TO) != LUA_TNIL) {   /* ... v from to */
            const char *to = lua_tolstring(L, 7, &n);
            in_force = to && decision_le(on, onlen, to, n);
        }
        if (in_force) {
            lua_settop(L, 5);
            decision_pget(L, 5, P_VALUE);                 /* ... v value */
            if (decision_used_table(L, lua_touserdata(L, UP_P_BOX)) == LUA_TTABLE) {   /* ... v value used */
                lua_pushvalue(L, 1);
                lua_pushvalue(L, 6);
                lua_rawset(L, 7);                         /* used[name] = value */
            }
            lua_settop(L, 6);
            return 1;
        }
        lua_settop(L, 4);
    }
    return luaL_error(L, "parameter '%s' has no value in force on %s", bindings_name(L, 1), on);
}

/* keep_params(): keep the dated values of every parameter declared so far,
 * which no rule can change (rules.lua's parameter() refuses a second
 * declaration, and the lists are its own), so that param() finds the value
 * in force without reading the tables every time.  rules.lua calls it at
 * seal.  [-0, +0, m] */
static int decision_param_rank_cmp(const void *a, const void *b)
{
    return strcmp((*(decision_param_kept *const *)a)->name, (*(decision_param_kept *const *)b)->name);
}

static int decision_keep_params(lua_State *L)
{
    enum { HEAD = 1, NAME, P, VALUES, KEPT, LIST };
    lua_settop(L, 0);
    buf *head = bindings_push_buf(L, DECISION_JSON_MAX);   /* HEAD */
    lua_pushnil(L);                                       /* head name */
    while (lua_next(L, lua_upvalueindex(1))) {            /* head name p */
        if (lua_type(L, NAME) != LUA_TSTRING || lua_type(L, P) != LUA_TTABLE ||
            lua_getfield(L, P, "values") != LUA_TTABLE) { /* head name p values */
            lua_settop(L, NAME);
            continue;
        }
        lua_Integer n = (lua_Integer)lua_rawlen(L, VALUES);
        decision_param_kept *k = lua_newuserdatauv(L, sizeof *k + (size_t)n * sizeof k->dated[0], 1);
        k->n = n;
        k->name = lua_tostring(L, NAME);   /* held as kept's key */
        lua_createtable(L, 2 * (int)n, 0);                /* head name p values kept list */
        int plain = 1;   /* dates as parameter() leaves them: else param() reads the tables */
        for (lua_Integer i = 1; plain && i <= n; i++) {
            decision_dated *d = &k->dated[i - 1];
            if (lua_rawgeti(L, VALUES, i) != LUA_TTABLE) {   /* ... v */
                plain = 0;
                break;
            }
            lua_getfield(L, -1, "value");
            lua_rawseti(L, LIST, i);
            plain = lua_getfield(L, -1, "from") == LUA_TSTRING;
            d->from = lua_tolstring(L, -1, &d->from_len);
            int to = lua_getfield(L, -2, "to");
            plain = plain && (to == LUA_TSTRING || to == LUA_TNIL);
            d->to = to == LUA_TSTRING ? lua_tolstring(L, -1, &d->to_len) : NULL;
            lua_pop(L, 3);
            /* "name":value as canon writes it in the parameters, for a
             * value no rule can change; the list holds it at N + I. */
            d->text = NULL;
            d->utf8 = 0;
            char why[128];
            size_t len;
            const char *name = lua_tolstring(L, NAME, &len);
            buf_reset(head);
            if (lua_rawgeti(L, LIST, i) != LUA_TTABLE && canon_add_string(head, name, len) == 0 &&
                buf_addc(head, ':') == 0 && canon_try(L, -1, head, why, sizeof why) == 0) {
                lua_pushlstring(L, head->data, head->len);
                d->text = lua_tolstring(L, -1, &d->text_len);
                d->utf8 = text_utf8_bad(d->text, d->text_len) == d->text_len;
                lua_rawseti(L, LIST, n + i);
            }
            lua_pop(L, 1);
        }
        if (!plain) {
            lua_settop(L, NAME);
            continue;
        }
        lua_setiuservalue(L, KEPT, 1);                    /* head name p values kept */
        lua_pushvalue(L, NAME);
        lua_insert(L, -2);
        lua_rawset(L, lua_upvalueindex(2));               /* kept params[name] */
        lua_settop(L, NAME);
    }
    /* Each kept one's rank among their names, for decision_record. */
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, lua_upvalueindex(2)))
        lua_pop(L, 1), count++;
    decision_param_kept **all = lua_newuserdatauv(L, (count ? count : 1) * sizeof *all, 0);
    count = 0;
    lua_pushnil(L);
    while (lua_next(L, lua_upvalueindex(2))) {
        all[count++] = lua_touserdata(L, -1);
        lua_pop(L, 1);
    }
    qsort(all, count, sizeof *all, decision_param_rank_cmp);
    for (size_t i = 0; i < count; i++)
        all[i]->rank = (int)i;
    lua_settop(L, 0);
    return 0;
}

/* Keep in KEPT the head decision_write writes for programme P (at 1) and
 * the rule set hash at RULESET: p.id, p.version and the hash as canonical
 * JSON, with the strings they came from, held by the table at UV from index
 * *NEXT on.  Nothing is kept when one is not a string.  [-0, +0, m] */
static void decision_keep_prefix(lua_State *L, decision_kept *kept, int ruleset, int uv, int *next,
                                 buf *head)
{
    int top = lua_gettop(L);
    kept->prefix = NULL;
    lua_pushliteral(L, "id");
    lua_rawget(L, 1);                                     /* ... id */
    lua_pushliteral(L, "version");
    lua_rawget(L, 1);                                     /* ... id version */
    lua_pushvalue(L, ruleset);                            /* ... id version ruleset */
    const char **at[3] = {&kept->id, &kept->version, &kept->ruleset};
    static const char *const keys[3] = {",\"program\":", ",\"program_version\":", ",\"ruleset\":"};
    buf_reset(head);
    for (int k = 0; k < 3; k++) {
        size_t len;
        if (lua_type(L, top + 1 + k) != LUA_TSTRING) {
            lua_settop(L, top);
            return;
        }
        const char *s = lua_tolstring(L, top + 1 + k, &len);
        if (buf_adds(head, keys[k]) != 0 || canon_add_string(head, s, len) != 0) {
            lua_settop(L, top);
            return;   /* over the cap: decide writes, and refuses, as before */
        }
        *at[k] = s;
    }
    for (int k = 0; k < 3; k++)
        lua_rawseti(L, uv, (*next)++);                    /* held by uv */
    lua_pushlstring(L, head->data, head->len);
    kept->prefix = lua_tolstring(L, -1, &kept->prefix_len);
    kept->prefix_utf8 = text_utf8_bad(kept->prefix, kept->prefix_len) == kept->prefix_len;
    lua_rawseti(L, uv, (*next)++);
    lua_settop(L, top);
}

/* keep(p, crits, ruleset, labels): keep what decide reads of programme P's criteria, which
 * rules.lua has read raw: crits[i] is {id, check, fail_en, fail_fr, fail_ar,
 * pass_en, pass_fr, pass_ar} for criterion i, a template false when
 * message() writes the message, every id a string; LABELS[lang][field]
 * the display names a template's "{name|field}" shows in LANG.  rules.lua calls it at
 * seal, and only when reading a criterion runs no rule code, so that what
 * those reads give cannot change: decide then neither reads the criterion
 * nor parses its template again, and writes the kept head.  It keeps too the
 * programme's id and version and the rule set hash RULESET as a decision
 * writes them; decide writes those only while it is given the same strings.
 * [-0, +0, m] */
static int decision_keep(lua_State *L)
{
    enum { P = 1, CRITS, RULESET, LABELS, KEPT, UV, HEAD, LANG_LABELS,
           E = LANG_LABELS + DECISION_LANGS };
    luaL_checktype(L, P, LUA_TTABLE);
    luaL_checktype(L, CRITS, LUA_TTABLE);
    luaL_checktype(L, LABELS, LUA_TTABLE);
    lua_settop(L, LABELS);
    lua_Integer n = luaL_len(L, CRITS);
    size_t npieces = 0;
    for (lua_Integer i = 1; i <= n; i++) {
        luaL_checktype(L, (lua_rawgeti(L, CRITS, i), KEPT), LUA_TTABLE);
        luaL_checktype(L, (lua_rawgeti(L, KEPT, 1), UV), LUA_TSTRING);
        for (int j = 3; j < 3 + 2 * DECISION_LANGS; j++) {
            size_t len;
            if (lua_rawgeti(L, KEPT, j) == LUA_TSTRING) {
                const char *t = lua_tolstring(L, -1, &len);
                npieces += decision_split(L, t, len, NULL, 0, NULL, 0);
            }
            lua_pop(L, 1);
        }
        lua_settop(L, LABELS);
    }
    size_t size = sizeof(decision_kept) + (size_t)n * sizeof(decision_crit) + npieces * sizeof(decision_piece);
    decision_kept *kept = lua_newuserdatauv(L, size, 1);  /* p crits ruleset labels kept */
    kept->n = n;
    kept->crit = (decision_crit *)(kept + 1);
    kept->piece = (decision_piece *)(kept->crit + n);
    kept->params.n = 0;
    lua_createtable(L, (int)n + 32, 1);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, KEPT, 1);                        /* p crits ruleset labels kept uv */
    lua_newtable(L);
    lua_rawseti(L, -2, 0);                                /* uv[0]: canon_try_keys' strings */
    buf *head = bindings_push_buf(L, DECISION_JSON_MAX);   /* p crits ruleset labels kept uv head */
    for (int k = 0; k < DECISION_LANGS; k++) {            /* ... head en fr ar */
        lua_pushstring(L, decision_keys[K_EN + k]);
        if (lua_rawget(L, LABELS) != LUA_TTABLE) {
            lua_pop(L, 1);
            lua_newtable(L);
        }
    }
    int next = (int)n + 1;
    size_t used = 0;
    for (lua_Integer i = 1; i <= n; i++) {
        decision_crit *kc = &kept->crit[i - 1];
        kc->values.n = 0;
        lua_rawgeti(L, CRITS, i);                         /* ... e */
        lua_rawgeti(L, E, 2);
        lua_rawseti(L, UV, i);                            /* uv[i] = check */
        size_t len;
        const char *s = (lua_rawgeti(L, E, 1), lua_tolstring(L, -1, &len));   /* ... e id */
        buf_reset(head);
        if (buf_adds(head, "\"id\":") != 0 || canon_add_string(head, s, len) != 0 ||
            buf_adds(head, ",\"passed\":") != 0)
            return luaL_error(L, "JSON text over %d bytes", (int)head->cap);
        lua_pushlstring(L, head->data, head->len);        /* ... e id text */
        kc->head = lua_tolstring(L, -1, &kc->head_len);
        kc->head_utf8 = text_utf8_bad(kc->head, kc->head_len) == kc->head_len;
        lua_rawseti(L, UV, next++);                       /* held by uv */
        lua_pop(L, 1);
        for (int j = 0; j < 2 * DECISION_LANGS; j++) {
            int *first = &kc->tmpl[j / DECISION_LANGS][j % DECISION_LANGS];
            *first = -1;
            if (lua_rawgeti(L, E, 3 + j) == LUA_TSTRING) {   /* ... e template */
                const char *t = lua_tolstring(L, -1, &len);
                *first = (int)used;
                kc->plain[j / DECISION_LANGS][j % DECISION_LANGS] = (unsigned char)canon_plain(t, len);
                kc->utf8[j / DECISION_LANGS][j % DECISION_LANGS] = text_utf8_bad(t, len) == len;
                used += decision_split(L, t, len, kept->piece + used, UV, &next,
                                       LANG_LABELS + j % DECISION_LANGS);
                lua_rawseti(L, UV, next++);               /* held by uv */
            } else {
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
    }
    decision_keep_prefix(L, kept, RULESET, UV, &next, head);
    lua_pushvalue(L, P);
    lua_pushvalue(L, KEPT);
    lua_rawset(L, lua_upvalueindex(1));                   /* kept[p] = kept */
    lua_settop(L, 0);
    return 0;
}

/* decider(current, missing_words, message, MISSING, params, labels)
 *   -> decide, param, reset, json, keep, keep_params
 * [-0, +6, m] */
static int decision_decider(lua_State *L)
{
    enum { CURRENT = 1, WORDS, MESSAGE, MISSING, PARAMS, LABELS, BOX, KEPT, PKEPT };
    luaL_checktype(L, CURRENT, LUA_TTABLE);
    luaL_checktype(L, WORDS, LUA_TTABLE);
    luaL_checktype(L, MESSAGE, LUA_TFUNCTION);
    luaL_checktype(L, MISSING, LUA_TTABLE);
    luaL_checktype(L, PARAMS, LUA_TTABLE);
    luaL_checktype(L, LABELS, LUA_TTABLE);
    lua_settop(L, LABELS);
    decision_box *box = lua_newuserdatauv(L, sizeof *box, 0);   /* BOX */
    buf_init(&box->out, DECISION_CAP);
    buf_init(&box->one, DECISION_JSON_MAX);
    buf_init(&box->names, DECISION_CAP);
    box->nrecs = 0;
    box->criterion = 0;
    box->serial = 0;
    box->nused = 0;
    box->used_lua = 0;
    box->utf8 = 0;
    box->on = NULL;
    for (int k = 0; k < DECISION_SAID; k++)
        box->said[k].str = NULL;
    buf_init(&box->crit, DECISION_JSON_MAX);
    buf_init(&box->msg, DECISION_JSON_MAX);
    buf_init(&box->marks, DECISION_CAP);
    lua_newtable(L);
    lua_pushcfunction(L, decision_box_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, BOX);
    lua_pushvalue(L, BOX);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &decision_box_key);
    lua_newtable(L);                                      /* KEPT */
    lua_newtable(L);                                      /* PKEPT */

    lua_pushvalue(L, BOX);
    lua_pushvalue(L, CURRENT);
    lua_pushvalue(L, WORDS);
    lua_pushvalue(L, MESSAGE);
    lua_pushvalue(L, MISSING);
    lua_pushvalue(L, KEPT);
    lua_pushvalue(L, MISSING);
    lua_pushvalue(L, CURRENT);
    lua_pushcclosure(L, decision_raised, 2);
    for (int k = 0; k < K_COUNT; k++)
        lua_pushstring(L, decision_keys[k]);
    lua_pushvalue(L, LABELS);
    lua_createtable(L, DECISION_SAID, 0);                 /* UP_SAID */
    lua_pushcclosure(L, decision_decide, 9 + K_COUNT);    /* ... decide */
    lua_pushvalue(L, PARAMS);
    lua_pushvalue(L, CURRENT);
    lua_pushvalue(L, PKEPT);
    for (int k = 0; k < P_COUNT; k++)
        lua_pushstring(L, decision_param_keys[k]);
    lua_pushvalue(L, BOX);
    lua_pushcclosure(L, decision_param, 4 + P_COUNT);     /* ... decide param */
    lua_pushvalue(L, BOX);
    lua_pushcclosure(L, decision_reset, 1);               /* ... decide param reset */
    lua_pushvalue(L, BOX);
    lua_pushcclosure(L, decision_json, 1);                /* ... decide param reset json */
    lua_pushvalue(L, KEPT);
    lua_pushcclosure(L, decision_keep, 1);                /* ... decide param reset json keep */
    lua_pushvalue(L, PARAMS);
    lua_pushvalue(L, PKEPT);
    lua_pushcclosure(L, decision_keep_params, 2);         /* ... decide param reset json keep keep_params */
    return 6;
}

void decision_push(lua_State *L)
{
    lua_pushcfunction(L, decision_decider);
}
