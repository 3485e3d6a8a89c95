# The Python binding (ctypes) against the real library and test server: its unittest suite.
exec scripts/run-suites.sh python
