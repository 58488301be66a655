/* tests/unit/sign.c -- unit tests of core/sign.c: keys, the signed message,
 * checkpoints that verify, and the ways they must not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "sign.h"

typedef struct fixture {
    char dir[64];
    char a[96], b[96];          /* key prefixes */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/eligo-sign-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->a, sizeof f->a, "%s/a", f->dir);
    snprintf(f->b, sizeof f->b, "%s/b", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    const char *names[] = {"a.key", "a.pub", "b.key", "b.pub", "bad.pem"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s/%s", f->dir, names[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static sign_key *load(const char *prefix, const char *ext, int private)
{
    char p[160];
    err e = {0};
    snprintf(p, sizeof p, "%s.%s", prefix, ext);
    sign_key *k = sign_key_load(p, private, &e);
    if (!k)
        fprintf(stderr, "sign_key_load %s: %s\n", p, e.msg);
    assert_non_null(k);
    return k;
}

static const char head[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static void test_keygen(void **state)
{
    fixture *f = *state;
    err e = {0};
    assert_int_equal(sign_keygen(f->a, &e), 0);

    char p[160];
    struct stat sb;
    snprintf(p, sizeof p, "%s.key", f->a);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* Never overwritten: the second call fails and changes nothing. */
    sign_key *before = load(f->a, "pub", 0);
    assert_int_equal(sign_keygen(f->a, &e), -1);
    assert_string_equal(e.code, "invalid_request");
    assert_non_null(strstr(e.msg, "exists already"));
    sign_key *after = load(f->a, "pub", 0);
    assert_string_equal(sign_key_fingerprint(before), sign_key_fingerprint(after));

    /* The private key file gives the same fingerprint; a public key is no
     * private key. */
    sign_key *priv = load(f->a, "key", 1);
    assert_string_equal(sign_key_fingerprint(priv), sign_key_fingerprint(before));
    assert_int_equal(strlen(sign_key_fingerprint(priv)), 64);
    snprintf(p, sizeof p, "%s.pub", f->a);
    assert_null(sign_key_load(p, 1, &e));
    assert_non_null(strstr(e.msg, "is a public key"));
    assert_null(strstr(e.msg, "chmod"));
    snprintf(p, sizeof p, "%s.key", f->a);
    assert_null(sign_key_load(p, 0, &e));   /* a verifier is given no private key */
    assert_non_null(strstr(e.msg, "is a private key"));
    /* Nor a file holding both halves, in either order. */
    for (int order = 0; order < 2; order++) {
        char both[160], text[2048] = "";
        snprintf(both, sizeof both, "%s/bad.pem", f->dir);
        for (int half = 0; half < 2; half++) {
            snprintf(p, sizeof p, "%s.%s", f->a, (half ^ order) ? "key" : "pub");
            FILE *in = fopen(p, "r");
            assert_non_null(in);
            size_t used = strlen(text);
            text[used + fread(text + used, 1, sizeof text - used - 1, in)] = '\0';
            fclose(in);
        }
        FILE *out = fopen(both, "w");
        assert_non_null(out);
        fputs(text, out);
        fclose(out);
        chmod(both, 0600);
        assert_null(sign_key_load(both, 0, &e));
        assert_non_null(strstr(e.msg, "holds a private key"));
        unlink(both);
    }
    snprintf(p, sizeof p, "%s/nothing.pub", f->dir);
    assert_null(sign_key_load(p, 0, &e));
    assert_non_null(strstr(e.msg, "cannot open"));
    snprintf(p, sizeof p, "%s/bad.pem", f->dir);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs("not a key\n", fp);
    fclose(fp);
    assert_null(sign_key_load(p, 0, &e));
    /* Each failure to read says why, in eligo's words where OpenSSL 3 says
     * "unsupported" (a file with no PEM block) or "interrupted or
     * cancelled" (an encrypted key, whose passphrase is never asked). */
    fp = fopen(p, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_null(sign_key_load(p, 0, &e));
    assert_non_null(strstr(e.msg, "holds no PEM block"));
    fp = fopen(p, "w");
    assert_non_null(fp);
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(pk);
    assert_int_equal(PEM_write_PrivateKey(fp, pk, EVP_aes_256_cbc(), (unsigned char *)"secret",
                                          6, NULL, NULL), 1);
    EVP_PKEY_free(pk);
    fclose(fp);
    chmod(p, 0600);
    assert_null(sign_key_load(p, 1, &e));
    assert_non_null(strstr(e.msg, "encrypted with a passphrase"));
    assert_int_equal(ERR_peek_error(), 0);
    assert_null(sign_key_load(f->dir, 0, &e));
    assert_non_null(strstr(e.msg, "is a directory"));
    sign_key_free(priv);
    sign_key_free(before);
    sign_key_free(after);
    sign_key_free(NULL);
}

static void test_message(void **state)
{
    (void)state;
    sign_checkpoint c = {.seq = 42};
    snprintf(c.head, sizeof c.head, "%s", head);
    snprintf(c.time, sizeof c.time, "2025-03-01T10:00:00.000Z");
    snprintf(c.key, sizeof c.key, "%s", head);
    buf b;
    buf_init(&b, 4096);
    err e = {0};
    assert_int_equal(sign_message(&c, &b, &e), 0);
    char want[512];
    snprintf(want, sizeof want, "eligo-checkpoint-1\nseq 42\nhead %s\ntime "
             "2025-03-01T10:00:00.000Z\nkey %s\n", head, head);
    assert_string_equal(b.data, want);

    /* Format 2 names the database, on the line after its own name. */
    buf_reset(&b);
    snprintf(c.database, sizeof c.database, "0123456789abcdef0123456789abcdef");
    assert_int_equal(sign_message(&c, &b, &e), 0);
    snprintf(want, sizeof want, "eligo-checkpoint-2\ndatabase 0123456789abcdef0123456789abcdef\n"
             "seq 42\nhead %s\ntime 2025-03-01T10:00:00.000Z\nkey %s\n", head, head);
    assert_string_equal(b.data, want);
    buf_reset(&b);
    c.database[5] = 'X';
    assert_int_equal(sign_message(&c, &b, &e), -1);
    c.database[0] = '\0';

    /* Fields that could make two readings of one message are refused. */
    buf_reset(&b);
    snprintf(c.time, sizeof c.time, "2025\nseq 7");
    assert_int_equal(sign_message(&c, &b, &e), -1);
    snprintf(c.time, sizeof c.time, "2025-03-01");
    c.head[3] = 'G';
    assert_int_equal(sign_message(&c, &b, &e), -1);
    buf_free(&b);
}

static void test_sign_and_check(void **state)
{
    fixture *f = *state;
    err e = {0};
    assert_int_equal(sign_keygen(f->a, &e), 0);
    assert_int_equal(sign_keygen(f->b, &e), 0);
    sign_key *priv = load(f->a, "key", 1);
    sign_key *pub = load(f->a, "pub", 0);
    sign_key *other = load(f->b, "pub", 0);

    sign_checkpoint c, d;
    static const char db[] = "00112233445566778899aabbccddeeff";
    assert_int_equal(sign_checkpoint_make(priv, db, 1234, head, "2025-03-01T10:00:00.000Z", &c,
                                          &e), 0);
    assert_string_equal(c.database, db);
    assert_int_equal(strlen(c.signature), 128);
    assert_string_equal(c.key, sign_key_fingerprint(pub));
    assert_int_equal(sign_checkpoint_check(pub, &c, &e), 0);

    /* A public key cannot sign. */
    assert_int_equal(sign_checkpoint_make(pub, db, 1, head, "t", &d, &e), -1);

    /* Through the file format and back. */
    buf b;
    buf_init(&b, 4096);
    assert_int_equal(sign_checkpoint_format(&c, &b), 0);
    assert_int_equal(b.data[b.len - 1], '\n');
    assert_non_null(strstr(b.data, "{\"format\":\"eligo-checkpoint-2\",\"database\":\""));
    assert_int_equal(sign_checkpoint_parse(b.data, b.len, &d, &e), 0);
    assert_int_equal(d.seq, 1234);
    assert_string_equal(d.database, db);
    assert_string_equal(d.head, c.head);
    assert_string_equal(d.signature, c.signature);
    assert_int_equal(sign_checkpoint_check(pub, &d, &e), 0);
    /* The database is signed too. */
    d.database[31] = d.database[31] == 'f' ? 'e' : 'f';
    assert_int_equal(sign_checkpoint_check(pub, &d, &e), 1);

    /* Format 1, of a database from before ids, is made and read as ever. */
    sign_checkpoint c1;
    assert_int_equal(sign_checkpoint_make(priv, "", 1234, head, "2025-03-01T10:00:00.000Z", &c1,
                                          &e), 0);
    buf_reset(&b);
    assert_int_equal(sign_checkpoint_format(&c1, &b), 0);
    assert_non_null(strstr(b.data, "{\"format\":\"eligo-checkpoint-1\",\"seq\":1234,"));
    assert_null(strstr(b.data, "database"));
    assert_int_equal(sign_checkpoint_parse(b.data, b.len, &d, &e), 0);
    assert_string_equal(d.database, "");
    assert_int_equal(sign_checkpoint_check(pub, &d, &e), 0);
    /* Format 1 has no database member; format 2 must have one, of 32 hex. */
    char odd1[1024];
    snprintf(odd1, sizeof odd1, "{\"format\":\"eligo-checkpoint-1\",\"database\":\"%s\",%s", db,
             strchr(b.data, '"' ) + strlen("\"format\":\"eligo-checkpoint-1\","));
    assert_int_equal(sign_checkpoint_parse(odd1, strlen(odd1), &d, &e), -1);
    assert_non_null(strstr(e.msg, "\"database\" that eligo does not write"));
    snprintf(odd1, sizeof odd1, "{\"format\":\"eligo-checkpoint-2\",%s",
             strchr(b.data, '"') + strlen("\"format\":\"eligo-checkpoint-1\","));
    assert_int_equal(sign_checkpoint_parse(odd1, strlen(odd1), &d, &e), -1);
    assert_non_null(strstr(e.msg, "has no \"database\""));
    snprintf(odd1, sizeof odd1, "{\"format\":\"eligo-checkpoint-2\",\"database\":\"abc\",%s",
             strchr(b.data, '"') + strlen("\"format\":\"eligo-checkpoint-1\","));
    assert_int_equal(sign_checkpoint_parse(odd1, strlen(odd1), &d, &e), -1);
    assert_non_null(strstr(e.msg, "database is not 32 lowercase hex"));
    c = c1;   /* the files below are written in format 1 */

    /* Tampered statements fail: every signed field counts. */
    d = c;
    d.seq = 1233;
    assert_int_equal(sign_checkpoint_check(pub, &d, &e), 1);
    assert_string_equal(e.code, "bad_signature");
    d = c;
    d.head[63] = d.head[63] == 'f' ? 'e' : 'f';
    assert_int_equal(sign_checkpoint_check(pub, &d, &e), 1);
    d = c;
    d.time[3] = '6';
    assert_int_equal(sign_checkpoint_check(pub, &d, &e), 1);
    d = c;
    d.signature[0] = d.signature[0] == '0' ? '1' : '0';
    assert_int_equal(sign_checkpoint_check(pub, &d, &e), 1);

    /* The wrong key: named by its fingerprint, and, with the fingerprint
     * forged too, by the signature. */
    assert_int_equal(sign_checkpoint_check(other, &c, &e), 1);
    assert_non_null(strstr(e.msg, "not with this public key"));
    d = c;
    snprintf(d.key, sizeof d.key, "%s", sign_key_fingerprint(other));
    assert_int_equal(sign_checkpoint_check(other, &d, &e), 1);
    assert_non_null(strstr(e.msg, "does not verify"));

    /* Malformed files are named. */
    const char *bad[] = {
        "[]", "{\"format\":\"other\"}",
        "{\"format\":\"eligo-checkpoint-1\",\"seq\":-1}",
        "{\"format\":\"eligo-checkpoint-1\",\"seq\":1.5}",
        ("{\"format\":\"eligo-checkpoint-1\",\"seq\":1,\"head\":\"abc\",\"time\":\"t\","
         "\"key\":\"k\",\"signature\":\"s\"}"),   /* one element */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(sign_checkpoint_parse(bad[i], strlen(bad[i]), &d, &e), -1);

    /* What another program could read otherwise is refused, by what it is:
     * a seq not in plain digits, a member twice, a member eligo does not
     * write, a NUL escaped in a string (it ends the string for cJSON, not for
     * another reader: a forged time after it would verify), anything after
     * the object. */
    static const struct {
        const char *seq, *time_tail, *after, *said;
    } odds[] = {
        {"01234", "", "}", "\"seq\" is not written in plain digits (as 1234)"},
        {"1234.0", "", "}", "\"seq\" is not written in plain digits (as 1234)"},
        {"1.234e3", "", "}", "\"seq\" is not written in plain digits (as 1234)"},
        {"1234", "", ",\"seq\":1}", "has \"seq\" twice"},
        {"1234", "", ",\"note\":1}", "a member \"note\" that eligo does not write"},
        {"1234", "\\u0000 2031 forged", "}", "a string holds \\u0000"},
        {"1234", "", "}{\"seq\":9}", "something follows the object"},
    };
    char odd[1024];
    for (size_t i = 0; i < sizeof odds / sizeof odds[0]; i++) {
        snprintf(odd, sizeof odd, "{\"format\":\"eligo-checkpoint-1\",\"seq\":%s,\"head\":\"%s\","
                 "\"time\":\"%s%s\",\"key\":\"%s\",\"signature\":\"%s\"%s", odds[i].seq, c.head,
                 c.time, odds[i].time_tail, c.key, c.signature, odds[i].after);
        assert_int_equal(sign_checkpoint_parse(odd, strlen(odd), &d, &e), -1);
        if (!strstr(e.msg, odds[i].said))
            fail_msg("%s: said \"%s\", expected \"%s\"", odd, e.msg, odds[i].said);
    }
    /* A member's name written with an escape is still "seq" to cJSON: the
     * look for a plain "seq" must not be passed by, nor the name let through. */
    static const char *const escaped[] = {"01234", "1234.0", "1.234e3", "1234"};
    for (size_t i = 0; i < sizeof escaped / sizeof escaped[0]; i++) {
        snprintf(odd, sizeof odd, "{\"format\":\"eligo-checkpoint-1\",\"s\\u0065q\":%s,"
                 "\"head\":\"%s\",\"time\":\"%s\",\"key\":\"%s\",\"signature\":\"%s\"}",
                 escaped[i], c.head, c.time, c.key, c.signature);
        assert_int_equal(sign_checkpoint_parse(odd, strlen(odd), &d, &e), -1);
        if (!strstr(e.msg, "a member's name is written with an escape"))
            fail_msg("%s: said \"%s\"", odd, e.msg);
    }
    /* A raw NUL in a string ends it for cJSON (the head read would be the
     * 64 digits before it, the rest ignored); no raw control byte is JSON. */
    size_t n = (size_t)snprintf(odd, sizeof odd, "{\"format\":\"eligo-checkpoint-1\",\"seq\":1234,"
                                "\"head\":\"%s", c.head);
    memcpy(odd + n, "\0junk", 5);
    n += 5;
    n += (size_t)snprintf(odd + n, sizeof odd - n, "\",\"time\":\"%s\",\"key\":\"%s\","
                          "\"signature\":\"%s\"}", c.time, c.key, c.signature);
    assert_int_equal(sign_checkpoint_parse(odd, n, &d, &e), -1);
    if (!strstr(e.msg, "control byte 0x00"))
        fail_msg("a raw NUL in the head: said \"%s\"", e.msg);
    /* Spacing and order are any JSON reader's to agree on; a "seq" inside a
     * string is no member, and an escaped backslash before "u0000" no NUL. */
    snprintf(odd, sizeof odd, "{ \"time\" : \"%s\", \"head\": \"%s\", \"key\":\"%s\",\n"
             "  \"signature\":\"%s\", \"seq\" :\t1234, \"format\":\"eligo-checkpoint-1\" }\n",
             c.time, c.head, c.key, c.signature);
    assert_int_equal(sign_checkpoint_parse(odd, strlen(odd), &d, &e), 0);
    assert_int_equal(d.seq, 1234);
    assert_int_equal(sign_checkpoint_check(pub, &d, &e), 0);
    snprintf(odd, sizeof odd, "{\"time\":\"a\\\\u0000\\\"seq\\\":5\",\"format\":\"eligo-checkpoint-1\","
             "\"seq\":1234,\"head\":\"%s\",\"key\":\"%s\",\"signature\":\"%s\"}", c.head, c.key,
             c.signature);
    assert_int_equal(sign_checkpoint_parse(odd, strlen(odd), &d, &e), 0);
    assert_int_equal(d.seq, 1234);
    assert_string_equal(d.time, "a\\u0000\"seq\":5");

    /* A file whose key or time could not be signed is refused by name when it
     * is read (fuzz/records found a forged key read as a checkpoint that had
     * no message); a time with a quote is signable, and written back escaped. */
    char forged[1024];
    snprintf(forged, sizeof forged, "{\"format\":\"eligo-checkpoint-1\",\"seq\":1,\"head\":\"%s\","
             "\"time\":\"t\",\"key\":\"1edc7d\",\"signature\":\"%s\"}", c.head, c.signature);
    assert_int_equal(sign_checkpoint_parse(forged, strlen(forged), &d, &e), -1);
    assert_non_null(strstr(e.msg, "key"));
    snprintf(forged, sizeof forged, "{\"format\":\"eligo-checkpoint-1\",\"seq\":1,\"head\":\"%s\","
             "\"time\":\"a b\",\"key\":\"%s\",\"signature\":\"%s\"}", c.head, c.key, c.signature);
    assert_int_equal(sign_checkpoint_parse(forged, strlen(forged), &d, &e), -1);
    assert_non_null(strstr(e.msg, "time"));
    snprintf(forged, sizeof forged, "{\"format\":\"eligo-checkpoint-1\",\"seq\":1,\"head\":\"%s\","
             "\"time\":\"a\\\"b\\\\\",\"key\":\"%s\",\"signature\":\"%s\"}", c.head, c.key,
             c.signature);
    assert_int_equal(sign_checkpoint_parse(forged, strlen(forged), &d, &e), 0);
    assert_string_equal(d.time, "a\"b\\");
    b.len = 0;
    assert_int_equal(sign_checkpoint_format(&d, &b), 0);
    sign_checkpoint back;
    assert_int_equal(sign_checkpoint_parse(b.data, b.len, &back, &e), 0);
    assert_string_equal(back.time, d.time);

    buf_free(&b);
    sign_key_free(priv);
    sign_key_free(pub);
    sign_key_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keygen, setup, teardown),
        cmocka_unit_test(test_message),
        cmocka_unit_test_setup_teardown(test_sign_and_check, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
