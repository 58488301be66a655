/*
 * engine.c -- one sandboxed Lua state deciding with one rule set.
 *
 * Design notes
 * ------------
 * The rule language lives in Lua (bindings/rules.lua, compiled into the
 * binary); this file owns the lua_State around it: the allocator that caps
 * memory, the hook that caps instructions, the message handler, the loading
 * of a rule set, and the copying of results out of Lua into one C block.
 *
 * States of an engine:
 *   BUILDING  engine_build: libraries opened, rules.lua run, every rule file
 *             run in the sandbox, then seal() freezes what rules can reach.
 *   READY     engine_request / engine_programs / engine_explain / engine_test
 *             may run, one at a time.  Each call starts with a fresh
 *             instruction budget and leaves the Lua stack empty.
 * An engine that fails to build is freed at once; there is no broken state.
 *
 * Invariants (checked by engine_assert in debug builds):
 *   1. Outside a call, the Lua stack is empty and no hook is armed.
 *   2. en->mem counts exactly the bytes the allocator has handed out and not
 *      taken back.  Inside a protected call (engine_call: a rule file
 *      loading, the seal, a request) it never grows past en->mem_cap.
 *      Outside one the cap is lifted (en->capped is 0), since a refusal
 *      there would be a panic: rules.lua booting, a call's arguments going
 *      in, what C reads of its results.  Between calls en->mem is under
 *      en->mem_cap (a call that found it over collects before returning).
 *   3. The registry reference en->api names the table rules.lua returned.
 *
 * Why the instruction hook keeps firing: once the budget is spent, the hook
 * re-arms itself to run on every instruction and raises each time, so a
 * rule's own pcall cannot catch the error and carry on.  The first message,
 * which names the rule's file and line, is kept in en->stop for the reply.
 *
 * How exact the count is: the hook comes every ENGINE_HOOK_STEP instructions,
 * and for the last stretch exactly when the budget is used up, so a call is
 * stopped at its budget's instruction.  A long string charged in between
 * (engine_alloc) adds to what is spent but cannot shorten the stretch being
 * counted down (Lua does not tell how much of it is left): a call that pays
 * for strings may run up to one step past its budget before it is stopped.
 * A call that makes a long string is counted (and its clock read) at every
 * instruction from then on: see ENGINE_LONG_STRING.
 *
 * A request is first decided with no hook at all (the fast attempt, see
 * ENGINE_FAST_RATE): its result is kept only when the budget provably could
 * not have stopped it, else the request is decided again, counted.
 */
#include "engine.h"

#include <assert.h>
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua-cjson.h>
#include <lua.h>
#include <lualib.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bindings.h"
#include "order.h"
#include "date.h"
#include "decision.h"
#include "text.h"

extern const char embed_rules[];
extern const unsigned long embed_rules_len;

#define ENGINE_HOOK_STEP 1000          /* instructions between hook calls */
/* Work done in C on a rule's behalf is paid for in instructions too: one
 * per ENGINE_CHARGE_BYTES of each new string of at least ENGINE_CHARGE_MIN
 * bytes (string.rep, concatenation, table.concat: one instruction can make
 * megabytes of text).  Otherwise a loop of a few instructions could fill
 * megabytes each time round and run for minutes inside its budget.  Only
 * strings are charged, and only long ones, because their size is their
 * content's: the Lua stack and the string table grow or not depending on
 * what the collector last shrank, and short strings are made or found
 * already interned; so the charge is the same for a request however often
 * it is decided, and a replay stops where the original did.  (A table grows
 * by doubling, an instruction per element: the count already pays.) */
#define ENGINE_CHARGE_MIN 1024
#define ENGINE_CHARGE_BYTES 128   /* at 64, an endless doubling met the budget before the cap */
/* One instruction can take long when it compares long strings, text holding
 * NULs above all, which Lua compares a piece at a time (two of 1 MiB: 7 ms);
 * the clock is read at the hook, so a thousand of them ran seconds past the
 * time limit.  A call that makes a string this long (a rule's code, or the
 * decoding of its request), or runs in an engine whose rule files' code made
 * one while loading, is hooked at every instruction from then on: its clock
 * read each time, it ends within an instruction of the limit.  The switch
 * comes at the same instruction each time the request is decided, so where
 * the budget stops it does not depend on the clock; the stretch of
 * instructions under way when it switches goes uncounted (up to 999). */
#define ENGINE_LONG_STRING ((size_t)64 << 10)
#define ENGINE_LOAD_FACTOR 100         /* loading a file may take 100 budgets */

/* The fast attempt.  With any count hook set, Lua calls luaG_traceexec
 * before every VM instruction; the hook costs a request about a tenth of
 * its instructions.  So engine_request first decides a request with no hook
 * (nothing counted), timing it with CLOCK_MONOTONIC, and keeps that result
 * only when the counted run provably gives the same: the call returned a
 * result that is no error, made no long string (ENGINE_LONG_STRING), met no
 * limit of memory, and took T nanoseconds with
 *     T x ENGINE_FAST_RATE + what it paid in C (engine_alloc, engine_pay) <= budget.
 * ENGINE_FAST_RATE bounds the VM instructions any machine runs in a
 * nanosecond: each is a load of the instruction, a decode and an indirect
 * jump on its opcode, which depend on each other, several machine
 * instructions; ten a nanosecond would take ten machine instructions a
 * cycle at 5 GHz, beyond any processor.  Wall time is never less than the
 * thread's CPU time.  So the attempt ran fewer VM instructions than the
 * budget less what it paid, and the counted run of the same request, which
 * runs the same instructions and pays the same (a request keeps no state),
 * is not stopped by the budget: its result is the attempt's.  Anything else
 * (an error, a refusal, the watchdog) throws the attempt away, and the
 * request is decided again, counted, within what is left of its time: only
 * a counted run's errors are reported.  Deciding again changes nothing but
 * decision ids, as after a refusal of the memory cap (engine_request).
 * A budget that allows less than ENGINE_FAST_MIN_NS is never tried fast.
 * Two attempts in a row thrown away for their cost (their time, a long
 * string, the watchdog) make the engine's next ENGINE_FAST_BACKOFF requests
 * counted, so that rules, or a machine, seldom fast enough do not decide
 * each request twice; one alone does not (a request the scheduler or the
 * collector held up, 1 in 300 in build/bench_engine).
 *
 * Nothing counts in the attempt, so a watchdog stops a rule that loops: a
 * timer on the thread's CPU clock (engine_watch_ready), made once per
 * thread that decides requests, signals that thread every ENGINE_WATCH_NS
 * of its CPU time.  When the signal finds the thread in a fast attempt past
 * the time it could be kept, its handler sets a count hook of 1 on the
 * attempt's state (async-signal-safe on the interrupted thread, as lua.c
 * does for SIGINT), and engine_hook raises at every instruction from then
 * on, so that a rule's pcall cannot go on.  A loop is so stopped within
 * ENGINE_WATCH_NS of CPU time past that, then decided again, counted.
 * The time it could be kept is also at most 1/ENGINE_FAST_SHARE of the time
 * limit, so that the counted run after it has nearly all of the limit. */
#define ENGINE_FAST_RATE 10            /* VM instructions a nanosecond, an upper bound */
#define ENGINE_FAST_MIN_NS 20000u
#define ENGINE_FAST_BACKOFF 32
/* A fast attempt runs for at most this share of the time limit: one not kept
 * leaves the counted run what it left of the time, and a budget that
 * allowed an attempt the whole limit (10^10 instructions, 1000 ms) left a
 * request that failed, or ran past its budget's time, too little of it: one
 * that takes 60% of the limit counted was refused for the time, where a
 * counted engine decides it.  The counted run now has 15/16 of the limit at
 * least, less the watchdog's period. */
#define ENGINE_FAST_SHARE 16
#define ENGINE_WATCH_NS 1000000L       /* the watchdog's period, in the thread's CPU time;
                                          its signal: ENGINE_WATCH_SIGNAL (engine.h) */

/* The budget of loading, sealing or linting: ENGINE_LOAD_FACTOR budgets, no
 * more than UINT64_MAX (a budget meant as "no limit" must not wrap to a
 * small one). */
static uint64_t engine_load_budget(uint64_t budget)
{
    return budget > UINT64_MAX / ENGINE_LOAD_FACTOR ? UINT64_MAX : budget * ENGINE_LOAD_FACTOR;
}

/* The budget of sealing or linting the whole set RS: a load budget for each
 * of its files, as loading has one per file.  Both walk every file's
 * declarations (lint reads every file's text too), so their work grows with
 * the set: under one fixed budget, a set of some forty programmes the size
 * of the shipped ones could not be checked, nor served, whatever each file
 * took alone. */
static uint64_t engine_set_budget(uint64_t budget, const ruleset *rs)
{
    uint64_t one = engine_load_budget(budget), n = ruleset_count(rs);
    return n > 1 && one > UINT64_MAX / n ? UINT64_MAX : one * (n ? n : 1);
}

/* Small blocks (tables, short strings, closures: most of what a request
 * allocates) come from size-class free lists carved out of large slabs,
 * rather than from malloc: a request allocates and frees a few hundred of
 * them.  Larger blocks go to malloc.  The slabs are freed with the engine.
 * Address sanitizer builds use malloc for everything, so that it sees each
 * block. */
#define ENGINE_POOL_GRAIN 16                    /* block sizes: multiples of this */
#define ENGINE_POOL_MAX 256                     /* larger blocks: malloc */
#define ENGINE_POOL_SLAB ((size_t)64 << 10)

#if defined(__SANITIZE_ADDRESS__)
#define ENGINE_POOL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ENGINE_POOL 0
#endif
#endif
#ifndef ENGINE_POOL
#define ENGINE_POOL 1
#endif

typedef struct engine_slab {
    struct engine_slab *next;
    max_align_t align;       /* blocks start after this, suitably aligned */
} engine_slab;

typedef struct engine_pool {
    void *free[ENGINE_POOL_MAX / ENGINE_POOL_GRAIN];   /* per class: freed blocks, linked */
    char *next, *end;        /* the unused rest of the newest slab */
    engine_slab *slabs;
} engine_pool;

struct engine {
    lua_State *L;
    ruleset *rs;
    uint64_t budget;         /* instructions allowed in the current call */
    uint64_t per_request;    /* ... in a request's (engine_config.instructions) */
    uint64_t time_ns;        /* wall-clock time a request may take */
    uint64_t started;        /* engine_clock() when the current call began */
    uint64_t deadline;       /* ... and when it must stop */
    uint64_t spent;          /* ... counted at each hook call, */
    int step;                /* ... which comes every `step` instructions */
    int exhausted;           /* the budget ran out during the current call */
    size_t mem;              /* bytes held by the Lua state */
    size_t mem_cap;
    int mem_refused;         /* the allocator refused for the cap */
    int mem_short;           /* malloc itself failed: the machine, not the cap, is short */
    int capped;              /* the cap applies: only inside engine_call */
    int fine;                /* the current call is hooked at every instruction */
    int fine_always;         /* ... every call is: loading made a long string */
    int built;               /* engine_build has finished */
    int api;                 /* registry ref: rules.lua's entry points */
    int watching;            /* ENGINE_WATCH_*: how engine_after looks at the upvalues */
    int watched;             /* registry ref: the thread below, or LUA_NOREF */
    lua_State *watch;        /* its stack: each watched function, then its value */
    int *watch_up;           /* ... and which of its upvalues that is */
    lua_Integer nwatched;    /* how many are watched */
    int fast_off;            /* no fast attempts: engine_config.counted, or too small a budget */
    int fast_skip;           /* requests to decide counted before the next fast attempt */
    int fast_missed;         /* the last fast attempt was thrown away for its cost */
    int fast;                /* the current call is a fast attempt (ENGINE_FAST_RATE) */
    volatile sig_atomic_t fast_stop;   /* ... thrown away: engine_hook raises */
    uint64_t fast_until;     /* engine_now() past which it cannot be kept, */
    uint64_t fast_allow;     /* ... so long after it began */
    uint64_t fast_ns;        /* how long it took */
    uint64_t fast_tried, fast_kept;    /* engine_fast_counts */
    char stop[256];          /* why the budget stopped the call */
    char refused_at[160];    /* "file:line: " where the call asked for the block the cap
                                refused (engine_refused_where), or "" */
    char grew[160];          /* "file:line: " where the call ran last while it held
                                more than half the memory cap, or "" */
    lua_Integer grew_serial; /* ... in the criterion of this decision_serial */
    uint64_t grew_wait;      /* instructions since grew was last looked at */
    buf scratch;             /* result text under construction */
    engine_history_fn *history;   /* earlier decisions, for history-aware rules */
    void *history_ud;
    buf history_out;         /* what the provider wrote */
    int history_got;         /* the fast attempt asked the provider: 1 it wrote history_out, */
    buf history_id;          /* -1 it failed; for this applicant */
    int history_reuse;       /* the counted run after it is given that answer */
    engine_pool pool;        /* small blocks of the Lua state */
    order_host host;         /* engine_pay and engine_tick, for order.c */
};

#ifndef NDEBUG
static void engine_assert(engine *en)
{
    assert(lua_gettop(en->L) == 0);
    assert(lua_gethook(en->L) == NULL);
    assert(!en->capped && en->mem <= en->mem_cap);
    assert(en->api != LUA_NOREF);
}
#else
#define engine_assert(en) ((void)0)
#endif

/* The size class of a block of N bytes (N > 0), or -1 for malloc. */
static int engine_pool_class(size_t n)
{
    return ENGINE_POOL && n <= ENGINE_POOL_MAX ? (int)((n - 1) / ENGINE_POOL_GRAIN) : -1;
}

/* A block of N bytes, N > 0. */
static void *engine_pool_get(engine_pool *pool, size_t n)
{
    int k = engine_pool_class(n);
    if (k < 0)
        return malloc(n);
    void *p = pool->free[k];
    if (p) {
        pool->free[k] = *(void **)p;
        return p;
    }
    size_t size = (size_t)(k + 1) * ENGINE_POOL_GRAIN;
    if ((size_t)(pool->end - pool->next) < size) {
        engine_slab *slab = malloc(ENGINE_POOL_SLAB);
        if (!slab)
            return NULL;
        slab->next = pool->slabs;
        pool->slabs = slab;
        pool->next = (char *)(slab + 1);
        pool->end = (char *)slab + ENGINE_POOL_SLAB;
    }
    p = pool->next;
    pool->next += size;
    return p;
}

/* Give back block P of N bytes (its size when it was got). */
static void engine_pool_put(engine_pool *pool, void *p, size_t n)
{
    int k = engine_pool_class(n);
    if (k < 0) {
        free(p);
        return;
    }
    *(void **)p = pool->free[k];
    pool->free[k] = p;
}

static void engine_pool_free(engine_pool *pool)
{
    for (engine_slab *s = pool->slabs, *next; s; s = next) {
        next = s->next;
        free(s);
    }
    memset(pool, 0, sizeof *pool);
}

static void engine_hook(lua_State *L, lua_Debug *ar);
static void engine_watch(engine *en);
static int engine_report_list(lua_State *L, engine_report_fn *report, void *ud);

/* How engine_after learns whether a rule changed an upvalue: it asks
 * rules.lua's after() every time (before seal, or when the watch thread
 * could not be made), knows none is watched, or looks on the thread. */
enum { ENGINE_WATCH_ALWAYS, ENGINE_WATCH_NONE, ENGINE_WATCH_FAST };

/* Call the hook after STEP more instructions. */
static void engine_arm(engine *en, int step)
{
    en->step = step;
    lua_sethook(en->L, engine_hook, LUA_MASKCOUNT, step);
}

static int engine_rule_line(lua_State *L, lua_Debug *ar, char *out, size_t n);

/* Where the block the cap refuses was asked for: the innermost function of a
 * rule file on the stack, "file:line: ", into en->refused_at.  The memory
 * cap's error has no position of Lua's, and one large block (a string.rep)
 * is refused before the hook has looked (engine.grew).  Called from the
 * allocator, it reads the stack and neither pushes nor allocates (nor does
 * lua_getinfo with "Sl").  [-0, +0, -] */
static void engine_refused_where(engine *en)
{
    lua_Debug ar;
    for (int level = 0; lua_getstack(en->L, level, &ar); level++)
        if (engine_rule_line(en->L, &ar, en->refused_at, sizeof en->refused_at))
            return;
}

/* "file:line: " of AR's function into OUT, when it is a rule file's running
 * a line (not the engine's own rules.lua, nor a C function): 1, or 0.  The
 * engine's chunk is told by its source, "=rules.lua": a rule file may be
 * named rules.lua too, and its source is then "@rules.lua".  [-0, +0, -] */
static int engine_rule_line(lua_State *L, lua_Debug *ar, char *out, size_t n)
{
    if (!lua_getinfo(L, "Sl", ar) || ar->currentline <= 0 || !strcmp(ar->source, "=rules.lua"))
        return 0;
    snprintf(out, n, "%s:%d: ", ar->short_src, ar->currentline);
    return 1;
}

/* The allocator: pooled small blocks, malloc for the rest, with a cap on
 * the state's total. */
static void *engine_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    engine *en = ud;
    int new_string = ptr == NULL && osize == LUA_TSTRING;
    if (ptr == NULL)
        osize = 0;   /* osize then encodes the object's type, not a size */
    if (nsize == 0) {
        if (ptr)
            engine_pool_put(&en->pool, ptr, osize);
        en->mem -= osize;
        return NULL;
    }
    if (nsize > osize && en->capped &&
        (en->mem >= en->mem_cap || nsize - osize > en->mem_cap - en->mem)) {   /* (a request's line may be over) */
        /* Lua answers with a full collection and asks again; refused again,
         * it raises "not enough memory", which a rule's pcall passes on
         * (rules.lua, pass_through). */
        engine_refused_where(en);   /* the last refusal is the one that fails */
        en->mem_refused = 1;
        return NULL;
    }
    void *p;
    int ko = ptr ? engine_pool_class(osize) : -2, kn = engine_pool_class(nsize);
    if (ko == kn && ko >= 0)
        p = ptr;                              /* same small class: the block fits */
    else if (ko == -1 && kn == -1)
        p = realloc(ptr, nsize);
    else if ((p = engine_pool_get(&en->pool, nsize)) != NULL && ptr) {
        memcpy(p, ptr, osize < nsize ? osize : nsize);
        engine_pool_put(&en->pool, ptr, osize);
    }
    if (!p) {
        en->mem_short = 1;   /* Lua collects and asks once more, then raises */
    } else {
        en->mem = en->mem - osize + nsize;
        if (new_string && nsize >= ENGINE_LONG_STRING && en->capped && !en->fine) {
            en->fine_always |= !en->built;   /* a rule file's code made it */
            en->fine = 1;
            engine_arm(en, 1);
        }
        if (new_string && nsize >= ENGINE_CHARGE_MIN && en->capped) {
            en->spent += nsize / ENGINE_CHARGE_BYTES;
            if (en->spent > en->budget)   /* stop at the next instruction, not the next hook */
                engine_arm(en, 1);
        }
    }
    return p;
}

/* Monotonic nanoseconds, to the nanosecond: how long a fast attempt took.
 * From the vDSO, no system call; async-signal-safe. */
static uint64_t engine_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The watchdog (ENGINE_FAST_RATE).  The thread's engine in a fast attempt,
 * or NULL: read by the signal handler, which runs on the same thread.
 * Initial-exec: the handler must not reach the thread's storage through a
 * call that may allocate. */
#define ENGINE_TLS __attribute__((tls_model("initial-exec")))
static __thread engine *volatile engine_fast_running ENGINE_TLS;
static __thread int engine_watch_made ENGINE_TLS;   /* 1: the timer runs; -1: it could not */
static __thread timer_t engine_watch_timer ENGINE_TLS;
static pthread_once_t engine_watch_once = PTHREAD_ONCE_INIT;
static pthread_key_t engine_watch_key;   /* its destructor deletes a thread's timer */
static int engine_watch_installed;       /* the handler is ENGINE_WATCH_SIGNAL's */
/* engine_fast_totals: the fast attempts of every engine, and those kept. */
static _Atomic uint64_t engine_fast_all_tried, engine_fast_all_kept;


/* ENGINE_WATCH_SIGNAL's handler: throw away the thread's fast attempt once
 * it has run past the time it could be kept.  [async-signal-safe] */
static void engine_watchdog(int sig)
{
    (void)sig;
    int saved = errno;
    engine *en = engine_fast_running;
    if (en && !en->fast_stop && engine_now() > en->fast_until) {
        en->fast_stop = 1;
        lua_sethook(en->L, engine_hook, LUA_MASKCOUNT, 1);
    }
    errno = saved;
}

/* A thread that made a timer ends: delete it. */
static void engine_watch_gone(void *made)
{
    (void)made;
    if (engine_watch_made > 0)
        timer_delete(engine_watch_timer);
    engine_watch_made = 0;
}

/* A child of fork has no timers, and only the thread that forked: that one
 * makes its timer again. */
static void engine_watch_forked(void)
{
    engine_watch_made = 0;
}

/* Install the handler, unless the signal is someone else's already. */
static void engine_watch_install(void)
{
    struct sigaction sa, old;
    if (sigaction(ENGINE_WATCH_SIGNAL, NULL, &old) != 0 ||
        (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) ||
        (old.sa_flags & SA_SIGINFO) || pthread_key_create(&engine_watch_key, engine_watch_gone) != 0)
        return;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = engine_watchdog;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(ENGINE_WATCH_SIGNAL, &sa, NULL) != 0)
        return;
    pthread_atfork(NULL, NULL, engine_watch_forked);
    engine_watch_installed = 1;
}

/* Whether the calling thread has its watchdog: made at its first fast
 * attempt, a timer on its CPU clock signalling it every ENGINE_WATCH_NS,
 * the signal unblocked in it.  Without one, no fast attempt.  [-0, +0, -] */
static int engine_watch_ready(void)
{
    if (engine_watch_made)
        return engine_watch_made > 0;
    engine_watch_made = -1;
    pthread_once(&engine_watch_once, engine_watch_install);
    if (!engine_watch_installed)
        return 0;
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = ENGINE_WATCH_SIGNAL;
    sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
    if (timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &engine_watch_timer) != 0)
        return 0;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, ENGINE_WATCH_SIGNAL);
    struct itimerspec every = {{0, ENGINE_WATCH_NS}, {0, ENGINE_WATCH_NS}};
    if (pthread_sigmask(SIG_UNBLOCK, &set, NULL) != 0 ||
        pthread_setspecific(engine_watch_key, &engine_watch_made) != 0 ||
        timer_settime(engine_watch_timer, 0, &every, NULL) != 0) {
        timer_delete(engine_watch_timer);
        return 0;
    }
    engine_watch_made = 1;
    return 1;
}

/* Monotonic nanoseconds, coarse (a few milliseconds), cheap enough for
 * every hook call. */
static uint64_t engine_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The call must stop: say why once, at AR's line, and raise from here on at
 * every instruction.  WHY: 'b' the budget, 't' the time limit.
 * [-0, +1, v] */
static int engine_stop(engine *en, lua_State *L, lua_Debug *ar, int why)
{
    if (!en->exhausted) {
        char what[96];
        en->exhausted = 1;
        if (why == 't')
            snprintf(what, sizeof what, "time limit of %llu ms exceeded",
                     (unsigned long long)((en->deadline - en->started) / 1000000u));
        else
            snprintf(what, sizeof what, "instruction budget of %llu exceeded",
                     (unsigned long long)en->budget);
        /* Where: the rule's line.  Stopped inside a helper (rules.lua's
         * is_in, a C function paying for long work), the line of the rule
         * that called it, up the stack: the engine's own lines say nothing
         * to a rule's author. */
        char at[128] = "";
        if (!ar || !engine_rule_line(L, ar, at, sizeof at)) {
            lua_Debug up;
            for (int level = 0; lua_getstack(L, level, &up); level++)
                if (engine_rule_line(L, &up, at, sizeof at))
                    break;
            if (!*at && ar && lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
                snprintf(at, sizeof at, "%s:%d: ", ar->short_src, ar->currentline);   /* none */
        }
        snprintf(en->stop, sizeof en->stop, "%s%s", at, what);
        engine_arm(en, 1);
    }
    lua_pushstring(L, en->stop);
    return lua_error(L);
}

/* Every `step` instructions: count them, and stop the call past its budget
 * or its time.  The time limit is for what the budget cannot count, such as
 * comparing long strings, which Lua does byte by byte in one instruction.
 * [-0, +0, v] */
static void engine_hook(lua_State *L, lua_Debug *ar)
{
    engine *en = *(engine **)lua_getextraspace(L);
    if (en->fast) {
        /* A fast attempt has a hook only once it is thrown away: set by the
         * watchdog, or for a long string or a charge past the budget
         * (engine_arm).  Raise at every instruction until it ends. */
        en->fast_stop = 1;
        lua_pushliteral(L, "the uncounted attempt is thrown away");
        lua_error(L);
    }
    en->spent += (uint64_t)en->step;
    /* Where a rule that grows without end is, for the memory cap's error,
     * which Lua raises with no position: looked at only near the cap. */
    en->grew_wait += (uint64_t)en->step;   /* every ENGINE_HOOK_STEP, hooked finely or not */
    if (en->mem > en->mem_cap / 2 && en->grew_wait >= ENGINE_HOOK_STEP) {
        en->grew_wait = 0;
        if (engine_rule_line(L, ar, en->grew, sizeof en->grew))
            en->grew_serial = decision_serial(L);
    }
    if (en->spent > en->budget)
        engine_stop(en, L, ar, 'b');
    if (!en->exhausted && engine_clock() > en->deadline)
        engine_stop(en, L, ar, 't');
    if (en->exhausted)
        engine_stop(en, L, ar, 'b');   /* once stopped, every instruction raises */
    /* A call with long strings (ENGINE_LONG_STRING) looks at the clock after
     * every instruction.  (Not on the clock's say: where the budget stops a
     * request must not depend on how long it took.) */
    if (en->fine && en->step > 1)
        engine_arm(en, 1);
    else if (!en->fine && en->budget - en->spent < ENGINE_HOOK_STEP)   /* the last stretch, exactly */
        engine_arm(en, (int)(en->budget - en->spent) + 1);
}

/* In a fast attempt past the time it could be kept: throw it away now, at
 * work in C that looks at the clock, rather than when the watchdog next
 * comes (ENGINE_FAST_RATE).  [-0, +0, v] */
static void engine_fast_late(engine *en, lua_State *L)
{
    if (en->fast && (en->fast_stop || engine_now() > en->fast_until)) {
        en->fast_stop = 1;
        lua_sethook(L, engine_hook, LUA_MASKCOUNT, 1);   /* and at every instruction after */
        lua_pushliteral(L, "the uncounted attempt is thrown away");
        lua_error(L);
    }
}

/* Library functions that go through their arguments in C do work the hook
 * does not see: table.concat of a long list, or string.rep("", 1e9), is one
 * instruction.  In a loop of a few instructions that would run for hours
 * inside the budget.  The sandbox's copies of them (C.charged, which
 * rules.lua puts in place) first pay for the work they are about to do, then
 * run the library's own function in the same frame, so that its errors read
 * as before: an instruction per element shifted, moved, read or joined, per
 * 16 bytes of UTF-8 decoded or of text read as a number, per 128 bytes a
 * plain find searches for each 64 bytes of its needle (string.rep pays for
 * the text it makes, and makes it by doubling: engine_rep).  pairs,
 * next and table.sort are ours (order.c) and pay as they go, through
 * engine_pay.  Calls on the small tables and strings rules work with pay
 * nothing. */
enum { COST_FIND, COST_REP, COST_BYTE, COST_INSERT, COST_REMOVE, COST_MOVE, COST_UNPACK,
       COST_CONCAT, COST_DECODE, COST_NUMBER };   /* INSERT .. CONCAT read a table */
#define ENGINE_FREE_WORK 64

/* LEN as luaL_len gives it, for a table argument; -1 for any other (the
 * library refuses it itself).  May run a __len metamethod, as the library
 * function will.  [-0, +0, e] */
static lua_Integer engine_len(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TTABLE ? luaL_len(L, idx) : -1;
}

/* Integers I .. J (absent: DEF_I .. DEF_J) as a count, saturated; 0 when
 * either is not an integer or the range is empty.  [-0, +0, -] */
static lua_Integer engine_range(lua_State *L, int i, int j, lua_Integer def_i, lua_Integer def_j)
{
    int oki = 1, okj = 1;
    lua_Integer a = lua_isnoneornil(L, i) ? def_i : lua_tointegerx(L, i, &oki);
    lua_Integer b = lua_isnoneornil(L, j) ? def_j : lua_tointegerx(L, j, &okj);
    if (!oki || !okj || b < a)
        return 0;
    return (lua_Unsigned)b - (lua_Unsigned)a >= (lua_Unsigned)LUA_MAXINTEGER
               ? LUA_MAXINTEGER : b - a + 1;
}

/* The bytes of the string at I .. J, after the library's clamping.
 * [-0, +0, -] */
static lua_Integer engine_str_span(lua_State *L, size_t len, int i, int j)
{
    int oki = 1, okj = 1;
    lua_Integer a = lua_isnoneornil(L, i) ? 1 : lua_tointegerx(L, i, &oki);
    lua_Integer b = lua_isnoneornil(L, j) ? a : lua_tointegerx(L, j, &okj);
    lua_Integer n = (lua_Integer)len;
    if (!oki || !okj)
        return 0;
    if (a < 0)
        a = a < -n ? 1 : n + a + 1;
    if (b < 0)
        b = b < -n ? 0 : n + b + 1;
    if (a < 1)
        a = 1;
    if (b > n)
        b = n;
    return b < a ? 0 : b - a + 1;
}

/* What the call about to be made costs, in instructions.  [-0, +0, e] */
static lua_Integer engine_cost(lua_State *L, int kind)
{
    size_t n = 0, m = 0;
    lua_Integer len;
    switch (kind) {
    case COST_FIND:
        if (lua_type(L, 1) != LUA_TSTRING || lua_type(L, 2) != LUA_TSTRING)
            return 0;
        lua_tolstring(L, 1, &n);
        lua_tolstring(L, 2, &m);
        /* At worst n x m byte comparisons; usually about n.  Charged n / 128
         * for each 64 bytes of the needle begun: a 200-byte search of a
         * megabyte costs 32,768 (the time limit bounds the worst case). */
        return (lua_Integer)(n / 128 * (1 + m / 64));

    case COST_BYTE:
        if (lua_type(L, 1) != LUA_TSTRING)
            return 0;
        lua_tolstring(L, 1, &n);
        return engine_str_span(L, n, 2, 3);
    case COST_DECODE:
        if (lua_type(L, 1) != LUA_TSTRING)
            return 0;
        lua_tolstring(L, 1, &n);
        return (lua_Integer)(n / 16);
    case COST_NUMBER:   /* tonumber, and arithmetic on strings: each is read whole */
        for (int i = 1; i <= 2; i++)
            if (lua_type(L, i) == LUA_TSTRING) {
                lua_tolstring(L, i, &m);
                n += m;
            }
        return (lua_Integer)(n / 16);
    case COST_INSERT:   /* insert(t, pos, v) shifts #t - pos + 1 up */
    case COST_REMOVE: { /* remove(t, pos) shifts #t - pos down */
        int ok;
        lua_Integer pos = lua_tointegerx(L, 2, &ok);
        if (lua_gettop(L) < (kind == COST_INSERT ? 3 : 2) || !ok || (len = engine_len(L, 1)) < 0 ||
            pos > len)
            return 0;
        return pos < 1 ? len : len - pos + 1;
    }
    case COST_MOVE:
        return engine_range(L, 2, 3, 1, 0);
    case COST_UNPACK:
    case COST_CONCAT: {
        int i = kind == COST_UNPACK ? 2 : 3;
        len = lua_isnoneornil(L, i + 1) ? engine_len(L, 1) : 0;
        return engine_range(L, i, i + 1, 1, len);
    }
    }
    return 0;
}

/* Pay COST instructions of work done in C on a rule's behalf, if more than
 * ENGINE_FREE_WORK, and look at the clock; stop the request at the rule's
 * line (the caller of the C function at level 0) when the budget or the time
 * is spent.  Also order.c's, through its host.  [-0, +0, v] */
static void engine_pay(void *ud, lua_State *L, lua_Integer cost)
{
    engine *en = ud;
    if (!en->capped || cost <= ENGINE_FREE_WORK)
        return;
    engine_fast_late(en, L);
    uint64_t u = (uint64_t)cost;
    en->spent = u > UINT64_MAX - en->spent ? UINT64_MAX : en->spent + u;
    lua_Debug ar;   /* level 1: the rule that called */
    if (en->spent > en->budget)
        engine_stop(en, L, lua_getstack(L, 1, &ar) ? &ar : NULL, 'b');
    if (engine_clock() > en->deadline)   /* long work: look at the time too */
        engine_stop(en, L, lua_getstack(L, 1, &ar) ? &ar : NULL, 't');
}

/* Look at the clock only (order.c's sort, before each comparison: one of
 * long texts, or through a long __index chain, can take long).  [-0, +0, v] */
static void engine_tick(void *ud, lua_State *L)
{
    engine *en = ud;
    if (en->capped)
        engine_fast_late(en, L);
    if (en->capped && engine_clock() > en->deadline) {
        lua_Debug ar;
        engine_stop(en, L, lua_getstack(L, 1, &ar) ? &ar : NULL, 't');
    }
}

/* Elements a long table call reads or writes between two looks at the
 * clock.  Each element is paid for, but not how long it takes to find: keys
 * chosen to fall into one hash chain make every lookup walk the chain, and
 * one table.unpack of 900,000 of them ran 14 s past a time limit of 1 s, as
 * the library looks at nothing until it is done.  So table.unpack and
 * table.move over more elements than this go through them here, one by one
 * in the library's order (a rule's __index and __newindex see the same
 * calls), looking at the clock after each ENGINE_PIECE. */
#define ENGINE_PIECE 256

/* Integers at I and J (absent: DEF_I, DEF_J) into *A and *B, when both are
 * and the range holds more than ENGINE_PIECE elements.  [-0, +0, -] */
static int engine_long_range(lua_State *L, int i, int j, lua_Integer def_i, lua_Integer def_j,
                             lua_Integer *a, lua_Integer *b)
{
    int oki = 1, okj = 1;
    *a = lua_isnoneornil(L, i) ? def_i : lua_tointegerx(L, i, &oki);
    *b = lua_isnoneornil(L, j) ? def_j : lua_tointegerx(L, j, &okj);
    return oki && okj && *b >= *a && (lua_Unsigned)*b - (lua_Unsigned)*a >= ENGINE_PIECE;
}

/* The charged call of F, of KIND, done here; its number of results, or -1
 * when it is short, or one the library would refuse, or not one that reads
 * where it likes (the library then runs it whole, and raises what it
 * raises).  Only unpack and move read and write any range of keys: concat,
 * insert and remove need the range filled, so its keys are in the table's
 * array part, found at once.  [-?, +?, e] */
static int engine_in_pieces(lua_State *L, engine *en, lua_CFunction f, int kind)
{
    lua_Integer a, b;
    if (kind == COST_UNPACK) {   /* unpack(t [, i [, j]]) */
        if (!engine_long_range(L, 2, 3, 1, lua_isnoneornil(L, 3) ? engine_len(L, 1) : 0, &a, &b))
            return -1;
        lua_Unsigned n = (lua_Unsigned)b - (lua_Unsigned)a;   /* and one */
        if (n >= (unsigned)INT_MAX || !lua_checkstack(L, (int)++n))
            return luaL_error(L, "too many results to unpack");   /* as the library says it */
        lua_settop(L, 1);
        for (lua_Unsigned k = 0; k < n; k++) {
            if (k % ENGINE_PIECE == 0 && k)
                engine_tick(en, L);
            lua_geti(L, 1, (lua_Integer)((lua_Unsigned)a + k));
        }
        return (int)n;
    }
    if (kind == COST_MOVE) {   /* move(a1, f, e, t [, a2]) */
        int okt, tt = lua_isnoneornil(L, 5) ? 1 : 5;
        lua_Integer t = lua_tointegerx(L, 4, &okt);
        if (lua_isnoneornil(L, 2) || lua_isnoneornil(L, 3) || !okt ||
            !engine_long_range(L, 2, 3, 0, 0, &a, &b) || (a <= 0 && b >= LUA_MAXINTEGER + a) ||
            t > LUA_MAXINTEGER - (b - a))
            return -1;
        /* The library on no elements checks the two tables as it would. */
        int nargs = tt == 5 ? 5 : 4;
        lua_settop(L, nargs);
        lua_pushinteger(L, 1);
        lua_replace(L, 2);
        lua_pushinteger(L, 0);
        lua_replace(L, 3);
        f(L);
        lua_settop(L, nargs);
        lua_Unsigned n = (lua_Unsigned)b - (lua_Unsigned)a;   /* and one */
        if (t > b || t <= a || (tt != 1 && !lua_compare(L, 1, tt, LUA_OPEQ))) {
            for (lua_Unsigned k = 0; k <= n; k++) {
                if (k % ENGINE_PIECE == 0 && k)
                    engine_tick(en, L);
                lua_geti(L, 1, (lua_Integer)((lua_Unsigned)a + k));
                lua_seti(L, tt, (lua_Integer)((lua_Unsigned)t + k));
            }
        } else {   /* up over itself: the last first */
            for (lua_Unsigned k = n + 1; k-- > 0;) {
                if ((n - k) % ENGINE_PIECE == 0 && n != k)
                    engine_tick(en, L);
                lua_geti(L, 1, (lua_Integer)((lua_Unsigned)a + k));
                lua_seti(L, tt, (lua_Integer)((lua_Unsigned)t + k));
            }
        }
        lua_pushvalue(L, tt);
        return 1;
    }
    return -1;
}

/* string.rep(s, n [, sep]) as the library's, but made by doubling what is
 * written, a few long copies rather than one per repetition: a unit of one
 * byte took the library some 10 ns a byte, 0.6 s for 60 MB in one
 * instruction, beyond any time limit.  Not charged: what it makes is paid
 * for as it is allocated (engine_alloc).  [-0, +1, m] */
static int engine_rep(lua_State *L)
{
    size_t l, lsep;
    const char *s = luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    const char *sep = luaL_optlstring(L, 3, "", &lsep);
    if (n <= 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    size_t period = l + lsep;
    if (period < l || period > ((size_t)LUA_MAXINTEGER < (size_t)-1 / 2 ? (size_t)LUA_MAXINTEGER
                                                                       : (size_t)-1 / 2) /
                                   (size_t)n)
        return luaL_error(L, "resulting string too large");
    size_t total = (size_t)n * period - lsep;
    if (total == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, total);
    size_t done = l < total ? l : total;
    memcpy(p, s, done);
    if (done < total) {
        memcpy(p + done, sep, lsep);   /* one period, then it doubles */
        done += lsep;
    }
    while (done < total) {
        size_t more = done < total - done ? done : total - done;
        memcpy(p + done, p, more);
        done += more;
    }
    luaL_pushresultsize(&b, total);
    return 1;
}

/* A charged library function.  Upvalues: the library's function, the kind
 * of its cost.  [-?, +?, e] */
static int engine_charged(lua_State *L)
{
    engine *en = *(engine **)lua_getextraspace(L);
    lua_CFunction f = lua_tocfunction(L, lua_upvalueindex(1));
    int kind = (int)lua_tointeger(L, lua_upvalueindex(2));
    int reads = kind >= COST_INSERT && kind <= COST_CONCAT;
    /* The cost is counted from one length and the library takes another:
     * a __len of the rule's own could say 1, then 2^61.  (A frozen table's
     * and an applicant's list's __len is bindings_frozen_len, which says
     * its contents'.) */
    if (reads && lua_type(L, 1) == LUA_TTABLE && luaL_getmetafield(L, 1, "__len") != LUA_TNIL) {
        int ours = lua_tocfunction(L, -1) == bindings_frozen_len;
        lua_pop(L, 1);
        if (!ours)
            return luaL_argerror(L, 1, "a table whose length is a __len of its own: the table "
                                       "library would read it again, and the work it does "
                                       "could not be paid for");
    }
    if (en->capped) {
        /* Each element read through every table of the chain, at the price
         * of one read each. */
        lua_Integer depth = reads ? order_chain_depth(L, 1, "__index") : 1;
        lua_Integer cost = engine_cost(L, kind);
        cost = cost > LUA_MAXINTEGER / depth - 1 ? LUA_MAXINTEGER : (cost + 1) * depth;
        engine_pay(en, L, cost);   /* and the chain walked, to know its depth */
        int n = reads ? engine_in_pieces(L, en, f, kind) : -1;
        if (n >= 0)
            return n;
    }
    if (kind == COST_FIND) {   /* plain: no patterns */
        lua_settop(L, 3);
        lua_pushboolean(L, 1);
    }
    return f(L);
}

/* C.charged: { string = {...}, table = {...}, utf8 = {...} } of the charged
 * copies of the library functions.  [-0, +1, m] */
static void engine_push_charged(lua_State *L)
{
    static const struct {
        const char *lib, *name;
        int kind;
    } fns[] = {
        {"string", "find", COST_FIND},     {"string", "rep", COST_REP},
        {"string", "byte", COST_BYTE},     {"table", "insert", COST_INSERT},
        {"table", "remove", COST_REMOVE},
        {"table", "move", COST_MOVE},      {"table", "unpack", COST_UNPACK},
        {"table", "concat", COST_CONCAT},  {"utf8", "len", COST_DECODE},
        {"utf8", "offset", COST_DECODE},   {"utf8", "codepoint", COST_BYTE},
        {"_G", "tonumber", COST_NUMBER},   {"string_mt", "__add", COST_NUMBER},
        {"string_mt", "__sub", COST_NUMBER}, {"string_mt", "__mul", COST_NUMBER},
        {"string_mt", "__div", COST_NUMBER}, {"string_mt", "__mod", COST_NUMBER},
        {"string_mt", "__pow", COST_NUMBER}, {"string_mt", "__unm", COST_NUMBER},
        {"string_mt", "__idiv", COST_NUMBER},
    };
    lua_createtable(L, 0, 3);                                   /* charged */
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        if (lua_getfield(L, -1, fns[i].lib) != LUA_TTABLE) {    /* charged lib */
            lua_pop(L, 1);
            lua_newtable(L);
            lua_pushvalue(L, -1);
            lua_setfield(L, -3, fns[i].lib);
        }
        if (!strcmp(fns[i].lib, "string_mt")) {   /* the arithmetic strings do */
            lua_pushliteral(L, "");
            lua_getmetatable(L, -1);                            /* charged lib "" std */
            lua_remove(L, -2);
        } else {
            lua_getglobal(L, fns[i].lib);                       /* charged lib std */
        }
        if (fns[i].kind == COST_REP) {   /* pays for what it makes as it allocates */
            lua_pushcfunction(L, engine_rep);                   /* charged lib std g */
        } else {
            lua_getfield(L, -1, fns[i].name);                   /* charged lib std f */
            lua_pushinteger(L, fns[i].kind);
            lua_pushcclosure(L, engine_charged, 2);             /* charged lib std g */
        }
        lua_setfield(L, -3, fns[i].name);
        lua_pop(L, 2);                                          /* charged */
    }
}

/* Message handler of every protected call.  Error objects that are not
 * strings (the rule language's request errors) pass through untouched; a
 * string without a position gets the innermost rule file's file and line.
 * Returns the stack top: the error object, or the message it pushed.
 * [-0, +(0|1), m] */
static int engine_msgh(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TSTRING)
        return 1;
    const char *msg = lua_tostring(L, 1);
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        lua_getinfo(L, "Sl", &ar);
        if (ar.source[0] == '@' && ar.currentline > 0) {
            size_t n = strlen(ar.short_src);
            if (strncmp(msg, ar.short_src, n) != 0)
                lua_pushfstring(L, "%s:%d: %s", ar.short_src, ar.currentline, msg);
            break;
        }
    }
    return 1;
}

/* Begin a call of rules.lua's api.NAME: push the message handler and the
 * function, above which the caller pushes the arguments before engine_call.
 * [-0, +2, e] */
static void engine_prepare(engine *en, const char *name)
{
    lua_State *L = en->L;
    lua_pushcfunction(L, engine_msgh);                    /* h */
    lua_rawgeti(L, LUA_REGISTRYINDEX, en->api);           /* h api */
    lua_getfield(L, -1, name);                            /* h api f */
    lua_remove(L, -2);                                    /* h f */
}

/* Call the function engine_prepare pushed, with the NARGS arguments pushed
 * above it, allowing BUDGET instructions.  Arms the budget and the memory
 * cap, runs, disarms them: the arguments went in uncapped, and it is the
 * call that then finds itself over the cap.  Returns the lua_pcall status.
 * engine_call_from runs under a deadline already set, STARTED (when the
 * first run began) and DEADLINE: for a call run again, which has only what
 * the first run left of the time.  DEADLINE 0: a call of its own, as
 * engine_call makes.  FAST: run it as a fast attempt, with no hook
 * (ENGINE_FAST_RATE), and time it into en->fast_ns.
 * [-(nargs+2), +nres, -] on success; on failure, [-(nargs+2), +1, -]: the
 * error object. */
static int engine_run(engine *en, int nargs, int nres, uint64_t budget, uint64_t started,
                      uint64_t deadline, int fast)
{
    lua_State *L = en->L;
    int h = lua_gettop(L) - nargs - 1;
    en->budget = budget;
    en->spent = 0;
    en->host.epoch++;   /* a walk pairs began in an earlier call goes no further */
    en->exhausted = 0;
    en->mem_refused = 0;
    en->mem_short = 0;
    en->refused_at[0] = '\0';
    en->grew[0] = '\0';
    en->grew_wait = ENGINE_HOOK_STEP;   /* the first hook near the cap looks */
    en->capped = 1;
    if (deadline) {
        en->started = started;
        en->deadline = deadline;
    } else {
        /* As long again for each request's budget the call has (loading a
         * file has a hundred). */
        uint64_t times = budget > en->per_request && en->per_request ? budget / en->per_request : 1;
        uint64_t allow = en->time_ns > UINT64_MAX / times ? UINT64_MAX : en->time_ns * times;
        en->started = engine_clock();
        en->deadline = allow > UINT64_MAX - en->started ? UINT64_MAX : en->started + allow;
    }
    en->fine = en->fine_always;
    en->fast = fast;
    en->fast_stop = 0;
    uint64_t t0 = 0;
    if (fast) {
        /* No hook: the watchdog stops it past the time it could be kept,
         * or past its share of the time limit. */
        uint64_t allow = budget / ENGINE_FAST_RATE;
        if (allow > en->time_ns / ENGINE_FAST_SHARE)
            allow = en->time_ns / ENGINE_FAST_SHARE;
        t0 = engine_now();
        en->fast_allow = allow;
        en->fast_until = allow > UINT64_MAX - t0 ? UINT64_MAX : t0 + allow;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        engine_fast_running = en;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
    } else {
        engine_arm(en, en->fine ? 1 : budget < ENGINE_HOOK_STEP ? (int)budget + 1 : ENGINE_HOOK_STEP);
    }
    int status = lua_pcall(L, nargs, nres, h);
    if (fast) {
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        engine_fast_running = NULL;   /* before the hook goes: the handler sets none after */
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        en->fast_ns = engine_now() - t0;
        en->fast = 0;
    }
    lua_sethook(L, NULL, 0, 0);
    en->capped = 0;
    lua_remove(L, h);
    if (status == LUA_ERRMEM || en->mem_refused || en->mem_short)
        lua_gc(L, LUA_GCCOLLECT);   /* give the next call its memory back */
    return status;
}

static int engine_call_from(engine *en, int nargs, int nres, uint64_t budget, uint64_t started,
                            uint64_t deadline)
{
    return engine_run(en, nargs, nres, budget, started, deadline, 0);
}

static int engine_call(engine *en, int nargs, int nres, uint64_t budget)
{
    return engine_call_from(en, nargs, nres, budget, 0, 0);
}

/* Whether a limit stopped the call that returned STATUS: the instruction
 * budget or the time limit (en->exhausted), or the memory cap. */
static int engine_stopped(const engine *en, int status)
{
    return en->exhausted || status == LUA_ERRMEM || en->mem_refused;
}

/* The error code a call that failed with STATUS is answered with:
 * "rule_error" when a limit stopped it, or when it failed while a criterion
 * was being decided but not in its check (whose errors rules.lua reports as
 * the criterion's), so in writing the criterion's message, the rule's doing
 * too; else "internal", rules.lua's own fault.  Asked before
 * engine_error_text, which forgets the criterion.  [-0, +0, -] */
static const char *engine_failure_code(engine *en, int status)
{
    return engine_stopped(en, status) || decision_criterion(en->L) > 0 ? "rule_error"
                                                                        : "internal";
}

/* Where the memory cap stopped the call running on L, "file:line: ", or "":
 * where the block it refused was asked for (engine_refused_where), else
 * where the call last ran near the cap (engine_hook), when that was in the
 * criterion being decided now, not in an earlier one (a screen's earlier
 * programme).  [-0, +0, -] */
static const char *engine_cap_where(engine *en, lua_State *L)
{
    return en->refused_at[0] ? en->refused_at
           : en->grew_serial == decision_serial(L) ? en->grew : "";
}

/* Read a string field of the table at IDX into OUT ("?" when it is not a
 * string).  [-0, +0, e] */
static void engine_field(lua_State *L, int idx, const char *k, char *out, size_t n)
{
    lua_getfield(L, idx, k);
    snprintf(out, n, "%s", lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
    lua_pop(L, 1);
}

/* What was running when the budget or the memory cap stopped a call: the
 * programme rules.lua keeps in api.current, and the criterion decision.c
 * was deciding; "" when no programme was (a rule file loading).  It cannot
 * raise, though it reads fields: the tables are rules.lua's own, or frozen
 * ones, whose __index finds the fields rules.lua set (id, criteria, file,
 * line) in their shadow before it could call a rule's own; and the keys
 * are strings the engine's Lua already holds, so nothing is allocated
 * under a cap just exceeded.  [-0, +0, -] */
static void engine_where(engine *en, char *out, size_t n)
{
    lua_State *L = en->L;
    char prog[64] = "?", crit[64] = "?", file[128] = "?";
    int line = 0, top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, en->api);           /* api */
    lua_getfield(L, top + 1, "current");                  /* api current */
    lua_Integer ci = decision_criterion(L);
    if (lua_getfield(L, top + 2, "program") == LUA_TTABLE) {   /* ... program */
        engine_field(L, top + 3, "id", prog, sizeof prog);
        if (ci > 0 && lua_getfield(L, top + 3, "criteria") == LUA_TTABLE &&
            lua_rawgeti(L, top + 4, ci) == LUA_TTABLE) {  /* ... criteria criterion */
            engine_field(L, top + 5, "id", crit, sizeof crit);
            engine_field(L, top + 5, "file", file, sizeof file);
            lua_getfield(L, top + 5, "line");
            line = (int)lua_tointeger(L, -1);
        }
    }
    int deciding = lua_type(L, top + 3) == LUA_TTABLE;
    lua_settop(L, top);
    if (deciding)
        snprintf(out, n, "programme %s, criterion %s (%s:%d): ", prog, crit, file, line);
    else
        out[0] = '\0';
}

/* A failed call is over: what it was deciding (engine_where) must not name
 * the next one's stop.  [-0, +0, e] */
static void engine_forget(engine *en)
{
    lua_State *L = en->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, en->api);           /* api */
    if (lua_getfield(L, -1, "current") == LUA_TTABLE) {   /* api current */
        lua_pushnil(L);
        lua_setfield(L, -2, "program");
    }
    lua_pop(L, 2);
    decision_forget(L);
}

/* Turn the error object of a failed call (on the stack top) into a message.
 * Pops it, and forgets what the call was deciding.  [-1, +0, e] */
static const char *engine_error_text(engine *en, int status, char *out, size_t n)
{
    lua_State *L = en->L;
    char where[256];
    if (en->exhausted) {
        engine_where(en, where, sizeof where);
        snprintf(out, n, "%s%s", where, en->stop);
    } else if (status == LUA_ERRMEM && en->mem_short && !en->mem_refused) {
        engine_where(en, where, sizeof where);
        snprintf(out, n, "%sout of memory: the machine had no memory to give, under the memory "
                 "cap of %zu bytes", where, en->mem_cap);
    } else if (status == LUA_ERRMEM || en->mem_refused) {
        engine_where(en, where, sizeof where);
        snprintf(out, n, "%s%smemory cap of %zu bytes exceeded", where, engine_cap_where(en, L),
                 en->mem_cap);
    } else if (lua_type(L, -1) == LUA_TTABLE) {
        /* Raw: outside the call no metamethod of a rule's may run. */
        lua_pushliteral(L, "message");
        lua_rawget(L, -2);
        snprintf(out, n, "%s", lua_isstring(L, -1) ? lua_tostring(L, -1)
                               : "the rule raised a table, which has no 'message' text");
        lua_pop(L, 1);
    } else {
        snprintf(out, n, "%s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "error object is not a string");
    }
    lua_pop(L, 1);
    engine_forget(en);
    return out;
}

/* Open the libraries rules.lua draws its sandbox from.  The package, io and
 * os libraries are never opened; the base library's file loaders are
 * removed, so not even the engine's own Lua can reach the disk.
 * [-0, +0, e] */
static void engine_open_libs(lua_State *L)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},       {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_DBLIBNAME, luaopen_debug},
        {NULL, NULL},
    };
    for (const luaL_Reg *l = libs; l->name; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    static const char *const unsafe[] = {"dofile", "loadfile", "collectgarbage", "print", NULL};
    for (const char *const *u = unsafe; *u; u++) {
        lua_pushnil(L);
        lua_setglobal(L, *u);
    }
}

/* Push the lua-cjson module, configured for requests: no NaN or Infinity,
 * bounded nesting.  [-0, +1, e] */
static int engine_push_cjson(lua_State *L)
{
    luaopen_cjson(L);                                     /* cjson */
    lua_getfield(L, -1, "decode_invalid_numbers");
    lua_pushboolean(L, 0);
    lua_call(L, 1, 0);
    lua_getfield(L, -1, "decode_max_depth");
    lua_pushinteger(L, 64);
    lua_call(L, 1, 0);
    return 1;
}

/* The wire names of the ops, indexed by engine_op. */
static const char *const engine_op_names[] = {NULL, "decide", "screen", "decision", "history",
                                              "programs", "health", "review"};

/* Run protected by engine_build: open the libraries, then run rules.lua
 * with its C functions (C) and the cjson module; returns rules.lua's api
 * table.  [-0, +1, e] */
static int engine_boot(lua_State *L)
{
    order_set_host(L, &(*(engine **)lua_getextraspace(L))->host);
    engine_open_libs(L);
    if (luaL_loadbufferx(L, embed_rules, embed_rules_len, "=rules.lua", "t") != LUA_OK)
        return lua_error(L);                              /* chunk */
    bindings_push(L);                                     /* chunk C */
    lua_createtable(L, ENGINE_OP_REVIEW, 0);              /* chunk C ops */
    for (int i = ENGINE_OP_DECIDE; i <= ENGINE_OP_REVIEW; i++) {
        lua_pushstring(L, engine_op_names[i]);
        lua_rawseti(L, -2, i);
    }
    lua_setfield(L, -2, "ops");                           /* C.ops: the ones rules.lua accepts */
    engine_push_charged(L);
    lua_setfield(L, -2, "charged");
    engine_push_cjson(L);                                 /* chunk C cjson */
    lua_call(L, 2, 1);                                    /* api */
    return 1;
}

/* api.grew() -> "file:line: " where the call last ran near the memory cap,
 * or "" (see engine.grew).  [-0, +1, m]  Upvalue 1: the engine. */
static int engine_grew(lua_State *L)
{
    engine *en = lua_touserdata(L, lua_upvalueindex(1));
    lua_pushstring(L, engine_cap_where(en, L));
    return 1;
}

/* api.refused() -> whether the allocator refused a block for the memory cap
 * in this call, or malloc failed: Lua's "not enough memory" is then the
 * cap's or the machine's, not a rule's own error of that text, and a rule's
 * pcall must not catch it: a decision would depend on the memory the
 * machine had free.  [-0, +1, -]  Upvalue 1: the engine. */
static int engine_refused(lua_State *L)
{
    engine *en = lua_touserdata(L, lua_upvalueindex(1));
    lua_pushboolean(L, en->mem_refused || en->mem_short);
    return 1;
}

/* api.short() -> whether this call's "not enough memory" is the machine's:
 * malloc failed, and the cap refused nothing.  [-0, +1, -]  Upvalue 1: the
 * engine. */
static int engine_short(lua_State *L)
{
    engine *en = lua_touserdata(L, lua_upvalueindex(1));
    lua_pushboolean(L, en->mem_short && !en->mem_refused);
    return 1;
}

/* api.stopped() -> whether the budget or the time limit stopped this call
 * (engine_stop): from then on every instruction raises, and raises from
 * inside the hook, where Lua runs a handler of xpcall with hooks off.  The
 * sandbox's xpcall then passes the error on without running the rule's
 * handler, which would otherwise run unbudgeted and unclocked.
 * [-0, +1, -]  Upvalue 1: the engine. */
static int engine_api_stopped(lua_State *L)
{
    engine *en = lua_touserdata(L, lua_upvalueindex(1));
    lua_pushboolean(L, en->exhausted || en->fast_stop);
    return 1;
}

/* api.fetch_history(applicant_id) -> JSON text | nil, why
 * [-0, +(1|2), m]  Upvalue 1: the engine.  Without a provider: "[]". */
static int engine_fetch_history(lua_State *L)
{
    engine *en = lua_touserdata(L, lua_upvalueindex(1));
    const char *id = luaL_checkstring(L, 1);
    if (!en->history) {
        lua_pushliteral(L, "[]");
        return 1;
    }
    /* The counted run after a fast attempt that asked is given its answer:
     * the provider is asked once a request, and the request's rows are the
     * ones the attempt read, whichever run decides it. */
    int ok;
    if (en->history_reuse && en->history_got && !strcmp(en->history_id.data, id)) {
        ok = en->history_got > 0;
    } else {
        buf_reset(&en->history_out);
        ok = en->history(en->history_ud, id, &en->history_out) == 0;
        if (en->fast) {
            buf_reset(&en->history_id);
            en->history_got = buf_add(&en->history_id, id, strlen(id) + 1) != 0 ? 0 : ok ? 1 : -1;
        }
    }
    if (!ok) {
        lua_pushnil(L);
        lua_pushliteral(L, "the provider failed");
        return 2;
    }
    lua_pushlstring(L, en->history_out.data ? en->history_out.data : "[]",
                    en->history_out.data ? en->history_out.len : 2);
    return 1;
}

void engine_set_history(engine *en, engine_history_fn *fn, void *ud)
{
    en->history = fn;
    en->history_ud = ud;
}

void engine_free(engine *en)
{
    if (!en)
        return;
    if (en->L)
        lua_close(en->L);
    engine_pool_free(&en->pool);
    ruleset_free(en->rs);
    buf_free(&en->scratch);
    buf_free(&en->history_out);
    buf_free(&en->history_id);
    free(en->watch_up);
    free(en);
}

/* Does MSG start with "FILE:", as Lua's messages about a file do? */
static int engine_msg_names(const char *msg, const char *file)
{
    size_t n = strlen(file);
    return strncmp(msg, file, n) == 0 && msg[n] == ':';
}

/* Report MSG, why FILE did not load.  Lua's messages start with
 * "FILE:LINE: ": the line is reported apart, with the text after it (the
 * whole message if nothing follows); any other message (the memory cap's,
 * or a rule's own error value) is reported whole, at line 0.  MSG may be
 * cut anywhere (engine_error_text's buffer), and is the rule's to write. */
static void engine_report_load(engine_report_fn *report, void *ud, const char *file,
                               const char *msg)
{
    size_t n = strlen(file);
    if (engine_msg_names(msg, file) && msg[n + 1] >= '0' && msg[n + 1] <= '9') {
        char *end;
        long line = strtol(msg + n + 1, &end, 10);   /* saturates: no overflow */
        if (*end == ':' && line <= INT_MAX) {
            const char *text = end + 1;
            text += *text == ' ';
            report(ud, file, (int)line, *text ? text : msg);
            return;
        }
    }
    report(ud, file, 0, msg);
}

/* Build an engine.  With REPORT, problems are reported and loading goes on
 * (for lint); without, the first load error fails the build. */
static engine *engine_build(ruleset *rs, const engine_config *cfg, engine_report_fn *report,
                            void *ud, int *nproblems, err *e)
{
    engine *en = calloc(1, sizeof *en);
    char msg[512];
    if (!en) {
        err_set(e, "internal", "out of memory");
        return NULL;
    }
    en->rs = ruleset_ref(rs);
    en->api = LUA_NOREF;
    en->watched = LUA_NOREF;
    en->mem_cap = cfg && cfg->memory ? cfg->memory : ENGINE_DEFAULT_MEMORY;
    uint64_t budget = cfg && cfg->instructions ? cfg->instructions : ENGINE_DEFAULT_INSTRUCTIONS;
    uint64_t ms = cfg && cfg->time_ms ? cfg->time_ms : ENGINE_DEFAULT_TIME_MS;
    en->per_request = budget;
    en->time_ns = ms > UINT64_MAX / 1000000u ? UINT64_MAX : ms * 1000000u;
    en->fast_off = (cfg && cfg->counted) || budget / ENGINE_FAST_RATE < ENGINE_FAST_MIN_NS;
    buf_init(&en->scratch, (size_t)64 << 20);
    buf_init(&en->history_out, (size_t)16 << 20);
    buf_init(&en->history_id, 4096);
    en->L = lua_newstate(engine_alloc, en);
    if (!en->L) {
        err_set(e, "internal", "cannot create a Lua state");
        goto fail;
    }
    lua_State *L = en->L;
    *(engine **)lua_getextraspace(L) = en;
    en->host = (order_host){.pay = engine_pay, .tick = engine_tick, .ud = en};

    lua_pushcfunction(L, engine_msgh);
    lua_pushcfunction(L, engine_boot);
    if (lua_pcall(L, 0, 1, 1) != LUA_OK) {
        err_set(e, "internal", "rules.lua: %s", lua_tostring(L, -1));
        goto fail;
    }
    en->api = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, en->api);
    lua_pushlightuserdata(L, en);
    lua_pushcclosure(L, engine_fetch_history, 1);
    lua_setfield(L, -2, "fetch_history");
    lua_pushlightuserdata(L, en);
    lua_pushcclosure(L, engine_grew, 1);
    lua_setfield(L, -2, "grew");
    lua_pushlightuserdata(L, en);
    lua_pushcclosure(L, engine_refused, 1);
    lua_setfield(L, -2, "refused");
    lua_pushlightuserdata(L, en);
    lua_pushcclosure(L, engine_short, 1);
    lua_setfield(L, -2, "short");
    lua_pushlightuserdata(L, en);
    lua_pushcclosure(L, engine_api_stopped, 1);
    lua_setfield(L, -2, "stopped");
    lua_pop(L, 1);

    for (size_t i = 0; i < ruleset_count(rs); i++) {
        const ruleset_file *f = ruleset_file_at(rs, i);
        engine_prepare(en, "load");
        lua_pushstring(L, f->name);
        lua_pushlstring(L, f->text, f->len);
        int status = engine_call(en, 2, 0, engine_load_budget(budget));
        if (status != LUA_OK) {
            engine_error_text(en, status, msg, sizeof msg);
            if (!report) {
                /* Lua's messages name the file; the memory cap's does not. */
                if (engine_msg_names(msg, f->name))
                    err_set(e, "rule_error", "%s", msg);
                else
                    err_set(e, "rule_error", "%s: %s", f->name, msg);
                goto fail;
            }
            engine_report_load(report, ud, f->name, msg);
            ++*nproblems;
        }
    }
    engine_prepare(en, "seal");
    lua_pushstring(L, ruleset_hash(rs));
    int status = engine_call(en, 1, 0, engine_set_budget(budget, rs));
    if (status != LUA_OK) {
        err_set(e, "rule_error", "%s", engine_error_text(en, status, msg, sizeof msg));
        goto problem;
    }
    engine_watch(en);
    lua_gc(L, LUA_GCCOLLECT);
    /* Requests make young garbage only; the generational collector frees it
     * without walking the rule set each cycle. */
    lua_gc(L, LUA_GCGEN, 0, 0);
    if (en->mem > en->mem_cap) {
        err_set(e, "rule_error", "the rule set alone takes %zu bytes, over the memory cap of %zu",
                en->mem, en->mem_cap);
        goto problem;
    }
    en->budget = budget;
    en->built = 1;
    engine_assert(en);
    return en;
problem:
    /* The set as a whole is refused: for lint, the problems loading found
     * (when they can still be listed), then this one, at the file its
     * message names (file "" when it names none). */
    if (report) {
        engine_prepare(en, "lint");
        if (engine_call(en, 0, 1, engine_set_budget(budget, rs)) == LUA_OK)
            *nproblems += engine_report_list(en->L, report, ud);
        lua_settop(en->L, 0);
        const char *file = "";
        for (size_t i = 0; i < ruleset_count(rs) && !*file; i++)
            if (engine_msg_names(e->msg, ruleset_file_at(rs, i)->name))
                file = ruleset_file_at(rs, i)->name;
        engine_report_load(report, ud, file, e->msg);
        ++*nproblems;
    }
fail:
    engine_free(en);
    return NULL;
}

engine *engine_new(ruleset *rs, const engine_config *cfg, err *e)
{
    return engine_build(rs, cfg, NULL, NULL, NULL, e);
}

const ruleset *engine_ruleset(const engine *en)
{
    return en->rs;
}

/* Results --------------------------------------------------------------- */

/* While building a result, strings go into en->scratch and fields hold
 * offsets into it (plus one, so that 0 means absent); engine_result_finish
 * copies the scratch into the result's single block and turns offsets into
 * pointers. */
typedef struct result_draft {
    engine_op op;
    size_t id, error_code, error_message, program, as_of, lang, request_key, applicant_id,
        fingerprint, decision_id, body, ruleset;
    long limit;
    size_t ndecisions;
    struct {
        size_t decision_id, program, program_version, outcome, json, json_len;
    } d[64];               /* rules.lua: MAX_PROGRAMMES, checked when the set is sealed */
} result_draft;

static size_t draft_put(engine *en, const char *s, size_t n)
{
    size_t at = en->scratch.len;
    if (buf_add(&en->scratch, s, n) != 0 || buf_addc(&en->scratch, '\0') != 0)
        return 0;
    return at + 1;
}

static size_t draft_cstr(engine *en, const char *s)
{
    return s ? draft_put(en, s, strlen(s)) : 0;
}

/* Copy the string field K of the table at IDX, if it is one. [-0, +0, -] */
static size_t draft_field(engine *en, int idx, const char *k)
{
    size_t n, at = 0;
    if (lua_getfield(en->L, idx, k) == LUA_TSTRING) {
        const char *s = lua_tolstring(en->L, -1, &n);
        at = draft_put(en, s, n);
    }
    lua_pop(en->L, 1);
    return at;
}

static engine_op engine_op_named(const char *s)
{
    for (int i = ENGINE_OP_DECIDE; i <= ENGINE_OP_REVIEW; i++)
        if (s && !strcmp(s, engine_op_names[i]))
            return (engine_op)i;
    return ENGINE_OP_NONE;
}

const char *engine_op_name(engine_op op)
{
    return op > 0 && op <= ENGINE_OP_REVIEW ? engine_op_names[op] : NULL;
}

static engine_result *engine_result_finish(engine *en, const result_draft *d)
{
    size_t head = sizeof(engine_result) + d->ndecisions * sizeof(engine_decision);
    /* Only the head is zeroed: the text is copied over at once, and zeroing
     * a screen's decisions first cost more than building the rest. */
    engine_result *r = malloc(head + en->scratch.len + 1);
    if (!r)
        return NULL;
    memset(r, 0, head);
    char *text = (char *)r + head;
    if (en->scratch.len)
        memcpy(text, en->scratch.data, en->scratch.len);
    text[en->scratch.len] = '\0';
#define AT(off) ((off) ? text + (off) - 1 : NULL)
    r->op = d->op;
    r->id = d->id ? AT(d->id) : "null";
    r->error_code = AT(d->error_code);
    r->error_message = AT(d->error_message);
    r->program = AT(d->program);
    r->as_of = AT(d->as_of);
    r->lang = AT(d->lang);
    r->request_key = AT(d->request_key);
    r->applicant_id = AT(d->applicant_id);
    r->fingerprint = AT(d->fingerprint);
    r->decision_id = AT(d->decision_id);
    r->body = AT(d->body);
    r->ruleset = AT(d->ruleset);
    r->limit = d->limit;
    r->ndecisions = d->ndecisions;
    r->decisions = d->ndecisions ? (engine_decision *)(r + 1) : NULL;
    for (size_t i = 0; i < d->ndecisions; i++) {
        engine_decision *x = &r->decisions[i];
        x->decision_id = AT(d->d[i].decision_id);
        x->program = AT(d->d[i].program);
        x->program_version = AT(d->d[i].program_version);
        x->outcome = AT(d->d[i].outcome);
        x->json = AT(d->d[i].json);
        x->json_len = d->d[i].json_len;
    }
#undef AT
    return r;
}

/* A result that is only an error. */
static engine_result *engine_fail(engine *en, result_draft *d, const char *code, const char *msg)
{
    d->ndecisions = 0;
    d->error_code = draft_put(en, code, strlen(code));
    d->error_message = draft_put(en, msg, strlen(msg));
    return engine_result_finish(en, d);
}

/* Copy the decisions of a request's result, as decision.c wrote them, into
 * the draft.  Runs protected, since it raises for a result it cannot take:
 * more decisions than the draft holds, one not written, one whose JSON is
 * not UTF-8 (a rule's text of other bytes), one too large.  Arguments: the
 * engine and the result_draft (light userdata), the result table.
 * [-0, +0, e] */
static int engine_copy_decisions(lua_State *L)
{
    engine *en = lua_touserdata(L, 1);
    result_draft *d = lua_touserdata(L, 2);
    if (lua_getfield(L, 3, "decisions") != LUA_TTABLE)
        return 0;
    int list = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, list);
    if (n > (lua_Integer)(sizeof d->d / sizeof d->d[0]))
        return luaL_error(L, "a screen decides at most %d programmes", (int)(sizeof d->d / sizeof d->d[0]));
    for (lua_Integer i = 1; i <= n; i++) {
        decision_out o;
        lua_rawgeti(L, list, i);                          /* decision.c's number for it */
        if (!lua_isinteger(L, -1) || decision_written(L, lua_tointeger(L, -1), &o) != 0)
            return luaL_error(L, "decision %d was not written", (int)i);
        lua_pop(L, 1);
        /* Replies and the audit trail are UTF-8; a rule can make a string of
         * any bytes (string.char, or cutting a character in two with sub).
         * decision.c knows when every piece it wrote was UTF-8; only a
         * decision with a piece that was not is looked over here, for the
         * first bad byte. */
        assert(!o.utf8 || text_utf8_bad(o.json, o.json_len) == o.json_len);
        size_t bad = o.utf8 ? o.json_len : text_utf8_bad(o.json, o.json_len);
        if (bad < o.json_len) {
            char where[96];
            decision_where(o.json, o.json_len, bad, where, sizeof where);
            return luaL_error(L, "the decision of programme %s is not UTF-8 text (byte %d of its "
                                 "JSON%s): a rule made a text of other bytes", o.program,
                              (int)bad + 1, where);
        }
        d->d[i - 1].decision_id = draft_cstr(en, o.decision_id);
        d->d[i - 1].program = draft_cstr(en, o.program);
        d->d[i - 1].program_version = draft_cstr(en, o.program_version);
        d->d[i - 1].outcome = draft_cstr(en, o.outcome);
        d->d[i - 1].json = draft_put(en, o.json, o.json_len);
        if (!d->d[i - 1].json)
            return luaL_error(L, "decision too large");
        d->d[i - 1].json_len = o.json_len;
        d->ndecisions = (size_t)i;
    }
    lua_pop(L, 1);
    return 0;
}

/* Keep what engine_after looks at: rules.lua's watched upvalues (api.watched,
 * entry k at 3k-2 .. 3k: a function, the number of its upvalue, the value
 * it had at seal), on the stack of a thread of their own, function then
 * value, so that a look is one lua_getupvalue and one comparison.  Without
 * room for them there (hundreds of thousands), after() looks every time.
 * [-0, +0, m] */
static void engine_watch(engine *en)
{
    lua_State *L = en->L;
    int top = lua_gettop(L);
    en->watching = ENGINE_WATCH_ALWAYS;
    lua_rawgeti(L, LUA_REGISTRYINDEX, en->api);           /* api */
    if (lua_getfield(L, top + 1, "watched") != LUA_TTABLE) {   /* api watched */
        lua_settop(L, top);
        return;
    }
    lua_getfield(L, top + 1, "watched_count");
    lua_Integer n = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (n <= 0) {
        en->watching = ENGINE_WATCH_NONE;
        lua_settop(L, top);
        return;
    }
    lua_State *T = n < INT_MAX / 2 - LUA_MINSTACK ? lua_newthread(L) : NULL;   /* api watched T */
    en->watch_up = T ? malloc((size_t)n * sizeof *en->watch_up) : NULL;
    if (!en->watch_up || !lua_checkstack(T, 2 * (int)n + LUA_MINSTACK)) {
        free(en->watch_up);
        en->watch_up = NULL;
        lua_settop(L, top);
        return;
    }
    for (lua_Integer k = 0; k < n; k++) {
        lua_rawgeti(L, top + 2, 3 * k + 1);
        lua_xmove(L, T, 1);                               /* the function */
        lua_rawgeti(L, top + 2, 3 * k + 3);
        lua_xmove(L, T, 1);                               /* its value at seal */
        lua_rawgeti(L, top + 2, 3 * k + 2);
        en->watch_up[k] = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    en->watch = T;
    en->nwatched = n;
    en->watched = luaL_ref(L, LUA_REGISTRYINDEX);         /* api watched */
    en->watching = ENGINE_WATCH_FAST;
    lua_settop(L, top);
}

/* Whether an upvalue engine_watch keeps no longer holds its value.
 * [-0, +0, -] */
static int engine_watched_changed(engine *en)
{
    lua_State *T = en->watch;
    for (lua_Integer k = 0; k < en->nwatched; k++) {
        int f = 2 * (int)k + 1;
        if (!lua_getupvalue(T, f, en->watch_up[k]))
            return 1;
        int same = bindings_same(T, -1, f + 1);   /* as restore() compares */
        lua_pop(T, 1);
        if (!same)
            return 1;
    }
    return 0;
}

/* Run rules.lua's after() so that no state survives a request, also one
 * that failed; a failure of after() itself is the caller's to report.
 * Nearly always no watched upvalue changed, and after() would do nothing:
 * that is checked here first, without calling into Lua (the check runs no
 * Lua code and cannot raise), and after() runs only to put back and report
 * what changed.  [-0, +0, -] */
static int engine_after(engine *en)
{
    if (en->watching == ENGINE_WATCH_NONE ||
        (en->watching == ENGINE_WATCH_FAST && !engine_watched_changed(en)))
        return LUA_OK;
    engine_prepare(en, "after");
    return engine_call(en, 0, 0, en->budget);
}

/* Whether the next request is tried fast first (ENGINE_FAST_RATE). */
static int engine_fast_next(engine *en)
{
    if (en->fast_off || en->fine_always)
        return 0;
    if (en->fast_skip > 0) {
        en->fast_skip--;
        return 0;
    }
    return engine_watch_ready();
}

/* Whether the fast attempt that returned STATUS (its result on the stack
 * top when LUA_OK) decided its request as the counted run would: see
 * ENGINE_FAST_RATE.  The second in a row thrown away for its cost makes
 * the next requests counted.  [-0, +0, e] */
static int engine_fast_keep(engine *en, int status)
{
    int costly = en->fast_stop || en->exhausted || en->fine || en->spent > en->budget ||
                 en->fast_ns > (en->budget - en->spent) / ENGINE_FAST_RATE ||
                 en->fast_ns > en->time_ns;
    int keep = !costly && status == LUA_OK && !en->mem_refused && !en->mem_short;
    if (keep) {
        keep = lua_getfield(en->L, -1, "error_code") == LUA_TNIL;
        lua_pop(en->L, 1);
    }
    if (costly && en->fast_missed)
        en->fast_skip = ENGINE_FAST_BACKOFF;
    en->fast_missed = costly;
    en->fast_tried++;
    en->fast_kept += (uint64_t)keep;
    atomic_fetch_add_explicit(&engine_fast_all_tried, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&engine_fast_all_kept, (uint64_t)keep, memory_order_relaxed);
    return keep;
}

void engine_fast_totals(uint64_t *kept, uint64_t *tried)
{
    *kept = atomic_load_explicit(&engine_fast_all_kept, memory_order_relaxed);
    *tried = atomic_load_explicit(&engine_fast_all_tried, memory_order_relaxed);
}

void engine_fast_counts(const engine *en, uint64_t *kept, uint64_t *tried)
{
    *kept = en->fast_kept;
    *tried = en->fast_tried;
}

void engine_set_instructions(engine *en, uint64_t instructions)
{
    en->per_request = instructions ? instructions : ENGINE_DEFAULT_INSTRUCTIONS;
    en->budget = en->per_request;
    en->fast_off = en->fast_off || en->per_request / ENGINE_FAST_RATE < ENGINE_FAST_MIN_NS;
}

engine_result *engine_request(engine *en, const char *line, size_t len, const engine_defaults *defaults)
{
    lua_State *L = en->L;
    result_draft d;
    char msg[512];
    memset(&d, 0, sizeof d);
    buf_reset(&en->scratch);
    engine_assert(en);

    /* The arguments go in outside the protected call, uncapped (see
     * engine_call): a line over the cap is the request's to refuse.
     *
     * A request the memory cap stopped is decided once more, on the state
     * engine_call has just collected in full.  What an earlier request left
     * behind is garbage, which the collection run at the cap frees, but also
     * a grown stack and string table, which only a full collection outside
     * an emergency gives back: a request that needs most of the cap would
     * otherwise fail after one that recursed deeply, and pass on another
     * worker, or in a replay.  Requests keep no state, so deciding one again
     * changes nothing but its decision ids.  The second run has a budget of
     * its own (where a budget stops a request must not depend on what an
     * earlier one left), but only what the first left of the time: the two
     * together never run past the time limit.
     *
     * So too a fast attempt (ENGINE_FAST_RATE) that is not kept: the
     * request is decided again, counted, as if it had not been tried, in
     * what the attempt left of the time (below: less what it ran late). */
    int status;
    uint64_t started = 0, deadline = 0;
    int fast = engine_fast_next(en);
    en->history_got = 0;
    for (int attempt = 0;; attempt++) {
        engine_prepare(en, "request");
        lua_pushlstring(L, line, len);
        lua_pushstring(L, defaults ? engine_op_name(defaults->op) : NULL);
        lua_pushstring(L, defaults ? defaults->program : NULL);
        lua_pushstring(L, defaults ? defaults->as_of : NULL);
        lua_pushstring(L, defaults ? defaults->lang : NULL);
        lua_pushstring(L, defaults ? defaults->history : NULL);
        status = engine_run(en, 6, 1, en->budget, started, deadline, fast);
        en->history_reuse = 0;   /* a retry for the memory cap asks again */
        if (fast) {
            if (engine_fast_keep(en, status))
                break;
            fast = 0;
            attempt = -1;
            en->history_reuse = 1;
            started = en->started;
            /* The time limit counts from the attempt's start, less what it
             * ran past the time it could be kept: a call into C that no
             * clock stops (writing a value, 2^40 nodes to the 1 MiB cap of a
             * decision's JSON) ends the attempt only when it returns, and
             * without that time the counted run, which makes the same call,
             * would be stopped where it is not when decided counted alone.
             * A loop is thrown away within ENGINE_WATCH_NS of that time. */
            uint64_t late = en->fast_ns > en->fast_allow ? en->fast_ns - en->fast_allow : 0;
            if (late > UINT64_MAX - en->deadline)
                late = UINT64_MAX - en->deadline;
            started += late;   /* (the stop's message says deadline - started) */
            deadline = en->deadline + late;
            lua_settop(L, 0);
            if (status != LUA_OK)
                engine_forget(en);   /* as a failed request does (engine_error_text) */
            if (engine_after(en) != LUA_OK)   /* put back what it changed; the counted run reports it */
                lua_settop(L, 0);
            continue;
        }
        if (!en->mem_refused || attempt > 0)
            break;
        started = en->started;
        deadline = en->deadline;
        /* Only a request that failed: one Lua made room for (a collection,
         * then the block) is decided, and kept. */
        int failed = status != LUA_OK || lua_getfield(L, -1, "error_code") != LUA_TNIL;
        if (status == LUA_OK)
            lua_pop(L, 1);
        if (!failed)
            break;
        lua_settop(L, 0);
        if (engine_after(en) != LUA_OK)   /* put back what it changed; the retry reports it */
            lua_settop(L, 0);
    }
    if (status != LUA_OK) {
        /* An error raised while a criterion was being decided, but not by
         * its check (whose errors rules.lua reports as the criterion's), came
         * from writing the criterion's message: a template that is not a
         * text, a metamethod of the rule's texts or values.  The rule's
         * doing too, and named as the budget's and the cap's are
         * (engine_error_text names those). */
        char where[256] = "", text[sizeof where + sizeof msg];
        if (!engine_stopped(en, status) && decision_criterion(L) > 0)
            engine_where(en, where, sizeof where);
        const char *code = engine_failure_code(en, status);
        engine_error_text(en, status, msg, sizeof msg);
        snprintf(text, sizeof text, "%s%s", where, msg);
        lua_rawgeti(L, LUA_REGISTRYINDEX, en->api);       /* the id, if decoded */
        lua_getfield(L, -1, "current");
        d.id = draft_field(en, -1, "id");
        /* And what a key stored with this very application needs, if read
         * (pool.c answers the error with the stored decisions then). */
        lua_getfield(L, -1, "op");
        d.op = engine_op_named(lua_tostring(L, -1));
        lua_pop(L, 1);
        d.request_key = draft_field(en, -1, "request_key");
        d.fingerprint = draft_field(en, -1, "fingerprint");
        engine_result *r = engine_fail(en, &d, code, text);
        lua_settop(L, 0);
        if (engine_after(en) != LUA_OK)
            lua_settop(L, 0);
        return r;
    }
    int res = lua_gettop(L);

    /* The envelope. */
    d.id = draft_field(en, res, "id");
    lua_getfield(L, res, "op");
    d.op = engine_op_named(lua_tostring(L, -1));
    lua_pop(L, 1);
    d.error_code = draft_field(en, res, "error_code");
    d.error_message = draft_field(en, res, "error_message");
    d.program = draft_field(en, res, "program");
    d.as_of = draft_field(en, res, "as_of");
    d.lang = draft_field(en, res, "lang");
    d.request_key = draft_field(en, res, "request_key");
    d.applicant_id = draft_field(en, res, "applicant_id");
    d.fingerprint = draft_field(en, res, "fingerprint");
    d.decision_id = draft_field(en, res, "decision_id");
    d.body = draft_field(en, res, "body");
    d.ruleset = draft_put(en, ruleset_hash(en->rs), 64);
    lua_getfield(L, res, "limit");
    d.limit = lua_isinteger(L, -1) ? (long)lua_tointeger(L, -1) : 100;
    lua_pop(L, 1);

    /* The decisions, copied under the same protection as any Lua code. */
    if (!d.error_code) {
        lua_pushcfunction(L, engine_msgh);
        lua_pushcfunction(L, engine_copy_decisions);
        lua_pushlightuserdata(L, en);
        lua_pushlightuserdata(L, &d);
        lua_pushvalue(L, res);
        status = engine_call(en, 3, 0, en->budget);
        if (status != LUA_OK) {
            engine_error_text(en, status, msg, sizeof msg);
            lua_settop(L, 0);
            engine_result *r = engine_fail(en, &d, "rule_error", msg);
            if (engine_after(en) != LUA_OK)
                lua_settop(L, 0);
            return r;
        }
    }
    lua_settop(L, 0);

    /* No state may survive the request (rules.lua's after()). */
    status = engine_after(en);
    if (status != LUA_OK) {
        engine_error_text(en, status, msg, sizeof msg);
        lua_settop(L, 0);
        return engine_fail(en, &d, "rule_error", msg);
    }
    engine_assert(en);
    return engine_result_finish(en, &d);
}

void engine_result_free(engine_result *r)
{
    free(r);
}

/* The text a call of STATUS left on the stack, appended to OUT; TOO_LARGE
 * says so when OUT cannot hold it.  0, or -1 with E.  [-1, +0, -] */
static int engine_text_result(engine *en, int status, buf *out, const char *too_large, err *e)
{
    lua_State *L = en->L;
    char msg[512];
    int rc = 0;
    if (status != LUA_OK) {
        rc = err_set(e, "internal", "%s", engine_error_text(en, status, msg, sizeof msg));
    } else {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        if (buf_add(out, s, n) != 0)
            rc = err_set(e, "internal", "%s", too_large);
    }
    lua_settop(L, 0);
    return rc;
}

int engine_programs(engine *en, const char *as_of, const char *lang, buf *out, err *e)
{
    engine_prepare(en, "programs");
    lua_pushstring(en->L, as_of);
    lua_pushstring(en->L, lang);
    return engine_text_result(en, engine_call(en, 2, 1, en->budget), out,
                              "programme list too large", e);
}

int engine_explain(engine *en, const char *program, const char *version, const char *lang,
                   const char *as_of, buf *out, err *e)
{
    lua_State *L = en->L;
    char msg[512];
    engine_prepare(en, "explain");
    lua_pushstring(L, program);
    lua_pushstring(L, version);
    lua_pushstring(L, lang);
    lua_pushstring(L, as_of);   /* NULL: nil */
    int status = engine_call(en, 4, 1, en->budget);
    if (status != LUA_OK) {
        err_set(e, "internal", "%s", engine_error_text(en, status, msg, sizeof msg));
        return -1;
    }
    int rc = 0;
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (!s)
        rc = err_set(e, "not_found", "the rule set %.12s has no programme %s version %s",
                     ruleset_hash(en->rs), program, version);
    else if (buf_add(out, s, n) != 0)
        rc = err_set(e, "internal", "explanation too large");
    lua_settop(L, 0);
    return rc;
}

/* Report each {file, line, msg} of the list at the stack top.  [-0, +0, -] */
static int engine_report_list(lua_State *L, engine_report_fn *report, void *ud)
{
    int list = lua_gettop(L), n = 0;
    char text[1024];
    for (lua_Integer i = 1; lua_rawgeti(L, list, i) == LUA_TTABLE; i++) {
        lua_getfield(L, -1, "file");
        lua_getfield(L, -2, "line");
        lua_getfield(L, -3, "msg");
        lua_getfield(L, -4, "warning");
        const char *file = lua_tostring(L, -4), *msg = lua_tostring(L, -2);
        int warning = lua_toboolean(L, -1);   /* said, and no problem: ENGINE_WARNING */
        if (warning)
            snprintf(text, sizeof text, "%s%s", ENGINE_WARNING, msg ? msg : "?");
        if (report)
            report(ud, file ? file : "?", (int)lua_tointeger(L, -3),
                   warning ? text : msg ? msg : "?");
        n += !warning;
        lua_pop(L, 5);
    }
    lua_pop(L, 1);
    return n;
}

int engine_lint(ruleset *rs, const engine_config *cfg, engine_report_fn *report, void *ud, err *e)
{
    int n = 0;
    char msg[512];
    engine *en = engine_build(rs, cfg, report, ud, &n, e);
    if (!en)
        return n > 0 ? n : -1;   /* a set refused as a whole is one of the N */
    engine_prepare(en, "lint");
    int status = engine_call(en, 0, 1, engine_set_budget(en->budget, rs));
    if (status != LUA_OK) {
        err_set(e, "internal", "%s", engine_error_text(en, status, msg, sizeof msg));
        engine_free(en);
        return -1;
    }
    n += engine_report_list(en->L, report, ud);
    lua_settop(en->L, 0);
    engine_free(en);
    return n;
}

int engine_param_values(engine *en, buf *out, err *e)
{
    engine_prepare(en, "param_values");
    return engine_text_result(en, engine_call(en, 0, 1, engine_set_budget(en->budget, en->rs)),
                              out, "the parameters' values are too large", e);
}

int engine_param_edits(engine *en, const char *before, size_t len, const char *today,
                       engine_report_fn *report, void *ud, err *e)
{
    lua_State *L = en->L;
    char msg[512];
    engine_prepare(en, "param_edits");
    lua_pushlstring(L, before, len);
    lua_pushstring(L, today);
    int status = engine_call(en, 2, 1, engine_set_budget(en->budget, en->rs));
    if (status != LUA_OK) {
        err_set(e, "internal", "%s", engine_error_text(en, status, msg, sizeof msg));
        lua_settop(L, 0);
        return -1;
    }
    engine_report_list(L, report, ud);
    lua_settop(L, 0);
    return 0;
}

int engine_test(engine *en, engine_report_fn *report, engine_report_fn *note, void *ud,
                int *passed, int *failed, err *e)
{
    lua_State *L = en->L;
    char msg[512];
    *passed = *failed = 0;
    engine_prepare(en, "case_count");
    if (engine_call(en, 0, 1, en->budget) != LUA_OK) {
        err_set(e, "internal", "%s", engine_error_text(en, LUA_ERRRUN, msg, sizeof msg));
        return -1;
    }
    lua_Integer n = lua_tointeger(L, -1);
    lua_pop(L, 1);
    /* Each case runs as its own call, with its own budget, like a request,
     * and like one is run once more when the memory cap stopped it and its
     * request failed (see engine_request), whatever the case expected: a
     * case must not fail where its request would pass, nor pass expecting
     * an error its request would not be answered. */
    for (lua_Integer i = 1; i <= n; i++) {
        int status;
        uint64_t started = 0, deadline = 0;
        for (int attempt = 0;; attempt++) {
            engine_prepare(en, "run_case");
            lua_pushinteger(L, i);
            /* failure-or-nil errored | error */
            status = engine_call_from(en, 1, 2, en->budget, started, deadline);
            int errored = status != LUA_OK || lua_toboolean(L, -1);
            if (status == LUA_OK)
                lua_pop(L, 1);                            /* failure-or-nil */
            if (!en->mem_refused || attempt > 0 || !errored)
                break;
            started = en->started;
            deadline = en->deadline;
            lua_settop(L, 0);
            if (engine_after(en) != LUA_OK)   /* put back what it changed; the retry reports it */
                lua_settop(L, 0);
        }
        /* What the request would have been answered (engine_request). */
        const char *code = "rule_error";
        if (status != LUA_OK) {
            code = engine_failure_code(en, status);
            engine_error_text(en, status, msg, sizeof msg);
        }
        /* No state may survive a case, as none survives a request: a case
         * whose rules changed some fails, and the value is put back. */
        if (engine_after(en) != LUA_OK) {
            if (status == LUA_OK) {
                status = LUA_ERRRUN;
                engine_error_text(en, status, msg, sizeof msg);
            }
            lua_settop(L, 0);
        }
        if (status != LUA_OK) {
            /* A case may expect that error, as it may any other. */
            engine_prepare(en, "case_aborted");
            lua_pushinteger(L, i);
            lua_pushstring(L, code);
            lua_pushstring(L, msg);
            if (engine_call(en, 3, 1, en->budget) != LUA_OK) {
                /* The memory cap, at worst: name the case by its number. */
                char text[700];
                snprintf(text, sizeof text, "case %lld: %s", (long long)i, msg);
                if (report)
                    report(ud, "", 0, text);
                lua_settop(L, 0);
                ++*failed;
                continue;
            }
        }
        if (lua_istable(L, -1)) {
            lua_newtable(L);
            lua_insert(L, -2);
            lua_rawseti(L, -2, 1);
            *failed += engine_report_list(L, report, ud);
        } else {
            ++*passed;
            lua_pop(L, 1);
        }
    }
    engine_prepare(en, "coverage_notes");
    if (engine_call(en, 0, 1, en->budget) == LUA_OK)
        engine_report_list(L, note, ud);
    lua_settop(L, 0);
    return *failed ? 1 : 0;
}
