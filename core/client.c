/* client.c -- see client.h. */
#define _GNU_SOURCE 1   /* memmem */
#include "client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

const char *client_socket_default(void)
{
    const char *v = getenv("ELIGO_SOCKET");
    return v && *v ? v : "eligo.sock";
}

int client_connect(const char *path, err *e)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path)
        return err_set(e, "internal", "socket path too long (at most %zu bytes): %s",
                       sizeof sa.sun_path - 1, path);
    memcpy(sa.sun_path, path, strlen(path) + 1);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return err_set(e, "internal", "socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int saved = errno;
        close(fd);
        return client_connect_failed(path, saved, e);
    }
    return fd;
}

int client_connect_failed(const char *path, int errnum, err *e)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISSOCK(sb.st_mode))   /* "refused" would mislead */
        return err_set(e, "internal", "cannot connect to %s: it is %s, not a socket (give the "
                       "server's socket with --socket or ELIGO_SOCKET)", path,
                       S_ISDIR(sb.st_mode) ? "a directory" : S_ISREG(sb.st_mode)
                       ? "a regular file" : "another kind of file");
    /* Connecting needs the socket's write permission and its directories'
     * search: say which one this user lacks (not in the socket's group, a
     * directory closed to it), as the server says of its own files. */
    char why[600] = "";
    if (errnum == EACCES)
        err_denied(path, 1, why, sizeof why);
    return err_set(e, "internal", "cannot connect to %s: %s%s%s", path, strerror(errnum),
                   errnum == ENOENT || errnum == ECONNREFUSED
                       ? " (is `eligo serve` running? --socket or ELIGO_SOCKET)" : *why ? ": " : "",
                   why);
}

/* ---- line splitting ---------------------------------------------------- */

void client_lines_init(client_lines *l, size_t cap)
{
    buf_init(&l->data, cap);
    l->start = 0;
}

void client_lines_free(client_lines *l)
{
    if (!l)
        return;
    buf_free(&l->data);
    l->start = 0;
}

int client_lines_feed(client_lines *l, const void *p, size_t n)
{
    /* Move the unconsumed tail to the front first, so that the cap bounds
     * what is pending rather than what has ever passed through. */
    if (l->start) {
        size_t rest = l->data.len - l->start;
        memmove(l->data.data, l->data.data + l->start, rest);
        l->data.len = rest;
        l->data.data[rest] = '\0';
        l->start = 0;
    }
    return buf_add(&l->data, p, n);
}

static void client_lines_trim(const char *line, size_t *len)
{
    if (*len && line[*len - 1] == '\r')
        (*len)--;
}

int client_lines_next(client_lines *l, const char **line, size_t *len)
{
    if (l->start >= l->data.len)
        return 0;
    const char *s = l->data.data + l->start;
    const char *nl = memchr(s, '\n', l->data.len - l->start);
    if (!nl)
        return 0;
    *line = s;
    *len = (size_t)(nl - s);
    client_lines_trim(s, len);
    l->start += (size_t)(nl - s) + 1;
    return 1;
}

int client_lines_rest(client_lines *l, const char **line, size_t *len)
{
    if (client_lines_next(l, line, len))
        return 1;
    if (l->start >= l->data.len)
        return 0;
    *line = l->data.data + l->start;
    *len = l->data.len - l->start;
    client_lines_trim(*line, len);
    l->start = l->data.len;
    return 1;
}

/* ---- building request lines -------------------------------------------- */

static int client_add_member(buf *out, const char *key, const char *value, int *first)
{
    if (!*first && buf_addc(out, ',') != 0)
        return -1;
    *first = 0;
    if (buf_printf(out, "\"%s\":", key) != 0)
        return -1;
    return buf_add_json_string(out, value, strlen(value));
}

int client_blank(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
            return 0;
    return 1;
}

int client_prepare(const char *line, size_t len, const client_defaults *d,
                   const char *id, buf *out, client_shift *shift, err *e)
{
    static const client_defaults none;
    size_t mark = out->len;
    int rc = -1;
    if (!d)
        d = &none;
    if (shift)
        *shift = (client_shift){0, 0};
    while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
        len--;

    /* cJSON tells which members the line has; its text is never re-encoded. */
    cJSON *root = cJSON_ParseWithLength(line, len);
    if (!cJSON_IsObject(root)) {
        rc = 1;
        if (buf_add(out, line, len) != 0 || buf_addc(out, '\n') != 0)
            goto full;
        goto done;
    }
    const cJSON *op_item = cJSON_GetObjectItemCaseSensitive(root, "op");
    const cJSON *program_item = cJSON_GetObjectItemCaseSensitive(root, "program");
    /* A line naming its programme and no op is a decide, whatever the
     * default op: a screen does not take a programme, so the line's own
     * member would otherwise make it an error, where against a default
     * programme the line's wins. */
    const char *op = cJSON_IsString(op_item) ? op_item->valuestring
                     : !op_item && program_item ? "decide" : d->op;
    if (!op)
        op = program_item || d->program ? "decide" : "screen";

    const char *brace = memchr(line, '{', len);   /* an object: there is one */
    int first = 1;
    if (buf_add(out, line, (size_t)(brace - line) + 1) != 0)
        goto full;
    if (id && !cJSON_GetObjectItemCaseSensitive(root, "id")) {
        if (buf_printf(out, "\"id\":%s", id) != 0)
            goto full;
        first = 0;
    }
    if (!op_item && client_add_member(out, "op", op, &first) != 0)
        goto full;
    if (!program_item && d->program && !strcmp(op, "decide") &&
        client_add_member(out, "program", d->program, &first) != 0)
        goto full;
    if (d->lang && !cJSON_GetObjectItemCaseSensitive(root, "lang") &&
        client_add_member(out, "lang", d->lang, &first) != 0)
        goto full;
    if (!first && root->child && buf_addc(out, ',') != 0)
        goto full;
    size_t added = out->len - mark - (size_t)(brace + 1 - line);
    if (buf_add(out, brace + 1, len - (size_t)(brace + 1 - line)) != 0 ||
        buf_addc(out, '\n') != 0)
        goto full;
    if (shift)
        *shift = (client_shift){(size_t)(brace + 1 - line), added};
    rc = 0;
    goto done;
full:
    out->len = mark;
    if (out->data)
        out->data[mark] = '\0';
    rc = err_set(e, "line_too_long", "request line longer than %zu bytes", out->cap);
done:
    cJSON_Delete(root);
    return rc;
}

/* ---- reading replies without parsing them ------------------------------ */

static const char *client_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* Return the end of the string starting at P (on its opening quote), or NULL. */
static const char *client_skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\' && end - p < 2)
            return NULL;   /* cut short after a backslash: never step past END */
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/* Return the end of the JSON value starting at P, or NULL when it is cut short.
 * Only the nesting is checked, which is all a client needs to step over it. */
static const char *client_skip_value(const char *p, const char *end)
{
    if (p >= end)
        return NULL;
    if (*p == '"')
        return client_skip_string(p, end);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < end) {
            char c = *p;
            if (c == '"') {
                p = client_skip_string(p, end);
                if (!p)
                    return NULL;
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && --depth == 0)
                return p + 1;
            p++;
        }
        return NULL;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' &&
           *p != '\r' && *p != '\n')
        p++;
    return p;
}

/* Walk the top-level members of the object text J, stopping at the first
 * member whose key is one of KEYS (NULL-terminated): set *WHICH to its index
 * and *VAL, *VLEN to its value.  Returns 1 when found, 0 otherwise.  With
 * VLEN NULL the value found is not stepped over: a reply's decision is most
 * of its bytes, and a count of decisions needs only its first one. */
static int client_find(const char *j, size_t len, const char *const *keys, int *which,
                       const char **val, size_t *vlen)
{
    const char *end = j + len;
    const char *p = client_ws(j, end);
    if (p >= end || *p != '{')
        return 0;
    p = client_ws(p + 1, end);
    while (p < end && *p == '"') {
        const char *kend = client_skip_string(p, end);
        if (!kend)
            return 0;
        int match = -1;
        for (int i = 0; keys[i] && match < 0; i++) {
            size_t klen = strlen(keys[i]);
            if ((size_t)(kend - p) == klen + 2 && !memcmp(p + 1, keys[i], klen))
                match = i;
        }
        p = client_ws(kend, end);
        if (p >= end || *p != ':')
            return 0;
        p = client_ws(p + 1, end);
        if (match >= 0 && !vlen && p < end) {
            *which = match;
            *val = p;
            return 1;
        }
        const char *vend = client_skip_value(p, end);
        if (!vend)
            return 0;
        if (match >= 0) {
            *which = match;
            *val = p;
            *vlen = (size_t)(vend - p);
            return 1;
        }
        p = client_ws(vend, end);
        if (p >= end || *p != ',')
            return 0;
        p = client_ws(p + 1, end);
    }
    return 0;
}

int client_member(const char *j, size_t len, const char *key,
                  const char **val, size_t *vlen)
{
    const char *keys[] = {key, NULL};
    int which;
    return client_find(j, len, keys, &which, val, vlen);
}

long client_reply_decisions(const char *j, size_t len)
{
    static const char *const keys[] = {"decision", "decisions", NULL};
    const char *v;
    int which;
    if (!client_find(j, len, keys, &which, &v, NULL))
        return 0;
    if (which == 0)
        return 1;
    long n = client_array_len(v, len - (size_t)(v - j));   /* stops at its own ']' */
    return n > 0 ? n : 0;
}

long client_array_len(const char *j, size_t len)
{
    const char *end = j + len;
    const char *p = client_ws(j, end);
    if (p >= end || *p != '[')
        return -1;
    p = client_ws(p + 1, end);
    if (p < end && *p == ']')
        return 0;
    long n = 0;
    while (p < end) {
        p = client_skip_value(p, end);
        if (!p)
            return -1;
        n++;
        p = client_ws(p, end);
        if (p < end && *p == ']')
            return n;
        if (p >= end || *p != ',')
            return -1;
        p = client_ws(p + 1, end);
    }
    return -1;
}

int client_reply_refusal(const char *j, size_t len, const char *code, size_t clen)
{
    static const char over[] = "connections (the limit)\"";
    return clen == strlen("overloaded") && !memcmp(code, "overloaded", clen) &&
           memmem(j, len, over, sizeof over - 1);
}

int client_reply_ok(const char *j, size_t len, const char **code, size_t *clen)
{
    const char *v, *c;
    size_t vlen, cn;
    if (client_member(j, len, "ok", &v, &vlen) && vlen == 4 && !memcmp(v, "true", 4))
        return 1;
    *code = "bad_reply";
    *clen = strlen(*code);
    if (client_member(j, len, "error", &v, &vlen) &&
        client_member(v, vlen, "code", &c, &cn) && cn >= 2 && c[0] == '"') {
        *code = c + 1;
        *clen = cn - 2;
    }
    return 0;
}
