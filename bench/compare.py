"""Side by side: the official encord-agents Runner and runner-host on the same
work, the same machine and the same emulator. Run through bench/compare.sh,
which builds what this needs and runs it with the encord-agents venv's Python.

For each store size N and emulator latency L, on identical copies of one
store of N image tasks, it runs bench/encord_agents/agent.py on encord-agents,
bench/agent (Rust) and bench/agent.py on runner-host, each with its default
(Rust: a fresh instance per task; Python: an instance kept for 100 tasks)
and the other (Rust --reuse-instance 100, Python --reuse-instance 1); checks
their end states are the same (per task: stage, priority, objects); and
prints tasks/s, wall, CPU, peak RSS and HTTP requests per task of each, the
emulator's CPU during each run, and the emulator's ceiling for runner-host's
call mix (the recorded requests replayed back to back by a client that costs
nothing: the fastest this server can serve that work).
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def fail(message: str) -> None:
    print(f"compare: {message}", file=sys.stderr)
    sys.exit(1)


def keypair(directory: Path) -> Path:
    """A fresh OpenSSH Ed25519 key pair (cryptography comes with encord)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = directory / "id_ed25519"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        )
    )
    private.chmod(0o600)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    (directory / "id_ed25519.pub").write_bytes(public + b" bench\n")
    return private


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Emulator:
    def __init__(self, runner_host: str, store: Path, latency: int, extra: list[str], log: Path):
        self.log = open(log, "w")
        self.proc = subprocess.Popen(
            [runner_host, "emulator", "--store", str(store), "--listen", "127.0.0.1:0", "--latency-ms", str(latency)]
            + extra,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env={**os.environ, "RUST_LOG": "warn"},
            text=True,
        )
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            fail(f"the emulator did not start (see {log})")

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.log.close()


def peak_rss_kib(pid: int, done: threading.Event, peak: list) -> None:
    """Follows a process's VmHWM until it exits. (ru_maxrss is no use here: it
    survives exec, so a child starts at this harness's own size.)"""
    while not done.is_set():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak[0] = max(peak[0], int(line.split()[1]))
        except (OSError, ValueError):
            pass
        done.wait(0.01)


def measured(cmd: list[str], env: dict, log: Path) -> dict:
    """Runs cmd to the end; its wall time, CPU time and peak RSS."""
    with open(log, "w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        done, peak = threading.Event(), [0]
        follower = threading.Thread(target=peak_rss_kib, args=(proc.pid, done, peak))
        follower.start()
        # wait4 on the pid reaps it; the follower reads /proc until then.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        follower.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        fail(f"`{' '.join(cmd[:3])} …` exited with {proc.returncode}; its output is in {log}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mib": peak[0] / 1024}


def meaning(runner_host: str, store: Path, project: str) -> dict:
    """Per data title: (stage, priority, objects) — what the runners must agree on."""
    out = subprocess.run(
        [runner_host, "local", "export", "--store", str(store), "--project-hash", project],
        check=True,
        capture_output=True,
    )
    result = {}
    for entry in json.loads(out.stdout):
        row = entry["label_row"]
        objects = []
        for unit in row["data_units"].values():
            for o in unit["labels"].get("objects", []):
                b = o["boundingBox"]
                objects.append((o["name"], *(round(b[k], 6) for k in "xywh")))
        result[row["data_title"]] = (entry["stage"], entry["priority"], sorted(objects))
    return result


def ids_made(recorded, replayed, mapping: dict) -> None:
    """Where the two answers differ only by an id, maps the recorded id to the replayed one."""
    if isinstance(recorded, dict) and isinstance(replayed, dict):
        for k, v in recorded.items():
            if k in replayed:
                ids_made(v, replayed[k], mapping)
    elif isinstance(recorded, list) and isinstance(replayed, list):
        for a, b in zip(recorded, replayed):
            ids_made(a, b, mapping)
    elif isinstance(recorded, str) and isinstance(replayed, str) and recorded != replayed:
        if UUID.fullmatch(recorded) and UUID.fullmatch(replayed):
            mapping[recorded] = replayed


def ceiling(runner_host: str, base: Path, work: Path, latency: int, recording: Path, tasks: int) -> dict:
    """Replays a run's recorded requests, one after another, on a fresh copy of
    the store; the time counted is each request's round trip only (the
    client's own work between requests is left out)."""
    store = work / f"replay-{latency}"
    shutil.copytree(base, store)
    token = os.urandom(16).hex()
    emulator = Emulator(runner_host, store, latency, ["--bearer-token", token], work / f"replay-{latency}.log")
    address = urllib.parse.urlparse(emulator.url)
    conn = http.client.HTTPConnection(address.hostname, address.port)
    mapping: dict[str, str] = {}
    rebind = lambda text: UUID.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)  # noqa: E731
    busy, count, differing = 0.0, 0, 0
    cpu_before = emulator.cpu()
    for line in recording.read_text().splitlines():
        r = json.loads(line)
        body = rebind(r["body"]).encode()
        headers = {**r["headers"], "authorization": f"Bearer {token}", "content-length": str(len(body))}
        target = rebind(r["target"])
        start = time.perf_counter()
        conn.request(r["method"], target, body=body or None, headers=headers)
        response = conn.getresponse()
        answer = response.read()
        busy += time.perf_counter() - start
        count += 1
        if response.status != r["status"]:
            differing += 1
        try:
            ids_made(json.loads(r["answer"]), json.loads(answer), mapping)
        except ValueError:
            pass
    emulator_cpu = emulator.cpu() - cpu_before
    emulator.stop()
    conn.close()
    if differing:
        fail(f"{differing} of {count} replayed requests were answered differently than recorded")
    return {"requests": count, "seconds": busy, "tasks_s": tasks / busy, "requests_s": count / busy,
            "emulator_cpu": emulator_cpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runner-host", required=True, help="the release runner-host binary")
    ap.add_argument("--rust-component", required=True)
    ap.add_argument("--python-component", required=True)
    ap.add_argument("--js-component", help="the JavaScript agent (bench/agent.js); its rows are left out without it")
    ap.add_argument("--sizes", default="1000,10000", help="image tasks per store, comma-separated")
    ap.add_argument("--latencies", default="0,20", help="emulator latency per request in ms, comma-separated")
    ap.add_argument("--work", required=True, help="a directory for stores, logs and recordings")
    ap.add_argument("--markdown", help="also write the tables to this file")
    args = ap.parse_args()
    rh = args.runner_host
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    key = keypair(work)
    cache = work / "cache"
    for component in filter(None, (args.rust_component, args.python_component, args.js_component)):
        subprocess.run([rh, "compile", component, "--cache-dir", str(cache)], check=True, capture_output=True)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("ENCORD_")}

    variants = {
        "encord-agents 0.2.10 (Python)": lambda url, project, run: (
            [sys.executable, str(HERE / "encord_agents" / "agent.py")],
            {**base_env, "ENCORD_DOMAIN": url, "ENCORD_SSH_KEY_FILE": str(key), "PROJECT_HASH": project},
        ),
        "runner-host, Rust agent": lambda url, project, run: runner_host_cmd(
            rh, args.rust_component, url, project, key, cache, run, base_env
        ),
        # A Python agent's default: its instance kept for 100 tasks.
        "runner-host, Python agent": lambda url, project, run: runner_host_cmd(
            rh, args.python_component, url, project, key, cache, run, base_env
        ),
        "runner-host, Rust agent, --reuse-instance 100": lambda url, project, run: runner_host_cmd(
            rh, args.rust_component, url, project, key, cache, run, base_env, ["--reuse-instance", "100"]
        ),
        "runner-host, Python agent, --reuse-instance 1 (fresh)": lambda url, project, run: runner_host_cmd(
            rh, args.python_component, url, project, key, cache, run, base_env, ["--reuse-instance", "1"]
        ),
    }
    if args.js_component:
        variants["runner-host, JavaScript agent"] = lambda url, project, run: runner_host_cmd(
            rh, args.js_component, url, project, key, cache, run, base_env
        )
        variants["runner-host, JavaScript agent, --reuse-instance 100"] = lambda url, project, run: runner_host_cmd(
            rh, args.js_component, url, project, key, cache, run, base_env, ["--reuse-instance", "100"]
        )
    reference = "encord-agents 0.2.10 (Python)"
    rows, ceilings = [], []
    for n in [int(s) for s in args.sizes.split(",")]:
        base = work / f"store-{n}"
        made = subprocess.run(
            [rh, "local", "demo", "--store", str(base), "--images", str(n), "--images-only"],
            check=True,
            capture_output=True,
            text=True,
        )
        project = made.stdout.strip().splitlines()[-1]
        subprocess.run(
            [rh, "local", "add-key", "--store", str(base), "--public-key", str(key) + ".pub"],
            check=True,
            capture_output=True,
        )
        for latency in [int(s) for s in args.latencies.split(",")]:
            states = {}
            recordings = {}
            for name, command in variants.items():
                run = work / f"{n}-{latency}ms-{slug(name)}"
                store = run.with_suffix(".store")
                shutil.copytree(base, store)
                recordings[name] = run.with_suffix(".requests.jsonl")
                emulator = Emulator(
                    rh, store, latency, ["--record", str(recordings[name])], run.with_suffix(".emulator.log")
                )
                cmd, env = command(emulator.url, project, run)
                print(f"== {n} tasks, {latency} ms: {name}", file=sys.stderr, flush=True)
                cpu_before = emulator.cpu()
                m = measured(cmd, env, run.with_suffix(".log"))
                m["emulator_cpu"] = emulator.cpu() - cpu_before
                emulator.stop()
                m["requests"] = sum(1 for _ in open(recordings[name]))
                m["pages"] = task_pages(recordings[name])
                states[name] = meaning(rh, store, project)
                moved = sum(1 for s in states[name].values() if s[0] == "triage")
                if moved != n:
                    fail(f"{name} moved {moved} of {n} tasks to triage (see {run.with_suffix('.log')})")
                rows.append({"n": n, "latency": latency, "runner": name, **m})
            for name, state in states.items():
                if state != states[reference]:
                    differ = [t for t in state if state[t] != states[reference].get(t)]
                    fail(
                        f"{name} ended differently from encord-agents on {len(differ)} tasks, e.g. "
                        f"{differ[0]}: {state[differ[0]]} vs {states[reference].get(differ[0])}"
                    )
            print(f"== {n} tasks, {latency} ms: end states equal", file=sys.stderr, flush=True)
            if not any(c["n"] == n for c in ceilings):
                # The server's capacity for this call mix: latency is a wait,
                # not work, so it is measured without added latency.
                c = ceiling(rh, base, work / f"{n}-ceiling", 0, recordings["runner-host, Rust agent"], n)
                ceilings.append({"n": n, **c})
                shutil.rmtree(work / f"{n}-ceiling", ignore_errors=True)

    command = " ".join(["bench/compare.sh", "--sizes", args.sizes, "--latencies", args.latencies])
    text = f"`{command}`, {datetime.date.today()}, {machine()}:\n\n" + tables(rows, ceilings, reference)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)


def task_pages(recording: Path) -> int:
    """The task-listing requests of a recorded run: a chain, each page
    needing the previous page's token, so at L ms a round trip no runner
    lists faster than pages × L."""
    pages = 0
    with open(recording) as f:
        for line in f:
            r = json.loads(line)
            target = r.get("target", "").split("?")[0]
            if r.get("method") == "GET" and "/workflow/stages/" in target and target.endswith("/tasks"):
                pages += 1
    return pages


def runner_host_cmd(rh, component, url, project, key, cache, run: Path, env, extra=()):
    return (
        [rh, "--component", component, "--project-hash", project, "--domain", url, "--ssh-key-file", str(key),
         "--cache-dir", str(cache), "--state", str(run.with_suffix(".state.sqlite")), *extra],
        env,
    )


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def tables(rows: list, ceilings: list, reference: str) -> str:
    out = [
        "| tasks | latency | runner | tasks/s | wall s | CPU s | CPU µs/task | encord-agents' CPU ÷ this"
        " | peak RSS MiB | requests/task | emulator CPU s | × encord-agents | % of ceiling |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        base = next(b for b in rows if b["n"] == r["n"] and b["latency"] == r["latency"] and b["runner"] == reference)
        c = next(c for c in ceilings if c["n"] == r["n"])
        rate = r["n"] / r["wall"]
        ratio = "—" if r["runner"] == reference else f"{rate / (base['n'] / base['wall']):.1f}×"
        per_task = 1e6 * r["cpu"] / r["n"]
        cpu_ratio = "—" if r["runner"] == reference else f"{base['cpu'] / r['cpu']:.1f}×"
        out.append(
            f"| {r['n']:,} | {r['latency']} ms | {r['runner']} | {rate:,.0f} | {r['wall']:.2f} | {r['cpu']:.2f}"
            f" | {per_task:,.0f} | {cpu_ratio} | {r['rss_mib']:.0f} | {r['requests'] / r['n']:.3f} | {r['emulator_cpu']:.2f} | {ratio}"
            f" | {100 * rate / c['tasks_s']:.0f} % |"
        )
    out += [
        "",
        "Emulator ceiling (\"% of ceiling\" above): runner-host's recorded requests (Rust agent) replayed one after"
        " another on a fresh copy of the store, with no added latency, counting only each request's round trip —"
        " the fastest this server serves that work:",
        "",
        "| tasks | requests | serving time s | requests/s | tasks/s | emulator CPU s |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for c in ceilings:
        out.append(
            f"| {c['n']:,} | {c['requests']} | {c['seconds']:.2f} | {c['requests_s']:,.0f}"
            f" | {c['tasks_s']:,.0f} | {c['emulator_cpu']:.2f} |"
        )
    bounded = [r for r in rows if r["latency"] > 0]
    if bounded:
        out += [
            "",
            "The API's own bound with latency: a stage's task pages are a chain (each needs the previous page's"
            " token), so no runner finishes before pages × latency; the share is that bound's time over the run's"
            " wall time:",
            "",
            "| tasks | latency | runner | task pages | bound s | bound tasks/s | share of the bound |",
            "|---:|---:|---|---:|---:|---:|---:|",
        ]
        for r in bounded:
            bound = r["pages"] * r["latency"] / 1000
            rate = f"{r['n'] / bound:,.0f}" if bound else "—"
            share = f"{100 * bound / r['wall']:.1f} %" if bound else "—"
            out.append(
                f"| {r['n']:,} | {r['latency']} ms | {r['runner']} | {r['pages']} | {bound:.2f} | {rate} | {share} |"
            )
    return "\n".join(out) + "\n"


def machine() -> str:
    model = next(
        (l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")),
        platform.processor(),
    )
    return f"{os.cpu_count()} cores ({model}), Linux {platform.release()}"


if __name__ == "__main__":
    main()
