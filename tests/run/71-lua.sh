# The LuaJIT binding (bindings/lua) against the shared library and the test server.
set -uo pipefail
BUILD="${BUILD:-build}"
case "$BUILD" in /*) build="$BUILD" ;; *) build="$PWD/$BUILD" ;; esac
command -v luajit >/dev/null || { echo "71-lua: luajit is not installed (scripts/deps.sh)"; exit 1; }
[ -e "$build/lib/libmotan.so.0" ] || { echo "71-lua: $build/lib/libmotan.so.0 is missing"; exit 1; }
MOTAN_LIB="$build/lib/libmotan.so.0" MOTAN_TEST_SERVER="$build/bin/motan-test-server" \
    luajit bindings/lua/tests/test_motan.lua
