/*
 * cmd_backup.c -- `eligo backup`: a consistent copy of a live database, then
 * the copy's own hash chain verified, so that a backup is known good the day
 * it is made, not the day it is needed.
 *
 * Exit status: 0 when the copy is written and its chain is intact; 1 when it
 * is written but does not verify (its chain is broken, as the source's must
 * be, or it cannot be read back: the copy is kept, as evidence); 2 for a
 * usage error, or a copy that could not be made.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "store.h"

static void backup_usage(FILE *f)
{
    fprintf(f,
            "usage: eligo backup --out FILE [--db FILE] [--quiet]\n"
            "\n"
            "Copy the database, as it was at one moment, into FILE (a new file, mode 0600)\n"
            "while a server may go on writing to it; sync the copy to disk; then recompute\n"
            "the copy's hash chain.  FILE is an ordinary eligo database: every command\n"
            "reads it with --db FILE.  Exit status 0 when the copy is written and its\n"
            "chain is intact, 1 when it is written but does not verify, 2 when no copy\n"
            "could be made.\n"
            "\n"
            "  --out FILE   where the copy goes; never overwritten\n"
            "  --db FILE    the database (default $ELIGO_DB, else ./eligo.db)\n"
            "  --quiet, -q  print nothing unless something fails\n"
            "  --help       print this help\n");
}

int cmd_backup(int argc, char **argv)
{
    const char *db = cmd_env("ELIGO_DB", "./eligo.db"), *out = NULL;
    int quiet = 0, missing = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            backup_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
            quiet = 1;
        } else if ((v = cmd_opt(argc, argv, &i, "--db", &missing))) {
            db = v;
        } else if ((v = cmd_opt(argc, argv, &i, "--out", &missing))) {
            out = v;
        } else {
            fprintf(stderr, "eligo backup: %s '%s'\n",
                    cmd_opt_why(missing), argv[i]);
            backup_usage(stderr);
            return 2;
        }
    }
    if (!out) {
        fprintf(stderr, "eligo backup: where to? (--out FILE)\n");
        backup_usage(stderr);
        return 2;
    }
    if (cmd_db_exists("backup", db) != 0)
        return 2;

    err e = {0};
    store *src = NULL, *copy = NULL;
    long pages = 0;
    double t0 = cmd_seconds();
    if (store_open(&src, db, STORE_READONLY, &e) != 0 || store_backup(src, out, &pages, &e) != 0) {
        fprintf(stderr, "eligo backup: %s\n", e.msg);
        store_close(src);
        return 2;
    }
    store_close(src);
    double copied = cmd_seconds() - t0;

    store_report rep;
    int rc = store_open(&copy, out, STORE_READONLY, &e);
    if (rc == 0)
        rc = store_verify_chain(copy, NULL, 0, &rep, NULL, NULL, &e);
    store_close(copy);
    double verified = cmd_seconds() - t0 - copied;
    if (rc < 0) {
        fprintf(stderr, "eligo backup: %s is written but cannot be read back: %s\n", out, e.msg);
        return 1;
    }
    if (rc > 0) {
        char what[1024];
        store_verdict(&rep, &e, what, sizeof what);
        fprintf(stderr, "eligo backup: %s is written, but it does not verify, so the source "
                "does not either (eligo verify --db %s); the copy is kept as it was: %s\n", out,
                db, what);
        return 1;
    }
    if (!quiet) {
        struct stat sb;
        double mb = stat(out, &sb) == 0 ? (double)sb.st_size / 1e6 : 0.0;
        printf("%s: %ld pages (%.1f MB) copied in %.2f s; %lld records verified in %.2f s: "
               "the chain is intact\n", out, pages, mb, copied, (long long)rep.checked, verified);
    }
    return 0;
}
