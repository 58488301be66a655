/*
 * tests/fuzz/rules.c -- fuzz target: the text of one programme file.
 *
 * The input is the text of a rule file, "fuzz.lua", put in a rule set
 * beside the shipped rules/schema.lua (read once, the first time round); the
 * set is built in memory (ruleset_from_files), never written to disk.  If an
 * engine builds from it, the target asks for the programmes in force, decides
 * the first of them and screens all of them for one fixed applicant, and
 * lints the set (which builds a second engine, reporting problems instead of
 * stopping at the first).
 *
 * The engine runs with a small instruction budget and memory cap, so that a
 * rule that loops or allocates without end is stopped quickly.  Whatever the
 * rule text does inside the sandbox, our C code (bindings/, core/) must not
 * crash, leak, hit undefined behaviour or abort; and a result must keep
 * engine.h's contract.  The target aborts when it does not: no result, an
 * error code a rule cannot cause, an error without a message, a decision or
 * programme list that is not JSON in UTF-8, a lint report without a text.
 * (Error messages may hold any bytes: a rule's error() writes them.)
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

#define FUZZ_NAME "rules"
#include "fuzz.h"

static void fuzz_report(void *ud, const char *file, int line, const char *msg)
{
    (void)ud;
    fuzz_reported("lint", file, line, msg);
}

static void fuzz_check(const engine_result *r)
{
    if (r && fuzz_verbose())
        fprintf(stderr, "  %s: %s\n", r->error_code ? r->error_code : "ok",
                r->error_code ? r->error_message : r->ndecisions ? r->decisions[0].outcome : "-");
    if (!r)
        fuzz_fail("no result", NULL);
    if (r->error_code) {
        if (strcmp(r->error_code, "rule_error") && strcmp(r->error_code, "unknown_program") &&
            strcmp(r->error_code, "invalid_applicant"))
            fuzz_fail(r->error_code, r->error_message);
        if (!r->error_message || !*r->error_message)
            fuzz_fail("an error without a message", r->error_code);
        return;
    }
    for (size_t i = 0; i < r->ndecisions; i++) {
        const engine_decision *d = &r->decisions[i];
        cJSON *v = d->json ? cJSON_ParseWithLength(d->json, d->json_len) : NULL;
        cJSON_Delete(v);
        if (!v || strlen(d->json) != d->json_len ||
            text_utf8_bad(d->json, d->json_len) != d->json_len)
            fuzz_fail("a decision that is not JSON in UTF-8", d->json);
    }
}

/* Decide the first programme in force, then screen them all. */
static void fuzz_requests(engine *en)
{
    buf list;
    buf_init(&list, (size_t)16 << 20);
    err e = {0};
    char program[256] = "fuzz";
    if (engine_programs(en, FUZZ_AS_OF, "fr", &list, &e) == 0) {
        cJSON *all = cJSON_ParseWithLength(list.data ? list.data : "", list.len);
        if (!cJSON_IsArray(all) || text_utf8_bad(list.data, list.len) != list.len)
            fuzz_fail("the programme list is not a JSON array in UTF-8", list.data);
        cJSON *id = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(all, 0), "id");
        if (cJSON_IsString(id))
            snprintf(program, sizeof program, "%s", id->valuestring);
        cJSON_Delete(all);
    }
    buf_free(&list);

    buf line;
    buf_init(&line, (size_t)1 << 20);
    if (buf_adds(&line, "{\"id\":7,\"op\":\"decide\",\"program\":") != 0 ||
        buf_add_json_string(&line, program, strlen(program)) != 0 ||
        buf_adds(&line, ",\"as_of\":\"" FUZZ_AS_OF "\",\"applicant\":" FUZZ_APPLICANT "}") != 0)
        fuzz_fail("cannot build the request", program);
    engine_result *r = engine_request(en, line.data, line.len, NULL);
    fuzz_check(r);
    engine_result_free(r);
    buf_free(&line);

    static const char screen[] =
        "{\"id\":8,\"op\":\"screen\",\"as_of\":\"" FUZZ_AS_OF "\",\"lang\":\"ar\","
        "\"applicant\":" FUZZ_APPLICANT "}";
    r = engine_request(en, screen, sizeof screen - 1, NULL);
    fuzz_check(r);
    engine_result_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ruleset_file files[2] = {
        *fuzz_schema(),
        {.name = "fuzz.lua", .text = (const char *)data, .len = size},
    };
    err e = {0};
    ruleset *rs = ruleset_from_files(files, 2, &e);
    if (!rs) {
        if (size <= (size_t)4 << 20)
            fuzz_fail("ruleset_from_files refused a valid set", e.msg);
        return 0;
    }
    engine *en = engine_new(rs, &fuzz_config, &e);
    if (en) {
        fuzz_requests(en);
        engine_free(en);
    } else if (fuzz_verbose()) {
        fprintf(stderr, "  engine_new: %s: %s\n", e.code ? e.code : "(null)", e.msg);
    }
    if (!en && (!e.code || strcmp(e.code, "rule_error") != 0))
        fuzz_fail("engine_new failed with a code a rule cannot cause", e.msg);
    e = (err){0};
    /* -1 is for a set that could not even be checked: a seal that fails
     * (a rule_error) may give it, nothing else may. */
    if (engine_lint(rs, &fuzz_config, fuzz_report, NULL, &e) < 0 &&
        (!e.code || strcmp(e.code, "rule_error") != 0))
        fuzz_fail("engine_lint could not run", e.msg);
    ruleset_free(rs);
    return 0;
}
