/* text.c -- see text.h. */
#include "text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uninorm.h>

/* The length of the blank character at S (N > 0 bytes left), or 0: ASCII
 * white space, the other Unicode white space (U+0085, U+00A0, U+1680,
 * U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000), and what shows
 * nothing: the soft hyphen U+00AD, the combining grapheme joiner U+034F,
 * the Arabic letter mark U+061C, the fillers U+115F, U+1160, U+3164 and
 * U+FFA0, U+180E, the format characters U+200B..U+200F, U+202A..U+202E and
 * U+2060..U+206F (U+2065 among them, unassigned, shows nothing either), the
 * blank Braille pattern U+2800, the variation selectors U+FE00..U+FE0F and
 * U+E0100..U+E01EF, U+FEFF, and the tags U+E0000..U+E007F.  Each byte is
 * checked before the code point is read: no malformed or overlong sequence
 * reads as one of them. */
static size_t text_blank_at(const unsigned char *s, size_t n)
{
    if (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        return 1;
    if (n >= 2 && (s[1] & 0xc0) == 0x80 && (s[0] & 0xe0) == 0xc0) {
        unsigned c = (unsigned)(s[0] & 0x1f) << 6 | (s[1] & 0x3fu);
        return c == 0x85 || c == 0xa0 || c == 0xad || c == 0x34f || c == 0x61c ? 2 : 0;
    }
    if (n >= 4 && s[0] == 0xf3 && s[1] == 0xa0 && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80) {
        unsigned c = 0xe0000u | (unsigned)(s[2] & 0x3f) << 6 | (s[3] & 0x3fu);
        return c <= 0xe007f || (c >= 0xe0100 && c <= 0xe01ef) ? 4 : 0;
    }
    if (n < 3 || (s[0] & 0xf0) != 0xe0 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
        return 0;
    unsigned c = (unsigned)(s[0] & 0x0f) << 12 | (unsigned)(s[1] & 0x3f) << 6 | (s[2] & 0x3fu);
    return c == 0x115f || c == 0x1160 || c == 0x1680 || c == 0x180e ||
                   (c >= 0x2000 && c <= 0x200f) || (c >= 0x2028 && c <= 0x202f) ||
                   (c >= 0x205f && c <= 0x206f) || c == 0x2800 || c == 0x3000 || c == 0x3164 ||
                   (c >= 0xfe00 && c <= 0xfe0f) || c == 0xfeff || c == 0xffa0
               ? 3
               : 0;
}

int text_blank(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    size_t k;
    while (p < e && (k = text_blank_at(p, (size_t)(e - p))) > 0)
        p += k;
    return p == e;
}

int text_is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

int text_escape(unsigned char c, char out[5])
{
    if (c == '\n' || c == '\r' || c == '\t') {
        out[0] = '\\';
        out[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        out[2] = '\0';
        return 2;
    }
    return snprintf(out, 5, "\\x%02x", c);
}

char *text_escaped(const char *s)
{
    if (!s)
        return NULL;
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += text_is_ctl((unsigned char)*p) ? 4 : 1;
    char *d = malloc(n + 1), *q = d, e[5];
    if (!d)
        return NULL;
    for (; *s; s++) {
        if (text_is_ctl((unsigned char)*s)) {
            int l = text_escape((unsigned char)*s, e);
            memcpy(q, e, (size_t)l);
            q += l;
        } else {
            *q++ = *s;
        }
    }
    *q = '\0';
    return d;
}

int text_nfc(const char *s, char *out, size_t n)
{
    if (n == 0)
        return -1;
    size_t len = n - 1;   /* room for the NUL */
    uint8_t *t = u8_normalize(UNINORM_NFC, (const uint8_t *)s, strlen(s), (uint8_t *)out, &len);
    if (t != (uint8_t *)out) {   /* not UTF-8, or longer than OUT (in memory of its own) */
        free(t);
        return -1;
    }
    out[len] = '\0';
    return 0;
}

/* See text.h. */
size_t text_utf8_scan(const void *text, size_t n, int controls)
{
    const unsigned char *s = text;
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    size_t i = 0;
    while (i < n) {
        /* Eight plain ASCII bytes at a time, the usual case: no high bit, and
         * no byte below 0x20 (then the byte loop sorts tab and the rest). */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (((w | ((w - ones * 0x20) & ~w)) & high) != 0)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        unsigned char c = s[i];
        if (c < 0x80) {
            if (controls && c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                return i;
            i++;
            continue;
        }
        size_t len;
        unsigned lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) len = 2;
        else if (c == 0xe0) len = 3, lo = 0xa0;
        else if (c == 0xed) len = 3, hi = 0x9f;
        else if (c >= 0xe1 && c <= 0xef) len = 3;
        else if (c == 0xf0) len = 4, lo = 0x90;
        else if (c >= 0xf1 && c <= 0xf3) len = 4;
        else if (c == 0xf4) len = 4, hi = 0x8f;
        else return i;
        if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k < len; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return i;
        i += len;
    }
    return n;
}

size_t text_utf8_bad(const void *s, size_t n)
{
    return text_utf8_scan(s, n, 0);
}

const char *text_s(long long n)
{
    return n == 1 ? "" : "s";
}
