/* err.c -- see err.h. */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int err_set(err *e, const char *code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        e->code = code;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void err_clear(err *e)
{
    if (e) {
        e->code = NULL;
        e->msg[0] = '\0';
    }
}

const char *err_denied(const char *path, int write, char *out, size_t n)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        slash[slash == dir] = '\0';   /* "/x" is in "/" */
    unsigned uid = (unsigned)geteuid();
    struct stat sb;
    out[0] = '\0';
    if (access(dir, X_OK) != 0) {
        if (errno != EACCES)
            return out;
        /* The first directory on the way that cannot be entered. */
        for (char *p = dir + 1;; p++) {
            char c = *p;
            if (c != '/' && c != '\0')
                continue;
            *p = '\0';
            int denied = access(dir, X_OK) != 0 && errno == EACCES;
            if (denied || !c) {
                snprintf(out, n, "the directory %s cannot be entered by uid %u", dir, uid);
                return out;
            }
            *p = c;
        }
    }
    const char *at = stat(path, &sb) == 0 ? path : dir;   /* a file to make is made in DIR */
    if (at == path && S_ISDIR(sb.st_mode)) {
        /* Its mode is not the fault: no file can be opened as a directory. */
        snprintf(out, n, "%s is a directory, not a file", path);
        return out;
    }
    if (access(at, at == path && !write ? R_OK : W_OK) == 0)
        return out;
    if (errno == EROFS)
        snprintf(out, n, "%s is on a read-only file system", at);
    else if (errno == EACCES && at == dir)
        snprintf(out, n, "the directory %s cannot be written by uid %u, so no file can be made in it",
                 dir, uid);
    else if (errno == EACCES)
        snprintf(out, n, "the file cannot be %s by uid %u (its owner is uid %u, its mode %03o)",
                 write ? "written" : "read", uid, (unsigned)sb.st_uid,
                 (unsigned)(sb.st_mode & 0777));
    return out;
}
