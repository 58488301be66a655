/*
 * reload.h -- hot reload of the rules directory.
 *
 * The directory is watched (uv_fs_event; changes to *.lua files, debounced so
 * that an editor's save or a `git checkout` gives one reload) and SIGHUP
 * forces a reload.  A reload runs off the loop thread (libuv's thread pool):
 * load the files, compile them, run every test case; only when all pass is
 * the set stored (through the writer), recorded as a "reload" event, and
 * swapped into the pool.  Otherwise the problem is logged with file:line,
 * recorded as a "reload_rejected" event, and the old rules keep serving.
 * A reload asked for while one is running runs once more afterwards.
 */
#ifndef ELIGO_RELOAD_H
#define ELIGO_RELOAD_H

#include <stdint.h>

#include <uv.h>

#include "engine.h"
#include "err.h"
#include "pool.h"
#include "writer.h"

typedef struct reload reload;

typedef struct reload_config {
    const char *dir;           /* the rules directory */
    engine_config engine;      /* limits for the engines built to check */
    pool *pool;                /* swapped into on success */
    writer *writer;            /* stores the set and the events */
    uint64_t debounce_ms;      /* quiet time after the last change (0: 100) */
} reload_config;

/* Start watching CFG->dir and SIGHUP on LOOP.  A directory that cannot be
 * watched is logged, and SIGHUP still works.  Returns 0 and *OUT, or -1 with
 * E; after success, close with reload_close. */
int reload_init(reload **out, uv_loop_t *loop, const reload_config *cfg, err *e);

/* Reload now (WHY goes to the log).  Loop thread. */
void reload_request(reload *rl, const char *why);

/* Stop watching; wait for a reload under way; CB(ARG) once every handle is
 * closed, and RL is freed.  Loop thread. */
typedef void reload_close_cb(void *arg);
void reload_close(reload *rl, reload_close_cb *cb, void *arg);

/* The warnings of one load of a rule set, logged: a lint warning, or a
 * criterion no test case makes fail, or pass (a set whose cases were
 * deleted still passes them all, and this says what they no longer show).
 * The first RELOAD_NOTES_SHOWN are logged, the rest only counted, and
 * reload_notes_end says how many: a large set left untested would log
 * thousands of lines at every reload, which eligo check and eligo test
 * list whole.  reload_log_note is an engine_report_fn whose UD is the
 * reload_notes. */
#define RELOAD_NOTES_SHOWN 20
typedef struct reload_notes {
    int n;   /* notes of this load so far */
} reload_notes;
void reload_log_note(void *ud, const char *file, int line, const char *msg);
void reload_notes_end(const reload_notes *nt, const char *dir);

#endif
