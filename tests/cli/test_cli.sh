#!/usr/bin/env bash
# The `motan` CLI contract, end to end: exact stdout, exit codes, one-line "error: ..." on
# stderr, help and usage errors. Inputs taken from the conformance vectors are read from
# $MOTAN_VECTORS_DIR at run time. Run from the repo root (BUILD defaults to build).
set -uo pipefail

ROOT="${MOTAN_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$ROOT"
BUILD="${BUILD:-build}"
. "$ROOT/scripts/vectors.sh"
VEC="$(motan_vectors_dir "$ROOT")"
M="$BUILD/bin/motan"
[ -x "$M" ] || { echo "test_cli: $M is missing (make tools)"; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# Hex of a vector: vhex frames.json resp_ok
vhex() {
    python3 -c 'import json,sys; print(next(v["hex"] for v in json.load(open(sys.argv[1])) if v["name"] == sys.argv[2]))' \
        "$VEC/$1" "$2"
}

# run ARGS...: sets out, err, rc.
run() {
    "$M" "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    out=$(cat "$TMP/out")
    err=$(cat "$TMP/err")
}

# expect_ok WANT ARGS...: exit 0, stdout exactly WANT plus a newline, stderr empty.
expect_ok() {
    local want=$1; shift
    run "$@"
    local raw
    raw=$(od -An -c "$TMP/out" | tr -d ' \n' | tail -c 2)
    if [ "$rc" -ne 0 ] || [ "$out" != "$want" ] || [ -s "$TMP/err" ] || [ "$raw" != '\n' ]; then
        bad "motan $* -> rc=$rc out=[$out] err=[$err], want [$want]"
    else
        ok
    fi
}

# expect_err CODE ARGS...: exit CODE, empty stdout, stderr starting with "error: ".
# For code 1 the stderr must be exactly one line.
expect_err() {
    local code=$1; shift
    run "$@"
    local lines
    lines=$(wc -l <"$TMP/err")
    if [ "$rc" -ne "$code" ] || [ -n "$out" ] || [[ "$err" != "error: "* ]]; then
        bad "motan $* -> rc=$rc out=[$out] err=[$err], want exit $code and error:"
    elif [ "$code" -eq 1 ] && [ "$lines" -ne 1 ]; then
        bad "motan $* -> stderr has $lines lines, want 1: [$err]"
    else
        ok
    fi
}

# expect_usage_err ARGS...: exit 2, "error: ..." and a hint pointing at --help.
expect_usage_err() {
    expect_err 2 "$@"
    if [[ "$err" != *"--help"* ]]; then
        bad "motan $* -> no usage hint in [$err]"
    fi
}

# expect_help ARGS...: exit 0, usage on stdout, nothing on stderr.
expect_help() {
    run "$@"
    if [ "$rc" -ne 0 ] || [[ "$out" != *"usage: motan"* ]] || [ -s "$TMP/err" ]; then
        bad "motan $* -> rc=$rc, no usage on stdout: [$out] [$err]"
    else
        ok
    fi
}

# ---- encode simple --------------------------------------------------------------------------
expect_ok 0802 encode simple '{"$int32":1}'
expect_ok 0954 encode simple 42
expect_ok 0100000003616263 encode simple '"abc"'
expect_ok 030000000200ff encode simple '{"$bytes":"AP8="}'
expect_ok 020000000a000000016b0000000176 encode simple '{"$string_map":{"k":"v"}}'
expect_ok 1400000008090e010000000178 encode simple '{"$map":[[7,"x"]]}'
expect_ok 150000000a01000000016108020501 encode simple ' ["a", {"$int32": 1}, true] '
expect_ok 0b3ff8000000000000 encode simple 1.5
expect_ok 00 encode simple null
echo -n '{"$int16":-2}' >"$TMP/text"
"$M" encode simple - <"$TMP/text" >"$TMP/o" 2>&1 && [ "$(cat "$TMP/o")" = 07fffe ] && ok ||
    bad "encode simple - (stdin)"
expect_err 2 encode simple nope
expect_err 2 encode simple '{"$int32":2147483648}'
expect_err 2 encode simple '{"$nope":1}'
expect_err 2 encode simple '[1,'
expect_err 2 encode simple ''
expect_usage_err encode simple
expect_usage_err encode simple 1 2
expect_usage_err encode xml 1
expect_usage_err encode

# ---- decode simple --------------------------------------------------------------------------
expect_ok '{"$int32":1}' decode simple 0802
expect_ok 42 decode simple 0954
expect_ok '{"$float32":1.5}' decode simple 0A3FC00000
expect_ok '[1,2]' decode simple '15000000 04
 0902 0904'
expect_ok '{"$map":[[7,"x"]]}' decode simple 1400000008090e010000000178
expect_ok '{"k":1}' decode simple 140000000801000000016b0902
expect_ok '{"$bytes":"AP8="}' decode simple 030000000200ff
printf '\x08\x02' | "$M" decode simple - >"$TMP/o" 2>&1 && [ "$(cat "$TMP/o")" = '{"$int32":1}' ] && ok ||
    bad "decode simple - (stdin)"
expect_err 1 decode simple 080         # odd length
expect_err 1 decode simple 0g02        # not hex
expect_err 1 decode simple 080200      # trailing bytes
expect_err 1 decode simple 08020802    # two values
expect_err 1 decode simple 0c00        # unknown tag
expect_err 1 decode simple 0100000005616263 # string overruns
expect_err 1 decode simple ''          # no value at all
expect_err 1 decode simple "$(vhex simple.json bad_nesting_65)"
expect_usage_err decode simple
expect_usage_err decode simple 00 00
expect_usage_err decode json 00

# ---- decode frame ---------------------------------------------------------------------------
expect_ok '{"kind":"response","request_id":"16","status":0,"serialization":6,"metadata":{"M_pt":"3"},"body":"01000000026f6b","value":"ok"}' \
    decode frame "$(vhex frames.json resp_ok)"
expect_ok '{"kind":"response","request_id":"16","status":0,"serialization":6,"metadata":{"M_pt":"3"},"body":"00","value":null}' \
    decode frame "$(vhex frames.json resp_java_null)"
expect_ok '{"kind":"response","request_id":"3","status":0,"serialization":6,"metadata":{},"body":""}' \
    decode frame "$(vhex frames.json resp_go_empty)"
expect_ok '{"kind":"response","request_id":"16","status":1,"serialization":6,"metadata":{"M_e":"{\"errcode\":500,\"errmsg\":\"boom\",\"errtype\":1}"},"body":"","error":{"errcode":500,"errtype":1,"errmsg":"boom"}}' \
    decode frame "$(vhex frames.json resp_err_go)"
expect_ok '{"kind":"request","request_id":"1311768467294899695","status":0,"serialization":6,"metadata":{"M_p":"com.weibo.api.HelloService","M_m":"hello","M_md":"java.lang.String,long","M_g":"default_rpc","M_v":"1.0","M_s":"libmotan-demo","M_pp":"motan2"},"body":"010000000568656c6c6f0954","args":["hello",42]}' \
    decode frame "$(vhex frames.json req_full)"
expect_ok '{"kind":"heartbeat-request","request_id":"72623859790382856","status":0,"serialization":6,"metadata":{},"body":""}' \
    decode frame "$(vhex frames.json hb_request_go)"
expect_ok '{"kind":"heartbeat-response","request_id":"72623859790382856","status":0,"serialization":1,"metadata":{},"body":""}' \
    decode frame "$(vhex frames.json hb_response_java)"
expect_ok '{"kind":"request","request_id":"7","status":0,"serialization":6,"metadata":{"k":"2"},"body":""}' \
    decode frame "$(vhex frames.json req_dup_meta)"
# Duplicates keep the first position and take the last value; a request with no body has no args.
dup=$("$M" encode frame '{"kind":"request","request_id":"9","metadata":{"a":"1","b":"2","a":"3"}}')
expect_ok '{"kind":"request","request_id":"9","status":0,"serialization":6,"metadata":{"a":"3","b":"2"},"body":""}' \
    decode frame "$dup"
# The decoded-size budget: 1 MiB of Simple nulls would be ~48 MiB of values (over 40 MiB).
python3 -c 'import sys; n = 1 << 20; sys.stdout.buffer.write(bytes([21]) + n.to_bytes(4, "big") + bytes(n))' >"$TMP/nulls.bin"
"$M" decode simple - <"$TMP/nulls.bin" >"$TMP/o" 2>"$TMP/e"
rc=$?
[ "$rc" -eq 1 ] && [ ! -s "$TMP/o" ] && grep -q '^error: .*maxDecodedSize' "$TMP/e" && ok ||
    bad "decode simple of 1 MiB nulls -> rc=$rc err=[$(cat "$TMP/e")], want exit 1 naming maxDecodedSize"
python3 -c 'import sys; n = 1 << 16; sys.stdout.buffer.write(bytes([21]) + n.to_bytes(4, "big") + bytes(n))' >"$TMP/nulls.bin"
"$M" decode simple - <"$TMP/nulls.bin" >"$TMP/o" 2>&1 && [ "$(head -c 6 "$TMP/o")" = '[null,' ] && ok ||
    bad "decode simple of 64 KiB nulls (within the budget): $(head -c 200 "$TMP/o")"

# Uppercase and whitespace in the hex; raw bytes on stdin.
expect_ok '{"kind":"response","request_id":"16","status":0,"serialization":6,"metadata":{"M_pt":"3"},"body":"01000000026f6b","value":"ok"}' \
    decode frame "$(vhex frames.json resp_ok | tr a-f A-F | sed 's/\(..........\)/\1 /g')"
vhex frames.json resp_ok | python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.stdin.read().strip()))' >"$TMP/frame.bin"
"$M" decode frame - <"$TMP/frame.bin" >"$TMP/o" 2>&1 && grep -q '"value":"ok"}$' "$TMP/o" && ok ||
    bad "decode frame - (stdin): $(cat "$TMP/o")"
# A non-empty Simple body that does not decode is an error.
badbody=$("$M" encode frame '{"kind":"response","request_id":"1","body":"0c00"}')
expect_err 1 decode frame "$badbody"
# Metadata bytes that are not UTF-8 still give valid JSON.
latin=$("$M" encode frame '{"kind":"request","metadata":{"k":"x"}}' | sed 's/0a78/0aff/')
run decode frame "$latin"
if [ "$rc" -eq 0 ] && python3 -c 'import json,sys; assert json.loads(sys.argv[1])["metadata"]["k"] == "\ufffd"' "$out" 2>/dev/null; then
    ok
else
    bad "non-UTF-8 metadata: rc=$rc [$out] [$err]"
fi

expect_err 1 decode frame "$(vhex frames.json bad_truncated)"
expect_err 1 decode frame "$(vhex frames.json resp_ok)00"   # trailing byte
expect_err 1 decode frame "$(vhex frames.json bad_magic)"
expect_err 1 decode frame "$(vhex frames.json bad_version_0)"
expect_err 1 decode frame "$(vhex frames.json bad_body_over_limit)"
expect_err 1 decode frame f1f1
expect_err 1 decode frame ''
expect_err 1 decode frame zz
expect_err 1 decode frame 0
expect_usage_err decode frame
expect_usage_err decode

# ---- encode frame ---------------------------------------------------------------------------
full='{"kind":"request","request_id":"1311768467294899695","status":0,"serialization":6,"metadata":{"M_p":"com.weibo.api.HelloService","M_m":"hello","M_md":"java.lang.String,long","M_g":"default_rpc","M_v":"1.0","M_s":"libmotan-demo","M_pp":"motan2"},"args":["hello",42]}'
expect_ok "$(vhex frames.json req_full)" encode frame "$full"
# The decoded object encodes back (body wins over args).
run decode frame "$(vhex frames.json req_full)"
expect_ok "$(vhex frames.json req_full)" encode frame "$out"
run decode frame "$(vhex frames.json resp_err_java)"
expect_ok "$(vhex frames.json resp_err_java)" encode frame "$out"
# request_id as a JSON integer; "error" becomes M_e in Go form.
expect_ok "$(vhex frames.json resp_err_go)" encode frame \
    '{"kind":"response","request_id":16,"status":1,"error":{"errcode":500,"errtype":1,"errmsg":"boom"}}'
expect_ok "$(vhex frames.json resp_ok)" encode frame \
    '{"kind":"response","request_id":"16","metadata":{"M_pt":"3"},"value":"ok"}'
expect_ok "$(vhex frames.json resp_ok)" encode frame \
    '{"kind":"response","request_id":"16","metadata":{"M_pt":"3"},"body":"01000000026F6B"}'
expect_ok "$(vhex frames.json hb_request_go)" encode frame \
    '{"kind":"heartbeat-request","request_id":"72623859790382856"}'
expect_ok f1f1000830ffffffffffffffff0000000000000000 encode frame \
    '{"kind":"request","request_id":"18446744073709551615","args":[]}'
echo -n "$full" >"$TMP/frame.json"
"$M" encode frame - <"$TMP/frame.json" >"$TMP/o" 2>&1 && [ "$(cat "$TMP/o")" = "$(vhex frames.json req_full)" ] && ok ||
    bad "encode frame - (stdin)"
expect_err 2 encode frame '{"kind":"request"'
expect_err 2 encode frame '[]'
expect_err 2 encode frame '{"request_id":"1"}'
expect_err 2 encode frame '{"kind":"ping"}'
expect_err 2 encode frame '{"kind":"request","extra":1}'
expect_err 2 encode frame '{"kind":"request","kind":"request"}'
expect_err 2 encode frame '{"kind":"request","request_id":"18446744073709551616"}'
expect_err 2 encode frame '{"kind":"request","request_id":-1}'
expect_err 2 encode frame '{"kind":"request","status":8}'
expect_err 2 encode frame '{"kind":"request","serialization":32}'
expect_err 2 encode frame '{"kind":"request","metadata":{"k":"a\nb"}}'
expect_err 2 encode frame '{"kind":"request","metadata":{"":"v"}}'
expect_err 2 encode frame '{"kind":"request","metadata":{"k":1}}'
expect_err 2 encode frame '{"kind":"request","args":"x"}'
expect_err 2 encode frame '{"kind":"request","args":[{"$int32":"x"}]}'
expect_err 2 encode frame '{"kind":"response","value":{"$nope":1}}'
expect_err 2 encode frame '{"kind":"request","args":[],"value":1}'
expect_err 2 encode frame '{"kind":"request","body":"abc"}'
expect_err 2 encode frame '{"kind":"response","status":1,"error":{"errcode":"x","errtype":1}}'
expect_err 2 encode frame '{"kind":"request","serialization":0,"args":[1]}'

# ---- inputs from files: @FILE, '-' and --raw-bytes ------------------------------------------
printf '{"$int16":-2}' >"$TMP/v.json"
expect_ok 07fffe encode simple "@$TMP/v.json"
echo -n "$full" >"$TMP/full.json"
expect_ok "$(vhex frames.json req_full)" encode frame "@$TMP/full.json"
printf 'ab\0\377' >"$TMP/raw.bin"
expect_ok 0300000004616200ff encode simple --raw-bytes "@$TMP/raw.bin"
"$M" encode simple --raw-bytes - <"$TMP/raw.bin" >"$TMP/o" 2>&1 && [ "$(cat "$TMP/o")" = 0300000004616200ff ] && ok ||
    bad "encode simple --raw-bytes - (stdin): $(cat "$TMP/o")"
printf '\x08\x02' >"$TMP/v.bin"
expect_ok '{"$int32":1}' decode simple "@$TMP/v.bin"
expect_ok '{"kind":"response","request_id":"16","status":0,"serialization":6,"metadata":{"M_pt":"3"},"body":"01000000026f6b","value":"ok"}' \
    decode frame "@$TMP/frame.bin"
# A 2 MiB string (far over the 128 KiB an argument may have) from a file, checked by Python.
python3 -c 'import json,sys; open(sys.argv[1], "w").write(json.dumps("\u00e9x" * (1 << 20), ensure_ascii=False))' "$TMP/big.json"
"$M" encode simple "@$TMP/big.json" >"$TMP/o" 2>"$TMP/e"
if [ $? -eq 0 ] && python3 -c 'import sys; b = ("\u00e9x" * (1 << 20)).encode(); sys.exit(open(sys.argv[1]).read().strip() != ("01" + len(b).to_bytes(4, "big").hex() + b.hex()))' "$TMP/o"; then
    ok
else
    bad "encode simple @2MiB: $(head -c 300 "$TMP/e")"
fi
expect_err 2 encode simple "@$TMP/missing.json"
[[ "$err" == *"cannot read '$TMP/missing.json': No such file or directory"* ]] || bad "missing file message [$err]"
expect_err 2 encode frame "@$TMP/missing.json"
expect_err 2 encode simple @
expect_err 2 encode simple --raw-bytes "$TMP/raw.bin"
expect_err 2 encode simple --raw-bytes "@$TMP/missing.bin"
expect_usage_err encode frame --raw-bytes "@$TMP/raw.bin"
expect_usage_err encode simple --raw-bytes
expect_err 2 decode simple "@$TMP/missing.bin"
expect_err 2 decode frame "@$TMP/missing.bin"
printf '{bad' >"$TMP/bad.json"
expect_err 2 encode simple "@$TMP/bad.json"

# ---- help, version, usage errors ------------------------------------------------------------
expect_help --help
expect_help -h
expect_help help
expect_help help encode
expect_help help decode
expect_help encode --help
expect_help decode --help
expect_help encode simple --help
expect_help decode frame --help
run help
for c in encode decode; do [[ "$out" == *"$c"* ]] && ok || bad "help does not list $c"; done
want_version=$(sed -n 's/^#define MOTAN_VERSION_STRING "\(.*\)"/\1/p' include/motan/version.h)
expect_ok "motan $want_version" --version
expect_usage_err
expect_usage_err frobnicate
expect_usage_err --frobnicate
expect_usage_err help frobnicate

# Strict URLs: a misspelled parameter is a usage error (exit 2) naming it, with a suggestion;
# nothing is called (the port is closed anyway).
expect_usage_err call 'motan2://127.0.0.1:1/com.example.EchoService?requestTimout=5' echo '"x"'
[[ "$err" == *'unknown parameter "requestTimout" (did you mean "requestTimeout"?)'* ]] && ok ||
    bad "strict URL: [$err]"
# A client parameter on a consul URL is the client's, not the registry's (was: bad timeout).
run call --timeout 100 'consul://127.0.0.1:1/com.example.EchoService?requestTimeout=700000' echo '"x"'
[ "$rc" -eq 4 ] && [[ "$err" != *"bad timeout"* ]] && ok || bad "consul requestTimeout: rc=$rc [$err]"

echo "test_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
