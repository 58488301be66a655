/*
 * sign.c -- Ed25519 keys and signed checkpoints, on OpenSSL's libcrypto.
 *
 * Everything here is stateless apart from the key object: a sign_key wraps
 * one EVP_PKEY and its fingerprint, computed once at load.  Ed25519 signs the
 * message itself (no separate digest: "pure" Ed25519), so signing and checking
 * are the one-shot EVP_DigestSign / EVP_DigestVerify with a NULL digest.
 */
#include "sign.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "file.h"
#include "hex.h"

#define SIGN_SIG_LEN 64
#define SIGN_MSG_CAP 1024
#define SIGN_FILE_CAP ((size_t)64 << 10)

struct sign_key {
    EVP_PKEY *pk;
    int private;
    char fingerprint[SIGN_HEX_HASH + 1];
};

static int sign_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int sign_unhex(const char *hex, unsigned char *out, size_t n)
{
    if (strlen(hex) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = sign_hexval(hex[2 * i]), lo = sign_hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

/* Is S exactly N lowercase hex digits? */
static int sign_is_hex(const char *s, size_t n)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return i == n;
}

/* OpenSSL's reason for the first failure queued, with the text it added
 * (OpenSSL 3's decoders say only "unsupported", their detail in the text),
 * for a message; the queue is left empty.  The buffer is the thread's own. */
static const char *sign_ossl_reason(void)
{
    static _Thread_local char out[256];
    const char *data = NULL;
    int flags = 0;
    unsigned long code = ERR_get_error_all(NULL, NULL, NULL, &data, &flags);
    const char *r = code ? ERR_reason_error_string(code) : NULL;
    snprintf(out, sizeof out, "%s%s%s", r ? r : "unknown reason",
             (flags & ERR_TXT_STRING) && data && *data ? ": " : "",
             (flags & ERR_TXT_STRING) && data ? data : "");
    ERR_clear_error();
    return out;
}

/* Why F, which holds no key OpenSSL could read, holds none, when its text
 * says so better than OpenSSL: no PEM block at all (empty, or DER), or a
 * private key encrypted with a passphrase.  NULL when neither. */
static const char *sign_pem_why(FILE *f)
{
    char line[256];
    int begin = 0, encrypted = 0;
    rewind(f);
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "-----BEGIN ", 11)) {
            begin = 1;
            encrypted |= strstr(line, "ENCRYPTED") != NULL;
        }
        encrypted |= !strncmp(line, "Proc-Type: 4,ENCRYPTED", 22);
    }
    if (!begin)
        return "it holds no PEM block (no -----BEGIN line): empty, or a key in DER, which "
               "`openssl pkey -inform DER` (-pubin for a public key) turns into PEM";
    if (encrypted)
        return "it is encrypted with a passphrase: eligo reads a key in the clear, protected "
               "by its file mode (`openssl pkey -in KEY -out NEW` writes one)";
    return NULL;
}

/* A passphrase callback that never asks: keys are protected by their file
 * mode, and a command run from a script must not stop at a prompt. */
static int sign_no_passphrase(char *b, int size, int rwflag, void *u)
{
    (void)b;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* ---- Keys ----------------------------------------------------------------- */

static int sign_fingerprint(EVP_PKEY *pk, char out[SIGN_HEX_HASH + 1], err *e)
{
    unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int len = i2d_PUBKEY(pk, &der);
    if (len <= 0)
        return err_set(e, "internal", "cannot encode the public key: %s", sign_ossl_reason());
    int ok = EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32;
    OPENSSL_free(der);
    if (!ok)
        return err_set(e, "internal", "SHA-256 failed");
    hex_encode(md, 32, out);
    return 0;
}

/* Write PK to PATH, a new file with MODE: the private key when PRIVATE. */
static int sign_write_pem(const char *path, EVP_PKEY *pk, int private, mode_t mode, err *e)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0)
        return err_set(e, errno == EEXIST ? "invalid_request" : "internal", "cannot create %s: %s",
                       path, strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(path);
        return err_set(e, "internal", "cannot write %s: %s", path, strerror(errno));
    }
    int ok = private ? PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL)
                     : PEM_write_PUBKEY(f, pk);
    ok = ok == 1 && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0)
        ok = 0;
    if (!ok) {
        unlink(path);
        return err_set(e, "internal", "cannot write %s", path);
    }
    return 0;
}

int sign_keygen(const char *prefix, err *e)
{
    char keypath[4096], pubpath[4096];
    EVP_PKEY *pk = NULL;
    int ret = -1;

    if (snprintf(keypath, sizeof keypath, "%s.key", prefix) >= (int)sizeof keypath ||
        snprintf(pubpath, sizeof pubpath, "%s.pub", prefix) >= (int)sizeof pubpath)
        return err_set(e, "invalid_request", "the key path is too long");
    /* Checked before anything is written, so that a refusal leaves nothing
     * behind; O_EXCL below still closes the race. */
    if (access(keypath, F_OK) == 0 || access(pubpath, F_OK) == 0)
        return err_set(e, "invalid_request", "%s exists already: a key is never overwritten "
                       "(choose another --out, or move the old key away)",
                       access(keypath, F_OK) == 0 ? keypath : pubpath);

    pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!pk)
        return err_set(e, "internal", "cannot make an Ed25519 key: %s", sign_ossl_reason());
    if (sign_write_pem(keypath, pk, 1, 0600, e) != 0)
        goto done;
    if (sign_write_pem(pubpath, pk, 0, 0644, e) != 0) {
        unlink(keypath);
        goto done;
    }
    ret = 0;
done:
    EVP_PKEY_free(pk);
    return ret;
}

sign_key *sign_key_load(const char *path, int private, err *e)
{
    FILE *f = file_open_regular(path, e);
    if (!f)
        return NULL;
    /* Read first, so that a key of the wrong kind is named as such before
     * any advice on a private key's mode.  Each kind is refused where the
     * other is wanted: a public key cannot sign, and a private key given to
     * a verifier has left the signer's hands (its public half would do). */
    EVP_PKEY *pk = private ? PEM_read_PrivateKey(f, NULL, sign_no_passphrase, NULL)
                           : PEM_read_PUBKEY(f, NULL, sign_no_passphrase, NULL);
    if (!pk) {
        ERR_clear_error();
        rewind(f);
        EVP_PKEY *other = private ? PEM_read_PUBKEY(f, NULL, sign_no_passphrase, NULL)
                                  : PEM_read_PrivateKey(f, NULL, sign_no_passphrase, NULL);
        if (other) {
            EVP_PKEY_free(other);
            fclose(f);
            if (private)
                err_set(e, "invalid_request", "%s is a public key: signing needs the private "
                        "key (PREFIX.key from eligo keygen)", path);
            else
                err_set(e, "invalid_request", "%s is a private key: give the public key "
                        "(PREFIX.pub from eligo keygen); a private key belongs with the signer "
                        "only", path);
            return NULL;
        }
        rewind(f);
        pk = private ? PEM_read_PrivateKey(f, NULL, sign_no_passphrase, NULL)
                     : PEM_read_PUBKEY(f, NULL, sign_no_passphrase, NULL);   /* for its error */
    }
    /* A public key file that also holds a private key (the two PEM blocks
     * put in one file, in either order) is a private key given to a
     * verifier all the same: PEM_read_PUBKEY passes over the other block. */
    if (pk && !private) {
        rewind(f);
        EVP_PKEY *other = PEM_read_PrivateKey(f, NULL, sign_no_passphrase, NULL);
        ERR_clear_error();
        if (other) {
            EVP_PKEY_free(other);
            EVP_PKEY_free(pk);
            fclose(f);
            err_set(e, "invalid_request", "%s holds a private key beside the public one: give "
                    "the public key alone (PREFIX.pub from eligo keygen); a private key belongs "
                    "with the signer only", path);
            return NULL;
        }
    }
    /* A signing key others can read, or another user's (its owner reads it
     * whatever its mode; root reads any), is no longer a proof of who
     * signed: refuse it, as ssh does, rather than sign with it (keygen
     * writes 0600). */
    const char *why = pk ? NULL : sign_pem_why(f);
    if (pk && private && file_secret_ok(f, path, "a private key", e) != 0) {
        EVP_PKEY_free(pk);
        fclose(f);
        return NULL;
    }
    fclose(f);
    if (!pk) {
        const char *reason = sign_ossl_reason();   /* empties the queue either way */
        err_set(e, "invalid_request", "%s is not a PEM %s key: %s", path,
                private ? "private" : "public", why ? why : reason);
        return NULL;
    }
    if (!EVP_PKEY_is_a(pk, "ED25519")) {
        err_set(e, "invalid_request", "%s is a %s key, not Ed25519", path,
                EVP_PKEY_get0_type_name(pk) ? EVP_PKEY_get0_type_name(pk) : "different");
        EVP_PKEY_free(pk);
        return NULL;
    }
    sign_key *k = calloc(1, sizeof *k);
    if (!k) {
        err_set(e, "internal", "out of memory");
        EVP_PKEY_free(pk);
        return NULL;
    }
    k->pk = pk;
    k->private = private;
    if (sign_fingerprint(pk, k->fingerprint, e) != 0) {
        sign_key_free(k);
        return NULL;
    }
    return k;
}

void sign_key_free(sign_key *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pk);
    free(k);
}

const char *sign_key_fingerprint(const sign_key *k)
{
    return k->fingerprint;
}

/* ---- Checkpoints ---------------------------------------------------------- */

/* A time is printable ASCII without spaces: ISO 8601 as eligo writes it. */
static int sign_time_ok(const char *t)
{
    if (!*t)
        return 0;
    for (; *t; t++)
        if (*t <= ' ' || *t > '~')
            return 0;
    return 1;
}

/* Whether C's signed fields can be part of a message (see sign.h): 0, or -1
 * with E naming the first that cannot. */
static int sign_fields_check(const sign_checkpoint *c, err *e)
{
    if (c->database[0] && !sign_is_hex(c->database, SIGN_HEX_DB))
        return err_set(e, "invalid_request", "the checkpoint's database is not 32 lowercase hex "
                       "digits");
    if (c->seq < 0)
        return err_set(e, "invalid_request", "the checkpoint's seq is negative");
    if (!sign_is_hex(c->head, SIGN_HEX_HASH))
        return err_set(e, "invalid_request", "the checkpoint's head is not 64 lowercase hex "
                       "digits");
    if (!sign_is_hex(c->key, SIGN_HEX_HASH))
        return err_set(e, "invalid_request", "the checkpoint's key is not 64 lowercase hex "
                       "digits");
    if (!sign_time_ok(c->time))
        return err_set(e, "invalid_request", "the checkpoint's time is empty or holds a space "
                       "or control character");
    return 0;
}

int sign_message(const sign_checkpoint *c, buf *out, err *e)
{
    if (sign_fields_check(c, e) != 0)
        return -1;
    int rc = c->database[0] ? buf_printf(out, SIGN_FORMAT "\ndatabase %s\n", c->database)
                            : buf_printf(out, SIGN_FORMAT_1 "\n");
    if (rc != 0 || buf_printf(out, "seq %lld\nhead %s\ntime %s\nkey %s\n", (long long)c->seq,
                              c->head, c->time, c->key) != 0)
        return err_set(e, "internal", "out of memory");
    return 0;
}

int sign_checkpoint_make(const sign_key *k, const char *database, int64_t seq, const char *head,
                         const char *time, sign_checkpoint *c, err *e)
{
    buf msg;
    EVP_MD_CTX *ctx = NULL;
    unsigned char sig[SIGN_SIG_LEN];
    size_t siglen = sizeof sig;
    int ret = -1;

    if (!k->private)
        return err_set(e, "invalid_request", "signing needs the private key");
    memset(c, 0, sizeof *c);
    if (database && strlen(database) >= sizeof c->database)
        return err_set(e, "invalid_request", "the database id is too long");
    snprintf(c->database, sizeof c->database, "%s", database ? database : "");
    c->seq = seq;
    snprintf(c->head, sizeof c->head, "%s", head);
    snprintf(c->key, sizeof c->key, "%s", k->fingerprint);
    if (strlen(time) >= sizeof c->time)
        return err_set(e, "invalid_request", "the time is too long");
    snprintf(c->time, sizeof c->time, "%s", time);

    buf_init(&msg, SIGN_MSG_CAP);
    if (sign_message(c, &msg, e) != 0)
        goto done;
    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pk) != 1 ||
        EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)msg.data, msg.len) != 1 ||
        siglen != SIGN_SIG_LEN) {
        err_set(e, "internal", "signing failed: %s", sign_ossl_reason());
        goto done;
    }
    hex_encode(sig, SIGN_SIG_LEN, c->signature);
    ret = 0;
done:
    EVP_MD_CTX_free(ctx);
    buf_free(&msg);
    return ret;
}

int sign_checkpoint_format(const sign_checkpoint *c, buf *out)
{
    /* The time is the one field that is not hex: a checkpoint read from a
     * file may hold a quote or a backslash there, so it is escaped. */
    size_t mark = out->len;
    int rc = c->database[0]
        ? buf_printf(out, "{\"format\":\"" SIGN_FORMAT "\",\"database\":\"%s\",", c->database)
        : buf_printf(out, "{\"format\":\"" SIGN_FORMAT_1 "\",");
    if (rc != 0 || buf_printf(out, "\"seq\":%lld,\"head\":\"%s\",\"time\":", (long long)c->seq,
                              c->head) != 0 ||
        buf_add_json_string(out, c->time, strlen(c->time)) != 0 ||
        buf_printf(out, ",\"key\":\"%s\",\"signature\":\"%s\"}\n", c->key, c->signature) != 0) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
        return -1;
    }
    return 0;
}

/* Copy the string member NAME of O into OUT (SIZE bytes). */
static int sign_get_string(const cJSON *o, const char *name, char *out, size_t size, err *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v)
        return err_set(e, "invalid_request", "the checkpoint has no \"%s\"", name);
    if (!cJSON_IsString(v) || !v->valuestring)
        return err_set(e, "invalid_request", "the checkpoint's \"%s\" is not a string", name);
    if (strlen(v->valuestring) >= size)
        return err_set(e, "invalid_request", "the checkpoint's \"%s\" is too long", name);
    snprintf(out, size, "%s", v->valuestring);
    return 0;
}

/* What a JSON object that parsed (TEXT, LEN bytes) writes that cJSON reads
 * one way and another program may read another: -1 when a string holds
 * \u0000 or a raw byte below 0x20 (cJSON ends the string at a NUL; JSON
 * allows no raw control byte), when anything but blanks follows
 * the object, when a member's name holds an escape (cJSON reads it plain),
 * or when its member "seq" is not the plain digits of SEQ
 * (030123, 30123.0).  Strings are stepped over whole, so a "seq" inside one
 * is not taken for the member. */
static int sign_text_plain(const char *text, size_t len, int64_t seq, char *why, size_t size)
{
    char want[24];
    size_t n = (size_t)snprintf(want, sizeof want, "%lld", (long long)seq);
    int depth = 0, closed = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (depth == 0 && (c == ' ' || c == '\t' || c == '\r' || c == '\n'))
            continue;   /* blanks around the object */
        if (closed) {
            snprintf(why, size, "something follows the object, at byte %zu", i);
            return -1;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            closed = --depth == 0;
        } else if (c == '"') {
            size_t start = ++i;
            int escaped = 0;
            for (; i < len && text[i] != '"'; i++) {
                /* JSON allows no raw control byte in a string; cJSON takes
                 * them, and a NUL ends the string it returns, so a head
                 * followed by a NUL and anything would read as the head. */
                if ((unsigned char)text[i] < 0x20) {
                    snprintf(why, size, "a string holds the control byte 0x%02x, at byte %zu",
                             (unsigned)(unsigned char)text[i], i);
                    return -1;
                }
                if (text[i] != '\\')
                    continue;
                escaped = 1;
                if (++i < len && text[i] == 'u' && i + 4 < len &&
                    !memcmp(text + i + 1, "0000", 4)) {
                    snprintf(why, size, "a string holds \\u0000, at byte %zu", i - 1);
                    return -1;
                }
            }
            if (depth != 1)
                continue;
            size_t j = i + 1;
            while (j < len && strchr(" \t\r\n", text[j]) && text[j])
                j++;
            if (j >= len || text[j] != ':')
                continue;   /* a value, not a member's name */
            /* A name with an escape ("s\u0065q") is a member cJSON reads
             * under its plain name, which the look for "seq" below would
             * pass over: eligo writes every name plain. */
            if (escaped) {
                snprintf(why, size, "a member's name is written with an escape, at byte %zu",
                         start - 1);
                return -1;
            }
            if (i - start != 3 || memcmp(text + start, "seq", 3) != 0)
                continue;
            j++;
            while (j < len && strchr(" \t\r\n", text[j]) && text[j])
                j++;
            size_t k = j;
            while (k < len && text[k] && strchr("+-.0123456789eE", text[k]))
                k++;
            if (k - j != n || memcmp(text + j, want, n) != 0) {
                snprintf(why, size, "\"seq\" is not written in plain digits (as %s)", want);
                return -1;
            }
        }
    }
    return 0;
}

int sign_checkpoint_parse(const char *text, size_t len, sign_checkpoint *c, err *e)
{
    char format[32];
    int ret = -1;
    memset(c, 0, sizeof *c);
    cJSON *o = cJSON_ParseWithLength(text, len);
    if (!o || !cJSON_IsObject(o)) {
        err_set(e, "invalid_request", "not a checkpoint: the file is not a JSON object");
        goto done;
    }
    if (sign_get_string(o, "format", format, sizeof format, e) != 0)
        goto done;
    int with_db = !strcmp(format, SIGN_FORMAT);
    if (!with_db && strcmp(format, SIGN_FORMAT_1) != 0) {
        err_set(e, "invalid_request", "unknown checkpoint format \"%s\" (this eligo reads "
                SIGN_FORMAT " and " SIGN_FORMAT_1 ")", format);
        goto done;
    }
    /* What another program could read otherwise is refused: here a member
     * repeated (which one counts?) or not eligo's; the text itself below
     * (sign_text_plain). */
    for (const cJSON *m = o->child; m; m = m->next) {
        static const char *const members[] = {"format", "seq", "head", "time", "key",
                                              "signature", "database"};
        size_t known = with_db ? 7 : 6, k = 0;   /* format 1 has no database */
        while (k < known && strcmp(m->string, members[k]) != 0)
            k++;
        if (k == known) {
            err_set(e, "invalid_request", "the checkpoint has a member \"%.40s\" that eligo does "
                    "not write", m->string);
            goto done;
        }
        for (const cJSON *p = o->child; p != m; p = p->next)
            if (!strcmp(p->string, m->string)) {
                err_set(e, "invalid_request", "the checkpoint has \"%s\" twice: programs differ "
                        "on which one counts", m->string);
                goto done;
            }
    }
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "seq");
    /* A double holds integers exactly up to 2^53: plenty of records. */
    if (!cJSON_IsNumber(seq) || seq->valuedouble < 0 || seq->valuedouble > 9007199254740992.0 ||
        seq->valuedouble != (double)(int64_t)seq->valuedouble) {
        err_set(e, "invalid_request", "the checkpoint's \"seq\" is not a whole number >= 0");
        goto done;
    }
    c->seq = (int64_t)seq->valuedouble;
    char why[96];
    if (sign_text_plain(text, len, c->seq, why, sizeof why) != 0) {
        err_set(e, "invalid_request", "the checkpoint is not as eligo writes it: %s", why);
        goto done;
    }
    if ((with_db && sign_get_string(o, "database", c->database, sizeof c->database, e) != 0) ||
        sign_get_string(o, "head", c->head, sizeof c->head, e) != 0 ||
        sign_get_string(o, "time", c->time, sizeof c->time, e) != 0 ||
        sign_get_string(o, "key", c->key, sizeof c->key, e) != 0 ||
        sign_get_string(o, "signature", c->signature, sizeof c->signature, e) != 0)
        goto done;
    /* What has no message cannot be checked: refused here, by name, rather
     * than reported later as a signature that does not verify. */
    if (with_db && !sign_is_hex(c->database, SIGN_HEX_DB)) {
        err_set(e, "invalid_request", "the checkpoint's database is not 32 lowercase hex digits");
        goto done;
    }
    if (sign_fields_check(c, e) != 0)
        goto done;
    if (!sign_is_hex(c->signature, SIGN_HEX_SIG)) {
        err_set(e, "invalid_request", "the checkpoint's \"signature\" is not 128 hex digits");
        goto done;
    }
    ret = 0;
done:
    cJSON_Delete(o);
    return ret;
}

int sign_checkpoint_check(const sign_key *k, const sign_checkpoint *c, err *e)
{
    buf msg;
    EVP_MD_CTX *ctx = NULL;
    unsigned char sig[SIGN_SIG_LEN];
    int ret = -1;

    if (strcmp(c->key, k->fingerprint) != 0) {
        err_set(e, "bad_signature", "the checkpoint was signed with key %.16s..., not with "
                "this public key (%.16s...)", c->key, k->fingerprint);
        return 1;
    }
    if (sign_unhex(c->signature, sig, sizeof sig) != 0) {
        err_set(e, "bad_signature", "the checkpoint's signature is not 128 hex digits");
        return 1;
    }
    buf_init(&msg, SIGN_MSG_CAP);
    if (sign_message(c, &msg, e) != 0) {
        ret = 1;
        goto done;
    }
    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pk) != 1) {
        err_set(e, "internal", "cannot check a signature: %s", sign_ossl_reason());
        goto done;
    }
    if (EVP_DigestVerify(ctx, sig, sizeof sig, (const unsigned char *)msg.data, msg.len) != 1) {
        ERR_clear_error();
        err_set(e, "bad_signature", "the checkpoint's signature does not verify: its "
                "database, seq, head, time or key is not what was signed");
        ret = 1;
        goto done;
    }
    ret = 0;
done:
    EVP_MD_CTX_free(ctx);
    buf_free(&msg);
    return ret;
}
