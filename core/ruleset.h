/*
 * ruleset.h -- an immutable snapshot of a rule directory.
 *
 * A rule set is the text of every *.lua file directly inside a directory
 * (programme files and the *.test.lua files beside them), read once, plus its
 * content hash.  It knows no Lua: the engine compiles it, the store keeps it
 * whole so that any past decision can be re-explained with the exact rules
 * that made it.  Reference counted, so a hot reload can swap sets while
 * requests in flight finish on the old one; the count is atomic, so any
 * thread may take or drop a reference.
 *
 * The content hash is SHA-256 over, for each file in byte order of name:
 *     name, NUL, the length in decimal ASCII, NUL, the bytes of the file.
 * It is printed and stored as 64 lowercase hex digits.
 */
#ifndef ELIGO_RULESET_H
#define ELIGO_RULESET_H

#include <stddef.h>

#include "err.h"

typedef struct ruleset ruleset;

typedef struct ruleset_file {
    const char *name;   /* file name, no directory ("idmaj.lua") */
    const char *text;   /* contents, NUL-terminated */
    size_t len;         /* bytes, not counting the NUL */
} ruleset_file;

/* Read every *.lua file directly in DIR.  Returns a new set with one
 * reference, or NULL with E set (a missing directory, an unreadable file, a
 * file over 4 MiB, no .lua file at all). */
ruleset *ruleset_load(const char *dir, err *e);

/* Build a set from files held elsewhere (the store).  Copies everything. */
ruleset *ruleset_from_files(const ruleset_file *files, size_t n, err *e);

/* Take / drop a reference.  The last ruleset_free frees.  NULL is fine. */
ruleset *ruleset_ref(ruleset *rs);
void ruleset_free(ruleset *rs);

/* The 64-hex-digit content hash. */
const char *ruleset_hash(const ruleset *rs);

/* The directory it was read from ("" for ruleset_from_files). */
const char *ruleset_dir(const ruleset *rs);

/* Files in name order. */
size_t ruleset_count(const ruleset *rs);
const ruleset_file *ruleset_file_at(const ruleset *rs, size_t i);

/* Does NAME end in ".test.lua"? (test cases, not rules) */
int ruleset_is_test(const char *name);

#endif
