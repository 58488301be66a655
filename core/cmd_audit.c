/*
 * cmd_audit.c -- `eligo audit SUBCOMMAND` and `eligo keygen`.
 *
 * The audit subcommands work offline on the database, through the store and
 * sign modules.  Each is one line of audit_commands[]: add a line (and its
 * function) for a new one.
 *
 * Exit status, for every subcommand: 0 done, 1 the thing asked about is not
 * so (a review of a decision that does not exist, a chain that does not
 * verify), 2 a usage error or a database that cannot be read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "file.h"
#include "hex.h"
#include "ids.h"
#include "sign.h"
#include "store.h"

/* ---- Shared helpers ------------------------------------------------------- */

/* Open DB read-only or read-write, saying why not on stderr. */
static store *audit_open(const char *cmd, const char *db, int flags)
{
    err e = {0};
    store *st = NULL;
    if (cmd_db_exists(cmd, db) != 0)
        return NULL;
    if (store_open(&st, db, flags, &e) != 0) {
        fprintf(stderr, "eligo %s: %s\n", cmd, e.msg);
        return NULL;
    }
    return st;
}

static void audit_progress(void *ud, int64_t done, int64_t total)
{
    (void)ud;
    if (total > 0)
        fprintf(stderr, "\rverifying the chain: %lld / %lld records (%d%%)", (long long)done,
                (long long)total, (int)(done * 100 / total));
    fflush(stderr);
}

/* ---- eligo keygen --------------------------------------------------------- */

static void keygen_usage(FILE *f)
{
    fprintf(f,
            "usage: eligo keygen [--out PREFIX]\n"
            "\n"
            "Make an Ed25519 key pair for signing checkpoints: PREFIX.key (the private\n"
            "key, PEM, mode 0600: keep it away from the database) and PREFIX.pub (the\n"
            "public key, PEM: give it to whoever will verify).  Existing files are never\n"
            "overwritten.\n"
            "\n"
            "  --out PREFIX  where to write (default ./eligo, giving eligo.key and eligo.pub)\n"
            "  --help        print this help\n");
}

int cmd_keygen(int argc, char **argv)
{
    const char *prefix = "./eligo";
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            keygen_usage(stdout);
            return 0;
        } else if ((v = cmd_opt(argc, argv, &i, "--out", &missing))) {
            prefix = v;
        } else {
            fprintf(stderr, "eligo keygen: %s '%s'\n",
                    cmd_opt_why(missing), argv[i]);
            keygen_usage(stderr);
            return 2;
        }
    }
    /* A PREFIX that names a directory ("keys/") would give the hidden files
     * keys/.key and keys/.pub. */
    size_t plen = strlen(prefix);
    const char *base = strrchr(prefix, '/');
    struct stat sb;
    if (plen == 0) {
        fprintf(stderr, "eligo keygen: --out needs a prefix for the two files\n");
        return 2;
    }
    if (prefix[plen - 1] == '/' || (base && !base[1]) ||
        (stat(prefix, &sb) == 0 && S_ISDIR(sb.st_mode))) {
        fprintf(stderr, "eligo keygen: --out '%s' names a directory: give a prefix for the two "
                "files, such as '%s%sauditor' (auditor.key and auditor.pub)\n", prefix, prefix,
                plen && prefix[plen - 1] != '/' ? "/" : "");
        return 2;
    }
    err e = {0};
    if (sign_keygen(prefix, &e) != 0) {
        fprintf(stderr, "eligo keygen: %s\n", e.msg);
        return 2;
    }
    sign_key *k = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s.pub", prefix);
    if (file_sync_parent(path) != 0)   /* each file is synced: their names too */
        fprintf(stderr, "eligo keygen: warning: the directory of %s could not be synced (%s): "
                "the keys may not outlive a crash of the machine\n", path, strerror(errno));
    k = sign_key_load(path, 0, &e);
    printf("wrote %s.key (private, mode 0600) and %s.pub\n", prefix, prefix);
    if (k)
        printf("key fingerprint %s\n", sign_key_fingerprint(k));
    sign_key_free(k);
    return 0;
}

/* ---- eligo audit checkpoint ------------------------------------------------- */

static void checkpoint_usage(FILE *f)
{
    fprintf(f,
            "usage: eligo audit checkpoint --key KEY [--db FILE] [--out FILE] [--quiet]\n"
            "\n"
            "Verify the whole chain, then sign a statement of its head (the last\n"
            "record's sequence number and hash, and the time) with the private key KEY.\n"
            "Keep the statement where the database's keepers cannot change it; later,\n"
            "`eligo verify --checkpoint FILE --pubkey PUB` proves that the database still\n"
            "holds exactly that history.  A chain that does not verify is not signed\n"
            "(exit status 1).\n"
            "\n"
            "  --key KEY   the private key (eligo keygen)\n"
            "  --db FILE   the database (default $ELIGO_DB, else ./eligo.db)\n"
            "  --out FILE  write the statement there (default: standard output): a new\n"
            "              file, never one that exists (keep every checkpoint)\n"
            "  --quiet, -q no progress, no summary on standard error\n"
            "  --help      print this help\n");
}

static int audit_checkpoint(int argc, char **argv)
{
    const char *db = cmd_env("ELIGO_DB", "./eligo.db"), *keyfile = NULL, *outfile = NULL;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            checkpoint_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
            quiet = 1;
        } else if ((v = cmd_opt(argc, argv, &i, "--key", &missing))) {
            keyfile = v;
        } else if ((v = cmd_opt(argc, argv, &i, "--db", &missing))) {
            db = v;
        } else if ((v = cmd_opt(argc, argv, &i, "--out", &missing))) {
            outfile = v;
        } else {
            fprintf(stderr, "eligo audit checkpoint: %s '%s'\n",
                    cmd_opt_why(missing), argv[i]);
            checkpoint_usage(stderr);
            return 2;
        }
    }
    if (!keyfile) {
        fprintf(stderr, "eligo audit checkpoint: --key KEY is required\n");
        checkpoint_usage(stderr);
        return 2;
    }

    err e = {0};
    int status = 2;
    store *st = NULL;
    FILE *of = NULL;
    buf out;
    buf_init(&out, 4096);
    sign_key *k = sign_key_load(keyfile, 1, &e);
    if (!k) {
        fprintf(stderr, "eligo audit checkpoint: --key: %s\n", e.msg);
        goto done;
    }
    /* The statement's file is made before the chain is read, so that an
     * existing one -- an earlier checkpoint, which locating a rewrite needs,
     * or the key -- is refused before any work; it is removed again unless
     * the statement is written whole. */
    if (outfile && !(of = cmd_output_create("audit checkpoint", "a checkpoint", outfile, 0644)))
        goto done;
    st = audit_open("audit checkpoint", db, STORE_READONLY);
    if (!st)
        goto done;

    /* The head signed is the one just verified, in the same read
     * transaction: a server appending meanwhile cannot slip in between. */
    int show = !quiet && isatty(2);
    store_report rep;
    int rc = store_verify_chain(st, NULL, 0, &rep, show ? audit_progress : NULL, NULL, &e);
    if (show)
        fprintf(stderr, "\r\033[K");
    if (rc < 0) {
        fprintf(stderr, "eligo audit checkpoint: %s\n", e.msg);
        goto done;
    }
    if (rc > 0) {
        char why[1024];
        store_verdict(&rep, &e, why, sizeof why);
        fprintf(stderr, "eligo audit checkpoint: not signing: %s (run eligo verify)\n", why);
        status = 1;
        goto done;
    }
    char head[SIGN_HEX_HASH + 1], now[25], database[SIGN_HEX_DB + 1];
    hex_encode(rep.head_hash, STORE_HASH_SIZE, head);
    ids_now(now);
    if (store_database_id(st, database, &e) != 0) {
        fprintf(stderr, "eligo audit checkpoint: %s\n", e.msg);
        goto done;
    }
    sign_checkpoint c;
    if (sign_checkpoint_make(k, database, rep.head_seq, head, now, &c, &e) != 0 ||
        sign_checkpoint_format(&c, &out) != 0) {
        fprintf(stderr, "eligo audit checkpoint: %s\n", e.code ? e.msg : "out of memory");
        goto done;
    }
    if (of) {
        int ok = fwrite(out.data, 1, out.len, of) == out.len;
        int closed = cmd_output_close("audit checkpoint", of, outfile, !ok);
        of = NULL;
        if (closed != 0) {
            if (closed > 0)
                fprintf(stderr, "eligo audit checkpoint: cannot write %s: %s (the file is "
                        "removed)\n", outfile, strerror(errno));
            goto done;
        }
    } else {
        fwrite(out.data, 1, out.len, stdout);
    }
    if (!quiet)
        fprintf(stderr, "signed record %lld (head %.16s...) after verifying %lld records; "
                "key %.16s...%s%s\n", (long long)c.seq, c.head, (long long)rep.checked, c.key,
                outfile ? "; written to " : "", outfile ? outfile : "");
    status = 0;
done:
    cmd_output_close("audit checkpoint", of, outfile, 1);   /* not written whole */
    buf_free(&out);
    store_close(st);
    sign_key_free(k);
    return status;
}

/* ---- eligo audit review ----------------------------------------------------- */

static void review_usage(FILE *f)
{
    fprintf(f,
            "usage: eligo audit review DECISION_ID --by NAME (--confirm | --override OUTCOME)\n"
            "                          --reason TEXT [--db FILE]\n"
            "\n"
            "Record a person's review of a stored decision: it is confirmed, or\n"
            "overridden with a new outcome (eligible, ineligible or incomplete).  The\n"
            "review is appended to the hash chain as a record of its own; the decision\n"
            "is never changed.  Prints the review as stored.\n"
            "\n"
            "  --by NAME          who reviews (a name or staff id)\n"
            "  --confirm          the decision stands\n"
            "  --override OUTCOME the decision's outcome is replaced by OUTCOME\n"
            "  --reason TEXT      why\n"
            "  --db FILE          the database (default $ELIGO_DB, else ./eligo.db)\n"
            "  --help             print this help\n");
}

static int audit_review(int argc, char **argv)
{
    const char *db = cmd_env("ELIGO_DB", "./eligo.db");
    const char *decision_id = NULL, *by = NULL, *reason = NULL, *outcome = NULL;
    int confirm = 0, db_given = 0;
    const char *twice = NULL;   /* an option given twice: the record would keep one */
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            review_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--confirm")) {
            twice = confirm ? "--confirm" : twice;
            confirm = 1;
        } else if ((v = cmd_opt(argc, argv, &i, "--override", &missing))) {
            twice = outcome ? "--override" : twice;
            outcome = v;
        } else if ((v = cmd_opt(argc, argv, &i, "--by", &missing))) {
            twice = by ? "--by" : twice;
            by = v;
        } else if ((v = cmd_opt(argc, argv, &i, "--reason", &missing))) {
            twice = reason ? "--reason" : twice;
            reason = v;
        } else if ((v = cmd_opt(argc, argv, &i, "--db", &missing))) {
            twice = db_given++ ? "--db" : twice;
            db = v;
        } else if (argv[i][0] != '-' && !decision_id && !missing) {
            decision_id = ids_upper(argv[i]);
        } else {
            fprintf(stderr, "eligo audit review: %s '%s'\n",
                    cmd_opt_why(missing), argv[i]);
            review_usage(stderr);
            return 2;
        }
    }
    if (twice) {
        fprintf(stderr, "eligo audit review: %s is given twice: a review records one\n", twice);
        review_usage(stderr);
        return 2;
    }
    if (outcome && strcmp(outcome, "eligible") && strcmp(outcome, "ineligible") &&
        strcmp(outcome, "incomplete")) {   /* the flag's fault, not a field's */
        fprintf(stderr, "eligo audit review: --override is eligible, ineligible or incomplete, "
                "not '%s'\n", outcome);
        return 2;
    }
    const char *problem = !decision_id            ? "DECISION_ID is required"
                          : confirm == !!outcome  ? "give one of --confirm and --override OUTCOME"
                          : !by                   ? "--by NAME is required"
                          : !reason               ? "--reason TEXT is required"
                                                  : NULL;
    if (problem) {
        fprintf(stderr, "eligo audit review: %s\n", problem);
        review_usage(stderr);
        return 2;
    }

    char review_id[IDS_LEN + 1], now[25];
    ids_next(review_id);
    ids_now(now);
    store_review rv = {
        .review_id = review_id, .decision_id = decision_id,
        .action = confirm ? "confirm" : "override", .outcome = outcome, .by = by,
        .reason = reason, .reviewed_at = now,
        .client_uid = (int64_t)getuid(), .client_pid = (int64_t)getpid(),
    };
    err e = {0};
    if (store_review_check(&rv, &e) != 0) {
        fprintf(stderr, "eligo audit review: %s\n", e.msg);
        return 2;
    }
    store *st = audit_open("audit review", db, 0);
    if (!st)
        return 2;
    buf out;
    buf_init(&out, (size_t)1 << 20);
    int status = 0;
    if (store_append_review(st, &rv, &out, &e) != 0) {
        fprintf(stderr, "eligo audit review: %s\n", e.msg);
        status = e.code && !strcmp(e.code, "not_found") ? 1 : 2;
    } else {
        printf("%s\n", out.data);
    }
    buf_free(&out);
    store_close(st);
    return status;
}

/* ---- The table ------------------------------------------------------------ */

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} audit_commands[] = {
    {"show", cmd_audit_show, "explain one decision in full, with the stored rules' source"},
    {"list", cmd_audit_list, "list decisions, newest first, filtered and paged"},
    {"stats", cmd_audit_stats, "decisions per programme, month and outcome; most failed criteria"},
    {"export", cmd_audit_export, "export decisions as JSON lines or CSV, redacting by keyed hash"},
    {"rules", cmd_audit_rules, "write the rule files a decision was made under into a directory"},
    {"checkpoint", audit_checkpoint, "verify the chain, then sign a statement of its head"},
    {"review", audit_review, "record a person's confirmation or override of a decision"},
};

static void audit_usage(FILE *f)
{
    fprintf(f, "usage: eligo audit SUBCOMMAND [OPTIONS]   (eligo audit SUBCOMMAND --help)\n\n");
    for (size_t i = 0; i < sizeof audit_commands / sizeof audit_commands[0]; i++)
        fprintf(f, "  %-11s %s\n", audit_commands[i].name, audit_commands[i].summary);
}

int cmd_audit(int argc, char **argv)
{
    if (argc < 2) {
        audit_usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        audit_usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof audit_commands / sizeof audit_commands[0]; i++)
        if (!strcmp(argv[1], audit_commands[i].name)) {
            char name[64];   /* what getopt's messages begin with */
            snprintf(name, sizeof name, "eligo audit %s", audit_commands[i].name);
            argv[1] = name;
            return audit_commands[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "eligo audit: unknown subcommand '%s'\n", argv[1]);
    audit_usage(stderr);
    return 2;
}
