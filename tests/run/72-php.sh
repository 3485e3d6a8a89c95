# The PHP binding (bindings/php, FFI) against the real library and test server.
set -uo pipefail
BUILD="${BUILD:-build}"
case "$BUILD" in /*) build="$BUILD" ;; *) build="$PWD/$BUILD" ;; esac

command -v php >/dev/null || { echo "72-php: php is not installed (scripts/deps.sh installs php-cli)"; exit 1; }
php -d ffi.enable=1 -r 'exit(class_exists("FFI") ? 0 : 1);' ||
    { echo "72-php: this php has no FFI extension"; exit 1; }
[ -e "$build/lib/libmotan.so.0" ] || { echo "72-php: $build/lib/libmotan.so.0 is missing"; exit 1; }
[ -x "$build/bin/motan-test-server" ] || { echo "72-php: $build/bin/motan-test-server is missing"; exit 1; }

MOTAN_LIB="$build/lib/libmotan.so.0" MOTAN_TEST_SERVER="$build/bin/motan-test-server" \
    php -d ffi.enable=1 -d zend.assertions=1 bindings/php/tests/test_motan.php
