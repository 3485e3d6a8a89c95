# Short libFuzzer runs of every target (clang + ASan/UBSan/LSan); any crash, leak or timeout
# fails the step. FUZZ_SECONDS per target, default 18 (nine targets: what eight took at 20).
set -uo pipefail
make --no-print-directory fuzz-build || exit 1
FUZZ_SECONDS="${FUZZ_SECONDS:-18}" exec scripts/fuzz.sh short
