#!/usr/bin/env bash
# make bench-bindings: per-call cost of the language bindings next to C, all making the same
# echo calls of a 16-byte string against one motan-test-server. One line per figure:
#   bindings.<lang> <us> us_per_call <ratio> x_c        (C first, ratio 1.00)
#   bindings.floor <us> us_per_call <ratio> x_c         (the floor client, tu_bench.h; its
#                                                        ratio = C's calls/s over the floor's)
# BENCH_CALLS (default 20000) calls each, after a short warm-up run, in BENCH_ROUNDS (default
# 3) rounds that take every side in turn; the floor runs BENCH_SECONDS (default 1) in all. A
# missing interpreter or bench script is reported on stderr and skipped.
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

rounds="${BENCH_ROUNDS:-3}"
floor_secs=$(awk -v s="${BENCH_SECONDS:-1}" -v r="$rounds" 'BEGIN { printf "%.3f", s / r }')

# The sides, each a command that takes the URL last; one without its interpreter or script
# is skipped.
names=() cmds=()
side() { # side NAME COMMAND...
    names+=("$1"); shift
    cmds+=("$*")
}
side c "$build/bench/bindings_c"
side floor "$build/bench/bindings_c" --floor
avail() { # avail LANG SCRIPT INTERPRETER [ARGS...]
    local lang=$1 script=$2 interp=$3
    shift 3
    if [ ! -f "$script" ]; then
        echo "bench-bindings: $lang skipped ($script is missing)" >&2
    elif ! command -v "$interp" >/dev/null 2>&1; then
        echo "bench-bindings: $lang skipped ($interp is not installed)" >&2
    else
        side "$lang" "$interp" "$@" "$script"
    fi
}
avail python bindings/python/bench.py /usr/bin/python3
avail lua bindings/lua/bench.lua luajit
avail php bindings/php/bench.php php -d ffi.enable=1

# once NAME CALLS: one run of side NAME; prints "<seconds> <calls>". The floor is timed
# (BENCH_SECONDS / BENCH_ROUNDS a run) and prints its calls per second, turned into the same.
once() {
    local i
    for i in "${!names[@]}"; do [ "${names[$i]}" = "$1" ] && break; done
    if [ "$1" = floor ]; then
        # shellcheck disable=SC2086
        BENCH_SECONDS="$floor_secs" ${cmds[$i]} "$url" |
            awk -v s="$floor_secs" '$1 == "bindings.floor" && $2 > 0 { print s, $2 * s; ok = 1 } END { exit !ok }'
    else
        # shellcheck disable=SC2086
        BENCH_CALLS="$2" ${cmds[$i]} "$url" | awk 'NF == 2 && $2 > 0 { print; ok = 1 } END { exit !ok }'
    fi
}

# Warm-up runs, then BENCH_ROUNDS rounds in which every side makes calls/rounds calls in turn,
# so that load from elsewhere on a shared machine falls on all of them alike.
declare -A secs=() done_calls=() failed=()
per_round=$(( (calls + rounds - 1) / rounds ))
for name in "${names[@]}"; do
    once "$name" 500 >/dev/null || failed[$name]=1
done
for _ in $(seq "$rounds"); do
    for name in "${names[@]}"; do
        [ -n "${failed[$name]:-}" ] && continue
        if out=$(once "$name" "$per_round"); then
            read -r s k <<<"$out"
            secs[$name]=$(awk -v a="${secs[$name]:-0}" -v b="$s" 'BEGIN { printf "%.6f", a + b }')
            done_calls[$name]=$(awk -v a="${done_calls[$name]:-0}" -v b="$k" 'BEGIN { printf "%.0f", a + b }')
        else
            failed[$name]=1
        fi
    done
done
[ -n "${failed[c]:-}" ] && { echo "bench-bindings: the C bench failed" >&2; exit 1; }
[ -n "${failed[floor]:-}" ] && { echo "bench-bindings: the floor client failed" >&2; exit 1; }
us() { awk -v s="${secs[$1]}" -v k="${done_calls[$1]}" 'BEGIN { printf "%.2f", s * 1e6 / k }'; }
c_us=$(us c)
rc=0
for name in "${names[@]}"; do
    if [ -n "${failed[$name]:-}" ]; then
        echo "bench-bindings: $name failed" >&2
        rc=1
        continue
    fi
    awk -v l="$name" -v us="$(us "$name")" -v c="$c_us" \
        'BEGIN { printf "bindings.%s %.2f us_per_call %.2f x_c\n", l, us, (c > 0 ? us / c : 0) }'
done
exit $rc
