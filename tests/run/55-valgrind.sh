# The transport and cluster suites again under valgrind memcheck: no errors, no leaks.
# (MOTAN_SANITIZER=valgrind scales their load tests down.) Then the client edge cases and DNS
# (free from a callback, caller's loops) and the allocation-failure sweep, also under memcheck.
command -v valgrind >/dev/null || { echo "55-valgrind: valgrind is not installed"; exit 1; }
scripts/run-suites.sh valgrind || exit 1
scripts/run-suites.sh valgrind-edges || exit 1
exec scripts/run-suites.sh sweep-valgrind
