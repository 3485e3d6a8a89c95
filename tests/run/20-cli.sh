# The motan CLI: its contract (tests/cli/test_cli.sh), then every vector through it.
rc=0
bash tests/cli/test_cli.sh || rc=1
python3 tests/cli/vectors_cli.py || rc=1
exit $rc
