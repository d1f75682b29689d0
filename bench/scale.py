"""Scale-out, measured: runner-host workers sharing a project through a real
nats-server, against the emulator over HTTP. Run through bench/scale.sh.

1. A CPU-bound agent (tests/guests/queue-work, `spin-20-…` titles: 20 ms of
   computation per task): 2 workers with --concurrency 1 each against 1 such
   worker. Target: ≥ 1.8× the tasks/s.
2. The trivial bench agent (bench/agent) on a project of image tasks: one
   worker through the queue against the single-process runner on the same
   emulator. Targets: the queue's added runner CPU per task ≤ 15 %, tasks/s
   ≥ 80 %. The nats-server's own CPU is printed beside it.

Each figure is the median of --runs runs (each on a fresh copy of the
project and a fresh nats-server), with the spread (min–max).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import Emulator, cpu_seconds, fail  # noqa: E402


def keypair(directory: Path) -> Path:
    key = directory / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key


class Nats:
    def __init__(self, directory: Path):
        self.dir = directory
        self.proc = subprocess.Popen(
            [nats_binary(), "-js", "-sd", str(directory / "js"), "-a", "127.0.0.1", "-p", "-1",
             "--ports_file_dir", str(directory), "-l", str(directory / "nats.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        ports = directory / f"nats-server_{self.proc.pid}.ports"
        deadline = time.time() + 20
        while True:
            try:
                self.url = json.loads(ports.read_text())["nats"][0]
                break
            except (OSError, ValueError, KeyError):
                if time.time() > deadline:
                    fail("nats-server did not start")
                time.sleep(0.02)

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def nats_binary() -> str:
    for p in ("/usr/sbin/nats-server", "/usr/bin/nats-server"):
        if os.path.exists(p):
            return p
    found = shutil.which("nats-server")
    if not found:
        fail("nats-server is not installed: run scripts/setup.sh")
    return found


def make_store(rh: str, directory: Path, key: Path, spec: dict | None, images: int | None) -> tuple[Path, str]:
    store = directory / "store.db"
    if spec is not None:
        spec_file = directory / "spec.json"
        spec_file.write_text(json.dumps(spec))
        out = subprocess.run([rh, "local", "project", "--store", str(store), "--spec", str(spec_file)],
                             check=True, capture_output=True, text=True)
    else:
        out = subprocess.run([rh, "local", "demo", "--store", str(store), "--images", str(images), "--images-only"],
                             check=True, capture_output=True, text=True)
    project = out.stdout.strip().splitlines()[-1]
    subprocess.run([rh, "local", "add-key", "--store", str(store), "--public-key", str(key) + ".pub"],
                   check=True, capture_output=True)
    return store, project


def run_processes(cmds: list[list[str]], logs: list[Path]) -> tuple[float, float]:
    """Starts every command at once; wall time until the last ends, and their CPU."""
    start = time.perf_counter()
    procs = []
    for cmd, log in zip(cmds, logs):
        out = open(log, "w")
        procs.append((subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "RUST_LOG": "warn"}), out, log))
    cpu = 0.0
    for proc, out, log in procs:
        _, status, usage = os.wait4(proc.pid, 0)
        out.close()
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            fail(f"`{' '.join(str(c) for c in proc.args[:2])} …` exited with {code}; see {log}")
        cpu += usage.ru_utime + usage.ru_stime
    return time.perf_counter() - start, cpu


def one(rh: str, work: Path, key: Path, *, spec=None, images=None, component: str, stage: str,
        workers: int, queue: bool, extra: list[str]) -> dict:
    """One run on a fresh store: tasks/s, runner CPU s, nats CPU s."""
    run = Path(tempfile.mkdtemp(dir=work))
    store, project = make_store(rh, run, key, spec, images)
    emulator = Emulator(rh, store, 0, [], run / "emulator.log")
    nats = Nats(run) if queue else None
    try:
        base = [rh]
        common = ["--component", component, "--project-hash", project, "--domain", emulator.url,
                  "--ssh-key-file", str(key)] + extra
        if queue:
            cmds = [base + ["worker", "--queue", nats.url, "--worker-id", f"w{i}"] + common for i in range(workers)]
        else:
            cmds = [base + common]
        nats_before = nats.cpu() if nats else 0.0
        wall, cpu = run_processes(cmds, [run / f"runner-{i}.log" for i in range(len(cmds))])
        nats_cpu = (nats.cpu() - nats_before) if nats else 0.0
    finally:
        emulator.stop()
        if nats:
            nats.stop()
    tasks = spec_tasks(spec) if spec else images
    shutil.rmtree(run, ignore_errors=True)
    return {"tasks": tasks, "wall": wall, "tps": tasks / wall, "cpu": cpu, "nats_cpu": nats_cpu}


def spec_tasks(spec: dict) -> int:
    return len(spec["data"])


def median(runs: list[dict], key: str) -> tuple[float, float, float]:
    values = [r[key] for r in runs]
    return statistics.median(values), min(values), max(values)


def fmt(m: tuple[float, float, float], digits: int = 0) -> str:
    return f"{m[0]:,.{digits}f} ({m[1]:,.{digits}f}–{m[2]:,.{digits}f})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runner-host", required=True)
    ap.add_argument("--spin-component", required=True)
    ap.add_argument("--bench-component", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--spin-tasks", type=int, default=300)
    ap.add_argument("--trivial-tasks", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--markdown")
    args = ap.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    key = keypair(work)
    rh = args.runner_host
    spin = {
        "title": "Spin", "ontology": json.loads((Path(__file__).resolve().parent.parent / "examples/demo-ontology.json").read_text()),
        "stages": [
            {"title": "work", "type": "AGENT", "pathways": [{"name": "done", "to": "Done"}]},
            {"title": "Done", "type": "DONE"},
        ],
        "data": [{"title": f"spin-20-{i:05}.png"} for i in range(args.spin_tasks)],
    }
    rows = []

    def measure(name, **kw):
        runs = [one(rh, work, key, **kw) for _ in range(args.runs)]
        rows.append((name, runs))
        print(f"  {name}: {fmt(median(runs, 'tps'))} tasks/s", file=sys.stderr)
        return runs

    print("scale: CPU-bound agent (20 ms per task)", file=sys.stderr)
    spin_kw = dict(spec=spin, component=args.spin_component, stage="Done", queue=True,
                   extra=["--concurrency", "1"])
    one_w = measure("1 worker, --concurrency 1, 20 ms CPU per task", workers=1, **spin_kw)
    two_w = measure("2 workers, --concurrency 1 each", workers=2, **spin_kw)
    print("scale: trivial agent, queue against the single-process runner", file=sys.stderr)
    triv = dict(images=args.trivial_tasks, component=args.bench_component, stage="triage", extra=[])
    single = measure("single-process runner, trivial agent", workers=1, queue=False, **triv)
    queued = measure("1 worker through the queue, trivial agent", workers=1, queue=True, **triv)

    lines = ["| run | tasks | tasks/s (median, min–max) | runner CPU µs/task | nats-server CPU µs/task |",
             "|---|---:|---:|---:|---:|"]
    for name, runs in rows:
        tasks = runs[0]["tasks"]
        cpu = tuple(v / tasks * 1e6 for v in median(runs, "cpu"))
        ncpu = tuple(v / tasks * 1e6 for v in median(runs, "nats_cpu"))
        lines.append(f"| {name} | {tasks:,} | {fmt(median(runs, 'tps'))} | {fmt(cpu)} | {fmt(ncpu)} |")
    speedup = median(two_w, "tps")[0] / median(one_w, "tps")[0]
    share = median(queued, "tps")[0] / median(single, "tps")[0]
    added = median(queued, "cpu")[0] / median(single, "cpu")[0] - 1
    lines += [
        "",
        f"- 2 workers against 1 (CPU-bound): **{speedup:.2f}×** tasks/s (target ≥ 1.8×)",
        f"- the queue against the single-process runner (trivial agent): **{share:.0%}** of its tasks/s (target ≥ 80 %), "
        f"runner CPU **{added:+.0%}** per task (target ≤ +15 %)",
    ]
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        Path(args.markdown).write_text(table + "\n")


if __name__ == "__main__":
    main()
