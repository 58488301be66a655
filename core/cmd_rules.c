/*
 * cmd_rules.c -- the offline rule commands: check, eval, test.
 *
 * They share the rule directory and limit options, load the rule set with
 * ruleset_load and hand it to the engine; nothing here knows Lua.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "client.h"
#include "cmd.h"
#include "date.h"
#include "engine.h"
#include "ruleset.h"

#define CMD_MAX_LINE ((size_t)1 << 20)

typedef struct rules_opts {
    const char *dir;
    int dir_given;   /* by --rules */
    engine_config cfg;
} rules_opts;

/* Returns 0, or -1 after saying which limit in the environment is wrong. */
static int rules_opts_init(rules_opts *o, const char *cmd)
{
    o->dir = cmd_env("ELIGO_RULES", "rules");
    o->dir_given = 0;
    return cmd_limits_env(cmd, &o->cfg);
}

/* Options every rule command takes: returns 1 if OPT was one of them, -1 if
 * its value was wrong (said), 0 if it was not one of them. */
static int rules_opts_parse(rules_opts *o, const char *cmd, int opt, const char *arg)
{
    switch (opt) {
    case 'r': o->dir = arg; o->dir_given = 1; return 1;
    case 'I': return cmd_limit(cmd, "--instructions", arg, &o->cfg) ? -1 : 1;
    case 'M': return cmd_limit(cmd, "--memory", arg, &o->cfg) ? -1 : 1;
    case 'T': return cmd_limit(cmd, "--time-limit", arg, &o->cfg) ? -1 : 1;
    }
    return 0;
}

/* The rules directory given as the one argument left after the options
 * (check and test): 0, or -1 after saying what is wrong. */
static int rules_opts_dir(rules_opts *o, const char *cmd, int argc, char **argv, int first)
{
    if (first + 1 < argc) {
        fprintf(stderr, "eligo %s: one rules directory, not '%s' too\n", cmd, argv[first + 1]);
        return -1;
    }
    if (first >= argc)
        return 0;
    struct stat a, b;   /* rules and rules/ are one directory */
    int same = !strcmp(o->dir, argv[first]) ||
               (stat(o->dir, &a) == 0 && stat(argv[first], &b) == 0 && a.st_dev == b.st_dev &&
                a.st_ino == b.st_ino);
    if (o->dir_given && !same) {
        fprintf(stderr, "eligo %s: one rules directory: --rules %s, or %s, not both\n", cmd,
                o->dir, argv[first]);
        return -1;
    }
    o->dir = argv[first];
    return 0;
}

#define RULES_LONGOPTS                                                                   \
    {"rules", required_argument, NULL, 'r'}, {"instructions", required_argument, NULL, 'I'}, \
        {"memory", required_argument, NULL, 'M'}, {"time-limit", required_argument, NULL, 'T'}, \
        {"help", no_argument, NULL, 'h'}

#define RULES_USAGE                                                                        \
    "  --rules DIR          rule directory (default $ELIGO_RULES or ./rules)\n"             \
    "  --instructions N     Lua instructions allowed per decision (default\n"              \
    "                       $ELIGO_INSTRUCTIONS, else 1000000)\n"                          \
    "  --memory BYTES       memory cap of each Lua state (default $ELIGO_MEMORY,\n"        \
    "                       else 67108864)\n"                                              \
    "  --time-limit MS      wall-clock time allowed per decision (default\n"               \
    "                       $ELIGO_TIME_LIMIT, else 1000)\n"

static void report_stdout(void *ud, const char *file, int line, const char *msg)
{
    const char *dir = ud;
    if (*file)
        printf("%s/%s:%d: %s\n", dir, file, line, msg);
    else
        printf("%s: %s\n", dir, msg);   /* the whole set */
}

/* check's reports: report_stdout's, and a count of the warnings. */
typedef struct check_said {
    const char *dir;
    int warnings;
} check_said;

static void report_check(void *ud, const char *file, int line, const char *msg)
{
    check_said *said = ud;
    said->warnings += engine_warning(msg) != NULL;
    report_stdout((void *)said->dir, file, line, msg);
}

static void report_note(void *ud, const char *file, int line, const char *msg)
{
    const char *dir = ud;
    printf("note: %s/%s:%d: %s\n", dir, file, line, msg);
}

static void report_none(void *ud, const char *file, int line, const char *msg)
{
    (void)ud, (void)file, (void)line, (void)msg;
}

int cmd_rules_lint(const char *cmd, const char *what, ruleset *rs, const engine_config *cfg,
                   const char *dir)
{
    err e;
    err_clear(&e);
    int n = engine_lint(rs, cfg, report_none, NULL, &e);
    if (n > 0)
        fprintf(stderr, "eligo %s: warning: %s has %d problem%s (eligo check %s): the server "
                "would refuse it\n", cmd, what, n, n == 1 ? "" : "s", dir);
    else if (n < 0)
        fprintf(stderr, "eligo %s: warning: %s could not be checked (%s): the server would "
                "refuse it\n", cmd, what, e.msg);
    return n;
}

/* ---------------------------------------------------------------- check */

/* check --against BEFORE: warn, through report_check, of each parameter
 * value of RS that differs from BEFORE's on a day already decided.  A set
 * that does not load was reported by lint; it is not compared.  Returns 0,
 * or -1 after saying why the sets could not be compared. */
static int check_against(const rules_opts *o, const char *before, ruleset *rs, check_said *said)
{
    int rc = -1;
    err e, new_e;   /* new_e: why RS does not load, which lint has said */
    err_clear(&e);
    err_clear(&new_e);
    char today[11];
    buf json;
    buf_init(&json, (size_t)64 << 20);
    engine *old_en = NULL, *en = NULL;
    ruleset *old = ruleset_load(before, &e);
    if (!old)
        goto done;
    old_en = engine_new(old, &o->cfg, &e);
    if (!old_en || engine_param_values(old_en, &json, &e) != 0)
        goto done;
    en = engine_new(rs, &o->cfg, &new_e);
    if (!en) {
        rc = 0;
        goto done;
    }
    date_format(date_today(), today);
    if (engine_param_edits(en, json.data, json.len, today, report_check, said, &e) != 0)
        goto done;
    rc = 0;
done:
    if (rc != 0)
        fprintf(stderr, "eligo check: --against %s: %s\n", before, e.msg);
    engine_free(en);
    engine_free(old_en);
    ruleset_free(old);
    buf_free(&json);
    return rc;
}

int cmd_check(int argc, char **argv)
{
    static const struct option longopts[] = {RULES_LONGOPTS,
                                             {"against", required_argument, NULL, 'a'},
                                             {0, 0, 0, 0}};
    rules_opts o;
    if (rules_opts_init(&o, "check") != 0)
        return 2;
    int opt;
    const char *against = NULL;
    optind = 1;
    while ((opt = cmd_getopt("check", argc, argv, "h", longopts)) != -1) {
        int known = rules_opts_parse(&o, "check", opt, optarg);
        if (known < 0)
            return 2;
        if (known)
            continue;
        if (opt == 'a') {
            against = optarg;
            continue;
        }
        /* After getopt's complaint, not into the output a pipe reads. */
        fprintf(opt == 'h' ? stdout : stderr, "usage: eligo check [OPTIONS] [DIR]\n"
               "Load and lint a rule directory: every problem as file:line: message.\n"
               "Prints the rule set's content hash; exit status 0 only when clean.\n"
               "  --against OLD_DIR    warn of each parameter value in force up to today\n"
               "                       that differs from the set in OLD_DIR's (decisions\n"
               "                       already made): a change is a new dated value\n" RULES_USAGE);
        return opt == 'h' ? 0 : 2;
    }
    if (rules_opts_dir(&o, "check", argc, argv, optind) != 0)
        return 2;
    err e;
    err_clear(&e);
    ruleset *rs = ruleset_load(o.dir, &e);
    if (!rs) {
        fprintf(stderr, "eligo check: %s\n", e.msg);
        return 1;
    }
    check_said said = {o.dir, 0};
    int n = engine_lint(rs, &o.cfg, report_check, &said, &e);
    if (n < 0)
        fprintf(stderr, "eligo check: %s\n", e.msg);
    int compared = against ? check_against(&o, against, rs, &said) : 0;
    printf("ruleset %s (%zu files)\n", ruleset_hash(rs), ruleset_count(rs));
    if (n == 0 && compared != 0)   /* said above, on stderr */
        printf("%s: not compared with %s\n", o.dir, against);
    else if (n == 0 && said.warnings)
        printf("%s: clean, with %d warning%s\n", o.dir, said.warnings, said.warnings == 1 ? "" : "s");
    else if (n == 0)
        printf("%s: clean\n", o.dir);
    else if (n > 0)
        printf("%s: %d problem%s\n", o.dir, n, n == 1 ? "" : "s");
    ruleset_free(rs);
    return n == 0 && compared == 0 ? 0 : 1;
}

/* ----------------------------------------------------------------- test */

int cmd_test(int argc, char **argv)
{
    static const struct option longopts[] = {RULES_LONGOPTS, {"quiet", no_argument, NULL, 'q'},
                                             {0, 0, 0, 0}};
    rules_opts o;
    if (rules_opts_init(&o, "test") != 0)
        return 2;
    int opt, quiet = 0;
    optind = 1;
    while ((opt = cmd_getopt("test", argc, argv, "hq", longopts)) != -1) {
        int known = rules_opts_parse(&o, "test", opt, optarg);
        if (known < 0)
            return 2;
        if (known)
            continue;
        if (opt == 'q') {
            quiet = 1;
            continue;
        }
        /* After getopt's complaint, not into the output a pipe reads. */
        fprintf(opt == 'h' ? stdout : stderr, "usage: eligo test [OPTIONS] [DIR]\n"
               "Run the test cases (*.test.lua) beside the rules; print each failing case\n"
               "with expected and actual, and criteria no case makes fail or pass.\n"
               "  --quiet, -q          do not print the coverage notes\n" RULES_USAGE);
        return opt == 'h' ? 0 : 2;
    }
    if (rules_opts_dir(&o, "test", argc, argv, optind) != 0)
        return 2;
    err e;
    err_clear(&e);
    ruleset *rs = ruleset_load(o.dir, &e);
    if (!rs) {
        fprintf(stderr, "eligo test: %s\n", e.msg);
        return 1;
    }
    engine *en = engine_new(rs, &o.cfg, &e);
    if (!en) {
        /* Every problem, as check gives them, at DIR/file:line. */
        int n = engine_lint(rs, &o.cfg, report_stdout, (void *)o.dir, &e);
        if (n <= 0)
            fprintf(stderr, "eligo test: %s\n", e.msg);
        printf("%s: the rules do not load, so no case ran\n", o.dir);
        ruleset_free(rs);
        return 1;
    }
    /* Cases that pass on a set the server would refuse prove nothing it
     * serves: they run, and the status says so. */
    int problems = cmd_rules_lint("test", "the rule set", rs, &o.cfg, o.dir);
    int passed = 0, failed = 0;
    int rc = engine_test(en, report_stdout, quiet ? NULL : report_note, (void *)o.dir, &passed,
                         &failed, &e);
    if (rc < 0)
        fprintf(stderr, "eligo test: %s\n", e.msg);
    printf("%d passed, %d failed\n", passed, failed);
    if (rc == 0 && passed + failed == 0)   /* nothing shown to hold is no pass */
        fprintf(stderr, "eligo test: %s has no test cases (NAME.test.lua files beside the "
                "rules, see the README's \"Test cases\")\n", o.dir);
    engine_free(en);
    ruleset_free(rs);
    return rc == 0 && passed + failed > 0 && problems == 0 ? 0 : 1;
}

/* ----------------------------------------------------------------- eval */

/* R as the server replies to it, one line: its id, and its decision (a
 * decide), decisions (a screen) or the error CODE and WHY. */
static void eval_reply(const engine_result *r, const char *code, const char *why)
{
    buf b;
    buf_init(&b, (size_t)64 << 20);
    int one = r->op == ENGINE_OP_DECIDE;
    int rc = buf_adds(&b, "{\"id\":") || buf_adds(&b, r->id ? r->id : "null");
    if (!rc && code)
        rc = buf_adds(&b, ",\"ok\":false,\"error\":{\"code\":") ||
             buf_add_json_string(&b, code, strlen(code)) || buf_adds(&b, ",\"message\":") ||
             buf_add_json_string(&b, why ? why : "", why ? strlen(why) : 0) ||
             buf_adds(&b, "}}");
    else if (!rc)
        rc = buf_adds(&b, one ? ",\"ok\":true,\"decision\":" : ",\"ok\":true,\"decisions\":[");
    for (size_t i = 0; !rc && !code && i < r->ndecisions; i++)
        rc = (i && buf_addc(&b, ',')) || buf_add(&b, r->decisions[i].json, r->decisions[i].json_len);
    if (!rc && !code)
        rc = buf_adds(&b, one ? "}" : "]}");
    if (rc == 0) {
        fwrite(b.data, 1, b.len, stdout);
        fputc('\n', stdout);
    } else {
        printf("{\"id\":%s,\"ok\":false,\"error\":{\"code\":\"internal\",\"message\":"
               "\"the reply is too large\"}}\n", r->id ? r->id : "null");
    }
    buf_free(&b);
}

int cmd_eval(int argc, char **argv)
{
    static const struct option longopts[] = {
        RULES_LONGOPTS,
        {"program", required_argument, NULL, 'p'},
        {"screen", no_argument, NULL, 's'},
        {"as-of", required_argument, NULL, 'a'},
        {"lang", required_argument, NULL, 'l'},
        {"replies", no_argument, NULL, 'R'},
        {0, 0, 0, 0},
    };
    rules_opts o;
    if (rules_opts_init(&o, "eval") != 0)
        return 2;
    engine_defaults d = {.op = ENGINE_OP_NONE};
    int opt, screen = 0, replies = 0;
    int32_t day;
    optind = 1;
    while ((opt = cmd_getopt("eval", argc, argv, "h", longopts)) != -1) {
        int known = rules_opts_parse(&o, "eval", opt, optarg);
        if (known < 0)
            return 2;
        if (known)
            continue;
        switch (opt) {
        case 'p': d.program = optarg; continue;
        case 's': screen = 1; continue;
        case 'R': replies = 1; continue;
        case 'a':
            /* A flag's fault is the command's, not each line's that leaves
             * the field out. */
            if (date_parse(optarg, strlen(optarg), &day) != 0) {
                fprintf(stderr, "eligo eval: --as-of '%s' is not a valid date (YYYY-MM-DD)\n",
                        optarg);
                return 2;
            }
            d.as_of = optarg;
            continue;
        case 'l':
            if (cmd_lang("eval", optarg) != 0)
                return 2;
            d.lang = optarg;
            continue;
        }
        /* After getopt's complaint, not into the output a pipe reads. */
        fprintf(opt == 'h' ? stdout : stderr, "usage: eligo eval [--program ID | --screen] [OPTIONS] [FILE|-]\n"
               "Decide JSON-lines applications offline and print each decision as a JSON line.\n"
               "A line is a decide or screen request ({\"applicant\":{...}, \"program\", \"as_of\",\n"
               "\"lang\"; \"op\" may be left out); the flags give what a line leaves out.\n"
               "Without either flag, a line without \"op\" is a decide when it names a\n"
               "\"program\" and a screen otherwise, as eligo submit sends it.\n"
               "  --program ID         decide this programme\n"
               "  --screen             decide every programme in force\n"
               "  --as-of DATE         decision date (default: today)\n"
               "  --lang en|fr|ar      language of the messages (default en)\n"
               "  --replies            one line per application, as the server replies to it:\n"
               "                       its id, and its decision, decisions or error\n" RULES_USAGE);
        return opt == 'h' ? 0 : 2;
    }
    if (optind + 1 < argc) {
        fprintf(stderr, "eligo eval: one file of applications, not '%s' too\n", argv[optind + 1]);
        return 2;
    }
    if (screen && d.program) {
        fprintf(stderr, "eligo eval: --program and --screen exclude each other\n");
        return 2;
    }
    d.op = screen ? ENGINE_OP_SCREEN : d.program ? ENGINE_OP_DECIDE : ENGINE_OP_NONE;
    const char *path = optind < argc ? argv[optind] : "-";
    FILE *in = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!in) {
        fprintf(stderr, "eligo eval: cannot open %s: %s\n", path, strerror(errno));
        return 2;
    }
    err e;
    err_clear(&e);
    ruleset *rs = ruleset_load(o.dir, &e);
    engine *en = rs ? engine_new(rs, &o.cfg, &e) : NULL;
    if (!en) {
        fprintf(stderr, "eligo eval: %s\n", e.msg);
        ruleset_free(rs);
        if (in != stdin)
            fclose(in);
        return 2;
    }
    cmd_rules_lint("eval", "the rule set", rs, &o.cfg, o.dir);   /* decided all the same */
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int errors = 0;
    buf sent;   /* the line as submit would send it, when no flag gives the op */
    buf_init(&sent, CMD_MAX_LINE + 4096);
    const client_defaults as_submit = {0};
    while ((n = getline(&line, &cap, in)) != -1) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (client_blank(line, (size_t)n))
            continue;   /* blank, as the server takes it */
        if ((size_t)n > CMD_MAX_LINE) {
            fprintf(stderr, "%s:%ld: line_too_long: %zd bytes (limit %zu)\n", path, lineno, n,
                    CMD_MAX_LINE);
            errors++;
            continue;
        }
        const char *req = line;
        size_t len = (size_t)n;
        buf_reset(&sent);
        const char *op;
        size_t oplen;
        if (d.op == ENGINE_OP_NONE && !client_member(line, len, "op", &op, &oplen) &&
            client_prepare(line, len, &as_submit, NULL, &sent, NULL, &e) == 0) {
            req = sent.data;
            len = sent.len - 1;   /* its '\n' */
        }
        engine_result *r = engine_request(en, req, len, &d);
        if (r && req != line && r->error_code &&
            (!strcmp(r->error_code, "invalid_json") ||
             (r->error_message && strstr(r->error_message, " at byte ")))) {
            engine_result_free(r);   /* the byte offset is the file's, not the completed line's */
            r = engine_request(en, line, (size_t)n, &d);
        }
        if (!r) {
            fprintf(stderr, "%s:%ld: internal: out of memory\n", path, lineno);
            errors++;
            continue;
        }
        const char *code = r->error_code, *why = r->error_message;
        char offline[96];
        if (!code && r->ndecisions == 0 && r->op != ENGINE_OP_SCREEN) {
            const char *name = engine_op_name(r->op);
            snprintf(offline, sizeof offline, "op '%s' is not decided offline (decide or screen)",
                     name ? name : "?");
            code = "invalid_request";
            why = offline;
        }
        if (code) {
            fprintf(stderr, "%s:%ld: %s: %s\n", path, lineno, code, why ? why : "");
            errors++;
        }
        if (replies)
            eval_reply(r, code, why);
        else
            for (size_t i = 0; i < r->ndecisions; i++) {
                fwrite(r->decisions[i].json, 1, r->decisions[i].json_len, stdout);
                fputc('\n', stdout);
            }
        engine_result_free(r);
    }
    /* A read that failed (a directory, an I/O error) is not the input's end:
     * what was not read was not decided. */
    int unread = ferror(in);
    if (unread)
        fprintf(stderr, "eligo eval: reading %s after line %ld: %s\n",
                strcmp(path, "-") ? path : "the standard input", lineno, strerror(errno));
    free(line);
    buf_free(&sent);
    if (in != stdin)
        fclose(in);
    engine_free(en);
    ruleset_free(rs);
    return unread ? 2 : errors ? 1 : 0;
}
