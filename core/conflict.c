/* conflict.c -- see conflict.h. */
#include "conflict.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* Append what printf would write to OUT (N bytes), at *AT; cut at the end. */
static void conflict_add(char *out, size_t n, size_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void conflict_add(char *out, size_t n, size_t *at, const char *fmt, ...)
{
    if (*at + 1 >= n)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(out + *at, n - *at, fmt, ap);
    va_end(ap);
    if (k > 0)
        *at = *at + (size_t)k < n ? *at + (size_t)k : n - 1;
}

/* A member of the request as the message shows it, into TMP (N bytes). */
static const char *conflict_shown(const cJSON *v, char *tmp, size_t n)
{
    if (!v)
        return "left out";
    if (cJSON_IsString(v)) {
        snprintf(tmp, n, "%s", v->valuestring);
        return tmp;
    }
    char *text = cJSON_PrintUnformatted(v);
    snprintf(tmp, n, "%s", text ? text : "?");
    free(text);
    return tmp;
}

/* What kind of JSON value V is, as the message says it. */
static const char *conflict_kind(const cJSON *v)
{
    return cJSON_IsNull(v) ? "null" : cJSON_IsBool(v) ? "a boolean" : cJSON_IsNumber(v) ? "a number"
         : cJSON_IsString(v) ? "a text" : cJSON_IsArray(v) ? "a list" : "an object";
}

/* Whether A and B differ; where first, appended to PATH (N bytes, LEN of
 * them used), in the applicant's field paths (business.sector,
 * previous_benefits[2]).  Members in A's order, then those only in B. */
static int conflict_where(const cJSON *a, const cJSON *b, char *path, size_t n, size_t len)
{
    if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
        for (const cJSON *x = a->child; x; x = x->next) {
            const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
            snprintf(path + len, n - len, ".%s%s", x->string, y ? "" : " (only here)");
            if (!y || conflict_where(x, y, path, n, strlen(path)))
                return 1;
        }
        for (const cJSON *y = b->child; y; y = y->next) {
            if (!cJSON_GetObjectItemCaseSensitive(a, y->string)) {
                snprintf(path + len, n - len, ".%s (only stored)", y->string);
                return 1;
            }
        }
        path[len] = '\0';
        return 0;
    }
    if (cJSON_IsArray(a) && cJSON_IsArray(b)) {
        int na = cJSON_GetArraySize(a), nb = cJSON_GetArraySize(b), i = 1;
        for (const cJSON *x = a->child, *y = b->child; x && y; x = x->next, y = y->next, i++) {
            snprintf(path + len, n - len, "[%d]", i);
            if (conflict_where(x, y, path, n, strlen(path)))
                return 1;
        }
        path[len] = '\0';
        if (na != nb)
            snprintf(path + len, n - len, " (%d items here, %d stored)", na, nb);
        return na != nb;
    }
    if (cJSON_Compare(a, b, 1))
        return 0;
    const char *ta = conflict_kind(a), *tb = conflict_kind(b);
    if (strcmp(ta, tb) != 0)
        snprintf(path + len, n - len, " (%s here, %s stored)", ta, tb);
    return 1;
}

size_t conflict_describe(const char *mine, size_t len, const char *stored, size_t slen,
                         char *out, size_t n)
{
    static const char *const shown[] = {"op", "program", "as_of"};
    cJSON *a = cJSON_ParseWithLength(mine, len), *b = cJSON_ParseWithLength(stored, slen);
    size_t at = 0;
    if (n)
        out[0] = '\0';
    if (n && cJSON_IsObject(a) && cJSON_IsObject(b)) {
        for (size_t k = 0; k < sizeof shown / sizeof shown[0]; k++) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, shown[k]);
            const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, shown[k]);
            if ((!x && !y) || (x && y && cJSON_Compare(x, y, 1)))
                continue;
            char here[64], there[64];
            conflict_add(out, n, &at, "%s%s: %s here, %s stored", at ? "; " : "", shown[k],
                         conflict_shown(x, here, sizeof here), conflict_shown(y, there, sizeof there));
        }
        char path[256] = "applicant";
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, "applicant");
        const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, "applicant");
        if (x && y ? conflict_where(x, y, path, sizeof path, strlen(path)) : x != y)
            conflict_add(out, n, &at, "%sapplicant: differs at %s", at ? "; " : "",
                         x && y ? path : x ? "applicant (only here)" : "applicant (only stored)");
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
    return at;
}

/* Whether A and B are the same JSON value, exactly. */
static int conflict_equal(const cJSON *a, const cJSON *b)
{
    if ((a->type & 0xff) != (b->type & 0xff))
        return 0;
    if (cJSON_IsNumber(a))
        return a->valuedouble == b->valuedouble;
    if (cJSON_IsString(a))
        return strcmp(a->valuestring, b->valuestring) == 0;
    if (!cJSON_IsArray(a) && !cJSON_IsObject(a))
        return 1;   /* true, false, null: the type says it */
    int na = 0, nb = 0;
    for (const cJSON *x = a->child; x; x = x->next)
        na++;
    for (const cJSON *y = b->child; y; y = y->next)
        nb++;
    if (na != nb)
        return 0;
    for (const cJSON *x = a->child, *y = b->child; x; x = x->next, y = y->next) {
        const cJSON *z = cJSON_IsArray(a) ? y : cJSON_GetObjectItemCaseSensitive(b, x->string);
        if (!z || !conflict_equal(x, z))
            return 0;
    }
    return 1;
}

int conflict_same(const char *mine, size_t len, const char *stored, size_t slen)
{
    static const char *const parts[] = {"op", "program", "as_of", "applicant"};
    cJSON *a = cJSON_ParseWithLength(mine, len), *b = cJSON_ParseWithLength(stored, slen);
    int same = cJSON_IsObject(a) && cJSON_IsObject(b);
    for (size_t k = 0; same && k < sizeof parts / sizeof parts[0]; k++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, parts[k]);
        const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, parts[k]);
        same = x && y ? conflict_equal(x, y) : x == y;
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
    return same;
}
