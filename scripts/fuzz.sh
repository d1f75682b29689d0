#!/usr/bin/env bash
# Fuzzes each target for SECONDS (default 60) with libFuzzer (cargo fuzz),
# starting from the seed corpora committed in fuzz/seeds/ (the wire spec's
# vectors and the example ontologies). Not part of the test suite.
#   scripts/fuzz.sh [SECONDS]
# cargo-fuzz wants nightly flags: the machine's stable toolchain is allowed
# them with RUSTC_BOOTSTRAP=1. A crash is left in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
targets=$(cargo fuzz list --fuzz-dir fuzz)
crashed=""
for target in $targets; do
  corpus="target/fuzz-corpus/$target"
  mkdir -p "$corpus"
  log="target/fuzz-corpus/$target.log"
  echo "fuzz: $target for ${seconds}s" >&2
  if ! cargo fuzz run -O --fuzz-dir fuzz "$target" "$corpus" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
    crashed="$crashed $target"
    grep -E "panicked|SUMMARY|Test unit written" "$log" >&2 || true
  fi
  # Executions, and coverage (edges) and features reached, at the end.
  execs=$(grep -E "^stat::number_of_executed_units" "$log" | awk '{print $2}')
  cov=$(grep -oE "cov: [0-9]+ ft: [0-9]+" "$log" | tail -1)
  echo "$target: ${execs:-?} executions, ${cov:-no coverage line}"
done
if [ -n "$crashed" ]; then
  echo "fuzz: crashes in:$crashed (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
