/*
 * sign.h -- Ed25519 keys and signed checkpoints of the audit chain (OpenSSL).
 *
 * A checkpoint is a statement, signed by the holder of a private key, that
 * the chain's record SEQ had hash HEAD at TIME.  Kept out of the attacker's
 * reach (printed, mailed to the inspection, in another system), it lets
 * `eligo verify --checkpoint` prove later that the database still holds that
 * exact history: what the chain alone cannot show when rows were cut off the
 * end, or the past was rewritten and every later hash recomputed.
 *
 * The file is one JSON object (one line, then a newline):
 *   {"format":"eligo-checkpoint-2","database":"<32 hex>","seq":1234,
 *    "head":"<64 hex>","time":"2025-03-01T10:00:00.000Z","key":"<64 hex>",
 *    "signature":"<128 hex>"}
 * database is the database's own id (store_database_id), so that a
 * checkpoint of another database is said to be one; format 1, made before
 * databases had one, has no database member.  key is the public key's
 * fingerprint: SHA-256 of its DER encoding (SubjectPublicKeyInfo), in hex.
 * The signature is Ed25519 over exactly these bytes (sign_message), each
 * line ending in one '\n' (format 1: its name, and no database line):
 *   eligo-checkpoint-2
 *   database <32 lowercase hex>
 *   seq <decimal, no leading zeros>
 *   head <64 lowercase hex>
 *   time <time>
 *   key <64 lowercase hex>
 * No field may hold a newline (each is checked), so the message has one
 * reading only.  JSON member order and spacing are free; the message is not.
 *
 * Keys are PEM files: PKCS#8 for the private key (mode 0600), SPKI for the
 * public one, as `openssl pkey` reads and writes them.
 */
#ifndef ELIGO_SIGN_H
#define ELIGO_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define SIGN_FORMAT_1 "eligo-checkpoint-1"   /* no database */
#define SIGN_FORMAT "eligo-checkpoint-2"
#define SIGN_HEX_DB 32      /* characters of a database id in hex */
#define SIGN_HEX_HASH 64    /* characters of a SHA-256 in hex */
#define SIGN_HEX_SIG 128    /* characters of an Ed25519 signature in hex */

typedef struct sign_key sign_key;

/* A checkpoint, as made or as read from a file.  Strings are NUL-terminated. */
typedef struct sign_checkpoint {
    char database[SIGN_HEX_DB + 1];   /* "" in format 1 */
    int64_t seq;
    char head[SIGN_HEX_HASH + 1];
    char time[40];
    char key[SIGN_HEX_HASH + 1];
    char signature[SIGN_HEX_SIG + 1];
} sign_checkpoint;

/* Make a new Ed25519 key pair and write PREFIX.key (private, PEM, mode 0600)
 * and PREFIX.pub (public, PEM).  Neither file may exist already: -1 with E
 * ("invalid_request") and nothing written.  Returns 0, or -1 with E. */
int sign_keygen(const char *prefix, err *e);

/* Read a PEM key from PATH: a private key when PRIVATE, else a public key.
 * NULL with E ("invalid_request") when the file is missing, unreadable, not
 * an Ed25519 key, a key of the other kind (a public key to sign with, a
 * private key to verify with: each named as such), a private key that
 * other users can read or write or that another user owns (checked once it
 * is known to be one), or not a regular file (a FIFO, a device: not read).
 * The caller frees the key with sign_key_free. */
sign_key *sign_key_load(const char *path, int private, err *e);

/* Free K; NULL is fine. */
void sign_key_free(sign_key *k);

/* K's fingerprint: 64 hex digits, SHA-256 of the public key's DER.  Owned by
 * K. */
const char *sign_key_fingerprint(const sign_key *k);

/* Append to OUT the bytes that are signed for C (see above); its signature
 * member is not used.  Returns 0, or -1 with E when a field cannot be part of
 * a message (a bad hash, a newline in the time, a negative seq). */
int sign_message(const sign_checkpoint *c, buf *out, err *e);

/* Fill C for record SEQ with hash HEAD (64 hex) at TIME, of the database
 * whose id is DATABASE (32 hex; "" for a database that has none: format 1),
 * with K's fingerprint and K's signature.  K must be a private key.  Returns
 * 0, or -1 with E. */
int sign_checkpoint_make(const sign_key *k, const char *database, int64_t seq, const char *head,
                         const char *time, sign_checkpoint *c, err *e);

/* Append C to OUT as the checkpoint file's JSON line (newline included);
 * the time is written as a JSON string, escaped.  Returns 0, or -1 when OUT's
 * cap is reached (OUT unchanged). */
int sign_checkpoint_format(const sign_checkpoint *c, buf *out);

/* Parse the checkpoint file's text into C.  -1 with E ("invalid_request")
 * naming what is missing or malformed, including a field that could not be
 * part of a message (sign_message): a checkpoint read always has one. */
int sign_checkpoint_parse(const char *text, size_t len, sign_checkpoint *c, err *e);

/* Check C against public key K: its key fingerprint must be K's and its
 * signature valid for its message.  Returns 0 when both hold, 1 when not
 * (E says which), -1 with E when the check could not run. */
int sign_checkpoint_check(const sign_key *k, const sign_checkpoint *c, err *e);

/* Decode 2*N hex digits into N bytes.  Returns 0, or -1 when HEX is not
 * exactly that. */
int sign_unhex(const char *hex, unsigned char *out, size_t n);

#endif
