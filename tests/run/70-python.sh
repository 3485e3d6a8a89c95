# The Python binding (ctypes) against the real library and test server: its unittest suite.
set -uo pipefail
BUILD="${BUILD:-build}"
case "$BUILD" in /*) build="$BUILD" ;; *) build="$PWD/$BUILD" ;; esac
py=/usr/bin/python3
[ -x "$py" ] || { echo "70-python: $py is missing"; exit 1; }
[ -f "$build/lib/libmotan.so.0" ] || { echo "70-python: $build/lib/libmotan.so.0 is missing"; exit 1; }
[ -x "$build/bin/motan-test-server" ] || { echo "70-python: $build/bin/motan-test-server is missing"; exit 1; }
MOTAN_LIB="$build/lib/libmotan.so.0" MOTAN_TEST_SERVER="$build/bin/motan-test-server" \
    PYTHONDONTWRITEBYTECODE=1 "$py" -m unittest discover -s bindings/python/tests -v 2>&1
