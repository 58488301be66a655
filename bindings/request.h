/*
 * request.h -- the common request, handled in C.
 *
 *   fast = fast_request(decode, prepare, fuse, schema, programs,
 *                       program_order, decide, fail, current)
 *   handled = fast(res, line, d_op, d_program, d_as_of, d_lang)
 *
 * rules.lua's handle() reads a request line into the reply table RES, for
 * every op and every error.  fast does the same for a well-formed decide or
 * screen request, with the same fields in RES and the same errors raised
 * from the applicant and the rules; for anything else it returns false
 * having changed nothing, and handle() takes the request.
 */
#ifndef ELIGO_REQUEST_H
#define ELIGO_REQUEST_H

#include <lua.h>

/* Push fast_request.  [-0, +1, m] */
void request_push(lua_State *L);

/* fast reads a line first with fuse (applicant.h), which decodes the
 * applicant straight into what rules see, and falls back to decode and
 * prepare when fuse gives up.  With ON 0, fast in this thread reads every
 * line the ordinary way: for tests, which compare the two (1 again: the
 * default). */
void request_fused(int on);

/* How many requests fast, in this thread, has read by fuse and taken on
 * (for tests: that a line went the fused way, or fell back). */
unsigned long request_fused_reads(void);

#endif
