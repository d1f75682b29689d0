"""Native tests of an agent's stages, with no component and no host:

    from encord_agent_sdk.testing import TestRun
    from agent import runner

    def test_street_images_go_to_triage():
        out = TestRun(runner, ontology=ONTOLOGY_JSON, label_row=ROW_JSON).run("pre-label")
        assert out.pathway == "to triage"
        assert out.label_row.get_classification_instances()[0].get_answer() == "..."

`TestRun` gives the stage what the host would (the task, the label row and
the ontology, the project, the stage and its pathways) and returns the
handler's decision: the pathway, the label row it saved (a `LabelRowV2`, or
None when nothing was saved) and the priority. Anything else a stage asks
the host for (storage items, media, twins, HTTP, models) raises `HostOnly`
naming it: run that in runner-host (`runner-host build` then a local
project).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Optional, Union

from .labels import LabelRowV2, OntologyStructure
from .runner import AgentTask, Runner, handle, parsed_ontology


class HostOnly(RuntimeError):
    """What a stage asked for exists only inside runner-host."""


@dataclass
class Result:
    """What the handler decided."""

    pathway: Optional[str]
    label_row: Optional[LabelRowV2]
    priority: Optional[float]


def _text(value: Union[str, bytes, dict, None], what: str) -> Optional[str]:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, dict):
        return json.dumps(value)
    raise TypeError(f"{what}: give JSON text or a dict, not {type(value).__name__}")


class TestRun:
    """One task through one stage of `runner`, natively."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        runner: Runner,
        *,
        ontology: Union[str, dict],
        label_row: Union[str, dict, None] = None,
        data_title: Optional[str] = None,
        pathways: Optional[list[str]] = None,
        project_hash: str = "test-project",
        task_uuid: str = "test-task",
    ):
        self.runner = runner
        self.ontology_text = _text(ontology, "ontology")
        self.label_row_text = _text(label_row, "label_row")
        row = json.loads(self.label_row_text) if self.label_row_text else {}
        self.data_hash = row.get("data_hash", "test-data")
        self.data_title = data_title if data_title is not None else row.get("data_title", "test-data")
        self.pathways = pathways
        self.project_hash = project_hash
        self.task_uuid = task_uuid
        self._stage = ""

    # What the host gives (runner.handle's source).
    def label_row(self) -> str:
        if self.label_row_text is None:
            raise HostOnly("this stage reads the label row: pass label_row= to TestRun")
        return self.label_row_text

    def ontology(self) -> str:
        return self.ontology_text

    def project_info(self):
        return SimpleNamespace(project_hash=self.project_hash, title="Test project", description="", ontology_hash="test-ontology")

    def current_stage(self):
        stage = next((s for s in self.runner.stages if s.stage == self._stage), None)
        names = self.pathways if self.pathways is not None else (stage.pathways if stage else [])
        pathways = [SimpleNamespace(uuid=f"pathway-{n}", name=n, destination_uuid=f"stage-after-{n}") for n in names]
        return SimpleNamespace(uuid=f"stage-{self._stage}", title=self._stage, pathways=pathways)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        def host_only(*_args, **_kwargs):
            raise HostOnly(f"`{name}` comes from runner-host: test this stage in a component (runner-host build, then a local project)")

        return host_only

    def run(self, stage: str) -> Result:
        """Runs the handler of `stage` once and returns its decision. The
        handler's exceptions propagate, as a failed task's would."""
        if not any(s.stage == stage for s in self.runner.stages):
            known = ", ".join(s.stage for s in self.runner.stages) or "none"
            raise ValueError(f"the runner has no stage `{stage}` (stages: {known})")
        self._stage = stage
        task = AgentTask(self.task_uuid, self.data_hash, self.data_title, "main", "NEW", f"stage-{stage}")
        decision = handle(self, stage, task, runner=self.runner)
        if decision.pathway is not None and self.pathways is None:
            declared = next(s for s in self.runner.stages if s.stage == stage).pathways
            if declared and decision.pathway not in declared:
                raise AssertionError(f"stage `{stage}` returned pathway `{decision.pathway}`, not one it declares ({', '.join(declared)})")
        row = None
        if decision.label_row is not None:
            row = LabelRowV2.from_json(decision.label_row, parsed_ontology(self.ontology_text))
        return Result(decision.pathway, row, decision.priority)


__all__ = ["HostOnly", "Result", "TestRun", "OntologyStructure"]
