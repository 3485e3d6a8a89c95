# Short libFuzzer runs of every target (clang + ASan/UBSan/LSan); any crash, leak or timeout
# fails the step. FUZZ_SECONDS per target, default 16 (ten targets: what nine took at 18).
set -uo pipefail
make --no-print-directory fuzz-build || exit 1
FUZZ_SECONDS="${FUZZ_SECONDS:-16}" exec scripts/fuzz.sh short
