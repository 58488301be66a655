/*
 * tests/fuzz/request.c -- fuzz target: one request line into the engine.
 *
 * The input is the text of one request line, as a client would send it.  It
 * goes to engine_request three times, on one engine built from the shipped
 * rules/ the first time round (and kept, so that each input costs requests,
 * not a rule set's compilation):
 *   1. with no defaults, as the server passes it;
 *   2. with the defaults of `eligo eval --program intelaka` (op decide, a
 *      programme, a date, French), so that a line without "op" decides;
 *   3. with op screen and the recorded history of a replay, in Arabic.
 * The shipped rules read no past, so Intelaka gets the history-aware
 * criterion the integration tests add (tests/fixtures/history), and a
 * history provider gives every applicant two earlier decisions, so that it
 * reads rows.
 *
 * Beyond the sanitizers' findings (crash, leak, undefined behaviour), the
 * target aborts when a result breaks engine.h's contract: no result, an
 * error code that is not the protocol's, "internal" (which the shipped rules
 * never cause: any input that does is a bug in our code), an error without a
 * message, an id or decision that is not JSON, a reply's text that is not
 * UTF-8, or an outcome not in the list.
 */
#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "ruleset.h"
#include "text.h"

static const char fuzz_history[] =
    "[{\"decision_id\":\"01JN0000000000000000000002\",\"program\":\"intelaka\","
    "\"program_version\":\"2025.1\",\"outcome\":\"ineligible\",\"as_of\":\"2025-02-10\","
    "\"decided_at\":\"2025-02-10T09:00:00.000Z\"},"
    "{\"decision_id\":\"01JN0000000000000000000001\",\"program\":\"idmaj\","
    "\"program_version\":\"2025.1\",\"outcome\":\"eligible\",\"as_of\":\"2024-11-02\","
    "\"decided_at\":\"2024-11-02T09:00:00.000Z\"}]";

static int fuzz_provider(void *ud, const char *applicant_id, buf *out)
{
    (void)ud;
    (void)applicant_id;
    return buf_adds(out, fuzz_history);
}

/* Print why, and abort: libFuzzer (or replay.c's caller) records the input. */
static void fuzz_fail(const char *why, const engine_result *r)
{
    fprintf(stderr, "fuzz/request: %s\n  error_code: %s\n  error_message: %s\n", why,
            r && r->error_code ? r->error_code : "(null)",
            r && r->error_message ? r->error_message : "(null)");
    abort();
}

/* The whole of file PATH, malloc'd and NUL-terminated; NULL when it cannot
 * be read. */
static char *fuzz_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *t = NULL;
    long n;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (t = malloc((size_t)n + 1)) && fread(t, 1, (size_t)n, f) == (size_t)n)
        t[n] = '\0';
    else
        free(t), t = NULL;
    if (f)
        fclose(f);
    return t;
}

/* The shipped rules, with the fixture's parameter before the programme in
 * intelaka.lua and its criterion at the end of the programme's criteria
 * (as tests/integration/replay.py, add_refusal).  NULL when out of reach. */
static ruleset *fuzz_rules(err *e)
{
    ruleset *shipped = ruleset_load(ELIGO_SOURCE_DIR "/rules", e);
    char *fix = fuzz_read(ELIGO_SOURCE_DIR "/tests/fixtures/history/no_recent_refusal.lua");
    char *param = fix ? strstr(fix, "--- parameter\n") : NULL;
    char *crit = fix ? strstr(fix, "--- criterion\n") : NULL;
    ruleset *rs = NULL;
    size_t n = shipped ? ruleset_count(shipped) : 0;
    ruleset_file *files = calloc(n ? n : 1, sizeof *files);
    char *patched = NULL;
    if (shipped && param && crit && files) {
        param += 14, *crit = '\0', crit += 14;
        for (size_t i = 0; i < n; i++) {
            files[i] = *ruleset_file_at(shipped, i);
            const char *at = strcmp(files[i].name, "intelaka.lua") ? NULL
                             : strstr(files[i].text, "program \"intelaka\" {");
            const char *end = at ? strrchr(files[i].text, '}') : NULL;
            size_t len = files[i].len + strlen(param) + strlen(crit) + 8;
            if (end && (patched = malloc(len))) {
                snprintf(patched, len, "%.*s%s\n%.*s%s}\n", (int)(at - files[i].text),
                         files[i].text, param, (int)(end - at), at, crit);
                files[i].text = patched;
                files[i].len = strlen(patched);
            }
        }
        if (patched)
            rs = ruleset_from_files(files, n, e);
    }
    if (!rs && shipped && !e->msg[0])
        err_set(e, "internal", "tests/fixtures/history/no_recent_refusal.lua could not be read "
                "or put into intelaka.lua");
    free(patched);
    free(files);
    free(fix);
    ruleset_free(shipped);
    return rs;
}

static engine *fuzz_engine(void)
{
    static engine *en;
    if (en)
        return en;
    err e = {0};
    ruleset *rs = fuzz_rules(&e);
    if (rs)
        en = engine_new(rs, NULL, &e);
    ruleset_free(rs);
    if (!en) {
        fprintf(stderr, "fuzz/request: the shipped rules, with the history fixture, do not "
                "load: %s\n", e.msg);
        abort();
    }
    engine_set_history(en, fuzz_provider, NULL);
    return en;
}

static int fuzz_is_json(const char *s, size_t n)
{
    cJSON *v = cJSON_ParseWithLength(s, n);
    cJSON_Delete(v);
    return v != NULL;
}

static int fuzz_is_utf8(const char *s)
{
    size_t n = strlen(s);
    return text_utf8_bad(s, n) == n;
}

static void fuzz_check(const engine_result *r)
{
    static const char *const codes[] = {"invalid_json", "invalid_request", "unknown_op",
                                        "unknown_program", "invalid_applicant", "rule_error",
                                        NULL};
    if (!r)
        fuzz_fail("no result", r);
    if (!r->id || !fuzz_is_json(r->id, strlen(r->id)))
        fuzz_fail("the id is not JSON", r);
    if (r->error_code) {
        const char *const *c = codes;
        while (*c && strcmp(*c, r->error_code) != 0)
            c++;
        if (!*c)
            fuzz_fail("an error code a bad request must not get", r);
        if (!r->error_message || !*r->error_message)
            fuzz_fail("an error without a message", r);
        if (!fuzz_is_utf8(r->error_message))
            fuzz_fail("an error message that is not UTF-8", r);
        if (r->ndecisions)
            fuzz_fail("an error with decisions", r);
        return;
    }
    for (size_t i = 0; i < r->ndecisions; i++) {
        const engine_decision *d = &r->decisions[i];
        if (!d->json || strlen(d->json) != d->json_len || !fuzz_is_json(d->json, d->json_len) ||
            !fuzz_is_utf8(d->json))
            fuzz_fail("a decision that is not JSON in UTF-8", r);
        if (!d->outcome || (strcmp(d->outcome, "eligible") && strcmp(d->outcome, "ineligible") &&
                            strcmp(d->outcome, "incomplete")))
            fuzz_fail("an outcome not in the list", r);
        if (!d->decision_id || strlen(d->decision_id) != 26)
            fuzz_fail("a decision id that is not 26 characters", r);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const engine_defaults variations[] = {
        {.op = ENGINE_OP_DECIDE, .program = "intelaka", .as_of = "2025-06-01", .lang = "fr"},
        {.op = ENGINE_OP_SCREEN, .as_of = "2025-06-01", .lang = "ar", .history = fuzz_history},
    };
    engine *en = fuzz_engine();
    engine_result *r = engine_request(en, (const char *)data, size, NULL);
    fuzz_check(r);
    engine_result_free(r);
    for (size_t i = 0; i < sizeof variations / sizeof variations[0]; i++) {
        r = engine_request(en, (const char *)data, size, &variations[i]);
        fuzz_check(r);
        engine_result_free(r);
    }
    return 0;
}
