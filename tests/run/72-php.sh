# The PHP binding (bindings/php, FFI) against the real library and test server.
exec scripts/run-suites.sh php
