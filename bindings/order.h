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

#include <lua.h>

/* pairs(t): an iterator, an opaque state and nil, for a walk of a snapshot
 * of T's keys, sorted, that skips a key whose value has since been set to
 * nil.  The iterator keeps nothing: called with the state and a key, it
 * gives the key after it, so one kept from a request to the next walks the
 * same way in each.  A weak table (__mode) is refused: its entries go
 * whenever the collector runs.  [-0, +3, e] */
int order_pairs(lua_State *L);

/* next(t, k): the key after K (nil: the first) in the order above, and its
 * value; nil after the last.  Goes through every key: a loop of next over
 * a table of n keys takes n * n steps, where pairs takes n log n.
 * [-0, +(1|2), e] */
int order_next(lua_State *L);

/* table.sort(t [, comp]): a stable merge sort.  Lua's own sort picks its
 * pivot at random, from the clock, when a split comes out lopsided, so that
 * equal elements (or an inconsistent comparator) could come out in another
 * order in another run; this one gives one order, and keeps equal elements
 * in the order they were.  [-0, +0, e] */
int order_sort(lua_State *L);

/* Push the table whose keys pairs(v) and next(v) walk, where V is the value
 * at IDX, and return 1; or push nothing and return 0 when there is none (V is
 * not a table, or pairs(V) runs the rule's own __pairs).  [-0, +(0|1), -] */
int order_contents(lua_State *L, int idx, int for_pairs);

#endif
