#!/usr/bin/env bash
# Builds agent components (default: the examples) into target/guests/wasm32-wasip2/guest/.
# The end-to-end tests build into the same place, so the demo and the tests share one build.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=("$@")
[ ${#packages[@]} -gt 0 ] || packages=(prelabel triage)
args=()
for p in "${packages[@]}"; do args+=(-p "$p"); done
cargo build --target wasm32-wasip2 --profile guest --target-dir target/guests "${args[@]}"
