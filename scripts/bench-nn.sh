#!/usr/bin/env bash
# Models benchmark: the PP-OCRv4 text detector on one 640×480 image, native ONNX
# Runtime from Rust next to the text-regions agent running it through wasi:nn
# (tensor in, regions out, the host's helpers on both sides), 1 and 2 threads;
# then the whole agent over the demo store with its text images.
#   BENCH_IMAGES=N  images per measurement (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-guests.sh text-regions
cargo bench -p runner-host --bench nn
cargo build --release -p runner-host
store="$(mktemp -d)/store"
hash="$(target/release/runner-host local demo --store "$store" --with-text 2>/dev/null | tail -1)"
model="${XDG_CACHE_HOME:-$HOME/.cache}/runner-host/models/ch_PP-OCRv4_det_infer.onnx"
echo "whole agent on the demo store (27 images, 3 of them 640×480 with text):"
target/release/runner-host --component target/guests/wasm32-wasip2/guest/text_regions.wasm \
  --store "$store" --project-hash "$hash" --stage pre-label --no-cache \
  --model "text-detector=$model" 2>/dev/null | head -3
rm -rf "$(dirname "$store")"
