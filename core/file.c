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

long file_read_small(const char *path, char *buf, size_t cap, err *e)
{
    FILE *f = file_open_regular(path, e);
    if (!f)
        return -1;
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
