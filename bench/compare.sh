#!/usr/bin/env bash
# Side-by-side benchmark: the official encord-agents Runner (0.2.10, Python)
# and runner-host (Rust, Python and JavaScript agents) on the same work, machine and
# emulator; see bench/compare.py and docs/benchmarks.md.
#   bench/compare.sh [--sizes 1000,10000] [--latencies 0,20] [--markdown FILE]
# Builds runner-host (release) and the agents, makes the encord-agents venv
# under target/ (shared with the tests), then runs the comparison in
# target/bench-compare/. Prints one table; exits non-zero if the runners'
# end states differ.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -p runner-host
scripts/build-guests.sh bench-agent
mkdir -p target/bench
scripts/build-agent.sh bench/agent.py -o target/bench/agent-py.wasm
scripts/build-agent.sh bench/agent.js -o target/bench/agent-js.wasm

venv=target/python-sdk-venv
pins=$'encord==0.1.211\nencord-agents==0.2.10'
if [ "$(cat "$venv/pins.txt" 2>/dev/null)" != "$pins" ] || [ ! -x "$venv/bin/python" ]; then
  echo "compare: installing encord-agents into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $pins
  printf '%s' "$pins" > "$venv/pins.txt"
fi

exec "$venv/bin/python" bench/compare.py \
  --runner-host target/release/runner-host \
  --rust-component target/guests/wasm32-wasip2/guest/bench_agent.wasm \
  --python-component target/bench/agent-py.wasm \
  --js-component target/bench/agent-js.wasm \
  --work target/bench-compare "$@"
