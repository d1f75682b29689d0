#!/usr/bin/env bash
# Sandbox benchmark: per-task overhead (fresh instance + call of a trivial agent,
# p50/p99, with and without limits) and start-up to the first task (cold vs cached).
#   BENCH_TASKS=N   calls per measurement (default 5000)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-guests.sh guest-trivial
cargo bench -p runner-host --bench sandbox
