#!/usr/bin/env bash
# make bench-bindings: per-call cost of the language bindings next to C, all making the same
# echo calls of a 16-byte string against one motan-test-server. One line per figure:
#   bindings.<lang> <us> us_per_call <ratio> x_c        (C first, ratio 1.00)
# BENCH_CALLS (default 20000) calls each, after a short warm-up run. A missing interpreter or
# bench script is reported on stderr and skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"
case "$BUILD" in /*) build="$BUILD" ;; *) build="$PWD/$BUILD" ;; esac
calls="${BENCH_CALLS:-20000}"
export MOTAN_LIB="$build/lib/libmotan.so.1"
export LUA_PATH="$PWD/bindings/lua/?.lua;;"

tmp=$(mktemp -d)
srv_pid=
cleanup() {
    [ -n "$srv_pid" ] && kill -TERM "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

"$build/bin/motan-test-server" --port 0 --quiet >"$tmp/port" &
srv_pid=$!
port=
for _ in $(seq 200); do
    port=$(head -n 1 "$tmp/port" 2>/dev/null)
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || { echo "bench-bindings: the test server did not start" >&2; exit 1; }
url="motan2://127.0.0.1:$port/com.example.EchoService?requestTimeout=5000"

# run <command...>: warm-up, then the measured run; prints the µs per call.
run() {
    BENCH_CALLS=500 "$@" "$url" >/dev/null || return 1
    local out
    out=$(BENCH_CALLS="$calls" "$@" "$url") || return 1
    awk 'NF == 2 && $2 > 0 { printf "%.2f\n", $1 * 1e6 / $2; ok = 1 } END { exit !ok }' <<<"$out"
}

c_us=$(run "$build/bench/bindings_c") || { echo "bench-bindings: the C bench failed" >&2; exit 1; }
echo "bindings.c $c_us us_per_call 1.00 x_c"

rc=0
bench() { # bench <lang> <script> <interpreter> [args...]
    local lang=$1 script=$2 interp=$3
    shift 3
    if [ ! -f "$script" ]; then
        echo "bench-bindings: $lang skipped ($script is missing)" >&2
    elif ! command -v "$interp" >/dev/null 2>&1; then
        echo "bench-bindings: $lang skipped ($interp is not installed)" >&2
    elif us=$(run "$interp" "$@" "$script"); then
        awk -v l="$lang" -v us="$us" -v c="$c_us" \
            'BEGIN { printf "bindings.%s %.2f us_per_call %.2f x_c\n", l, us, (c > 0 ? us / c : 0) }'
    else
        echo "bench-bindings: $lang failed" >&2
        rc=1
    fi
}
bench python bindings/python/bench.py /usr/bin/python3
bench lua bindings/lua/bench.lua luajit
bench php bindings/php/bench.php php -d ffi.enable=1
exit $rc
