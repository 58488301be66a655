/*
 * ids.h -- decision identifiers and timestamps.
 *
 * A decision id is 26 characters of Crockford base32: 48 bits of milliseconds
 * since the epoch, then 80 bits that start random each millisecond and count
 * up within it.  Ids therefore sort by the time they were made, and two ids
 * made in one process never collide (made by two processes, with negligible
 * probability).  Thread-safe.
 */
#ifndef ELIGO_IDS_H
#define ELIGO_IDS_H

#include <stdint.h>

#define IDS_LEN 26

/* Write a fresh id and a NUL into OUT. */
void ids_next(char out[IDS_LEN + 1]);

/* Write into OUT, with a NUL, the id of the 48 low bits of MS followed by
 * the 80 bits of LOW (big-endian), as ids_next writes them. */
void ids_encode(uint64_t ms, const uint8_t low[10], char out[IDS_LEN + 1]);

/* ID, as a person may type it, in the case ids are stored in: Crockford's
 * base32 reads letters either way, so a lower-case id names the same record.
 * In place, and only when ID reads as an id (anything else is left as it
 * was typed); returns ID. */
char *ids_upper(char *id);

/* Write the current UTC time as "YYYY-MM-DDTHH:MM:SS.mmmZ" and a NUL. */
void ids_now(char out[25]);

/* The UTC time MS (milliseconds since 1970, negative before) as ids_now
 * writes it; for years 0 to 9999 (others are cut to 24 characters). */
void ids_format(int64_t ms, char out[25]);

/* Milliseconds since the epoch, wall clock. */
int64_t ids_now_ms(void);

#endif
