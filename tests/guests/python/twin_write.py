"""The twin write-back of tests/guests/twin-write (Rust), written the way
encord-agents' twin label transfer notebook writes it: edit
`twin.label_row`, then `twin.label_row.save()`. The test fills in the twin's
project hash where the notebook has `<project_hash_b>`.

The twin ("Demo ground truth") has an ontology of its own: its `Verdict`
classification is not in this project's. Street scenes get Approved, other
images Rejected; for blurry images the agent instead tries to save a row
with this project's `Quality`, which the twin's ontology refuses, so the
task fails and stays.
"""

from typing import Annotated

from encord_agent_sdk import (
    AgentTask,
    Classification,
    Depends,
    LabelRowV2,
    Option,
    Runner,
    TaskAgentReturnStruct,
    Twin,
    dep_twin_label_row,
)

runner = Runner()


@runner.stage(stage="pre-label")
def verdict(
    task: AgentTask,
    lr: LabelRowV2,
    twin: Annotated[Twin, Depends(dep_twin_label_row(twin_project_hash="<project_hash_b>"))],
) -> TaskAgentReturnStruct:
    if twin is None:
        return TaskAgentReturnStruct(pathway="to triage")
    if "blurry" in task.data_title:
        # This project's classification, saved to the twin: refused there.
        quality = lr.ontology_structure.get_child_by_title("Quality", type_=Classification)
        instance = quality.create_instance()
        instance.set_answer(answer=quality.get_child_by_title("Blurry", type_=Option))
        instance.set_for_frames(frames=0)
        twin.label_row.add_classification_instance(instance)
        twin.label_row.save()
        return TaskAgentReturnStruct(pathway="to triage")
    verdict = twin.label_row.ontology_structure.get_child_by_title("Verdict", type_=Classification)
    answer = "Approved" if task.data_title.startswith("street") else "Rejected"
    instance = verdict.create_instance()
    instance.set_answer(answer=verdict.get_child_by_title(answer, type_=Option))
    instance.set_for_frames(frames=0)
    twin.label_row.add_classification_instance(instance)
    twin.label_row.save()
    return TaskAgentReturnStruct(pathway="to triage")
