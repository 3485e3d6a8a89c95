# The LuaJIT binding (bindings/lua) against the shared library and the test server.
exec scripts/run-suites.sh lua
