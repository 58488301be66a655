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
 * It is printed and stored as 64 lowercase hex digits.  ("Byte order" is
 * strcmp's: bytes compared as unsigned char, whatever the locale.  The
 * length has no leading zeros; an empty file contributes "name\0" "0\0".)
 *
 * A finished set never changes, so any thread holding a reference may read
 * it without locking; the strings it returns live as long as the set.
 */
#ifndef ELIGO_RULESET_H
#define ELIGO_RULESET_H

#include <stddef.h>

#include "err.h"

typedef struct ruleset ruleset;

typedef struct ruleset_file {
    const char *name;   /* file name, no directory ("idmaj.lua") */
    const char *text;   /* contents, NUL-terminated (may also hold NULs) */
    size_t len;         /* bytes, not counting the NUL */
} ruleset_file;

/* Read every *.lua file directly in DIR.  Returns a new set with one
 * reference, or NULL with E set.
 *
 * "*.lua" means what the shell's glob does: names ending in ".lua" that do
 * not start with a dot (editors' lock and backup files do).  Only regular
 * files count, symbolic links to them included; subdirectories, FIFOs and
 * the like are skipped, and nothing below DIR is read.  A file of exactly
 * 4 MiB is accepted.
 *
 * Errors, each message naming the directory or file: "rule_error" for a
 * missing or unreadable directory, a file that cannot be read or vanished
 * while listing, a file over 4 MiB, no .lua file at all; "internal" when
 * memory runs out. */
ruleset *ruleset_load(const char *dir, err *e);

/* Build a set from N files held elsewhere (the store), in any order; they
 * are copied and sorted, so the caller keeps FILES.  ruleset_dir is then "".
 * Holds the files to what ruleset_load could have produced: "rule_error"
 * when N is 0, a name is not a "*.lua" name as above (or holds a '/'), two
 * files share a name, or a file is over 4 MiB; TEXT may be NULL only when
 * LEN is 0.  Returns a new set with one reference, or NULL with E set. */
ruleset *ruleset_from_files(const ruleset_file *files, size_t n, err *e);

/* Write every file of RS into the directory DIR, so that ruleset_load(DIR)
 * reads the same set back (the same hash).  DIR is made (mode 0777 less the
 * umask; its parent must exist) or must be an empty directory, not a
 * symbolic link: nothing is ever overwritten or written beside other files.
 * Each file is made new (mode 0644 less the umask), written whole and
 * synced, then the directory.  A name with a control character (a rule
 * file name may hold one) refuses the whole set before anything is made,
 * so that no listing of DIR drives a terminal.  On failure
 * what was made is removed.  Returns 0, or -1 with E: "rule_error" (a name
 * refused), "invalid_request" (DIR exists and is not an empty directory, or
 * cannot be made or opened), "internal" (a write or a sync failed). */
int ruleset_write(const ruleset *rs, const char *dir, err *e);

/* Take / drop a reference; ruleset_ref returns RS.  The last ruleset_free
 * frees.  NULL is fine for both.  Any thread may call them. */
ruleset *ruleset_ref(ruleset *rs);
void ruleset_free(ruleset *rs);

/* The 64-hex-digit content hash. */
const char *ruleset_hash(const ruleset *rs);

/* The directory it was read from ("" for ruleset_from_files). */
const char *ruleset_dir(const ruleset *rs);

/* Files in name order; ruleset_file_at returns NULL when I >= the count. */
size_t ruleset_count(const ruleset *rs);
const ruleset_file *ruleset_file_at(const ruleset *rs, size_t i);

/* Does NAME end in ".test.lua"? (test cases, not rules)  NULL gives 0. */
int ruleset_is_test(const char *name);

/* Files that may declare a programme (one each): neither test cases nor
 * the schema.  At least 1. */
size_t ruleset_programmes(const ruleset *rs);

#endif
