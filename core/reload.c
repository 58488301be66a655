/*
 * reload.c -- watch the rules, check a new set off the loop, swap it in.
 *
 * Design notes.
 *
 * States (loop thread):
 *   IDLE      no reload under way; a change (reload_fs_cb) restarts the
 *             debounce timer, SIGHUP or the timer calls reload_request, as
 *             do the retry after a failure (reload_retry_cb) and the
 *             directory coming back (reload_rewatch_cb); every
 *             RELOAD_LOOK_S the follow timer starts a quiet run itself
 *             (reload_follow_cb, reload_start).
 *   RUNNING   a uv_work_t is queued or running (reload_work on a thread-pool
 *             thread, then reload_done on the loop).  A request meanwhile
 *             sets `again`, and reload_done starts one more run.
 *   CLOSING   reload_close has closed the five handles; the object is freed
 *             once they have all closed and no work is running.
 * Invariants (reload_check, debug builds):
 *   1. `again` implies `running`.
 *   2. While CLOSING, no new work is queued.
 *   3. reload_work writes only the rl->work_* fields and rl->rejected (which
 *      only it reads), and reads besides only rl->dir, rl->cfg and
 *      rl->looking, which the loop thread leaves alone while a run is under
 *      way; the pool and the writer it calls are thread-safe.  The loop
 *      thread does not read work_* until reload_done.
 */
#include "reload.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "ruleset.h"
#include "store.h"

enum { RELOAD_APPLIED, RELOAD_UNCHANGED, RELOAD_REJECTED, RELOAD_FAILED, RELOAD_GONE };

struct reload {
    uv_loop_t *loop;
    reload_config cfg;
    char *dir;

    uv_fs_event_t watch;
    uv_timer_t follow;            /* every second: is rl->dir still the directory watched? */
    dev_t dev;                    /* the directory the watch is on */
    ino_t ino;
    int swapped;                  /* another is there now: watch anew when the debounce ends */
    int stale;                    /* the watched directory itself was deleted or moved: the
                                     watch may hear nothing more */
    uv_timer_t debounce;
    uv_timer_t rewatch;           /* retries the watch while the directory is gone */
    int watching;                 /* the watch is on the directory now at rl->dir */
    uv_signal_t hup;
    uv_work_t work;
    int running, again, closing;
    int quiet;                    /* the run at start: "unchanged" is not news */
    uint64_t retry_ms;            /* the wait before the next try after a failure: it
                                     doubles, to RELOAD_RETRY_MAX_MS; 0 after a success */
    int looking;                  /* a look of reload_follow_cb's, no event behind it */
    unsigned ticks;               /* of the follow timer */
    char rejected[65];            /* hash of the last set rejected: a look passes it over */
    int open_handles;
    reload_close_cb *close_cb;
    void *close_arg;

    /* Filled by reload_work, read by reload_done. */
    int work_outcome;
    ruleset *work_rs;             /* the candidate set */
    char work_old[65];            /* hash being replaced */
    int work_passed, work_failed;
    reload_notes work_notes;      /* its warnings */
    char work_msg[1024];          /* first problems, "file:line: message; ..." */
};

#ifndef NDEBUG
static void reload_check(const reload *rl)
{
    assert(!rl->again || rl->running);   /* 1 */
}
#else
#define reload_check(rl) ((void)0)
#endif

static void reload_report(void *ud, const char *file, int line, const char *msg)
{
    reload *rl = ud;
    size_t used = strlen(rl->work_msg);
    if (engine_warning(msg)) {   /* no reason to reject */
        reload_log_note(&rl->work_notes, file, line, engine_warning(msg));
        return;
    }
    if (used + 4 >= sizeof rl->work_msg)
        return;
    if (file && !*file)   /* the whole set */
        snprintf(rl->work_msg + used, sizeof rl->work_msg - used, "%s%s", used ? "; " : "",
                 msg ? msg : "");
    else
        snprintf(rl->work_msg + used, sizeof rl->work_msg - used, "%s%s:%d: %s",
                 used ? "; " : "", file ? file : "?", line, msg ? msg : "");
}

void reload_log_note(void *ud, const char *file, int line, const char *msg)
{
    reload_notes *nt = ud;
    if (nt->n++ < RELOAD_NOTES_SHOWN)
        log_warn("rules: %s:%d: %s", file ? file : "?", line, msg ? msg : "");
}

void reload_notes_end(const reload_notes *nt, const char *dir)
{
    int more = nt->n - RELOAD_NOTES_SHOWN;
    if (more > 0)
        log_warn("rules: %d more warning%s not logged (eligo check %s and eligo test %s "
                 "list them all)", more, more == 1 ? "" : "s", dir, dir);
}

/* reload_log_note for the run's own notes: UD is the reload. */
static void reload_work_note(void *ud, const char *file, int line, const char *msg)
{
    reload *rl = ud;
    reload_log_note(&rl->work_notes, file, line, msg);
}

static int reload_store_applied(store *st, void *ud, err *e)
{
    reload *rl = ud;
    char detail[256];
    snprintf(detail, sizeof detail, "ruleset %s replaces %s; %d test cases passed",
             ruleset_hash(rl->work_rs), rl->work_old, rl->work_passed);
    if (store_put_ruleset(st, rl->work_rs, e) < 0 || store_event(st, "reload", detail, e) < 0) {
        snprintf(rl->work_msg, sizeof rl->work_msg, "cannot store the rule set: %s", e->msg);
        return err_set(e, "internal", "%s", rl->work_msg);
    }
    return 0;
}

static int reload_store_rejected(store *st, void *ud, err *e)
{
    reload *rl = ud;
    if (store_event(st, "reload_rejected", rl->work_msg, e) < 0) {
        char why[sizeof e->msg];
        snprintf(why, sizeof why, "%s", e->msg);
        log_error("cannot record the rejected reload: %s", why);
        return err_set(e, "internal", "cannot record the rejected reload: %.400s", why);
    }
    return 0;
}

/* On a thread-pool thread: load, compile, test; store and swap if good. */
static void reload_work(uv_work_t *req)
{
    reload *rl = req->data;
    err e;
    err_clear(&e);
    rl->work_msg[0] = '\0';
    rl->work_passed = rl->work_failed = 0;
    rl->work_notes.n = 0;
    rl->work_rs = NULL;

    ruleset *cur = pool_ruleset(rl->cfg.pool);
    snprintf(rl->work_old, sizeof rl->work_old, "%s", ruleset_hash(cur));
    ruleset_free(cur);

    ruleset *rs = ruleset_load(rl->dir, &e);
    if (!rs && rl->looking) {   /* (an event will come, and say it) */
        rl->work_outcome = RELOAD_UNCHANGED;
        goto done;
    }
    if (!rs) {
        /* Moved away or deleted after reload_start looked (this run waited
         * for a thread, or was reading it): no set to judge, as there, and
         * no rejection to record; reload_done waits for it to come back. */
        struct stat sb;
        if (stat(rl->dir, &sb) != 0 && errno == ENOENT) {
            rl->work_outcome = RELOAD_GONE;
            goto done;
        }
        snprintf(rl->work_msg, sizeof rl->work_msg, "%s", e.msg);
        goto rejected;
    }
    rl->work_rs = rs;
    if (!strcmp(ruleset_hash(rs), rl->work_old) ||
        (rl->looking && !strcmp(ruleset_hash(rs), rl->rejected))) {
        rl->work_outcome = RELOAD_UNCHANGED;
        goto done;
    }
    /* Checked as eligo check would: every problem, file:line. */
    int problems = engine_lint(rs, &rl->cfg.engine, reload_report, rl, &e);
    if (problems != 0) {
        char first[900];
        snprintf(first, sizeof first, "%.899s", rl->work_msg);
        if (problems < 0)
            snprintf(rl->work_msg, sizeof rl->work_msg, "the rules could not be checked: %s", e.msg);
        else
            snprintf(rl->work_msg, sizeof rl->work_msg, "%d problem%s: %s", problems,
                     problems == 1 ? "" : "s", first);
        goto rejected;
    }
    engine *en = engine_new(rs, &rl->cfg.engine, &e);
    if (!en) {
        snprintf(rl->work_msg, sizeof rl->work_msg, "%s", e.msg);
        goto rejected;
    }
    int rc = engine_test(en, reload_report, reload_work_note, rl, &rl->work_passed,
                         &rl->work_failed, &e);
    engine_free(en);
    if (rc < 0) {
        snprintf(rl->work_msg, sizeof rl->work_msg, "the test cases did not run: %s", e.msg);
        goto rejected;
    }
    if (rc != 0 || rl->work_failed > 0) {
        char first[900];
        snprintf(first, sizeof first, "%.899s", rl->work_msg);
        snprintf(rl->work_msg, sizeof rl->work_msg, "%d of %d test cases failed: %s",
                 rl->work_failed, rl->work_failed + rl->work_passed, first);
        goto rejected;
    }
    /* The workers' engines, built here, off the serving threads: a worker
     * then only takes its own, and a set reported applied is what every
     * worker serves.  One that cannot be built now (memory, or a load near
     * the time limit on a busy machine) is tried again. */
    engine **built = pool_build(rl->cfg.pool, rs, &e);
    if (!built) {
        snprintf(rl->work_msg, sizeof rl->work_msg, "the workers' engines could not be built: %s",
                 e.msg);
        rl->work_outcome = RELOAD_FAILED;
        goto done;
    }
    /* Stored before the swap: no decision can name a set the store lacks. */
    if (writer_call(rl->cfg.writer, reload_store_applied, rl) < 0) {
        pool_built_free(rl->cfg.pool, built);
        rl->work_outcome = RELOAD_FAILED;
        goto done;
    }
    pool_swap(rl->cfg.pool, rs, built);
    rl->work_outcome = RELOAD_APPLIED;
    goto done;

rejected:
    rl->work_outcome = RELOAD_REJECTED;
    snprintf(rl->rejected, sizeof rl->rejected, "%s", rs ? ruleset_hash(rs) : "");
    writer_call(rl->cfg.writer, reload_store_rejected, rl);
done:
    reload_notes_end(&rl->work_notes, rl->dir);
}

static void reload_maybe_free(reload *rl)
{
    if (!rl->closing || rl->running || rl->open_handles)
        return;
    reload_close_cb *cb = rl->close_cb;
    void *arg = rl->close_arg;
    free(rl->dir);
    free(rl);
    if (cb)
        cb(arg);
}

static void reload_done(uv_work_t *req, int status);
static void reload_fs_cb(uv_fs_event_t *h, const char *filename, int events, int status);
static void reload_rewatch_cb(uv_timer_t *t);

/* Watch the directory now at rl->dir.  A watch follows the directory it was
 * set on: one deleted and made again, or replaced by a rename (how a deploy
 * swaps rules in), would never be heard from again.  So after every reload
 * the watch is set again when it is not on the directory now at rl->dir, or
 * that directory was itself deleted or moved (stale); while the directory is
 * gone, every second until it is back, and then the rules are reloaded.  A
 * watch still on the right directory is kept: setting it again would drop
 * the changes it has heard and not yet told (an edit saved as a reload
 * ends would be lost).  Returns 1 when a watch was set anew. */
static int reload_watch(reload *rl)
{
    if (rl->closing)
        return 0;
    struct stat sb;
    if (rl->watching && !rl->stale && uv_is_active((uv_handle_t *)&rl->watch) &&
        stat(rl->dir, &sb) == 0 && sb.st_dev == rl->dev && sb.st_ino == rl->ino)
        return 0;
    rl->stale = 0;
    if (rl->watching)
        uv_fs_event_stop(&rl->watch);
    int rc = uv_fs_event_start(&rl->watch, reload_fs_cb, rl->dir, 0);
    int was = rl->watching;
    rl->watching = rc == 0;
    if (rc == 0) {
        if (stat(rl->dir, &sb) == 0) {   /* what reload_follow_cb compares with */
            rl->dev = sb.st_dev;
            rl->ino = sb.st_ino;
        }
        uv_timer_stop(&rl->rewatch);
        if (!was && uv_is_active((uv_handle_t *)&rl->watch))
            log_info("watching %s again", rl->dir);
    } else if (was || !uv_is_active((uv_handle_t *)&rl->rewatch)) {
        if (rc == UV_ENOENT)
            log_warn("rules: %s is gone (moved or deleted): still serving the rules loaded; "
                     "looking for it every second", rl->dir);
        else
            log_warn("cannot watch %s (%s): trying again every second; SIGHUP reloads", rl->dir,
                     uv_strerror(rc));
        uv_timer_start(&rl->rewatch, reload_rewatch_cb, 1000, 1000);
    }
    return rc == 0;
}

/* Whether rl->dir is gone (moved away or deleted): then there is no set to
 * try (nor a rejection to record), and the watch, set again once it is back
 * (said once, looked for every second), reloads then. */
static int reload_gone(reload *rl)
{
    struct stat sb;
    if (stat(rl->dir, &sb) == 0 || errno != ENOENT)
        return 0;
    rl->stale = 1;
    reload_watch(rl);
    return 1;
}

/* Queue the work; RUNNING from here until reload_done. */
static void reload_start(reload *rl)
{
    if (!reload_gone(rl)) {
        rl->running = 1;
        rl->work.data = rl;
        int rc = uv_queue_work(rl->loop, &rl->work, reload_work, reload_done);
        if (rc == 0)
            return;
        rl->running = 0;
        log_error("cannot start a reload: %s", uv_strerror(rc));
    }
    /* No run: the next, when the directory is back, is no quiet look, even
     * if the look every RELOAD_LOOK_S asked for this one. */
    rl->quiet = 0;
    rl->looking = 0;
}

#define RELOAD_RETRY_MS 5000
#define RELOAD_RETRY_MAX_MS 300000   /* a disk full for hours: a line every 5 min, not 5 s */
#define RELOAD_LOOK_S 10   /* the look for changes no event told of (reload_follow_cb) */

static void reload_timer_cb(uv_timer_t *t);

static void reload_retry_cb(uv_timer_t *t)
{
    reload *rl = t->data;
    if (rl->swapped) {   /* a swap seen meanwhile waited on this timer: it takes the swap */
        reload_timer_cb(t);
        return;
    }
    reload_request(rl, "trying again after a failure");
}

static void reload_done(uv_work_t *req, int status)
{
    reload *rl = req->data;
    const char *hash = rl->work_rs ? ruleset_hash(rl->work_rs) : "";
    if (rl->looking && status != UV_ECANCELED && rl->work_outcome != RELOAD_UNCHANGED)
        log_warn("rules: %s changed with no word from the watch (its events were lost): "
                 "found by the look every %d s", rl->dir, RELOAD_LOOK_S);
    if (status == UV_ECANCELED) {
        log_debug("reload cancelled");
    } else if (rl->work_outcome == RELOAD_APPLIED) {
        log_info("rules reloaded: ruleset %s (%d test cases passed); was %s", hash,
                 rl->work_passed, rl->work_old);
        if (!rl->work_passed)
            log_warn("rules: the new set has no test cases: nothing shows that its rules "
                     "decide as intended (NAME.test.lua files beside the rules)");
    } else if (rl->work_outcome == RELOAD_UNCHANGED) {
        if (rl->quiet)
            log_debug("rules unchanged since they were loaded (ruleset %s)", hash);
        else
            log_info("rules unchanged (ruleset %s)", hash);
    } else if (rl->work_outcome == RELOAD_GONE) {
        log_debug("rules: %s went away while it was being read", rl->dir);
        rl->stale = 1;   /* reload_watch below says so, and looks for it */
    } else if (rl->work_outcome == RELOAD_FAILED) {
        /* Not the rules' fault (the database refused to store the set, a
         * full disk): tried again, or the server would serve the old set
         * until someone noticed. */
        rl->retry_ms = !rl->retry_ms ? RELOAD_RETRY_MS
                       : rl->retry_ms * 2 > RELOAD_RETRY_MAX_MS ? RELOAD_RETRY_MAX_MS
                                                                : rl->retry_ms * 2;
        log_error("reload not applied: %s; trying again in %llu s", rl->work_msg,
                  (unsigned long long)(rl->retry_ms / 1000));
        if (!rl->closing)
            uv_timer_start(&rl->debounce, reload_retry_cb, rl->retry_ms, 0);
    } else {
        log_error("reload rejected, still serving ruleset %s: %s", rl->work_old, rl->work_msg);
    }
    if (status != UV_ECANCELED && rl->work_outcome != RELOAD_FAILED)
        rl->retry_ms = 0;   /* the store took a set, or had none to take */
    ruleset_free(rl->work_rs);
    rl->work_rs = NULL;
    rl->running = 0;
    rl->quiet = 0;
    rl->looking = 0;
    /* A watch set anew has not heard what changed before it was set: one
     * more look.  (It is set anew only when the directory changed, so this
     * does not go on.) */
    if (reload_watch(rl) && status != UV_ECANCELED)
        rl->again = 1;
    int again = rl->again && !rl->closing;
    rl->again = 0;
    if (again)
        reload_start(rl);
    reload_check(rl);
    reload_maybe_free(rl);
}

void reload_request(reload *rl, const char *why)
{
    if (rl->closing)
        return;
    if (!rl->running && reload_gone(rl))   /* as reload_start would, before "reloading" */
        return;
    log_info("reloading the rules in %s (%s)", rl->dir, why);
    if (rl->running) {
        rl->again = 1;
        return;
    }
    reload_start(rl);
    reload_check(rl);
}

static void reload_timer_cb(uv_timer_t *t)
{
    reload *rl = t->data;
    if (rl->swapped) {
        rl->swapped = 0;
        reload_watch(rl);
        reload_request(rl, "the rules directory was replaced");
        return;
    }
    reload_request(rl, "rule files changed");
}

static int reload_is_rule_file(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && !strcmp(name + n - 4, ".lua") && name[0] != '.';
}

static void reload_fs_cb(uv_fs_event_t *h, const char *filename, int events, int status)
{
    reload *rl = h->data;
    if (status < 0) {
        log_warn("watching %s: %s", rl->dir, uv_strerror(status));
        return;
    }
    /* The directory itself deleted or moved: the watch is told by its own
     * name, and may hear nothing more. */
    const char *base = strrchr(rl->dir, '/');
    base = base && base[1] ? base + 1 : rl->dir;
    if (filename && (events & UV_RENAME) && !strcmp(filename, base)) {
        log_debug("rules: %s itself was moved or deleted", rl->dir);
        rl->stale = 1;
    }
    if (filename && !reload_is_rule_file(filename))
        return;   /* editor swap files, backups */
    log_debug("rules: %s changed", filename ? filename : "a file");
    uv_timer_start(&rl->debounce, reload_timer_cb, rl->cfg.debounce_ms, 0);
}

/* Every second: when rl->dir names another directory than the one the
 * watch is on (a set swapped in by a rename, a symbolic link switched), the
 * watch is set on it and the rules reloaded.  A look, rather than a watch
 * of the parent directory, which also hears every write of a database kept
 * beside the rules.  And every RELOAD_LOOK_S, a quiet reload, off the loop:
 * the kernel drops a watch's events when too many wait (16,384 while the
 * server could not read them), and an edit among them would be served
 * never.  The files are read and hashed; unchanged, or the set last
 * rejected, nothing more is done or said. */
static void reload_follow_cb(uv_timer_t *t)
{
    reload *rl = t->data;
    struct stat sb;
    if (!rl->watching || rl->swapped)
        return;
    /* (Not while a change waits out its debounce, or a failed reload its
     * retry: that run is coming, and the look would say the watch missed it.) */
    if (++rl->ticks % RELOAD_LOOK_S == 0 && !rl->running && !rl->closing &&
        !uv_is_active((uv_handle_t *)&rl->debounce)) {
        rl->quiet = 1;
        rl->looking = 1;
        reload_start(rl);
    }
    if (stat(rl->dir, &sb) != 0) {
        reload_gone(rl);
        return;
    }
    if (sb.st_dev == rl->dev && sb.st_ino == rl->ino && !rl->stale)
        return;
    log_debug("rules: %s is another directory now", rl->dir);
    rl->swapped = 1;
    uv_timer_start(&rl->debounce, reload_timer_cb, rl->cfg.debounce_ms, 0);
}

static void reload_rewatch_cb(uv_timer_t *t)
{
    reload *rl = t->data;
    reload_watch(rl);
    if (rl->watching)
        reload_request(rl, "the rules directory is back");
}

static void reload_hup_cb(uv_signal_t *s, int signum)
{
    (void)signum;
    reload_request(s->data, "SIGHUP");
}

int reload_init(reload **out, uv_loop_t *loop, const reload_config *cfg, err *e)
{
    reload *rl = calloc(1, sizeof *rl);
    if (!rl)
        return err_set(e, "internal", "out of memory");
    rl->loop = loop;
    rl->cfg = *cfg;
    if (!rl->cfg.debounce_ms)
        rl->cfg.debounce_ms = 100;
    rl->dir = strdup(cfg->dir);
    if (!rl->dir) {
        free(rl);
        return err_set(e, "internal", "out of memory");
    }
    /* "rules/" as "rules": the watch names the directory itself by the
     * last part of its path (reload_fs_cb), which must be "rules". */
    for (size_t n = strlen(rl->dir); n > 1 && rl->dir[n - 1] == '/'; n--)
        rl->dir[n - 1] = '\0';
    uv_timer_init(loop, &rl->debounce);
    rl->debounce.data = rl;
    uv_signal_init(loop, &rl->hup);
    rl->hup.data = rl;
    uv_fs_event_init(loop, &rl->watch);
    rl->watch.data = rl;
    uv_timer_init(loop, &rl->rewatch);
    rl->rewatch.data = rl;
    uv_timer_init(loop, &rl->follow);
    rl->follow.data = rl;
    rl->open_handles = 5;
    uv_timer_start(&rl->follow, reload_follow_cb, 1000, 1000);
    int rc = uv_signal_start(&rl->hup, reload_hup_cb, SIGHUP);
    if (rc < 0)
        log_warn("cannot catch SIGHUP: %s", uv_strerror(rc));
    rl->watching = 1;   /* as if: the first watch logs only a failure */
    reload_watch(rl);
    /* A change made while the server started, after the rules were read and
     * before the watch was set, would never be seen: look once more, now. */
    rl->quiet = 1;
    reload_start(rl);
    *out = rl;
    return 0;
}

static void reload_handle_closed(uv_handle_t *h)
{
    reload *rl = h->data;
    rl->open_handles--;
    reload_maybe_free(rl);
}

void reload_close(reload *rl, reload_close_cb *cb, void *arg)
{
    if (rl->closing)
        return;
    rl->closing = 1;
    rl->close_cb = cb;
    rl->close_arg = arg;
    uv_close((uv_handle_t *)&rl->watch, reload_handle_closed);
    uv_close((uv_handle_t *)&rl->rewatch, reload_handle_closed);
    uv_close((uv_handle_t *)&rl->debounce, reload_handle_closed);
    uv_close((uv_handle_t *)&rl->hup, reload_handle_closed);
    /* Closing the handle gave SIGHUP back its default action, which ends the
     * process: a SIGHUP while the server stops (a log rotation's) would lose
     * the requests still in flight. */
    signal(SIGHUP, SIG_IGN);
    uv_close((uv_handle_t *)&rl->follow, reload_handle_closed);
}
