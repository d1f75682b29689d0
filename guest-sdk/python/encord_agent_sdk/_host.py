"""The component's glue: runner-host's WIT imports and the `handler` and
`lifecycle` exports.

Imported only inside the component (the build's app module re-exports
`Handler`); everything else in the SDK runs natively too.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import data, labels, project, tasks, twins, types
from wit_world.imports import log as host_log

from . import _build
from . import runner as r

r.PROJECT_SOURCE = lambda: (project.info(), project.ontology())

_LEVELS = {
    "trace": host_log.Level.TRACE,
    "debug": host_log.Level.DEBUG,
    "info": host_log.Level.INFO,
    "warn": host_log.Level.WARN,
    "error": host_log.Level.ERROR,
}
_NEEDS = {
    "label-row": types.Need.LABEL_ROW,
    "label-row-metadata": types.Need.LABEL_ROW_METADATA,
    "storage-item": types.Need.STORAGE_ITEM,
    "asset": types.Need.ASSET,
    "frames": types.Need.FRAMES,
}


class HostError(Exception):
    """An error the host returned (e.g. a need the stage did not declare)."""


def _call(fn, *args):
    try:
        return fn(*args)
    except Err as e:
        raise HostError(str(e.value)) from None


def _frames(resource):
    with resource:
        while True:
            f = _call(resource.next)
            if f is None:
                return
            yield f


class _Source:
    """What a task's dependencies are read from: the host's imports."""

    def label_row(self) -> str:
        return _call(labels.label_row)

    def ontology(self) -> str:
        return project.ontology()

    def project_info(self):
        return project.info()

    def current_stage(self):
        return project.current_stage()

    def item(self):
        return _call(data.item)

    def set_client_metadata(self, text: str) -> None:
        _call(data.set_client_metadata, text)

    def asset_bytes(self, frame):
        return _call(data.asset_bytes, frame)

    def asset_path(self) -> str:
        return _call(data.asset_path)

    def first_frame(self):
        return _call(data.first_frame)

    def all_frames(self):
        return _frames(_call(data.all_frames))

    def sample_rate(self, rate: float):
        return _frames(_call(data.sample_rate, rate))

    def sample_frames(self, indices):
        return _frames(_call(data.sample_frames, indices))

    def twin(self, project_hash: str):
        return _call(twins.find, project_hash)

    def twin_ontology(self, project_hash: str) -> str:
        return _call(twins.ontology, project_hash)

    def save_twin(self, project_hash: str, text: str) -> None:
        _call(twins.save, project_hash, text)

    def task_details(self, task_uuid: str):
        return _call(tasks.details, task_uuid)

    def twin_stage(self, project_hash: str):
        return _call(twins.stage, project_hash)

    def twin_proceed(self, project_hash: str, pathway: str) -> None:
        _call(twins.proceed, project_hash, pathway)


class _HostLogHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        level = (
            "error" if record.levelno >= logging.ERROR
            else "warn" if record.levelno >= logging.WARNING
            else "info" if record.levelno >= logging.INFO
            else "debug"
        )
        host_log.log(_LEVELS[level], self.format(record))


class _Lines:
    """`print` inside a handler goes to the host's log, a line at a time."""

    def __init__(self, level: str):
        self.level, self.buf = level, ""

    def write(self, s: str) -> int:
        self.buf += s
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            host_log.log(_LEVELS[self.level], line)
        return len(s)

    def flush(self) -> None:
        if self.buf:
            host_log.log(_LEVELS[self.level], self.buf)
            self.buf = ""


def _message(e: BaseException) -> str:
    """The error and where in the agent it was raised (file name only: no
    host paths)."""
    if isinstance(e, HostError):
        text = str(e)
    else:
        text = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    tb = traceback.extract_tb(e.__traceback__)
    if isinstance(e, KeyError) and tb and tb[-1].filename in ("<frozen os>", os.__file__):
        text = f"environment variable {e} is not set inside the sandbox: grant it with `--env {e.args[0]}`"
    own = os.path.dirname(__file__)
    frames = [f for f in tb if os.path.dirname(f.filename) != own] or tb
    if frames:
        f = frames[-1]
        text += f" (at {os.path.basename(f.filename)}:{f.lineno} in {f.name})"
    return text


def _with_host_output(fn):
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Lines("info"), _Lines("warn")
    handler = _HostLogHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    try:
        return fn()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = out, err
        root.removeHandler(handler)


def _agent() -> r.Runner:
    """The agent's runner, its module imported (see `_build`)."""
    try:
        _with_host_output(_build.ensure_imported)
    except Exception as e:
        raise Err(f"importing the agent module failed: {_message(e)}")
    return r.current_runner()


class Lifecycle(exports.Lifecycle):
    def init(self) -> None:
        for hook in _agent().init_hooks:
            try:
                _with_host_output(hook)
            except Exception as e:
                raise Err(_message(e))


class Handler(exports.Handler):
    def stages(self) -> list:
        specs = []
        try:
            runner = _agent()
        except Err as e:
            # `stages` returns no result: the message goes to the log and
            # with the trap.
            host_log.log(host_log.Level.ERROR, str(e.value))
            sys.stderr.write(f"{e.value}\n")
            raise
        for s in runner.stages:
            m = r.manifest_of(s)
            o = m["label_row_options"]
            specs.append(
                types.StageSpec(
                    stage=m["stage"],
                    handler=m["handler"],
                    needs=[_NEEDS[n] for n in m["needs"]],
                    label_row_options=types.LabelRowOptions(**o),
                    pathways=m["pathways"],
                    twins=[types.TwinSpec(project_hash=h, include_task=t) for h, t in m["twins"].items()],
                )
            )
        return specs

    def start(self) -> None:
        runner = _agent()
        if runner.pre_execution_callback is None:
            return
        try:
            _with_host_output(lambda: runner.pre_execution_callback(runner))
        except Exception as e:
            raise Err(_message(e))

    def run(self, stage: str, task: types.Task) -> types.Outcome:
        _agent()
        source = _Source()
        agent_task = r.AgentTask(
            task.uuid, task.data_hash, task.data_title, task.label_branch_name, task.status,
            details=lambda: source.task_details(task.uuid),
        )
        try:
            d = _with_host_output(lambda: r.handle(source, stage, agent_task))
        except Exception as e:
            raise Err(_message(e))
        route = types.Route_Stay() if d.pathway is None else types.Route_Pathway(d.pathway)
        return types.Outcome(route=route, label_row=d.label_row, priority=d.priority)
