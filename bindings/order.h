/*
 * order.h -- the order in which rules see a table's keys, and a sorted list.
 *
 * Lua's own next() walks a table in the order of its hash slots, and Lua
 * seeds its string hash anew in each process: the same rule on the same
 * applicant would see {a = 1, b = 2} as a, b in one run and as b, a in the
 * next, and a decision could come out otherwise when replayed.  The pairs
 * and next the rules get walk every table in one order instead:
 *
 *     numbers, ascending by value (integers and floats alike),
 *     then strings, byte by byte (a prefix before what extends it),
 *     then false, then true.
 *
 * A key of any other type (a table, a function) has no order but its
 * address, which changes from run to run as the hash does: walking a table
 * that holds one is an error that says so.
 *
 * A frozen table of the rule set and a record or list of the applicant are
 * walked through their contents (their metatable's __frozen), as before;
 * a table whose metatable has a __pairs of the rule's own gets it, as
 * Lua's pairs does.
 */
#ifndef ELIGO_ORDER_H
#define ELIGO_ORDER_H

#include <stdint.h>

#include <lua.h>

/* What this file needs of whoever runs the rules (the engine), set once on
 * a state with order_set_host.  Without a host nothing is paid and a walk
 * is good anywhere. */
typedef struct order_host {
    /* Pay COST instructions for work done in C on a rule's behalf; does
     * not return when that spends the budget or the time. */
    void (*pay)(void *ud, lua_State *L, lua_Integer cost);
    /* Look at the clock; does not return when the time is spent. */
    void (*tick)(void *ud, lua_State *L);
    void *ud;
    /* Changes with every call into the rules (a request, a file loaded):
     * a walk pairs began goes on only within the call it began in. */
    uint64_t epoch;
} order_host;

/* Make HOST the host of L's rules (NULL: none).  [-0, +0, m] */
void order_set_host(lua_State *L, order_host *host);

/* Pay COST instructions (saturated) for work done in C on a rule's behalf,
 * through the host, if any.  [-0, +0, v] */
void order_pay(lua_State *L, lua_Integer cost);

/* How many tables a read (FIELD "__index") or a write ("__newindex") of
 * the table at IDX may go through: 1, and one more for each table of its
 * chain of FIELD tables, read raw (Lua follows up to 2000 in C: such a read
 * runs no instruction however long the chain; a function in the chain runs
 * counted code).  [-0, +0, -] */
lua_Integer order_chain_depth(lua_State *L, int idx, const char *field);

/* pairs(t): an iterator, an opaque state and nil, for a walk of a snapshot
 * of T's keys, sorted, that skips a key whose value has since been set to
 * nil.  The iterator keeps nothing: called with the state and a key, it
 * gives the key after it; and the state is good only within the request
 * (or the file's loading) that made it.  A weak table (__mode) is refused,
 * when the walk begins and at each step: its entries go whenever the
 * collector runs.  Pays for the keys it sorts, and each step for the keys
 * it looks at.  [-0, +3, e] */
int order_pairs(lua_State *L);

/* Push the table whose keys pairs(v) and next(v) walk, where V is the value
 * at IDX, and return 1: a frozen table's or an applicant's contents (their
 * metatable's __frozen, read raw), or V itself; or push nothing and return
 * 0 when there is none (V is not a table, or, FOR_PAIRS, pairs(V) runs a
 * __pairs of the rule's own).  [-0, +(0|1), -] */
int order_contents(lua_State *L, int idx, int for_pairs);

/* next(t, k): the key after K (nil: the first) in the order above, and its
 * value; nil after the last.  Goes through every key, and pays for them: a
 * loop of next over a table of n keys takes n * n steps, where pairs takes
 * n log n.  [-0, +(1|2), e] */
int order_next(lua_State *L);

/* table.sort(t [, comp]): a stable merge sort.  Lua's own sort picks its
 * pivot at random, from the clock, when a split comes out lopsided, so that
 * equal elements (or an inconsistent comparator) could come out in another
 * order in another run; this one gives one order, and keeps equal elements
 * in the order they were.  It reads T's length and each element once (a
 * __len or __index of the rule's own cannot tell the payment one thing and
 * the sort another), pays for reading them and for the comparisons their
 * number and text take, then sorts the copy and writes it back.
 * [-0, +0, e] */
int order_sort(lua_State *L);

#endif
