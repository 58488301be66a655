/*
 * synth.h -- synthetic applications for load tests.
 *
 * A deterministic generator (same seed, same applications) of applicants that
 * exercise every criterion of the shipped programmes: ages on both sides of
 * 18, 35 and 45, birthdays on the decision date and on 29 February, every
 * education level and employment status, businesses of every sector or none,
 * household incomes on both sides of the 1,500 MAD per person ceiling, project
 * costs and contributions at their limits, earlier benefits inside and outside
 * the waiting periods, decision dates throughout 2025.  The fields are those of
 * rules/schema.lua.
 */
#ifndef ELIGO_SYNTH_H
#define ELIGO_SYNTH_H

#include <stdint.h>

#include "buf.h"

typedef struct synth {
    uint64_t state;   /* splitmix64 */
} synth;

/* The programmes a `decide` request is spread over, and their number. */
extern const char *const synth_programs[];
#define SYNTH_NPROGRAMS 5

/* Seed G; the same seed gives the same sequence of applications. */
void synth_init(synth *g, uint64_t seed);

/* A uniformly distributed number in [0, n), n > 0. */
uint32_t synth_below(synth *g, uint32_t n);

/* Append to OUT one request line (with its '\n'):
 *   {"id":ID,"op":OP,"program":...,"as_of":"2025-..","applicant":{...}}
 * with "program" (cycling through synth_programs) only when OP is "decide".
 * Returns 0, or -1 when OUT's cap is reached. */
int synth_request(synth *g, const char *op, uint64_t id, buf *out);

#endif
