/*
 * err.h -- the error record every fallible eligo function may fill.
 *
 * Functions return an int status (0 = ok, -1 = failed).  A caller that wants
 * to know why passes an err; the callee writes a code (one of the protocol's
 * error codes, a static string) and a human message into the fixed buffer, so
 * failing never needs an allocation.  Passing NULL is allowed everywhere.
 */
#ifndef ELIGO_ERR_H
#define ELIGO_ERR_H

#include <stddef.h>

typedef struct err {
    const char *code;   /* "invalid_json", "rule_error", ...; static storage */
    char msg[512];      /* what went wrong and where, NUL-terminated */
} err;

/* Record CODE and a printf-style message in E (if E is not NULL); returns -1
 * so that callers can write `return err_set(e, ...)`. */
int err_set(err *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clear E (code NULL, empty message).  E may be NULL. */
void err_clear(err *e);

/* Why this process may not use PATH, a file to be written (and made when
 * missing) with WRITE, else read; for "Permission denied", which does not
 * say whether the file or its directory is at fault.  Writes the reason
 * into OUT (N bytes), as "the directory /srv/eligo cannot be written by uid
 * 1000", or that PATH is a directory, and returns OUT; returns "" when the permissions allow it (the
 * refusal came from elsewhere: an ACL the mode does not show, a security
 * module). */
const char *err_denied(const char *path, int write, char *out, size_t n);

#endif
