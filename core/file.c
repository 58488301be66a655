/* file.c -- see file.h. */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

FILE *file_open_regular(const char *path, err *e)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        err_set(e, "invalid_request", "cannot open %s: %s", path, strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        err_set(e, "invalid_request", "%s is %s", path,
                S_ISDIR(sb.st_mode) ? "a directory" : "not a regular file");
    } else {
        FILE *f = fdopen(fd, "r");
        if (f)
            return f;
        err_set(e, "invalid_request", "cannot open %s: %s", path, strerror(errno));
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

/* F (PATH) read whole into BUF of CAP bytes, and closed. */
static long file_read_whole(FILE *f, const char *path, char *buf, size_t cap, err *e)
{
    size_t n = fread(buf, 1, cap, f);
    int failed = ferror(f), why = errno;
    fclose(f);
    if (failed)
        return err_set(e, "invalid_request", "cannot read %s: %s", path, strerror(why));
    if (n == cap) {
        err_set(e, "invalid_request", "%s is over %zu bytes", path, cap - 1);
        return -2;
    }
    return (long)n;
}

long file_read_small(const char *path, char *buf, size_t cap, err *e)
{
    FILE *f = file_open_regular(path, e);
    return f ? file_read_whole(f, path, buf, cap, e) : -1;
}

/* The mode and the owner are those of the file opened (fstat), not of
 * whatever the name points at by the time a stat would look. */
int file_secret_ok(FILE *f, const char *path, const char *what, err *e)
{
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0)
        return err_set(e, "invalid_request", "cannot read %s: %s", path, strerror(errno));
    if (sb.st_mode & 077)
        return err_set(e, "invalid_request", "%s is open to other users (mode %04o): %s must be "
                       "readable by its owner only (chmod 600 %s)", path,
                       (unsigned)(sb.st_mode & 07777), what, path);
    if (sb.st_uid != geteuid())
        return err_set(e, "invalid_request", "%s belongs to uid %lu, not to you (uid %lu): its "
                       "owner can read it whatever its mode, and %s must be yours alone (chown "
                       "%lu %s if that user never had it, else make a new one)", path,
                       (unsigned long)sb.st_uid, (unsigned long)geteuid(), what,
                       (unsigned long)geteuid(), path);
    return 0;
}

long file_read_secret(const char *path, const char *what, char *buf, size_t cap, err *e)
{
    FILE *f = file_open_regular(path, e);
    if (!f)
        return -1;
    if (file_secret_ok(f, path, what, e) == 0)
        return file_read_whole(f, path, buf, cap, e);
    fclose(f);
    return -1;
}

int file_sync(const char *path, int dir)
{
    int fd = open(path, dir ? O_RDONLY | O_DIRECTORY | O_CLOEXEC : O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int file_sync_parent(const char *path)
{
    char parent[4096];
    if (snprintf(parent, sizeof parent, "%s", path) >= (int)sizeof parent) {
        errno = ENAMETOOLONG;
        return -1;
    }
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/')
        parent[--n] = '\0';
    char *slash = strrchr(parent, '/');
    if (!slash)
        snprintf(parent, sizeof parent, ".");
    else
        slash[slash == parent] = '\0';
    return file_sync(parent, 1);
}
