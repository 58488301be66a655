#!/bin/sh
# Where the service's CPU goes: starts `eligo serve` on the shipped rules with
# a fresh database, runs one `eligo bench` against it, and prints each
# thread's user and system CPU per decision (from /proc/PID/task/*/stat; the
# threads are named worker-N, writer, checkpointer, and eligo for the event
# loop), how long each waited for a core while runnable (the second field of
# /proc/PID/task/*/schedstat), the bytes the server wrote per decision
# (/proc/PID/io), and the server's own latency per stage (the health
# request's latency_ms).
# Not a test: figures depend on the machine.
#   Usage: tests/bench/threads.sh [BENCH OPTIONS]   (default: -c 16 -P 32 -d 10)
set -eu
cd "$(dirname "$0")/../.."
E=${ELIGO:-build/eligo}
[ $# -gt 0 ] || set -- -c 16 -P 32 -d 10
dir=$(mktemp -d)
pid=
trap '[ -z "$pid" ] || kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT

$E serve --rules rules --db "$dir/e.db" --socket "$dir/e.sock" --quiet 2>"$dir/log" &
pid=$!
for _ in $(seq 50); do [ -S "$dir/e.sock" ] && break; sleep 0.1; done
[ -S "$dir/e.sock" ] || { cat "$dir/log" >&2; exit 1; }

# name utime stime (clock ticks) runqueue-wait (ns), one line per thread
snap() {
    for t in /proc/$pid/task/*; do
        printf '%s %s %s\n' "$(tr ' ' '_' <"$t/comm")" "$(cut -d' ' -f14,15 <"$t/stat")" \
            "$(cut -d' ' -f2 <"$t/schedstat")"
    done | sort
}
written() { sed -n 's/^write_bytes: //p' /proc/$pid/io; }

snap >"$dir/before"
w0=$(written)
out=$($E bench --socket "$dir/e.sock" --json "$@")
w1=$(written)
snap >"$dir/after"
echo "$out"
n=$(echo "$out" | sed -n 's/.*"decisions":\([0-9]*\).*/\1/p')
hz=$(getconf CLK_TCK)
paste "$dir/before" "$dir/after" | awk -v n="$n" -v hz="$hz" '
    { u = ($6 - $2) / hz * 1e6 / n; s = ($7 - $3) / hz * 1e6 / n; w = ($8 - $4) / 1e3 / n
      tu += u; ts += s
      printf "%-14s user %5.1f  system %5.1f  waited for a core %5.1f  µs per decision\n", $1, u, s, w }
    END { printf "%-14s user %5.1f  system %5.1f  total %.1f µs per decision\n", "all", tu, ts, tu + ts }'
echo "$w0 $w1 $n" | awk '{ printf "written        %.1f KB per decision\n", ($2 - $1) / $3 / 1024 }'
echo '{"op":"health"}' | $E submit --socket "$dir/e.sock" 2>/dev/null |
    sed -n 's/.*"latency_ms":\({.*}}\).*/server latency (ms) \1/p'
