/* buf.c -- see buf.h. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf *b, size_t cap)
{
    b->data = NULL;
    b->len = b->alloc = 0;
    b->cap = cap;
}

void buf_free(buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
}

void buf_reset(buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int buf_reserve(buf *b, size_t n)
{
    if (n > b->cap - b->len)
        return -1;
    size_t need = b->len + n + 1;
    if (need <= b->alloc)
        return 0;
    size_t alloc = b->alloc ? b->alloc : 64;
    while (alloc < need)
        alloc *= 2;
    char *p = realloc(b->data, alloc);
    if (!p)
        return -1;
    b->data = p;
    b->alloc = alloc;
    return 0;
}

/* buf_add when the buffer must grow first, or cannot. */
int buf_add_grow(buf *b, const void *p, size_t n)
{
    if ((n > b->cap - b->len || n + 1 > b->alloc - b->len) && buf_reserve(b, n) != 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_printf(buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof small)
        return buf_add(b, small, (size_t)n);
    if (buf_reserve(b, (size_t)n) != 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* The length of the valid UTF-8 sequence at S (N bytes left, S[0] >= 0x80),
 * or 0: no overlong forms, no surrogates, nothing past U+10FFFF. */
static size_t buf_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t len;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if ((s[k] & 0xc0) != 0x80)
            return 0;
    return len;
}

int buf_add_json_string(buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = b->len;
    if (buf_addc(b, '"') != 0)
        return -1;
    size_t run = 0;   /* bytes copied verbatim, flushed before each escape */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[6];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (c < 0x20) {
                u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0';
                u[4] = hex[c >> 4]; u[5] = hex[c & 15];
            }
        }
        if (c >= 0x80) {
            size_t len = buf_utf8_len((const unsigned char *)s + i, n - i);
            if (len) {
                run += len;
                i += len - 1;
                continue;
            }
            esc = "\xef\xbf\xbd";   /* U+FFFD for the byte that begins no character */
        } else if (!esc && c >= 0x20) {
            run++;
            continue;
        }
        if (buf_add(b, s + i - run, run) != 0)
            goto fail;
        run = 0;
        if (esc ? buf_adds(b, esc) : buf_add(b, u, 6))
            goto fail;
    }
    if (buf_add(b, s + n - run, run) != 0 || buf_addc(b, '"') != 0)
        goto fail;
    return 0;
fail:
    b->len = start;
    if (b->data)
        b->data[start] = '\0';
    return -1;
}
