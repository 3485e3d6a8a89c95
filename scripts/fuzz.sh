#!/usr/bin/env bash
# Runs every libFuzzer target built in build-fuzz/fuzz/ (make fuzz-build).
#   scripts/fuzz.sh short   each target for $FUZZ_SECONDS seconds (default 16)
#   scripts/fuzz.sh long    each target for at least 10 million executions
# Corpus of fuzz_<name>: tests/fuzz/corpus/<name>/. A run works on a temporary copy of it,
# seeded from the conformance vectors, so the tree only ever holds what was put there on
# purpose; crash/leak/timeout inputs are kept in build-fuzz/artifacts/<name>/ for
# reproduction (run the target on the file). Any crash, leak or timeout fails the script.
# Prints one line per target: fuzz.<name> <execs> execs <seconds> s
# FUZZ_ONLY="name ..." runs only those targets.
set -uo pipefail
cd "$(dirname "$0")/.."

mode="${1:-short}"
FUZZ_SECONDS="${FUZZ_SECONDS:-16}"
. scripts/vectors.sh
VECTORS="$(motan_vectors_dir "$PWD")"
case "$mode" in
    short) limit=(-max_total_time="$FUZZ_SECONDS") ;;
    long) limit=(-runs=10000000) ;;
    *) echo "usage: $0 short|long" >&2; exit 2 ;;
esac

shopt -s nullglob
targets=(build-fuzz/fuzz/fuzz_*)
if [ ${#targets[@]} -eq 0 ]; then
    echo "fuzz: no targets in build-fuzz/fuzz/ (run make fuzz-build)" >&2
    exit 1
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

# Seeds for target $1 into dir $2: the hex of every entry of the vectors file named after
# the target (frame -> frames.json, simple -> simple.json; server -> frames.json too); for
# tjson the `text` fields.
seed() {
    python3 - "$VECTORS" "$1" "$2" <<'EOF'
import glob, json, os, re, sys
vectors, name, out = sys.argv[1:4]
n = 0
for path in sorted(glob.glob(os.path.join(vectors, "*.json"))):
    stem = os.path.basename(path)[:-5]
    if name == "tjson":
        field = "text"
    elif stem == name or stem == name + "s" or (name == "server" and stem == "frames"):
        field = "hex"
    else:
        continue
    with open(path) as f:
        entries = json.load(f)
    for e in entries:
        if field not in e:
            continue
        data = bytes.fromhex(e["hex"]) if field == "hex" else e["text"].encode()
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", e.get("name", str(n)))
        with open(os.path.join(out, "seed-%s-%s" % (stem, safe)), "wb") as f:
            f.write(data)
        n += 1
print(n)
EOF
}

fail=0
for bin in "${targets[@]}"; do
    [ -x "$bin" ] || continue
    target=$(basename "$bin")
    name=${target#fuzz_}
    # FUZZ_ONLY="simple frame" limits the run to those targets (e.g. to run two at once).
    if [ -n "${FUZZ_ONLY:-}" ] && [[ " $FUZZ_ONLY " != *" $name "* ]]; then
        continue
    fi
    corpus="tests/fuzz/corpus/$name"
    artifacts="build-fuzz/artifacts/$name"
    mkdir -p "$corpus" "$artifacts"
    work=$(mktemp -d "${TMPDIR:-/tmp}/motan-fuzz-$name.XXXXXX")
    cp -R "$corpus/." "$work/" 2>/dev/null || true
    rm -f "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* "$work"/slow-unit-*
    nseeds=$(seed "$name" "$work") || { echo "fuzz.$name: cannot seed from $VECTORS"; fail=1; }
    log="$work.log"
    t0=$(date +%s)
    "$bin" "${limit[@]}" -timeout=10 -detect_leaks=1 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$work" >"$log" 2>&1
    rc=$?
    t1=$(date +%s)
    execs=$(sed -n 's/^Done \([0-9]*\) runs in .*/\1/p' "$log" | tail -1)
    [ -n "$execs" ] || execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
    echo "fuzz.$name ${execs:-0} execs $((t1 - t0)) s"
    if [ $rc -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|==[0-9]+== ?ERROR' "$log"; then
        echo "fuzz.$name: FAILED (exit $rc, seeds ${nseeds:-0}, inputs in $artifacts/); log:" >&2
        tail -60 "$log" >&2
        fail=1
    fi
    rm -rf "$work" "$log"
done
exit $fail
