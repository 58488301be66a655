/*
 * cmd_verify.c -- `eligo verify`: recompute the whole hash chain, and with
 * --checkpoint, prove that the database still holds a signed history.
 *
 * Exit status: 0 when every record matches its hash (and the checkpoint
 * holds), 1 when one does not (the first is named) or the checkpoint fails
 * (its signature, a truncated tail or a rewritten past), 2 for a usage error
 * or a database that cannot be read.
 * The database is opened read-only, so verifying never creates or migrates a
 * file, and can run beside a live server.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "file.h"
#include "hex.h"
#include "sign.h"
#include "store.h"
#include "text.h"

/* Checkpoints one verify checks at most (a year of daily ones fits). */
#define VERIFY_MAX_CHECKPOINTS 400

static void verify_usage(FILE *f)
{
    fprintf(f,
            "usage: eligo verify [--db FILE] [--quiet] [--checkpoint FILE... --pubkey PUB]\n"
            "\n"
            "Recompute the hash chain of every record (decisions and reviews) and report\n"
            "the first record that does not match.  With --checkpoint, first check the\n"
            "checkpoint's signature with PUB, then prove that the database still holds\n"
            "the history it signed: its record exists with the signed hash (no rewritten\n"
            "past) and no record after it is missing (no truncated tail).  Exit status 0\n"
            "when all holds, 1 when a record does not match or the checkpoint fails, 2\n"
            "on a usage or database error.  --checkpoint may be given several times\n"
            "(all signed with PUB): a rewritten past is then placed between the last\n"
            "checkpoint that holds and the first that does not.\n"
            "\n"
            "  --db FILE          the database (default $ELIGO_DB, else ./eligo.db)\n"
            "  --checkpoint FILE  a statement made by eligo audit checkpoint\n"
            "  --pubkey PUB       the public key that signed it (eligo keygen)\n"
            "  --quiet, -q        print nothing unless something fails\n"
            "  --help             print this help\n");
}

/* Progress on a terminal: one line on stderr, rewritten in place, with the
 * speed so far.  UD points at the start time. */
static void verify_progress(void *ud, int64_t done, int64_t total)
{
    double secs = cmd_seconds() - *(const double *)ud;
    char rate[48] = "";
    if (done > 0 && secs > 0)
        snprintf(rate, sizeof rate, ", %.0f records/s", (double)done / secs);
    if (total > 0)
        fprintf(stderr, "\rverifying: %lld / %lld records (%d%%)%s\033[K", (long long)done,
                (long long)total, (int)(done * 100 / total), rate);
    else
        fprintf(stderr, "\rverifying: %lld records%s\033[K", (long long)done, rate);
    fflush(stderr);
}

/* "decision ID" or "review ID of decision ID". */
static void verify_name(const store_report *rep)
{
    if (rep->bad_kind && !strcmp(rep->bad_kind, "review"))
        printf("review %s of decision %s", rep->bad_id, rep->bad_decision);
    else
        printf("decision %s", rep->bad_id);
}

/* Read CPFILE, check its signature with PUBFILE, fill *CP and *ANCHOR.
 * Returns 0, or the exit status after saying what failed. */
static int verify_checkpoint_signature(const char *cpfile, const char *pubfile,
                                       sign_checkpoint *cp, store_anchor *anchor)
{
    err e = {0};
    char text[8192];
    long n = file_read_small(cpfile, text, sizeof text, &e);
    if (n < 0) {
        fprintf(stderr, "eligo verify: --checkpoint: %s\n", e.msg);
        return 2;
    }
    if (sign_checkpoint_parse(text, (size_t)n, cp, &e) != 0) {
        fprintf(stderr, "eligo verify: %s: %s\n", cpfile, e.msg);
        return 2;
    }
    sign_key *k = sign_key_load(pubfile, 0, &e);
    if (!k) {
        fprintf(stderr, "eligo verify: --pubkey: %s\n", e.msg);
        return 2;
    }
    int rc = sign_checkpoint_check(k, cp, &e);
    sign_key_free(k);
    if (rc < 0) {
        fprintf(stderr, "eligo verify: %s\n", e.msg);
        return 2;
    }
    if (rc > 0) {
        printf("checkpoint FAILED: bad signature: %s: %s\n", cpfile, e.msg);
        return 1;
    }
    anchor->seq = cp->seq;
    sign_unhex(cp->head, anchor->hash, sizeof anchor->hash);
    return 0;
}

/* What the command line asks for. */
typedef struct verify_options {
    const char *db;
    const char *cpfiles[VERIFY_MAX_CHECKPOINTS], *pubfile;
    size_t ncp;
    int quiet;
} verify_options;

/* Returns 0, 1 after --help, -1 on a usage error (said). */
static int verify_parse(int argc, char **argv, verify_options *o)
{
    o->db = cmd_env("ELIGO_DB", "./eligo.db");
    for (int i = 1; i < argc; i++) {
        const char *v;
        int missing = 0;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            verify_usage(stdout);
            return 1;
        } else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
            o->quiet = 1;
        } else if ((v = cmd_opt(argc, argv, &i, "--db", &missing))) {
            o->db = v;
        } else if ((v = cmd_opt(argc, argv, &i, "--checkpoint", &missing))) {
            if (o->ncp == VERIFY_MAX_CHECKPOINTS) {
                fprintf(stderr, "eligo verify: at most %d checkpoints\n",
                        VERIFY_MAX_CHECKPOINTS);
                return -1;
            }
            o->cpfiles[o->ncp++] = v;
        } else if ((v = cmd_opt(argc, argv, &i, "--pubkey", &missing))) {
            o->pubfile = v;
        } else {
            fprintf(stderr, "eligo verify: %s '%s'\n", cmd_opt_why(missing), argv[i]);
            verify_usage(stderr);
            return -1;
        }
    }

    if (!o->ncp != !o->pubfile) {
        fprintf(stderr, "eligo verify: --checkpoint FILE and --pubkey PUB go together\n");
        verify_usage(stderr);
        return -1;
    }
    return 0;
}

/* A checkpoint that names a database names the one it was made of: of
 * another, it says nothing of this one's history, which is not to be
 * reported rewritten or cut for it.  Returns 0 when every checkpoint of
 * CPS is ST's (or names none), else the exit status after saying why. */
static int verify_same_database(store *st, const verify_options *o, const sign_checkpoint *cps)
{
    err e = {0};
    char database[SIGN_HEX_DB + 1];
    if (o->ncp && store_database_id(st, database, &e) != 0) {
        fprintf(stderr, "eligo verify: %s\n", e.msg);
        return 2;
    }
    for (size_t i = 0; i < o->ncp; i++) {
        if (cps[i].database[0] && strcmp(cps[i].database, database) != 0) {
            printf("checkpoint FAILED: %s is a checkpoint of another database (%s), not of %s "
                   "(%s)\n", o->cpfiles[i], cps[i].database, o->db,
                   database[0] ? database : "a file from before databases had ids");
            return 1;
        }
    }
    return 0;
}

/* Records cut off the end of the chain: E's code is "truncated" (the
 * checkpoint signed more) or "cut_tail".  Returns the exit status, 1. */
static int verify_report_cut(const verify_options *o, const sign_checkpoint *cps, size_t latest,
                             const store_report *rep, const err *e, double secs)
{
    printf("%srecords were cut off the end (truncated tail)\n",
           !strcmp(e->code, "truncated") ? "checkpoint FAILED: " : "");
    printf("%s\n", e->msg);
    if (!strcmp(e->code, "truncated"))   /* which of the checkpoints given */
        printf("the checkpoint is %s, signed at %s\n", o->cpfiles[latest], cps[latest].time);
    if (!o->quiet && rep->anchor_held)
        printf("the records up to %lld are as signed; the %lld present are consistent "
               "with each other (%.3f s)\n", (long long)rep->anchor_held,
               (long long)rep->checked, secs);
    else if (!o->quiet)
        printf("the %lld records present are consistent with each other (%.3f s), as "
               "records rewritten and rehashed would also be\n", (long long)rep->checked,
               secs);
    return 1;
}

/* A record that is not the one a checkpoint signed.  Returns the exit
 * status, 1. */
static int verify_report_rewritten(const verify_options *o, const sign_checkpoint *cps,
                                   const store_report *rep, const err *e)
{
    /* The checkpoint that signed another hash for the record: another
     * one given may sign the same record as it is. */
    char have[SIGN_HEX_HASH + 1];
    hex_encode(rep->head_hash, STORE_HASH_SIZE, have);
    size_t k = 0;
    while (k + 1 < o->ncp && (cps[k].seq != rep->bad_seq || !strcmp(cps[k].head, have)))
        k++;
    if (rep->bad_seq == 0) {   /* no record to name: the checkpoint signed an empty chain */
        printf("checkpoint FAILED: %s\n%s\n", o->cpfiles[k], e->msg);
        return 1;
    }
    printf("checkpoint FAILED: the past was rewritten: record %lld (", (long long)rep->bad_seq);
    verify_name(rep);
    printf(") is not the record %s signed\n%s\n", o->cpfiles[k], e->msg);
    if (!o->quiet)
        printf("signed at %s; plain verify would pass: every hash was recomputed\n",
               cps[k].time);
    return 1;
}

/* A chain that does not hold (store_verify_chain returned 1 with REP and
 * E): say where and why.  Returns the exit status, 1. */
static int verify_report_broken(const verify_options *o, const sign_checkpoint *cps,
                                size_t latest, const store_report *rep, const err *e,
                                double secs)
{
    if (e->code && (!strcmp(e->code, "truncated") || !strcmp(e->code, "cut_tail")))
        return verify_report_cut(o, cps, latest, rep, e, secs);
    if (e->code && !strcmp(e->code, "orphan")) {
        printf("the chain of %lld records holds, but the applications do not\n%s\n",
               (long long)rep->checked, e->msg);
        return 1;
    }
    if (e->code && !strcmp(e->code, "applicant_index")) {
        printf("the chain of %lld records holds, but the applicant index does not\n%s\n",
               (long long)rep->checked, e->msg);
        return 1;
    }
    if (e->code && !strcmp(e->code, "ruleset")) {
        printf("the chain of %lld records holds, but a stored rule set does not\n%s\n",
               (long long)rep->checked, e->msg);
        return 1;
    }
    if (e->code && !strcmp(e->code, "duplicate")) {
        printf("the chain of %lld records holds, but an id names two of them\n%s\n",
               (long long)rep->checked, e->msg);
        return 1;
    }
    if (e->code && !strcmp(e->code, "rewritten"))
        return verify_report_rewritten(o, cps, rep, e);
    if (rep->bad_seq > rep->checked + 1) {   /* a gap: say so first */
        if (rep->bad_seq == rep->checked + 2)
            printf("record %lld is missing, before record %lld (", (long long)(rep->checked + 1),
                   (long long)rep->bad_seq);
        else
            printf("records %lld to %lld are missing, before record %lld (",
                   (long long)(rep->checked + 1), (long long)(rep->bad_seq - 1),
                   (long long)rep->bad_seq);
        verify_name(rep);
        printf(")\n");
        if (!o->quiet)
            printf("%lld records before %s are intact (%.3f s)\n", (long long)rep->checked,
                   rep->bad_seq == rep->checked + 2 ? "it" : "them", secs);
        return 1;
    }
    printf("record %lld (", (long long)rep->bad_seq);
    verify_name(rep);
    printf(") does not match its hash\n");
    if (e->code)   /* store_verify_chain also says why */
        printf("%s\n", e->msg);
    if (!o->quiet)
        printf("%lld record%s before it %s intact (%.3f s)\n", (long long)rep->checked,
               text_s(rep->checked), rep->checked == 1 ? "is" : "are", secs);
    return 1;
}

/* The summary of a chain that holds, of SCHEMA, with the latest checkpoint
 * given (when any). */
static void verify_report_intact(const verify_options *o, const sign_checkpoint *cps,
                                 size_t latest, const store_report *rep, int schema, double secs)
{
    printf("%lld record%s checked in %.3f s (%.0f records/s): the chain is intact\n",
           (long long)rep->checked, text_s(rep->checked), secs,
           secs > 0 ? (double)rep->checked / secs : 0.0);
    if (rep->reviews)
        printf("(%lld decision%s, %lld review%s)\n", (long long)rep->decisions,
               text_s(rep->decisions), (long long)rep->reviews, text_s(rep->reviews));
    if (schema < STORE_SCHEMA)
        printf("(schema %d, written by an older eligo: read as it is, not migrated)\n", schema);
    if (o->ncp && cps[latest].seq == 0)   /* signed on an empty database */
        printf("checkpoint%s: signed at %s on an empty chain, which proves nothing of the "
               "%lld records after it\n", o->ncp > 1 ? "s hold (all of them); the latest" :
               " holds", cps[latest].time, (long long)rep->checked);
    else if (o->ncp)
        printf("checkpoint%s: record %lld signed at %s is in the chain unchanged, "
               "%lld records after it\n", o->ncp > 1 ? "s hold (all of them); the latest" :
               " holds", (long long)cps[latest].seq, cps[latest].time,
               (long long)(rep->checked - cps[latest].seq));
}

int cmd_verify(int argc, char **argv)
{
    verify_options o = {0};
    int parsed = verify_parse(argc, argv, &o);
    if (parsed != 0)
        return parsed > 0 ? 0 : 2;

    err e = {0};
    store_anchor anchors[VERIFY_MAX_CHECKPOINTS];
    sign_checkpoint cps[VERIFY_MAX_CHECKPOINTS];
    size_t latest = 0;   /* the checkpoint with the highest seq */
    for (size_t i = 0; i < o.ncp; i++) {
        int rc = verify_checkpoint_signature(o.cpfiles[i], o.pubfile, &cps[i], &anchors[i]);
        if (rc != 0)
            return rc;
        if (cps[i].seq > cps[latest].seq)
            latest = i;
    }

    store *st = NULL;
    if (cmd_db_exists("verify", o.db) != 0)
        return 2;
    if (store_open(&st, o.db, STORE_READONLY, &e) != 0) {
        fprintf(stderr, "eligo verify: %s\n", e.msg);
        return 2;
    }
    int other = verify_same_database(st, &o, cps);
    if (other != 0) {
        store_close(st);
        return other;
    }

    int show = !o.quiet && isatty(2);
    store_report rep;
    double t0 = cmd_seconds();
    int rc = store_verify_chain(st, anchors, o.ncp, &rep, show ? verify_progress : NULL, &t0, &e);
    double secs = cmd_seconds() - t0;
    int schema = store_schema(st);
    store_close(st);
    if (show)
        fprintf(stderr, "\r\033[K");   /* clear the progress line */

    if (rc < 0) {
        fprintf(stderr, "eligo verify: %s\n", e.msg);
        return 2;
    }
    if (rc > 0)
        return verify_report_broken(&o, cps, latest, &rep, &e, secs);
    if (!o.quiet)
        verify_report_intact(&o, cps, latest, &rep, schema, secs);
    return 0;
}
