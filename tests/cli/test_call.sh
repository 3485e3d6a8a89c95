#!/usr/bin/env bash
# `motan call` end to end against real test servers: output in typed JSON, options, the exit
# codes (0 ok, 1 remote error, 2 usage, 3 timeout, 4 no endpoint / connection), arguments from
# @FILE, stdin and --raw-bytes (multi-MiB payloads), and the -n summary line (also under
# valgrind). Run from the repo root (BUILD defaults to build).
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
# ---- arguments from files and stdin ---------------------------------------------------------
printf '{"$int32":5}' >"$TMP/a.json"
printf '40' >"$TMP/forty.json"
expect 0 '{"$int32":5}' call "$U" echo "@$TMP/a.json"
run call "$U" add "@$TMP/forty.json" - <<<'2'
[ "$rc" -eq 0 ] && [ "$out" = 42 ] && pass=$((pass + 1)) || bad "add @FILE -: rc=$rc out=[$out] err=[$err]"
run call "$U" echo - <"$TMP/a.json"
[ "$rc" -eq 0 ] && [ "$out" = '{"$int32":5}' ] && pass=$((pass + 1)) || bad "echo - (stdin): rc=$rc out=[$out]"
printf 'ab\0\377' >"$TMP/raw.bin"
expect 0 '{"$bytes":"YWIA/w=="}' call "$U" echo --raw-bytes "@$TMP/raw.bin"
expect 0 '{"$bytes":"YWIA/w=="}' call --raw-bytes "@$TMP/raw.bin" "$U" echo
run call "$U" echo --raw-bytes - <"$TMP/raw.bin"
[ "$rc" -eq 0 ] && [ "$out" = '{"$bytes":"YWIA/w=="}' ] && pass=$((pass + 1)) || bad "--raw-bytes -: rc=$rc out=[$out]"
: >"$TMP/empty.bin"
expect 0 '{"$bytes":""}' call "$U" echo --raw-bytes "@$TMP/empty.bin"
# --raw-bytes takes its place among the ARGs: a listener that keeps the request frame it gets
# (and then hangs up) shows the arguments in order.
python3 - "$TMP/frame.bin" >"$TMP/cap.port" <<'PY' &
import socket, struct, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1); s.settimeout(30)
print(s.getsockname()[1], flush=True)
c, _ = s.accept(); c.settimeout(30); data = b""
def need(n):
    global data
    while len(data) < n:
        chunk = c.recv(65536)
        if not chunk: sys.exit(1)
        data += chunk
need(17); m = struct.unpack(">I", data[13:17])[0]
need(21 + m); b = struct.unpack(">I", data[17 + m:21 + m])[0]
need(21 + m + b)
open(sys.argv[1], "wb").write(data[:21 + m + b]); c.close()
PY
cap_pid=$!
for _ in $(seq 100); do [ -s "$TMP/cap.port" ] && break; sleep 0.05; done
run call --timeout 5000 "motan2://127.0.0.1:$(cat "$TMP/cap.port")/$SVC?connections=1" m '"a"' --raw-bytes "@$TMP/raw.bin" 3
wait "$cap_pid"
run decode frame "@$TMP/frame.bin"
[[ "$out" == *'"args":["a",{"$bytes":"YWIA/w=="},3]}' ]] && pass=$((pass + 1)) || bad "--raw-bytes order: [$out] [$err]"
# Payloads far over the kernel's 128 KiB per argument, round-tripped through echo: a 3 MiB
# string with escapes and non-ASCII text, and 5 MiB of random bytes.
python3 - "$TMP" <<'PY'
import json, os, random, sys
random.seed(20)
s = "".join(random.choice('abcdef\u00e9\u4e2d"\\\n\t') for _ in range(3 << 20))
open(os.path.join(sys.argv[1], "big.json"), "w", encoding="utf-8").write(json.dumps(s, ensure_ascii=False))
open(os.path.join(sys.argv[1], "big.bin"), "wb").write(random.randbytes(5 << 20))
PY
same_json() { # same_json FILE_A FILE_B: the same JSON value
    python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' "$1" "$2"
}
"$M" call --timeout 20000 "$U" echo "@$TMP/big.json" >"$TMP/big.out" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 0 ] && same_json "$TMP/big.json" "$TMP/big.out" && pass=$((pass + 1)) ||
    bad "3 MiB string through @FILE: rc=$rc $(head -c 300 "$TMP/err")"
"$M" call --timeout 20000 "$U" echo - <"$TMP/big.json" >"$TMP/big.out" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 0 ] && same_json "$TMP/big.json" "$TMP/big.out" && pass=$((pass + 1)) ||
    bad "3 MiB string through stdin: rc=$rc $(head -c 300 "$TMP/err")"
"$M" call --timeout 20000 "$U" echo --raw-bytes "@$TMP/big.bin" >"$TMP/big.out" 2>"$TMP/err"
rc=$?
if [ "$rc" -eq 0 ] && python3 -c 'import base64,json,sys; sys.exit(base64.b64decode(json.load(open(sys.argv[1]))["$bytes"]) != open(sys.argv[2], "rb").read())' \
    "$TMP/big.out" "$TMP/big.bin"; then
    pass=$((pass + 1))
else
    bad "5 MiB --raw-bytes: rc=$rc $(head -c 300 "$TMP/err")"
fi
# Clear errors, exit 2, before any call
printf '{bad' >"$TMP/bad.json"
mkdir -p "$TMP/dir"
expect 2 '' call "$U" echo "@$TMP/missing.json"
[[ "$err" == *"argument 1: cannot read '$TMP/missing.json': No such file or directory"* ]] || bad "missing file message [$err]"
expect 2 '' call "$U" echo "@$TMP/bad.json"
[[ "$err" == *"argument 1 (@$TMP/bad.json) is not typed JSON"* ]] || bad "bad file message [$err]"
expect 2 '' call "$U" echo "@$TMP/dir"
expect 2 '' call "$U" echo @
expect 2 '' call "$U" add - - </dev/null
[[ "$err" == *"argument 2: stdin is already read by argument 1"* ]] || bad "two - message [$err]"
expect 2 '' call "$U" echo --raw-bytes - - </dev/null
expect 2 '' call "$U" echo --raw-bytes "$TMP/raw.bin"
expect 2 '' call "$U" echo --raw-bytes "@$TMP/missing.bin"
expect 2 '' call "$U" echo --raw-bytes
expect 2 '' call -n 5 "$U" echo "@$TMP/missing.json"

# ---- repeat mode (-n): one summary line of key/value pairs ----------------------------------
NUM='[0-9]+'
PREFIX="rps $NUM p50_us $NUM p99_us $NUM p999_us $NUM max_us $NUM"
# summary_ok LINE: pairs all through, errors = the err_* counts, ok + errors = calls, codes in
# their order (-1, -2, ...).
summary_ok() {
    awk -v names="$(printf '%s ' ENOMEM EINVAL EAGAIN EDECODE EPROTO ETOOBIG EVERSION EMOTAN1 \
        EUNSUPPORTED EURL ETIMEOUT ECONNECT EBUSY ECANCELLED EREMOTE ENOENDPOINT EREGISTRY ECLOSED \
        ENOTFOUND EIO EDEADLOCK)" '
        BEGIN { n = split(names, order, " "); for (i = 1; i <= n; i++) rank[order[i]] = i }
        NR > 1 || NF % 2 { exit 1 }
        { for (i = 1; i < NF; i += 2) v[$i] = $(i + 1)
          last = 0; sum = 0
          for (i = 17; i < NF; i += 2) {
              name = substr($i, 5)
              if (substr($i, 1, 4) != "err_" || !(name in rank) || rank[name] <= last || $(i + 1) < 1) exit 1
              last = rank[name]; sum += $(i + 1)
          }
          if (sum != v["errors"] || v["ok"] + v["errors"] != v["calls"] || v["max_us"] < v["p999_us"] ||
              v["p999_us"] < v["p99_us"] || v["p99_us"] < v["p50_us"]) exit 1 }' <<<"$1"
}
run call -n 2000 -c 16 "motan2://127.0.0.1:$p1,127.0.0.1:$p2/$SVC?loadbalance=roundrobin" echo '"x"'
if [ "$rc" -ne 0 ] || ! [[ "$out" =~ ^calls\ 2000\ ok\ 2000\ errors\ 0\ $PREFIX$ ]] || ! summary_ok "$out"; then
    bad "-n summary: rc=$rc out=[$out] err=[$err]"
else
    pass=$((pass + 1))
fi
# -n 1 is the repeat mode too: the summary, not the result
run call -n 1 "$U" echo '"x"'
[ "$rc" -eq 0 ] && [[ "$out" =~ ^calls\ 1\ ok\ 1\ errors\ 0\ $PREFIX$ ]] && pass=$((pass + 1)) ||
    bad "-n 1: rc=$rc out=[$out] err=[$err]"
run call -n 1 -c 8 "$U" echo '"x"'
[ "$rc" -eq 0 ] && [[ "$out" == "calls 1 ok 1 errors 0 "* ]] && pass=$((pass + 1)) || bad "-n 1 -c 8: rc=$rc out=[$out]"
expect 2 '' call -c 2 "$U" echo '"x"'
[[ "$err" == *"-c needs -n"* ]] || bad "-c without -n message [$err]"
# (errorCountThreshold=0: errors never fuse the endpoint, so every call reaches the server)
run call -n 100 -c 4 "$U?errorCountThreshold=0" echo 1 --meta X-Fault=error-go
if [ "$rc" -ne 1 ] || ! [[ "$out" =~ ^calls\ 100\ ok\ 0\ errors\ 100\ $PREFIX\ err_EREMOTE\ 100$ ]] || [ "$(wc -l <"$TMP/out")" -ne 1 ] ||
    [[ "$err" != "error: remote error 500"* ]] || [ "$(wc -l <"$TMP/err")" -ne 1 ]; then
    bad "-n with errors: rc=$rc out=[$out] err=[$err]"
else
    pass=$((pass + 1))
fi
run call -n 10 -c 2 --timeout 50 "$U" sleep 500
[ "$rc" -eq 3 ] && [[ "$out" =~ ^calls\ 10\ ok\ 0\ errors\ 10\ $PREFIX\ err_ETIMEOUT\ 10$ ]] && pass=$((pass + 1)) ||
    bad "-n timeouts: rc=$rc out=[$out]"
# Several codes in one run: one server answers, one never does, one answers errors; the
# summary counts each code, in the order of the codes.
start s3 --fault noreply; p3=$port
start s4 --fault error-java; p4=$port
MIX="motan2://127.0.0.1:$p1,127.0.0.1:$p3,127.0.0.1:$p4/$SVC?loadbalance=roundrobin&haStrategy=failfast&errorCountThreshold=0"
run call -n 30 -c 3 --timeout 200 "$MIX" echo '"x"'
if [ "$rc" -eq 0 ] || ! [[ "$out" =~ ^calls\ 30\ ok\ [1-9][0-9]*\ errors\ [1-9][0-9]*\ $PREFIX\ err_ETIMEOUT\ [1-9][0-9]*\ err_EREMOTE\ [1-9][0-9]*$ ]] ||
    ! summary_ok "$out"; then
    bad "-n with mixed codes: rc=$rc out=[$out] err=[$err]"
else
    pass=$((pass + 1))
fi
# The repeat mode under memcheck: no invalid access to a request the library borrows, no leak
# (tests/cli/test_cli_repeat.c fails calls mid-run; this runs the real binary's paths).
if [ -z "${MOTAN_SANITIZER:-}" ] && command -v valgrind >/dev/null; then
    vg=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
        --suppressions=tests/support/valgrind.supp)
    vg_call() { # vg_call ARGS...: motan call ARGS under memcheck
        "${vg[@]}" "$M" call "$@" >"$TMP/out" 2>"$TMP/err"
        rc=$?
        if [ "$rc" -eq 99 ] || grep -q '^==[0-9]*==' "$TMP/err" || ! [[ "$(cat "$TMP/out")" == "calls "* ]]; then
            bad "valgrind motan call $*: rc=$rc $(head -c 2000 "$TMP/err")"
        else
            pass=$((pass + 1))
        fi
    }
    vg_call -n 200 -c 8 "$U" echo '"x"'
    vg_call -n 20 -c 4 --meta X-Fault=error-go "$U" echo 1
    vg_call -n 12 -c 3 --timeout 200 "$MIX" echo '"x"'
    vg_call -n 3 -c 2 "$U" echo --raw-bytes "@$TMP/raw.bin"
    vg_call -n 4 -c 2 "motan2://127.0.0.1:1/$SVC" echo 1
fi
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
# with the repeat mode: every call, and the summary line as without -v
run call -v -n 3 "$U" echo 1
[ "$rc" -eq 0 ] && [[ "$out" == "calls 3 ok 3 errors 0 "* ]] &&
    [ "$(grep -c '^\* result MOTAN_OK' "$TMP/err")" -eq 3 ] && pass=$((pass + 1)) ||
    bad "-v -n 3: rc=$rc out=[$out] err=[$err]"
# help
run call --help
[ "$rc" -eq 0 ] && [[ "$out" == *"usage: motan call"* ]] && [[ "$out" == *"-n N"* ]] || bad "call --help"
for want in '@FILE' '--raw-bytes @FILE|-' '-n 1 too' 'p999_us X max_us X' 'err_<CODE> COUNT'; do
    [[ "$out" == *"$want"* ]] && pass=$((pass + 1)) || bad "call --help does not say [$want]"
done

echo "test_call: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
