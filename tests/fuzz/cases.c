/*
 * tests/fuzz/cases.c -- fuzz target: a programme file with its test cases,
 * and the applicant's earlier decisions.
 *
 * The `rules` target decides with a fuzzed programme file; this one drives
 * what it leaves out: the test cases beside the rules (engine_test, as
 * `eligo test`, `eligo serve` and a reload run them), the explanation of a
 * programme version (engine_explain, as `eligo audit show` asks for it), and
 * a history-aware rule's paths when the earlier decisions are odd or cannot
 * be read.  The input is up to three texts, cut at two marker lines:
 *
 *   ...fuzz.lua, the programme file...
 *   --- fuzz.test.lua
 *   ...fuzz.test.lua, its test cases...
 *   --- history
 *   ...what the history provider gives: a JSON array of earlier decisions;
 *      opened by '!', the provider writes the rest and then fails...
 *
 * Each part may be missing (no marker: no test file, no provider); a marker
 * is a Lua comment, so a part holding the other marker still loads.  The set
 * is the shipped rules/schema.lua beside fuzz.lua and fuzz.test.lua, built in
 * memory (ruleset_from_files).  If an engine builds from it, the target
 *   1. runs the test cases twice: both runs must count the same, since no
 *      state may survive a decision (a case's nor a request's);
 *   2. gives the engine the history provider, decides the first programme in
 *      force for one applicant, and replays the decision with the rows it
 *      recorded, as `eligo replay` does, without the provider: it must decide
 *      the same (outcome, criteria, missing data, parameters, rows);
 *   3. explains every programme in force, in the version in force, in Arabic,
 *      and a version the set does not have.
 * The engine runs with the small instruction budget and memory cap of the
 * `rules` target, so that a rule or a test file that loops or allocates
 * without end is stopped quickly.
 *
 * Beyond the sanitizers' findings, the target aborts when a result breaks
 * engine.h's contract: tests that did not run (-1), a report without a file
 * or a text, failures that do not match the reports or the return value; an
 * error code a rule cannot cause, or "internal" unless the provider failed
 * or gave what is not a JSON array in UTF-8 (engine.h);
 * a provider asked twice in one request, or asked in a replay; an error
 * without a message; a decision, a programme list or an explanation that is
 * not JSON in UTF-8; an explanation refused for a version the set has, or
 * given for one it has not.  (Error messages may hold any bytes: a rule's
 * error() writes them.)  FUZZ_VERBOSE=1 says what each input did.
 */
#define _GNU_SOURCE 1   /* memmem */
#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "ruleset.h"
#include "text.h"

#define FUZZ_NAME "cases"
#include "fuzz.h"

#define FUZZ_TEST_MARK "--- fuzz.test.lua\n"
#define FUZZ_HISTORY_MARK "--- history\n"

/* The input cut into its parts (pointers into it; absent: NULL, 0). */
typedef struct fuzz_parts {
    const char *rules, *tests, *history;
    size_t rules_len, tests_len, history_len;
} fuzz_parts;

static fuzz_parts fuzz_split(const char *s, size_t n)
{
    const char *end = s + n;
    const char *t = memmem(s, n, FUZZ_TEST_MARK, strlen(FUZZ_TEST_MARK));
    const char *h = memmem(s, n, FUZZ_HISTORY_MARK, strlen(FUZZ_HISTORY_MARK));
    const char *t_text = t ? t + strlen(FUZZ_TEST_MARK) : NULL;
    const char *h_text = h ? h + strlen(FUZZ_HISTORY_MARK) : NULL;
    fuzz_parts p = {.rules = s};
    /* Each part runs to the next marker that starts after it, or the end. */
    p.rules_len = (size_t)((t && (!h || t < h) ? t : h ? h : end) - s);
    if (t) {
        p.tests = t_text;
        p.tests_len = (size_t)((h && h >= t_text ? h : end) - t_text);
    }
    if (h) {
        p.history = h_text;
        p.history_len = (size_t)((t && t >= h_text ? t : end) - h_text);
    }
    return p;
}

/* The history provider: the input's history part, counted per request. */
typedef struct fuzz_provider {
    const char *text;
    size_t len;
    int calls;          /* since the last request began */
    int failed;         /* it failed in this request */
} fuzz_provider;

static int fuzz_history(void *ud, const char *applicant_id, buf *out)
{
    fuzz_provider *p = ud;
    if (!applicant_id)
        fuzz_fail("the provider was asked for no applicant", NULL);
    if (++p->calls > 1)
        fuzz_fail("the provider was asked twice in one request", applicant_id);
    if (p->len && p->text[0] == '!') {
        /* What a failing provider wrote must not be read. */
        (void)buf_add(out, p->text + 1, p->len - 1);
        p->failed = 1;
        return -1;
    }
    return buf_add(out, p->text, p->len) == 0 ? 0 : -1;
}

static int fuzz_no_history(void *ud, const char *applicant_id, buf *out)
{
    (void)ud;
    (void)out;
    fuzz_fail("a replay asked the provider", applicant_id);
    return -1;
}

static void fuzz_report(void *ud, const char *file, int line, const char *msg)
{
    int *n = ud;
    ++*n;
    fuzz_reported("test", file, line, msg);
}

static void fuzz_note(void *ud, const char *file, int line, const char *msg)
{
    (void)ud;
    if (fuzz_verbose())
        fprintf(stderr, "  note: %s:%d: %s\n", file ? file : "(null)", line, msg ? msg : "(null)");
    if (!file || !msg || !*msg)
        fuzz_fail("a coverage note without a file or a text", msg);
}

/* Run the test cases; *PASSED and *FAILED receive the counts. */
static void fuzz_tests(engine *en, int *passed, int *failed)
{
    int reports = 0;
    err e = {0};
    int rc = engine_test(en, fuzz_report, fuzz_note, &reports, passed, failed, &e);
    if (fuzz_verbose())
        fprintf(stderr, "  engine_test: %d, %d passed, %d failed\n", rc, *passed, *failed);
    if (rc < 0)
        fuzz_fail("the test cases did not run", e.msg);
    if (rc != (*failed > 0) || *passed < 0 || *failed < 0 || reports != *failed)
        fuzz_fail("engine_test's counts do not match its reports", NULL);
}

static int fuzz_is_json_utf8(const char *s, size_t n)
{
    cJSON *v = s ? cJSON_ParseWithLength(s, n) : NULL;
    cJSON_Delete(v);
    return v && strlen(s) == n && text_utf8_bad(s, n) == n;
}

/* Check R's contract.  Returns its decision's JSON, or NULL on an error. */
static const char *fuzz_check(const engine_result *r, const fuzz_provider *p)
{
    if (r && fuzz_verbose())
        fprintf(stderr, "  request: %s: %s\n", r->error_code ? r->error_code : "ok",
                r->error_code ? r->error_message : r->ndecisions ? r->decisions[0].json : "-");
    if (!r)
        fuzz_fail("no result", NULL);
    if (r->error_code) {
        /* A provider that fails, or gives what is no JSON array, is eligo's
         * trouble (engine.h), not the rule's. */
        int unreadable = p && !p->failed && !strcmp(r->error_code, "internal") && r->error_message &&
                         strstr(r->error_message, "earlier decisions could not be read: what was given is not");
        if (p && p->failed ? strcmp(r->error_code, "internal") != 0
                           : !unreadable && strcmp(r->error_code, "rule_error") &&
                                 strcmp(r->error_code, "unknown_program") &&
                                 strcmp(r->error_code, "invalid_applicant"))
            fuzz_fail(r->error_code, r->error_message);
        if (!r->error_message || !*r->error_message)
            fuzz_fail("an error without a message", r->error_code);
        return NULL;
    }
    if (p && p->failed)
        fuzz_fail("decided although the provider failed", r->ndecisions ? r->decisions[0].json : NULL);
    if (r->ndecisions != 1)
        fuzz_fail("a decide without one decision", NULL);
    const engine_decision *d = &r->decisions[0];
    if (!fuzz_is_json_utf8(d->json, d->json_len))
        fuzz_fail("a decision that is not JSON in UTF-8", d->json);
    return d->json;
}

/* Whether two decisions (JSON texts) decide the same: every member but the
 * decision's id and time. */
static int fuzz_same_decision(const char *a, const char *b)
{
    static const char *const members[] = {"program", "program_version", "ruleset", "as_of",
                                          "outcome", "criteria", "missing", "parameters",
                                          "history", NULL};
    cJSON *ja = cJSON_Parse(a), *jb = cJSON_Parse(b);
    int same = ja && jb;
    for (const char *const *m = members; same && *m; m++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(ja, *m);
        const cJSON *y = cJSON_GetObjectItemCaseSensitive(jb, *m);
        same = (!x && !y) || (x && y && cJSON_Compare(x, y, 1));
    }
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    return same;
}

/* Decide PROGRAM with the provider, then replay the decision with the rows
 * it recorded, as `eligo replay` gives them. */
static void fuzz_history_paths(engine *en, fuzz_provider *p, const char *program)
{
    buf line;
    buf_init(&line, (size_t)1 << 20);
    if (buf_adds(&line, "{\"id\":7,\"op\":\"decide\",\"program\":") != 0 ||
        buf_add_json_string(&line, program, strlen(program)) != 0 ||
        buf_adds(&line, ",\"as_of\":\"" FUZZ_AS_OF "\",\"applicant\":" FUZZ_APPLICANT "}") != 0)
        fuzz_fail("cannot build the request", program);

    engine_set_history(en, fuzz_history, p);
    p->calls = p->failed = 0;
    engine_result *r = engine_request(en, line.data, line.len, NULL);
    const char *json = fuzz_check(r, p);
    cJSON *d = json ? cJSON_Parse(json) : NULL;
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(d, "history");
    /* "history" goes last (rules.lua): the recorded rows are the text between
     * its last mention and the closing brace, as the store keeps them. */
    const char *at = NULL;
    for (const char *s = json; rows && (s = strstr(s, ",\"history\":")) != NULL; s++)
        at = s;
    if (rows && at) {
        char *recorded = strdup(at + strlen(",\"history\":"));
        if (!recorded)
            abort();
        recorded[strlen(recorded) - 1] = '\0';
        engine_defaults replay = {.history = recorded};
        engine_set_history(en, fuzz_no_history, NULL);
        engine_result *again = engine_request(en, line.data, line.len, &replay);
        const char *json2 = fuzz_check(again, NULL);
        /* The budget may end one and not the other: the recorded rows are
         * not the provider's text, and long strings are charged. */
        if (json2 && !fuzz_same_decision(json, json2)) {
            fprintf(stderr, "fuzz/cases: decided\n  %s\nreplayed\n  %s\n", json, json2);
            fuzz_fail("a replay with the recorded rows decided otherwise", recorded);
        }
        engine_result_free(again);
        free(recorded);
    }
    cJSON_Delete(d);
    engine_result_free(r);
    engine_set_history(en, NULL, NULL);
    buf_free(&line);
}

/* Explain PROGRAM VERSION; it is in the set when HAS is set. */
static void fuzz_explain(engine *en, const char *program, const char *version, int has)
{
    buf out;
    buf_init(&out, (size_t)16 << 20);
    err e = {0};
    int rc = engine_explain(en, program, version, "ar", "2025-03-01", &out, &e);
    if (fuzz_verbose())
        fprintf(stderr, "  explain %s %s: %d %s\n", program, version, rc, rc ? e.msg : out.data);
    if (has && rc != 0)
        fuzz_fail("a programme version in force that cannot be explained", e.msg);
    if (!has && (rc != -1 || !e.code || strcmp(e.code, "not_found") != 0))
        fuzz_fail("a version the set does not have, explained or refused but not as not_found", e.msg);
    if (rc == 0 && !fuzz_is_json_utf8(out.data, out.len))
        fuzz_fail("an explanation that is not JSON in UTF-8", out.data);
    buf_free(&out);
}

static void fuzz_engine(engine *en, const fuzz_parts *parts)
{
    int passed, failed, passed2, failed2;
    fuzz_tests(en, &passed, &failed);
    fuzz_tests(en, &passed2, &failed2);
    if (passed != passed2 || failed != failed2)
        fuzz_fail("the test cases counted otherwise when run again", NULL);

    buf list;
    buf_init(&list, (size_t)16 << 20);
    err e = {0};
    if (engine_programs(en, FUZZ_AS_OF, "fr", &list, &e) != 0)
        fuzz_fail("engine_programs failed", e.msg);
    cJSON *all = cJSON_ParseWithLength(list.data ? list.data : "", list.len);
    if (!cJSON_IsArray(all) || text_utf8_bad(list.data, list.len) != list.len)
        fuzz_fail("the programme list is not a JSON array in UTF-8", list.data);

    fuzz_provider p = {.text = parts->history, .len = parts->history_len};
    const cJSON *first = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(all, 0), "id");
    fuzz_history_paths(en, &p, cJSON_IsString(first) ? first->valuestring : "fuzz");

    const cJSON *prog;
    cJSON_ArrayForEach(prog, all) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(prog, "id");
        const cJSON *version = cJSON_GetObjectItemCaseSensitive(prog, "version");
        if (!cJSON_IsString(id) || !cJSON_IsString(version))
            fuzz_fail("a programme in force without an id or a version", list.data);
        fuzz_explain(en, id->valuestring, version->valuestring, 1);
    }
    fuzz_explain(en, cJSON_IsString(first) ? first->valuestring : "fuzz", "no such version", 0);
    cJSON_Delete(all);
    buf_free(&list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_parts parts = fuzz_split((const char *)data, size);
    ruleset_file files[3] = {
        *fuzz_schema(),
        {.name = "fuzz.lua", .text = parts.rules, .len = parts.rules_len},
        {.name = "fuzz.test.lua", .text = parts.tests, .len = parts.tests_len},
    };
    err e = {0};
    ruleset *rs = ruleset_from_files(files, parts.tests ? 3 : 2, &e);
    if (!rs) {
        if (size <= (size_t)4 << 20)
            fuzz_fail("ruleset_from_files refused a valid set", e.msg);
        return 0;
    }
    engine *en = engine_new(rs, &fuzz_config, &e);
    ruleset_free(rs);   /* the engine holds its own reference */
    if (!en) {
        if (fuzz_verbose())
            fprintf(stderr, "  engine_new: %s: %s\n", e.code ? e.code : "(null)", e.msg);
        if (!e.code || strcmp(e.code, "rule_error") != 0)
            fuzz_fail("engine_new failed with a code a rule cannot cause", e.msg);
        return 0;
    }
    fuzz_engine(en, &parts);
    engine_free(en);
    return 0;
}
