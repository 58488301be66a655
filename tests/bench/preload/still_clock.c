/*
 * tests/bench/preload/still_clock.c -- for measuring the engine under
 * callgrind only: CLOCK_MONOTONIC (and its coarse twin) held still.
 *
 *   LD_PRELOAD=build/libstill_clock.so valgrind --tool=callgrind \
 *       --toggle-collect=engine_request build/bench_engine 3000 1
 *
 * A request is decided first with no instruction hook, and kept only when
 * the time it took proves the budget could not have stopped it
 * (ENGINE_FAST_RATE, core/engine.c).  Under callgrind everything runs some
 * forty times slower, no such run passes that test, and the instructions
 * counted would be those of the counted runs.  With the clock still, every
 * one passes, as nearly all do outside callgrind.  (No time limit holds
 * either: never load it into a running service.)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <time.h>

int clock_gettime(clockid_t id, struct timespec *ts)
{
    static int (*real)(clockid_t, struct timespec *);
    if (id == CLOCK_MONOTONIC || id == CLOCK_MONOTONIC_COARSE) {
        ts->tv_sec = 1000000;
        ts->tv_nsec = 0;
        return 0;
    }
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "clock_gettime");
    return real ? real(id, ts) : -1;
}
