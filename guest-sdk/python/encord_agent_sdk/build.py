"""`encord-agent-build agent.py -o agent.wasm`: an agent file into a component.

Runs componentize-py (which must be installed: `pip install
componentize-py==0.25.1`) against the WIT world shipped with this SDK. The
agent module is imported once at build time (componentize-py pre-initialises
it), so a stage registered wrongly fails the build, not the run; a module
that reads the environment or `runner.project` at its top level is imported
when each instance starts instead (see `_build`).

A module-level `runner(...)` / `runner.run(...)` (encord-agents' way to start
the Runner) is read from the file: its keyword arguments become the
component's defaults for runner-host's options of the same names, stored in
the component's `encord-agent:runner-defaults` custom section.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SDK_DIR = Path(__file__).resolve().parent
WIT_DIR = SDK_DIR / "wit"
APP = "encord_agent_app"


def componentize_py() -> str:
    beside = Path(sys.executable).parent / "componentize-py"
    if beside.exists():
        return str(beside)
    found = shutil.which("componentize-py")
    if found:
        return found
    sys.exit("error: componentize-py is not installed: run `pip install componentize-py==0.25.1`")


# encord-agents' `Runner.__call__` keyword arguments runner-host takes as
# defaults (the same names as its options).
RUNNER_DEFAULTS = ("refresh_every", "num_retries", "task_batch_size", "max_tasks_per_stage")
# Accepted and meaningless here: the project is runner-host's --project-hash.
RUNNER_IGNORED = ("project_hash",)
DEFAULTS_SECTION = "encord-agent:runner-defaults"
# A Python agent's instance is kept for this many tasks unless the command
# line says otherwise (--reuse-instance 1: a fresh one per task). encord-agents
# runs every task in one Python process; a kept instance gives up nothing its
# users had, and a fresh CPython per task costs 4x the CPU (docs/benchmarks.md).
PYTHON_REUSE_INSTANCE = 100


class BuildError(Exception):
    """A build that cannot go on: one line saying what and how to fix it."""


def runner_defaults(agent: Path) -> dict:
    """The keyword arguments of the agent file's module-level `runner(...)`
    or `runner.run(...)` calls, where `runner` was made by `Runner(...)`."""
    tree = ast.parse(agent.read_text(), filename=str(agent))
    runners = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            f = node.value.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name == "Runner":
                runners |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    defaults: dict = {}

    def calls(nodes):
        for node in nodes:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                yield node.value
            elif isinstance(node, ast.If):  # `if __name__ == "__main__":`
                yield from calls(node.body)

    for call in calls(tree.body):
        f = call.func
        target = f.id if isinstance(f, ast.Name) else f.value.id if isinstance(f, ast.Attribute) and f.attr == "run" and isinstance(f.value, ast.Name) else None
        if target not in runners:
            continue
        where = f"{agent.name}:{call.lineno}"
        if call.args:
            raise BuildError(f"{where}: give the runner's options by name (e.g. `runner(refresh_every=60)`), as runner-host reads them")
        for kw in call.keywords:
            if kw.arg in RUNNER_IGNORED:
                continue
            if kw.arg not in RUNNER_DEFAULTS:
                raise BuildError(
                    f"{where}: `{kw.arg}` is not a runner option runner-host knows "
                    f"(it takes {', '.join(RUNNER_DEFAULTS)}): remove it"
                )
            try:
                value = ast.literal_eval(kw.value)
            except ValueError:
                raise BuildError(
                    f"{where}: `{kw.arg}` must be a literal number or None for runner-host to read it at build time; "
                    f"or drop it and pass --{kw.arg.replace('_', '-')} to runner-host"
                ) from None
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise BuildError(f"{where}: `{kw.arg}={value!r}` must be a whole number of at least 0, or None")
            defaults[kw.arg] = value
    return defaults


def _leb128(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def add_custom_section(wasm: Path, name: str, payload: bytes) -> None:
    """Appends a custom section (id 0) to a component: allowed anywhere
    after the header, ignored by anything that does not read it."""
    body = _leb128(len(name.encode())) + name.encode() + payload
    with wasm.open("ab") as f:
        f.write(b"\x00" + _leb128(len(body)) + body)


# What a failed build's exception most likely means, and the fix.
ADVICE = [
    (r"cannot import name '(dep_client|EncordUserClient)'", "there is no Encord client inside the sandbox: declare what the handler reads as dependencies (dep_storage_item, dep_asset, dep_single_frame, dep_twin_label_row, ...); the project is `runner.project`"),
    (r"cannot import name '(dep_data_lookup|DataLookup)'", "use `dep_storage_item` (encord-agents deprecated `{0}` for it too)"),
    (r"cannot import name '(dep_object_crops|dep_objects)'", "`{0}` belongs to encord-agents' editor agents, not task agents; read the label row's objects with `lr.get_object_instances()` and the frame with `dep_single_frame`"),
    (r"cannot import name '(\w+)' from 'encord_agent_sdk'", "`{0}` is not in encord_agent_sdk: docs/languages.md (\"Porting from encord-agents\") lists what is and what replaces the rest"),
    (r"No module named '(encord_agents)(\.|')", "runner-host agents import `encord_agent_sdk` instead of `encord_agents`: e.g. `from encord_agent_sdk import Runner, AgentTask, LabelRowV2` (docs/languages.md, \"Porting from encord-agents\")"),
    (r"No module named '(encord)(\.|')", "there is no Encord client inside the sandbox: import the label and task types from `encord_agent_sdk`, and get data through the handler's dependencies"),
    (r"No module named '([\w.]+)'", "`{0}` is not in the component: add a directory of pure-Python packages with `-p DIR` (packages with native code do not run in wasm)"),
    (r"get_user_client|EncordUserClient", "there is no Encord client inside the sandbox: runner-host loads what a stage declares (dependencies); the project is `runner.project`"),
]


def explain(output: str, agent: Path) -> str:
    """The Python traceback of a failed build (not componentize-py's own
    trace or its Rust backtrace), the frames of the build's wrapper left
    out, and one line of advice."""
    text = output
    inner = text.rfind("AssertionError: Traceback")
    if inner >= 0:
        text = text[inner + len("AssertionError: "):]
    text = text.split("\n\nCaused by:")[0].split("\nStack backtrace:")[0].rstrip()
    kept: list[str] = []
    dropping = False
    for line in text.splitlines():
        if line.startswith("  File "):
            dropping = bool(re.search(r"encord_agent_app\.py|encord_agent_sdk/_build\.py|<frozen importlib|/python/importlib/", line))
        elif not line.startswith("    "):
            dropping = False
        if dropping or (line.strip() and set(line.strip()) <= set("~^")):
            continue
        # componentize-py mounts the agent's directory at /1, the SDK's at /2.
        line = line.replace('File "/1/', f'File "{agent.resolve().parent}/')
        kept.append(line.replace('File "/2/', f'File "{SDK_DIR.parent}/'))
    last = next((l for l in reversed(kept) if l.strip()), "")
    for pattern, advice in ADVICE:
        m = re.search(pattern, last)
        if m:
            kept.append(f"hint: {advice.format(*m.groups())}")
            break
    return "\n".join(kept) + "\n"


def build(agent: Path, out: Path, paths: list[Path], quiet: bool = False) -> None:
    if not agent.is_file():
        sys.exit(f"error: agent file {agent} does not exist")
    module = agent.stem
    if agent.suffix != ".py" or not module.isidentifier() or module == APP:
        sys.exit(f"error: {agent.name} must be a .py file whose name is a Python module name (e.g. agent.py)")
    tool = componentize_py()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="encord-agent-build-") as tmp:
        try:
            defaults = runner_defaults(agent)
        except SyntaxError as e:
            sys.exit(f"error: {agent.name}:{e.lineno}: {e.msg}")
        except BuildError as e:
            sys.exit(f"error: {e}")
        (Path(tmp) / f"{APP}.py").write_text(
            "import os\n"
            "from encord_agent_sdk import _build\n"
            f"_build.import_agent({module!r}, os.path.join(os.path.dirname(__file__), 'notes.txt'))  # registers the runner's stages\n"
            "from encord_agent_sdk._host import Handler, Lifecycle  # noqa: F401,E402  the exports runner-host calls\n"
        )
        cmd = [tool, "-d", str(WIT_DIR), "-w", "agent-with-init", "componentize", APP, "-p", tmp, "-p", str(agent.parent.resolve())]
        cmd += ["-p", str(SDK_DIR.parent)]
        for p in paths:
            cmd += ["-p", str(p.resolve())]
        cmd += ["-o", str(out)]
        started = time.monotonic()
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            sys.stderr.write(explain(done.stdout + done.stderr, agent))
            sys.exit(f"error: building {agent.name} into a component failed: its import raised the error above")
        notes = Path(tmp) / "notes.txt"
        if notes.exists() and not quiet:
            sys.stderr.write(notes.read_text())
        stated = {**defaults, "reuse_instance": PYTHON_REUSE_INSTANCE}
        add_custom_section(out, DEFAULTS_SECTION, json.dumps(stated).encode())
        if defaults:
            if not quiet:
                given = " ".join(f"--{k.replace('_', '-')} {'none' if v is None else v}" for k, v in defaults.items())
                print(f"encord-agent-build: the runner(...) call sets runner-host's defaults: {given} (the command line wins)", file=sys.stderr)
    if not quiet:
        size = out.stat().st_size / 1e6
        print(f"built {out} ({size:.1f} MB) in {time.monotonic() - started:.1f} s", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="encord-agent-build", description="Build a Python agent file into a runner-host component.")
    ap.add_argument("agent", type=Path, help="the agent file (e.g. agent.py)")
    ap.add_argument("-o", "--output", type=Path, help="the component to write (default: AGENT.wasm beside the file)")
    ap.add_argument("-p", "--path", type=Path, action="append", default=[], help="another directory of pure-Python modules to include")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    build(args.agent, args.output or args.agent.with_suffix(".wasm"), args.path, args.quiet)


if __name__ == "__main__":
    main()
