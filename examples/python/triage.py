"""Triages pre-labelled tasks: routes by data title and existing labels and
sets each task's priority; the Python twin of examples/triage (Rust).

- a blurry image (title or Quality label) needs a human: "needs annotation",
  top priority;
- anything with a person goes "to review", high priority;
- the rest is "done", priority 0.0 (encord-agents silently ignores a zero
  priority; runner-host sets it).

The same agent for the encord-agents Runner is encord_agents/triage.py: only
the imports and the line that makes the runner differ.
"""

from typing import Annotated

from encord_agent_sdk import (
    AgentTask,
    Classification,
    Depends,
    LabelRowV2,
    Object,
    Runner,
    TaskAgentReturnStruct,
)

runner = Runner()


def has_person(lr: LabelRowV2) -> bool:
    """A custom dependency built from another: does the row hold a person?"""
    person = lr.ontology_structure.get_child_by_title("Person", type_=Object)
    return len(lr.get_object_instances(filter_ontology_object=person)) > 0


@runner.stage("triage")
def triage(
    task: AgentTask, lr: LabelRowV2, person: Annotated[bool, Depends(has_person)]
) -> TaskAgentReturnStruct:
    quality = lr.ontology_structure.get_child_by_title("Quality", type_=Classification)
    blurry_label = any(
        c.get_answer().label == "Blurry"
        for c in lr.get_classification_instances(filter_ontology_classification=quality)
    )
    if blurry_label or "blurry" in task.data_title:
        return TaskAgentReturnStruct(pathway="needs annotation", label_row_priority=1.0)
    if person:
        return TaskAgentReturnStruct(pathway="to review", label_row_priority=0.8)
    return TaskAgentReturnStruct(pathway="done", label_row_priority=0.0)


if __name__ == "__main__":
    runner.run()
