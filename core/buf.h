/*
 * buf.h -- a growable byte buffer with a cap fixed at creation.
 *
 * Appending past the cap fails (returns -1) and leaves the buffer as it was:
 * that is the defence against oversized lines and runaway output.  The bytes
 * are always followed by a NUL that is not counted in len, so a buffer holding
 * text can be used as a C string.
 */
#ifndef ELIGO_BUF_H
#define ELIGO_BUF_H

#include <stddef.h>
#include <string.h>

typedef struct buf {
    char *data;     /* NULL until the first append */
    size_t len;     /* bytes in use, not counting the trailing NUL */
    size_t alloc;   /* bytes allocated */
    size_t cap;     /* the most len may ever be */
} buf;

/* Make B empty with the given cap; allocates nothing. */
void buf_init(buf *b, size_t cap);

/* Free B's memory and make it empty (the cap stays).  B may be NULL. */
void buf_free(buf *b);

/* Forget the contents but keep the memory for reuse. */
void buf_reset(buf *b);

/* Make room for N more bytes (plus the NUL) without changing the contents.
 * Returns 0, or -1 when the cap would be passed or memory is short. */
int buf_reserve(buf *b, size_t n);

/* Append N bytes / a C string / a byte / a formatted string.  Return 0, or
 * -1 when the cap would be passed or memory is short (B is then unchanged).
 * The three first are inline when there is room already: a decision is
 * written in hundreds of small appends. */
int buf_add_grow(buf *b, const void *p, size_t n);
int buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline int buf_add(buf *b, const void *p, size_t n)
{
    if (n < b->alloc - b->len && n <= b->cap - b->len) {   /* room for the bytes and the NUL */
        if (n)
            memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
    }
    return buf_add_grow(b, p, n);
}

static inline int buf_adds(buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

static inline int buf_addc(buf *b, char c)
{
    return buf_add(b, &c, 1);
}

/* Append S as a JSON string literal (quotes and escapes included).  The
 * literal is always valid UTF-8: a byte of S that does not begin a valid
 * sequence (a message cut inside a character, text that was never UTF-8)
 * is written as U+FFFD, the replacement character. */
int buf_add_json_string(buf *b, const char *s, size_t n);

#endif
