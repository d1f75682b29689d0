#!/usr/bin/env bash
# The demo: builds runner-host and the example agents, creates a demo project in an
# embedded store, runs the pre-label agent then the triage agent, and shows where
# every task went and the labels the agents wrote.
#   STORE=path  where the demo store goes (default: demo-store/, recreated each run)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build -p runner-host
scripts/build-guests.sh prelabel triage

bin=target/debug/runner-host
guests=target/guests/wasm32-wasip2/guest
store=${STORE:-demo-store}
rm -rf "$store"

hash=$("$bin" local demo --store "$store" | tail -n 1)
echo "== demo project $hash in $store"
echo "== before"
"$bin" local status --store "$store" --project-hash "$hash"

echo "== inspect $guests/prelabel.wasm"
"$bin" inspect --component "$guests/prelabel.wasm"
echo "== running the pre-label agent"
"$bin" --component "$guests/prelabel.wasm" --project-hash "$hash" --store "$store"
echo "== running the triage agent"
"$bin" --component "$guests/triage.wasm" --project-hash "$hash" --store "$store"

echo "== after"
"$bin" local status --store "$store" --project-hash "$hash"
echo "== labels written (first rows of: $bin local export --store $store --project-hash $hash)"
"$bin" local export --store "$store" --project-hash "$hash" | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    row = e["label_row"]
    objs = [o["name"] for u in row["data_units"].values()
            for f in ([u["labels"]] if "objects" in u.get("labels", {}) else u.get("labels", {}).values())
            for o in f.get("objects", [])]
    cls = [c["classifications"][0]["answers"][0]["name"] for c in row["classification_answers"].values()]
    title, stage, priority = row["data_title"], e["stage"], str(e["priority"])
    print(f"{title:<24} stage={stage:<10} priority={priority:<5} objects={objs} classifications={cls}")
'
