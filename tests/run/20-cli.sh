# The motan CLI: its codec contract (tests/cli/test_cli.sh), every vector through it, and
# `motan call` against real test servers (tests/cli/test_call.sh).
rc=0
bash tests/cli/test_cli.sh || rc=1
python3 tests/cli/vectors_cli.py || rc=1
bash tests/cli/test_call.sh || rc=1
exit $rc
