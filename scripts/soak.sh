#!/usr/bin/env bash
# make soak: bench/soak (see its header) under injected faults, bounded to 5 minutes.
#
#   1. leak check: bench/soak built with ASan + UBSan + LeakSanitizer ($SOAK_ASAN_BUILD,
#      default build-asan, the flags of `make asan`), SOAK_ASAN_CALLS calls (200000), at most
#      SOAK_ASAN_SECONDS (75 s); any leak, memory error or failed assertion fails the run.
#      SOAK_LEAK_CHECK=0 skips it.
#   2. the soak proper: $BUILD/bench/soak, SOAK_CALLS (1000000) calls, issuing for at most
#      SOAK_SECONDS (280 s, less what step 1 took), with the RSS check.
#
# stdout gets exactly one line, the soak's
#   soak issued N completed N ok A error B timeout C rss_start_kb X rss_end_kb Y
# everything else goes to stderr. Exit status: 0 when every assertion held.
# A run that outlives its bound has its threads' stacks printed (gdb) and is killed.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"
case "$BUILD" in /*) build="$BUILD" ;; *) build="$PWD/$BUILD" ;; esac
asan_build="${SOAK_ASAN_BUILD:-build-asan}"
jobs="$(nproc 2>/dev/null || echo 2)"
t0=$(date +%s)
total=${SOAK_TOTAL_SECONDS:-295}

tmp=$(mktemp -d /tmp/motan-soak.XXXXXX)
pid=
# Servers a crashed soak left behind (SIGSTOPped ones ignore the SIGTERM they were sent).
reap_servers() {
    local f="$tmp/servers.pid" p
    [ -f "$f" ] || return 0
    while read -r p; do
        if [ -n "$p" ] && grep -qs motan-test-server "/proc/$p/cmdline"; then
            kill -CONT "$p" 2>/dev/null
            kill -KILL "$p" 2>/dev/null
        fi
    done <"$f"
    rm -f "$f"
}
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    reap_servers
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "soak.sh: $*" >&2; }

# run_bounded SECONDS OUTFILE CMD...: runs CMD (stdout to OUTFILE, stderr passed on); past
# SECONDS its stacks are printed and it is killed (status 124). Returns CMD's status.
run_bounded() {
    local limit=$1 out=$2
    shift 2
    "$@" >"$out" &
    pid=$!
    local end=$(($(date +%s) + limit))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$(date +%s)" -ge "$end" ]; then
            log "FAIL: still running after ${limit} s (hang?); thread stacks:"
            if command -v gdb >/dev/null; then
                timeout 30 gdb -p "$pid" -batch -ex "thread apply all bt" >&2 2>&1 </dev/null
            fi
            kill -KILL "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            pid=
            reap_servers
            return 124
        fi
        sleep 0.2
    done
    wait "$pid"
    local rc=$?
    pid=
    reap_servers
    return $rc
}

status=0

# ---- 1. leaks and memory errors, sanitized build --------------------------------------------
if [ "${SOAK_LEAK_CHECK:-1}" != 0 ]; then
    san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
    log "building $asan_build/bench/soak (ASan + UBSan + LSan)"
    if ! make --no-print-directory -j"$jobs" BUILD="$asan_build" OPT="-O1 -g" \
        EXTRA_CFLAGS="$san" EXTRA_LDFLAGS="$san" "$asan_build/bench/soak" >&2; then
        log "FAIL: cannot build the sanitized soak"
        exit 1
    fi
    asan_secs=${SOAK_ASAN_SECONDS:-75}
    log "leak check: ${SOAK_ASAN_CALLS:-200000} calls under ASan/LSan (at most ${asan_secs} s)"
    # The servers are the plain build's; a sanitized process stalls now and then for longer
    # than a timeout (fork of a large address space), hence the lenient lateness bound.
    run_bounded $((asan_secs + 60)) "$tmp/asan.out" env \
        MOTAN_TEST_SERVER="$build/bin/motan-test-server" SOAK_DIR="$tmp" \
        SOAK_CALLS="${SOAK_ASAN_CALLS:-200000}" SOAK_SECONDS="$asan_secs" SOAK_RSS_CHECK=0 \
        SOAK_LATE_MS="${SOAK_ASAN_LATE_MS:-5000}" \
        ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:exitcode=23${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        "$PWD/$asan_build/bench/soak"
    rc=$?
    if [ -s "$tmp/asan.out" ]; then
        log "leak check: $(cat "$tmp/asan.out")"
    fi
    case $rc in
    0) log "leak check: passed ($(($(date +%s) - t0)) s so far)" ;;
    23) log "FAIL: the sanitizers reported leaks or memory errors (above)"; status=1 ;;
    124) status=1 ;;
    *) log "FAIL: the sanitized soak failed (status $rc, above)"; status=1 ;;
    esac
fi

# ---- 2. the soak proper --------------------------------------------------------------------
elapsed=$(($(date +%s) - t0))
secs=${SOAK_SECONDS:-280}
# The end of the run (draining, freeing, stopping servers) needs a few seconds of the bound.
left=$((total - elapsed - 15))
[ "$secs" -gt "$left" ] && secs=$left
[ "$secs" -lt 10 ] && secs=10
log "soak: ${SOAK_CALLS:-1000000} calls, issuing for at most ${secs} s"
run_bounded $((secs + 30)) "$tmp/soak.out" env SOAK_DIR="$tmp" SOAK_SECONDS="$secs" \
    "$build/bench/soak"
rc=$?
[ $rc -ne 0 ] && status=1
if [ -s "$tmp/soak.out" ]; then
    tail -n 1 "$tmp/soak.out"
else
    log "FAIL: the soak printed no result (status $rc)"
fi
log "done in $(($(date +%s) - t0)) s: $([ $status -eq 0 ] && echo passed || echo FAILED)"
exit $status
