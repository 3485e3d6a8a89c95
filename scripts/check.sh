#!/usr/bin/env bash
# Runs every step of `make check`: tests/run/NN-*.sh in order. Each step prints what it ran;
# the first failing step fails the check, after the remaining steps have been reported.
set -uo pipefail
cd "$(dirname "$0")/.."
export BUILD="${BUILD:-build}"
export MOTAN_ROOT="$PWD"
export MOTAN_VECTORS_DIR="${MOTAN_VECTORS_DIR:-$PWD/tests/vectors}"

failed=()
start_all=$(date +%s)
for step in tests/run/[0-9][0-9]-*.sh; do
    name=$(basename "$step" .sh)
    t0=$(date +%s)
    echo "=== $name"
    if bash "$step"; then
        echo "=== $name: ok ($(( $(date +%s) - t0 )) s)"
    else
        echo "=== $name: FAILED ($(( $(date +%s) - t0 )) s)"
        failed+=("$name")
    fi
done
echo "=== check: $(( $(date +%s) - start_all )) s"
if [ ${#failed[@]} -ne 0 ]; then
    echo "=== check FAILED: ${failed[*]}"
    exit 1
fi
echo "=== check passed"
