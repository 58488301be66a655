/* ids.c -- see ids.h. */
#include "ids.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static pthread_mutex_t ids_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t ids_last_ms = -1;
static uint8_t ids_rand[10];   /* the 80 low bits of the last id, big-endian */

int64_t ids_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ids_now(char out[25])
{
    ids_format(ids_now_ms(), out);
}

void ids_format(int64_t ms, char out[25])
{
    /* The text up to the second, kept for the second it was made for: a
     * thread formats many times a second (gmtime_r is most of the cost). */
    static __thread int64_t cached_sec = INT64_MIN;
    static __thread char cached[21];
    int64_t sec = ms / 1000, milli = ms % 1000;
    if (milli < 0)   /* before 1970: the second below, and what is left of it */
        milli += 1000, sec -= 1;
    if (sec != cached_sec) {
        time_t s = (time_t)sec;
        struct tm tm;
        gmtime_r(&s, &tm);
        int year = tm.tm_year + 1900;
        if (year < 0 || year > 9999) {   /* cut to 24 characters */
            snprintf(out, 25, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)milli);
            return;
        }
        /* By hand: this runs for every decision, and snprintf is most of it. */
        const struct { int v, width; char after; } parts[] = {
            {year, 4, '-'}, {tm.tm_mon + 1, 2, '-'}, {tm.tm_mday, 2, 'T'}, {tm.tm_hour, 2, ':'},
            {tm.tm_min, 2, ':'}, {tm.tm_sec, 2, '.'},
        };
        char *o = cached;
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
            for (int k = parts[i].width - 1, v = parts[i].v; k >= 0; k--, v /= 10)
                o[k] = (char)('0' + v % 10);
            o += parts[i].width;
            *o++ = parts[i].after;
        }
        *o = '\0';
        cached_sec = sec;
    }
    memcpy(out, cached, 20);
    out[20] = (char)('0' + milli / 100);
    out[21] = (char)('0' + milli / 10 % 10);
    out[22] = (char)('0' + milli % 10);
    out[23] = 'Z';
    out[24] = '\0';
}

static void ids_fill_random(uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got <= 0) {
            /* Without an entropy source, fall back on the clock: ids stay
             * unique within the process thanks to the counter. */
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t)(ts.tv_nsec >> (i % 4 * 8));
            return;
        }
        p += got;
        n -= (size_t)got;
    }
}

void ids_encode(uint64_t ms, const uint8_t low[10], char out[IDS_LEN + 1])
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    /* 128 bits as 26 base32 digits, the last digit holding the low 5 bits
     * (the first digit gets the top 3 bits: 26 * 5 = 130), in two 64-bit
     * halves: a decision's id is written for every decision, and shifting
     * a 128-bit number byte by byte and digit by digit was most of its
     * cost. */
    uint64_t hi = (ms & 0xffffffffffffu) << 16 | (uint64_t)low[0] << 8 | low[1], lo = 0;
    for (int i = 2; i < 10; i++)
        lo = lo << 8 | low[i];
    for (int i = IDS_LEN - 1; i > IDS_LEN - 13; i--, lo >>= 5)   /* bits 0 to 59 */
        out[i] = alphabet[lo & 31];
    out[IDS_LEN - 13] = alphabet[(lo | hi << 4) & 31];            /* 60 to 64 */
    hi >>= 1;
    for (int i = IDS_LEN - 14; i >= 0; i--, hi >>= 5)             /* 65 to 127 */
        out[i] = alphabet[hi & 31];
    out[IDS_LEN] = '\0';
}

void ids_next(char out[IDS_LEN + 1])
{
    uint8_t low[10];
    int64_t ms = ids_now_ms();

    pthread_mutex_lock(&ids_lock);
    if (ms > ids_last_ms) {
        ids_last_ms = ms;
        ids_fill_random(ids_rand, sizeof ids_rand);
        ids_rand[0] &= 0x7f;   /* leave room to count up within the millisecond */
    } else {
        /* Same millisecond (or the clock stepped back): keep the last time and
         * count up, so ids stay strictly increasing. */
        for (int i = 9; i >= 0 && ++ids_rand[i] == 0; i--)
            ;
    }
    uint64_t t = (uint64_t)ids_last_ms;
    memcpy(low, ids_rand, 10);
    pthread_mutex_unlock(&ids_lock);
    ids_encode(t, low, out);
}

char *ids_upper(char *id)
{
    /* Only what reads as an id (26 of Crockford's letters and digits):
     * anything else is left as typed, for the message that names it. */
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghjkmnpqrstvwxyz";
    size_t n = strlen(id);
    if (n != IDS_LEN || strspn(id, alphabet) != n)
        return id;
    for (char *p = id; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    return id;
}
