/* main.c -- the eligo binary: one table of subcommands. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "date.h"
#include "err.h"
#include "file.h"
#include "store.h"
#include "version.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"check", cmd_check, "load and lint a rule directory, print its content hash"},
    {"eval", cmd_eval, "decide JSON-lines applications offline and print the decisions"},
    {"test", cmd_test, "run the test cases that sit beside the rules"},
    {"serve", cmd_serve, "serve decisions over a Unix socket (NDJSON), hot-reloading the rules"},
    {"submit", cmd_submit, "send JSON-lines applications to a running server, print the replies"},
    {"bench", cmd_bench, "load-test a running server: throughput and latency percentiles"},
    {"verify", cmd_verify, "recompute the decisions' hash chain, name the first bad record"},
    {"audit", cmd_audit, "explain, query, export, sign and review the record (eligo audit --help)"},
    {"keygen", cmd_keygen, "make an Ed25519 key pair for signing checkpoints"},
    {"replay", cmd_replay, "re-decide stored applications under other rules (or their own): what changes"},
    {"backup", cmd_backup, "copy a live database consistently, sync it, verify the copy's chain"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: eligo COMMAND [OPTIONS]   (eligo COMMAND --help for its options)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n  eligo --version   this build: its version and the commit it was built from\n");
}

const char *cmd_env(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

int cmd_limit(const char *cmd, const char *opt, const char *text, engine_config *cfg)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    int memory = strstr(opt, "MEMORY") || strstr(opt, "memory");
    int time = strstr(opt, "TIME") || strstr(opt, "time");
    if (errno || *text < '0' || *text > '9' || *end || (memory && v > SIZE_MAX)) {
        fprintf(stderr, "eligo %s: %s wants a whole number of %s, not '%s'\n", cmd, opt,
                memory ? "bytes" : time ? "milliseconds" : "instructions", text);
        return -1;
    }
    if (v == 0 && opt[0] == '-') {   /* (unset, the environment's read "0": the default) */
        fprintf(stderr, "eligo %s: %s 0 would allow nothing; give at least 1, or leave it out "
                "for the default\n", cmd, opt);
        return -1;
    }
    if (memory) {
        /* A cap above the machine's memory caps nothing: a rule that
         * allocates without end would take the machine down first. */
        long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
        unsigned long long ram = 0;
        if (pages > 0 && size > 0)
            ram = (unsigned long long)pages * (unsigned long long)size;
        if (ram && v > ram) {
            fprintf(stderr, "eligo %s: %s %llu is more than this machine's memory (%llu MiB): "
                    "it would cap nothing; give at most %llu\n", cmd, opt, v, ram >> 20, ram);
            return -1;
        }
        cfg->memory = (size_t)v;
    }
    else if (time)
        cfg->time_ms = v;
    else
        cfg->instructions = v;
    return 0;
}

int cmd_lang(const char *cmd, const char *lang)
{
    if (!strcmp(lang, "en") || !strcmp(lang, "fr") || !strcmp(lang, "ar"))
        return 0;
    fprintf(stderr, "eligo %s: --lang is en, fr or ar, not '%s'\n", cmd, lang);
    return -1;
}

int cmd_db_exists(const char *cmd, const char *db)
{
    struct stat sb;
    if (!*db) {
        fprintf(stderr, "eligo %s: --db is empty: give a database file with --db FILE or "
                "ELIGO_DB\n", cmd);
        return -1;
    }
    int there = stat(db, &sb) == 0;
    if (!there && errno == EACCES) {
        /* There may well be one, in a directory this uid cannot enter. */
        char why[600];
        err_denied(db, 0, why, sizeof why);
        fprintf(stderr, "eligo %s: cannot open %s: %s%s%s\n", cmd, db, strerror(EACCES),
                *why ? ": " : "", why);
        return -1;
    }
    if (!there || (S_ISREG(sb.st_mode) && sb.st_size == 0)) {
        fprintf(stderr, "eligo %s: no database at %s%s (give one with --db FILE or ELIGO_DB)\n",
                cmd, db, there ? ", an empty file" : "");
        return -1;
    }
    return 0;
}

int cmd_since_until(const char *cmd, const char *since, const char *until, int by_as_of)
{
    const char *t = since && strlen(since) > 10 ? since
                    : until && strlen(until) > 10 ? until : NULL;
    if (by_as_of && t) {
        fprintf(stderr, "eligo %s: with --by-as-of, --since and --until compare with as_of, a "
                "date: give YYYY, YYYY-MM or YYYY-MM-DD, not '%s'\n", cmd, t);
        return -1;
    }
    if (!since || !until || !strncmp(since, until, strlen(until)) || strcmp(since, until) <= 0)
        return 0;
    fprintf(stderr, "eligo %s: --since %s is after --until %s: no decision can be in between\n",
            cmd, since, until);
    return -1;
}

const char *cmd_opt(int argc, char **argv, int *i, const char *name, int *missing)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] != '=' && a[n] != '\0')
        return NULL;
    const char *v = a[n] == '=' ? a + n + 1 : *i + 1 < argc ? argv[*i + 1] : NULL;
    if (!v || !*v) {   /* "--db" last: no value; "--db=" or "--db ''": an empty one */
        *missing = v ? 2 : 1;
        return NULL;
    }
    if (a[n] == '\0')
        ++*i;
    return v;
}

int cmd_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts)
{
    int k = -1;
    int opt = getopt_long(argc, argv, shortopts, longopts, &k);
    if (k >= 0 && longopts[k].has_arg == required_argument && optarg && !*optarg) {
        fprintf(stderr, "eligo %s: empty value given to '--%s'\n", cmd, longopts[k].name);
        return '?';
    }
    return opt;
}

const char *cmd_opt_why(int missing)
{
    return missing == 2 ? "empty value given to" : missing ? "missing value after"
                                                            : "unknown argument";
}

/* N digits at S as a number, or -1 when they are not all digits. */
static int cmd_digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* The length of the prefix of a stored time that TEXT stands for, or -1.
 * Each field is checked where it ends: "2026-13" fails on its month. */
static int cmd_time_prefix(const char *t)
{
    size_t n = strlen(t);
    int32_t days;
    if (n > CMD_TIME_MAX || n < 4 || cmd_digits(t, 4) < 1)   /* the longest: ".fffZ" */
        return -1;
    if (n == 4)
        return 4;
    if (t[4] != '-' || n < 7 || cmd_digits(t + 5, 2) < 1 || cmd_digits(t + 5, 2) > 12)
        return -1;
    if (n == 7)
        return 7;
    if (t[7] != '-' || n < 10 || date_parse(t, 10, &days) != 0)
        return -1;
    if (n == 10)
        return 10;
    /* A time of day: THH, :MM, :SS, .f to .fff, each optional after the
     * hour, then perhaps a Z. */
    static const struct { char sep; int max; } parts[] = {{'T', 23}, {':', 59}, {':', 59}};
    size_t i = 10;
    for (size_t k = 0; k < sizeof parts / sizeof parts[0] && i < n && t[i] != 'Z'; k++) {
        int v = t[i] == parts[k].sep && i + 3 <= n ? cmd_digits(t + i + 1, 2) : -1;
        if (v < 0 || v > parts[k].max)
            return -1;
        i += 3;
    }
    if (i == 10)
        return -1;              /* a Z or anything else straight after the date */
    if (i == 19 && i < n && t[i] == '.') {
        size_t f = 0;
        while (i + 1 + f < n && f < 4 && t[i + 1 + f] >= '0' && t[i + 1 + f] <= '9')
            f++;
        if (f < 1 || f > 3)
            return -1;
        i += 1 + f;
    }
    if (i == n)
        return (int)n;
    return i + 1 == n && t[i] == 'Z' ? (int)i : -1;
}

int cmd_time_filter(const char *cmd, const char *opt, const char *text,
                    char out[CMD_TIME_MAX])
{
    int n = cmd_time_prefix(text);
    if (n < 0) {
        fprintf(stderr, "eligo %s: %s wants a date or a time, YYYY, YYYY-MM, YYYY-MM-DD or "
                "YYYY-MM-DDTHH[:MM[:SS[.fff]]][Z] (a real date; hours to 23), not '%s'\n",
                cmd, opt, text);
        return -1;
    }
    memcpy(out, text, (size_t)n);
    out[n] = '\0';
    return 0;
}

int cmd_hash_prefix(const char *cmd, const char *opt, const char *text, char out[65])
{
    size_t n = strlen(text);
    for (size_t i = 0; i < n && n <= 64; i++) {
        char c = text[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            n = 0;
        else
            out[i] = c;
    }
    if (n == 0 || n > 64) {
        fprintf(stderr, "eligo %s: %s wants a rule set's hash or a prefix of it (1 to 64 hex "
                "digits), not '%s'\n", cmd, opt, text);
        return -1;
    }
    out[n] = '\0';
    return 0;
}

FILE *cmd_output_create(const char *cmd, const char *what, const char *path, int mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) {
        if (errno == EEXIST)
            fprintf(stderr, "eligo %s: %s exists: %s never overwrites a file (give a new "
                    "name, or remove it first)\n", cmd, path, what);
        else
            fprintf(stderr, "eligo %s: cannot create %s: %s\n", cmd, path, strerror(errno));
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        fprintf(stderr, "eligo %s: cannot write %s: %s\n", cmd, path, strerror(errno));
        close(fd);
        unlink(path);
    }
    return f;
}

int cmd_output_close(const char *cmd, FILE *f, const char *path, int failed)
{
    if (!f)
        return 0;
    /* On the disk before the command says it is done: a checkpoint or an
     * export a crash then took would be missed only later. */
    int bad = ferror(f) || (!failed && (fflush(f) != 0 || fsync(fileno(f)) != 0));
    if (fclose(f) != 0)
        bad = 1;
    if (!failed && !bad && file_sync_parent(path) != 0)
        bad = 1;
    if (!failed && !bad)
        return 0;
    int saved = errno;
    unlink(path);
    if (failed)
        return 1;
    fprintf(stderr, "eligo %s: writing %s failed: %s (the file is removed)\n", cmd, path,
            strerror(saved ? saved : EIO));
    return -1;
}

double cmd_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cmd_limits_env(const char *cmd, engine_config *cfg)
{
    *cfg = (engine_config){0};
    return cmd_limit(cmd, "ELIGO_INSTRUCTIONS", cmd_env("ELIGO_INSTRUCTIONS", "0"), cfg) |
           cmd_limit(cmd, "ELIGO_MEMORY", cmd_env("ELIGO_MEMORY", "0"), cfg) |
           cmd_limit(cmd, "ELIGO_TIME_LIMIT", cmd_env("ELIGO_TIME_LIMIT", "0"), cfg);
}

/* What went to standard output must have arrived: a listing cut short by a
 * full disk must not end as a success.  STATUS as the command returned it,
 * or 2 when it succeeded and the output did not. */
static int main_checked(const char *cmd, int status)
{
    errno = 0;
    int flushed = fflush(stdout) == 0, why = errno;
    if (flushed && !ferror(stdout))
        return status;
    /* Status 2, a failure, has been said; 1 (a reply that was an error, a
     * fault found) is an answer, and the answer was not written. */
    if (status != 2)
        fprintf(stderr, "eligo%s%s: writing standard output failed: %s\n", cmd ? " " : "",
                cmd ? cmd : "", !flushed && why ? strerror(why) : "an earlier write failed");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return main_checked(NULL, 0);
    }
    if (!strcmp(argv[1], "--version")) {
        printf("eligo %s (source %s)\n", eligo_version, eligo_source);
        return main_checked(NULL, 0);
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            char name[64];   /* what getopt's messages begin with */
            snprintf(name, sizeof name, "eligo %s", commands[i].name);
            argv[1] = name;
            return main_checked(commands[i].name, commands[i].run(argc - 1, argv + 1));
        }
    fprintf(stderr, "eligo: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
