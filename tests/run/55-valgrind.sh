# The transport and cluster suites again under valgrind memcheck: no errors, no leaks.
# (MOTAN_SANITIZER=valgrind scales their load tests down.)
command -v valgrind >/dev/null || { echo "55-valgrind: valgrind is not installed"; exit 1; }
exec scripts/run-suites.sh valgrind
