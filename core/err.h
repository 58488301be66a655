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

#endif
