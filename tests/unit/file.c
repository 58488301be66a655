/* tests/unit/file.c -- file_open_regular, file_read_small and
 * file_read_secret: a small file named on the command line is read whole,
 * and anything else is refused at once, saying what it is; a secret others
 * can read is refused unread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "file.h"

static char dir[] = "/tmp/eligo-file-XXXXXX";

static void path_in(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* A regular file is read whole; one of CAP bytes or more is refused as too
 * large (-2), one byte less is not. */
static void test_read_small_sizes(void **state)
{
    (void)state;
    char path[256], buf[8];
    err e = {0};
    path_in(path, sizeof path, "seven");
    write_file(path, "1234567");
    assert_int_equal(file_read_small(path, buf, sizeof buf, &e), 7);
    assert_memory_equal(buf, "1234567", 7);
    path_in(path, sizeof path, "eight");
    write_file(path, "12345678");
    assert_int_equal(file_read_small(path, buf, sizeof buf, &e), -2);
    assert_non_null(strstr(e.msg, "is over 7 bytes"));
    assert_non_null(strstr(e.msg, path));
    path_in(path, sizeof path, "empty");
    write_file(path, "");
    assert_int_equal(file_read_small(path, buf, sizeof buf, &e), 0);
}

/* A FIFO is refused without waiting for a writer (the test would hang),
 * a directory is named as one, a missing file says why. */
static void test_refusals(void **state)
{
    (void)state;
    char path[256], buf[8];
    err e = {0};
    path_in(path, sizeof path, "fifo");
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_null(file_open_regular(path, &e));
    assert_non_null(strstr(e.msg, "is not a regular file"));
    assert_string_equal(e.code, "invalid_request");
    assert_int_equal(file_read_small(dir, buf, sizeof buf, &e), -1);
    assert_non_null(strstr(e.msg, "is a directory"));
    path_in(path, sizeof path, "missing");
    assert_null(file_open_regular(path, &e));
    assert_non_null(strstr(e.msg, "cannot open"));
    assert_non_null(strstr(e.msg, "No such file or directory"));
    if (access("/dev/zero", R_OK) == 0) {   /* read for ever if it were read */
        assert_int_equal(file_read_small("/dev/zero", buf, sizeof buf, &e), -1);
        assert_non_null(strstr(e.msg, "is not a regular file"));
    }
}

/* A secret is read when only its owner can read it; one others may read
 * or write is refused with the chmod that fixes it, and one another user
 * owns (which root can make here) with the chown. */
static void test_read_secret(void **state)
{
    (void)state;
    char path[256], buf[64], want[512];
    err e = {0};
    path_in(path, sizeof path, "secret");
    write_file(path, "a key of many bytes\n");
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(file_read_secret(path, "a redaction key", buf, sizeof buf, &e), 20);
    assert_memory_equal(buf, "a key of many bytes\n", 20);
    const mode_t open_modes[] = {0644, 0640, 0604, 0620, 0602};
    for (size_t i = 0; i < sizeof open_modes / sizeof open_modes[0]; i++) {
        assert_int_equal(chmod(path, open_modes[i]), 0);
        memset(&e, 0, sizeof e);
        assert_int_equal(file_read_secret(path, "a redaction key", buf, sizeof buf, &e), -1);
        snprintf(want, sizeof want, "%s is open to other users (mode %04o): a redaction key "
                 "must be readable by its owner only (chmod 600 %s)", path,
                 (unsigned)open_modes[i], path);
        assert_string_equal(e.msg, want);
        assert_string_equal(e.code, "invalid_request");
    }
    assert_int_equal(chmod(path, 0600), 0);
    if (geteuid() == 0 && chown(path, 1, (gid_t)-1) == 0) {
        memset(&e, 0, sizeof e);
        assert_int_equal(file_read_secret(path, "a redaction key", buf, sizeof buf, &e), -1);
        assert_non_null(strstr(e.msg, "belongs to uid 1, not to you (uid 0)"));
        assert_non_null(strstr(e.msg, "chown 0 "));
    }
    /* What is not a regular file is said as such first. */
    assert_int_equal(file_read_secret(dir, "a redaction key", buf, sizeof buf, &e), -1);
    assert_non_null(strstr(e.msg, "is a directory"));
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    const char *names[] = {"seven", "eight", "empty", "fifo", "secret"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[256];
        path_in(path, sizeof path, names[i]);
        unlink(path);
    }
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_small_sizes),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_read_secret),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
