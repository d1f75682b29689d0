#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests (labels, SDK, example
# agents natively), and end-to-end tests (real components, the real binary, a
# real store). Guests are built once per test binary into target/guests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
