#!/usr/bin/env bash
# Builds an agent written in Python, JavaScript or C into a component:
#   scripts/build-agent.sh AGENT.py|AGENT.js|AGENT.c [-o OUT.wasm]
# The toolchains are installed on first use, pinned, under target/guest-tools/
# (Python: componentize-py; JavaScript: jco + componentize-qjs from npm;
# C: Debian's clang-19 + wasi-libc, wit-bindgen's C generator and the WASI
# adapter through the project's own `guest-tools` binary). Rust agents build
# with cargo (scripts/build-guests.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -ge 1 ] || { echo "usage: scripts/build-agent.sh AGENT.py|AGENT.js|AGENT.c [-o OUT.wasm]" >&2; exit 2; }
agent="$(realpath "$1")"; shift
out="${agent%.*}.wasm"
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out="$(realpath -m "$2")"; shift 2 ;;
    *) echo "error: unknown argument $1 (usage: scripts/build-agent.sh AGENT [-o OUT.wasm])" >&2; exit 2 ;;
  esac
done
[ -f "$agent" ] || { echo "error: agent file $agent does not exist" >&2; exit 1; }
tools="$root/target/guest-tools"
mkdir -p "$tools" "$(dirname "$out")"

case "$agent" in
  *.py)
    venv="$tools/python"
    pin="componentize-py==0.25.1"
    if [ "$(cat "$venv/pins.txt" 2>/dev/null)" != "$pin" ]; then
      echo "build-agent: installing $pin into $venv" >&2
      rm -rf "$venv"
      python3 -m venv "$venv"
      "$venv/bin/pip" install --quiet --disable-pip-version-check "$pin"
      echo "$pin" > "$venv/pins.txt"
    fi
    PYTHONPATH="$root/guest-sdk/python" "$venv/bin/python" -m encord_agent_sdk.build "$agent" -o "$out"
    ;;
  *.js)
    js="$tools/js"
    pin="componentize-qjs@0.4.5"
    if [ "$(cat "$js/pins.txt" 2>/dev/null)" != "$pin" ]; then
      echo "build-agent: installing $pin into $js" >&2
      rm -rf "$js"
      mkdir -p "$js"
      (cd "$js" && npm install --silent --no-audit --no-fund --no-save "$pin" >/dev/null)
      echo "$pin" > "$js/pins.txt"
    fi
    # The agent imports the SDK as the package "encord-agent": a module root
    # holding the agent's folder and node_modules/encord-agent.
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/agent"
    tar -C "$(dirname "$agent")" --exclude=node_modules -cf - . | tar -C "$work/agent" -xf -
    mkdir -p "$work/node_modules"
    cp -r "$root/guest-sdk/js" "$work/node_modules/encord-agent"
    started=$(date +%s%N)
    # The entry runs the agent module, then exports the SDK's handler and
    # lifecycle (its `init` callbacks), so an agent exports nothing itself.
    printf 'import "./agent/%s";\nexport { handler, lifecycle } from "encord-agent";\n' \
      "$(basename "$agent")" > "$work/entry.js"
    "$js/node_modules/.bin/componentize-qjs" --wit "$root/wit" --world agent-with-init --sync \
      --module-root "$work" --js "$work/entry.js" -o "$out" >&2
    echo "built $out ($(( $(stat -c %s "$out") / 1000 )) KB) in $(( ($(date +%s%N) - started) / 1000000 )) ms" >&2
    ;;
  *.c)
    if ! command -v clang-19 >/dev/null || [ ! -d /usr/lib/wasm32-wasi ] \
        || [ ! -e /usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a ]; then
      echo "build-agent: installing clang-19, lld-19 and wasi-libc (apt)" >&2
      if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
      $SUDO apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32 >/dev/null
    fi
    # Bindings and the component step come from crates (wit-bindgen's C
    # generator, wit-component, the WASI adapter of the host's wasmtime).
    cargo build --quiet --release -p guest-tools --manifest-path "$root/Cargo.toml"
    gt="$root/target/release/guest-tools"
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    "$gt" c-bindings "$root/wit" agent "$work/gen"
    started=$(date +%s%N)
    # 128 KiB of heap in the initial memory: see .cargo/config.toml.
    clang-19 --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Werror -Wno-unused-function \
      -Wl,--initial-heap=131072 \
      -mexec-model=reactor -fuse-ld=lld -I "$work/gen" -o "$work/core.wasm" \
      "$agent" "$work/gen/agent.c" "$work/gen/agent_component_type.o"
    "$gt" component "$work/core.wasm" "$out"
    echo "built $out ($(( $(stat -c %s "$out") / 1000 )) KB) in $(( ($(date +%s%N) - started) / 1000000 )) ms" >&2
    ;;
  *)
    echo "error: $agent: agents are built from .py, .js or .c files (Rust: scripts/build-guests.sh)" >&2
    exit 1 ;;
esac
