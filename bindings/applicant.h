/*
 * applicant.h -- an applicant record checked against the schema, in C.
 *
 * rules.lua's prepare(v, t, path) checks a decoded applicant against the
 * schema's types and turns it into what rules see (integers and money made
 * integers where they can be, nulls of nullable fields hidden behind the
 * record metatable, lists and records checked field by field).  It runs for
 * every request over every field, so its common path runs here; whenever a
 * value does not pass, the Lua prepare is called on that very value, which
 * raises the error the request has always got.  The values before it are
 * converted exactly as the Lua prepare converts them, in the same order.
 * The schema's type tables are read once, at the first prepare, into a
 * compiled form the requests after it walk.
 *
 *   prepare, fuse = preparer(lua_prepare, record_mt, ARRAY, NULLS, scales)
 *   a = prepare(a, schema, "")
 *   req = fuse(line, schema, "applicant")
 *
 * fuse decodes a request line whose applicant passes, as prepare would
 * find once the line was decoded, straight into what prepare would make
 * of it: req.applicant is the prepared applicant.  For any other line it
 * returns nil, having changed nothing, and the line is decoded and
 * prepared as before (which reports what is wrong).  It uses the schema
 * prepare compiled, and returns nil until prepare has compiled SCHEMA.
 */
#ifndef ELIGO_APPLICANT_H
#define ELIGO_APPLICANT_H

#include <lua.h>

/* Push preparer (see above).  [-0, +1, m] */
void applicant_push(lua_State *L);

#endif
