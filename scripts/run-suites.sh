#!/usr/bin/env bash
# Runs the test suites of the given groups against the binaries in $BUILD.
#   unit               every tests/unit/test_*.c
#   integration        every tests/integration/test_*.c (test_examples runs examples/)
#   cli                the motan CLI contract: tests/cli/*.sh and tests/cli/*.py, and the
#                      tests/cli/test_*.c suites of its parts (under valgrind memcheck)
#   python lua php     one binding's suite; bindings = all three
#   all                unit integration cli bindings (what `make asan` runs)
#   valgrind           the transport, cluster and server-layer integration suites under memcheck
#   valgrind-registry  the direct, file (reading, publishing) and consul registry suites under memcheck
#   valgrind-edges     the client edge cases and DNS (test_edges, test_dns) under memcheck
#   sweep-valgrind     the allocation-failure sweep (test_alloc_sweep) under memcheck
#   valgrind-server    the server layer's limits and hostile-client suites under memcheck
#   valgrind-agent     the motan-agent suites with the agent processes under memcheck
#   tsan               the multi-threaded suites (built with -fsanitize=thread)
# MOTAN_SANITIZER=asan|tsan|valgrind is passed on to the suites (they relax timing under it)
# and decides how the binding interpreters are run (see docs/sanitizers.md).
set -uo pipefail
cd "$(dirname "$0")/.."
export BUILD="${BUILD:-build}"
export MOTAN_ROOT="$PWD"
. scripts/vectors.sh
MOTAN_VECTORS_DIR="$(motan_vectors_dir "$PWD")"
export MOTAN_VECTORS_DIR
export CK_DEFAULT_TIMEOUT="${CK_DEFAULT_TIMEOUT:-120}"
case "$BUILD" in /*) build_abs="$BUILD" ;; *) build_abs="$PWD/$BUILD" ;; esac
# Every suite, binding and CLI test starts the server of the same build (ASan, TSan, ...).
export MOTAN_TEST_SERVER="${MOTAN_TEST_SERVER:-$build_abs/bin/motan-test-server}"
# allocator_may_return_null: suites check that impossible sizes fail with MOTAN_ENOMEM.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-suppressions=$PWD/tests/support/tsan.supp:second_deadlock_stack=1}"
sanitizer="${MOTAN_SANITIZER:-}"

fail=0
ran=0
failed=()
run() {
    local bin=$1; shift
    echo "--- $(basename "$bin")"
    ran=$((ran + 1))
    if ! "$@" "$bin"; then
        nope "$(basename "$bin")"
    fi
}
direct() { "$1"; }
memcheck() {
    CK_FORK=no valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible \
        --errors-for-leak-kinds=definite,indirect,possible --suppressions=tests/support/valgrind.supp "$1"
}
suites() { # suites DIR RUNNER NAME...: each $BUILD/tests/NAME whose source is in DIR
    local dir=$1 runner=$2; shift 2
    for n in "$@"; do
        [ -e "$dir/$n.c" ] && run "$BUILD/tests/$n" "$runner"
    done
}
names() { for s in "$1"/test_*.c; do [ -e "$s" ] && basename "$s" .c; done; }

cli_test() {
    case "$1" in
        *.sh) bash "$1" ;;
        *.py) python3 "$1" ;;
    esac
}

nope() { # nope NAME [WHY]: NAME failed
    echo "--- $1: FAILED${2:+ ($2)}"
    failed+=("$1")
    fail=1
}

# binding NAME: the binding's suite, its interpreter run the way the sanitizer allows.
binding() {
    local name=$1 lib="$build_abs/lib/libmotan.so.1" asan_rt=
    echo "--- $name"
    ran=$((ran + 1))
    [ -e "$lib" ] || { nope "$name" "$lib is missing"; return; }
    [ -x "$MOTAN_TEST_SERVER" ] || { nope "$name" "$MOTAN_TEST_SERVER is missing"; return; }
    case "$sanitizer" in
        tsan | valgrind)
            echo "--- $name: skipped under $sanitizer (interpreters are run under ASan only)"
            return ;;
    esac
    local -a env=(MOTAN_LIB="$lib")
    if [ "$sanitizer" = asan ]; then
        # The interpreters leak at exit and are not instrumented: no LeakSanitizer for them.
        local opts="$ASAN_OPTIONS:detect_leaks=0"
        if [ "$name" = php ]; then
            # PHP dlopens its extensions with RTLD_DEEPBIND, which a preloaded ASan runtime
            # refuses (it aborts on opcache.so). Not preloaded, libasan comes in as the first
            # NEEDED of libmotan.so when FFI loads it, and RTLD_DEEPBIND binds libmotan and its
            # dependencies to the ASan allocator; the runtime just must not insist on being
            # loaded first.
            opts+=":verify_asan_link_order=0"
        else
            asan_rt=$(ldd "$lib" | awk '/libasan/ { print $3; exit }')
            [ -n "$asan_rt" ] && env+=(LD_PRELOAD="$asan_rt")
        fi
        env+=(ASAN_OPTIONS="$opts")
    fi
    local rc=0
    case "$name" in
        python)
            [ -x /usr/bin/python3 ] || { nope python "/usr/bin/python3 is missing"; return; }
            env "${env[@]}" PYTHONDONTWRITEBYTECODE=1 \
                /usr/bin/python3 -m unittest discover -s bindings/python/tests -v 2>&1 || rc=1 ;;
        lua)
            command -v luajit >/dev/null ||
                { nope lua "luajit is not installed (scripts/deps.sh)"; return; }
            env "${env[@]}" luajit bindings/lua/tests/test_motan.lua || rc=1 ;;
        php)
            command -v php >/dev/null ||
                { nope php "php is not installed (scripts/deps.sh installs php-cli)"; return; }
            php -d ffi.enable=1 -r 'exit(class_exists("FFI") ? 0 : 1);' ||
                { nope php "this php has no FFI extension"; return; }
            env "${env[@]}" php -d ffi.enable=1 -d zend.assertions=1 bindings/php/tests/test_motan.php || rc=1 ;;
    esac
    [ "$rc" -eq 0 ] || nope "$name"
}

groups=()
for g in "$@"; do
    case "$g" in
        all) groups+=(unit integration cli python lua php) ;;
        bindings) groups+=(python lua php) ;;
        *) groups+=("$g") ;;
    esac
done

for group in "${groups[@]}"; do
    case "$group" in
        unit) suites tests/unit direct $(names tests/unit) ;;
        integration) suites tests/integration direct $(names tests/integration) ;;
        cli)
            for t in tests/cli/test_*.sh tests/cli/*.py; do
                [ -e "$t" ] && run "$t" cli_test
            done
            # The C suites of the CLI's parts: under memcheck, unless built with a sanitizer.
            cli_runner=memcheck
            [ -n "$sanitizer" ] && cli_runner=direct
            suites tests/cli "$cli_runner" $(names tests/cli) ;;
        python | lua | php) binding "$group" ;;
        valgrind)
            MOTAN_SANITIZER=valgrind suites tests/integration memcheck test_transport test_cluster \
                test_srv_dispatch test_srv_async test_srv_drain ;;
        valgrind-edges)
            MOTAN_SANITIZER=valgrind suites tests/integration memcheck test_edges test_dns ;;
        sweep-valgrind)
            MOTAN_SANITIZER=valgrind suites tests/integration memcheck test_alloc_sweep ;;
        valgrind-registry)
            MOTAN_SANITIZER=valgrind suites tests/integration memcheck \
                test_registry_direct test_registry_file test_registry_file_write test_registry_consul ;;
        valgrind-server)
            MOTAN_SANITIZER=valgrind suites tests/integration memcheck test_srv_limits test_srv_hostile \
                test_srv_observe ;;
        valgrind-agent)
            # the agent processes under memcheck (a report makes them exit 99), the suites not
            MOTAN_AGENT_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --suppressions=$PWD/tests/support/valgrind.supp" \
                suites tests/integration direct test_agent test_agent_backend test_agent_zk ;;
        tsan)
            suites tests/integration direct test_transport test_cluster test_client test_hostile \
                test_observability test_edges test_dns test_consul_edges \
                test_registry_direct test_registry_file test_registry_file_write test_registry_consul test_zookeeper \
                test_examples \
                test_srv_dispatch test_srv_async test_srv_drain test_srv_limits test_srv_hostile \
                test_srv_export test_srv_observe test_srv_listen_dns ;;
        *) echo "unknown group $group"; exit 2 ;;
    esac
done
echo "run-suites ($*${sanitizer:+; MOTAN_SANITIZER=$sanitizer}): $ran run, ${#failed[@]} failed${failed:+: ${failed[*]}}"
exit $fail
