# Short libFuzzer runs of every target (clang + ASan/UBSan/LSan); any crash, leak or timeout
# fails the step. FUZZ_SECONDS per target, default 20.
set -uo pipefail
make --no-print-directory fuzz-build || exit 1
FUZZ_SECONDS="${FUZZ_SECONDS:-20}" exec scripts/fuzz.sh short
