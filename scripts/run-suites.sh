#!/usr/bin/env bash
# Runs test binaries of the given groups from $BUILD/tests.
#   unit         every tests/unit/test_*.c
#   integration  every tests/integration/test_*.c
#   valgrind     the transport and cluster integration suites under memcheck
#   tsan         the multi-threaded suites (built with -fsanitize=thread)
# MOTAN_SANITIZER=asan|tsan|valgrind is passed on to the suites (they relax timing under it).
set -uo pipefail
cd "$(dirname "$0")/.."
export BUILD="${BUILD:-build}"
export MOTAN_ROOT="$PWD"
export MOTAN_VECTORS_DIR="${MOTAN_VECTORS_DIR:-$PWD/../shared/vectors}"
export CK_DEFAULT_TIMEOUT="${CK_DEFAULT_TIMEOUT:-120}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

fail=0
run() {
    local bin=$1; shift
    echo "--- $(basename "$bin")"
    if ! "$@" "$bin"; then
        echo "--- $(basename "$bin"): FAILED"
        fail=1
    fi
}
direct() { "$1"; }
memcheck() {
    CK_FORK=no valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible \
        --errors-for-leak-kinds=definite,indirect,possible --suppressions=tests/support/valgrind.supp "$1"
}

for group in "$@"; do
    case "$group" in
        unit)
            for s in tests/unit/test_*.c; do
                [ -e "$s" ] && run "$BUILD/tests/$(basename "$s" .c)" direct
            done ;;
        integration)
            for s in tests/integration/test_*.c; do
                [ -e "$s" ] && run "$BUILD/tests/$(basename "$s" .c)" direct
            done ;;
        valgrind)
            for n in test_transport test_cluster; do
                [ -e "tests/integration/$n.c" ] && MOTAN_SANITIZER=valgrind run "$BUILD/tests/$n" memcheck
            done ;;
        tsan)
            for n in test_transport test_cluster test_client; do
                [ -e "tests/integration/$n.c" ] && run "$BUILD/tests/$n" direct
            done ;;
        *) echo "unknown group $group"; exit 2 ;;
    esac
done
exit $fail
