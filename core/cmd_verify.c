/*
 * cmd_verify.c -- `eligo verify`: recompute the whole hash chain.
 *
 * Exit status: 0 when every record matches its hash, 1 when one does not
 * (the first is named), 2 for a usage error or a database that cannot be read.
 * The database is opened read-only, so verifying never creates or migrates a
 * file, and can run beside a live server.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "store.h"

static void verify_usage(FILE *f)
{
    fprintf(f,
            "usage: eligo verify [--db FILE] [--quiet]\n"
            "\n"
            "Recompute the hash chain of every decision record and report the first\n"
            "record that does not match.  Exit status 0 when the chain is intact, 1\n"
            "when a record does not match, 2 on a usage or database error.\n"
            "\n"
            "  --db FILE   the database (default $ELIGO_DB, else ./eligo.db)\n"
            "  --quiet     print nothing unless a record does not match or an error occurs\n"
            "  --help      print this help\n");
}

static double verify_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Progress on a terminal: one line on stderr, rewritten in place. */
static void verify_progress(void *ud, int64_t done, int64_t total)
{
    (void)ud;
    if (total > 0)
        fprintf(stderr, "\rverifying: %lld / %lld records (%d%%)", (long long)done,
                (long long)total, (int)(done * 100 / total));
    else
        fprintf(stderr, "\rverifying: %lld records", (long long)done);
    fflush(stderr);
}

int cmd_verify(int argc, char **argv)
{
    const char *db = cmd_env("ELIGO_DB", "./eligo.db");
    int quiet = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            verify_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
            quiet = 1;
        } else if (!strcmp(argv[i], "--db") && i + 1 < argc) {
            db = argv[++i];
        } else if (!strncmp(argv[i], "--db=", 5)) {
            db = argv[i] + 5;
        } else {
            fprintf(stderr, "eligo verify: %s '%s'\n",
                    strcmp(argv[i], "--db") ? "unknown argument" : "missing FILE after",
                    argv[i]);
            verify_usage(stderr);
            return 2;
        }
    }

    err e = {0};
    store *st = NULL;
    if (access(db, F_OK) != 0) {
        fprintf(stderr, "eligo verify: no database at %s (give one with --db FILE or ELIGO_DB)\n",
                db);
        return 2;
    }
    if (store_open(&st, db, STORE_READONLY, &e) != 0) {
        fprintf(stderr, "eligo verify: %s\n", e.msg);
        return 2;
    }

    int show = !quiet && isatty(2);
    int64_t checked = 0, bad_seq = 0;
    char bad_id[64];
    double t0 = verify_now();
    int rc = store_verify(st, &checked, &bad_seq, bad_id, show ? verify_progress : NULL, NULL,
                          &e);
    double secs = verify_now() - t0;
    store_close(st);
    if (show)
        fprintf(stderr, "\r\033[K");   /* clear the progress line */

    if (rc < 0) {
        fprintf(stderr, "eligo verify: %s\n", e.msg);
        return 2;
    }
    if (rc > 0) {
        printf("record %lld (decision %s) does not match its hash\n", (long long)bad_seq,
               bad_id);
        if (e.code)   /* store_verify also says why */
            printf("%s\n", e.msg);
        if (!quiet)
            printf("%lld records before it are intact (%.3f s)\n", (long long)checked, secs);
        return 1;
    }
    if (!quiet)
        printf("%lld records checked in %.3f s (%.0f records/s): the chain is intact\n",
               (long long)checked, secs, secs > 0 ? (double)checked / secs : 0.0);
    return 0;
}
