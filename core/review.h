/*
 * review.h -- a human review of a decision, as a request carries it.
 *
 * The `review` op's "review" object (engine_result->body, canonical JSON)
 *   {"action":"confirm"|"override", "outcome":"eligible"|..., "by":"...",
 *    "reason":"..."}
 * is parsed and checked here (cJSON: no Lua state is needed), and becomes the
 * store_review that the writer appends.  Unknown members are refused, so
 * that a misspelt "reason" is not silently dropped from the audit trail.
 */
#ifndef ELIGO_REVIEW_H
#define ELIGO_REVIEW_H

#include "err.h"
#include "store.h"

typedef struct review review;

/* Parse BODY (a JSON object) as the review of DECISION_ID, give it a new
 * review id and the time now, and check it (store_review_check).  NULL with
 * E ("invalid_request", naming the field, or saying that a key or string
 * escapes a NUL, which would cut its text short; "internal" when memory is
 * short).
 * The caller frees it with review_free. */
review *review_parse(const char *decision_id, const char *body, err *e);

/* The record to append.  Owned by R; the caller may set the client_uid and
 * client_pid members (both -1 until then). */
store_review *review_record(review *r);

/* Free R; NULL is fine. */
void review_free(review *r);

#endif
