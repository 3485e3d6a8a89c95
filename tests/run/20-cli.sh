# The motan CLI: its codec contract (tests/cli/test_cli.sh), every vector through it
# (tests/cli/vectors_cli.py) and `motan call` against real test servers (tests/cli/test_call.sh).
exec scripts/run-suites.sh cli
