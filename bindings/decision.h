/*
 * decision.h -- one decision of one programme, written as canonical JSON.
 *
 * The criterion loop of the rule language runs here, in C, because it is
 * the engine's inner loop: for each criterion it calls the check (protected,
 * like Lua's pcall), renders the message, and writes the criterion's JSON;
 * then it writes the whole decision exactly as canon.h would encode the
 * table rules.lua used to build (keys in the order id, passed, message,
 * values, missing for a criterion; decision_id, program, program_version,
 * ruleset, as_of, lang, outcome, criteria, missing, parameters, decided_at
 * for a decision), without building those tables.  Everything a rule can
 * observe (the order of calls, metamethods run by
 * indexing, when values are encoded) is as it was in Lua.
 *
 * decision_push pushes the function rules.lua calls:
 *
 *   decide, param, reset, json, keep, keep_params =
 *       decider(current, missing_words, message, MISSING, params, labels)
 *   i = decide(p, a, on, lang, now, ruleset)
 *   keep(p, crits, ruleset, labels)
 *   keep_params()
 *
 * decide writes the decision on the C side and returns its number I (from
 * 1) since the last reset(); decision_written gives its parts to C, and
 * json(i) its canonical JSON to Lua.  A request calls reset() first.
 * While it runs, current.as_of, current.params (the parameters param()
 * read, when they are not all kept in C: see decision.c) and
 * current.program name what is being decided, and decision_criterion the
 * criterion; all but current.program are cleared when the decision is
 * done.  decide also resets
 * current.history_used, and when the rules read the applicant's earlier
 * decisions (rules.lua's earlier() sets it) the JSON ends with "history":
 * current.history_json, after decided_at.  param(name) is the value of a
 * parameter in force on current.as_of; it raises (naming the rule's line)
 * for a parameter not declared or without a value in force.
 *
 * keep(p, crits) hands decide what reading programme P's criteria gives (id,
 * check, message template per outcome and language, read raw by rules.lua):
 * rules.lua calls it at seal when no such read can run rule code, so that
 * the reads would give the same on every decision.  decide then writes each
 * criterion's head as kept and fills its template split once at its names.
 * keep_params(), also at seal, keeps the dated values of every parameter
 * declared, which param() then searches without reading the tables.
 * LABELS, filled at seal, holds the display names of the schema's enum
 * fields and scales in each language, labels[lang][field][code]: a
 * template's "{name|field}" shows the value of name by them.
 *
 * On a criterion that cannot be decided it returns nil, KIND, I, VALUE with
 * KIND 1 (the check returned VALUE, not a boolean), 2 (its second value is
 * not a table) or 3 (it raised VALUE); KIND 4 means a value has no JSON form
 * (VALUE says why), or that the decision's text would be over
 * DECISION_JSON_MAX.  rules.lua turns these into its request errors.  Kinds
 * 1 to 3 leave current as it is, as the Lua loop did.
 */
#ifndef ELIGO_DECISION_H
#define ELIGO_DECISION_H

#include <lua.h>
#include <stddef.h>

struct buf;

/* At most this many decisions in one request (rules.lua: MAX_PROGRAMMES). */
#define DECISION_MAX 64

/* A decision's JSON text is at most this long (1 MiB, as a request line by
 * default): a longer one, which only a rule's values or messages can make, is
 * a rule_error.  It bounds too what C holds outside the Lua state's memory
 * cap while a decision is written. */
#define DECISION_JSON_MAX ((size_t)1 << 20)

/* Where decision_written finds the parts of a decision; valid until the
 * next reset(). */
typedef struct decision_out {
    const char *json;
    size_t json_len;
    const char *decision_id, *program, *program_version, *outcome;   /* NULL when absent */
    /* 1 when every byte of JSON is known to be UTF-8, each piece having
     * been looked at as it was written (or kept); 0 when some piece was
     * not, and the caller must look over JSON itself. */
    int utf8;
} decision_out;

/* The number (from 1) in current.program.criteria of the criterion being
 * decided, or 0 when none is.  [-0, +0, -] */
lua_Integer decision_criterion(lua_State *L);

/* How many criteria L has begun to decide, ever: whether something seen
 * while one ran was seen in the one running now.  [-0, +0, -] */
lua_Integer decision_serial(lua_State *L);

/* Forget the criterion being decided: a call stopped inside one is over. */
void decision_forget(lua_State *L);

/* The I-th decision (from 1) decide wrote since the last reset() in L.
 * Returns 0, or -1 when there is none.  [-0, +0, -] */
int decision_written(lua_State *L, lua_Integer i, decision_out *out);

/* Where byte OFF of a decision's JSON (LEN bytes) lies, for a message:
 * ", in criterion ID" when inside a criterion's object, else "" (the
 * decision's own fields).  Into OUT (N bytes). */
void decision_where(const char *json, size_t len, size_t off, char *out, size_t n);

/* Push decider (see above).  [-0, +1, m] */
void decision_push(lua_State *L);

/* Append TEMPLATE (N bytes) to OUT with every "{name}" replaced by the
 * value VALUES[name] (the table at index VALUES, read raw, a frozen table's
 * contents) as bindings_format writes it; a name with no value, or VALUES
 * not a table, leaves "{name}" as it is.  A "{name|field}" that VALUES does
 * not hold as written shows VALUES[name] by its display name in
 * LABELS[LANG][field] (the tables at index LABELS and LANG; LABELS 0: none),
 * when it is a string that has one.  Returns 0, or -1 when OUT's cap is
 * reached.  [-0, +0, e] */
int decision_render(lua_State *L, const char *template, size_t n, int values, int labels, int lang,
                    struct buf *out);

#endif
