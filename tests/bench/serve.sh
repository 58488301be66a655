#!/bin/sh
# The service's benchmark: starts `eligo serve` on the shipped rules with a
# fresh database in a temporary directory and runs `eligo bench` against it:
#   1. decide, 16 connections x 32 in flight        (throughput)
#   2. screen, the same                              (five decisions a request)
#   3. decide at half the rate of 1, open loop      (latency below saturation)
#   4. decide, 1 connection x 1 in flight           (one request at a time)
# each RUNS times (default 3), printing every run's JSON line; the server's CPU
# time per decision is printed from /proc.  Not a test: figures depend on the
# machine.  Usage: tests/bench/serve.sh [SECONDS] [RUNS]
set -eu
cd "$(dirname "$0")/../.."
E=${ELIGO:-build/eligo}
secs=${1:-10}
runs=${2:-3}
dir=$(mktemp -d)
pid=
# set -e holds inside the trap too: a server already gone must not stop the clean-up.
trap '[ -z "$pid" ] || kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT

start() {
    rm -f "$dir"/e.db*
    $E serve --rules rules --db "$dir/e.db" --socket "$dir/e.sock" --quiet "$@" 2>"$dir/log" &
    pid=$!
    for _ in $(seq 50); do [ -S "$dir/e.sock" ] && return; sleep 0.1; done
    cat "$dir/log" >&2; exit 1
}
ticks() { awk '{print $14 + $15}' /proc/$pid/stat; }
bench() {   # label, then bench options
    label=$1; shift
    t0=$(ticks)
    out=$($E bench --socket "$dir/e.sock" --json "$@")
    t1=$(ticks)
    echo "$label $out server_cpu_s=$(( (t1 - t0) ))e-2"
}

for r in $(seq "$runs"); do
    start
    line=$(bench decide -c 16 -P 32 -d "$secs")
    echo "$line"
    rate=$(echo "$line" | sed -n 's/.*"requests_per_s":\([0-9]*\).*/\1/p')
    bench screen -c 16 -P 32 -d "$secs" --op screen
    bench half-rate -c 16 -P 32 -d "$secs" --rate $(( ${rate:-2000} / 2 ))
    bench single -c 1 -P 1 -d "$secs"
    kill $pid; wait $pid 2>/dev/null || true
done
