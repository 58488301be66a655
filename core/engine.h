/*
 * engine.h -- decide applications with a rule set, in a sandboxed Lua state.
 *
 * An engine is one lua_State holding one compiled rule set.  It is not
 * thread-safe: each worker thread owns its own engine, all built from the same
 * (shared, immutable, reference-counted) ruleset.  The engine parses request
 * lines itself (JSON is decoded straight into Lua tables), so a worker hands it
 * the raw line and gets back everything the store and the reply need.
 *
 * A request line is one JSON object:
 *   {"id":..., "op":"decide", "program":"idmaj", "applicant":{...},
 *    "as_of":"2025-03-01", "lang":"fr", "request_key":"..."}
 * "op" may be left out when engine_defaults gives one (the offline `eval`).
 * For ops the engine does not decide itself (decision, history, programs,
 * health, review), engine_request only validates the envelope and returns its
 * fields; the caller answers from the store or from engine_programs().
 */
#ifndef ELIGO_ENGINE_H
#define ELIGO_ENGINE_H

#include <stddef.h>
#include <string.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "ruleset.h"

typedef struct engine engine;

/* Limits for every evaluation; 0 means the default. */
typedef struct engine_config {
    uint64_t instructions;   /* Lua VM instructions per request (default 1,000,000) */
    size_t memory;           /* bytes the whole lua_State may hold (default 64 MiB) */
    uint64_t time_ms;        /* wall-clock milliseconds per request (default 1000) */
    int counted;             /* 1: every request is counted from its first instruction,
                                with no uncounted first attempt (engine_request); for
                                tests, which compare the two ways */
} engine_config;

#define ENGINE_DEFAULT_INSTRUCTIONS 1000000u
#define ENGINE_DEFAULT_MEMORY ((size_t)64 << 20)
#define ENGINE_DEFAULT_TIME_MS 1000u

typedef enum engine_op {
    ENGINE_OP_NONE = 0,
    ENGINE_OP_DECIDE,
    ENGINE_OP_SCREEN,
    ENGINE_OP_DECISION,
    ENGINE_OP_HISTORY,
    ENGINE_OP_PROGRAMS,
    ENGINE_OP_HEALTH,
    ENGINE_OP_REVIEW,
} engine_op;

/* The wire name of OP ("decide", ...), NULL for ENGINE_OP_NONE. */
const char *engine_op_name(engine_op op);

/* Values used for fields a request line leaves out.  Any member may be
 * NULL/NONE.  When as_of is NULL and the line has none, today's date is used. */
typedef struct engine_defaults {
    engine_op op;
    const char *program;
    const char *as_of;
    const char *lang;
    const char *history;   /* replay: the applicant's earlier decisions as
                              recorded with the original decision (a JSON
                              array, see engine_history_fn); when set, rules
                              read these rows instead of asking the provider */
} engine_defaults;

/* One decision, as decided (not yet stored). */
typedef struct engine_decision {
    const char *decision_id;      /* 26 characters, unique, sortable by time */
    const char *program;
    const char *program_version;
    const char *outcome;          /* eligible | ineligible | incomplete */
    const char *json;             /* the decision in canonical JSON (see README) */
    size_t json_len;
} engine_decision;

/* Everything engine_request learnt; one allocation, freed in one step by
 * engine_result_free.  Strings are NUL-terminated, NULL when absent. */
typedef struct engine_result {
    engine_op op;
    const char *id;               /* the request's "id", as JSON text ("null" when absent) */
    const char *error_code;       /* NULL on success, else a protocol error code */
    const char *error_message;    /* what was wrong and where */

    /* Envelope fields. */
    const char *program;          /* decide */
    const char *as_of;            /* decide/screen: the date actually used */
    const char *lang;             /* en | fr | ar (default en) */
    const char *request_key;      /* idempotency key */
    const char *applicant_id;     /* applicant.applicant_id, when present */
    const char *fingerprint;      /* 64 hex: SHA-256 of the canonical
                                     {op, program, as_of as given, applicant};
                                     the same application gives the same value */
    const char *decision_id;      /* op decision / review: the decision asked about */
    const char *body;             /* op review: the request's "review" object as
                                     canonical JSON; history: NULL */
    long limit;                   /* op history: "limit" (default 100) */

    /* Decisions (decide: 1, screen: one per programme in force). */
    size_t ndecisions;
    engine_decision *decisions;
    const char *ruleset;          /* hash of the rule set that decided */
} engine_result;

/* Compile RS into a new engine.  Takes its own reference to RS.  Returns NULL
 * with E set ("rule_error" and "file:line: message") when the rule set does
 * not load: use engine_lint to see every problem. */
engine *engine_new(ruleset *rs, const engine_config *cfg, err *e);

/* Free the engine and its Lua state; drops its reference to the rule set.
 * NULL is fine. */
void engine_free(engine *en);

/* The rule set EN decides with, valid as long as EN is: the reference
 * stays the engine's. */
const ruleset *engine_ruleset(const engine *en);

/* The signal the engine's watchdog sends a thread that decides requests
 * (engine_request), from a timer on that thread's CPU clock made at its
 * first request: the engine installs its handler, with SA_RESTART, unless
 * the program has one for it, and unblocks it in that thread.  (Requests
 * are then always counted.) */
#define ENGINE_WATCH_SIGNAL (SIGRTMIN + 2)

/* Decode and carry out one request line.  Always returns a result (NULL only
 * when memory is exhausted); a bad request is a result with error_code set.
 * A rule that errs, loops or allocates without end gives "rule_error" naming
 * the programme, criterion, file and line; the engine stays usable.
 * A request is first decided without counting its instructions, and that
 * result is kept only when the time it took proves the budget could not
 * have stopped it; else it is decided again, counted (engine.c,
 * ENGINE_FAST_RATE).  The result is the same either way. */
engine_result *engine_request(engine *en, const char *line, size_t len,
                              const engine_defaults *defaults);

/* How many of EN's requests the uncounted first attempt decided (see
 * engine_request in engine.c), and how many it was tried on. */
void engine_fast_counts(const engine *en, uint64_t *kept, uint64_t *tried);

/* The same, for every engine of the process since it started (whichever
 * thread each runs on): what `health` reports. */
void engine_fast_totals(uint64_t *kept, uint64_t *tried);

/* Allow INSTRUCTIONS (0: the default) to each of EN's requests from now
 * on, as engine_config.instructions does from the first: for tests, so that
 * a request can be decided under a budget too small to load its rule set
 * (each file loads under a hundred budgets), or after others that needed
 * more.  An engine that makes no fast attempts (engine_config.counted, or
 * too small a budget) still makes none. */
void engine_set_instructions(engine *en, uint64_t instructions);

/* Free R, strings and decisions with it (one block).  NULL is fine. */
void engine_result_free(engine_result *r);

/* Append to OUT the JSON array of programmes in force on AS_OF (NULL: today),
 * with id, title, version, from, to, reference and criteria texts in LANG. */
int engine_programs(engine *en, const char *as_of, const char *lang, buf *out, err *e);

/* History-aware rules.  A rule may ask for the applicant's earlier decisions
 * (rules.lua: earlier(a)).  The engine asks the provider set here, at most
 * once per request, for the applicant's decisions: it appends to OUT a JSON
 * array, newest first, of objects
 *   {"decision_id", "program", "program_version", "outcome", "as_of",
 *    "decided_at"}
 * ("outcome" where the decision stands, with "decision_outcome", its own,
 * after it when a review overrode it: store_applicant_decisions) and
 * returns 0 (-1 on failure: the request then fails with "internal", as it
 * does when what the provider gave, or the rows a replay gives, are not a
 * JSON array in UTF-8, read as strictly as a request).
 * The rows a decision's rules read are recorded in that decision's JSON
 * ("history"), so that a replay can give the rules the same rows
 * (engine_defaults.history).  Without a provider, rules see no earlier
 * decisions.  UD is passed back as is. */
typedef int engine_history_fn(void *ud, const char *applicant_id, buf *out);
void engine_set_history(engine *en, engine_history_fn *fn, void *ud);

/* Explain programme PROGRAM version VERSION of the engine's rule set (for
 * audits): append to OUT one JSON object
 *   {"program", "version", "from", "to", "title", "reference", "file", "line",
 *    "criteria": [{"id", "text", "reference", "file", "first_line",
 *                  "last_line", "source"}],      source: the check's text
 *    "parameters": {"name": {"reference", "file", "line",
 *                            "values": [{"from", "to", "value", "reference"}]}}}
 * with texts in LANG (English when missing), the parameters a criterion's
 * text names given their values in force on AS_OF (the decision's date; as
 * written when NULL).  -1 with E "not_found" when the rule set has no such
 * version. */
int engine_explain(engine *en, const char *program, const char *version, const char *lang,
                   const char *as_of, buf *out, err *e);

/* Report every problem in RS, one call of REPORT per problem, without
 * stopping at the first: syntax errors, duplicate ids, missing languages,
 * undeclared parameters, overlapping or missing validity dates.  Returns the
 * number of problems (0 = clean), or -1 with E set if nothing could run. */
typedef void engine_report_fn(void *ud, const char *file, int line, const char *msg);
int engine_lint(ruleset *rs, const engine_config *cfg, engine_report_fn *report, void *ud, err *e);

/* How engine_lint begins the message of a warning: something the set most
 * likely gets wrong, which a scan of its text cannot be sure of.  REPORT
 * is called with it, and it is not counted among the problems. */
#define ENGINE_WARNING "warning: "

/* MSG's text after ENGINE_WARNING when it is a warning's, else NULL. */
static inline const char *engine_warning(const char *msg)
{
    size_t n = sizeof ENGINE_WARNING - 1;
    return msg && !strncmp(msg, ENGINE_WARNING, n) ? msg + n : NULL;
}

/* Append to OUT, as JSON, the dated values of every parameter of EN's rule
 * set, for engine_param_edits to compare a later set with.  Returns 0, or -1
 * with E set (OUT then holds what was appended before the error, if any). */
int engine_param_values(engine *en, buf *out, err *e);

/* Compare EN's parameters with BEFORE (LEN bytes of engine_param_values'
 * JSON of the set before it): each stretch of days on or before TODAY
 * ("YYYY-MM-DD") where a parameter both declare had a value and now has
 * another, or none, is reported through REPORT as a warning (ENGINE_WARNING)
 * at the value in force now, else at the parameter: decisions of those days
 * are already made.  Returns 0, or -1 with E set. */
int engine_param_edits(engine *en, const char *before, size_t len, const char *today,
                       engine_report_fn *report, void *ud, err *e);


/* Run the test cases (*.test.lua) of the engine's rule set.  Each failing case
 * is reported through REPORT (file, line, expected and actual in msg); each
 * criterion no case makes fail, or no case makes pass, is reported through
 * NOTE (may be NULL).  *PASSED and *FAILED receive the counts.  Returns 0 when
 * all passed, 1 when some failed, -1 with E set when the tests did not run. */
int engine_test(engine *en, engine_report_fn *report, engine_report_fn *note, void *ud,
                int *passed, int *failed, err *e);

#endif
