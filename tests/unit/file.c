/* tests/unit/file.c -- file_open_regular and file_read_small: a small file
 * named on the command line is read whole, and anything else is refused at
 * once, saying what it is. */
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

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    const char *names[] = {"seven", "eight", "empty", "fifo"};
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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
