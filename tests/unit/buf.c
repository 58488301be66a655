/* tests/unit/buf.c -- buf_add_json_string: JSON escapes, UTF-8 kept as it
 * is, and every byte that begins no valid UTF-8 character written as U+FFFD,
 * so that a reply built with it is valid UTF-8 whatever text went in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

#define FFFD "\xef\xbf\xbd"

/* buf_add_json_string of the N bytes IN must give exactly WANT. */
static void check_json(const char *in, size_t n, const char *want)
{
    buf b;
    buf_init(&b, 1024);
    assert_int_equal(buf_add_json_string(&b, in, n), 0);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    buf_free(&b);
}

#define CHECK(in, want) check_json(in, sizeof in - 1, want)

static void test_json_string_escapes(void **state)
{
    (void)state;
    CHECK("", "\"\"");
    CHECK("plain", "\"plain\"");
    CHECK("a\"b\\c\nd\re\tf", "\"a\\\"b\\\\c\\nd\\re\\tf\"");
    CHECK("\x01\x1f", "\"\\u0001\\u001f\"");
    check_json("a\0b", 3, "\"a\\u0000b\"");
}

/* Two-, three- and four-byte characters, at the ends and in the middle. */
static void test_json_string_utf8_kept(void **state)
{
    (void)state;
    CHECK("\xc3\xa9t\xc3\xa9", "\"\xc3\xa9t\xc3\xa9\"");                    /* été */
    CHECK("\xd8\xa5\xd8\xaf\xd9\x85\xd8\xa7\xd8\xac", "\"\xd8\xa5\xd8\xaf\xd9\x85\xd8\xa7\xd8\xac\"");
    CHECK("\xe2\x82\xac 5", "\"\xe2\x82\xac 5\"");                          /* € */
    CHECK("\xf0\x9f\x98\x80\"", "\"\xf0\x9f\x98\x80\\\"\"");                /* U+1F600 */
    CHECK("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"");                      /* U+10FFFF */
    CHECK("\xed\x9f\xbf", "\"\xed\x9f\xbf\"");                              /* U+D7FF */
}

static void test_json_string_bad_bytes_replaced(void **state)
{
    (void)state;
    CHECK("caf\xe9", "\"caf" FFFD "\"");                       /* Latin-1 é */
    CHECK("\x80x", "\"" FFFD "x\"");                           /* a lone continuation byte */
    CHECK("ab\xd8", "\"ab" FFFD "\"");                         /* cut inside a character */
    CHECK("\xe2\x82", "\"" FFFD FFFD "\"");                    /* cut: each byte replaced */
    CHECK("\xc0\x80", "\"" FFFD FFFD "\"");                    /* overlong NUL */
    CHECK("\xe0\x80\xaf", "\"" FFFD FFFD FFFD "\"");           /* overlong '/' */
    CHECK("\xed\xa0\x80", "\"" FFFD FFFD FFFD "\"");           /* a surrogate, U+D800 */
    CHECK("\xf4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"");  /* past U+10FFFF */
    CHECK("\xff\xfe", "\"" FFFD FFFD "\"");
    CHECK("\xc3\xa9\xc3", "\"\xc3\xa9" FFFD "\"");             /* good, then cut */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_string_escapes),
        cmocka_unit_test(test_json_string_utf8_kept),
        cmocka_unit_test(test_json_string_bad_bytes_replaced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
