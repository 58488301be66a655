/* tests/unit/err.c -- err_denied: the reason it gives for a refused path
 * names the right thing.  Its reasons depend on whose the process is, so a
 * test run as root checks them in a child that has given root up (root is
 * refused nothing but on a read-only file system). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"

/* Run FN as an ordinary user: in a child that drops root when the test runs
 * as root, else in this process.  The child exits 0 when FN's checks held. */
static void as_user(int (*fn)(void))
{
    if (geteuid() != 0) {
        assert_int_equal(fn(), 0);
        return;
    }
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(2);
        _exit(fn());
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* A directory given where a file is (a --db that names one) is not "the
 * file" whose mode forbids writing: it is a directory.  "/" is root's, 755,
 * and cannot be written by anyone else. */
static int directory_named(void)
{
    char why[600];
    const char *paths[] = {"/", "/usr", "/usr/"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        err_denied(paths[i], 1, why, sizeof why);
        if (strstr(why, "the file") || !strstr(why, "is a directory")) {
            fprintf(stderr, "err_denied(%s): '%s'\n", paths[i], why);
            return 1;
        }
    }
    return 0;
}

static void test_denied_directory(void **state)
{
    (void)state;
    as_user(directory_named);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_denied_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
