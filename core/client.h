/*
 * client.h -- what every client of `eligo serve` needs, whatever drives its
 * I/O: connecting to the socket, cutting a byte stream into lines, turning an
 * application line into a request line, and reading the few members of a
 * reply that a client acts on.
 *
 * `eligo submit` (blocking, poll) and `eligo bench` (libuv) both use it.  No
 * function here does I/O except client_connect.
 */
#ifndef ELIGO_CLIENT_H
#define ELIGO_CLIENT_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/* The socket a client uses when no --socket is given: ELIGO_SOCKET, else
 * ./eligo.sock (the server's own default). */
const char *client_socket_default(void);

/* Connect a blocking stream socket to the Unix socket at PATH.  Returns the
 * file descriptor (the caller closes it), or -1 with E set ("internal", the
 * path and the system's reason). */
int client_connect(const char *path, err *e);

/* Why a connection to PATH failed with ERRNUM (an errno value): -1 with E
 * set as client_connect sets it. */
int client_connect_failed(const char *path, int errnum, err *e);

/*
 * A line splitter.  Bytes go in with client_lines_feed; complete lines come
 * out of client_lines_next without their '\n' (nor a '\r' before it).  The
 * pending partial line may not grow beyond the cap given at init: feeding
 * past it fails, which is how an endless line is refused.
 */
typedef struct client_lines {
    buf data;       /* bytes received and not yet handed out */
    size_t start;   /* offset of the first byte not yet handed out */
} client_lines;

void client_lines_init(client_lines *l, size_t cap);
void client_lines_free(client_lines *l);

/* Append N bytes.  Returns 0, or -1 when the unconsumed bytes would pass the
 * cap (nothing is appended then). */
int client_lines_feed(client_lines *l, const void *p, size_t n);

/* Set *LINE and *LEN to the next complete line and return 1, or return 0 when
 * no complete line is buffered.  The line stays valid until the next feed. */
int client_lines_next(client_lines *l, const char **line, size_t *len);

/* Hand out what remains after the end of input (a last line without '\n').
 * Returns 1 and the line, or 0 when nothing remains. */
int client_lines_rest(client_lines *l, const char **line, size_t *len);

/* Members to add to an application line that leaves them out.  Any may be
 * NULL.  A line with no "op" that names a "program" is a decide, whatever
 * op says; when op is NULL and the line has no "op", the op is "decide" if
 * program names a programme and "screen" otherwise. */
typedef struct client_defaults {
    const char *op;        /* "decide", "screen", ... */
    const char *program;   /* added only when the op is "decide" */
    const char *lang;
} client_defaults;

/* Whether LINE (LEN bytes, without its newline) holds nothing but spaces,
 * tabs and carriage returns: a line the server takes for a keep-alive and
 * answers with nothing, so a client must not send it as a request. */
int client_blank(const char *line, size_t len);

/*
 * Append to OUT the request line for the application LINE (one JSON object,
 * no newline): the same text with the members of D that the line leaves out
 * (and "id": ID, when ID is not NULL and the line has no "id") inserted after
 * its opening brace, then '\n'.  The rest of the line is copied byte for byte,
 * never re-encoded.  A line that is not a JSON object is copied unchanged so
 * that the server can say what is wrong with it; the function then returns 1.
 * Returns 0 on success, 1 for a line passed through, -1 when OUT's cap is
 * reached (E set).  SHIFT, unless NULL, receives where the members went in
 * (the bytes of LINE before them) and how many bytes they took (0: none):
 * an offset the server gives past that point is that much past the line's.
 */
typedef struct client_shift {
    size_t at, added;
} client_shift;
int client_prepare(const char *line, size_t len, const client_defaults *d,
                   const char *id, buf *out, client_shift *shift, err *e);

/*
 * Find the top-level member KEY of the JSON object text J (LEN bytes) without
 * parsing the rest: set *VAL and *VLEN to its value's text and return 1, or
 * return 0 when there is no such member or the text is not an object.  Cheap
 * when the member comes early, which is why a reply starts with "id" and "ok".
 */
int client_member(const char *j, size_t len, const char *key,
                  const char **val, size_t *vlen);

/* How many decisions the ok reply J carries: 1 for a "decision" member, the
 * length of a "decisions" array (decide, screen, history), else 0. */
long client_reply_decisions(const char *j, size_t len);

/* The number of elements of the JSON array text J, or -1 if it is not one. */
long client_array_len(const char *j, size_t len);

/*
 * Classify a reply line: returns 1 when "ok" is true, 0 when it is an error
 * (then *CODE and *CLEN hold the error code's text without quotes, or
 * "bad_reply" when the line is not a reply at all).
 */
int client_reply_ok(const char *j, size_t len, const char **code, size_t *clen);

/* Is J, an error reply whose code client_reply_ok gave as CODE and CLEN,
 * the server's refusal of the connection itself (over its limit of
 * connections, server.c)?  It comes before the server reads any request,
 * so it answers none of those sent: 1 or 0. */
int client_reply_refusal(const char *j, size_t len, const char *code, size_t clen);

#endif
