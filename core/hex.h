/*
 * hex.h -- bytes as lowercase hexadecimal digits.
 *
 * Every hash eligo prints or stores (rule-set hashes, chain hashes, key
 * fingerprints, redaction digests) is written this one way.
 */
#ifndef ELIGO_HEX_H
#define ELIGO_HEX_H

#include <stddef.h>

/* Write the N bytes at P as 2 * N lowercase hex digits and a NUL into OUT,
 * which must hold 2 * N + 1 bytes. */
void hex_encode(const void *p, size_t n, char *out);

#endif
