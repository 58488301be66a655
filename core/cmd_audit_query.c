/*
 * cmd_audit_query.c -- `eligo audit show|list|stats|export|rules`: the
 * read-only audit commands.  They parse options and call the audit module; the
 * database is always opened read-only, so they can run beside a live server
 * and never change the file.
 *
 * Exit status: 0 done (a list or export with no rows included); 1 the
 * decision asked about does not exist, or (show) the chain does not verify
 * up to it; 2 a usage error or a database that cannot be read.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "ids.h"
#include "cmd.h"
#include "file.h"
#include "text.h"
#include "store.h"

#define AQ_KEY_MAX 4096

enum {
    O_DB = 256, O_APPLICANT, O_PROGRAM, O_OUTCOME, O_SINCE, O_UNTIL, O_RULESET, O_BY_AS_OF,
    O_LIMIT, O_PAGE, O_AFTER, O_JSON, O_LANG, O_NO_VERIFY, O_TOP, O_CHART, O_FORMAT,
    O_REDACT, O_REDACT_KEY, O_OUT, O_DECISION, O_HELP,
};

#define AQ_FILTER_OPTS                                                                       \
    {"applicant", required_argument, NULL, O_APPLICANT},                                   \
        {"program", required_argument, NULL, O_PROGRAM},                                   \
        {"outcome", required_argument, NULL, O_OUTCOME},                                   \
        {"since", required_argument, NULL, O_SINCE},                                       \
        {"until", required_argument, NULL, O_UNTIL},                                       \
        {"ruleset", required_argument, NULL, O_RULESET},                                   \
        {"by-as-of", no_argument, NULL, O_BY_AS_OF}

#define AQ_FILTER_USAGE                                                                      \
    "  --applicant ID     decisions about this applicant (applicant_id)\n"                     \
    "  --program ID       of this programme\n"                                                 \
    "  --outcome O        with this outcome (eligible, ineligible, incomplete)\n"              \
    "  --since DATE       decided on or after DATE (YYYY, YYYY-MM, YYYY-MM-DD, or a time\n"    \
    "                     YYYY-MM-DDTHH[:MM[:SS[.fff]]][Z])\n"                                  \
    "  --until DATE       decided on or before DATE (inclusive: the whole day, month...)\n"    \
    "  --by-as-of         --since/--until (and stats' months) apply to as_of, the date a\n"    \
    "                     decision was made for, instead of decided_at, when it was made\n"   \
    "  --ruleset HASH     decided by this rule set (its hash, or a prefix of it)\n"

#define AQ_DB_USAGE "  --db FILE          the database (default $ELIGO_DB, else ./eligo.db)\n"

/* The filters' values once checked: the times as prefixes of a stored time
 * (cmd_time_filter), the hash prefix lowered. */
typedef struct aq_values {
    char since[CMD_TIME_MAX], until[CMD_TIME_MAX];
    char ruleset[65];
    char applicant[AQ_KEY_MAX];   /* --applicant in NFC */
} aq_values;

/* A positive integer option; -1 when not one. */
static int64_t aq_count(const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return *s >= '0' && *s <= '9' && !*end && !errno && v > 0 ? (int64_t)v : -1;
}

/* Options shared by the filtering commands, into F (whose strings may point
 * into V); 1 when OPT was one, 0 when not, -1 (message printed) when its
 * value is wrong. */
static int aq_filter_opt(const char *cmd, store_filter *f, aq_values *v, int opt,
                         const char *arg)
{
    char name[32];
    snprintf(name, sizeof name, "audit %s", cmd);
    switch (opt) {
    case O_APPLICANT:   /* as the server stored it (text_nfc) */
        f->applicant = text_nfc(arg, v->applicant, sizeof v->applicant) == 0 ? v->applicant : arg;
        return 1;
    case O_PROGRAM: f->program = arg; return 1;
    case O_OUTCOME:
        /* Anything else would silently match nothing. */
        if (strcmp(arg, "eligible") && strcmp(arg, "ineligible") && strcmp(arg, "incomplete")) {
            fprintf(stderr, "eligo %s: --outcome is eligible, ineligible or incomplete, not "
                    "'%s'\n", name, arg);
            return -1;
        }
        f->outcome = arg;
        return 1;
    case O_BY_AS_OF: f->by_as_of = 1; return 1;
    case O_SINCE:
        if (cmd_time_filter(name, "--since", arg, v->since) != 0)
            return -1;
        f->since = v->since;
        return 1;
    case O_UNTIL:
        if (cmd_time_filter(name, "--until", arg, v->until) != 0)
            return -1;
        f->until = v->until;
        return 1;
    case O_RULESET:
        if (cmd_hash_prefix(name, "--ruleset", arg, v->ruleset) != 0)
            return -1;
        f->ruleset = v->ruleset;
        return 1;
    }
    return 0;
}

/* After the options: 0, or -1 with a message (cmd_since_until). */
static int aq_filter_check(const char *cmd, const store_filter *f)
{
    char name[32];
    snprintf(name, sizeof name, "audit %s", cmd);
    return cmd_since_until(name, f->since, f->until, f->by_as_of);
}

static store *aq_open(const char *cmd, const char *db)
{
    err e = {0};
    store *st = NULL;
    char name[64];
    snprintf(name, sizeof name, "audit %s", cmd);
    if (cmd_db_exists(name, db) != 0)
        return NULL;
    if (store_open(&st, db, STORE_READONLY, &e) != 0) {
        fprintf(stderr, "eligo audit %s: %s\n", cmd, e.msg);
        return NULL;
    }
    return st;
}

/* A --program no decision was made for matches nothing, as a misspelt one
 * does: say so on stderr, and which programmes have decisions.  The report
 * still runs (an empty one is an answer). */
static void aq_program_known(const char *cmd, store *st, const store_filter *f)
{
    if (!f->program)
        return;
    err e = {0};
    if (store_program_decided(st, f->program, &e) != 0)
        return;   /* (or it could not be read: the report says so) */
    buf b;
    buf_init(&b, (size_t)1 << 20);
    int n = store_programs(st, &b, &e);
    if (n == 0)
        fprintf(stderr, "eligo audit %s: warning: the database holds no decision\n", cmd);
    else if (n > 0)
        fprintf(stderr, "eligo audit %s: warning: no decision of programme '%s' is stored "
                "(programmes with decisions: %s)\n", cmd, f->program, b.data);
    buf_free(&b);
}

/* The exit status for a failed report: 1 for something not found, or a
 * record the chain shows changed; else 2. */
static int aq_fail(const char *cmd, const err *e)
{
    fprintf(stderr, "eligo audit %s: %s\n", cmd, e->msg);
    return e->code && (!strcmp(e->code, "not_found") || !strcmp(e->code, "mismatch")) ? 1 : 2;
}

/* ---- show ----------------------------------------------------------------- */

static void show_usage(FILE *f)
{
    fprintf(f,
            "usage: eligo audit show DECISION_ID [--lang en|fr|ar] [--json] [--no-verify]\n"
            "                        [--db FILE]\n"
            "\n"
            "Explain one stored decision in full: the application as received, the date it\n"
            "was decided for and when, the outcome, every criterion with its result, message,\n"
            "compared values and the source of its check (file and lines, from the rule set\n"
            "stored in the database, whatever the files on disk say now), every parameter\n"
            "applied with its reference, the rule set, its position in the hash chain and\n"
            "whether the chain verifies up to it, and its reviews.\n"
            "\n"
            "  --lang L           language of criterion texts and titles (default: the\n"
            "                     decision's own; messages are shown as they were decided)\n"
            "  --json             one JSON object, for programs\n"
            "  --no-verify        do not recompute the chain (it reads every record)\n"
            AQ_DB_USAGE
            "  --help             print this help\n"
            "\n"
            "Exit status 0 when shown and the chain verifies up to the decision, 1 when\n"
            "there is no such decision or the chain does not verify up to it, 2 on a\n"
            "usage or database error.\n");
}

int cmd_audit_show(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, O_DB}, {"lang", required_argument, NULL, O_LANG},
        {"json", no_argument, NULL, O_JSON}, {"no-verify", no_argument, NULL, O_NO_VERIFY},
        {"help", no_argument, NULL, O_HELP}, {0, 0, 0, 0},
    };
    const char *db = cmd_env("ELIGO_DB", "./eligo.db");
    audit_show_opts o = {0};
    int opt;
    optind = 1;
    while ((opt = cmd_getopt("audit show", argc, argv, "h", longopts)) != -1) {
        switch (opt) {
        case O_DB: db = optarg; break;
        case O_LANG:
            if (cmd_lang("audit show", optarg) != 0)
                return 2;
            o.lang = optarg;
            break;
        case O_JSON: o.json = 1; break;
        case O_NO_VERIFY: o.no_verify = 1; break;
        case 'h':
        case O_HELP: show_usage(stdout); return 0;
        default: show_usage(stderr); return 2;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "eligo audit show: give one DECISION_ID\n");
        show_usage(stderr);
        return 2;
    }
    store *st = aq_open("show", db);
    if (!st)
        return 2;
    err e = {0};
    int rc = audit_show(st, ids_upper(argv[optind]), &o, stdout, &e);
    store_close(st);
    if (rc < 0)
        return aq_fail("show", &e);
    return rc;
}

/* ---- list ----------------------------------------------------------------- */

static void list_usage(FILE *f)
{
    fprintf(f,
            "usage: eligo audit list [FILTERS] [--limit N] [--page N | --after ID] [--json]\n"
            "                        [--db FILE]\n"
            "\n"
            "List stored decisions, newest first, as an aligned table (or JSON lines).\n"
            "\n" AQ_FILTER_USAGE
            "  --limit N          rows per page (default 50)\n"
            "  --page N           the Nth page of N rows (default 1)\n"
            "  --after ID         the page after decision ID (a cursor that stays put while\n"
            "                     new decisions arrive; the table's last line gives it)\n"
            "  --json             one JSON object per line: seq, decision_id, program,\n"
            "                     program_version, outcome, applicant_id, as_of, decided_at,\n"
            "                     ruleset, and review: the last review's action, outcome and\n"
            "                     the outcome after reviews, or null\n"
            AQ_DB_USAGE
            "  --help             print this help\n"
            "\n"
            "Exit status 0 (also when nothing matches), 1 when --after names no decision, 2\n"
            "on a usage or database error.\n");
}

int cmd_audit_list(int argc, char **argv)
{
    static const struct option longopts[] = {
        AQ_FILTER_OPTS,
        {"db", required_argument, NULL, O_DB}, {"limit", required_argument, NULL, O_LIMIT},
        {"page", required_argument, NULL, O_PAGE}, {"after", required_argument, NULL, O_AFTER},
        {"json", no_argument, NULL, O_JSON}, {"help", no_argument, NULL, O_HELP}, {0, 0, 0, 0},
    };
    const char *db = cmd_env("ELIGO_DB", "./eligo.db");
    store_filter f = {.limit = 50};
    aq_values vals;
    int64_t page = 1;
    int json = 0, opt, r;
    optind = 1;
    while ((opt = cmd_getopt("audit list", argc, argv, "h", longopts)) != -1) {
        if ((r = aq_filter_opt("list", &f, &vals, opt, optarg)) != 0) {
            if (r < 0)
                return 2;
            continue;
        }
        switch (opt) {
        case O_DB: db = optarg; break;
        case O_LIMIT:
        case O_PAGE: {
            /* Both capped, so that (page - 1) * limit cannot overflow. */
            int64_t v = aq_count(optarg);
            if (v < 0 || v > (opt == O_LIMIT ? 1000000 : 1000000000000)) {
                fprintf(stderr, "eligo audit list: %s wants a number from 1 to %s, not '%s'\n",
                        opt == O_LIMIT ? "--limit" : "--page",
                        opt == O_LIMIT ? "1000000" : "10^12", optarg);
                return 2;
            }
            *(opt == O_LIMIT ? &f.limit : &page) = v;
            break;
        }
        case O_AFTER: f.after = ids_upper(optarg); break;
        case O_JSON: json = 1; break;
        case 'h':
        case O_HELP: list_usage(stdout); return 0;
        default: list_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "eligo audit list: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (aq_filter_check("list", &f) != 0)
        return 2;
    if (f.after && page > 1) {
        fprintf(stderr, "eligo audit list: give --page or --after, not both\n");
        return 2;
    }
    f.offset = (page - 1) * f.limit;
    store *st = aq_open("list", db);
    if (!st)
        return 2;
    aq_program_known("list", st, &f);
    err e = {0};
    int64_t shown = 0;
    int rc = audit_list(st, &f, json, stdout, &shown, &e);
    store_close(st);
    return rc ? aq_fail("list", &e) : 0;
}

/* ---- stats ---------------------------------------------------------------- */

static void stats_usage(FILE *f)
{
    fprintf(f,
            "usage: eligo audit stats [FILTERS] [--top N] [--chart FILE.svg] [--json]\n"
            "                         [--db FILE]\n"
            "\n"
            "Count the decisions per programme, month and outcome, and for each programme\n"
            "the criteria that fail most often (with how many lacked data), as tables.\n"
            "\n" AQ_FILTER_USAGE
            "  --top N            criteria per programme in the second table (default 5;\n"
            "                     0 for all)\n"
            "  --chart FILE.svg   also draw the monthly counts as an SVG: one panel per\n"
            "                     programme, a bar per month stacked by outcome (a new\n"
            "                     file, never one that exists)\n"
            "  --json             one JSON object {month_of, by_month, failing}\n"
            AQ_DB_USAGE
            "  --help             print this help\n");
}

int cmd_audit_stats(int argc, char **argv)
{
    static const struct option longopts[] = {
        AQ_FILTER_OPTS,
        {"db", required_argument, NULL, O_DB}, {"top", required_argument, NULL, O_TOP},
        {"chart", required_argument, NULL, O_CHART}, {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, O_HELP}, {0, 0, 0, 0},
    };
    const char *db = cmd_env("ELIGO_DB", "./eligo.db");
    const char *chart = NULL;
    store_filter f = {0};
    aq_values vals;
    int json = 0, top = 5, opt, r;
    optind = 1;
    while ((opt = cmd_getopt("audit stats", argc, argv, "h", longopts)) != -1) {
        if ((r = aq_filter_opt("stats", &f, &vals, opt, optarg)) != 0) {
            if (r < 0)
                return 2;
            continue;
        }
        switch (opt) {
        case O_DB: db = optarg; break;
        case O_TOP: {
            int64_t v = strcmp(optarg, "0") ? aq_count(optarg) : 0;
            if (v < 0 || v > 1000) {
                fprintf(stderr, "eligo audit stats: --top wants a number from 0 to 1000, not "
                        "'%s'\n", optarg);
                return 2;
            }
            top = (int)v;
            break;
        }
        case O_CHART: chart = optarg; break;
        case O_JSON: json = 1; break;
        case 'h':
        case O_HELP: stats_usage(stdout); return 0;
        default: stats_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "eligo audit stats: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (aq_filter_check("stats", &f) != 0)
        return 2;
    /* The chart's file is made first, so that an existing one is refused
     * before any work, and removed again if the statistics fail. */
    /* 0600: with --applicant it is one person's decisions, month by month. */
    FILE *cf = chart ? cmd_output_create("audit stats", "a chart", chart, 0600) : NULL;
    if (chart && !cf)
        return 2;
    store *st = aq_open("stats", db);
    if (!st) {
        cmd_output_close("audit stats", cf, chart, 1);
        return 2;
    }
    aq_program_known("stats", st, &f);
    err e = {0};
    int rc = audit_stats(st, &f, top, json, cf, stdout, &e);
    store_close(st);
    int ret = rc ? aq_fail("stats", &e) : 0;
    if (cmd_output_close("audit stats", cf, chart, rc != 0) < 0)
        ret = 2;
    return ret;
}

/* ---- export --------------------------------------------------------------- */

static void export_usage(FILE *f)
{
    fprintf(f,
            "usage: eligo audit export [FILTERS] [--format jsonl|csv] [--redact FIELD,...]\n"
            "                          [--redact-key FILE] [--out FILE] [--db FILE]\n"
            "\n"
            "Export one record per decision, oldest first, for analysis elsewhere: the\n"
            "decision's fields, its applicant as received, and each criterion's result.\n"
            "\n" AQ_FILTER_USAGE
            "  --format F         jsonl (default; one JSON object per line) or csv (RFC 4180,\n"
            "                     a header row, the applicant flattened to applicant.PATH\n"
            "                     columns, criteria as ';'-separated ids)\n"
            "  --redact F,...     applicant fields to hide (paths: applicant_id, birth_date,\n"
            "                     business.sector; through a list, each element's:\n"
            "                     previous_benefits.date): each value becomes\n"
            "                     hmac-sha256:HEX, a keyed hash, so equal values stay\n"
            "                     linkable but unreadable; a path that matches nothing is\n"
            "                     warned about\n"
            "  --redact-key FILE  the HMAC key (at least 16 bytes; one trailing newline is\n"
            "                     ignored; a file of yours others cannot read: chmod 600),\n"
            "                     else $ELIGO_REDACT_KEY; --redact refuses to run without one\n"
            "  --limit N          at most N records\n"
            "  --out FILE         write there instead of standard output: a new file (mode\n"
            "                     0600), never one that exists\n"
            AQ_DB_USAGE
            "  --help             print this help\n");
}

/* Read the key file PATH into KEY, refusing one that other users can read
 * (file_read_secret); returns the key's length, -1 (message printed) on
 * failure.  KEY holds a key, its line end and a byte more: a
 * longer key is refused, not cut short, as ELIGO_REDACT_KEY is. */
static long export_read_key(const char *path, unsigned char key[AQ_KEY_MAX + 3])
{
    err e = {0};
    /* A secret: anyone who can read it can make the hashes of any value
     * they guess, and undo the redaction. */
    long n = file_read_secret(path, "a redaction key", (char *)key, AQ_KEY_MAX + 3, &e);
    if (n == -1) {
        fprintf(stderr, "eligo audit export: --redact-key: %s\n", e.msg);
        return -1;
    }
    if (n > 0 && key[n - 1] == '\n')
        n--;
    if (n > 0 && key[n - 1] == '\r')
        n--;
    if (n == 0) {
        fprintf(stderr, "eligo audit export: the key file %s is empty\n", path);
        return -1;
    }
    if (n == -2 || n > AQ_KEY_MAX) {
        fprintf(stderr, "eligo audit export: the key in %s is over %d bytes; it must be at "
                "most %d\n", path, AQ_KEY_MAX, AQ_KEY_MAX);
        return -1;
    }
    return n;
}

int cmd_audit_export(int argc, char **argv)
{
    static const struct option longopts[] = {
        AQ_FILTER_OPTS,
        {"db", required_argument, NULL, O_DB}, {"format", required_argument, NULL, O_FORMAT},
        {"redact", required_argument, NULL, O_REDACT},
        {"redact-key", required_argument, NULL, O_REDACT_KEY},
        {"limit", required_argument, NULL, O_LIMIT}, {"out", required_argument, NULL, O_OUT},
        {"help", no_argument, NULL, O_HELP}, {0, 0, 0, 0},
    };
    const char *db = cmd_env("ELIGO_DB", "./eligo.db");
    const char *keyfile = NULL, *outpath = NULL;
    char *redact = NULL;
    const char *fields[64];
    unsigned char key[AQ_KEY_MAX + 3];
    store_filter f = {.oldest_first = 1};
    aq_values vals;
    audit_export_opts o = {.format = AUDIT_JSONL, .redact = fields};
    int opt, r, ret = 2;
    optind = 1;
    while ((opt = cmd_getopt("audit export", argc, argv, "h", longopts)) != -1) {
        if ((r = aq_filter_opt("export", &f, &vals, opt, optarg)) != 0) {
            if (r < 0)
                goto done;
            continue;
        }
        switch (opt) {
        case O_DB: db = optarg; break;
        case O_FORMAT:
            if (!strcmp(optarg, "jsonl")) {
                o.format = AUDIT_JSONL;
            } else if (!strcmp(optarg, "csv")) {
                o.format = AUDIT_CSV;
            } else {
                fprintf(stderr, "eligo audit export: --format is jsonl or csv, not '%s'\n",
                        optarg);
                goto done;
            }
            break;
        case O_REDACT: {
            /* Each --redact adds to the fields hidden: a second one that
             * replaced the first would put the first's in clear. */
            if (strspn(optarg, ",") == strlen(optarg)) {   /* "" from an unset variable */
                fprintf(stderr, "eligo audit export: --redact names no field ('%s')\n", optarg);
                goto done;
            }
            size_t had = redact ? strlen(redact) : 0;
            char *more = realloc(redact, had + strlen(optarg) + 2);
            if (!more) {
                fprintf(stderr, "eligo audit export: out of memory\n");
                goto done;
            }
            redact = more;
            snprintf(redact + had, strlen(optarg) + 2, "%s%s", had ? "," : "", optarg);
            break;
        }
        case O_REDACT_KEY: keyfile = optarg; break;
        case O_LIMIT:
            if ((f.limit = aq_count(optarg)) < 0) {
                fprintf(stderr, "eligo audit export: --limit wants a positive number, not "
                        "'%s'\n", optarg);
                goto done;
            }
            break;
        case O_OUT: outpath = optarg; break;
        case 'h':
        case O_HELP: export_usage(stdout); ret = 0; goto done;
        default: export_usage(stderr); goto done;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "eligo audit export: unexpected argument '%s'\n", argv[optind]);
        goto done;
    }
    if (aq_filter_check("export", &f) != 0)
        goto done;
    for (char *save = NULL, *t = redact ? strtok_r(redact, ",", &save) : NULL; t;
         t = strtok_r(NULL, ",", &save)) {
        if (o.nredact == sizeof fields / sizeof fields[0]) {
            fprintf(stderr, "eligo audit export: at most %zu fields to --redact\n",
                    sizeof fields / sizeof fields[0]);
            goto done;
        }
        fields[o.nredact++] = t;
    }
    if (keyfile && o.nredact == 0) {
        fprintf(stderr, "eligo audit export: --redact-key without --redact: nothing would be "
                "redacted; name the fields with --redact\n");
        goto done;
    }
    if (o.nredact > 0) {
        long n;
        if (keyfile) {
            if ((n = export_read_key(keyfile, key)) < 0)
                goto done;
        } else {
            const char *k = getenv("ELIGO_REDACT_KEY");
            n = k ? (long)strlen(k) : 0;
            /* Refused, as a key file over the cap is: cutting it short would
             * give two keys that differ past the cap the same hashes. */
            if (n > AQ_KEY_MAX) {
                fprintf(stderr, "eligo audit export: ELIGO_REDACT_KEY is %ld bytes; it must be "
                        "at most %d\n", n, AQ_KEY_MAX);
                goto done;
            }
            if (k)
                memcpy(key, k, (size_t)n);
        }
        if (n == 0) {
            fprintf(stderr, "eligo audit export: --redact needs a key: --redact-key FILE or "
                    "ELIGO_REDACT_KEY (refusing to export without one)\n");
            goto done;
        }
        if (n < AUDIT_KEY_MIN) {
            fprintf(stderr, "eligo audit export: the redaction key is %ld bytes; it must be at "
                    "least %d\n", n, AUDIT_KEY_MIN);
            goto done;
        }
        o.key = key;
        o.keylen = (size_t)n;
    }
    /* The file is made first, so that an existing one is refused before any
     * work; it holds applicants' data, hence 0600.  It is removed again if
     * the export fails. */
    FILE *out = outpath ? cmd_output_create("audit export", "an export", outpath, 0600) : stdout;
    if (!out)
        goto done;
    store *st = aq_open("export", db);
    if (!st) {
        cmd_output_close("audit export", outpath ? out : NULL, outpath, 1);
        goto done;
    }
    aq_program_known("export", st, &f);
    err e = {0};
    int64_t n = 0, matched[sizeof fields / sizeof fields[0]] = {0};
    audit_clash clash = {0};
    o.matched = matched;
    o.clash = &clash;
    int rc = audit_export(st, &f, &o, out, &n, &e);
    store_close(st);
    ret = rc ? aq_fail("export", &e) : 0;
    if (outpath && cmd_output_close("audit export", out, outpath, rc != 0) < 0) {
        rc = -1;
        ret = 2;
    }
    if (rc == 0 && outpath)
        fprintf(stderr, "%lld records written to %s\n", (long long)n, outpath);
    /* A misspelt path would leave the field in clear: say so. */
    for (size_t i = 0; rc == 0 && n > 0 && i < o.nredact; i++)
        if (matched[i] == 0 && strcmp(fields[i], "applicant_id") != 0)
            fprintf(stderr, "eligo audit export: warning: --redact %s matched no field of "
                    "any applicant exported\n", fields[i]);
    /* Nor may a value be left out of the CSV without a word. */
    if (rc == 0 && clash.n)
        fprintf(stderr, "eligo audit export: warning: %lld applicant%s two fields that make one "
                "CSV column (the first: decision %s, column %s, a key with a dot beside the "
                "nested one): the CSV holds the first of the two values; --format jsonl keeps "
                "both\n", (long long)clash.n, clash.n == 1 ? " has" : "s have",
                clash.decision_id, clash.column);
done:
    free(redact);
    memset(key, 0, sizeof key);
    return ret;
}

/* ---- rules ---------------------------------------------------------------- */

static void rules_usage(FILE *f)
{
    fprintf(f,
            "usage: eligo audit rules (RULESET_HASH | --decision ID) --out DIR [--db FILE]\n"
            "\n"
            "Write every file of a rule set stored in the database into DIR: the exact\n"
            "rules a decision was made under, for eligo check, test, eval or replay\n"
            "--rules DIR.  Each file's stored SHA-256 is checked against its text, and the\n"
            "set's hash against its files (as eligo check computes it), before anything\n"
            "is written; so `eligo check DIR` prints the same rule-set hash.\n"
            "\n"
            "  RULESET_HASH       the rule set (64 hex digits: show's \"rule set\", list's\n"
            "                     --json \"ruleset\")\n"
            "  --decision ID      the rule set that made decision ID\n"
            "  --out DIR          a new directory, or an empty one: no file is ever\n"
            "                     overwritten, and none is written beside other files\n"
            AQ_DB_USAGE
            "  --help             print this help\n"
            "\n"
            "Exit status 0 when written, 1 when there is no such rule set or decision, or\n"
            "the stored set is damaged (nothing is written), 2 on a usage or database\n"
            "error, or a DIR that is not empty.\n");
}

/* The decision's rule set's hash, from its row. */
static int rules_of_decision(void *ud, const store_row *r)
{
    snprintf(ud, 65, "%s", r->ruleset ? r->ruleset : "");
    return 0;
}

int cmd_audit_rules(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, O_DB}, {"decision", required_argument, NULL, O_DECISION},
        {"out", required_argument, NULL, O_OUT}, {"help", no_argument, NULL, O_HELP},
        {0, 0, 0, 0},
    };
    const char *db = cmd_env("ELIGO_DB", "./eligo.db");
    const char *decision = NULL, *dir = NULL;
    char hash[65] = "";
    int opt;
    optind = 1;
    while ((opt = cmd_getopt("audit rules", argc, argv, "h", longopts)) != -1) {
        switch (opt) {
        case O_DB: db = optarg; break;
        case O_DECISION: decision = ids_upper(optarg); break;
        case O_OUT: dir = optarg; break;
        case 'h':
        case O_HELP: rules_usage(stdout); return 0;
        default: rules_usage(stderr); return 2;
        }
    }
    if ((optind < argc) == !!decision || optind + 1 < argc) {
        fprintf(stderr, "eligo audit rules: give a RULESET_HASH or --decision ID, one of them\n");
        rules_usage(stderr);
        return 2;
    }
    if (!dir || !*dir) {
        fprintf(stderr, "eligo audit rules: --out DIR is required (a new or empty directory)\n");
        rules_usage(stderr);
        return 2;
    }
    if (!decision) {
        const char *h = argv[optind];
        size_t n = strlen(h);
        if (n != 64 || strspn(h, "0123456789abcdefABCDEF") != n) {
            fprintf(stderr, "eligo audit rules: a rule set's hash is 64 hex digits, not '%s'\n",
                    h);
            return 2;
        }
        for (size_t i = 0; i < n; i++)   /* stored in lower case */
            hash[i] = (char)(h[i] >= 'A' && h[i] <= 'F' ? h[i] - 'A' + 'a' : h[i]);
        hash[n] = '\0';
    }
    store *st = aq_open("rules", db);
    if (!st)
        return 2;
    err e = {0};
    int damaged = 0, ret = 2;
    ruleset *rs = NULL;
    if (decision && store_application_of(st, decision, rules_of_decision, hash, &e) != 0) {
        ret = aq_fail("rules", &e);
        goto done;
    }
    if (!*hash) {
        fprintf(stderr, "eligo audit rules: decision %s names no rule set\n", decision);
        ret = 1;
        goto done;
    }
    rs = store_get_ruleset_checked(st, hash, &damaged, &e);
    if (!rs) {
        if (decision)
            fprintf(stderr, "eligo audit rules: decision %s: %s\n", decision, e.msg);
        else
            fprintf(stderr, "eligo audit rules: %s\n", e.msg);
        ret = damaged ? 1 : 2;
        goto done;
    }
    if (ruleset_write(rs, dir, &e) != 0) {
        fprintf(stderr, "eligo audit rules: %s\n", e.msg);
        ret = e.code && !strcmp(e.code, "rule_error") ? 1 : 2;
        goto done;
    }
    /* Read back as eligo check reads a directory: what was written is what
     * the hash says, whatever else came to be in DIR meanwhile. */
    ruleset *back = ruleset_load(dir, &e);
    int same = back && strcmp(ruleset_hash(back), hash) == 0;
    if (!same)
        fprintf(stderr, "eligo audit rules: %s does not read back as rule set %s: %s\n", dir,
                hash, back ? "its files hash otherwise (was something added to it?)" : e.msg);
    else
        printf("rule set %s (%zu files) written to %s\n", hash, ruleset_count(rs), dir);
    ruleset_free(back);
    ret = same ? 0 : 2;
done:
    ruleset_free(rs);
    store_close(st);
    return ret;
}
