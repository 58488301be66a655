/*
 * cmd_replay.c -- `eligo replay`: options in, replay_run, the report out.
 *
 * Exit status: 0 when the replay ran (candidate mode) or every decision was
 * reproduced (--original); 1 when --original found a difference, or had no
 * decision to re-decide (the filters matched none); 2 for a
 * usage error, a database that cannot be read or a candidate rule set that
 * does not load.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "text.h"
#include "replay.h"

static void replay_usage(FILE *f)
{
    fprintf(f,
        "usage: eligo replay --rules DIR [--db FILE] [FILTERS] [--json] [--jobs N] [--sample N]\n"
        "       eligo replay --original [--db FILE] [FILTERS] [--json] [--jobs N] [--max-listed N]\n"
        "\n"
        "Re-decide stored applications, each at its original as_of and with the earlier\n"
        "decisions its rules originally read, and compare with what was decided.  Nothing\n"
        "is written to the database.\n"
        "\n"
        "  --rules DIR       a candidate rule set: report, per programme, the decisions\n"
        "                    that would move (eligible -> ineligible, ...), the criteria\n"
        "                    whose result changed with them and a sample of decision ids\n"
        "  --original        re-decide every decision under the stored rule set that made\n"
        "                    it: each outcome, criterion result and message must come out\n"
        "                    the same; every difference is listed (exit status 1, as\n"
        "                    when the filters match no decision)\n"
        "  --db FILE         the database (default $ELIGO_DB, else ./eligo.db)\n"
        "  --program ID      only decisions of this programme\n"
        "  --applicant ID    only this applicant's decisions\n"
        "  --since DATE      only decisions made on or after DATE (YYYY, YYYY-MM,\n"
        "  --until DATE      YYYY-MM-DD or YYYY-MM-DDTHH[:MM[:SS[.fff]]][Z]); --until: on\n"
        "                    or before DATE (2025-03: to the end of March)\n"
        "  --by-as-of        --since/--until apply to as_of, the date a decision was made\n"
        "                    for, instead of when it was made: the decisions dated\n"
        "                    before a rule change, say (YYYY, YYYY-MM or YYYY-MM-DD)\n"
        "  --ruleset HASH    only decisions made by this rule set (its hash or a prefix,\n"
        "                    hex digits)\n"
        "  --instructions N  Lua instructions allowed per decision (default\n"
        "                    $ELIGO_INSTRUCTIONS, else 1000000): the server's, to compare\n"
        "  --memory BYTES    memory cap of each Lua state (default $ELIGO_MEMORY, else\n"
        "                    67108864)\n"
        "  --time-limit MS   wall-clock time allowed per decision (default\n"
        "                    $ELIGO_TIME_LIMIT, else 1000)\n"
        "  --json            print one JSON object instead of the table\n"
        "  --jobs N          worker threads (default: the number of cores)\n"
        "  --sample N        decision ids shown per kind of move (default 5)\n"
        "  --max-listed N    differences listed in full with --original (default 1000)\n"
        "  --quiet, -q       no progress line on a terminal\n"
        "  --help            print this help\n");
}

static int replay_number(const char *opt, const char *s, long lo, long hi, size_t *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) {
        fprintf(stderr, "eligo replay: %s takes a number from %ld to %ld, not '%s'\n", opt, lo,
                hi, s);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

/* Progress on a terminal: one line on stderr, rewritten in place. */
static void replay_progress(void *ud, int64_t done, int64_t total, double secs)
{
    (void)ud;
    double rate = secs > 0 ? (double)done / secs : 0.0;
    if (total > 0)
        fprintf(stderr, "\rreplaying: %lld / %lld decisions (%d%%), %.0f/s\033[K",
                (long long)done, (long long)total, (int)(done * 100 / total), rate);
    else
        fprintf(stderr, "\rreplaying: %lld decisions, %.0f/s\033[K", (long long)done, rate);
    fflush(stderr);
}

/* What engine_lint finds is counted, not shown: eligo check shows it. */
int cmd_replay(int argc, char **argv)
{
    enum { O_PROGRAM = 256, O_APPLICANT, O_SINCE, O_UNTIL, O_BY_AS_OF, O_RULESET, O_SAMPLE,
           O_LISTED, O_INSTRUCTIONS, O_MEMORY, O_TIME };
    static const struct option longopts[] = {
        {"rules", required_argument, NULL, 'r'},
        {"original", no_argument, NULL, 'o'},
        {"db", required_argument, NULL, 'd'},
        {"program", required_argument, NULL, O_PROGRAM},
        {"applicant", required_argument, NULL, O_APPLICANT},
        {"since", required_argument, NULL, O_SINCE},
        {"until", required_argument, NULL, O_UNTIL},
        {"by-as-of", no_argument, NULL, O_BY_AS_OF},
        {"ruleset", required_argument, NULL, O_RULESET},
        {"json", no_argument, NULL, 'J'},
        {"jobs", required_argument, NULL, 'j'},
        {"sample", required_argument, NULL, O_SAMPLE},
        {"max-listed", required_argument, NULL, O_LISTED},
        {"instructions", required_argument, NULL, O_INSTRUCTIONS},
        {"memory", required_argument, NULL, O_MEMORY},
        {"time-limit", required_argument, NULL, O_TIME},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    replay_config cfg = {.db_path = cmd_env("ELIGO_DB", "./eligo.db"), .sample = 5};
    const char *rules_dir = NULL;
    char since[CMD_TIME_MAX], until[CMD_TIME_MAX], hash[65], applicant[4096];
    int original = 0, json = 0, quiet = 0, opt, sampled = 0, listed = 0;
    if (cmd_limits_env("replay", &cfg.engine) != 0)
        return 2;

    optind = 1;
    while ((opt = cmd_getopt("replay", argc, argv, "hq", longopts)) != -1) {
        switch (opt) {
        case 'r': rules_dir = optarg; break;
        case 'o': original = 1; break;
        case 'd': cfg.db_path = optarg; break;
        case O_PROGRAM: cfg.filter.program = optarg; break;
        case O_APPLICANT:   /* as the server stored it (text_nfc) */
            cfg.filter.applicant_id =
                text_nfc(optarg, applicant, sizeof applicant) == 0 ? applicant : optarg;
            break;
        case O_SINCE:
        case O_UNTIL:
            if (cmd_time_filter("replay", opt == O_SINCE ? "--since" : "--until", optarg,
                                opt == O_SINCE ? since : until) != 0)
                return 2;
            *(opt == O_SINCE ? &cfg.filter.since : &cfg.filter.until) =
                opt == O_SINCE ? since : until;
            break;
        case O_BY_AS_OF: cfg.filter.by_as_of = 1; break;
        case O_RULESET:
            if (cmd_hash_prefix("replay", "--ruleset", optarg, hash) != 0)
                return 2;
            cfg.filter.ruleset = hash;
            break;
        case 'J': json = 1; break;
        case 'q': quiet = 1; break;
        case 'j':
            if (replay_number("--jobs", optarg, 1, 1024, &cfg.jobs) != 0)
                return 2;
            break;
        case O_SAMPLE:
            if (replay_number("--sample", optarg, 0, 1000, &cfg.sample) != 0)
                return 2;
            sampled = 1;
            break;
        case O_LISTED:
            if (replay_number("--max-listed", optarg, 1, 10000000, &cfg.max_listed) != 0)
                return 2;
            listed = 1;
            break;
        case O_INSTRUCTIONS:
        case O_MEMORY:
        case O_TIME:
            if (cmd_limit("replay", opt == O_MEMORY ? "--memory" : opt == O_TIME ? "--time-limit"
                                                                   : "--instructions", optarg,
                          &cfg.engine) != 0)
                return 2;
            break;
        case 'h':
            replay_usage(stdout);
            return 0;
        default:
            replay_usage(stderr);
            return 2;
        }
    }
    if (optind < argc || (rules_dir != NULL) == original) {
        fprintf(stderr, optind < argc ? "eligo replay: unexpected argument '%s'\n"
                                      : "eligo replay: give either --rules DIR or --original\n",
                optind < argc ? argv[optind] : "");
        replay_usage(stderr);
        return 2;
    }
    /* An option of the other mode would be taken and do nothing. */
    if (original ? sampled : listed) {
        fprintf(stderr, "eligo replay: %s goes with %s\n", original ? "--sample" : "--max-listed",
                original ? "--rules DIR" : "--original");
        return 2;
    }
    if (cmd_since_until("replay", cfg.filter.since, cfg.filter.until, cfg.filter.by_as_of) != 0)
        return 2;
    if (cmd_db_exists("replay", cfg.db_path) != 0)
        return 2;

    err e;
    err_clear(&e);
    if (rules_dir && !(cfg.rules = ruleset_load(rules_dir, &e))) {
        fprintf(stderr, "eligo replay: %s\n", e.msg);
        return 2;
    }
    /* A candidate eligo check faults is replayed all the same (a reform is
     * weighed before it is finished), but said to be one the server would
     * not load. */
    if (cfg.rules)
        cmd_rules_lint("replay", "the candidate", cfg.rules, &cfg.engine, rules_dir);
    int show = !quiet && isatty(2);
    if (show)
        cfg.progress = replay_progress;

    replay_report *rep = NULL;
    int rc = replay_run(&cfg, &rep, &e);
    if (show)
        fprintf(stderr, "\r\033[K");
    ruleset_free(cfg.rules);
    if (rc != 0) {
        fprintf(stderr, "eligo replay: %s\n", e.msg);
        return 2;
    }
    int status = 0;
    if (json) {
        buf out;
        buf_init(&out, (size_t)1 << 30);
        if (replay_json(rep, &out) != 0) {
            fprintf(stderr, "eligo replay: the report does not fit in memory\n");
            status = 2;
        } else {
            fwrite(out.data, 1, out.len, stdout);
            fputc('\n', stdout);
        }
        buf_free(&out);
    } else {
        replay_print(rep, stdout);
    }
    if (status == 0 && original && replay_differences(rep) > 0)
        status = 1;
    if (status == 0 && original && replay_decisions(rep) == 0) {
        /* Nothing re-decided proves nothing: not a success. */
        if (json)
            fprintf(stderr, "eligo replay: no stored decision matched the filters: nothing was "
                    "re-decided\n");
        status = 1;
    }
    replay_report_free(rep);
    return status;
}
