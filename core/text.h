/*
 * text.h -- what a text is and shows to a reader.
 *
 * A name, an id or a reason that shows nothing names nobody: the protocol's
 * ids and keys, and a review's reviewer and reason, are held to this one
 * test.
 */
#ifndef ELIGO_TEXT_H
#define ELIGO_TEXT_H

#include <stddef.h>

/* Whether the N bytes at S show nothing: empty, or white space only, ASCII
 * or Unicode, with the characters that show nothing (zero-width space, word
 * joiner, BOM). */
int text_blank(const char *s, size_t n);

/* "s" for a count other than one, "" for one: "%ld request%s". */
const char *text_s(long long n);

/* For a terminal.  A stored or received text is whatever a client sent:
 * written raw, a newline in it would forge a row of a table, and an ESC
 * reach the terminal as a control sequence.  Text for people therefore
 * writes every control character (below 0x20, and 0x7f) as a visible
 * escape: \n, \r, \t, else \xHH. */
int text_is_ctl(unsigned char c);

/* The escape of C (a control character) into OUT (5 bytes); its length. */
int text_escape(unsigned char c, char out[5]);

/* S escaped, in a new string the caller frees; NULL for NULL or when memory
 * is short. */
char *text_escaped(const char *s);

/* S in Unicode NFC, as the engine puts applicants' texts
 * (bindings_push_nfc), into OUT (N bytes, NUL-terminated): for an
 * applicant's id given on a command line.  NFC may be longer than S (U+0958,
 * three bytes, is six composed), so it is not done in place.  Returns 0, or
 * -1 with OUT unspecified when S is not UTF-8, memory is short, or its NFC
 * form does not fit in OUT. */
int text_nfc(const char *s, char *out, size_t n);

/* The offset of the first byte of the N bytes at S that is not part of
 * well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF),
 * or N when they all are.  Control characters are UTF-8.  Rule files, the
 * texts they declare and the decisions written must all be UTF-8, as the
 * protocol's lines are. */
size_t text_utf8_bad(const void *s, size_t n);

/* As text_utf8_bad; with CONTROLS, a control character JSON does not allow
 * unescaped (all below 0x20 but tab, line feed and carriage return; cJSON
 * would take NUL for white space) is bad too. */
size_t text_utf8_scan(const void *s, size_t n, int controls);

#endif
