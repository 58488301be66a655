/*
 * replay.h -- re-decide stored applications and report what would change.
 *
 * A replay reads the stored applications (store_scan, one read-only handle,
 * one snapshot) and re-decides each one with an engine, at its original
 * as_of and with the earlier decisions its rules originally read (the
 * "history" recorded in its decisions), then compares the new decisions
 * with the stored ones.  It never writes to the database.
 *
 * Two modes:
 *   candidate  every application under one rule set (a reform being
 *              considered): count, per programme, the decisions that move
 *              from one outcome to another, the criteria whose result
 *              changed with them, and a sample of decision ids per move;
 *              apart, the decisions made now under another programme
 *              version, and those whose parameters read other values,
 *              with how many of them kept their outcome;
 *   original   each application under the rule set that decided it (loaded
 *              from the database): every outcome, every criterion's id,
 *              result and message, the missing fields and the programme
 *              version must come out the same; each difference is listed.
 *
 * One thread (the caller's) reads and feeds batches of applications to N
 * worker threads, each with its own engines; their tallies are merged at the
 * end, so the report does not depend on the number of workers or on which
 * worker took which batch.
 */
#ifndef ELIGO_REPLAY_H
#define ELIGO_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "engine.h"
#include "err.h"
#include "ruleset.h"
#include "store.h"

typedef struct replay_config {
    const char *db_path;          /* opened read-only */
    ruleset *rules;               /* candidate mode: the rule set (a reference is
                                     taken); NULL for original mode */
    store_scan_filter filter;     /* which stored decisions to replay */
    size_t jobs;                  /* worker threads; 0: the number of cores */
    size_t sample;                /* decision ids kept per kind of move (0: none) */
    size_t max_listed;            /* original mode: differences listed in full
                                     (the rest are counted); 0: 1000 */
    engine_config engine;         /* limits for every engine */
    /* Called on the caller's thread now and then while the replay runs
     * (may be NULL): decisions done, decisions in all (0 when unknown),
     * seconds since the start. */
    void (*progress)(void *ud, int64_t done, int64_t total, double secs);
    void *ud;
} replay_config;

typedef struct replay_report replay_report;

/* Run the replay described by CFG.  Returns 0 and *OUT (free it with
 * replay_report_free) once every selected decision has been re-decided,
 * whether or not anything changed; -1 with E when the database cannot be
 * read or an engine cannot be built for the candidate rule set.  A stored
 * rule set that cannot be loaded or compiled (original mode) is not an
 * error: each decision it made is a difference. */
int replay_run(const replay_config *cfg, replay_report **out, err *e);

void replay_report_free(replay_report *r);

/* Counts of the finished replay. */
int64_t replay_applications(const replay_report *r);
int64_t replay_decisions(const replay_report *r);
/* Original mode: decisions that did not come out the same (0: all reproduced). */
int64_t replay_differences(const replay_report *r);
/* Candidate mode: decisions that could not be re-decided (rule_error, an
 * applicant the new schema refuses, ...). */
int64_t replay_errors(const replay_report *r);

/* Print the report for people: a table of moves per programme (candidate) or
 * the differences (original), then the counts and the speed. */
void replay_print(const replay_report *r, FILE *f);

/* Append the report to OUT as one JSON object (no newline).  0 or -1 when
 * OUT's cap is reached. */
int replay_json(const replay_report *r, buf *out);

#endif
