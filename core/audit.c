/*
 * audit.c -- the auditor's reports: show, list, stats, export.
 *
 * Design notes
 * ------------
 * The store reads rows (store_each calls back once per decision with its
 * application); this file turns them into reports.  JSON coming out of the
 * database (a decision, a request, an explanation) is parsed with cJSON only
 * to pick members out; wherever a report repeats a stored text for a program
 * (show --json, list --json) it copies the stored bytes rather than
 * re-encoding them, so the auditor sees exactly what was recorded.
 *
 * The explanation of a decision joins three sources:
 *   1. the decision row and its application (store_application_of);
 *   2. the rule set stored under the decision's hash, compiled afresh
 *      (store_get_ruleset, engine_new) and asked for the programme version
 *      that decided (engine_explain): criterion texts, the source text and
 *      lines of each check, each parameter's references and dated values.
 *      Never the rule files on disk: they may have changed since;
 *   3. the chain (store_verify), which says whether every record up to the
 *      decision still matches its hash.
 * If (2) fails -- a rule set that no longer compiles under a newer eligo --
 * the rest is still shown, with the reason.
 *
 * Memory: rows handed to a store callback die when it returns, so whatever a
 * report keeps is copied (strdup, or a cJSON tree).  Nothing is held across
 * a call into Lua from here: the engine owns its Lua state.
 */
#include "audit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "chart.h"
#include "engine.h"
#include "hex.h"
#include "text.h"

#define AUDIT_BUF_CAP ((size_t)64 << 20)   /* an explanation, a review list */

/* ---- Small helpers -------------------------------------------------------- */

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static char *dupstr(const char *s)
{
    return s ? strdup(s) : NULL;
}

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

/* A value as a person reads it: a string without quotes, anything else as
 * compact JSON.  The caller frees the result. */
static char *value_text(const cJSON *v)
{
    if (cJSON_IsString(v))
        return strdup(v->valuestring);
    return v ? cJSON_PrintUnformatted(v) : strdup("-");
}

/* ---- Text for a terminal ---------------------------------------------------
 *
 * A stored text is whatever the front office sent (an applicant_id, a
 * reviewer's reason): written raw, a newline in it would forge a row of a
 * table and an ESC would reach the terminal as a control sequence.  The text
 * reports therefore write every control character (below 0x20, and 0x7f) as
 * a visible escape (text.h).  JSON and CSV output have their own quoting and
 * are never escaped so. */

/* Write N bytes of S escaped; a tab is kept when KEEP_TAB (source code). */
static void tx_putn(FILE *out, const char *s, size_t n, int keep_tab)
{
    char e[5];
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (text_is_ctl(c) && !(keep_tab && c == '\t'))
            fwrite(e, 1, (size_t)text_escape(c, e), out);
        else
            fputc(c, out);
    }
}

static void tx_put(FILE *out, const char *s)
{
    tx_putn(out, s, strlen(s), 0);
}


/* The escaped texts of one report, freed together (tx_free): show_text
 * prints many stored texts in formatted lines, and this keeps each call
 * site one expression. */
typedef struct tx_str {
    struct tx_str *next;
    char *s;
} tx_str;

/* S escaped, owned by *LIST; NULL for NULL, "?" when memory is short. */
static const char *tx(tx_str **list, const char *s)
{
    if (!s)
        return NULL;
    tx_str *t = malloc(sizeof *t);
    char *d = t ? text_escaped(s) : NULL;
    if (!d) {
        free(t);
        return "?";
    }
    *t = (tx_str){*list, d};
    *list = t;
    return d;
}

static void tx_free(tx_str *list)
{
    while (list) {
        tx_str *next = list->next;
        free(list->s);
        free(list);
        list = next;
    }
}

/* Write the JSON text P (N bytes, valid JSON) indented by two spaces per
 * level, each line starting with PREFIX.  Scalars are copied byte for byte:
 * a number reads exactly as it was received. */
static void audit_pretty(FILE *out, const char *p, size_t n, const char *prefix)
{
    int depth = 0, in_str = 0, esc = 0, line_start = 1;
#define AUDIT_NEWLINE()                                        \
    do {                                                       \
        fputc('\n', out);                                      \
        fprintf(out, "%s%*s", prefix, 2 * depth, "");          \
    } while (0)
    fputs(prefix, out);
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (in_str) {
            tx_putn(out, &p[i], 1, 0);   /* JSON escapes them; a lax parser may not */
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        switch (c) {
        case ' ': case '\t': case '\r': case '\n':
            break;
        case '"':
            in_str = 1;
            fputc(c, out);
            break;
        case '{': case '[': {
            /* An empty object or array stays on its line. */
            size_t j = i + 1;
            while (j < n && (p[j] == ' ' || p[j] == '\t' || p[j] == '\r' || p[j] == '\n'))
                j++;
            if (j < n && (p[j] == '}' || p[j] == ']')) {
                fputc(c, out);
                fputc(p[j], out);
                i = j;
                break;
            }
            fputc(c, out);
            depth++;
            AUDIT_NEWLINE();
            break;
        }
        case '}': case ']':
            depth--;
            AUDIT_NEWLINE();
            fputc(c, out);
            break;
        case ',':
            fputc(c, out);
            AUDIT_NEWLINE();
            break;
        case ':':
            fputs(": ", out);
            break;
        default:
            tx_putn(out, &p[i], 1, 0);
        }
        line_start = 0;
    }
    (void)line_start;
    fputc('\n', out);
#undef AUDIT_NEWLINE
}

/* ---- show ----------------------------------------------------------------- */

/* The decision row and its application, copied out of the store callback. */
typedef struct show_row {
    int64_t seq;
    char *decision_id, *program, *program_version, *outcome, *applicant_id, *as_of,
        *decided_at, *ruleset, *json, *request, *request_key, *received_at;
    size_t json_len, request_len;
    int64_t client_uid, client_pid;
    int oom;
    const char *started_at, *started;   /* the server start in force, or NULL */
} show_row;

static int show_copy(void *ud, const store_row *r)
{
    show_row *s = ud;
    s->seq = r->seq;
    s->decision_id = dupstr(r->decision_id);
    s->program = dupstr(r->program);
    s->program_version = dupstr(r->program_version);
    s->outcome = dupstr(r->outcome);
    s->applicant_id = dupstr(r->applicant_id);
    s->as_of = dupstr(r->as_of);
    s->decided_at = dupstr(r->decided_at);
    s->ruleset = dupstr(r->ruleset);
    s->request_key = dupstr(r->request_key);
    s->received_at = dupstr(r->received_at);
    s->json = r->json ? strndup(r->json, r->json_len) : NULL;
    s->json_len = r->json_len;
    s->request = r->request ? strndup(r->request, r->request_len) : NULL;
    s->request_len = r->request_len;
    s->client_uid = r->client_uid;
    s->client_pid = r->client_pid;
    s->oom = !s->decision_id || !s->program || !s->outcome || !s->json ||
             (r->request && !s->request) || (r->ruleset && !s->ruleset);
    return 0;
}

static void show_row_free(show_row *s)
{
    char *all[] = {s->decision_id, s->program, s->program_version, s->outcome,
                   s->applicant_id, s->as_of, s->decided_at, s->ruleset, s->json,
                   s->request, s->request_key, s->received_at};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

/* What the chain says about a decision at SEQ. */
typedef struct show_chain {
    int checked;          /* 0 when --no-verify */
    int rc;               /* store_verify's: 0 intact, 1 a record failed, -1 error */
    int64_t records;      /* records that matched */
    int64_t bad_seq;
    char bad_id[64];
    char why[512];
    int64_t review_seq;   /* the decision's last review's seq; 0 when it has none */
} show_chain;

static int show_chain_ok(const show_chain *c, int64_t seq)
{
    return !c->checked || c->rc == 0 || (c->rc == 1 && c->bad_seq > seq);
}

/* Whether the review with sequence number SEQ verifies (or was not
 * checked): it comes before the chain's first bad record.  A review is a
 * record of the chain like a decision, so one changed or forged in the file
 * shows only there. */
static int show_review_ok(const show_chain *c, int64_t seq)
{
    return !c->checked || (c->rc >= 0 && show_chain_ok(c, seq));
}

/* Where review X (of store_reviews_client) is in the chain: its row's seq,
 * not the seq its JSON states, which an altered review may lack or lie in. */
static int64_t show_review_record(const cJSON *x)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(x, "record");
    return cJSON_IsNumber(n) ? (int64_t)n->valuedouble : 0;
}

/* Whether all the decision's reviews verify: the latest, which says where
 * the decision stands, must not be shown as its state otherwise. */
static int show_reviews_ok(const show_chain *c)
{
    return c->review_seq == 0 || show_review_ok(c, c->review_seq);
}

/* Compile the stored rule set and explain the decision's programme version:
 * the explanation's JSON goes to OUT; on failure WHY says what went wrong. */
static int show_explain(store *st, const show_row *r, const char *lang, buf *out,
                        char *why, size_t whylen)
{
    err e = {0};
    ruleset *rs = r->ruleset ? store_get_ruleset(st, r->ruleset, &e) : NULL;
    if (!rs) {
        snprintf(why, whylen, "the rule set %s cannot be read from the database: %s",
                 or_dash(r->ruleset), r->ruleset ? e.msg : "the decision names none");
        return -1;
    }
    engine *en = engine_new(rs, NULL, &e);
    ruleset_free(rs);   /* the engine holds its own reference */
    if (!en) {
        snprintf(why, whylen, "the stored rule set %.12s does not compile with this eligo: %s",
                 r->ruleset, e.msg);
        return -1;
    }
    int rc = engine_explain(en, r->program, r->program_version ? r->program_version : "",
                            lang, r->as_of, out, &e);
    engine_free(en);
    if (rc != 0) {
        snprintf(why, whylen, "%s", e.msg);
        return -1;
    }
    return 0;
}

/* The dated value of parameter PARAM (from an explanation) in force on
 * AS_OF, or NULL. */
static const cJSON *show_param_value(const cJSON *param, const char *as_of)
{
    const cJSON *v, *found = NULL;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(param, "values")) {
        const char *from = jstr(v, "from"), *to = jstr(v, "to");
        if (as_of && from && strcmp(from, as_of) > 0)
            continue;
        if (as_of && to && strcmp(to, as_of) < 0)
            continue;
        found = v;
    }
    return found;
}

/* The explanation's entry for criterion ID. */
static const cJSON *show_criterion(const cJSON *ex, const char *id)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(ex, "criteria")) {
        const char *cid = jstr(c, "id");
        if (cid && id && strcmp(cid, id) == 0)
            return c;
    }
    return NULL;
}

static const char *result_word(const cJSON *passed)
{
    return cJSON_IsTrue(passed) ? "pass" : cJSON_IsFalse(passed) ? "FAIL" : "missing";
}

/* Did the server start with the rule set that made R's decision?  Its start
 * event names the set it loaded (cmd_serve.c); a reload since replaced it,
 * and the start event alone would name the wrong rules. */
static int show_started_under(const show_row *r)
{
    char want[96];
    snprintf(want, sizeof want, "ruleset %s,", r->ruleset ? r->ruleset : "");
    return r->started && strstr(r->started, want) != NULL;
}

/* A field line of the summary: the label padded to one width. */
static void show_field(FILE *out, const char *label, const char *value)
{
    fprintf(out, "  %-16s ", label);
    tx_put(out, or_dash(value));
    fputc('\n', out);
}

static void show_source(FILE *out, const char *src, int64_t first)
{
    int64_t line = first;
    const char *p = src;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        /* The rule set's own text: its tabs are indentation, kept. */
        fprintf(out, "        %5lld | ", (long long)line++);
        tx_putn(out, p, len, 1);
        fputc('\n', out);
        if (!nl)
            break;
        p = nl + 1;
    }
}

/* In the helpers of show_text: S escaped, freed with the others at its end. */
#define T(s) tx(tl, (s))

/* Where the decision stands after its reviews RV (a JSON array, LAST its
 * latest), into ST (N bytes): a person's review may have overridden it. */
static void show_review_state(char *st, size_t n, const cJSON *rv, const cJSON *last,
                              const show_chain *ch)
{
    const char *action = or_dash(jstr(last, "action"));
    if (!strcmp(action, "override"))
        snprintf(st, n, "overridden to %s by %s on %s (see Reviews)",
                 or_dash(jstr(last, "outcome")), or_dash(jstr(last, "by")),
                 or_dash(jstr(last, "reviewed_at")));
    else {
        /* A confirmation confirms where the decision stands: after an
         * override, that override's outcome. */
        const char *over = NULL;
        for (int k = cJSON_GetArraySize(rv) - 1; k >= 0 && !over; k--) {
            const cJSON *x = cJSON_GetArrayItem(rv, k);
            if (!strcmp(or_dash(jstr(x, "action")), "override"))
                over = or_dash(jstr(x, "outcome"));
        }
        snprintf(st, n, "%s%s%s by %s on %s (see Reviews)",
                 !strcmp(action, "confirm") ? "confirmed" : action, over ? " as " : "",
                 over ? over : "", or_dash(jstr(last, "by")),
                 or_dash(jstr(last, "reviewed_at")));
    }
    if (!show_reviews_ok(ch)) {
        size_t l = strlen(st);
        if (ch->rc < 0)
            snprintf(st + l, n - l, " -- NOT VERIFIED: the chain could not be read");
        else
            snprintf(st + l, n - l, " -- DOES NOT VERIFY: record %lld, at or before "
                     "this review, does not match; do not rely on it", (long long)ch->bad_seq);
    }
}

/* What the chain says of R's record, into CHAIN (N bytes). */
static void show_chain_text(char *chain, size_t n, const show_row *r, const show_chain *ch)
{
    if (!ch->checked)
        snprintf(chain, n, "record %lld (not verified: --no-verify)", (long long)r->seq);
    else if (ch->rc < 0)
        snprintf(chain, n, "record %lld; the chain could not be read: %s",
                 (long long)r->seq, ch->why);
    else if (ch->rc == 0)
        snprintf(chain, n, "record %lld; the chain verifies up to it and on to "
                 "the end (%lld records)", (long long)r->seq, (long long)ch->records);
    else if (ch->bad_seq > r->seq)
        snprintf(chain, n, "record %lld; the chain verifies up to it, but "
                 "record %lld (after it) does not match: %s", (long long)r->seq,
                 (long long)ch->bad_seq, ch->why);
    else
        snprintf(chain, n, "record %lld; the chain DOES NOT VERIFY up to it: "
                 "record %lld (%s) does not match: %s", (long long)r->seq,
                 (long long)ch->bad_seq, ch->bad_id, ch->why);
}

/* The first section: the decision, where it stands after its reviews RV,
 * what made it, who sent it, the server, and its place in the chain. */
static void show_summary(FILE *out, const show_row *r, const cJSON *dec, const cJSON *ex,
                         const show_chain *ch, const cJSON *rv, tx_str **tl)
{
    const char *title = ex ? jstr(ex, "title") : NULL;
    char prog[512];
    snprintf(prog, sizeof prog, "%s, version %s%s%s", r->program, or_dash(r->program_version),
             title ? " -- " : "", title ? title : "");
    fprintf(out, "Decision %s\n", T(r->decision_id));
    show_field(out, "outcome", r->outcome);
    /* The latest review says where it stands (the list of reviews comes
     * last). */
    const cJSON *last = cJSON_GetArrayItem(rv, cJSON_GetArraySize(rv) - 1);
    if (last) {
        char st[768];
        show_review_state(st, sizeof st, rv, last, ch);
        show_field(out, "after review", st);
    }
    show_field(out, "programme", prog);
    if (ex && jstr(ex, "reference"))
        show_field(out, "reference", jstr(ex, "reference"));
    show_field(out, "applicant", r->applicant_id);
    show_field(out, "decided for", r->as_of);
    show_field(out, "decided at", r->decided_at);
    show_field(out, "received at", r->received_at);
    show_field(out, "language", jstr(dec, "lang"));
    show_field(out, "rule set", r->ruleset);
    if (r->request_key)
        show_field(out, "request key", r->request_key);
    char who[96];
    if (r->client_uid >= 0)
        snprintf(who, sizeof who, "uid %lld, pid %lld", (long long)r->client_uid,
                 (long long)r->client_pid);
    else
        snprintf(who, sizeof who, "unknown (not a Unix-socket client)");
    show_field(out, "sent by", who);
    /* The start event is a row of the events table, which the chain does
     * not cover: anyone holding the file can change it without a trace, so
     * it must not read as proven like the lines above. */
    if (r->started) {
        char srv[768];
        snprintf(srv, sizeof srv, "%s (started %s)", r->started, r->started_at);
        show_field(out, "served by", srv);
        show_field(out, "", "(from the event log, which is not hash-chained: not proven)");
        if (!show_started_under(r))
            show_field(out, "", "its rules were reloaded since it started: the rule set above, "
                       "not the one it started with, made this decision");
    } else {
        show_field(out, "served by", "no server start is recorded before it in the event log "
                   "(which is not hash-chained)");
    }

    char chain[768];
    show_chain_text(chain, sizeof chain, r, ch);
    show_field(out, "chain", chain);
}

/* One criterion C of the decision, with X, its entry in the explanation
 * (or NULL): its result, message, values compared and the source of its
 * check. */
static void show_one_criterion(FILE *out, const cJSON *c, const cJSON *x, tx_str **tl)
{
    const char *id = jstr(c, "id");
    fprintf(out, "\n  [%s] %s", result_word(cJSON_GetObjectItemCaseSensitive(c, "passed")),
            or_dash(T(id)));
    if (x && jstr(x, "text"))
        fprintf(out, ": %s", T(jstr(x, "text")));
    fprintf(out, "\n        message:   %s\n", or_dash(T(jstr(c, "message"))));
    const cJSON *vals = cJSON_GetObjectItemCaseSensitive(c, "values");
    if (cJSON_GetArraySize(vals) > 0) {
        fprintf(out, "        compared: ");
        const cJSON *v;
        int first = 1;
        cJSON_ArrayForEach(v, vals) {
            char *t = value_text(v);
            fprintf(out, "%s %s = %s", first ? "" : ",", T(v->string), t ? T(t) : "?");
            free(t);
            first = 0;
        }
        fputc('\n', out);
    }
    const cJSON *miss = cJSON_GetObjectItemCaseSensitive(c, "missing");
    if (cJSON_GetArraySize(miss) > 0) {
        char *t = cJSON_PrintUnformatted(miss);
        fprintf(out, "        missing:   %s\n", t ? T(t) : "?");
        free(t);
    }
    if (x && jstr(x, "reference"))
        fprintf(out, "        reference: %s\n", T(jstr(x, "reference")));
    if (x && jstr(x, "source")) {
        const cJSON *fl = cJSON_GetObjectItemCaseSensitive(x, "first_line");
        const cJSON *ll = cJSON_GetObjectItemCaseSensitive(x, "last_line");
        int64_t first = cJSON_IsNumber(fl) ? (int64_t)fl->valuedouble : 1;
        fprintf(out, "        check, %s lines %lld-%lld (stored rule set):\n",
                or_dash(T(jstr(x, "file"))), (long long)first,
                (long long)(cJSON_IsNumber(ll) ? (int64_t)ll->valuedouble : first));
        show_source(out, jstr(x, "source"), first);
    }
}

/* The criteria section: counts, then each criterion; EX_WHY says why there
 * are no sources when EX is NULL. */
static void show_criteria(FILE *out, const cJSON *dec, const cJSON *ex, const char *ex_why,
                          tx_str **tl)
{
    const cJSON *crit = cJSON_GetObjectItemCaseSensitive(dec, "criteria");
    int np = 0, nf = 0, nm = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, crit) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "passed");
        cJSON_IsTrue(p) ? np++ : cJSON_IsFalse(p) ? nf++ : nm++;
    }
    fprintf(out, "\nCriteria (%d: %d passed, %d failed, %d lacking data)\n",
            cJSON_GetArraySize(crit), np, nf, nm);
    if (!ex)
        fprintf(out, "  (no sources: %s)\n", T(ex_why));
    cJSON_ArrayForEach(c, crit)
        show_one_criterion(out, c, ex ? show_criterion(ex, jstr(c, "id")) : NULL, tl);
}

/* The parameters section: each value applied, with its reference, the days
 * it is in force around AS_OF and where it is declared (from EX, when any). */
static void show_parameters(FILE *out, const cJSON *dec, const cJSON *ex, const char *as_of,
                            tx_str **tl)
{
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(dec, "parameters");
    fprintf(out, "\nParameters applied (%d)\n", cJSON_GetArraySize(params));
    const cJSON *pe = ex ? cJSON_GetObjectItemCaseSensitive(ex, "parameters") : NULL;
    int w = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, params) {
        int l = (int)strlen(T(p->string));
        if (l > w)
            w = l;
    }
    cJSON_ArrayForEach(p, params) {
        char *t = value_text(p);
        fprintf(out, "  %-*s = %s\n", w, T(p->string), t ? T(t) : "?");
        free(t);
        const cJSON *d = pe ? cJSON_GetObjectItemCaseSensitive(pe, p->string) : NULL;
        if (!d)
            continue;
        const cJSON *v = show_param_value(d, as_of);
        const char *ref = v && jstr(v, "reference") ? jstr(v, "reference") : jstr(d, "reference");
        if (ref)
            fprintf(out, "  %*s   reference: %s\n", w, "", T(ref));
        /* The window the stored rule set gives the value (engine_explain's
         * in_force): a value declared without an end ends where a later one
         * starts. */
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(d, "in_force");
        const cJSON *win = jstr(in, "from") ? in : v;
        if (win)
            fprintf(out, "  %*s   in force:  from %s%s%s\n", w, "", or_dash(T(jstr(win, "from"))),
                    jstr(win, "to") ? " to " : " (no end in the stored rule set)",
                    jstr(win, "to") ? T(jstr(win, "to")) : "");
        const cJSON *line = cJSON_GetObjectItemCaseSensitive(d, "line");
        if (jstr(d, "file"))
            fprintf(out, "  %*s   declared:  %s:%lld\n", w, "", T(jstr(d, "file")),
                    cJSON_IsNumber(line) ? (long long)line->valuedouble : 0LL);
    }
}

/* The reviews section: each review of RV, marked when it does not verify. */
static void show_reviews(FILE *out, const cJSON *rv, const show_chain *ch, tx_str **tl)
{
    fprintf(out, "\nReviews (%d)\n", cJSON_GetArraySize(rv));
    if (!show_reviews_ok(ch))
        fprintf(out, "  THE REVIEWS DO NOT VERIFY: %s; a review marked so may have been "
                "altered or forged\n", ch->rc < 0 ? "the chain could not be read"
                                                   : "the chain breaks at or before them");
    const cJSON *x;
    cJSON_ArrayForEach(x, rv) {
        int64_t seq = show_review_record(x);
        if (cJSON_GetObjectItemCaseSensitive(x, "stored")) {   /* no object: altered */
            fprintf(out, "  (record %lld: the stored review is no JSON object, so the file was "
                    "altered)%s\n", (long long)seq, show_review_ok(ch, seq) ? "" : " DOES NOT VERIFY");
            continue;
        }
        /* Who recorded it, as for the decision: "by" is a free text anyone
         * can type, the peer credentials are what the system saw. */
        const cJSON *uid = cJSON_GetObjectItemCaseSensitive(x, "client_uid");
        const cJSON *pid = cJSON_GetObjectItemCaseSensitive(x, "client_pid");
        char who[96];
        if (cJSON_IsNumber(uid) && cJSON_IsNumber(pid))
            snprintf(who, sizeof who, "uid %.0f, pid %.0f", uid->valuedouble, pid->valuedouble);
        else if (cJSON_IsNumber(uid))
            snprintf(who, sizeof who, "uid %.0f, pid unknown", uid->valuedouble);
        else
            snprintf(who, sizeof who, "an unknown client");
        fprintf(out, "  %s  %s%s%s by %s, sent by %s (record %lld, review %s)%s\n      %s\n",
                or_dash(T(jstr(x, "reviewed_at"))), or_dash(T(jstr(x, "action"))),
                jstr(x, "outcome") ? " to " : "",
                jstr(x, "outcome") ? T(jstr(x, "outcome")) : "", or_dash(T(jstr(x, "by"))),
                who, (long long)seq, or_dash(T(jstr(x, "review_id"))),
                show_review_ok(ch, seq) ? "" : " DOES NOT VERIFY",
                or_dash(T(jstr(x, "reason"))));
    }
}

/* The text report of decision R: DEC is its stored JSON, EX its explanation
 * (or NULL, with EX_WHY saying why), CH what the chain says of it, REVIEWS
 * its reviews as a JSON array (or NULL when none are to be shown). */
static void show_text(FILE *out, const show_row *r, const cJSON *dec, const cJSON *ex,
                      const char *ex_why, const show_chain *ch, const char *reviews)
{
    tx_str *escaped = NULL, **tl = &escaped;   /* the escaped texts, freed at the end */
    cJSON *rv = reviews ? cJSON_Parse(reviews) : NULL;
    show_summary(out, r, dec, ex, ch, rv, tl);

    fprintf(out, "\nApplication as received\n");
    if (r->request)
        audit_pretty(out, r->request, r->request_len, "  ");
    else
        fprintf(out, "  (its application row is missing)\n");

    show_criteria(out, dec, ex, ex_why, tl);
    show_parameters(out, dec, ex, r->as_of, tl);

    const cJSON *missing = cJSON_GetObjectItemCaseSensitive(dec, "missing");
    if (cJSON_GetArraySize(missing) > 0) {
        char *t = cJSON_PrintUnformatted(missing);
        fprintf(out, "\nMissing data\n  %s\n", t ? T(t) : "?");
        free(t);
    }

    if (reviews)
        show_reviews(out, rv, ch, tl);
    cJSON_Delete(rv);
    tx_free(escaped);
}
#undef T

static void json_str(buf *b, const char *s)
{
    if (s)
        buf_add_json_string(b, s, strlen(s));
    else
        buf_adds(b, "null");
}

/* Where a decision stands after its reviews: the latest override's
 * outcome, or the engine's when none overrode it (a confirmation confirms
 * where it stands). */
static const char *row_stands(const store_row *r)
{
    return r->overridden_to ? r->overridden_to : r->outcome;
}

/* ,"review":... of a listed or exported row: its latest review, or null,
 * and where the decision stands after its reviews.  The outcome is the
 * engine's. */
static void json_review(buf *b, const store_row *r)
{
    buf_adds(b, ",\"review\":");
    if (!r->review_action) {
        buf_adds(b, "null");
        return;
    }
    buf_adds(b, "{\"action\":");
    json_str(b, r->review_action);
    buf_adds(b, ",\"outcome\":");
    json_str(b, r->review_outcome);
    buf_adds(b, ",\"after_reviews\":");
    json_str(b, row_stands(r));
    buf_addc(b, '}');
}

static void json_raw(buf *b, const char *s, size_t n)
{
    if (s)
        buf_add(b, s, n);
    else
        buf_adds(b, "null");
}

static int show_json(FILE *out, const show_row *r, const char *ex, size_t exlen,
                     const char *ex_why, const show_chain *ch, const char *reviews)
{
    buf b;
    buf_init(&b, AUDIT_BUF_CAP);
    buf_adds(&b, "{\"decision_id\":");
    json_str(&b, r->decision_id);
    buf_printf(&b, ",\"seq\":%lld,\"applicant_id\":", (long long)r->seq);
    json_str(&b, r->applicant_id);
    buf_adds(&b, ",\"decision\":");
    json_raw(&b, r->json, r->json_len);
    buf_adds(&b, ",\"application\":");   /* the request exactly as received */
    json_raw(&b, r->request, r->request_len);
    buf_adds(&b, ",\"received_at\":");
    json_str(&b, r->received_at);
    buf_adds(&b, ",\"request_key\":");
    json_str(&b, r->request_key);
    if (r->client_uid >= 0)
        buf_printf(&b, ",\"client_uid\":%lld,\"client_pid\":%lld", (long long)r->client_uid,
                   (long long)r->client_pid);
    else
        buf_adds(&b, ",\"client_uid\":null,\"client_pid\":null");
    buf_adds(&b, ",\"server\":");
    if (r->started) {
        buf_adds(&b, "{\"started_at\":");
        json_str(&b, r->started_at);
        buf_adds(&b, ",\"detail\":");
        json_str(&b, r->started);
        buf_printf(&b, ",\"reloaded\":%s,\"chained\":false}",
                   show_started_under(r) ? "false" : "true");
    } else {
        buf_adds(&b, "null");
    }
    buf_adds(&b, ",\"explanation\":");
    json_raw(&b, ex, exlen);
    if (!ex) {
        buf_adds(&b, ",\"explanation_error\":");
        json_str(&b, ex_why);
    }
    buf_adds(&b, ",\"chain\":{");
    if (!ch->checked) {
        buf_printf(&b, "\"seq\":%lld,\"checked\":false", (long long)r->seq);
    } else {
        buf_printf(&b, "\"seq\":%lld,\"checked\":true,\"verified_to_decision\":%s,"
                   "\"verified_to_end\":%s,\"reviews_verified\":%s,\"records_verified\":%lld",
                   (long long)r->seq, ch->rc >= 0 && show_chain_ok(ch, r->seq) ? "true" : "false",
                   ch->rc == 0 ? "true" : "false", show_reviews_ok(ch) ? "true" : "false",
                   (long long)ch->records);
        if (ch->rc != 0) {
            buf_printf(&b, ",\"first_bad_seq\":%lld,\"first_bad_id\":", (long long)ch->bad_seq);
            json_str(&b, ch->bad_id);
            buf_adds(&b, ",\"reason\":");
            json_str(&b, ch->why);
        }
    }
    buf_adds(&b, "},\"reviews\":");
    json_raw(&b, reviews, reviews ? strlen(reviews) : 0);
    int rc = buf_adds(&b, "}\n");
    if (rc == 0)
        fwrite(b.data, 1, b.len, out);
    buf_free(&b);
    return rc;
}

int audit_show(store *st, const char *decision_id, const audit_show_opts *o, FILE *out,
               err *e)
{
    static const audit_show_opts dflt = {0};
    show_row r = {0};
    show_chain ch = {0};
    cJSON *dec = NULL, *exj = NULL;
    buf ex, rv, when, started;
    char ex_why[512] = "";
    int ret = -1;
    buf_init(&ex, AUDIT_BUF_CAP);
    buf_init(&rv, AUDIT_BUF_CAP);
    buf_init(&when, 64);
    buf_init(&started, 16384);   /* two whole paths and the rest (cmd_serve.c) */
    if (!o)
        o = &dflt;

    if (store_application_of(st, decision_id, show_copy, &r, e) != 0)
        goto done;
    if (r.oom) {
        err_set(e, "internal", "out of memory");
        goto done;
    }
    int found = store_started(st, r.decided_at ? r.decided_at : "", &when, &started, e);
    if (found < 0)
        goto done;
    if (found) {
        r.started_at = when.data ? when.data : "";
        r.started = started.data ? started.data : "";
    }
    dec = cJSON_ParseWithLength(r.json, r.json_len);
    if (!dec) {
        /* Changed, or damaged: the chain says which record, as for any
         * other change (exit 1), unless it is not to be looked at. */
        err ve = {0};
        int64_t records = 0, bad_seq = 0;
        char bad_id[64] = "";
        int vrc = o->no_verify ? 0 : store_verify(st, &records, &bad_seq, bad_id, NULL, NULL, &ve);
        if (vrc == 1)
            err_set(e, "mismatch", "decision %s: its stored JSON does not parse; the chain does "
                    "not verify at record %lld (%s): %s", decision_id, (long long)bad_seq, bad_id,
                    ve.msg);
        else
            err_set(e, "internal", "decision %s: its stored JSON does not parse", decision_id);
        goto done;
    }
    const char *lang = o->lang ? o->lang : jstr(dec, "lang");
    if (show_explain(st, &r, lang ? lang : "en", &ex, ex_why, sizeof ex_why) == 0)
        exj = cJSON_ParseWithLength(ex.data, ex.len);
    if (!exj && !ex_why[0])
        snprintf(ex_why, sizeof ex_why, "the explanation does not parse");

    if (!o->no_verify) {
        err ve = {0};
        ch.checked = 1;
        ch.rc = store_verify(st, &ch.records, &ch.bad_seq, ch.bad_id, NULL, NULL, &ve);
        snprintf(ch.why, sizeof ch.why, "%s", ve.code ? ve.msg : "");
    }
    const char *reviews = NULL;
    if (store_reviews_client(st, decision_id, &rv, e) != 0)
        goto done;
    reviews = rv.data ? rv.data : "[]";
    cJSON *rj = cJSON_Parse(reviews);
    const cJSON *x;
    cJSON_ArrayForEach(x, rj) {
        int64_t seq = show_review_record(x);
        if (seq > ch.review_seq)
            ch.review_seq = seq;
    }
    cJSON_Delete(rj);

    if (o->json) {
        if (show_json(out, &r, exj ? ex.data : NULL, ex.len, ex_why, &ch, reviews) != 0) {
            err_set(e, "internal", "the explanation is too large");
            goto done;
        }
    } else {
        show_text(out, &r, dec, exj, ex_why, &ch, reviews);
    }
    ret = show_chain_ok(&ch, r.seq) && ch.rc >= 0 && show_reviews_ok(&ch) ? 0 : 1;
done:
    cJSON_Delete(dec);
    cJSON_Delete(exj);
    buf_free(&ex);
    buf_free(&rv);
    buf_free(&when);
    buf_free(&started);
    show_row_free(&r);
    return ret;
}

/* ---- list ----------------------------------------------------------------- */

enum { L_SEQ, L_DECIDED_AT, L_ID, L_PROGRAM, L_VERSION, L_OUTCOME, L_REVIEW, L_AS_OF,
       L_APPLICANT, L_N };
static const char *const list_heads[L_N] = {
    "SEQ", "DECIDED AT", "DECISION ID", "PROGRAMME", "VERSION", "OUTCOME", "REVIEW", "AS OF",
    "APPLICANT",
};

typedef struct list_page {
    int json;
    FILE *out;
    int64_t want;            /* rows to show; one more is read to see if there are more */
    int64_t n;               /* rows read */
    char *(*rows)[L_N];      /* the table's cells, when not JSON */
    char last_id[64];        /* the last row shown, for the next page's cursor */
    int oom;
} list_page;

static int list_row(void *ud, const store_row *r)
{
    list_page *p = ud;
    if (p->n++ >= p->want)
        return 0;            /* the extra row: there is a next page */
    snprintf(p->last_id, sizeof p->last_id, "%s", r->decision_id);
    if (p->json) {
        buf b;
        buf_init(&b, 1 << 16);
        buf_printf(&b, "{\"seq\":%lld,\"decision_id\":", (long long)r->seq);
        json_str(&b, r->decision_id);
        buf_adds(&b, ",\"program\":");
        json_str(&b, r->program);
        buf_adds(&b, ",\"program_version\":");
        json_str(&b, r->program_version);
        buf_adds(&b, ",\"outcome\":");
        json_str(&b, r->outcome);
        buf_adds(&b, ",\"applicant_id\":");
        json_str(&b, r->applicant_id);
        buf_adds(&b, ",\"as_of\":");
        json_str(&b, r->as_of);
        buf_adds(&b, ",\"decided_at\":");
        json_str(&b, r->decided_at);
        buf_adds(&b, ",\"ruleset\":");
        json_str(&b, r->ruleset);
        json_review(&b, r);
        if (buf_adds(&b, "}\n") == 0)
            fwrite(b.data, 1, b.len, p->out);
        buf_free(&b);
        return 0;
    }
    char seq[24], review[64] = "";
    snprintf(seq, sizeof seq, "%lld", (long long)r->seq);
    if (r->review_action && !strcmp(r->review_action, "override"))
        snprintf(review, sizeof review, "overridden: %s", or_dash(r->review_outcome));
    else if (r->review_action && r->overridden_to)   /* confirms an earlier override */
        snprintf(review, sizeof review, "confirmed: %s", r->overridden_to);
    else if (r->review_action)
        snprintf(review, sizeof review, "%s", "confirmed");
    char **cells = p->rows[p->n - 1];
    const char *v[L_N] = {seq, r->decided_at, r->decision_id, r->program, r->program_version,
                          r->outcome, *review ? review : NULL, r->as_of, r->applicant_id};
    for (int i = 0; i < L_N; i++)
        if (!(cells[i] = text_escaped(or_dash(v[i]))))
            p->oom = 1;
    return 0;
}

static int audit_found(void *ud, const store_row *r)
{
    (void)r;
    *(int *)ud = 1;
    return 1;
}

/* Whether F, from its first page, selects any decision (when it cannot be
 * read, as if it did: the caller's message is then only less precise). */
static int audit_any(store *st, const store_filter *f)
{
    store_filter q = *f;
    q.after = NULL;
    q.offset = 0;
    q.limit = 1;
    int found = 0;
    err e;
    return store_each(st, &q, audit_found, &found, &e) < 0 || found;
}

int audit_list(store *st, const store_filter *f, int json, FILE *out, int64_t *shown, err *e)
{
    static const store_filter none = {.limit = 50};
    if (!f)
        f = &none;
    store_filter q = *f;
    list_page p = {.json = json, .out = out, .want = f->limit > 0 ? f->limit : INT64_MAX};
    *shown = 0;
    if (f->limit > 0)
        q.limit = f->limit + 1;
    if (!json) {
        if (f->limit <= 0 || f->limit > 1000000)
            return err_set(e, "invalid_request", "a table shows at most 1000000 rows; "
                           "use --json or export for more");
        p.rows = calloc((size_t)f->limit, sizeof *p.rows);
        if (!p.rows)
            return err_set(e, "internal", "out of memory");
    }
    int rc = store_each(st, &q, list_row, &p, e);
    int64_t n = p.n < p.want ? p.n : p.want;
    if (rc == 0 && p.oom)
        rc = err_set(e, "internal", "out of memory");
    if (rc == 0 && !json) {
        int w[L_N];
        for (int i = 0; i < L_N; i++) {
            w[i] = (int)strlen(list_heads[i]);
            for (int64_t k = 0; k < n; k++) {
                int l = (int)strlen(p.rows[k][i]);
                if (l > w[i])
                    w[i] = l;
            }
        }
        for (int64_t k = n ? -1 : 0; k < n; k++)
            for (int i = 0; i < L_N; i++) {
                const char *v = k < 0 ? list_heads[i] : p.rows[k][i];
                if (i == 0)
                    fprintf(out, "%*s", w[i], v);          /* numbers to the right */
                else if (i == L_N - 1)
                    fprintf(out, "  %s\n", v);
                else
                    fprintf(out, "  %-*s", w[i], v);
            }
        /* An empty page past the end, or nothing matching at all. */
        int past_end = n == 0 && (f->after || f->offset > 0) && audit_any(st, f);
        if (past_end && f->after) {
            fprintf(out, "(no decisions after %s)\n", f->after);
        } else if (past_end) {
            fprintf(out, "(no decisions on this page: those that match end before it)\n");
        } else if (n == 0) {
            fprintf(out, "(no decisions match)\n");
        } else if (p.n > p.want) {
            /* After --after, --page is refused (and alone would restart from
             * the newest): the next page is the next cursor only. */
            if (f->after)
                fprintf(out, "(%lld shown, newest first; more: --after ", (long long)n);
            else
                fprintf(out, "(%lld shown, newest first; more: --page %lld, or --after ",
                        (long long)n, (long long)(f->offset / f->limit + 2));
            tx_put(out, p.last_id);
            fputs(")\n", out);
        } else {
            fprintf(out, "(%lld shown; no more)\n", (long long)n);
        }
    }
    if (p.rows) {
        for (int64_t k = 0; k < f->limit; k++)
            for (int i = 0; i < L_N; i++)
                free(p.rows[k][i]);
        free(p.rows);
    }
    *shown = n;
    return rc;
}

/* ---- stats ---------------------------------------------------------------- */

/* Counts per programme, month and outcome, as store_stats gives them. */
typedef struct stat_month {
    char *program, *month, *outcome;
    int64_t n;
} stat_month;

typedef struct stat_fail {
    char *program, *criterion;
    int64_t failed, missing, decisions;
} stat_fail;

typedef struct stats {
    stat_month *m;
    size_t nm, am;
    stat_fail *f;
    size_t nf, af;
    char *outcomes[16];      /* the distinct outcomes, known ones first */
    size_t noutcomes;
    int text;                /* names escaped for a terminal (text_escaped), not JSON */
    int oom;
} stats;

static const char *const known_outcomes[] = {"eligible", "ineligible", "incomplete"};
static const char *const outcome_colors[] = {"#2e7d32", "#c62828", "#f9a825", "#6a1b9a",
                                             "#1565c0", "#757575"};

static int stats_outcome(stats *s, const char *o)
{
    for (size_t i = 0; i < s->noutcomes; i++)
        if (!strcmp(s->outcomes[i], o))
            return (int)i;
    if (s->noutcomes == sizeof s->outcomes / sizeof s->outcomes[0])
        return -1;
    if (!(s->outcomes[s->noutcomes] = strdup(o))) {
        s->oom = 1;
        return -1;
    }
    return (int)s->noutcomes++;
}

static void stats_month_cb(void *ud, const char *program, const char *month,
                           const char *outcome, int64_t n)
{
    stats *s = ud;
    if (s->nm == s->am) {
        size_t na = s->am ? 2 * s->am : 64;
        stat_month *nm = realloc(s->m, na * sizeof *nm);
        if (!nm) {
            s->oom = 1;
            return;
        }
        s->m = nm;
        s->am = na;
    }
    stat_month *m = &s->m[s->nm++];
    char *(*dup)(const char *) = s->text ? text_escaped : strdup;
    m->program = dup(or_dash(program));
    m->month = dup(or_dash(month));
    m->outcome = dup(or_dash(outcome));
    m->n = n;
    if (!m->program || !m->month || !m->outcome)
        s->oom = 1;
}

static void stats_fail_cb(void *ud, const char *program, const char *criterion, int64_t failed,
                          int64_t missing, int64_t decisions)
{
    stats *s = ud;
    if (s->nf == s->af) {
        size_t na = s->af ? 2 * s->af : 64;
        stat_fail *nf = realloc(s->f, na * sizeof *nf);
        if (!nf) {
            s->oom = 1;
            return;
        }
        s->f = nf;
        s->af = na;
    }
    stat_fail *f = &s->f[s->nf++];
    char *(*dup)(const char *) = s->text ? text_escaped : strdup;
    f->program = dup(or_dash(program));
    f->criterion = dup(or_dash(criterion));
    f->failed = failed;
    f->missing = missing;
    f->decisions = decisions;
    if (!f->program || !f->criterion)
        s->oom = 1;
}

static void stats_free(stats *s)
{
    for (size_t i = 0; i < s->nm; i++) {
        free(s->m[i].program);
        free(s->m[i].month);
        free(s->m[i].outcome);
    }
    for (size_t i = 0; i < s->nf; i++) {
        free(s->f[i].program);
        free(s->f[i].criterion);
    }
    for (size_t i = 0; i < s->noutcomes; i++)
        free(s->outcomes[i]);
    free(s->m);
    free(s->f);
}

/* The (program, month) rows: runs of S->m with the same programme and month.
 * Calls FN for each with the counts by outcome index. */
typedef void stats_row_fn(void *ud, const char *program, const char *month,
                          const int64_t *counts, int64_t total);

static void stats_rows(stats *s, stats_row_fn *fn, void *ud)
{
    size_t i = 0;
    while (i < s->nm) {
        int64_t counts[16] = {0}, total = 0;
        size_t j = i;
        while (j < s->nm && !strcmp(s->m[j].program, s->m[i].program) &&
               !strcmp(s->m[j].month, s->m[i].month)) {
            int k = stats_outcome(s, s->m[j].outcome);
            if (k >= 0)
                counts[k] += s->m[j].n;
            total += s->m[j].n;
            j++;
        }
        fn(ud, s->m[i].program, s->m[i].month, counts, total);
        i = j;
    }
}

typedef struct stats_print {
    stats *s;
    FILE *out;
    int wp;                  /* width of the programme column */
    int json;
    int first;
    buf *b;
} stats_print;

static void stats_print_row(void *ud, const char *program, const char *month,
                            const int64_t *counts, int64_t total)
{
    stats_print *p = ud;
    if (p->json) {
        buf_adds(p->b, p->first ? "" : ",");
        buf_adds(p->b, "{\"program\":");
        json_str(p->b, program);
        buf_adds(p->b, ",\"month\":");
        json_str(p->b, month);
        for (size_t k = 0; k < p->s->noutcomes; k++) {
            buf_addc(p->b, ',');
            json_str(p->b, p->s->outcomes[k]);
            buf_printf(p->b, ":%lld", (long long)counts[k]);
        }
        buf_printf(p->b, ",\"total\":%lld}", (long long)total);
        p->first = 0;
        return;
    }
    fprintf(p->out, "%-*s  %-7s", p->wp, program, month);
    for (size_t k = 0; k < p->s->noutcomes; k++) {
        int w = (int)strlen(p->s->outcomes[k]);
        fprintf(p->out, "  %*lld", w < 6 ? 6 : w, (long long)counts[k]);
    }
    fprintf(p->out, "  %7lld\n", (long long)total);
}

/* "YYYY-MM" as a month number (year * 12 + month - 1); -1 when not one. */
static int month_number(const char *m)
{
    int y, mo;
    char tail;
    if (!m || sscanf(m, "%4d-%2d%c", &y, &mo, &tail) != 2 || mo < 1 || mo > 12)
        return -1;
    return y * 12 + mo - 1;
}

#define AUDIT_CHART_MONTHS 600   /* fifty years of bars at most */

/* The chart: one panel per programme, all on the same months (every month
 * from the first to the last decision, those without any included), so that
 * panels line up and a month with no decisions shows as a gap. */
static int stats_chart(stats *s, FILE *out, const char *title, err *e)
{
    int lo = -1, hi = -1;
    size_t np = 0;
    for (size_t i = 0; i < s->nm; i++) {
        int m = month_number(s->m[i].month);
        if (m >= 0 && (lo < 0 || m < lo))
            lo = m;
        if (m > hi)
            hi = m;
        if (i == 0 || strcmp(s->m[i].program, s->m[i - 1].program))
            np++;
    }
    size_t nmonths = lo < 0 ? 0 : (size_t)(hi - lo + 1);
    if (nmonths > AUDIT_CHART_MONTHS)
        return err_set(e, "invalid_request", "the chart would have %zu months; narrow it with "
                       "--since and --until (at most %d)", nmonths, AUDIT_CHART_MONTHS);
    chart_panel *panels = calloc(np ? np : 1, sizeof *panels);
    char (*labels)[8] = calloc(nmonths ? nmonths : 1, sizeof *labels);
    const char **lp = calloc(nmonths ? nmonths : 1, sizeof *lp);
    int64_t *values = calloc((np ? np : 1) * (nmonths ? nmonths : 1) * s->noutcomes + 1,
                             sizeof *values);
    chart_series series[16];
    int rc = -1;
    if (!panels || !labels || !lp || !values) {
        err_set(e, "internal", "out of memory");
        goto done;
    }
    for (size_t k = 0; k < nmonths; k++) {
        int m = lo + (int)k;
        snprintf(labels[k], sizeof labels[k], "%04d-%02d", m / 12 % 10000, m % 12 + 1);
        lp[k] = labels[k];
    }
    for (size_t k = 0; k < s->noutcomes; k++)
        series[k] = (chart_series){s->outcomes[k], outcome_colors[k < 5 ? k : 5]};
    size_t p = (size_t)-1;
    for (size_t i = 0; i < s->nm; i++) {
        if (i == 0 || strcmp(s->m[i].program, s->m[i - 1].program)) {
            p++;
            panels[p] = (chart_panel){.title = s->m[i].program, .nbars = nmonths,
                                      .labels = lp,
                                      .values = values + p * nmonths * s->noutcomes};
        }
        int m = month_number(s->m[i].month), k = stats_outcome(s, s->m[i].outcome);
        if (m >= 0 && k >= 0)
            values[(p * nmonths + (size_t)(m - lo)) * s->noutcomes + (size_t)k] += s->m[i].n;
    }
    rc = chart_write_svg(out, title, "decisions", series, s->noutcomes, panels, np, e);
    if (rc == 0 && (fflush(out) != 0 || ferror(out)))
        rc = err_set(e, "internal", "writing the chart: %s", strerror(errno ? errno : EIO));
done:
    free(panels);
    free(labels);
    free(lp);
    free(values);
    return rc;
}

int audit_stats(store *st, const store_filter *f, int top, int json, FILE *chart, FILE *out,
                err *e)
{
    stats s = {0};
    int rc = -1;
    buf b;
    buf_init(&b, AUDIT_BUF_CAP);
    s.text = !json;
    for (size_t k = 0; k < sizeof known_outcomes / sizeof known_outcomes[0]; k++)
        stats_outcome(&s, known_outcomes[k]);
    if (store_stats(st, f, stats_month_cb, stats_fail_cb, &s, e) != 0)
        goto done;
    for (size_t i = 0; i < s.nm; i++)
        stats_outcome(&s, s.m[i].outcome);
    if (s.oom) {
        err_set(e, "internal", "out of memory");
        goto done;
    }
    const char *by = f && f->by_as_of ? "as_of" : "decided_at";
    int wp = (int)strlen("PROGRAMME");
    for (size_t i = 0; i < s.nm; i++)
        if ((int)strlen(s.m[i].program) > wp)
            wp = (int)strlen(s.m[i].program);
    stats_print p = {.s = &s, .out = out, .wp = wp, .json = json, .first = 1, .b = &b};

    if (json) {
        buf_printf(&b, "{\"month_of\":\"%s\",\"by_month\":[", by);
        stats_rows(&s, stats_print_row, &p);
        buf_adds(&b, "],\"failing\":[");
    } else {
        fprintf(out, "Decisions per programme, month (of %s) and outcome\n\n", by);
        fprintf(out, "%-*s  %-7s", wp, "PROGRAMME", "MONTH");
        for (size_t k = 0; k < s.noutcomes; k++)
            fprintf(out, "  %*s", (int)strlen(s.outcomes[k]) < 6 ? 6 : (int)strlen(s.outcomes[k]),
                    s.outcomes[k]);
        fprintf(out, "  %7s\n", "TOTAL");
        stats_rows(&s, stats_print_row, &p);
        if (s.nm == 0)
            fprintf(out, "(no decisions match)\n");
    }

    /* Failing criteria: store_stats orders them by programme, then most
     * failures first. */
    int wc = (int)strlen("CRITERION");
    for (size_t i = 0; i < s.nf; i++)
        if ((int)strlen(s.f[i].criterion) > wc)
            wc = (int)strlen(s.f[i].criterion);
    if (!json && s.nf)
        fprintf(out, "\nCriteria failed most often, per programme (%s)\n\n%-*s  %-*s  %7s  %7s"
                "  %12s  %10s\n", top > 0 ? "the first few; --top N" : "all", wp, "PROGRAMME", wc,
                "CRITERION", "FAILED", "OF", "% FAILED", "NO DATA");
    int rank = 0, first = 1;
    for (size_t i = 0; i < s.nf; i++) {
        const stat_fail *x = &s.f[i];
        rank = i > 0 && !strcmp(x->program, s.f[i - 1].program) ? rank + 1 : 1;
        if (top > 0 && rank > top)
            continue;
        if (x->failed == 0 && x->missing == 0)
            continue;   /* never failed: not worth a line */
        double pct = x->decisions ? 100.0 * (double)x->failed / (double)x->decisions : 0;
        if (json) {
            buf_adds(&b, first ? "{\"program\":" : ",{\"program\":");
            json_str(&b, x->program);
            buf_adds(&b, ",\"criterion\":");
            json_str(&b, x->criterion);
            buf_printf(&b, ",\"failed\":%lld,\"missing\":%lld,\"decisions\":%lld}",
                       (long long)x->failed, (long long)x->missing, (long long)x->decisions);
        } else {
            fprintf(out, "%-*s  %-*s  %7lld  %7lld  %11.1f%%  %10lld\n", wp, x->program, wc,
                    x->criterion, (long long)x->failed, (long long)x->decisions, pct,
                    (long long)x->missing);
        }
        first = 0;
    }
    if (json) {
        if (buf_adds(&b, "]}\n") != 0) {
            err_set(e, "internal", "the statistics are too large");
            goto done;
        }
        fwrite(b.data, 1, b.len, out);
    }
    if (chart) {
        char title[128];
        snprintf(title, sizeof title, "Decisions per month (of %s) and outcome", by);
        if (stats_chart(&s, chart, title, e) != 0)
            goto done;
    }
    rc = 0;
done:
    buf_free(&b);
    stats_free(&s);
    return rc;
}

/* ---- export --------------------------------------------------------------- */

#define AUDIT_HMAC_PREFIX "hmac-sha256:"

/* The keyed hash of N bytes at P, as "hmac-sha256:" and 64 hex digits. */
static int export_hmac(const audit_export_opts *o, const void *p, size_t n,
                       char out[sizeof AUDIT_HMAC_PREFIX + 64])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), o->key, (int)o->keylen, p, n, md, &len) || len != 32)
        return -1;
    memcpy(out, AUDIT_HMAC_PREFIX, sizeof AUDIT_HMAC_PREFIX - 1);
    hex_encode(md, len, out + sizeof AUDIT_HMAC_PREFIX - 1);
    return 0;
}

/* The numbers raw_numbers made raw under V, back to numbers (RAW 0) or raw
 * again (RAW 1): a redacted value is hashed as its numbers print from their
 * double, so that 100, 1E2 and 100.0 hash alike, as they always have. */
static void raw_toggle(cJSON *v, int raw)
{
    for (; v; v = v->next) {
        if (!raw && cJSON_IsRaw(v))
            v->type = cJSON_Number;
        else if (raw && cJSON_IsNumber(v) && v->valuestring)   /* only those made raw have one */
            v->type = cJSON_Raw;
        raw_toggle(v->child, raw);
    }
}

/* Replace with its HMAC every value under NODE (whose own path is PREFIX,
 * "" at the applicant) whose path is PATH or lies under it.  A value's path
 * joins the keys down to it with '.', as flatten writes the CSV columns,
 * list elements taking their list's path: so a key that holds a dot itself
 * ("contact.phone") is hidden as the nested one of that path is, and
 * neither goes out in clear in the one column both fill (nor under a
 * redacted "contact").  A string's bytes are hashed, any other value's
 * compact JSON; *HITS counts the values replaced. */
static int export_redact_path(const audit_export_opts *o, cJSON *node, const char *prefix,
                              const char *path, int64_t *hits)
{
    if (cJSON_IsArray(node)) {
        cJSON *el;
        cJSON_ArrayForEach(el, node)
            if (export_redact_path(o, el, prefix, path, hits) != 0)
                return -1;
        return 0;
    }
    if (!cJSON_IsObject(node))
        return 0;
    for (cJSON *m = node->child, *next; m; m = next) {
        next = m->next;
        char mp[1024];
        if (snprintf(mp, sizeof mp, "%s%s%s", prefix, *prefix ? "." : "", m->string) >=
            (int)sizeof mp)
            continue;   /* longer than any path asked for */
        size_t n = strlen(mp), pn = strlen(path);
        int under = n > pn && !strncmp(mp, path, pn) && mp[pn] == '.';
        if (strcmp(mp, path) != 0 && !under) {
            if (!strncmp(path, mp, n) && path[n] == '.' &&
                export_redact_path(o, m, mp, path, hits) != 0)
                return -1;
            continue;
        }
        char h[sizeof AUDIT_HMAC_PREFIX + 64];
        int rc;
        if (cJSON_IsString(m)) {
            rc = export_hmac(o, m->valuestring, strlen(m->valuestring), h);
        } else {
            cJSON *next_saved = m->next;   /* print M alone, not its siblings' raw state */
            m->next = NULL;
            raw_toggle(m, 0);
            char *t = cJSON_PrintUnformatted(m);
            raw_toggle(m, 1);
            m->next = next_saved;
            rc = t ? export_hmac(o, t, strlen(t), h) : -1;
            free(t);
        }
        if (rc != 0)
            return -1;
        cJSON *hs = cJSON_CreateString(h);
        /* keys are unique (the intake refuses a duplicate): by name is this one */
        if (!hs || !cJSON_ReplaceItemInObjectCaseSensitive(node, m->string, hs)) {
            cJSON_Delete(hs);
            return -1;
        }
        (*hits)++;
    }
    return 0;
}

static int export_redacts(const audit_export_opts *o, const char *path)
{
    for (size_t i = 0; i < o->nredact; i++)
        if (!strcmp(o->redact[i], path))
            return 1;
    return 0;
}

/* One flattened applicant cell: its path ("applicant.business.sector") and
 * its text (a string as is, null empty, a list or other value as JSON);
 * string says which (csv_field). */
typedef struct cell {
    char *path, *text;
    int string;
} cell;

typedef struct cells {
    cell *v;
    size_t n, alloc;
    int oom;
} cells;

static void cells_free(cells *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].path);
        free(c->v[i].text);
    }
    free(c->v);
    *c = (cells){0};
}

static void cells_add(cells *c, const char *path, char *text, int string)
{
    if (c->n == c->alloc) {
        size_t na = c->alloc ? 2 * c->alloc : 32;
        cell *nv = realloc(c->v, na * sizeof *nv);
        if (!nv) {
            free(text);
            c->oom = 1;
            return;
        }
        c->v = nv;
        c->alloc = na;
    }
    char *p = strdup(path);
    if (!p) {
        free(text);
        c->oom = 1;
        return;
    }
    c->v[c->n++] = (cell){p, text, string};
}

static void flatten(cells *c, const char *prefix, const cJSON *v)
{
    if (cJSON_IsObject(v) && v->child) {
        const cJSON *m;
        cJSON_ArrayForEach(m, v) {
            size_t len = strlen(prefix) + strlen(m->string) + 2;
            char *p = malloc(len);
            if (!p) {
                c->oom = 1;
                return;
            }
            snprintf(p, len, "%s.%s", prefix, m->string);
            flatten(c, p, m);
            free(p);
        }
        return;
    }
    char *t = cJSON_IsNull(v) ? strdup("") : value_text(v);
    if (!t) {
        c->oom = 1;
        return;
    }
    cells_add(c, prefix, t, cJSON_IsString(v));
}

typedef struct export_ctx {
    const audit_export_opts *o;
    FILE *out;
    int pass;                /* CSV: 1 collects the columns, 2 writes */
    cells cols;              /* CSV: the applicant columns (text unused) */
    int64_t n;
    err *e;
    int failed;
} export_ctx;

/* Skip JSON whitespace / a string (at its opening quote). */
static const char *raw_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static const char *raw_string(const char *p, const char *end)
{
    for (p++; p < end && *p != '"'; p++)
        if (*p == '\\')
            p++;
    return p < end ? p + 1 : NULL;
}

/* Walk the JSON text at P alongside NODE, which cJSON read from it, and make
 * each number a raw value holding its text as written: cJSON keeps a number
 * as a double, and would write 123456789012345678 as 1.2345678901234568e+17,
 * 0.10 as 0.1.  The export gives the applicant as received.  Returns where
 * the value ends, or NULL when the text and the tree disagree (then the
 * numbers not yet walked stay as cJSON writes them). */
static const char *raw_numbers(cJSON *node, const char *p, const char *end)
{
    p = raw_ws(p, end);
    if (p >= end || !node)
        return NULL;
    if (*p == '{' || *p == '[') {
        int object = *p == '{';
        p++;
        for (cJSON *c = node->child; c; c = c->next) {
            p = raw_ws(p, end);
            if (object) {
                if (p >= end || *p != '"' || !(p = raw_string(p, end)))
                    return NULL;
                p = raw_ws(p, end);
                if (p >= end || *p != ':')
                    return NULL;
                p++;
            }
            if (!(p = raw_numbers(c, p, end)))
                return NULL;
            p = raw_ws(p, end);
            if (p < end && *p == ',')
                p++;
        }
        p = raw_ws(p, end);
        return p < end && *p == (object ? '}' : ']') ? p + 1 : NULL;
    }
    if (*p == '"')
        return raw_string(p, end);
    const char *q = p;
    while (p < end && strchr("+-0123456789.eE", *p) && *p)
        p++;
    if (p == q)   /* true, false, null */
        return (size_t)(end - p) >= 4 && (!strncmp(p, "true", 4) || !strncmp(p, "null", 4))
                   ? p + 4
                   : (size_t)(end - p) >= 5 && !strncmp(p, "false", 5) ? p + 5 : NULL;
    if (cJSON_IsNumber(node)) {
        char *text = malloc((size_t)(p - q) + 1);
        if (!text)
            return NULL;
        memcpy(text, q, (size_t)(p - q));
        text[p - q] = '\0';
        node->type = cJSON_Raw;
        node->valuestring = text;
    }
    return p;
}

/* The applicant of a request line, redacted; NULL when the line has none. */
static cJSON *export_applicant(export_ctx *x, const store_row *r)
{
    cJSON *req = r->request ? cJSON_ParseWithLength(r->request, r->request_len) : NULL;
    if (req)
        raw_numbers(req, r->request, r->request + r->request_len);
    cJSON *a = cJSON_DetachItemFromObjectCaseSensitive(req, "applicant");
    cJSON_Delete(req);
    int64_t none = 0;
    for (size_t i = 0; a && i < x->o->nredact; i++)
        if (export_redact_path(x->o, a, "", x->o->redact[i],
                               x->pass != 1 && x->o->matched ? &x->o->matched[i] : &none) != 0) {
            cJSON_Delete(a);
            x->failed = 1;
            err_set(x->e, "internal", "HMAC failed");
            return NULL;
        }
    return a;
}

/* The decision's applicant_id, redacted when asked; into H. */
static const char *export_applicant_id(export_ctx *x, const store_row *r,
                                       char h[sizeof AUDIT_HMAC_PREFIX + 64])
{
    if (!r->applicant_id || !export_redacts(x->o, "applicant_id"))
        return r->applicant_id;
    if (export_hmac(x->o, r->applicant_id, strlen(r->applicant_id), h) != 0)
        return NULL;
    return h;
}

/* Write S as one CSV field, and the separator or line end after it.  A
 * spreadsheet runs a cell that starts with = + - @ or a tab or carriage
 * return as a formula, and applicants' texts are anyone's to choose: a TEXT
 * field (not a number) that starts so is written after an apostrophe, which
 * spreadsheets show as a mark of text and do not run. */
static void csv_field(FILE *out, const char *s, int text, int last)
{
    s = s ? s : "";
    int formula = text && *s && strchr("=+-@\t\r", *s);
    if (strpbrk(s, ",\"\r\n") || (*s && (s[0] == ' ' || s[strlen(s) - 1] == ' '))) {
        fputc('"', out);
        if (formula)
            fputc('\'', out);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', out);
            fputc(*s, out);
        }
        fputc('"', out);
    } else {
        if (formula)
            fputc('\'', out);
        fputs(s, out);
    }
    fputs(last ? "\r\n" : ",", out);
}

static const char *const csv_fixed[] = {
    "seq", "decision_id", "program", "program_version", "ruleset", "as_of", "decided_at",
    "outcome", "applicant_id", "criteria_passed", "criteria_failed", "criteria_missing",
    "missing_fields", "review_action", "review_outcome", "outcome_after_reviews",
};
#define CSV_NFIXED (sizeof csv_fixed / sizeof csv_fixed[0])

static int export_row(void *ud, const store_row *r)
{
    export_ctx *x = ud;
    cJSON *a = export_applicant(x, r);
    /* The first CSV pass needs only the applicant's paths. */
    cJSON *dec = x->pass == 1 ? NULL : cJSON_ParseWithLength(r->json, r->json_len);
    char hid[sizeof AUDIT_HMAC_PREFIX + 64];
    const char *aid = x->pass == 1 ? r->applicant_id : export_applicant_id(x, r, hid);
    cells c = {0};
    int rc = 0;
    if (x->failed)
        goto done;
    if ((!dec && x->pass != 1) || (r->applicant_id && !aid)) {
        rc = err_set(x->e, "internal", "decision %s cannot be exported", r->decision_id);
        goto done;
    }
    const cJSON *crit = cJSON_GetObjectItemCaseSensitive(dec, "criteria");

    if (x->o->format == AUDIT_JSONL) {
        buf b;
        buf_init(&b, AUDIT_BUF_CAP);
        buf_printf(&b, "{\"seq\":%lld,\"decision_id\":", (long long)r->seq);
        json_str(&b, r->decision_id);
        buf_adds(&b, ",\"program\":");
        json_str(&b, r->program);
        buf_adds(&b, ",\"program_version\":");
        json_str(&b, r->program_version);
        buf_adds(&b, ",\"ruleset\":");
        json_str(&b, r->ruleset);
        buf_adds(&b, ",\"as_of\":");
        json_str(&b, r->as_of);
        buf_adds(&b, ",\"decided_at\":");
        json_str(&b, r->decided_at);
        buf_adds(&b, ",\"outcome\":");
        json_str(&b, r->outcome);
        json_review(&b, r);
        buf_adds(&b, ",\"applicant_id\":");
        json_str(&b, aid);
        buf_adds(&b, ",\"applicant\":");
        char *t = a ? cJSON_PrintUnformatted(a) : NULL;
        json_raw(&b, t, t ? strlen(t) : 0);
        free(t);
        buf_adds(&b, ",\"criteria\":[");
        const cJSON *cr;
        int first = 1;
        cJSON_ArrayForEach(cr, crit) {
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(cr, "passed");
            buf_adds(&b, first ? "{\"id\":" : ",{\"id\":");
            json_str(&b, jstr(cr, "id"));
            buf_printf(&b, ",\"passed\":%s}",
                       cJSON_IsTrue(p) ? "true" : cJSON_IsFalse(p) ? "false" : "null");
            first = 0;
        }
        buf_adds(&b, "],\"missing\":");
        t = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(dec, "missing"));
        json_raw(&b, t ? t : "[]", t ? strlen(t) : 2);
        free(t);
        if (buf_adds(&b, "}\n") == 0)
            fwrite(b.data, 1, b.len, x->out);
        else
            rc = err_set(x->e, "internal", "decision %s is too large", r->decision_id);
        buf_free(&b);
        goto done;
    }

    if (a)
        flatten(&c, "applicant", a);
    if (c.oom) {
        rc = err_set(x->e, "internal", "out of memory");
        goto done;
    }
    if (x->pass == 1) {
        /* Two values for one column: the CSV can hold only one of them. */
        for (size_t i = 1; i < c.n && x->o->clash; i++) {
            size_t j = 0;
            while (j < i && strcmp(c.v[j].path, c.v[i].path))
                j++;
            if (j < i) {
                audit_clash *k = x->o->clash;
                if (k->n++ == 0) {
                    snprintf(k->decision_id, sizeof k->decision_id, "%s", r->decision_id);
                    snprintf(k->column, sizeof k->column, "%s", c.v[i].path);
                }
                break;
            }
        }
        /* Collect the columns, in the order they are first seen. */
        for (size_t i = 0; i < c.n; i++) {
            size_t k = 0;
            while (k < x->cols.n && strcmp(x->cols.v[k].path, c.v[i].path))
                k++;
            if (k == x->cols.n)
                cells_add(&x->cols, c.v[i].path, NULL, 1);
        }
        if (x->cols.oom)
            rc = err_set(x->e, "internal", "out of memory");
        goto done;
    }
    char seq[24];
    snprintf(seq, sizeof seq, "%lld", (long long)r->seq);
    buf lists[3];
    for (int k = 0; k < 3; k++)
        buf_init(&lists[k], AUDIT_BUF_CAP);
    const cJSON *cr;
    cJSON_ArrayForEach(cr, crit) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(cr, "passed");
        buf *l = &lists[cJSON_IsTrue(p) ? 0 : cJSON_IsFalse(p) ? 1 : 2];
        if (l->len)
            buf_addc(l, ';');
        buf_adds(l, or_dash(jstr(cr, "id")));
    }
    buf mf;
    buf_init(&mf, AUDIT_BUF_CAP);
    cJSON_ArrayForEach(cr, cJSON_GetObjectItemCaseSensitive(dec, "missing")) {
        if (mf.len)
            buf_addc(&mf, ';');
        buf_adds(&mf, cJSON_IsString(cr) ? cr->valuestring : "?");
    }
    const char *fixed[CSV_NFIXED] = {
        seq, r->decision_id, r->program, r->program_version, r->ruleset, r->as_of,
        r->decided_at, r->outcome, aid, lists[0].data, lists[1].data, lists[2].data, mf.data,
        r->review_action, r->review_outcome, r->review_action ? row_stands(r) : NULL,
    };
    for (size_t i = 0; i < CSV_NFIXED; i++)
        csv_field(x->out, fixed[i], i > 0, x->cols.n == 0 && i == CSV_NFIXED - 1);
    for (size_t k = 0; k < x->cols.n; k++) {
        const cell *v = NULL;
        for (size_t i = 0; i < c.n && !v; i++)
            if (!strcmp(c.v[i].path, x->cols.v[k].path))
                v = &c.v[i];
        csv_field(x->out, v ? v->text : NULL, v && v->string, k == x->cols.n - 1);
    }
    for (int k = 0; k < 3; k++)
        buf_free(&lists[k]);
    buf_free(&mf);
done:
    if (rc == 0 && !x->failed && x->pass != 1)
        x->n++;
    cells_free(&c);
    cJSON_Delete(a);
    cJSON_Delete(dec);
    return rc != 0 || x->failed ? -1 : 0;
}

int audit_export(store *st, const store_filter *f, const audit_export_opts *o, FILE *out,
                 int64_t *n, err *e)
{
    *n = 0;
    if (o->nredact > 0 && (!o->key || o->keylen < AUDIT_KEY_MIN))
        return err_set(e, "invalid_request", "redacting needs a key of at least %d bytes "
                       "(--redact-key FILE or ELIGO_REDACT_KEY)", AUDIT_KEY_MIN);
    export_ctx x = {.o = o, .out = out, .e = e, .pass = 2};
    int rc;
    if (o->format == AUDIT_CSV) {
        /* Both passes in one snapshot: a row committed between them would
         * be written without the columns only it has. */
        if (store_hold(st, e) != 0)
            return -1;
        x.pass = 1;
        rc = store_each(st, f, export_row, &x, e);
        if (rc == 0) {
            for (size_t i = 0; i < CSV_NFIXED; i++)
                csv_field(out, csv_fixed[i], 1, x.cols.n == 0 && i == CSV_NFIXED - 1);
            for (size_t k = 0; k < x.cols.n; k++)
                csv_field(out, x.cols.v[k].path, 1, k == x.cols.n - 1);
            x.pass = 2;
            rc = store_each(st, f, export_row, &x, e);
        }
        store_release(st);
    } else {
        rc = store_each(st, f, export_row, &x, e);
    }
    cells_free(&x.cols);
    *n = x.n;
    if (rc == 0 && (fflush(out) != 0 || ferror(out)))
        rc = err_set(e, "internal", "writing the export: %s", strerror(errno ? errno : EIO));
    return rc ? -1 : 0;
}
