/*
 * cmd_serve.c -- `eligo serve`: parse the options, check the rules, open the
 * store, start the checkpointer, the writer, the pool, the server and the
 * reload watcher, run the loop until SIGINT/SIGTERM, then take everything
 * down in order.
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include <uv.h>

#include "checkpointer.h"
#include "cmd.h"
#include "engine.h"
#include "log.h"
#include "pool.h"
#include "reload.h"
#include "ruleset.h"
#include "seen.h"
#include "server.h"
#include "store.h"
#include "version.h"
#include "writer.h"


typedef struct serve_options {
    const char *socket;
    const char *listen;
    int force_listen;
    const char *rules;
    const char *db;
    long workers;
    long queue;
    long max_connections;
    long idle_timeout;
    long line_timeout;
    long max_line;
    long batch;
    long past_mb;           /* --history-cache */
    engine_config limits;   /* 0: the engine's default */
    int nosync;
    log_level level;
} serve_options;

/* What the signal handlers need to stop everything. */
typedef struct serve_state {
    uv_signal_t sigint, sigterm;
    server *srv;
    reload *rl;
    int stopping;
    int signals;   /* sigint and sigterm are started */
} serve_state;

static void serve_usage(FILE *f)
{
    fprintf(f,
            "usage: eligo serve [OPTIONS]\n"
            "\n"
            "Serve decisions over a Unix socket: newline-delimited JSON requests in,\n"
            "one reply per request, in order (see README, \"Protocol\").  Every\n"
            "decision is committed to the database before its reply is sent.  The\n"
            "rules directory is watched and reloaded when its files change (SIGHUP\n"
            "forces a reload); SIGINT/SIGTERM stop the server cleanly.\n"
            "\n"
            "  --socket PATH          Unix socket (default ./eligo.sock, or $ELIGO_SOCKET)\n"
            "  --listen HOST:PORT     also listen on TCP, loopback only (127.0.0.1:7400)\n"
            "  --force-listen         allow a non-loopback --listen address\n"
            "  --rules DIR            rules directory (default ./rules, or $ELIGO_RULES)\n"
            "  --db FILE              database (default ./eligo.db, or $ELIGO_DB)\n"
            "  --workers N            evaluation threads (default: number of cores)\n"
            "  --queue N              requests in flight before 'overloaded' (default 16384)\n"
            "  --max-connections N    (default 1024)\n"
            "  --idle-timeout SECS    close connections quiet this long (default 300; 0 never)\n"
            "  --line-timeout SECS    a request line must be complete this long after its\n"
            "                         first byte, or it is answered line_timeout and the\n"
            "                         connection closed (default 30; 0 never)\n"
            "  --max-line BYTES       longest request line (default 1048576)\n"
            "  --batch N              most applications per transaction (default 1024)\n"
            "  --history-cache MB     memory for applicants' earlier decisions kept for\n"
            "                         history-aware rules (default 256; 0: read the database)\n"
            "  --instructions N       Lua instructions allowed per request (default 1000000,\n"
            "                         or $ELIGO_INSTRUCTIONS)\n"
            "  --memory BYTES         memory cap of each Lua state (default 67108864,\n"
            "                         or $ELIGO_MEMORY)\n"
            "  --time-limit MS        wall-clock time each request may take (default 1000,\n"
            "                         or $ELIGO_TIME_LIMIT)\n"
            "  --no-sync              synchronous=NORMAL: faster, not crash-durable (benchmarks)\n"
            "  --quiet, -q            log warnings and errors only\n"
            "  --verbose, -v          log connections and reload details too\n"
            "  --help, -h             this text\n");
}

/* The numeric options and the values each takes.  The upper bounds keep a
 * typo from asking for what the machine cannot give (a thread per worker
 * with its own Lua state, arrays of a batch's size, a buffer of a line's)
 * and the timeouts' milliseconds from overflowing. */
static const struct {
    const char *name;
    long min, max;
} serve_ranges[] = {
    {"--workers", 1, 256},
    {"--queue", 1, 1L << 24},
    {"--max-connections", 1, 1L << 20},
    {"--idle-timeout", 0, 366L * 86400},
    {"--line-timeout", 0, 366L * 86400},
    {"--max-line", 2, 1L << 30},
    {"--batch", 1, 1L << 16},
    {"--history-cache", 0, 1L << 20},
};

/* Parse the value of the numeric option OPT. */
static int serve_number(const char *opt, const char *text, long *out)
{
    size_t i = 0;
    while (strcmp(serve_ranges[i].name, opt))
        i++;
    long min = serve_ranges[i].min, max = serve_ranges[i].max;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max) {
        fprintf(stderr, "eligo serve: %s wants a whole number from %ld to %ld, not '%s'\n",
                opt, min, max, text);
        return -1;
    }
    *out = v;
    return 0;
}

/* Returns 0, 1 after --help, -1 on a usage error. */
static int serve_parse(int argc, char **argv, serve_options *o)
{
    o->socket = cmd_env("ELIGO_SOCKET", "eligo.sock");
    o->rules = cmd_env("ELIGO_RULES", "rules");
    o->db = cmd_env("ELIGO_DB", "eligo.db");
    /* 0 leaves the engine's default; the options below override these. */
    if (cmd_limits_env("serve", &o->limits) != 0)
        return -1;
    o->idle_timeout = 300;
    /* A line is sent in one go by any client (a megabyte, the longest by
     * default, takes milliseconds); the idle timeout is for the quiet
     * between requests, which a desk application may keep for minutes, and
     * counts any byte, so it cannot bound a line's time. */
    o->line_timeout = 30;
    o->past_mb = 256;
    o->level = LOG_INFO;
    int quiet = 0, verbose = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        char name[64];
        const char *eq = strchr(a, '=');
        if (eq && !strncmp(a, "--", 2) && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            val = eq + 1;
            a = name;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            serve_usage(stdout);
            return 1;
        }
        static const char *const switches[] = {"--force-listen", "--no-sync", "--quiet",
                                               "--verbose"};
        for (size_t k = 0; val && k < sizeof switches / sizeof switches[0]; k++)
            if (!strcmp(a, switches[k])) {
                /* --no-sync=no must not turn durability off. */
                fprintf(stderr, "eligo serve: %s takes no value, not '%s'\n", a, argv[i]);
                return -1;
            }
        if (!strcmp(a, "--force-listen")) {
            o->force_listen = 1;
            continue;
        }
        if (!strcmp(a, "--no-sync")) {
            o->nosync = 1;
            continue;
        }
        if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            o->level = LOG_WARN;
            quiet = 1;
            continue;
        }
        if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
            o->level = LOG_DEBUG;
            verbose = 1;
            continue;
        }
        static const char *const with_value[] = {
            "--socket", "--listen", "--rules", "--db", "--workers", "--queue",
            "--max-connections", "--idle-timeout", "--line-timeout", "--max-line", "--batch",
            "--history-cache", "--instructions", "--memory", "--time-limit"};
        int known = 0;
        for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
            known |= !strcmp(a, with_value[k]);
        if (!known) {
            fprintf(stderr, "eligo serve: unknown option '%s' (see eligo serve --help)\n", a);
            return -1;
        }
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "eligo serve: %s needs a value\n", a);
                return -1;
            }
            val = argv[++i];
        }
        if (!*val) {   /* an empty --socket listened on an abstract name no one could reach */
            fprintf(stderr, "eligo serve: %s needs a value, not an empty one\n", a);
            return -1;
        }
        int rc = 0;
        if (!strcmp(a, "--socket"))
            o->socket = val;
        else if (!strcmp(a, "--listen"))
            o->listen = val;
        else if (!strcmp(a, "--rules"))
            o->rules = val;
        else if (!strcmp(a, "--db"))
            o->db = val;
        else if (!strcmp(a, "--workers"))
            rc = serve_number(a, val, &o->workers);
        else if (!strcmp(a, "--queue"))
            rc = serve_number(a, val, &o->queue);
        else if (!strcmp(a, "--max-connections"))
            rc = serve_number(a, val, &o->max_connections);
        else if (!strcmp(a, "--idle-timeout"))
            rc = serve_number(a, val, &o->idle_timeout);
        else if (!strcmp(a, "--line-timeout"))
            rc = serve_number(a, val, &o->line_timeout);
        else if (!strcmp(a, "--max-line"))
            rc = serve_number(a, val, &o->max_line);
        else if (!strcmp(a, "--batch"))
            rc = serve_number(a, val, &o->batch);
        else if (!strcmp(a, "--history-cache"))
            rc = serve_number(a, val, &o->past_mb);
        else if (!strcmp(a, "--instructions") || !strcmp(a, "--memory") ||
                 !strcmp(a, "--time-limit"))
            rc = cmd_limit("serve", a, val, &o->limits);
        if (rc < 0)
            return -1;
    }
    if (quiet && verbose) {
        fprintf(stderr, "eligo serve: --quiet and --verbose exclude each other\n");
        return -1;
    }
    err e;
    err_clear(&e);
    if (o->listen && server_check_listen(o->listen, o->force_listen, &e) < 0) {
        fprintf(stderr, "eligo serve: %s\n", e.msg);
        return -1;
    }
    return 0;
}

/* UD: the reload_notes of the load. */
static void serve_report(void *ud, const char *file, int line, const char *msg)
{
    if (engine_warning(msg))   /* served all the same */
        reload_log_note(ud, file, line, engine_warning(msg));
    else if (file && !*file)
        log_error("%s", msg ? msg : "");   /* the whole set */
    else if (line <= 0)   /* the file as a whole (it could not be loaded) */
        log_error("%s: %s", file ? file : "?", msg ? msg : "");
    else
        log_error("%s:%d: %s", file ? file : "?", line, msg ? msg : "");
}

/* The limit options CFG holds (" --memory 100000", ...), or "" when all are
 * the defaults: what eligo check and eligo test need to see what the server
 * saw. */
static void serve_limit_flags(const engine_config *cfg, char *out, size_t n)
{
    snprintf(out, n, "%s%.0llu%s%.0zu%s%.0llu",
             cfg->instructions ? " --instructions " : "", (unsigned long long)cfg->instructions,
             cfg->memory ? " --memory " : "", cfg->memory,
             cfg->time_ms ? " --time-limit " : "", (unsigned long long)cfg->time_ms);
}

/* Load RULES, check it as eligo check does, compile it and run its test
 * cases: the server starts only on a set that a reload would accept.
 * Returns the set, or NULL (logged). */
static ruleset *serve_load_rules(const char *dir, const engine_config *cfg)
{
    err e;
    err_clear(&e);
    ruleset *rs = ruleset_load(dir, &e);
    if (!rs) {
        log_error("rules: %s", e.msg);
        return NULL;
    }
    char flags[128];
    serve_limit_flags(cfg, flags, sizeof flags);
    reload_notes notes = {0};
    int problems = engine_lint(rs, cfg, serve_report, &notes, &e);
    if (problems != 0) {
        reload_notes_end(&notes, dir);
        if (problems < 0)
            log_error("rules: the rules could not be checked%s%s: %s", *flags ? " with" : "",
                      flags, e.msg);
        else
            log_error("rules: %d problem%s (eligo check%s %s); not serving them", problems,
                      problems == 1 ? "" : "s", flags, dir);
        ruleset_free(rs);
        return NULL;
    }
    engine *en = engine_new(rs, cfg, &e);
    if (!en) {
        log_error("rules: %s", e.msg);
        ruleset_free(rs);
        return NULL;
    }
    int passed = 0, failed = 0;
    int rc = engine_test(en, serve_report, reload_log_note, &notes, &passed, &failed, &e);
    engine_free(en);
    reload_notes_end(&notes, dir);
    if (rc < 0) {
        log_error("rules: the test cases did not run: %s", e.msg);
    } else if (rc > 0 || failed) {
        log_error("rules: %d of %d test cases failed (eligo test%s %s); not serving them", failed,
                  passed + failed, flags, dir);
    } else {
        log_info("rules: %s, ruleset %s, %d test cases passed", dir, ruleset_hash(rs), passed);
        if (!passed)   /* eligo test fails such a set: say it here too */
            log_warn("rules: %s has no test cases: nothing shows that its rules decide as "
                     "intended (NAME.test.lua files beside the rules)", dir);
        return rs;
    }
    ruleset_free(rs);
    return NULL;
}

static int serve_event(store *st, void *ud, err *e)
{
    const char **kv = ud;
    if (store_event(st, kv[0], kv[1], e) < 0) {
        char why[sizeof e->msg];
        snprintf(why, sizeof why, "%s", e->msg);
        log_error("cannot record the %s event: %s", kv[0], why);
        return err_set(e, "internal", "cannot record the %s event: %.400s", kv[0], why);
    }
    return 0;
}

/* Each connection is a descriptor: make sure the soft limit allows
 * --max-connections of them (plus the database, the listeners, the log). */
static void serve_raise_nofile(size_t max_connections)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)max_connections + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
        log_warn("only %llu file descriptors allowed: fewer than %zu connections will fit",
                 (unsigned long long)rl.rlim_cur, max_connections);
}

static void serve_closed(void *arg)
{
    (void)arg;
}

static void serve_stop(serve_state *s)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    if (s->srv)
        server_close(s->srv, serve_closed, NULL);
    if (s->rl)
        reload_close(s->rl, serve_closed, NULL);
}

static void serve_signal_cb(uv_signal_t *h, int signum)
{
    serve_state *s = h->data;
    log_info("%s: %s (finishing the requests in flight)", signum == SIGINT ? "SIGINT" : "SIGTERM",
             s->stopping ? "already stopping" : "stopping");
    serve_stop(s);
}

/* One server per database: two would decide from different pictures of the
 * past (each keeps the set of applicants it has stored, seen.h).  An
 * exclusive flock on the file, taken before SQLite opens it and given back
 * after every handle is closed: closing a descriptor of the file drops the
 * process's POSIX locks on it, SQLite's included.  Readers (verify, audit,
 * backup) do not take it.  Returns the descriptor, or -1 (logged). */
static int serve_claim(const char *db)
{
    int fd = open(db, O_RDONLY | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0600);   /* a FIFO: store_open says */
    if (fd < 0) {
        char why[600] = "";
        int error_no = errno;
        const char *error = strerror(error_no);
        if (error_no == EACCES || error_no == EROFS)   /* only a refusal has a whose */
            err_denied(db, 1, why, sizeof why);
        log_error("database %s: %s%s%s", db, error, *why ? ": " : "", why);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            log_error("database %s is in use by another eligo serve (one server per database: two "
                      "would decide from different pictures of the past)", db);
        else
            log_error("database %s: cannot lock it: %s", db, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* The allocator's set-up for a server's many large replies. */
static void serve_tune_malloc(void)
{
#ifdef M_MMAP_THRESHOLD
    /* A block of 1 MiB or more (a large reply, held while its client
     * reads) gets pages of its own, given back when it is freed.  glibc
     * would otherwise raise this threshold to the size of the first such
     * block freed, and serve later ones from the arenas, where the threads'
     * freed replies stay counted in the process's memory: under load the
     * server then held a third more than the replies waiting.  Setting it
     * fixes the trim threshold too, at 128 KiB, where the heap's top would
     * be given back and taken again all the time: 16 MiB, as glibc's own
     * adjustment leaves it once such blocks come and go. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    mallopt(M_TRIM_THRESHOLD, 16 << 20);
#endif
}

/* Catch SIGINT and SIGTERM on LOOP for S; the handles do not keep the loop
 * running. */
static void serve_signals_start(serve_state *s, uv_loop_t *loop)
{
    uv_signal_init(loop, &s->sigint);
    uv_signal_init(loop, &s->sigterm);
    s->sigint.data = s->sigterm.data = s;
    uv_signal_start(&s->sigint, serve_signal_cb, SIGINT);
    uv_signal_start(&s->sigterm, serve_signal_cb, SIGTERM);
    uv_unref((uv_handle_t *)&s->sigint);
    uv_unref((uv_handle_t *)&s->sigterm);
    s->signals = 1;
}

/* Close the signal handles of S and run LOOP until they are closed. */
static void serve_signals_close(serve_state *s, uv_loop_t *loop)
{
    /* Closed only now; the default action, which closing puts back at
     * once, is set aside for the rest of the stop. */
    uv_close((uv_handle_t *)&s->sigint, NULL);
    signal(SIGINT, SIG_IGN);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    signal(SIGTERM, SIG_IGN);
    uv_run(loop, UV_RUN_DEFAULT);
}

/* The detail of the start event, into DETAIL (N bytes): what is served,
 * from where, with which rules, workers and limits. */
static void serve_start_detail(char *detail, size_t n, const serve_options *o, const ruleset *rs,
                               const pool *p, const engine_config *ecfg)
{
    /* Whole paths: the event is read years later, from anywhere. */
    char db_abs[PATH_MAX], sock_abs[PATH_MAX];
    snprintf(detail, n, "eligo %s (source %s), pid %ld, ruleset %s, database %s, "
             "socket %s%s%s, %zu workers, limits --instructions %llu --memory %zu "
             "--time-limit %llu", eligo_version, eligo_source, (long)getpid(),
             ruleset_hash(rs), realpath(o->db, db_abs) ? db_abs : o->db,
             realpath(o->socket, sock_abs) ? sock_abs : o->socket, o->listen ? ", tcp " : "",
             o->listen ? o->listen : "", pool_size(p),
             (unsigned long long)(ecfg->instructions ? ecfg->instructions
                                                     : ENGINE_DEFAULT_INSTRUCTIONS),
             ecfg->memory ? ecfg->memory : ENGINE_DEFAULT_MEMORY,
             (unsigned long long)(ecfg->time_ms ? ecfg->time_ms : ENGINE_DEFAULT_TIME_MS));
}

int cmd_serve(int argc, char **argv)
{
    /* Until the loop catches it, a SIGHUP would end the process (its default
     * action): ignored from the first thing on; a change it announces is
     * found by the look at start (reload.c). */
    signal(SIGHUP, SIG_IGN);
    serve_options o = {0};
    int parsed = serve_parse(argc, argv, &o);
    if (parsed != 0)
        return parsed > 0 ? 0 : 2;
    log_set_level(o.level);
    signal(SIGPIPE, SIG_IGN);
    serve_tune_malloc();
    serve_raise_nofile(o.max_connections ? (size_t)o.max_connections : 1024);

    int status = 1;
    err e;
    err_clear(&e);
    engine_config ecfg = o.limits;
    uv_loop_t loop;
    serve_state s;
    memset(&s, 0, sizeof s);
    store *st = NULL;
    checkpointer *ck = NULL;
    writer *w = NULL;
    pool *p = NULL;
    seen *known = NULL;
    past *kept = NULL;
    ruleset *rs = NULL;
    char detail[2 * PATH_MAX + 512];
    int claim = -1;

    if (server_probe(o.socket, &e) < 0) {
        log_error("%s", e.msg);
        return 1;
    }
    if (!(rs = serve_load_rules(o.rules, &ecfg)))
        return 1;
    int sflags = o.nosync ? STORE_NOSYNC : 0;
    int created = access(o.db, F_OK) != 0;
    if (created)   /* a mistyped --db must not pass for an empty history */
        log_info("database %s does not exist: creating it", o.db);
    if ((claim = serve_claim(o.db)) < 0)
        goto out_rules;
    if (store_open(&st, o.db, sflags, &e) < 0) {
        log_error("database %s: %s", o.db, e.msg);
        goto out_rules;
    }
    if (store_put_ruleset(st, rs, &e) < 0 || checkpointer_new(&ck, st, o.db, sflags, &e) < 0) {
        log_error("database %s: %s", o.db, e.msg);
        goto out_store;
    }
    if (uv_loop_init(&loop) < 0) {
        log_error("uv_loop_init failed");
        goto out_store;
    }

    server_config scfg = {
        .socket_path = o.socket,
        .listen = o.listen,
        .force_listen = o.force_listen,
        .max_line = (size_t)o.max_line,
        .max_connections = (size_t)o.max_connections,
        .queue = (size_t)o.queue,
        .idle_timeout_ms = (uint64_t)o.idle_timeout * 1000,
        .line_timeout_ms = (uint64_t)o.line_timeout * 1000,
        .id_memory = ecfg.memory,
        .version = eligo_version,
    };
    if (server_init(&s.srv, &loop, &scfg, &e) < 0) {
        log_error("%s", e.msg);
        goto out_loop;
    }
    /* The applicants with a decision, so that a history-aware rule does not
     * search the store for the past of a new one. */
    uint64_t t0 = uv_hrtime();
    if (!(known = seen_new()) || seen_load(known, st, &e) < 0) {
        log_error("reading the applicants: %s", known ? e.msg : "out of memory");
        goto out_server;
    }
    log_info("%zu applicants with a decision, read in %.2f s", seen_count(known),
             (double)(uv_hrtime() - t0) / 1e9);
    if (writer_new(&w, st, (size_t)o.batch, server_post, s.srv, &e) < 0) {
        log_error("%s", e.msg);
        goto out_server;
    }
    if (o.past_mb && !(kept = past_new((size_t)o.past_mb << 20, POOL_HISTORY_ROWS,
                                       POOL_HISTORY_ROWS * STORE_HISTORY_SCAN))) {
        log_error("out of memory");
        goto out_server;
    }
    writer_track(w, known, kept);
    pool_config pcfg = {
        .workers = (size_t)o.workers,
        .db_path = o.db,
        .engine = ecfg,
        .writer = w,
        .seen = known,
        .past = kept,
        .done = server_post,
        .health = server_health,
        .refuse_big = server_refuses_big,
        .built_big = server_built_big,
        .ud = s.srv,
    };
    if (pool_new(&p, rs, &pcfg, &e) < 0) {
        log_error("%s", e.msg);
        goto out_server;
    }
    /* SIGINT and SIGTERM are the loop's from before the socket is made to
     * the end: until then they end the start at once (nothing is served
     * yet); once it listens, one sent as the socket appears, or a second
     * while the first drains, would otherwise end the process with the
     * database not closed.  The handles do not keep the loop running. */
    serve_signals_start(&s, &loop);
    if (server_listen(s.srv, p, &e) < 0) {
        log_error("%s", e.msg);
        goto out_server;
    }
    reload_config rcfg = {.dir = o.rules, .engine = ecfg, .pool = p, .writer = w};
    if (reload_init(&s.rl, &loop, &rcfg, &e) < 0) {
        log_error("%s", e.msg);
        goto out_server;
    }

    serve_start_detail(detail, sizeof detail, &o, rs, p, &ecfg);
    const char *start_ev[2] = {"start", detail};
    writer_call(w, serve_event, start_ev);
    log_info("serving: %s", detail);

    uv_run(&loop, UV_RUN_DEFAULT);
    status = 0;
    goto out_loop;

out_server:
    /* A failed start: close what was opened through the normal path. */
    if (!s.stopping) {
        s.stopping = 1;
        server_close(s.srv, serve_closed, NULL);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
out_loop:
    if (s.signals)
        serve_signals_close(&s, &loop);
    if (uv_loop_close(&loop) != 0)
        log_warn("some loop handles were still open at exit");
    pool_free(p);
    writer_free(w);
    seen_free(known);
    past_free(kept);
    if (status == 0) {
        snprintf(detail, sizeof detail, "pid %ld", (long)getpid());
        const char *stop_ev[2] = {"stop", detail};
        serve_event(st, stop_ev, &e);   /* (said in the log when it fails) */
        log_info("stopped; database closed");
    }
out_store:
    /* The checkpointer's handle goes first: the close of the last handle on
     * the file checkpoints what is left and removes the log. */
    checkpointer_free(ck);
    store_close(st);
out_rules:
    ruleset_free(rs);
    if (status != 0 && created && claim >= 0) {
        /* A start that failed (a socket it could not bind, say) leaves no
         * database it made: it never decided anything into it. */
        store_remove_files(o.db);
    }
    if (claim >= 0)
        close(claim);   /* last: every handle on the file is closed */
    return status;
}
