#!/usr/bin/env bash
# Installs what building and testing need on a fresh machine: the wasm32-wasip2
# Rust target (guest components), rustfmt and clippy, and ffmpeg (video frames;
# runner-host never downloads it). Idempotent.
set -euo pipefail
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  echo "setup: installing the wasm32-wasip2 target" >&2
  rustup target add wasm32-wasip2
fi
for component in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$component"; then
    echo "setup: installing $component" >&2
    rustup component add "$component"
  fi
done
if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
  echo "setup: installing ffmpeg" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null
fi
# nats-server with JetStream (the scale-out tests start their own, per test,
# on a free loopback port): Debian's 2.9.10. Without systemd its package
# starts no service.
if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then
  echo "setup: installing nats-server" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nats-server >/dev/null
fi
# ONNX Runtime (models through wasi:nn) and the PP-OCRv4 text detector the
# text-regions examples and tests run: two pinned PyPI wheels, of which only
# the library and the model are kept, in the user cache where runner-host
# looks (host/src/nn/runtime.rs). Never linked: loaded only with --model.
cache="${XDG_CACHE_HOME:-$HOME/.cache}/runner-host"
ort_lib="$cache/onnxruntime-1.22.1/libonnxruntime.so.1.22.1"
det_model="$cache/models/ch_PP-OCRv4_det_infer.onnx"
if [ ! -f "$ort_lib" ] || [ ! -f "$det_model" ]; then
  echo "setup: fetching ONNX Runtime 1.22.1 and the PP-OCRv4 detector (PyPI wheels)" >&2
  wheels="$(mktemp -d)"
  python3 -m pip download -q --no-deps --only-binary :all: \
    onnxruntime==1.22.1 rapidocr-onnxruntime==1.4.4 -d "$wheels"
  python3 - "$wheels" "$cache" <<'PY'
import glob, os, sys, zipfile
wheels, cache = sys.argv[1], sys.argv[2]
want = {
    "onnxruntime/capi/libonnxruntime.so.1.22.1": "onnxruntime-1.22.1/libonnxruntime.so.1.22.1",
    "onnxruntime/LICENSE": "onnxruntime-1.22.1/LICENSE",
    "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx": "models/ch_PP-OCRv4_det_infer.onnx",
}
for wheel in glob.glob(os.path.join(wheels, "*.whl")):
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if name in want:
                dest = os.path.join(cache, want.pop(name))
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                with z.open(name) as src, open(dest + ".part", "wb") as out:
                    out.write(src.read())
                os.replace(dest + ".part", dest)
if want:
    sys.exit("setup: the wheels lack " + ", ".join(want))
PY
  rm -rf "$wheels"
fi
