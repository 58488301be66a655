/*
 * tests/fuzz/fuzz.h -- what the rules and cases targets share: the small
 * engine limits, the applicant they decide, failing, FUZZ_VERBOSE and the
 * shipped schema.  Define FUZZ_NAME ("rules", "cases") before including it.
 */
#ifndef ELIGO_FUZZ_H
#define ELIGO_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#include "engine.h"
#include "ruleset.h"

/* Small, so that runaway rules end fast; the shipped rules fit in them. */
static const engine_config fuzz_config = {.instructions = 20000, .memory = (size_t)8 << 20};

#define FUZZ_AS_OF "2025-06-01"
#define FUZZ_APPLICANT                                                                        \
    "{\"applicant_id\":\"F1\",\"birth_date\":\"1995-04-03\",\"nationality\":\"MA\","         \
    "\"residence\":\"MA\",\"region\":\"Rabat-Sal\\u00e9-K\\u00e9nitra\",\"education\":\"bac+3\"," \
    "\"registered_with_agency\":true,\"employment_status\":\"unemployed\","                  \
    "\"unemployed_since\":\"2024-09-01\",\"monthly_household_income\":4000.5,"               \
    "\"household_size\":4,\"disability\":false,\"in_training\":false,"                        \
    "\"business\":{\"sector\":\"digital\",\"plan_submitted\":true,\"project_cost\":90000,"   \
    "\"own_contribution\":12000,\"expected_turnover\":150000,\"legal_form\":\"sarl\"},"      \
    "\"previous_benefits\":[{\"program\":\"taehil\",\"date\":\"2021-10-01\"}]}"

static void fuzz_fail(const char *why, const char *detail)
{
    fprintf(stderr, "fuzz/" FUZZ_NAME ": %s\n  %s\n", why, detail ? detail : "(null)");
    abort();
}

/* FUZZ_VERBOSE=1 in the environment: say what each input did. */
static int fuzz_verbose(void)
{
    static int v = -1;
    if (v < 0)
        v = getenv("FUZZ_VERBOSE") != NULL;
    return v;
}

/* The shipped schema, read once. */
static const ruleset_file *fuzz_schema(void)
{
    static ruleset_file schema;
    static char *text;
    if (text)
        return &schema;
    FILE *f = fopen(ELIGO_SOURCE_DIR "/rules/schema.lua", "rb");
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (text = malloc((size_t)n + 1)) != NULL && fread(text, 1, (size_t)n, f) == (size_t)n) {
        text[n] = '\0';
    } else {
        fuzz_fail("cannot read", ELIGO_SOURCE_DIR "/rules/schema.lua");
    }
    fclose(f);
    schema = (ruleset_file){.name = "schema.lua", .text = text, .len = (size_t)n};
    return &schema;
}

/* A report of engine_lint or engine_test (WHAT) must name a file and say
 * something. */
static void fuzz_reported(const char *what, const char *file, int line, const char *msg)
{
    if (fuzz_verbose())
        fprintf(stderr, "  %s: %s:%d: %s\n", what, file ? file : "(null)", line,
                msg ? msg : "(null)");
    if (!file || !msg || !*msg) {
        char why[64];
        snprintf(why, sizeof why, "a %s report without a file or a text", what);
        fuzz_fail(why, msg);
    }
}

#endif
