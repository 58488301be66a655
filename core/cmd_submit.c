/*
 * cmd_submit.c -- `eligo submit`: send JSON-lines applications to a running
 * `eligo serve` and print its replies.
 *
 * One connection, pipelined: up to WINDOW requests are on the wire at once
 * and the replies (which the server returns in request order) are printed as
 * they arrive.  A single poll() loop multiplexes the input and the socket, so
 * an interactive user typing lines sees each reply at once, and a file of a
 * million lines never has more than WINDOW requests buffered anywhere.
 *
 * Exit status: 0 when every reply is ok, 1 when any reply is an error, 2 on a
 * usage error, an unreadable input or a connection that fails or closes early.
 */
#define _GNU_SOURCE 1   /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "client.h"
#include "cmd.h"
#include "err.h"
#include "text.h"

#define SUBMIT_WINDOW 64
#define SUBMIT_TIMEOUT 30   /* seconds without a reply while requests wait for one */
#define SUBMIT_LINE_CAP ((size_t)64 << 20)   /* far above the server's own limit */
#define SUBMIT_CHUNK 65536

static void submit_usage(FILE *f)
{
    fprintf(f,
        "usage: eligo submit [--socket PATH] [--program ID | --screen] [--lang L]\n"
        "                    [--table] [--window N] [--timeout S] [FILE|-]\n"
        "\n"
        "Send JSON-lines applications to a running `eligo serve` and print the replies,\n"
        "one JSON line per request, in request order.  Each input line is an object such\n"
        "as {\"id\":\"A1\",\"applicant\":{...},\"as_of\":\"2025-03-01\"}; members it leaves\n"
        "out are added from the options (the rest of the line is sent byte for byte):\n"
        "\n"
        "  --socket PATH   the server's socket (default $ELIGO_SOCKET, else ./eligo.sock)\n"
        "  --program ID    \"op\":\"decide\" for programme ID\n"
        "  --screen        \"op\":\"screen\": every programme in force (a line that\n"
        "                  names its own \"program\" is decided for it)\n"
        "                  (neither: decide when the line names a \"program\", else screen)\n"
        "  --lang L        language of the messages: en, fr or ar\n"
        "  --table         print a table for people instead of JSON lines:\n"
        "                  id, programme, outcome, failed criteria (and missing fields)\n"
        "  --window N      requests in flight at once (default %d)\n"
        "  --timeout S     give up when S seconds pass with requests in flight and no\n"
        "                  reply (default %d; 0: wait for good), saying how many\n"
        "                  went unanswered\n"
        "  FILE            read applications from FILE (default or '-': standard input)\n"
        "\n"
        "A line without \"id\" gets its line number; an error reply is also said on\n"
        "standard error as FILE:LINE: code: message (with --table, in its row\n"
        "only).  Exit status: 0 if every reply is ok, 1 if any reply is an error,\n"
        "2 on usage or connection errors.\n",
        SUBMIT_WINDOW, SUBMIT_TIMEOUT);
}

typedef struct submit {
    int sock;
    int in;                 /* input file descriptor */
    int eof;                /* the input is exhausted */
    int table;
    long window;
    long timeout;           /* seconds, 0: none */
    long in_flight;         /* requests queued or sent, not yet answered */
    const char *path;       /* the input's name, as errors give it: "-" for stdin */
    long lineno;
    long replies, errors;
    long decisions, eligible, ineligible, incomplete;
    long looked_up;         /* stored decisions a history or decision request showed */
    client_defaults defaults;
    client_lines input;     /* application lines */
    client_lines answers;   /* reply lines */
    buf out;                /* request bytes not yet written */
    size_t out_off;         /* how much of out is written */
    int unsent;             /* the server stopped taking requests (EPIPE): read to its end */
    int refused;            /* it sent an error to no request (too many connections) */
    /* The requests in flight, oldest first (a ring of `window`): each one's
     * input line, and what client_prepare added to it. */
    struct submit_sent {
        long lineno;
        client_shift shift;
        int lookup;         /* its op is history or decision: what it shows was decided before */
    } *sent;
    long sent_head;
} submit;

/* Append the criteria that failed and the fields missing in decision D to B,
 * as "age, income; missing: birth_date". */
static void submit_reasons(const cJSON *d, buf *b)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(d, "criteria")) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
        const cJSON *passed = cJSON_GetObjectItemCaseSensitive(c, "passed");
        if (cJSON_IsFalse(passed) && cJSON_IsString(id))
            buf_printf(b, "%s%s", b->len ? ", " : "", id->valuestring);
    }
    const cJSON *missing = cJSON_GetObjectItemCaseSensitive(d, "missing");
    int first = 1;
    cJSON_ArrayForEach(c, missing) {
        if (cJSON_IsString(c))
            buf_printf(b, "%s%s", first ? (b->len ? "; missing: " : "missing: ") : ", ",
                       c->valuestring);
        first = 0;
    }
}

/* A row for decision D.  A decision looked up (STORED) is shown, but the
 * summary counts it apart: it was not made by this run. */
static void submit_row(submit *s, const char *id, const cJSON *d, int stored)
{
    const cJSON *program = cJSON_GetObjectItemCaseSensitive(d, "program");
    const cJSON *outcome = cJSON_GetObjectItemCaseSensitive(d, "outcome");
    const char *o = cJSON_IsString(outcome) ? outcome->valuestring : "?";
    buf reasons;
    buf_init(&reasons, 64 * 1024);
    submit_reasons(d, &reasons);
    const char *p = cJSON_IsString(program) ? program->valuestring : "-";
    if (reasons.len)
        printf("%-12s %-18s %-11s %s\n", id, p, o, reasons.data);
    else
        printf("%-12s %-18s %s\n", id, p, o);
    buf_free(&reasons);
    if (stored) {
        s->looked_up++;
        return;
    }
    s->decisions++;
    if (!strcmp(o, "eligible"))
        s->eligible++;
    else if (!strcmp(o, "ineligible"))
        s->ineligible++;
    else if (!strcmp(o, "incomplete"))
        s->incomplete++;
}

/* Every string of V escaped for a terminal (text.h): a table is for people,
 * and what a reply quotes came from a client. */
static void submit_escape(cJSON *v)
{
    for (; v; v = v->next) {
        if (cJSON_IsString(v) && v->valuestring) {
            char *t = text_escaped(v->valuestring);
            if (t && strcmp(t, v->valuestring) != 0) {
                cJSON_free(v->valuestring);
                v->valuestring = t;
            } else {
                free(t);
            }
        }
        submit_escape(v->child);
    }
}

/* Print one reply as table rows. */
static void submit_table(submit *s, const char *line, size_t len, int ok,
                         const struct submit_sent *to)
{
    cJSON *r = cJSON_ParseWithLength(line, len);
    submit_escape(r);
    const cJSON *idv = cJSON_GetObjectItemCaseSensitive(r, "id");
    char *idtext = NULL, byline[32];
    const char *id = "-";
    if (cJSON_IsString(idv))
        id = idv->valuestring;
    else if (idv && !cJSON_IsNull(idv) && (idtext = cJSON_PrintUnformatted(idv)))
        id = idtext;
    else if (to)   /* a line the server could not read its id from: its place says which */
        id = (snprintf(byline, sizeof byline, "line %ld", to->lineno), byline);

    const cJSON *d;
    if (!r) {
        printf("%-12s %-18s %-11s %.*s\n", "-", "-", "error", (int)(len > 60 ? 60 : len), line);
    } else if (!ok) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "error");
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
        printf("%-12s %-18s error: %s: %s\n", id, "-",
               cJSON_IsString(code) ? code->valuestring : "?",
               cJSON_IsString(msg) ? msg->valuestring : "");
    } else if (cJSON_IsObject(d = cJSON_GetObjectItemCaseSensitive(r, "decision"))) {
        submit_row(s, id, d, to && to->lookup);
    } else if (cJSON_IsArray(d = cJSON_GetObjectItemCaseSensitive(r, "decisions"))) {
        /* (health's "decisions" is a count) */
        const cJSON *one;
        cJSON_ArrayForEach(one, d)
            submit_row(s, id, one, to && to->lookup);
        if (!cJSON_GetArraySize(d))   /* a history of no one, or a screen on a date with none */
            printf("%-12s %-18s %s\n", id, "-",
                   to && to->lookup ? "(no decisions)" : "(none in force)");
    } else {
        printf("%-12s %-18s %s\n", id, "-", "ok");
    }
    cJSON_free(idtext);
    cJSON_Delete(r);
}

/* An error reply to the request TO, on standard error as eval says it,
 * PATH:LINE: code: message: the JSON lines printed are the replies, in
 * order, and one whose id the server could not read names no line.  TO
 * NULL: the server's refusal of the connection (too many), to no request. */
static void submit_tell(const submit *s, const char *line, size_t len,
                        const struct submit_sent *to)
{
    cJSON *r = cJSON_ParseWithLength(line, len);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "error");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
    fflush(stdout);   /* after the reply it follows, when both go to a terminal */
    const char *c = cJSON_IsString(code) ? code->valuestring : "?";
    const char *m = cJSON_IsString(msg) ? msg->valuestring : "";
    if (to)
        fprintf(stderr, "%s:%ld: %s: %s\n", s->path, to->lineno, c, m);
    else
        fprintf(stderr, "eligo submit: the server refused the connection: %s: %s\n", c, m);
    cJSON_Delete(r);
}

static void submit_print(submit *s, const char *line, size_t len, int ok,
                         const struct submit_sent *to)
{
    if (s->table) {
        submit_table(s, line, len, ok, to);
    } else {
        fwrite(line, 1, len, stdout);
        putchar('\n');
        if (!ok)
            submit_tell(s, line, len, to);
    }
}

/* The reply LINE (LEN bytes) to the request TO (NULL: to none), with the
 * byte offset its error message gives counted in the input line, not in
 * the line sent, which has members added (as eval reports it): written into
 * FIXED, returned with its length in *N; else LINE. */
static const char *submit_offset(const char *line, size_t len, const struct submit_sent *to,
                                 buf *fixed, size_t *n)
{
    /* Only the server's own wordings of a place in the line (rules.lua,
     * decode_line): a message that quotes the client's text may hold
     * " at byte " too. */
    static const char *const heads[] = {
        "\"message\":\"invalid JSON at byte ", "\"message\":\"invalid UTF-8 at byte ",
        "\"message\":\"invalid JSON: the text ends at byte ",
        "\"message\":\"a NUL character (\\\\u0000) at byte "};
    *n = len;
    const char *m = NULL, *digits = NULL;
    for (size_t i = 0; to && to->shift.added && !m && i < sizeof heads / sizeof heads[0]; i++)
        if ((m = memmem(line, len, heads[i], strlen(heads[i]))) != NULL)
            digits = m + strlen(heads[i]);
    if (!m)
        return line;
    const char *end = digits;
    unsigned long long off = 0;
    while (end < line + len && *end >= '0' && *end <= '9' && end - digits < 18)
        off = off * 10 + (unsigned long long)(*end++ - '0');
    if (end == digits || off <= to->shift.at + to->shift.added)
        return line;   /* (an offset inside the added members: none of the line's) */
    buf_reset(fixed);
    if (buf_add(fixed, line, (size_t)(digits - line)) != 0 ||
        buf_printf(fixed, "%llu", off - to->shift.added) != 0 ||
        buf_add(fixed, end, len - (size_t)(end - line)) != 0)
        return line;
    *n = fixed->len;
    return fixed->data;
}

static void submit_reply(submit *s, const char *line, size_t len, const struct submit_sent *to)
{
    const char *code;
    size_t clen;
    int ok = client_reply_ok(line, len, &code, &clen);
    s->replies++;
    if (!ok) {
        s->errors++;
        buf fixed;
        buf_init(&fixed, len + 32);
        line = submit_offset(line, len, to, &fixed, &len);
        submit_print(s, line, len, ok, to);
        buf_free(&fixed);
        return;
    }
    submit_print(s, line, len, ok, to);
}

/* Move complete application lines into the output while the window allows. */
static int submit_fill(submit *s, err *e)
{
    const char *line;
    size_t len;
    char id[24];
    while (s->in_flight < s->window) {
        int got = client_lines_next(&s->input, &line, &len);
        if (!got && s->eof)
            got = client_lines_rest(&s->input, &line, &len);
        if (!got)
            return 0;
        s->lineno++;
        if (client_blank(line, len))
            continue;   /* blank lines are not applications */
        snprintf(id, sizeof id, "%ld", s->lineno);
        struct submit_sent *at = &s->sent[(s->sent_head + s->in_flight) % s->window];
        at->lineno = s->lineno;
        size_t mark = s->out.len;
        int rc = client_prepare(line, len, &s->defaults, id, &s->out, &at->shift, e);
        if (rc < 0)
            return -1;
        /* The op the line was sent with, its own or the one added. */
        const char *op;
        size_t oplen;
        at->lookup = rc == 0 &&
                     client_member(s->out.data + mark, s->out.len - mark, "op", &op, &oplen) &&
                     ((oplen == 9 && !memcmp(op, "\"history\"", 9)) ||
                      (oplen == 10 && !memcmp(op, "\"decision\"", 10)));
        s->in_flight++;
    }
    return 0;
}

/* Append to E's message which input lines the run leaves without a reply:
 * those in flight, by their line numbers, and the input not yet sent.  A
 * user resuming the run starts from the first of them. */
static void submit_unanswered(const submit *s, err *e)
{
    size_t used = strlen(e->msg);
    char *at = e->msg + used;
    size_t room = sizeof e->msg - used;
    int n = 0;
    if (s->in_flight > 0) {
        long first = s->sent[s->sent_head].lineno;
        long last = s->sent[(s->sent_head + s->in_flight - 1) % s->window].lineno;
        n = first == last ? snprintf(at, room, " (%s line %ld)", s->path, first)
                          : snprintf(at, room, " (%s lines %ld to %ld)", s->path, first, last);
        if (n < 0 || (size_t)n >= room)
            return;
        at += n;
        room -= (size_t)n;
    }
    /* Input read but not taken into the window, or not read at all. */
    if (!s->eof || s->input.start < s->input.data.len)
        snprintf(at, room, "; the input from line %ld on was not sent", s->lineno + 1);
}

static int submit_loop(submit *s, err *e)
{
    char chunk[SUBMIT_CHUNK];
    for (;;) {
        if (submit_fill(s, e) != 0)
            return -1;
        int pending_out = s->out_off < s->out.len && !s->unsent;
        if (s->eof && !pending_out && s->in_flight == 0 && s->input.start >= s->input.data.len)
            return 0;

        /* The input is polled only while the window has room: a negative fd
         * is ignored, where events = 0 would still report POLLHUP and have
         * us read a closed pipe's remaining data past the window. */
        int want_input = !s->eof && s->in_flight < s->window;
        struct pollfd p[2] = {
            {.fd = s->sock, .events = POLLIN | (pending_out ? POLLOUT : 0)},
            {.fd = want_input ? s->in : -1, .events = POLLIN},
        };
        /* A server stopped, or stuck, would have us wait for good: with
         * requests in flight, nothing for that long ends the run. */
        int wait = s->in_flight > 0 && s->timeout > 0 ? (int)(s->timeout * 1000) : -1;
        int ready = poll(p, 2, wait);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            return err_set(e, "internal", "poll: %s", strerror(errno));
        }
        if (ready == 0) {
            err_set(e, "internal", "no reply for %ld s with %ld request%s in flight (the "
                    "server stopped or stuck?): each may or may not be stored; send them "
                    "again with their request_key", s->timeout, s->in_flight,
                    text_s(s->in_flight));
            submit_unanswered(s, e);
            return -1;
        }

        if (p[1].revents) {
            ssize_t n = read(s->in, chunk, sizeof chunk);
            if (n < 0 && errno != EINTR && errno != EAGAIN)
                return err_set(e, "internal", "reading the input: %s", strerror(errno));
            if (n == 0)
                s->eof = 1;
            if (n > 0 && client_lines_feed(&s->input, chunk, (size_t)n) != 0)
                return err_set(e, "line_too_long", "input line %ld is longer than %zu bytes",
                               s->lineno + 1, SUBMIT_LINE_CAP);
        }
        /* Replies first: a server that closes the connection (a line too
         * long, too many connections) said why in its last reply. */
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = recv(s->sock, chunk, sizeof chunk, MSG_DONTWAIT);
            if (n < 0 && errno != EINTR && errno != EAGAIN && errno != ECONNRESET)
                return err_set(e, "internal", "receiving: %s", strerror(errno));
            if (n == 0 || (n < 0 && errno == ECONNRESET)) {
                err_set(e, "internal", "the server closed the connection with %ld request%s "
                        "unanswered%s", s->in_flight, text_s(s->in_flight),
                        s->refused ? " (its reply above says why)" : "");
                submit_unanswered(s, e);
                return -1;
            }
            if (n > 0 && client_lines_feed(&s->answers, chunk, (size_t)n) != 0)
                return err_set(e, "line_too_long", "a reply is longer than %zu bytes",
                               SUBMIT_LINE_CAP);
            const char *line;
            size_t len;
            while (client_lines_next(&s->answers, &line, &len)) {
                const char *code;
                size_t clen;
                int ok = client_reply_ok(line, len, &code, &clen);
                if (s->in_flight == 0 && ok)
                    return err_set(e, "internal", "the server sent a reply to no request");
                const struct submit_sent *to = NULL;
                if (s->in_flight == 0 || (!ok && client_reply_refusal(line, len, code, clen))) {
                    s->refused = 1;   /* printed; the close follows */
                } else {
                    to = &s->sent[s->sent_head];
                    s->sent_head = (s->sent_head + 1) % s->window;
                    s->in_flight--;
                }
                submit_reply(s, line, len, to);
            }
            /* Output that cannot be written (a full disk, a reader gone with
             * SIGPIPE ignored) loses every reply from here on: sending more
             * would have the server decide and store them unseen. */
            errno = 0;
            int flushed = fflush(stdout) == 0, why = errno;
            if (!flushed || ferror(stdout)) {
                err_set(e, "internal", "writing standard output failed: %s: stopped, the "
                        "replies before perhaps lost, with %ld request%s unanswered",
                        !flushed && why ? strerror(why) : "an earlier write failed",
                        s->in_flight, text_s(s->in_flight));
                submit_unanswered(s, e);
                return -1;
            }
        }
        if ((p[0].revents & POLLOUT) && !s->unsent) {
            ssize_t n = send(s->sock, s->out.data + s->out_off, s->out.len - s->out_off,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
                s->unsent = 1;   /* what it sent before closing is still to be read */
                n = 0;
            } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
                return err_set(e, "internal", "sending: %s", strerror(errno));
            }
            if (n > 0)
                s->out_off += (size_t)n;
            if (s->out_off == s->out.len) {
                buf_reset(&s->out);
                s->out_off = 0;
            }
        }
    }
}

int cmd_submit(int argc, char **argv)
{
    const char *socket_path = client_socket_default();
    const char *file = NULL;
    submit s;
    memset(&s, 0, sizeof s);
    s.sock = s.in = -1;
    s.window = SUBMIT_WINDOW;
    s.timeout = SUBMIT_TIMEOUT;
    int screen = 0, rc = 2;
    err e;
    err_clear(&e);

    int options = 1;   /* until "--" */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int missing = 0;
        char *end;
        if (!options || a[0] != '-' || !strcmp(a, "-")) {
            if (file) {
                fprintf(stderr, "eligo submit: one file of applications, not '%s' too\n", a);
                return 2;
            }
            file = a;
        } else if (!strcmp(a, "--")) {
            options = 0;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            submit_usage(stdout);
            return 0;
        } else if ((v = cmd_opt(argc, argv, &i, "--socket", &missing))) {
            socket_path = v;
        } else if ((v = cmd_opt(argc, argv, &i, "--program", &missing))) {
            s.defaults.program = v;
        } else if ((v = cmd_opt(argc, argv, &i, "--lang", &missing))) {
            s.defaults.lang = v;
            if (cmd_lang("submit", v) != 0)
                return 2;
        } else if ((v = cmd_opt(argc, argv, &i, "--window", &missing))) {
            s.window = strtol(v, &end, 10);
            if (*end || end == v || s.window < 1 || s.window > 100000) {
                fprintf(stderr, "eligo submit: --window takes a number from 1 to 100000, not "
                        "'%s'\n", v);
                return 2;
            }
        } else if ((v = cmd_opt(argc, argv, &i, "--timeout", &missing))) {
            s.timeout = strtol(v, &end, 10);
            if (*end || end == v || s.timeout < 0 || s.timeout > 86400) {
                fprintf(stderr, "eligo submit: --timeout takes seconds from 0 to 86400, not '%s'\n",
                        v);
                return 2;
            }
        } else if (!strcmp(a, "--screen")) {
            screen = 1;
        } else if (!strcmp(a, "--table")) {
            s.table = 1;
        } else {
            size_t n = strcspn(a, "=");   /* "--screen=yes": a switch given a value */
            int flag = a[n] && ((n == strlen("--screen") && !strncmp(a, "--screen", n)) ||
                                (n == strlen("--table") && !strncmp(a, "--table", n)));
            if (flag)
                fprintf(stderr, "eligo submit: %.*s takes no value, not '%s'\n", (int)n, a, a);
            else
                fprintf(stderr, "eligo submit: %s '%s'\n", cmd_opt_why(missing), a);
            submit_usage(stderr);
            return 2;
        }
    }
    if (screen && s.defaults.program) {
        fprintf(stderr, "eligo submit: --program and --screen exclude each other\n");
        return 2;
    }
    if (screen)
        s.defaults.op = "screen";
    else if (s.defaults.program)
        s.defaults.op = "decide";

    client_lines_init(&s.input, SUBMIT_LINE_CAP);
    client_lines_init(&s.answers, SUBMIT_LINE_CAP);
    buf_init(&s.out, (size_t)s.window * SUBMIT_LINE_CAP);

    s.path = file ? file : "-";
    if (!file || !strcmp(file, "-")) {
        if (fcntl(STDIN_FILENO, F_GETFD) < 0) {   /* the socket would take its number */
            fprintf(stderr, "eligo submit: the standard input is closed: give a FILE\n");
            goto out;
        }
        s.in = STDIN_FILENO;
    } else if ((s.in = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "eligo submit: %s: %s\n", file, strerror(errno));
        goto out;
    }
    if (!(s.sent = calloc((size_t)s.window, sizeof *s.sent))) {
        fprintf(stderr, "eligo submit: out of memory\n");
        goto out_input;
    }
    if ((s.sock = client_connect(socket_path, &e)) < 0) {
        fprintf(stderr, "eligo submit: %s\n", e.msg);
        goto out_input;
    }
    if (s.table)
        printf("%-12s %-18s %-11s %s\n", "ID", "PROGRAM", "OUTCOME", "FAILED CRITERIA");

    if (submit_loop(&s, &e) != 0) {
        fflush(stdout);
        fprintf(stderr, "eligo submit: %s\n", e.msg);
        rc = 2;
    } else {
        rc = s.errors ? 1 : 0;
    }
    if (s.table) {
        printf("\n%ld request%s, %ld decision%s: %ld eligible, %ld ineligible, "
               "%ld incomplete; ", s.replies, text_s(s.replies), s.decisions,
               text_s(s.decisions), s.eligible, s.ineligible, s.incomplete);
        if (s.looked_up)
            printf("%ld stored decision%s looked up; ", s.looked_up, text_s(s.looked_up));
        printf("%ld error%s\n", s.errors, text_s(s.errors));
    }
    fflush(stdout);

    close(s.sock);
out_input:
    if (s.in != STDIN_FILENO)
        close(s.in);
out:
    free(s.sent);
    buf_free(&s.out);
    client_lines_free(&s.answers);
    client_lines_free(&s.input);
    return rc;
}
