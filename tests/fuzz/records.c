/*
 * tests/fuzz/records.c -- fuzz target: the other untrusted texts a command
 * reads, one input through every parser of them.
 *
 * The `request` and `rules` targets cover a request line and a rule file.
 * What remains is text that reaches a parser other than the engine's:
 *   1. review_parse: the `review` op's "review" object, as the body of a
 *      review of one fixed decision id;
 *   2. sign_checkpoint_parse: a signed checkpoint statement file, which an
 *      auditor may be handed forged;
 *   3. client_prepare: a line of an input file of `eligo submit` / `eligo
 *      eval`, with three sets of defaults (and once with a cap too small);
 *   4. client_member, client_reply_decisions, client_array_len: what the
 *      clients read from a server's reply line.
 * Each input goes through all four, so that the fuzzer's mutations of one
 * kind of text serve the others (a reply is also a JSON object, a review
 * body is also an input line).
 *
 * Beyond the sanitizers' findings, the target aborts when a result breaks
 * its header's contract:
 *   - a failure without an error code or message (or with a code that is
 *     not "invalid_request", the only one a bad text may get);
 *   - a review that store_review_check would refuse, whose ids are not
 *     what review_parse promises, or taken from a body that escapes a NUL
 *     (which cJSON reads as the end of the string: the text is cut short);
 *   - a checkpoint that has no message to sign (sign_message refuses it), or
 *     that does not read back the same once written (sign_checkpoint_format);
 *   - a request line that is not the input with members inserted after its
 *     brace and a newline, that lacks "op" (or "id") although the input is a
 *     JSON object, or a refusal for the cap that leaves OUT changed;
 *   - on a reply that is well-formed JSON, a member, a decision count or an
 *     array length other than what cJSON reads there (on text that is not
 *     JSON the readers are lenient by design: they only step over nesting).
 */
#define _GNU_SOURCE 1   /* memmem */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "client.h"
#include "ids.h"
#include "review.h"
#include "sign.h"
#include "store.h"

#define FUZZ_DECISION_ID "01JN0000000000000000000001"

/* Print why, and abort: libFuzzer (or replay.c's caller) records the input. */
static void fuzz_fail(const char *what, const char *why, const err *e)
{
    fprintf(stderr, "fuzz/records: %s: %s\n  error code: %s\n  error message: %s\n", what, why,
            e && e->code ? e->code : "(null)", e ? e->msg : "(null)");
    abort();
}

/* A failure must say why, as a bad text's error. */
static void fuzz_check_error(const char *what, const err *e)
{
    if (!e->code || strcmp(e->code, "invalid_request") != 0)
        fuzz_fail(what, "refused without the code invalid_request", e);
    if (!e->msg[0])
        fuzz_fail(what, "refused without a message", e);
}

/* Whether A and B are the same JSON value.  Not cJSON_Compare: it looks a
 * member up by key, so an object holding a key twice is unequal to itself. */
static int fuzz_same_json(const cJSON *a, const cJSON *b)
{
    if (!a || !b)
        return a == b;
    char *ta = cJSON_PrintUnformatted(a), *tb = cJSON_PrintUnformatted(b);
    if (!ta || !tb)
        abort();
    int same = strcmp(ta, tb) == 0;
    cJSON_free(ta);
    cJSON_free(tb);
    return same;
}

/* cJSON's reading of the N bytes at S when they are exactly one JSON value
 * (nothing after it) in text a client also reads as JSON: no control
 * characters outside the four blanks, which cJSON alone takes for blanks, and
 * no byte order mark.  NULL otherwise; the caller frees it. */
static cJSON *fuzz_json(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return NULL;
    }
    if (n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
        return NULL;
    /* With require_null_terminated, cJSON wants the NUL inside the length. */
    char *z = malloc(n + 1);
    if (!z)
        abort();
    memcpy(z, s, n);
    z[n] = '\0';
    cJSON *v = cJSON_ParseWithLengthOpts(z, n + 1, NULL, 1);
    free(z);
    return v;
}

static void fuzz_review(const char *body)
{
    err e = {0};
    review *r = review_parse(FUZZ_DECISION_ID, body, &e);
    if (!r) {
        fuzz_check_error("review_parse", &e);
        return;
    }
    /* cJSON ends a string at an escaped NUL, so what it read is not the
     * body's text: such a review must be refused, never recorded cut short. */
    for (const char *p = body; *p; p++)
        if (*p == '\\' && p[1] && (p++, *p == 'u') && !strncmp(p + 1, "0000", 4))
            fuzz_fail("review_parse", "a review recorded from a body that escapes a NUL", NULL);
    store_review *rec = review_record(r);
    err again = {0};
    if (store_review_check(rec, &again) != 0)
        fuzz_fail("review_parse", "a review that store_review_check refuses", &again);
    if (strcmp(rec->decision_id, FUZZ_DECISION_ID) != 0 || strlen(rec->review_id) != IDS_LEN ||
        !*rec->reviewed_at || rec->client_uid != -1 || rec->client_pid != -1)
        fuzz_fail("review_parse", "a review whose ids are not the ones given and made", NULL);
    review_free(r);
}

static int fuzz_same_checkpoint(const sign_checkpoint *a, const sign_checkpoint *b)
{
    return a->seq == b->seq && !strcmp(a->database, b->database) && !strcmp(a->head, b->head) &&
           !strcmp(a->time, b->time) && !strcmp(a->key, b->key) &&
           !strcmp(a->signature, b->signature);
}

static void fuzz_checkpoint(const char *text, size_t len)
{
    err e = {0};
    sign_checkpoint c, back;
    if (sign_checkpoint_parse(text, len, &c, &e) != 0) {
        fuzz_check_error("sign_checkpoint_parse", &e);
        return;
    }
    buf b;
    buf_init(&b, 1 << 16);
    if (sign_message(&c, &b, &e) != 0)
        fuzz_fail("sign_checkpoint_parse", "a checkpoint read that has no message to sign", &e);
    b.len = 0;
    if (sign_checkpoint_format(&c, &b) != 0)
        fuzz_fail("sign_checkpoint_format", "cannot write a checkpoint read", NULL);
    if (sign_checkpoint_parse(b.data, b.len, &back, &e) != 0)
        fuzz_fail("sign_checkpoint_format", "a checkpoint written does not read back", &e);
    if (!fuzz_same_checkpoint(&c, &back))
        fuzz_fail("sign_checkpoint_format", "a checkpoint written reads back different", NULL);
    buf_free(&b);
}

/* OUT must hold LINE (without its trailing blanks, as client_prepare drops
 * them) with some members inserted after the brace, then '\n'; the inserted
 * text is returned in *INS, *INSLEN. */
static void fuzz_check_inserted(const char *line, size_t len, const buf *out, int rc,
                                const char **ins, size_t *inslen)
{
    while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
        len--;
    const char *brace = rc == 0 ? memchr(line, '{', len) : NULL;
    size_t head = brace ? (size_t)(brace - line) + 1 : len;
    if (rc == 0 && !brace)
        fuzz_fail("client_prepare", "a line prepared that has no brace", NULL);
    if (out->len < len + 1 || memcmp(out->data, line, head) != 0 ||
        memcmp(out->data + out->len - 1 - (len - head), line + head, len - head) != 0 ||
        out->data[out->len - 1] != '\n')
        fuzz_fail("client_prepare", "the line is not the input with members inserted", NULL);
    if (rc == 1 && out->len != len + 1)
        fuzz_fail("client_prepare", "a line passed through is changed", NULL);
    *ins = out->data + head;
    *inslen = out->len - 1 - len;
}

static void fuzz_prepare(const char *line, size_t len, const client_defaults *d, const char *id)
{
    err e = {0};
    buf out;
    buf_init(&out, 1 << 20);
    int rc = client_prepare(line, len, d, id, &out, NULL, &e);
    if (rc != 0 && rc != 1)
        fuzz_fail("client_prepare", "neither prepared nor passed through, under a large cap", &e);
    const char *ins;
    size_t inslen;
    fuzz_check_inserted(line, len, &out, rc, &ins, &inslen);
    if (rc == 1 && inslen)
        fuzz_fail("client_prepare", "a line passed through has members inserted", NULL);

    cJSON *in = fuzz_json(line, len);
    if (cJSON_IsObject(in)) {
        if (rc != 0)
            fuzz_fail("client_prepare", "a JSON object passed through", NULL);
        cJSON *req = fuzz_json(out.data, out.len - 1);
        if (!cJSON_IsObject(req))
            fuzz_fail("client_prepare", "a JSON object prepared into a line that is not one",
                      NULL);
        if (!cJSON_HasObjectItem(req, "op") || (id && !cJSON_HasObjectItem(req, "id")))
            fuzz_fail("client_prepare", "a request line without an op or an id", NULL);
        /* A key given twice is read at its first occurrence, by cJSON as by
         * the server's decoder; that is the one to compare. */
        for (const cJSON *m = in->child; m; m = m->next)
            if (cJSON_GetObjectItemCaseSensitive(in, m->string) == m &&
                !fuzz_same_json(m, cJSON_GetObjectItemCaseSensitive(req, m->string)))
                fuzz_fail("client_prepare", "a member of the line changed", NULL);
        cJSON_Delete(req);
    }
    cJSON_Delete(in);

    /* The same, with room for less than the line: refused, OUT unchanged. */
    buf small;
    buf_init(&small, len / 2 + 1);
    if (buf_adds(&small, "x") != 0)
        abort();
    e = (err){0};
    if (client_prepare(line, len, d, id, &small, NULL, &e) == -1) {
        if (!e.code || !e.msg[0])
            fuzz_fail("client_prepare", "refused for the cap without a message", &e);
        if (small.len != 1 || strcmp(small.data, "x") != 0)
            fuzz_fail("client_prepare", "refused for the cap, with OUT changed", &e);
    }
    buf_free(&small);
    buf_free(&out);
}

static void fuzz_reply(const char *j, size_t len)
{
    static const char *const keys[] = {"id", "ok", "op", "error", "code", "decision",
                                       "decisions"};
    cJSON *v = fuzz_json(j, len);
    /* The readers match a key as written, and a server never escapes one:
     * cJSON reads "\u006fk" as "ok", they do not.  Where a \u escape could
     * spell a key, only the bounds are checked. */
    int escapes = memmem(j, len, "\\u", 2) != NULL;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *val = NULL;
        size_t vlen = 0;
        int found = client_member(j, len, keys[i], &val, &vlen);
        if (found && (val < j || vlen > len || val + vlen > j + len))
            fuzz_fail("client_member", "a member's value outside the text", NULL);
        if (!cJSON_IsObject(v) || escapes)
            continue;
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(v, keys[i]);
        if (found != (m != NULL))
            fuzz_fail("client_member", "a member found that cJSON does not find, or missed",
                      NULL);
        if (found) {
            cJSON *mv = fuzz_json(val, vlen);
            if (!fuzz_same_json(mv, m))
                fuzz_fail("client_member", "a member's value that is not cJSON's", NULL);
            cJSON_Delete(mv);
        }
    }

    long nd = client_reply_decisions(j, len);
    if (nd < 0)
        fuzz_fail("client_reply_decisions", "a negative count", NULL);
    if (cJSON_IsObject(v) && !escapes) {
        /* The first of the two members decides, as the reader stops there. */
        const cJSON *first = NULL;
        for (const cJSON *m = v->child; m && !first; m = m->next)
            if (!strcmp(m->string, "decision") || !strcmp(m->string, "decisions"))
                first = m;
        long want = !first ? 0
                    : !strcmp(first->string, "decision") ? 1
                    : cJSON_IsArray(first) ? cJSON_GetArraySize(first) : 0;
        if (nd != want)
            fuzz_fail("client_reply_decisions", "a count other than cJSON's", NULL);
    }

    long n = client_array_len(j, len);
    if (n < -1)
        fuzz_fail("client_array_len", "a length below -1", NULL);
    if (v && n != (cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1))
        fuzz_fail("client_array_len", "a length other than cJSON's", NULL);
    cJSON_Delete(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const client_defaults variations[] = {
        {0},
        {.program = "intelaka", .lang = "fr"},
        {.op = "screen", .program = "intelaka", .lang = "ar"},
    };
    /* review_parse reads a NUL-terminated body, as the engine hands it. */
    char *z = malloc(size + 1);
    if (!z)
        abort();
    memcpy(z, data, size);
    z[size] = '\0';

    fuzz_review(z);
    fuzz_checkpoint(z, size);
    fuzz_prepare(z, size, &variations[0], NULL);
    fuzz_prepare(z, size, &variations[1], "\"line-1\"");
    fuzz_prepare(z, size, &variations[2], "7");
    fuzz_reply(z, size);
    free(z);
    return 0;
}
