#!/usr/bin/env bash
# Scale-out benchmark: runner-host workers sharing a project through a real
# nats-server (scripts/setup.sh installs Debian's), on the emulator over HTTP;
# see bench/scale.py and docs/benchmarks.md.
#   bench/scale.sh [--runs 3] [--spin-tasks 300] [--trivial-tasks 5000] [--markdown FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -p runner-host
scripts/build-guests.sh bench-agent guest-queue-work
exec python3 bench/scale.py \
  --runner-host target/release/runner-host \
  --spin-component target/guests/wasm32-wasip2/guest/guest_queue_work.wasm \
  --bench-component target/guests/wasm32-wasip2/guest/bench_agent.wasm \
  --work target/bench-scale "$@"
