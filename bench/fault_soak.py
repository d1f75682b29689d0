"""Fault soak: runner-host over an emulator that fails a share of every
request, checked against the emulator's own ledger. Run through
bench/fault_soak.sh; not part of the test suite (10,000 tasks take minutes).

One store of N images (default 10,000) in `pre-label`, copied twice. The
bench agent runs on each copy over HTTP: once on a clean emulator, once on
one answering `--fault-rate` (default 20 %) of requests, on every endpoint,
with 429, 503 or a dropped connection. Then, from the faulty run's ledger
(every request the emulator saw, with its body and answer):

- every task was moved exactly once, and never before its labels were saved;
- every label row holds the agent's box and every task its priority;
- both copies end in the same state.

Printed: requests and time of each run, and the overhead the faults cost.
Exits non-zero if any check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path


def fail(message: str) -> None:
    print(f"fault-soak: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


class Emulator:
    def __init__(self, runner_host: str, store: Path, extra: list[str], log: Path):
        self.log = open(log, "w")
        self.proc = subprocess.Popen(
            [runner_host, "emulator", "--store", str(store), "--listen", "127.0.0.1:0"] + extra,
            stdout=subprocess.PIPE,
            stderr=self.log,
            # Every request, failed ones included, is logged at info.
            env={**os.environ, "RUST_LOG": "warn,emulator=info", "NO_COLOR": "1"},
            text=True,
        )
        self.path = log
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            fail(f"the emulator did not start (see {log})")

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.log.close()


def soak(args, work: Path, store: Path, project: str, key: Path, faults: list[str]) -> dict:
    ledger = work / f"ledger-{store.name}.jsonl"
    emulator = Emulator(args.runner_host, store, ["--record", str(ledger)] + faults, work / f"emulator-{store.name}.log")
    started = time.perf_counter()
    out = subprocess.run(
        [args.runner_host, "--component", args.component, "--project-hash", project, "--domain", emulator.url,
         "--ssh-key-file", str(key), "--http-retries", "12"],
        capture_output=True, text=True, env={**os.environ, "RUST_LOG": "warn"},
    )
    wall = time.perf_counter() - started
    emulator.stop()
    sent = sum(1 for line in emulator.path.read_text().splitlines() if " request" in line and "emulator" in line)
    (work / f"run-{store.name}.log").write_text(out.stdout + out.stderr)
    if out.returncode != 0:
        fail(f"runner-host exited {out.returncode} on {store.name} (see {work}/run-{store.name}.log)")
    return {"wall": wall, "ledger": ledger, "sent": sent}


def check_ledger(store: Path, project: str, ledger: Path, tasks: int) -> dict:
    conn = sqlite3.connect(store / "store.sqlite")
    data_of = dict(conn.execute("SELECT task_uuid, data_hash FROM tasks WHERE project_hash = ?", (project,)))
    saved, moves, requests, failed = set(), {}, 0, 0  # requests the API layer answered
    for line in ledger.read_text().splitlines():
        entry = json.loads(line)
        requests += 1
        if entry["status"] >= 400:
            failed += 1
        try:
            body = json.loads(entry.get("body") or "null")
            answer = json.loads(entry.get("answer") or "null")
        except ValueError:
            continue
        target = entry["target"]
        if target.endswith("/actions") and entry["status"] == 204:
            for action in body:
                task = action["taskUuid"]
                if data_of[task] not in saved:
                    fail(f"task {task} was moved before its labels were saved")
                moves[task] = moves.get(task, 0) + 1
        if (target == "/public" and isinstance(body, dict) and body.get("query_type") == "labelrow"
                and body.get("query_method") == "POST" and isinstance(answer, dict) and answer.get("status") == 200):
            for row in body["values"]["payload"]["labels"]:
                saved.add(row["data_hash"])
    if len(moves) != tasks:
        fail(f"{len(moves)} of {tasks} tasks were moved")
    twice = [t for t, n in moves.items() if n != 1]
    if twice:
        fail(f"{len(twice)} task(s) were moved more than once, e.g. {twice[:3]}")
    return {"answered": requests, "refused": failed}


def end_state(runner_host: str, store: Path, project: str) -> dict:
    rows = json.loads(run([runner_host, "local", "export", "--store", str(store), "--project-hash", project]).stdout)
    state = {}
    for r in rows:
        objects = sum(len(u["labels"].get("objects", [])) for u in r["label_row"]["data_units"].values())
        if objects != 1 or r["priority"] is None:
            fail(f"{r['label_row']['data_title']}: {objects} objects, priority {r['priority']}: a label was lost")
        state[r["label_row"]["data_title"]] = (r["stage"], r["priority"], objects)
    return state


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runner-host", required=True)
    ap.add_argument("--component", required=True, help="the bench agent")
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--fault-rate", type=float, default=0.2)
    ap.add_argument("--work", type=Path, default=Path("target/bench-soak"))
    args = ap.parse_args()

    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    clean, faulty = work / "clean", work / "faulty"
    made = run([args.runner_host, "local", "demo", "--store", str(clean), "--images", str(args.tasks), "--images-only"])
    project = made.stdout.strip().splitlines()[-1]
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "id_ed25519")], check=True)
    run([args.runner_host, "local", "add-key", "--store", str(clean), "--public-key", str(work / "id_ed25519.pub")])
    shutil.copytree(clean, faulty)
    tasks = len(json.loads(run([args.runner_host, "local", "export", "--store", str(clean), "--project-hash", project]).stdout))

    base = soak(args, work, clean, project, work / "id_ed25519", [])
    hit = soak(args, work, faulty, project, work / "id_ed25519",
               ["--fault-rate", str(args.fault_rate), "--faults", "429,503,reset", "--retry-after", "0"])
    base.update(check_ledger(clean, project, base["ledger"], tasks))
    hit.update(check_ledger(faulty, project, hit["ledger"], tasks))
    if end_state(args.runner_host, clean, project) != end_state(args.runner_host, faulty, project):
        fail("the faulty run ended in another state than the clean one")

    print(f"fault soak: {tasks} tasks, {args.fault_rate:.0%} of requests failed with 429, 503 or a reset")
    print("| run | requests sent | failed by injection | answered | wall s | requests/task |")
    print("|---|---|---|---|---|---|")
    for name, r in (("clean", base), ("faulty", hit)):
        print(f"| {name} | {r['sent']} | {r['sent'] - r['answered']} | {r['answered']} | {r['wall']:.1f} | {r['sent'] / tasks:.3f} |")
    if base["sent"] == 0:
        fail("the emulator logged no requests (is its request log line still `request`?)")
    print(f"overhead: {hit['sent'] / base['sent']:.2f}x the requests, {hit['wall'] / base['wall']:.2f}x the time; "
          "every task moved exactly once, after its labels; no label lost; end states equal")


if __name__ == "__main__":
    main()
