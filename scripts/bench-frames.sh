#!/usr/bin/env bash
# Frames benchmark: frames per second delivered into a guest that touches every
# pixel, next to ffmpeg alone decoding the same clip to raw RGB, for 720p and
# 1080p; and the host's peak RSS for a clip and one three times longer.
#   BENCH_FRAMES=N  frames per clip (default 300)   BENCH_RUNS=N  best of N (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-guests.sh guest-touch
cargo bench -p runner-host --bench frames
