#!/usr/bin/env bash
# `make demo`: three test servers on loopback, a client calling them through the cluster with
# roundrobin + failover, one server killed mid-run: no call fails. Stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"
SERVER="$BUILD/bin/motan-test-server"
CALLS="${DEMO_CALLS:-200000}"

pids=()
tmp=$(mktemp -d)
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.05; done; done
    rm -rf "$tmp"
}
trap cleanup EXIT

bash scripts/demo-wire.sh
echo
echo "================================================================================"
echo "libmotan demo, part 2: a cluster that survives a server dying mid-run"
echo

ports=()
for name in s1 s2 s3; do
    "$SERVER" --port 0 --name "$name" --quiet >"$tmp/$name.port" &
    pids+=($!)
    disown $! # no job notice when it is killed on purpose
    for _ in $(seq 100); do [ -s "$tmp/$name.port" ] && break; sleep 0.05; done
    port=$(head -1 "$tmp/$name.port")
    ports+=("$port")
    echo "started motan-test-server $name on 127.0.0.1:$port"
done
url="motan2://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}/com.example.EchoService"
echo
echo "client URL: $url"
echo "            (examples/cluster_failover.c sets loadbalance=roundrobin, haStrategy=failover,"
echo "             retries=2 through motan_config_set_*)"
echo "calling com.example.EchoService.echo $CALLS times, 16 in flight..."
"$BUILD/examples/cluster_failover" "$url" "$CALLS" 16 >"$tmp/result" 2>"$tmp/errors" &
client=$!
sleep 0.5
echo "killing s2 (pid ${pids[1]}) with SIGKILL while calls are in flight"
kill -9 "${pids[1]}"
rc=0
wait "$client" || rc=$?
echo
cat "$tmp/result"
failed=$(sed -n 's/^calls [0-9]* ok [0-9]* failed \([0-9]*\)$/\1/p' "$tmp/result")
echo
if [ "$rc" -eq 0 ] && [ "${failed:-1}" -eq 0 ]; then
    echo "no call failed: calls that were on s2 or picked it were retried on s1 and s3,"
    echo "and s2 was fused after 10 consecutive errors (heartbeats would bring it back)."
else
    echo "some calls failed:"
    cat "$tmp/errors"
    exit 1
fi
