#!/usr/bin/env bash
# Installs what building and testing need on a fresh machine: the wasm32-wasip2
# Rust target (guest components). Idempotent.
set -euo pipefail
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  echo "setup: installing the wasm32-wasip2 target" >&2
  rustup target add wasm32-wasip2
fi
