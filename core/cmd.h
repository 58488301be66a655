/*
 * cmd.h -- the subcommands of the eligo binary.
 *
 * Each takes the arguments after its own name (argv[0] is the subcommand
 * name) and returns the process exit status.  They parse options and call
 * module APIs; the work lives in the modules.
 */
#ifndef ELIGO_CMD_H
#define ELIGO_CMD_H

#include <stdio.h>

#include "engine.h"

int cmd_check(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_test(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_backup(int argc, char **argv);

/* The read-only audit subcommands (cmd_audit_query.c), reached through
 * `eligo audit`'s table; argv[0] is the subcommand's name. */
int cmd_audit_show(int argc, char **argv);
int cmd_audit_list(int argc, char **argv);
int cmd_audit_stats(int argc, char **argv);
int cmd_audit_export(int argc, char **argv);
int cmd_audit_rules(int argc, char **argv);

/* Lint RS, the rules of DIR, as eligo check does, and when it has problems
 * (or cannot be linted) say on stderr "eligo CMD: warning: WHAT has N
 * problems (eligo check DIR): the server would refuse it".  Returns the
 * number of problems, or -1. */
int cmd_rules_lint(const char *cmd, const char *what, ruleset *rs, const engine_config *cfg,
                   const char *dir);

/* Environment default: the value of ELIGO_NAME if set, else FALLBACK. */
const char *cmd_env(const char *name, const char *fallback);

/* The engine's limits, for every command that runs rules.  cmd_limits_env
 * clears CFG (every other field of it the engine's default too), then
 * reads ELIGO_INSTRUCTIONS, ELIGO_MEMORY and ELIGO_TIME_LIMIT into it
 * (unset or 0: the engine's default); cmd_limit reads TEXT, the value of
 * option OPT ("--instructions", "--memory" or "--time-limit").  Both return
 * 0, or -1 after printing "eligo CMD: ..." with what is wrong: a value must
 * be a whole number >= 0. */
int cmd_limits_env(const char *cmd, engine_config *cfg);
int cmd_limit(const char *cmd, const char *opt, const char *text, engine_config *cfg);

/* A --lang flag's value: 0 for en, fr or ar; else -1, said on stderr as
 * CMD's ("audit show"). */
int cmd_lang(const char *cmd, const char *lang);

/* --since SINCE and --until UNTIL (either may be NULL), as cmd_time_filter
 * left them: 0, or -1 said on stderr as CMD's when SINCE is after UNTIL,
 * so that no decision can lie between (--until runs to the end of what it
 * names: --since 2025-06-15 --until 2025-06 is half a month), or when
 * BY_AS_OF (--by-as-of) compares them with as_of, a date, and one is a
 * time, which would cut it short ("2025-03-01" sorts before
 * "2025-03-01T10"). */
int cmd_since_until(const char *cmd, const char *since, const char *until, int by_as_of);

/* A database to read or append to, DB (--db or ELIGO_DB): 0 when a file of
 * some bytes is there; else -1, said on stderr as CMD's: an empty name, no
 * file, or an empty one (which SQLite would take for a new database). */
int cmd_db_exists(const char *cmd, const char *db);

/* The value of option NAME at argv[*i] ("--db FILE" or "--db=FILE"),
 * advancing *i past it; NULL when argv[*i] is not that option.  *MISSING is
 * set when the option is there without a value (1) or with an empty one
 * (2). */
const char *cmd_opt(int argc, char **argv, int *i, const char *name, int *missing);

/* getopt_long for CMD ("audit list"), which also refuses an empty value of
 * a long option that takes one (--db '', --out=): said on stderr as CMD's,
 * naming the option, and returned as '?', as getopt returns a fault. */
struct option;
int cmd_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts);

/* What to say of an argument cmd_opt did not take, by its *MISSING: "missing
 * value after" (1), "empty value given to" (2), or "unknown argument" (0). */
const char *cmd_opt_why(int missing);

/* The filters on time that audit and replay take (--since, --until).
 * cmd_time_filter checks TEXT, the value of option OPT, and writes into OUT
 * the prefix of a stored time (2026-11-29T21:04:13.058Z) it stands for:
 * YYYY, YYYY-MM, YYYY-MM-DD (a real date), or YYYY-MM-DDTHH[:MM[:SS[.f]]]
 * (hours 00-23, minutes and seconds 00-59, one to three digits of a second),
 * each time with an optional trailing Z, which is dropped: stored times are
 * compared as text, and "...:13Z" sorts after "...:13.058Z".  So --since X
 * means a time at or after X, and --until X everything up to the end of X.
 * Returns 0, or -1 after printing "eligo CMD: OPT wants ..., not 'TEXT'". */
#define CMD_TIME_MAX 24
int cmd_time_filter(const char *cmd, const char *opt, const char *text,
                    char out[CMD_TIME_MAX]);

/* A rule set's hash, or a prefix of it, as option OPT (--ruleset) takes it:
 * 1 to 64 hex digits, upper case lowered (hashes are stored in lower case).
 * Writes it into OUT; returns 0, or -1 after printing what is wrong. */
int cmd_hash_prefix(const char *cmd, const char *opt, const char *text, char out[65]);

/* Create PATH, a new file of mode MODE (less the umask), for a command's
 * output, and return a stream writing to it.  An existing file is never
 * replaced (O_EXCL: not even one made meanwhile, nor a symbolic link's
 * target), so an output cannot overwrite the database it reports on, a key
 * or an earlier output.  NULL after printing "eligo CMD: PATH exists: WHAT
 * never overwrites a file" (WHAT: "an export", ...) or why it cannot be
 * created.  Close the stream with cmd_output_close. */
FILE *cmd_output_create(const char *cmd, const char *what, const char *path, int mode);


/* Close F, made by cmd_output_create at PATH, after syncing it and its
 * directory to the disk.  When FAILED (the command did not finish writing
 * it), or when the sync or the close fails, PATH is removed: an
 * output cut short must not be left looking complete.  Returns 0 when the
 * file is kept, -1 when it was removed because the close failed (a message
 * printed, "eligo CMD: writing PATH failed: ..."), 1 when removed because
 * FAILED.  F may be NULL (nothing is done, 0 returned). */
int cmd_output_close(const char *cmd, FILE *f, const char *path, int failed);

/* Seconds on the monotonic clock, for timing what a command did. */
double cmd_seconds(void);

#endif
