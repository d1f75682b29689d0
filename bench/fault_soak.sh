#!/usr/bin/env bash
# Fault soak (not part of the test suite): runner-host over an emulator that
# fails 20 % of every request with 429, 503 or a reset, checked against the
# emulator's ledger; see bench/fault_soak.py.
#   bench/fault_soak.sh [--tasks 10000] [--fault-rate 0.2]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -p runner-host
scripts/build-guests.sh bench-agent
exec python3 bench/fault_soak.py --runner-host target/release/runner-host \
  --component target/guests/wasm32-wasip2/guest/bench_agent.wasm "$@"
