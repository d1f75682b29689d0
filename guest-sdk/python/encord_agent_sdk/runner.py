"""`Runner`, `@runner.stage`, `Depends` and the values handlers return.

The shapes are encord-agents' (`encord_agents.tasks`): an agent file written
for encord-agents runs here after changing its imports and the line that makes
the runner. What differs on purpose:

- the runner does not talk to Encord: runner-host loads what each stage
  needs in bulk and calls the handler once per task, in a fresh sandbox;
- a priority of 0.0 is set (encord-agents silently ignored it);
- a label row is saved when the handler returns it in a
  `TaskAgentReturnStruct` or called `lr.save()`, and only if it succeeds.
"""

from __future__ import annotations

import inspect
import json
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

from .labels import LabelRowV2, OntologyStructure

# --------------------------------------------------------------------------
# Values handed to handlers


def _when(text: Optional[str]):
    """A task time as encord's DTOs parse it (a `datetime`)."""
    if not text:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return text


class WorkflowTask:
    """A workflow task (`encord.workflow.common.WorkflowTask`): the task
    listing's fields, with `assignee`, `last_actioned_by`, `created_at` and
    `updated_at` read from the host the first time they are used."""

    def __init__(
        self,
        uuid: str,
        data_hash: str,
        data_title: str,
        label_branch_name: str,
        status: str,
        stage_uuid: Optional[str] = None,
        *,
        details: Optional[Callable[[], Any]] = None,
    ):
        self.uuid = uuid
        self.data_hash = data_hash
        self.data_title = data_title
        self.label_branch_name = label_branch_name
        self.status = status
        self.stage_uuid = stage_uuid
        self._details_of = details
        self._details = None

    def _detail(self, name: str):
        if self._details is None:
            if self._details_of is None:
                return None
            self._details = self._details_of()
        return getattr(self._details, name)

    @property
    def assignee(self) -> Optional[str]:
        """The user (email) the task is assigned to."""
        return self._detail("assignee")

    @property
    def last_actioned_by(self) -> Optional[str]:
        """The user (email) who last acted on the task."""
        return self._detail("last_actioned_by")

    @property
    def created_at(self):
        return _when(self._detail("created_at"))

    @property
    def updated_at(self):
        return _when(self._detail("updated_at"))

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and (self.uuid, self.status, self.stage_uuid) == (other.uuid, other.status, other.stage_uuid)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(uuid={self.uuid!r}, data_title={self.data_title!r}, status={self.status!r})"

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError(
            f"`{type(self).__name__}.{name}` is an Encord SDK call that runner-host does not offer inside the sandbox: "
            "a handler reads what its stage declared and returns its decision (see docs/languages.md, "
            "\"Porting from encord-agents\")"
        )


class AgentTask(WorkflowTask):
    """A task in an agent stage (`encord.workflow.stages.agent.AgentTask`).

    `proceed(pathway_name=..., pathway_uuid=...)` on the task being handled
    routes it as returning that pathway would (one decision per task); on a
    twin's task it moves the twin's task after the batch's label saves."""

    def __init__(self, *args, proceed: Optional[Callable[[str], None]] = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._proceed = proceed

    def proceed(self, pathway_name: Optional[str] = None, pathway_uuid: Optional[str] = None, bundle: Any = None) -> None:
        if (pathway_name is None) == (pathway_uuid is None):
            raise ValueError("give exactly one of `pathway_name` and `pathway_uuid`")
        pathway = str(pathway_uuid if pathway_uuid is not None else pathway_name)
        if self._proceed is None:
            raise PrintableError(f"task `{self.uuid}` cannot be moved from here: it is not the task being handled nor a twin's task")
        self._proceed(pathway)


class AnnotationTask(WorkflowTask):
    """A task in an annotation stage (a twin's task)."""


class ReviewTask(WorkflowTask):
    """A task in a review stage (a twin's task)."""


class FinalStageTask(WorkflowTask):
    """A task in a final (complete or archive) stage (a twin's task)."""


_TASK_TYPES = {"AGENT": AgentTask, "ANNOTATION": AnnotationTask, "REVIEW": ReviewTask, "DONE": FinalStageTask, "ARCHIVE": FinalStageTask}


def task_of_stage(stage_type: Optional[str]) -> type:
    """The task class encord's SDK gives a task in a stage of this type."""
    return _TASK_TYPES.get(stage_type or "", WorkflowTask)


@dataclass
class AgentPathway:
    uuid: str
    name: str
    destination_uuid: str


@dataclass
class AgentStage:
    """The stage whose handler is running."""

    uuid: str
    title: str
    pathways: list[AgentPathway] = field(default_factory=list)


@dataclass
class Project:
    """The project the tasks belong to."""

    project_hash: str
    title: str
    description: str
    ontology_hash: str
    ontology_structure: OntologyStructure


@dataclass
class TaskAgentReturnStruct:
    """What a handler may return besides a pathway name/uuid or None."""

    pathway: Optional[str] = None
    label_row: Optional[LabelRowV2] = None
    label_row_priority: Optional[float] = None


@dataclass
class LabelRowMetadataIncludeArgs:
    include_workflow_graph_node: bool = True
    include_client_metadata: bool = False
    include_images_data: bool = False
    include_all_label_branches: bool = False
    branch_name: Optional[str] = None
    include_children: bool = False

    def __post_init__(self):
        if self.branch_name is not None and self.include_all_label_branches:
            raise ValueError("branch_name and include_all_label_branches cannot both be set")


@dataclass
class LabelRowInitialiseLabelsArgs:
    include_object_feature_hashes: Optional[set] = None
    include_classification_feature_hashes: Optional[set] = None
    include_reviews: bool = False
    overwrite: bool = False
    include_signed_url: bool = False


class RunTimeOnly(BaseException):
    """Raised while the build imports the agent module, by what only exists
    when runner-host runs it (the environment, `runner.project`). The build
    then leaves the module's top level to run when each instance starts.
    A BaseException, so that an agent's `except Exception` cannot bake a
    build-time stand-in into the component."""


# True while the build imports the agent module (set by `_build`).
BUILDING = False

# Where `runner.project` reads the project from inside a component (set by
# `_host`): a function returning (project info, ontology JSON).
PROJECT_SOURCE: Optional[Callable[[], Any]] = None


class PrintableError(Exception):
    """An error in how the agent is written, reported when it is built."""


# --------------------------------------------------------------------------
# Dependencies


class Depends:
    """Marks a parameter as built by `dependency` (FastAPI/encord-agents
    style): `Annotated[T, Depends(fn)]` or a default `= Depends(fn)`."""

    def __init__(self, dependency: Optional[Callable] = None):
        self.dependency = dependency

    def __repr__(self) -> str:
        return f"Depends({getattr(self.dependency, '__name__', self.dependency)!r})"


NEEDS = ("label-row", "label-row-metadata", "storage-item", "asset", "frames")


@dataclass
class _Param:
    name: str
    kind: str  # "task", "label_row", "storage_item", "project", "stage", "dep"
    dep: Optional["_Dependant"] = None


@dataclass
class _Dependant:
    call: Callable
    params: list[_Param]
    needs: set[str]
    twins: dict[str, bool]


def _builtin_kinds() -> dict:
    from .data import StorageItem

    return {
        AgentTask: "task",
        LabelRowV2: "label_row",
        StorageItem: "storage_item",
        Project: "project",
        AgentStage: "stage",
    }


def _dependant(call: Callable, where: str) -> _Dependant:
    """The dependency tree of `call`, built once when a stage is registered."""
    kinds = _builtin_kinds()
    target = call
    if not (inspect.isfunction(target) or inspect.ismethod(target)) and callable(target):
        target = type(target).__call__ if not inspect.isclass(target) else target.__init__
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except Exception as e:  # an annotation that does not resolve
        raise PrintableError(f"{where}: cannot read the type annotations of `{_name(call)}`: {e}") from e
    own_needs = set(getattr(call, "__encord_needs__", ()))
    twins = dict(getattr(call, "__encord_twins__", {}))
    params: list[_Param] = []
    needs = set(own_needs)
    for p in inspect.signature(call).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise PrintableError(f"{where}: `{_name(call)}` takes *{p.name}: name each parameter")
        ann = hints.get(p.name, p.annotation)
        base, dep = ann, None
        if typing.get_origin(ann) is typing.Annotated:
            base = typing.get_args(ann)[0]
            marks = [m for m in ann.__metadata__ if isinstance(m, Depends)]
            if marks:
                dep = marks[-1]
        if isinstance(p.default, Depends):
            if dep is not None:
                raise PrintableError(
                    f"{where}: parameter `{p.name}` of `{_name(call)}` has Depends both in Annotated and as its default"
                )
            dep = p.default
        if dep is not None:
            fn = dep.dependency if dep.dependency is not None else base
            sub = _dependant(fn, where)
            needs |= sub.needs
            for h, t in sub.twins.items():
                twins[h] = twins.get(h, False) or t
            params.append(_Param(p.name, "dep", sub))
            continue
        kind = kinds.get(base)
        if kind is None:
            raise PrintableError(
                f"{where}: parameter `{p.name}` of `{_name(call)}` has type {base!r}; use AgentTask, LabelRowV2, "
                f"StorageItem, Project, AgentStage or Annotated[T, Depends(fn)]"
            )
        if kind == "label_row":
            needs.add("label-row")
        elif kind == "storage_item":
            needs.add("storage-item")
        params.append(_Param(p.name, kind))
    return _Dependant(call, params, needs, twins)


def _name(call: Callable) -> str:
    return getattr(call, "__name__", None) or type(call).__name__


# --------------------------------------------------------------------------
# The runner


@dataclass
class _Stage:
    stage: str
    handler: str
    dependant: _Dependant
    metadata_args: LabelRowMetadataIncludeArgs
    init_args: LabelRowInitialiseLabelsArgs
    will_set_priority: bool
    pathways: list[str]

    @property
    def needs(self) -> list[str]:
        n = set(self.dependant.needs)
        if self.will_set_priority and "label-row" not in n:
            n.add("label-row-metadata")
        if self.metadata_args.include_client_metadata and "label-row" in n:
            # `lr.client_metadata` is the storage item's.
            n.add("storage-item")
        return [x for x in NEEDS if x in n]


_RUNNERS: list["Runner"] = []


class Runner:
    """Collects the stages this agent serves (encord-agents' `Runner`).

    `project_hash` is accepted for compatibility and ignored: runner-host is
    told the project on its command line. `runner.project` is the run's
    project (its ontology as `ontology_structure`), also at module level:
    the module's top level then runs when each instance starts."""

    def __init__(self, project_hash: Optional[str] = None, *, pre_execution_callback: Optional[Callable] = None, **_ignored):
        self.project_hash = project_hash
        self.pre_execution_callback = pre_execution_callback
        self.init_hooks: list[Callable[[], None]] = []
        self.stages: list[_Stage] = []
        _RUNNERS.append(self)

    @property
    def project(self) -> Project:
        """The project runner-host runs this agent on (encord-agents'
        `runner.project`; `.ontology_structure` is its ontology)."""
        return run_project("`runner.project`")

    def stage(
        self,
        stage: str,
        *,
        label_row_metadata_include_args: Optional[LabelRowMetadataIncludeArgs] = None,
        label_row_initialise_labels_args: Optional[LabelRowInitialiseLabelsArgs] = None,
        overwrite: bool = False,
        will_set_priority: bool = False,
        pathways: Optional[list[str]] = None,
    ) -> Callable[[Callable], Callable]:
        """Registers a handler for an agent stage (title or uuid). `pathways`
        (optional) declares the pathways it may return, checked by the host
        against the workflow before any task runs."""
        stage = str(stage)

        def register(fn: Callable) -> Callable:
            where = f"stage `{stage}`"
            existing = [i for i, s in enumerate(self.stages) if s.stage == stage]
            if existing and not overwrite:
                raise PrintableError(
                    f"Stage name `{stage}` has already been assigned a function. "
                    "You can only assign one callable to each agent stage."
                )
            entry = _Stage(
                stage=stage,
                handler=_name(fn),
                dependant=_dependant(fn, where),
                metadata_args=label_row_metadata_include_args or LabelRowMetadataIncludeArgs(),
                init_args=label_row_initialise_labels_args or LabelRowInitialiseLabelsArgs(),
                will_set_priority=will_set_priority,
                pathways=[str(p) for p in (pathways or [])],
            )
            if existing:
                self.stages[existing[0]] = entry
            else:
                self.stages.append(entry)
            return fn

        return register

    def init(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Registers set-up run once on every new instance, before its first
        task (not in encord-agents). Module-level code already runs once, at
        build time; use this for what must happen at run time, such as
        reading a model from a directory granted with `--dir`. With
        runner-host's `--reuse-instance N` it runs once per N tasks. An
        exception fails that task with its message."""
        self.init_hooks.append(fn)
        return fn

    def run(self, *_args, **_kwargs) -> None:
        """encord-agents' `runner()` / `runner.run()`. Its keyword arguments
        (`refresh_every`, `num_retries`, `task_batch_size`,
        `max_tasks_per_stage`) are read from the file by the build and become
        the component's defaults for runner-host's options of the same names
        (the command line wins). Inside runner-host the call does nothing
        else; run as a plain script, it prints what the component declares."""
        if BUILDING or PROJECT_SOURCE is not None:
            return
        for s in self.stages:
            print(f"{s.stage}: {s.handler} needs {s.needs or ['nothing']}")

    __call__ = run

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError(
            f"`Runner.{name}` is an encord-agents Runner API that runner-host does not have: the runner's options go on "
            "runner-host's command line, the project is `runner.project` (docs/languages.md, \"Porting from encord-agents\")"
        )


_PROJECT: list[Project] = []


def run_project(what: str) -> Project:
    """The project runner-host runs the agent on, read from the host once."""
    if not _PROJECT:
        if BUILDING:
            raise RunTimeOnly(f"{what} is known only when runner-host runs the agent")
        if PROJECT_SOURCE is None:
            raise PrintableError(f"{what} is only available inside runner-host (build the agent and run it there)")
        info, ontology = PROJECT_SOURCE()
        _PROJECT.append(
            Project(info.project_hash, info.title, info.description, info.ontology_hash, OntologyStructure(json.loads(ontology)))
        )
    return _PROJECT[0]


class UserClient:
    """What encord-agents' `get_user_client()` gives, inside runner-host:
    no Encord client (the sandbox holds no key), but `get_project()` of the
    project being run, with its `ontology_structure`. Labels and data come
    through the handler's dependencies."""

    def get_project(self, project_hash: Optional[str] = None) -> Project:
        project = run_project("the project (`get_user_client().get_project(...)`)")
        if project_hash is not None and str(project_hash) != project.project_hash:
            raise PrintableError(
                f"get_project(`{project_hash}`): inside runner-host only the project being run "
                f"(`{project.project_hash}`) can be read; another project's labels come through dep_twin_label_row"
            )
        return project

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError(
            f"`get_user_client().{name}`: there is no Encord client inside runner-host's sandbox; "
            "a handler gets its data through dependencies (docs/languages.md, \"Porting from encord-agents\")"
        )


def get_user_client() -> UserClient:
    """encord-agents' `encord_agents.core.utils.get_user_client`, inside
    runner-host: see `UserClient`."""
    return UserClient()


def current_runner() -> Runner:
    if not _RUNNERS:
        raise PrintableError("the agent module made no Runner(): create one and register stages with @runner.stage")
    if len(_RUNNERS) > 1:
        raise PrintableError("the agent module made more than one Runner(): use one for every stage")
    return _RUNNERS[0]


# --------------------------------------------------------------------------
# One task


class _TaskContext:
    """What one task's dependencies are built from; each is built at most
    once per task (the diamond case shares one value)."""

    def __init__(self, source, task: AgentTask, stage: _Stage):
        self.source = source
        self.task = task
        self.stage = stage
        self.cache: dict[int, Any] = {}
        self.cleanups: list = []
        self._ontology: Optional[OntologyStructure] = None
        self._label_row: Optional[LabelRowV2] = None
        self._item = None
        self._project: Optional[Project] = None
        self._agent_stage: Optional[AgentStage] = None
        self.client_metadata: Optional[str] = None
        # A pathway chosen with `task.proceed(...)`.
        self.proceeded: Optional[str] = None

    def ontology(self) -> OntologyStructure:
        if self._ontology is None:
            self._ontology = parsed_ontology(self.source.ontology())
        return self._ontology

    def label_row(self) -> LabelRowV2:
        if self._label_row is None:
            self._label_row = LabelRowV2.from_json(self.source.label_row(), self.ontology())
            if self.stage.metadata_args.include_client_metadata:
                self._label_row._client_metadata_of = lambda: self.storage_item().client_metadata
        return self._label_row

    def storage_item(self):
        if self._item is None:
            from .data import StorageItem

            self._item = StorageItem(self.source.item(), self)
        return self._item

    def project(self) -> Project:
        if self._project is None:
            info = self.source.project_info()
            self._project = Project(info.project_hash, info.title, info.description, info.ontology_hash, self.ontology())
        return self._project

    def current_stage(self) -> Optional[AgentStage]:
        if self._agent_stage is None:
            s = self.source.current_stage()
            if s is not None:
                pathways = [AgentPathway(p.uuid, p.name, p.destination_uuid) for p in s.pathways]
                self._agent_stage = AgentStage(s.uuid, s.title, pathways)
        return self._agent_stage

    def solve(self, d: _Dependant) -> Any:
        key = id(d.call)
        if key in self.cache:
            return self.cache[key]
        kwargs = {}
        for p in d.params:
            if p.kind == "dep":
                kwargs[p.name] = self.solve(p.dep)
            elif p.kind == "task":
                kwargs[p.name] = self.task
            elif p.kind == "label_row":
                kwargs[p.name] = self.label_row()
            elif p.kind == "storage_item":
                kwargs[p.name] = self.storage_item()
            elif p.kind == "project":
                kwargs[p.name] = self.project()
            elif p.kind == "stage":
                kwargs[p.name] = self.current_stage()
        value = d.call(**kwargs)
        if inspect.isgenerator(value):
            gen = value
            value = next(gen)
            self.cleanups.append(gen)
        self.cache[key] = value
        return value

    def close(self) -> None:
        for gen in reversed(self.cleanups):
            gen.close()
        self.cleanups.clear()


_CURRENT: list[_TaskContext] = []

# Ontologies parsed, by their JSON text: a kept instance (the default for
# Python agents) serves one project's tasks, and parsing its ontology again
# for each cost the bench agent a third of its CPU per task. Looked up by the
# whole text, so a different ontology (a twin's) is never served for another.
# OntologyStructure is not changed by the SDK or by the encord API it mirrors.
_ONTOLOGIES: dict[str, OntologyStructure] = {}


def parsed_ontology(text: str) -> OntologyStructure:
    found = _ONTOLOGIES.get(text)
    if found is None:
        if len(_ONTOLOGIES) >= 8:
            _ONTOLOGIES.clear()
        found = _ONTOLOGIES[text] = OntologyStructure(json.loads(text))
    return found


def current_context() -> _TaskContext:
    if not _CURRENT:
        raise RuntimeError("this dependency can only be used while a task is handled")
    return _CURRENT[-1]


@dataclass
class Decision:
    """What a handler decided, in the host's terms."""

    pathway: Optional[str]
    label_row: Optional[str]
    priority: Optional[float]


def handle(source, stage_name: str, task: AgentTask, runner: Optional[Runner] = None) -> Decision:
    """Runs the handler of `stage_name` for one task (of `runner`, or the
    module's one Runner)."""
    runner = runner or current_runner()
    stage = next((s for s in runner.stages if s.stage == stage_name), None)
    if stage is None:
        raise PrintableError(f"this agent has no handler for stage `{stage_name}`")
    cx = _TaskContext(source, task, stage)

    def proceed(pathway: str) -> None:
        if cx.proceeded is not None and cx.proceeded != pathway:
            raise PrintableError(f"task.proceed() was called twice, with `{cx.proceeded}` and then `{pathway}`: a task moves once")
        cx.proceeded = pathway

    task._proceed = proceed
    _CURRENT.append(cx)
    try:
        result = cx.solve(stage.dependant)
    finally:
        cx.close()
        _CURRENT.pop()
    return _decision(stage, cx, result)


def _decision(stage: _Stage, cx: _TaskContext, result: Any) -> Decision:
    row = cx._label_row
    pathway: Optional[str] = None
    save: Optional[LabelRowV2] = row if row is not None and row._saved else None
    priority = row._priority if row is not None else None
    if isinstance(result, TaskAgentReturnStruct):
        pathway = None if result.pathway is None else str(result.pathway)
        if result.label_row is not None and result.label_row._save_to is not None:
            # A twin's row: encord-agents saves it to its own project.
            result.label_row.save()
        elif result.label_row is not None:
            save = result.label_row
        if result.label_row_priority is not None:
            priority = float(result.label_row_priority)
    elif result is None:
        pathway = None
    elif isinstance(result, str) or type(result).__name__ == "UUID":
        pathway = str(result)
    else:
        raise TypeError(
            f"handler `{stage.handler}` returned {type(result).__name__}; "
            "return a pathway name or uuid, None, or a TaskAgentReturnStruct"
        )
    if cx.proceeded is not None:
        if pathway is not None and pathway != cx.proceeded:
            raise PrintableError(
                f"handler `{stage.handler}` called task.proceed(`{cx.proceeded}`) and returned pathway `{pathway}`: a task moves once"
            )
        pathway = cx.proceeded
    return Decision(pathway, save.to_json() if save is not None else None, priority)


def manifest_of(stage: _Stage) -> dict:
    """The stage spec as plain values (the host glue turns it into WIT)."""
    m, i = stage.metadata_args, stage.init_args
    return {
        "stage": stage.stage,
        "handler": stage.handler,
        "needs": stage.needs,
        "label_row_options": {
            "include_workflow_graph_node": m.include_workflow_graph_node,
            "include_client_metadata": m.include_client_metadata,
            "include_images_data": m.include_images_data,
            "include_all_label_branches": m.include_all_label_branches,
            "branch_name": m.branch_name,
            "include_children": m.include_children,
            "include_object_feature_hashes": _list(i.include_object_feature_hashes),
            "include_classification_feature_hashes": _list(i.include_classification_feature_hashes),
            "include_reviews": i.include_reviews,
            "include_signed_url": i.include_signed_url,
        },
        "pathways": stage.pathways,
        "twins": dict(stage.dependant.twins),
    }


def _list(v: Union[None, set, list]) -> Optional[list[str]]:
    return None if v is None else sorted(str(x) for x in v)
