#!/usr/bin/env bash
# Issue 16's before/after table in one command.
#
#   before-after.sh BEFORE_NODE_BIN AFTER_NODE_BIN OUTDIR [quick]
#
# One fedci-testnet (FEDCI_TESTNET, default the one on PATH) drives both nodes
# through FEDCI_NODE_BIN. Every row runs BEFORE then AFTER, back to back; in full mode the
# fanout rows (1, 2, 6) get a second before/after pair, and the 1M-event catch-up (rows 4
# and 5, heavy on the disk) runs last. Each comparison with RabbitMQ is one `bench broker`
# run, so fedci and the broker share the machine's state of that moment.
#
# Every report is kept in OUTDIR as rN-<what>-pK-{before,after}.json (the JSON line), with
# the run's stdout (.out) and stderr (.err) beside it, plus meta.txt and durations.tsv. At
# the end a markdown table (also in OUTDIR/table.md) gives each row before, after, goal,
# met?, and RabbitMQ's figures from the same runs.
#
# Any failed run stops the script with its stderr tail and exit status 1. Run it on a quiet
# machine: nothing else compiling, no other benchmark.
set -euo pipefail

die() { echo "before-after: $*" >&2; exit 1; }

# table OUTDIR MODE: the markdown table from the JSON reports in OUTDIR.
table() {
python3 - "$1" "$2" <<'PY'
import glob, json, os, sys

out, mode = sys.argv[1], sys.argv[2]


def reports(prefix):
    """[(before, after)] for each pair of a row, in pair order; a missing file is an error."""
    pairs = []
    for b in sorted(glob.glob(os.path.join(out, prefix + "-p*-before.json"))):
        a = b[: -len("before.json")] + "after.json"
        pairs.append((json.load(open(b)), json.load(open(a))))
    if not pairs:
        sys.exit(f"before-after: no reports for {prefix} in {out}")
    return pairs


notes = []


def check_fixed(label, run):
    """A latency figure means little if events were lost or refused in that run: say so."""
    if run["lost"] or run["refused"]:
        notes.append(f"{label}: lost {run['lost']}, refused {run['refused']} of {run['published']} published")


def cells(pairs, fmt):
    return "; ".join(fmt(x) for x in pairs)


def verdict(oks, stretch=None):
    met = sum(oks)
    word = "yes" if met == len(oks) else ("no" if met == 0 else "partly")
    return f"{word} ({met}/{len(oks)})" + (f"; stretch {stretch}" if stretch else "")


rows = []

# 1. fanout 3 nodes at 1,000/s: publish -> remote stream, against RabbitMQ's p99 of the same run.
r1 = reports("r1-fanout3-broker")
for i, (b, a) in enumerate(r1, 1):
    for side, c in (("before", b), ("after", a)):
        check_fixed(f"row 1 pair {i} {side} fedci", c["fedci"]["run"])
        check_fixed(f"row 1 pair {i} {side} RabbitMQ", c["other"]["run"])
lat = lambda c, s: c[s]["run"]["latency"]
fan = lambda c: f"p50 {lat(c, 'fedci')['p50_ms']:.2f} / p99 {lat(c, 'fedci')['p99_ms']:.2f} ms"
c0 = r1[0][0]
rows.append((
    f"1. fanout {c0['consumers'] + 1} nodes at {c0['fedci']['run']['offered_rate']:,}/s, publish → remote stream",
    cells([b for b, _ in r1], fan), cells([a for _, a in r1], fan),
    "p50 ≤ 2 ms, p99 ≤ RabbitMQ's p99",
    verdict([lat(a, "fedci")["p50_ms"] <= 2.0 and lat(a, "fedci")["p99_ms"] <= lat(a, "other")["p99_ms"] for _, a in r1]),
    "; ".join(f"p50 {lat(c, 'other')['p50_ms']:.2f} / p99 {lat(c, 'other')['p99_ms']:.2f} ms ({s} run {i})"
              for i, (b, a) in enumerate(r1, 1) for s, c in (("before", b), ("after", a))),
))

# 2. highest zero-loss fanout rate to 2 nodes, against RabbitMQ's in the same run.
r2 = reports("r2-maxrate-broker")
rate = lambda c: f"{c['fedci']['max_zero_loss_rate']}/s ({c['max_zero_loss_ratio']:.2f}× RabbitMQ)"
for i, (b, a) in enumerate(r2, 1):
    for side, c in (("before", b), ("after", a)):
        for who in ("fedci", "other"):
            steps = c[who]["search"]
            ok = lambda r: r["lost"] == 0 and r["refused"] == 0 and r["publish_rate_achieved"] >= 0.95 * r["offered_rate"]
            if steps and all(ok(r) for r in steps):
                notes.append(f"row 2 pair {i} {side}: {c[who]['system']} passed every step up to the ceiling "
                             f"{steps[-1]['offered_rate']}/s: a floor, not its limit (raise --max-ceiling)")
rows.append((
    f"2. highest zero-loss fanout rate to {r2[0][0]['consumers']} nodes",
    cells([b for b, _ in r2], rate), cells([a for _, a in r2], rate),
    "≥ 1.0× RabbitMQ (stretch 1.3×)",
    verdict([a["max_zero_loss_ratio"] >= 1.0 for _, a in r2],
            f"{sum(a['max_zero_loss_ratio'] >= 1.3 for _, a in r2)}/{len(r2)}"),
    "; ".join(f"{c['other']['max_zero_loss_rate']}/s ({s} run {i})"
              for i, (b, a) in enumerate(r2, 1) for s, c in (("before", b), ("after", a))),
))

# 3. ingest through the socket, the node pinned to CPU 0, the generator on CPU 1.
r3 = reports("r3-ingest")
for i, (b, a) in enumerate(r3, 1):
    for side, r in (("before", b), ("after", a)):
        if r.get("node_cpus_allowed") != "0":
            sys.exit(f"before-after: row 3 pair {i} {side}: the node ran on CPUs {r.get('node_cpus_allowed')}, not 0")
        if r["saturation_errors"] or r["fixed_rate_errors"]:
            notes.append(f"row 3 pair {i} {side}: errors fixed {r['fixed_rate_errors']}, saturation {r['saturation_errors']}")
ing = lambda r: f"{r['saturation_rate']:,.0f}/s (p99 {r['saturation_latency']['p99_ms']:.1f} ms)"
rows.append((
    "3. ingest through the socket, one node (pinned)",
    cells([b for b, _ in r3], ing), cells([a for _, a in r3], ing),
    "≥ 20k/s", verdict([a["saturation_rate"] >= 20000 for _, a in r3]), "—",
))

# 4 and 5. one catch-up run per binary: the stores' bytes per event, and the catch-up time.
r45 = reports("r45-catchup")
def stopped_ratio(st):
    return st["ratio_stopped"]
def store(r):
    def one(who, st):
        return (f"{who} {st['ratio']:.2f}× running, {stopped_ratio(st):.2f}× stopped "
                f"({st['file_bytes_per_event']:,.0f} / {st['file_bytes_stopped'] / st['events']:,.0f} B/event)")
    return (one("publisher", r["publisher_store"]) + ", " + one("joiner", r["joiner_store"])
            + f"; COSE {r['joiner_store']['mean_cose_bytes']:.0f} B")
# The goal holds only if both stores meet it, running and stopped (redb trims the file on close).
worst = lambda r: max(f(r[w]) for w in ("publisher_store", "joiner_store") for f in (lambda st: st["ratio"], stopped_ratio))
n = r45[0][0]["events"]
for i, (b, a) in enumerate(r45, 1):
    for side, r in (("before", b), ("after", a)):
        for who in ("publisher_store", "joiner_store"):
            # The published events plus each community's roster.
            if r[who]["events"] < r["events"]:
                notes.append(f"row 4 {side}: {who} holds {r[who]['events']} events of {r['events']} published")
rows.append((
    f"4. store bytes per event at {n:,} events",
    cells([b for b, _ in r45], store), cells([a for _, a in r45], store),
    "≤ 1.3× the COSE event size",
    verdict([worst(a) <= 1.3 for _, a in r45]), "—",
))
cu = lambda r: f"{r['catchup_secs']:.1f} s ({r['events_per_sec']:,.0f}/s)"
rows.append((
    f"5. catch-up of {n:,} events",
    cells([b for b, _ in r45], cu), cells([a for _, a in r45], cu),
    "≤ 60 s (1M events)",
    verdict([a["catchup_secs"] <= 60 for _, a in r45]) if n == 1_000_000 else f"n/a ({n:,} events)", "—",
))

# 6. 10 nodes at 200/s.
r6 = reports("r6-fanout10")
for i, (b, a) in enumerate(r6, 1):
    for side, r in (("before", b), ("after", a)):
        check_fixed(f"row 6 pair {i} {side}", r)
f10 = lambda r: f"p99 {r['latency']['p99_ms']:.2f} ms (p50 {r['latency']['p50_ms']:.2f})"
rows.append((
    f"6. {r6[0][0]['nodes']} nodes at {r6[0][0]['offered_rate']:,}/s, p99",
    cells([b for b, _ in r6], f10), cells([a for _, a in r6], f10),
    "≤ 15 ms", verdict([a["latency"]["p99_ms"] <= 15 for _, a in r6]), "—",
))

print()
if mode == "quick":
    print("**Quick mode: tiny sizes to prove the script; the goals are for full mode.**\n")
print("| figure | before | after | goal | met? | RabbitMQ, same runs |")
print("|---|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
print()
print("Runs of a row are separated by `;` (pair 1; pair 2), each pair before then after.")
for n_ in notes:
    print(f"- note: {n_}")
durations = {}
for line in open(os.path.join(out, "durations.tsv")).read().splitlines()[1:]:
    row, _, secs = line.split("\t")
    durations[row] = durations.get(row, 0) + int(secs)
print("\nSeconds per row: " + ", ".join(f"row {r}: {s}" for r, s in durations.items())
      + f"; total {sum(durations.values())}")
PY
}

# `before-after.sh --table OUTDIR` prints the table of a finished run again.
if [[ ${1:-} == --table ]]; then
    [[ $# -eq 2 && -f $2/meta.txt ]] || die "usage: before-after.sh --table OUTDIR (a directory a run wrote)"
    table "$2" "$(awk '$1 == "mode" {print $2}' "$2/meta.txt")"
    exit 0
fi
[[ $# -ge 3 && $# -le 4 ]] || die "usage: before-after.sh BEFORE_NODE_BIN AFTER_NODE_BIN OUTDIR [quick]"
BEFORE=$(realpath -e "$1") || die "no before binary: $1"
AFTER=$(realpath -e "$2") || die "no after binary: $2"
OUT=$3
MODE=${4:-full}
[[ $MODE == full || $MODE == quick ]] || die "4th argument must be 'quick' (or nothing for full mode), not '$MODE'"
TESTNET=${FEDCI_TESTNET:-$(command -v fedci-testnet || true)}

# Prerequisites, checked before anything runs (no half-made table).
[[ -x $TESTNET ]] || die "no fedci-testnet (cargo build --profile profiling -p fedci-testnet, then put it on PATH or set FEDCI_TESTNET)"
for b in "$BEFORE" "$AFTER"; do
    [[ -x $b ]] || die "$b is not executable"
    "$b" --version >/dev/null 2>&1 || die "$b --version failed: not a fedci-node?"
done
"$TESTNET" bench catchup --help 2>/dev/null | grep -q -- '--events' || die "$TESTNET has no 'bench catchup'"
[[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] || die "rows 1 and 2 need RabbitMQ's server (apt-get install rabbitmq-server)"
command -v taskset >/dev/null || die "row 3 needs taskset (util-linux)"
command -v python3 >/dev/null || die "the table needs python3"
(( $(nproc) >= 2 )) || die "row 3 pins the node to CPU 0 and the generator to CPU 1: needs 2 CPUs, have $(nproc)"
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
compgen -G "$OUT/*.json" >/dev/null && die "$OUT already holds reports; give an empty or new directory"

# Sizes. Full mode is issue 16's table; quick mode only proves the script end to end.
if [[ $MODE == full ]]; then
    PAIRS=2
    R1=(broker --consumers 2 --rate 1000 --seconds 10)
    R2=(broker --consumers 2 --rate 1000 --seconds 5 --max-from 1500 --max-ceiling 20000)
    R3=(ingest --rate 5000 --seconds 10 --connections 64 --node-cpus 0)
    R45=(catchup --events 1000000)
    R6=(fanout --nodes 10 --rate 200 --seconds 10 --connections 8)
else
    PAIRS=1
    R1=(broker --consumers 2 --rate 200 --seconds 2)
    R2=(broker --consumers 2 --rate 200 --seconds 2 --max-from 300 --max-ceiling 500)
    R3=(ingest --rate 500 --seconds 2 --connections 16 --node-cpus 0)
    R45=(catchup --events 20000)
    R6=(fanout --nodes 10 --rate 50 --seconds 2 --connections 8)
fi

cat >"$OUT/meta.txt" <<EOF
mode      $MODE
started   $(date -u +%FT%TZ)
host      $(hostname) ($(nproc) CPUs), load $(cut -d' ' -f1-3 /proc/loadavg)
testnet   $TESTNET sha256 $(sha256sum "$TESTNET" | cut -c1-16)
before    $BEFORE sha256 $(sha256sum "$BEFORE" | cut -c1-16)
after     $AFTER sha256 $(sha256sum "$AFTER" | cut -c1-16)
EOF
printf 'row\tname\tseconds\n' >"$OUT/durations.tsv"

# Measured on this 2-core VM (quick mode, and single full-size runs of rows 2 and 4+5).
cat <<'EOF'
before-after: full mode takes about 40 min (before + after of every pair):
  row 1   fanout 3 nodes 1,000/s vs RabbitMQ, 10 s each   2 pairs x 2 runs x ~35 s    ~2.5 min
  row 6   fanout 10 nodes 200/s, 10 s                      2 pairs x 2 runs x ~15 s    ~1 min
  row 2   zero-loss search vs RabbitMQ, 5 s steps          2 pairs x 2 runs x ~2.5 min ~10 min
  row 3   ingest, node on CPU 0, 2 x 10 s phases           2 pairs x 2 runs x ~30 s    ~2 min
  row 4+5 catch-up of 1,000,000 events                     2 pairs x (~5 + ~3 min)     ~16 min
  (row 4+5 before took 9 min on this VM while another build ran: 327 s publishing, 182 s catching up)
EOF
if [[ $MODE == quick ]]; then
    echo "before-after: quick mode (tiny sizes, the goals do not apply): about 2.5 min"
fi

# run ROW NAME SIDE BIN ARGS...: one `fedci-testnet bench ARGS` with FEDCI_NODE_BIN=BIN; keeps
# its stdout, stderr and JSON line (the last line of stdout, which must parse as JSON).
run() {
    local row=$1 name=$2 side=$3 bin=$4
    shift 4
    local base="$OUT/$name-$side" pin=()
    # Row 3: the generator on CPU 1, the node (--node-cpus 0) on CPU 0.
    [[ $row == 3 ]] && pin=(taskset -c 1)
    echo "before-after: $(date -u +%T) row $row $name $side: ${pin[*]} fedci-testnet bench $*"
    local t0=$SECONDS
    if ! FEDCI_NODE_BIN=$bin "${pin[@]}" "$TESTNET" bench "$@" >"$base.out" 2>"$base.err"; then
        echo "before-after: row $row $name $side FAILED (FEDCI_NODE_BIN=$bin fedci-testnet bench $*); stderr tail:" >&2
        tail -n 20 "$base.err" >&2
        exit 1
    fi
    tail -n 1 "$base.out" >"$base.json"
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$base.json" 2>/dev/null \
        || die "row $row $name $side: last line of $base.out is not JSON"
    printf '%s\t%s\t%s\n' "$row" "$name-$side" "$((SECONDS - t0))" >>"$OUT/durations.tsv"
    grep -v '^{' "$base.out" | sed 's/^/    /'
}

pair() {
    local row=$1 name=$2
    shift 2
    run "$row" "$name" before "$BEFORE" "$@"
    run "$row" "$name" after "$AFTER" "$@"
}

for p in $(seq 1 "$PAIRS"); do
    pair 1 "r1-fanout3-broker-p$p" "${R1[@]}"
    pair 6 "r6-fanout10-p$p" "${R6[@]}"
    pair 2 "r2-maxrate-broker-p$p" "${R2[@]}"
    pair 3 "r3-ingest-p$p" "${R3[@]}"
done
# Last, heavy on the disk; one pair per pair of the other rows, as its spread between runs
# is a few seconds against a 60-s goal.
for p in $(seq 1 "$PAIRS"); do
    pair 45 "r45-catchup-p$p" "${R45[@]}"
done

echo "finished  $(date -u +%FT%TZ)" >>"$OUT/meta.txt"
table "$OUT" "$MODE" | tee "$OUT/table.md"
