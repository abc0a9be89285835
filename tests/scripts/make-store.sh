#!/bin/bash
# Rebuilds a migration fixture (tests/data/store-v1, tests/data/store-v2): the OPNFV home of
# the demo, run by a fedci-node of an older store format (store-v1: any build from before the
# second format, e.g. commit b005266; store-v2: a build from before the third, e.g. 106d904),
# plus 241 more events (custom kind, links to an artifact, one dangling link) and a durable
# consumer acknowledged midway; expected.json records what that node answered.
#
# Usage: tests/scripts/make-store.sh OLD_FEDCI_NODE FEDCI_TESTNET OUT_DIR
# (the fedci-testnet of the same old commit; needs curl and python3)
set -euo pipefail
OLD=$(realpath "$1"); TESTNET=$(realpath "$2"); OUT=$3
SCENARIOS=$(cd "$(dirname "$0")/../../testnet/scenarios" && pwd)
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/bin"; ln -s "$OLD" "$WORK/bin/fedci-node"
PATH=$WORK/bin:$PATH FEDCI_NODE_BIN=$OLD "$TESTNET" demo --dir "$WORK/demo" --scenarios "$SCENARIOS" >"$WORK/demo.log" 2>&1
H=$WORK/demo/opnfv
rm -f $H/*.sock $H/node.log
$OLD --home $H run > "$WORK/run.log" 2>&1 &
PID=$!
for i in $(seq 100); do [ -S $H/fedci.sock ] && break; sleep 0.1; done
first=$($OLD --home $H publish --kind artifact.created --data '{"identity":"pkg:generic/fixture@1","version":"1"}')
for i in $(seq 1 200); do
  $OLD --home $H publish --kind x-fedci.fixture --data "{\"n\":$i}" >/dev/null
done
for i in $(seq 1 39); do
  $OLD --home $H publish --kind x-fedci.fixture --data "{\"n\":$((200+i))}" --link "SUBJECT=$first" >/dev/null
done
$OLD --home $H publish --kind x-fedci.fixture --data '{"n":0}' --link "SUBJECT=00000000000000000000000000000000000000000000000000000000000000aa" >/dev/null 2>&1
mid=$(curl -s --unix-socket $H/fedci.sock "http://x/v1/events?limit=100" | python3 -c "import json,sys; print(json.load(sys.stdin)[\"events\"][-1][\"arrival\"])")
echo "mid arrival: $mid"
curl -s --unix-socket $H/fedci.sock -X POST "http://x/v1/consumers/fixture-ci/ack" -d "{\"arrival\":$mid}"; echo
python3 - "$H/fedci.sock" "$WORK/expected.json" <<'PY'
import json, subprocess, sys
sock, out = sys.argv[1], sys.argv[2]
def get(path):
    return json.loads(subprocess.check_output(["curl", "-sf", "--unix-socket", sock, "http://x" + path]))
events = []
for e in get("/v1/events?limit=1000")["events"]:
    one = get("/v1/events/" + e["id"])
    events.append({k: one.get(k) for k in ("arrival", "id", "arrived_at", "kind", "community")})
json.dump({"events": events, "consumers": get("/v1/consumers")}, open(out, "w"), indent=1)
print(len(events), "events")
PY
kill -INT $PID; wait $PID || true
rm -f $H/*.sock $H/node.log
mkdir -p "$OUT"; rm -rf "${OUT:?}"/*; cp -a "$H"/. "$OUT"/; mv "$WORK/expected.json" "$OUT/expected.json"
ls -la "$OUT"
