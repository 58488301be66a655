/*
 * audit.h -- the auditor's reports over a store: explain one decision, list,
 * count and export decisions.
 *
 * Everything here reads; nothing writes to the database, which the caller
 * opens read-only.  Each report is written to a stdio stream, as text for a
 * person (aligned, in sections) or as JSON for programs.  The SQL lives in
 * the store, the rules' source and parameter references come from the engine
 * (engine_explain on the rule set stored with the decision, never the files
 * on disk); this module only joins and formats.
 */
#ifndef ELIGO_AUDIT_H
#define ELIGO_AUDIT_H

#include <stdio.h>

#include "err.h"
#include "store.h"

/* ---- show ------------------------------------------------------------------ */

typedef struct audit_show_opts {
    const char *lang;    /* language of criterion texts and titles (NULL: the
                            decision's own); messages are shown as decided */
    int json;            /* one JSON object instead of text */
    int no_verify;       /* skip recomputing the chain (it reads every record) */
} audit_show_opts;

/* Write the whole explanation of decision DECISION_ID to OUT: the application
 * as received, the dates, the outcome, every criterion with its result,
 * message, compared values and the source of its check (file and lines, from
 * the rule set stored in the database), every parameter applied with its
 * reference, the rule set, the chain position and whether the chain verifies
 * up to it, and the decision's reviews.
 *
 * Returns 0 when shown and the chain verifies up to the decision and its
 * latest review (or was not checked); 1 when shown but the chain does not
 * verify up to them (a review that does not verify is marked so, and the
 * state it gives is not presented as the decision's); -1 with E:
 * "not_found" (no such decision), "internal" (the database failed).  When the
 * stored rule set cannot be compiled any more, the explanation is shown
 * without sources, saying why. */
int audit_show(store *st, const char *decision_id, const audit_show_opts *o, FILE *out,
               err *e);

/* ---- list ------------------------------------------------------------------ */

/* Write the decisions F selects (F->limit of them, newest first) as an
 * aligned table, or as JSON lines (one object per decision: seq,
 * decision_id, program, program_version, outcome, applicant_id, as_of,
 * decided_at, ruleset) when JSON.  The table ends with a line saying how to
 * ask for the next page when there is one.  *SHOWN receives the rows
 * written.  Returns 0 (no rows is not an error), or -1 with E ("not_found"
 * when F->after names no decision). */
int audit_list(store *st, const store_filter *f, int json, FILE *out, int64_t *shown,
               err *e);

/* ---- stats ----------------------------------------------------------------- */

/* Write, for the decisions F selects: decisions per programme, month and
 * outcome, and per programme the TOP criteria failed most often (all when
 * TOP <= 0), as tables; as one JSON object when JSON.  When CHART is not
 * NULL, also write to that stream an SVG chart: one panel per programme, a
 * stacked bar per month, one colour per outcome (the caller opened it, and
 * closes it).  Returns 0 or -1 with E. */
int audit_stats(store *st, const store_filter *f, int top, int json, FILE *chart, FILE *out,
                err *e);

/* ---- export ---------------------------------------------------------------- */

typedef enum audit_format { AUDIT_JSONL = 0, AUDIT_CSV } audit_format;

/* CSV: applicants with two fields that make one column (a key "contact.phone"
 * beside an object "contact" holding "phone"): the column holds the first. */
typedef struct audit_clash {
    int64_t n;                  /* decisions with such an applicant */
    char decision_id[64];       /* the first of them */
    char column[256];           /* ... and its column */
} audit_clash;

typedef struct audit_export_opts {
    audit_format format;
    const char *const *redact;  /* paths into the applicant ("birth_date",
                                   "business.sector"), NREDACT of them */
    size_t nredact;
    const unsigned char *key;   /* the HMAC key; required when NREDACT > 0 */
    size_t keylen;
    int64_t *matched;           /* when not NULL, NREDACT counters, zeroed by the
                                   caller: how many values each path replaced */
    audit_clash *clash;         /* when not NULL, zeroed by the caller: filled */
} audit_export_opts;

/* Shortest key audit_export accepts, in bytes. */
#define AUDIT_KEY_MIN 16

/* Write one record per decision F selects (oldest first unless F says
 * otherwise): the decision's fields, its applicant as received, and each
 * criterion's result (passed true / false / null when data was missing;
 * messages and compared values are left out, since they repeat the
 * applicant's data).  Each redacted path's value is replaced, wherever it
 * appears, by "hmac-sha256:" and the hex HMAC-SHA256 under KEY of its text
 * (a string's bytes, other values' JSON), so equal values stay equal and
 * linkable without being readable; a path through a list applies to each
 * element ("previous_benefits.date"); redacting "applicant_id" also replaces
 * the decision's applicant_id.  CSV (RFC 4180, CRLF line ends, a header
 * row) flattens the applicant into one column per path ("applicant.
 * business.sector"; lists as JSON text) and lists the criteria that passed,
 * failed and lacked data as ';'-separated ids.  *N receives the records
 * written.  Returns 0, or -1 with E ("invalid_request" for a missing or
 * short key). */
int audit_export(store *st, const store_filter *f, const audit_export_opts *o, FILE *out,
                 int64_t *n, err *e);

#endif
