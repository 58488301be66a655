/*
 * request.h -- the common request, handled in C.
 *
 *   fast = fast_request(decode, prepare, schema, programs, program_order,
 *                       decide, fail, current)
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

#endif
