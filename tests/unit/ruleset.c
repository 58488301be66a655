/*
 * tests/unit/ruleset.c -- unit tests for core/ruleset.c.
 *
 * Each test builds its own rule directory under a fresh mkdtemp() directory
 * (the fixture) and removes it afterwards.  The content hash is checked
 * against a byte stream the test assembles itself from the definition in
 * ruleset.h and hashes with EVP directly, and against one constant computed
 * outside C, so that a mistake shared by the module and the test's reading
 * of the definition would still show.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "ruleset.h"

#define FILE_MAX ((size_t)4 * 1024 * 1024)

typedef struct fixture {
    char dir[64];
} fixture;

/* Fail the test with the path and errno's text when a set-up call fails. */
#define CHECK_SYS(call, path)                                                   \
    do {                                                                        \
        if ((call) != 0)                                                        \
            fail_msg("%s:%d: %s on %s: %s", __FILE__, __LINE__, #call, (path), \
                     strerror(errno));                                          \
    } while (0)

/* Write LEN bytes of DATA as DIR/NAME, replacing any earlier contents. */
static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        fail_msg("cannot create %s: %s", path, strerror(errno));
    if (len > 0 && fwrite(data, 1, len, f) != len)
        fail_msg("cannot write %s", path);
    CHECK_SYS(fclose(f), path);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    write_file(dir, name, text, strlen(text));
}

/* Remove PATH and everything under it, without following symbolic links. */
static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *de;
            while ((de = readdir(d)) != NULL) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                    continue;
                char sub[1024];
                snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
                remove_tree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(fx->dir, sizeof fx->dir, "%s/eligo-ruleset-XXXXXX",
             tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    remove_tree(fx->dir);
    free(fx);
    return 0;
}

/* SHA-256 of the stream ruleset.h defines, built here from NAMES, TEXTS and
 * LENS given in the order the test expects; OUT gets 64 hex digits. */
static void expected_hash(const char *const *names, const char *const *texts,
                          const size_t *lens, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    size_t total = 0;

    for (size_t i = 0; i < n; i++)
        total += strlen(names[i]) + 1 + 24 + lens[i];
    unsigned char *stream = malloc(total ? total : 1), *p = stream;
    assert_non_null(stream);
    for (size_t i = 0; i < n; i++) {
        size_t namelen = strlen(names[i]) + 1;
        memcpy(p, names[i], namelen);
        p += namelen;
        p += sprintf((char *)p, "%zu", lens[i]) + 1;   /* sprintf wrote the NUL */
        memcpy(p, texts[i], lens[i]);
        p += lens[i];
    }
    assert_int_equal(EVP_Digest(stream, (size_t)(p - stream), md, &mdlen, EVP_sha256(),
                                NULL), 1);
    assert_int_equal(mdlen, 32);
    for (unsigned int i = 0; i < mdlen; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
    free(stream);
}

/* The files of the main fixture, in the order a correct load returns them:
 * bytewise, so "B" < "a", "a.lua" < "a.test.lua", and the UTF-8 name last. */
static const char *const want_names[] = {
    "B.lua", "a.lua", "a.test.lua", "b.lua", "empty.lua", "link.lua", "nul.lua",
    "\xc3\xa9t\xc3\xa9.lua",
};
static const char *const want_texts[] = {
    "return 'B'\n", "return 'a'\n", "return {cases = {}}\n", "return 'b'\n", "",
    "return 'a'\n", "x\0y", "return '\xc3\xa9t\xc3\xa9'\n",
};
static const size_t want_lens[] = {11, 11, 20, 11, 0, 11, 3, 15};
#define WANT_N (sizeof want_names / sizeof want_names[0])

/* Fill DIR with the files above, written in another order, and with entries
 * that must be ignored. */
static void make_rules(const char *dir)
{
    char path[512];

    write_text(dir, "b.lua", "return 'b'\n");
    write_text(dir, "\xc3\xa9t\xc3\xa9.lua", "return '\xc3\xa9t\xc3\xa9'\n");
    write_text(dir, "a.test.lua", "return {cases = {}}\n");
    write_text(dir, "a.lua", "return 'a'\n");
    write_text(dir, "B.lua", "return 'B'\n");
    write_text(dir, "empty.lua", "");
    write_file(dir, "nul.lua", "x\0y", 3);
    snprintf(path, sizeof path, "%s/link.lua", dir);
    CHECK_SYS(symlink("a.lua", path), path);

    /* Not rule files: other suffixes, hidden names, a plain subdirectory.
     * (A name ending in .lua that is not a regular file is an error:
     * test_lua_name_not_a_file.) */
    write_text(dir, "README.txt", "not a rule\n");
    write_text(dir, "a.lua.bak", "return 'old'\n");
    write_text(dir, "a.lua~", "return 'old'\n");
    write_text(dir, "lua", "return 'no dot'\n");
    write_text(dir, ".lua", "return 'hidden'\n");
    write_text(dir, ".hidden.lua", "return 'hidden'\n");
    write_text(dir, ".#a.lua", "editor lock\n");
    snprintf(path, sizeof path, "%s/sub", dir);
    CHECK_SYS(mkdir(path, 0700), path);
    write_text(path, "deep.lua", "return 'deep'\n");
}

static ruleset *load_ok(const char *dir)
{
    err e;
    err_clear(&e);
    ruleset *rs = ruleset_load(dir, &e);
    if (!rs)
        fail_msg("ruleset_load(%s) failed: %s: %s", dir, e.code ? e.code : "?", e.msg);
    return rs;
}

static void test_load_order_and_contents(void **state)
{
    fixture *fx = *state;
    make_rules(fx->dir);
    ruleset *rs = load_ok(fx->dir);

    assert_string_equal(ruleset_dir(rs), fx->dir);
    assert_int_equal(ruleset_count(rs), WANT_N);
    for (size_t i = 0; i < WANT_N; i++) {
        const ruleset_file *f = ruleset_file_at(rs, i);
        assert_non_null(f);
        assert_string_equal(f->name, want_names[i]);
        assert_int_equal(f->len, want_lens[i]);
        assert_memory_equal(f->text, want_texts[i], want_lens[i] + 1); /* and the NUL */
    }
    assert_null(ruleset_file_at(rs, WANT_N));
    ruleset_free(rs);
}

static void test_hash_matches_definition(void **state)
{
    fixture *fx = *state;
    char want[65];

    make_rules(fx->dir);
    ruleset *rs = load_ok(fx->dir);
    expected_hash(want_names, want_texts, want_lens, WANT_N, want);
    assert_string_equal(ruleset_hash(rs), want);
    assert_int_equal(strlen(ruleset_hash(rs)), 64);
    ruleset_free(rs);
}

/* One constant from outside C: printf 'a.lua\0001\000x' | sha256sum */
static void test_hash_known_value(void **state)
{
    fixture *fx = *state;
    write_text(fx->dir, "a.lua", "x");
    ruleset *rs = load_ok(fx->dir);
    assert_string_equal(ruleset_hash(rs),
                        "adac42bc46a18a41775d25302c3439b0cedff00f9e0a6363421dda85236ce178");
    ruleset_free(rs);
}

static void test_hash_changes_with_one_byte(void **state)
{
    fixture *fx = *state;
    char before[65];

    make_rules(fx->dir);
    ruleset *rs = load_ok(fx->dir);
    memcpy(before, ruleset_hash(rs), sizeof before);
    ruleset_free(rs);

    /* Same length, one byte different. */
    write_text(fx->dir, "b.lua", "return 'c'\n");
    rs = load_ok(fx->dir);
    assert_string_not_equal(ruleset_hash(rs), before);
    ruleset_free(rs);

    /* Back as it was: back to the same hash. */
    write_text(fx->dir, "b.lua", "return 'b'\n");
    rs = load_ok(fx->dir);
    assert_string_equal(ruleset_hash(rs), before);
    ruleset_free(rs);

    /* A renamed file with the same bytes is a different set too. */
    char from[512], to[512];
    snprintf(from, sizeof from, "%s/b.lua", fx->dir);
    snprintf(to, sizeof to, "%s/c.lua", fx->dir);
    CHECK_SYS(rename(from, to), from);
    rs = load_ok(fx->dir);
    assert_string_not_equal(ruleset_hash(rs), before);
    ruleset_free(rs);
}

static void test_from_files_same_hash(void **state)
{
    fixture *fx = *state;
    err e;

    make_rules(fx->dir);
    ruleset *loaded = load_ok(fx->dir);

    /* Hand the files over in reverse order, from buffers that the test then
     * scribbles on, to show that the set sorted and copied them. */
    ruleset_file given[WANT_N];
    char *names[WANT_N], *texts[WANT_N];
    for (size_t i = 0; i < WANT_N; i++) {
        const ruleset_file *f = ruleset_file_at(loaded, WANT_N - 1 - i);
        names[i] = strdup(f->name);
        texts[i] = malloc(f->len + 1);
        assert_non_null(names[i]);
        assert_non_null(texts[i]);
        memcpy(texts[i], f->text, f->len + 1);
        given[i].name = names[i];
        given[i].text = texts[i];
        given[i].len = f->len;
    }
    err_clear(&e);
    ruleset *copy = ruleset_from_files(given, WANT_N, &e);
    if (!copy)
        fail_msg("ruleset_from_files failed: %s", e.msg);
    for (size_t i = 0; i < WANT_N; i++) {
        memset(names[i], 'Z', strlen(names[i]));
        memset(texts[i], 'Z', given[i].len);
        free(names[i]);
        free(texts[i]);
    }

    assert_string_equal(ruleset_hash(copy), ruleset_hash(loaded));
    assert_string_equal(ruleset_dir(copy), "");
    assert_int_equal(ruleset_count(copy), WANT_N);
    for (size_t i = 0; i < WANT_N; i++) {
        const ruleset_file *f = ruleset_file_at(copy, i);
        assert_string_equal(f->name, want_names[i]);
        assert_int_equal(f->len, want_lens[i]);
        assert_memory_equal(f->text, want_texts[i], want_lens[i] + 1);
    }
    ruleset_free(copy);
    ruleset_free(loaded);
}

static void test_from_files_errors(void **state)
{
    (void)state;
    err e;
    ruleset_file two[] = {
        {"a.lua", "return 1\n", 9},
        {"a.lua", "return 2\n", 9},
    };
    ruleset_file bad_name[] = {{"a.txt", "x", 1}};
    ruleset_file hidden[] = {{".a.lua", "x", 1}};
    ruleset_file slash[] = {{"sub/a.lua", "x", 1}};
    ruleset_file no_name[] = {{NULL, "x", 1}};
    ruleset_file no_text_ok[] = {{"a.lua", NULL, 0}};

    err_clear(&e);
    assert_null(ruleset_from_files(NULL, 0, &e));
    assert_string_equal(e.code, "rule_error");

    err_clear(&e);
    assert_null(ruleset_from_files(two, 2, &e));
    assert_string_equal(e.code, "rule_error");
    assert_non_null(strstr(e.msg, "a.lua"));

    assert_null(ruleset_from_files(bad_name, 1, NULL));   /* NULL err is fine */
    err_clear(&e);
    assert_null(ruleset_from_files(hidden, 1, &e));
    assert_non_null(strstr(e.msg, ".a.lua"));
    assert_null(ruleset_from_files(slash, 1, &e));
    assert_null(ruleset_from_files(no_name, 1, &e));

    ruleset *rs = ruleset_from_files(no_text_ok, 1, &e);
    assert_non_null(rs);
    assert_string_equal(ruleset_file_at(rs, 0)->text, "");
    ruleset_free(rs);
}

static void test_refcount(void **state)
{
    fixture *fx = *state;
    write_text(fx->dir, "a.lua", "return 1\n");
    ruleset *rs = load_ok(fx->dir);

    assert_ptr_equal(ruleset_ref(rs), rs);
    ruleset_free(rs);
    /* Still alive on the second reference: valgrind would flag a read of a
     * freed block here, and a leak if the second free did not free. */
    assert_string_equal(ruleset_file_at(rs, 0)->name, "a.lua");
    assert_int_equal(strlen(ruleset_hash(rs)), 64);
    ruleset_free(rs);

    assert_null(ruleset_ref(NULL));
    ruleset_free(NULL);
}

static void test_missing_directory(void **state)
{
    fixture *fx = *state;
    char path[512];
    err e;

    snprintf(path, sizeof path, "%s/no-such-dir", fx->dir);
    err_clear(&e);
    assert_null(ruleset_load(path, &e));
    assert_string_equal(e.code, "rule_error");
    assert_non_null(strstr(e.msg, path));

    /* A file where the directory should be. */
    write_text(fx->dir, "a.lua", "x");
    snprintf(path, sizeof path, "%s/a.lua", fx->dir);
    err_clear(&e);
    assert_null(ruleset_load(path, &e));
    assert_string_equal(e.code, "rule_error");

    assert_null(ruleset_load(NULL, &e));
    assert_null(ruleset_load(path, NULL));
}

static void test_empty_directory(void **state)
{
    fixture *fx = *state;
    char path[512];
    err e;

    err_clear(&e);
    assert_null(ruleset_load(fx->dir, &e));
    assert_string_equal(e.code, "rule_error");
    assert_non_null(strstr(e.msg, fx->dir));

    /* Only things that are not rule files is still empty. */
    write_text(fx->dir, "README.txt", "x");
    write_text(fx->dir, ".hidden.lua", "x");
    snprintf(path, sizeof path, "%s/sub", fx->dir);
    CHECK_SYS(mkdir(path, 0700), path);
    write_text(path, "inner.lua", "return 1\n");
    err_clear(&e);
    assert_null(ruleset_load(fx->dir, &e));
    assert_string_equal(e.code, "rule_error");
    assert_non_null(strstr(e.msg, fx->dir));
}

/* A name that says rule file (x.lua) but is a FIFO or a directory is an
 * error naming it, never opened: skipped, the set would load without that
 * programme, and `eligo check` call it clean. */
static void test_lua_name_not_a_file(void **state)
{
    fixture *fx = *state;
    char path[512];
    err e;
    write_text(fx->dir, "a.lua", "return 'a'\n");
    snprintf(path, sizeof path, "%s/pipe.lua", fx->dir);
    CHECK_SYS(mkfifo(path, 0600), path);
    err_clear(&e);
    assert_null(ruleset_load(fx->dir, &e));
    assert_string_equal(e.code, "rule_error");
    assert_non_null(strstr(e.msg, "pipe.lua: a FIFO, not a rule file"));
    CHECK_SYS(unlink(path), path);

    snprintf(path, sizeof path, "%s/sub.lua", fx->dir);
    CHECK_SYS(mkdir(path, 0700), path);
    err_clear(&e);
    assert_null(ruleset_load(fx->dir, &e));
    assert_non_null(strstr(e.msg, "sub.lua: a directory, not a rule file"));
    CHECK_SYS(rmdir(path), path);

    ruleset *rs = ruleset_load(fx->dir, &e);
    assert_non_null(rs);
    assert_int_equal(ruleset_count(rs), 1);
    ruleset_free(rs);
}

static void test_file_size_limit(void **state)
{
    fixture *fx = *state;
    err e;
    char *big = malloc(FILE_MAX + 1);
    assert_non_null(big);
    memset(big, '-', FILE_MAX + 1);

    /* Exactly 4 MiB is allowed... */
    write_file(fx->dir, "big.lua", big, FILE_MAX);
    ruleset *rs = load_ok(fx->dir);
    assert_int_equal(ruleset_file_at(rs, 0)->len, FILE_MAX);
    ruleset_free(rs);

    /* ...one byte more is an error naming the file. */
    write_file(fx->dir, "big.lua", big, FILE_MAX + 1);
    err_clear(&e);
    assert_null(ruleset_load(fx->dir, &e));
    assert_string_equal(e.code, "rule_error");
    assert_non_null(strstr(e.msg, "big.lua"));
    assert_non_null(strstr(e.msg, fx->dir));

    ruleset_file f = {"big.lua", big, FILE_MAX + 1};
    err_clear(&e);
    assert_null(ruleset_from_files(&f, 1, &e));
    assert_string_equal(e.code, "rule_error");
    free(big);
}

static void test_unreadable_entries(void **state)
{
    fixture *fx = *state;
    char path[512];
    err e;

    /* A dangling symbolic link named like a rule is an error, not a skip:
     * skipping would load a set silently missing a programme. */
    write_text(fx->dir, "a.lua", "return 1\n");
    snprintf(path, sizeof path, "%s/gone.lua", fx->dir);
    CHECK_SYS(symlink("nowhere.lua", path), path);
    err_clear(&e);
    assert_null(ruleset_load(fx->dir, &e));
    assert_string_equal(e.code, "rule_error");
    assert_non_null(strstr(e.msg, "gone.lua"));

    /* Unreadable file (meaningless for root, who reads everything). */
    CHECK_SYS(unlink(path), path);
    if (geteuid() != 0) {
        snprintf(path, sizeof path, "%s/a.lua", fx->dir);
        CHECK_SYS(chmod(path, 0), path);
        err_clear(&e);
        assert_null(ruleset_load(fx->dir, &e));
        assert_non_null(strstr(e.msg, "a.lua"));
        CHECK_SYS(chmod(path, 0600), path);
    }
}

static void test_is_test(void **state)
{
    (void)state;
    assert_true(ruleset_is_test("idmaj.test.lua"));
    assert_true(ruleset_is_test(".test.lua"));
    assert_false(ruleset_is_test("idmaj.lua"));
    assert_false(ruleset_is_test("test.lua"));
    assert_false(ruleset_is_test("idmaj.test.lua.bak"));
    assert_false(ruleset_is_test("idmaj.testlua"));
    assert_false(ruleset_is_test(""));
    assert_false(ruleset_is_test(NULL));
}

/* ruleset_write: a set written out reads back with the same hash and the
 * same bytes (a NUL and no final newline included); a directory that holds
 * anything, a file, a symbolic link are refused and left as they were; a
 * name with a control character refuses the whole set, with nothing made;
 * one with ".." inside is written. */
static void test_write_reads_back(void **state)
{
    fixture *fx = *state;
    err e;
    char src[128], out[128], path[256];
    snprintf(src, sizeof src, "%s/src", fx->dir);
    snprintf(out, sizeof out, "%s/out", fx->dir);
    CHECK_SYS(mkdir(src, 0700), src);
    write_text(src, "a.lua", "-- a\nprogram 'a' {}\n");
    write_file(src, "b.test.lua", "x\0y", 3);
    write_text(src, "empty.lua", "");
    ruleset *rs = load_ok(src);

    err_clear(&e);
    if (ruleset_write(rs, out, &e) != 0)
        fail_msg("ruleset_write: %s", e.msg);
    ruleset *back = load_ok(out);
    assert_string_equal(ruleset_hash(back), ruleset_hash(rs));
    assert_int_equal(ruleset_count(back), 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(ruleset_file_at(back, i)->name, ruleset_file_at(rs, i)->name);
        assert_int_equal(ruleset_file_at(back, i)->len, ruleset_file_at(rs, i)->len);
        assert_memory_equal(ruleset_file_at(back, i)->text, ruleset_file_at(rs, i)->text,
                            ruleset_file_at(rs, i)->len);
    }
    ruleset_free(back);

    /* Not over itself, nor into a directory holding anything, even a dot file. */
    err_clear(&e);
    assert_int_equal(ruleset_write(rs, out, &e), -1);
    assert_string_equal(e.code, "invalid_request");
    assert_non_null(strstr(e.msg, "is not empty"));
    char other[128];
    snprintf(other, sizeof other, "%s/other", fx->dir);
    CHECK_SYS(mkdir(other, 0700), other);
    write_text(other, ".keep", "x");
    err_clear(&e);
    assert_int_equal(ruleset_write(rs, other, &e), -1);
    assert_non_null(strstr(e.msg, "is not empty"));
    snprintf(path, sizeof path, "%s/a.lua", other);
    assert_int_equal(access(path, F_OK), -1);
    /* A file, a symbolic link to an empty directory. */
    snprintf(path, sizeof path, "%s/src/a.lua", fx->dir);
    err_clear(&e);
    assert_int_equal(ruleset_write(rs, path, &e), -1);
    assert_non_null(strstr(e.msg, "is not a directory"));
    char empty[128], link[128];
    snprintf(empty, sizeof empty, "%s/empty", fx->dir);
    snprintf(link, sizeof link, "%s/link", fx->dir);
    CHECK_SYS(mkdir(empty, 0700), empty);
    CHECK_SYS(symlink(empty, link), link);
    err_clear(&e);
    assert_int_equal(ruleset_write(rs, link, &e), -1);
    assert_non_null(strstr(e.msg, "is a symbolic link"));
    /* An empty directory that exists is taken. */
    err_clear(&e);
    if (ruleset_write(rs, empty, &e) != 0)
        fail_msg("ruleset_write into an empty directory: %s", e.msg);
    ruleset_free(rs);

    /* Names the store could hold: a control character. */
    static const char *const bad[] = {"a\x1b[2J.lua", "a\nb.lua"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ruleset_file f = {.name = bad[i], .text = "x", .len = 1};
        err_clear(&e);
        rs = ruleset_from_files(&f, 1, &e);
        if (!rs)
            fail_msg("ruleset_from_files(%s): %s", bad[i], e.msg);
        char dir[128];
        snprintf(dir, sizeof dir, "%s/bad%zu", fx->dir, i);
        err_clear(&e);
        assert_int_equal(ruleset_write(rs, dir, &e), -1);
        assert_string_equal(e.code, "rule_error");
        assert_non_null(strstr(e.msg, "which is not written"));
        assert_null(strchr(e.msg, '\x1b'));
        assert_null(strchr(e.msg, '\n'));
        assert_int_equal(access(dir, F_OK), -1);   /* nothing made */
        ruleset_free(rs);
    }

    /* Two dots inside a name are no ".." (ruleset_load reads the file): a
     * set that check and serve took is written out whole. */
    ruleset_file dots[] = {{.name = "notes..lua", .text = "-- n\n", .len = 5},
                           {.name = "x...lua", .text = "", .len = 0}};
    err_clear(&e);
    rs = ruleset_from_files(dots, 2, &e);
    if (!rs)
        fail_msg("ruleset_from_files: %s", e.msg);
    snprintf(path, sizeof path, "%s/dots", fx->dir);
    err_clear(&e);
    if (ruleset_write(rs, path, &e) != 0)
        fail_msg("ruleset_write of notes..lua: %s", e.msg);
    back = load_ok(path);
    assert_string_equal(ruleset_hash(back), ruleset_hash(rs));
    assert_int_equal(ruleset_count(back), 2);
    ruleset_free(back);
    ruleset_free(rs);
}

/* ruleset_write cut short by a failing write: the files it made and the
 * directory it made are removed, nothing looks like a whole set.  (A file
 * size limit of 8 bytes fails the write of a longer file.) */
static void test_write_fails_whole(void **state)
{
    fixture *fx = *state;
    ruleset_file f[] = {{.name = "a.lua", .text = "-- a\n", .len = 5},
                        {.name = "b.lua", .text = "-- b, longer than 8 bytes\n", .len = 26}};
    err e;
    err_clear(&e);
    ruleset *rs = ruleset_from_files(f, 2, &e);
    if (!rs)
        fail_msg("ruleset_from_files: %s", e.msg);
    char out[128], path[160];
    snprintf(out, sizeof out, "%s/cut", fx->dir);
    struct rlimit was, small = {8, 8};
    CHECK_SYS(getrlimit(RLIMIT_FSIZE, &was), "getrlimit");
    small.rlim_max = was.rlim_max;
    void (*old)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK_SYS(setrlimit(RLIMIT_FSIZE, &small), "setrlimit");
    err_clear(&e);
    int rc = ruleset_write(rs, out, &e);
    CHECK_SYS(setrlimit(RLIMIT_FSIZE, &was), "setrlimit");
    signal(SIGXFSZ, old);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(e.msg, "cannot write"));
    snprintf(path, sizeof path, "%s/a.lua", out);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(access(out, F_OK), -1);
    ruleset_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_order_and_contents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_name_not_a_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_matches_definition, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_known_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_changes_with_one_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_from_files_same_hash, setup, teardown),
        cmocka_unit_test(test_from_files_errors),
        cmocka_unit_test_setup_teardown(test_refcount, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_size_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_reads_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_fails_whole, setup, teardown),
        cmocka_unit_test(test_is_test),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
