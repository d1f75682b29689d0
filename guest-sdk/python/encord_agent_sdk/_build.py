"""How the agent module is imported inside the component.

The build imports the agent module once and componentize-py keeps the
result, so its top level does not run again when an instance starts. What
only exists when runner-host runs the agent — the environment granted with
`--env`, `runner.project` — raises `RunTimeOnly` while the build imports it;
the module is then left out of the build and imported when each instance
starts (before `stages`, `start`, `init` or a task), with the granted
environment and the run's project. Its top level then costs that time once
per instance: once per task, or once per N tasks with `--reuse-instance N`.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.util
import os
import sys
import traceback
from collections.abc import MutableMapping
from typing import Optional

from . import runner as r

# The agent module, when its import waits for the instance.
_DEFERRED: Optional[str] = None
_IMPORTED = False


class _BuildTimeEnviron(MutableMapping):
    """`os.environ` while the build imports the agent: reading it raises
    `RunTimeOnly` (the build's environment is not the run's); afterwards it
    is the process's own environment."""

    def __init__(self, saved):
        self._saved = saved

    def _env(self, reading: bool = True):
        if reading and r.BUILDING:
            raise r.RunTimeOnly("the environment (`os.environ`) is known only when runner-host runs the agent, granted with --env")
        return os.environ if os.environ is not self else self._saved

    def __getitem__(self, key):
        return self._env()[key]

    def __setitem__(self, key, value):
        self._env(reading=False)[key] = value

    def __delitem__(self, key):
        del self._env(reading=False)[key]

    def __iter__(self):
        return iter(self._env())

    def __len__(self):
        return len(self._env())

    def copy(self):
        return dict(self._env())


class _KeptSources(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """The agent's own modules, compiled at build time: the component has no
    files to import them from when a deferred import runs."""

    def __init__(self):
        self.code: dict = {}

    def keep(self, name: str, path: str) -> None:
        with open(path, encoding="utf-8") as f:
            self.code[name] = (path, compile(f.read(), path, "exec"))

    def find_spec(self, name, path=None, target=None):
        if name not in self.code:
            return None
        return importlib.util.spec_from_loader(name, self, origin=self.code[name][0])

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        origin, code = self.code[module.__name__]
        module.__file__ = origin
        exec(code, module.__dict__)


_KEPT = _KeptSources()


def _keep_sources(module: str) -> None:
    """Compiles the agent module and the modules beside it, and imports what
    the agent imports at its top level (those that import), so that all of
    it is in the component when the instance imports the agent."""
    spec = importlib.util.find_spec(module)
    directory = os.path.dirname(spec.origin)
    for entry in sorted(os.listdir(directory)):
        name, ext = os.path.splitext(entry)
        if ext == ".py" and name.isidentifier() and name not in sys.modules:
            _KEPT.keep(name, os.path.join(directory, entry))
    sys.meta_path.insert(0, _KEPT)
    with open(spec.origin, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        for name in names:
            if name not in sys.modules and name not in _KEPT.code:
                try:
                    importlib.import_module(name)
                except BaseException:
                    pass  # imported (or failing) when the instance imports the agent


def _where(e: BaseException, module: str) -> str:
    frames = [f for f in traceback.extract_tb(e.__traceback__) if os.path.basename(f.filename) == f"{module}.py"]
    return f"{module}.py:{frames[-1].lineno}" if frames else f"{module}.py"


def import_agent(module: str, notes: Optional[str] = None) -> None:
    """The build's import of the agent module; what the build should tell
    its user goes to the file `notes` (the build's output is not shown)."""
    global _DEFERRED, _IMPORTED
    saved = os.environ
    os.environ = _BuildTimeEnviron(saved)
    r.BUILDING = True
    try:
        importlib.import_module(module)
        _IMPORTED = True
    except r.RunTimeOnly as e:
        _DEFERRED = module
        r._RUNNERS.clear()
        sys.modules.pop(module, None)
        _keep_sources(module)
        note = (
            f"encord-agent-build: note: {_where(e, module)} reads {str(e).split(' is known')[0]} at module level, "
            "so the module's top level runs when each instance starts (docs/languages.md, \"Module-level code\")\n"
        )
        if notes:
            try:
                with open(notes, "a", encoding="utf-8") as f:
                    f.write(note)
            except OSError:
                pass
    finally:
        r.BUILDING = False
        os.environ = saved


def ensure_imported() -> None:
    """Imports a deferred agent module, once per instance."""
    global _IMPORTED
    if _IMPORTED or _DEFERRED is None:
        return
    importlib.import_module(_DEFERRED)
    _IMPORTED = True
