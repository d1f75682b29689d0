#!/usr/bin/env bash
# Per-language cost of an agent: component size, fresh instance + call of a
# trivial agent (p50/p99, with the sandbox's limits), and start to the first
# task, cold (compile) and cached. Rust, C, Python (componentize-py) and
# JavaScript (componentize-qjs).
#   BENCH_TASKS=N   calls per measurement (default 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-guests.sh guest-trivial
mkdir -p target/guests/bench
scripts/build-agent.sh tests/guests/c/trivial.c -o target/guests/bench/trivial-c.wasm
scripts/build-agent.sh tests/guests/python/trivial.py -o target/guests/bench/trivial-python.wasm
scripts/build-agent.sh tests/guests/js/trivial.js -o target/guests/bench/trivial-js.wasm
export BENCH_TASKS="${BENCH_TASKS:-1000}"
cargo bench -p runner-host --bench sandbox --no-run
for lang in rust c python js; do
  case "$lang" in
    rust) wasm="$PWD/target/guests/wasm32-wasip2/guest/guest_trivial.wasm" ;;
    *) wasm="$PWD/target/guests/bench/trivial-$lang.wasm" ;;
  esac
  echo "== $lang"
  BENCH_COMPONENT="$wasm" cargo bench -q -p runner-host --bench sandbox 2>/dev/null
done
