#!/usr/bin/env bash
# CPU each node of a 3-node fanout uses, in clock ticks (1/100 s) of user + system time.
#
#   fanout-cpu.sh NODE_BIN [RATE]
#
# Runs `fedci-testnet bench fanout --nodes 3 --rate RATE --seconds 12` (FEDCI_TESTNET, default
# the one on PATH) with FEDCI_NODE_BIN=NODE_BIN and reads /proc/PID/stat of each node from
# second 5 to second 11 of the run, when every node is in steady state. Prints the ticks of
# the publisher and the two receivers (divide by 6 s and the rate for CPU per event) and the
# run's delivery line. Interleave runs of the builds being compared: the VM drifts by ~10 %
# over an hour. Nothing else should run meanwhile.
set -euo pipefail
[[ $# -ge 1 && $# -le 2 ]] || { echo "usage: fanout-cpu.sh NODE_BIN [RATE]" >&2; exit 1; }
BIN=$(realpath -e "$1")
RATE=${2:-1000}
TESTNET=${FEDCI_TESTNET:-$(command -v fedci-testnet || true)}
[[ -x $TESTNET ]] || { echo "fanout-cpu: no fedci-testnet (set FEDCI_TESTNET)" >&2; exit 1; }
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
FEDCI_NODE_BIN=$BIN "$TESTNET" bench fanout --nodes 3 --rate "$RATE" --seconds 12 >"$OUT" 2>/dev/null &
bench=$!
nodes() { pgrep -f "^$BIN .* run" | sort -n || true; }
until (( $(nodes | wc -l) >= 3 )); do
    kill -0 "$bench" 2>/dev/null || { echo "fanout-cpu: the bench ended before 3 nodes ran" >&2; exit 1; }
    sleep 0.2
done
sleep 5
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# The publisher is started first (lowest pid), then the receivers.
declare -A t0
for p in $(nodes); do t0[$p]=$(ticks "$p"); done
sleep 6
line=""
for p in $(nodes); do line="$line $(( $(ticks "$p") - t0[$p] ))"; done
wait "$bench"
echo "ticks in 6 s (publisher, receivers):$line; $(grep -o 'latency p50.*' "$OUT" | head -1)"
