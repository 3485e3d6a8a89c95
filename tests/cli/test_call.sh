#!/usr/bin/env bash
# `motan call` end to end against real test servers: output in typed JSON, options, the exit
# codes (0 ok, 1 remote error, 2 usage, 3 timeout, 4 no endpoint / connection) and the -n
# summary line. Run from the repo root (BUILD defaults to build).
set -uo pipefail
ROOT="${MOTAN_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$ROOT"
BUILD="${BUILD:-build}"
M="$BUILD/bin/motan"
TMP=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT

start() { # start NAME ARGS... -> port in $port
    local name=$1; shift
    "$BUILD/bin/motan-test-server" --port 0 --name "$name" --quiet "$@" >"$TMP/$name.port" &
    pids+=($!)
    for _ in $(seq 100); do [ -s "$TMP/$name.port" ] && break; sleep 0.05; done
    port=$(head -1 "$TMP/$name.port")
}
start s1; p1=$port
start s2; p2=$port
SVC=com.example.EchoService
U="motan2://127.0.0.1:$p1/$SVC"

pass=0 fail=0
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
run() { "$M" "$@" >"$TMP/out" 2>"$TMP/err"; rc=$?; out=$(cat "$TMP/out"); err=$(cat "$TMP/err"); }
expect() { # expect RC STDOUT ARGS...
    local want_rc=$1 want=$2; shift 2
    run "$@"
    if [ "$rc" -ne "$want_rc" ] || [ "$out" != "$want" ]; then
        bad "motan $* -> rc=$rc out=[$out] err=[$err]; want rc=$want_rc out=[$want]"
    elif [ "$rc" -ne 0 ] && [[ "$err" != "error: "* ]]; then
        bad "motan $* -> stderr [$err] does not start with error:"
    else
        pass=$((pass + 1))
    fi
}

expect 0 '"hi"' call "$U" echo '"hi"'
expect 0 '{"$int32":5}' call "$U" echo '{"$int32":5}'
expect 0 '{"k":[1,{"$bytes":"AP8="}]}' call "$U" echo '{"k":[1,{"$bytes":"AP8="}]}'
expect 0 'null' call "$U" echo
expect 0 '42' call "$U" add 40 2
expect 0 '1' call "$U" add -- -1 2
expect 0 '1' call "$U" add -1 2
expect 0 '"s1"' call "$U" name
for ser in simple msgpack json; do
    expect 0 '"x"' call --serialization "$ser" "$U" echo '"x"'
done
expect 0 '7' call --meta a=b --meta c=d --md long,long "$U" add 3 4
expect 0 '"late"' call --meta X-Fault=delay:50 --timeout 2000 "$U" echo '"late"'
# exit codes
expect 1 '' call "$U" fail '"nope"'
run call "$U" fail '"nope"'
[[ "$err" == *"30001"*"errtype 2"*"nope"* ]] || bad "remote error message [$err]"
expect 1 '' call "$U" nosuchmethod
expect 3 '' call --timeout 100 "$U" sleep 1000
run call --timeout 100 "$U" sleep 1000
[[ "$err" == *"$SVC.sleep"*"127.0.0.1:$p1"* ]] || bad "timeout message says where: [$err]"
expect 4 '' call "motan2://127.0.0.1:1/$SVC" echo 1
expect 2 '' call "$U"
expect 2 '' call
expect 2 '' call "nonsense" echo
expect 2 '' call "$U" echo '{bad json'
expect 2 '' call --timeout abc "$U" echo 1
expect 2 '' call --serialization hessian2 "$U" echo 1
expect 2 '' call --meta novalue "$U" echo 1
expect 2 '' call --bogus 1 "$U" echo 1
expect 2 '' call "$U?loadbalance=nope" echo 1
# -n / -c: exactly one summary line
run call -n 2000 -c 16 "motan2://127.0.0.1:$p1,127.0.0.1:$p2/$SVC?loadbalance=roundrobin" echo '"x"'
if [ "$rc" -ne 0 ] || ! [[ "$out" =~ ^calls\ 2000\ ok\ 2000\ errors\ 0\ rps\ [0-9]+\ p50_us\ [0-9]+\ p99_us\ [0-9]+$ ]]; then
    bad "-n summary: rc=$rc out=[$out] err=[$err]"
else
    pass=$((pass + 1))
fi
run call -n 100 -c 4 "$U" echo 1 --meta X-Fault=error-go
if [ "$rc" -ne 1 ] || ! [[ "$out" =~ ^calls\ 100\ ok\ 0\ errors\ 100\ rps ]] || [ "$(wc -l <"$TMP/out")" -ne 1 ]; then
    bad "-n with errors: rc=$rc out=[$out]"
else
    pass=$((pass + 1))
fi
run call -n 10 -c 2 --timeout 50 "$U" sleep 500
[ "$rc" -eq 3 ] && [[ "$out" == "calls 10 ok 0 errors 10 "* ]] || bad "-n timeouts: rc=$rc out=[$out]"
pass=$((pass + 1))
# -v: the call's progress on stderr, the result on stdout as without it
run call -v "$U?filter=trace" echo '"hi"'
v_ok=1
[ "$rc" -eq 0 ] && [ "$out" = '"hi"' ] || v_ok=0
grep -q "^\* call $SVC.echo (group default_rpc, simple, 7 bytes)$" "$TMP/err" || v_ok=0
grep -q "^\* attempt 0 -> 127.0.0.1:$p1 (sent [0-9]* us after the call began)$" "$TMP/err" || v_ok=0
grep -Eq "^\* attempt 0 <- 127.0.0.1:$p1: MOTAN_OK in [0-9]+ us: queue [0-9]+, connect [0-9]+, write [0-9]+, wait [0-9]+, decode [0-9]+ us$" "$TMP/err" || v_ok=0
grep -Eq "^\* result MOTAN_OK in [0-9]+ us after 1 attempt, 7 bytes$" "$TMP/err" || v_ok=0
[ "$(grep -vc '^\* ' "$TMP/err")" -eq 0 ] || v_ok=0
[ "$v_ok" -eq 1 ] && pass=$((pass + 1)) || bad "-v: rc=$rc out=[$out] err=[$err]"
# each attempt of a failing call, with its error, then the usual error line
run call -v --timeout 2000 "$U?retries=2" echo 1 --meta X-Fault=close
v_ok=1
[ "$rc" -eq 4 ] || v_ok=0
for a in 0 1 2; do
    grep -q "^\* attempt $a <- 127.0.0.1:$p1: MOTAN_ECONNECT in " "$TMP/err" || v_ok=0
done
grep -q "^\* result MOTAN_ECONNECT in [0-9]* us after 3 attempts, 0 bytes$" "$TMP/err" || v_ok=0
[ "$(tail -1 "$TMP/err" | cut -c1-20)" = "error: MOTAN_ECONNEC" ] || v_ok=0
[ "$v_ok" -eq 1 ] && pass=$((pass + 1)) || bad "-v retries: rc=$rc err=[$err]"
# a timed-out wait is in the wait phase
run call -v --timeout 100 "$U" sleep 1000
grep -Eq "^\* attempt 0 <- .*: MOTAN_ETIMEOUT in [0-9]+ us: .*wait (9[0-9]{4}|1[0-9]{5}), decode 0 us$" "$TMP/err" &&
    [ "$rc" -eq 3 ] && pass=$((pass + 1)) || bad "-v timeout: rc=$rc err=[$err]"
# help
run call --help
[ "$rc" -eq 0 ] && [[ "$out" == *"usage: motan call"* ]] && [[ "$out" == *"-n N"* ]] || bad "call --help"

echo "test_call: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
