"""`encord-agent-build agent.py -o agent.wasm`: an agent file into a component.

Runs componentize-py (which must be installed: `pip install
componentize-py==0.25.1`) against the WIT world shipped with this SDK. The
agent module is imported once at build time (componentize-py pre-initialises
it), so a stage registered wrongly fails the build, not the run.
"""

from __future__ import annotations

import argparse
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


def build(agent: Path, out: Path, paths: list[Path], quiet: bool = False) -> None:
    if not agent.is_file():
        sys.exit(f"error: agent file {agent} does not exist")
    module = agent.stem
    if agent.suffix != ".py" or not module.isidentifier() or module == APP:
        sys.exit(f"error: {agent.name} must be a .py file whose name is a Python module name (e.g. agent.py)")
    tool = componentize_py()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="encord-agent-build-") as tmp:
        (Path(tmp) / f"{APP}.py").write_text(
            f"import {module}  # noqa: F401  registers the runner's stages\n"
            "from encord_agent_sdk._host import Handler, Lifecycle  # noqa: F401  the exports runner-host calls\n"
        )
        cmd = [tool, "-d", str(WIT_DIR), "-w", "agent-with-init", "componentize", APP, "-p", tmp, "-p", str(agent.parent.resolve())]
        cmd += ["-p", str(SDK_DIR.parent)]
        for p in paths:
            cmd += ["-p", str(p.resolve())]
        cmd += ["-o", str(out)]
        started = time.monotonic()
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            sys.stderr.write(done.stdout + done.stderr)
            sys.exit(f"error: building {agent.name} into a component failed (componentize-py's output is above)")
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
