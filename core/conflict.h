/*
 * conflict.h -- what differs between an application and the one stored
 * under the same request_key.
 *
 * A `conflict` says the key was used for a different application; a front
 * office then needs to know whether it reused a key by mistake or changed
 * the application it retried.  The parts compared are the fingerprint's
 * (op, program, as_of as written, applicant: README, Idempotency), read
 * here from both request lines.  The fingerprint decides; this only
 * explains, and says nothing when it cannot tell.
 */
#ifndef ELIGO_CONFLICT_H
#define ELIGO_CONFLICT_H

#include <stddef.h>

/* Describe into OUT (N bytes) how the request line MINE (LEN bytes) differs
 * from STORED (SLEN bytes): "program: taehil here, idmaj stored; applicant:
 * differs at applicant.birth_date".  Values are shown for the op, the
 * programme and as_of; of the applicant, only where it differs, never its
 * data.  Returns the length written, 0 when no difference is found (a
 * number spelt too finely for a double, a line that does not parse). */
size_t conflict_describe(const char *mine, size_t len, const char *stored, size_t slen,
                         char *out, size_t n);

/* Whether the request lines MINE (LEN bytes) and STORED (SLEN bytes) hold
 * the same op, program, as_of (as written) and applicant, exactly: the
 * same JSON values, numbers equal as doubles, texts byte for byte, members
 * in any order.  Then they are the same application whatever fingerprint
 * was stored for STORED: an older eligo wrote the fingerprint differently
 * (before 2026-11-29, without NFC; earlier still, [] as {}), and a retry
 * of its request must still be a repeat.  0 when either does not parse. */
int conflict_same(const char *mine, size_t len, const char *stored, size_t slen);

#endif
