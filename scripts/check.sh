#!/usr/bin/env bash
# Runs every step of `make check`: tests/run/NN-*.sh in order. Each step prints what it ran;
# the first failing step fails the check, after the remaining steps have been reported.
set -uo pipefail
cd "$(dirname "$0")/.."
export BUILD="${BUILD:-build}"
export MOTAN_ROOT="$PWD"
. scripts/vectors.sh
MOTAN_VECTORS_DIR="$(motan_vectors_dir "$PWD")"
export MOTAN_VECTORS_DIR
echo "vectors: $MOTAN_VECTORS_DIR"
if [ "$MOTAN_VECTORS_DIR" != "$PWD/tests/vectors" ]; then
    for f in simple.json frames.json; do
        cmp -s "$MOTAN_VECTORS_DIR/$f" "tests/vectors/$f" ||
            echo "note: tests/vectors/$f differs from $MOTAN_VECTORS_DIR/$f (refresh the project copy)"
    done
fi

failed=()
logs="$BUILD/check-logs"
mkdir -p "$logs"
start_all=$(date +%s)
for step in tests/run/[0-9][0-9]-*.sh; do
    name=$(basename "$step" .sh)
    t0=$(date +%s)
    echo "=== $name"
    if bash "$step" 2>&1 | tee "$logs/$name.log"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
        echo "=== $name: ok ($(( $(date +%s) - t0 )) s)"
    else
        echo "=== $name: FAILED ($(( $(date +%s) - t0 )) s)"
        failed+=("$name")
    fi
done
echo "=== check: $(( $(date +%s) - start_all )) s"
if [ ${#failed[@]} -ne 0 ]; then
    # CI keeps only the end of the output: what failed, again, where it is seen.
    for name in "${failed[@]}"; do
        echo "=== $name, its failures ($logs/$name.log):"
        grep -E ':[EF]:|: FAILED|failed: |Assertion|ERROR|error:|timed out|Timeout' "$logs/$name.log" | tail -20
    done
    echo "=== check FAILED: ${failed[*]}"
    exit 1
fi
echo "=== check passed"
