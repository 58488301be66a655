/*
 * text.h -- what a text shows to a reader.
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

#endif
