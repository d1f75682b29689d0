"""Label branches end to end (encord-agents' `LabelRowMetadataIncludeArgs`).
`pre-label` asks for the `agent-branch` branch, adds a Quality there and
saves it; `triage` lists every branch (`include_all_label_branches`: the
listing then holds `main` and `agent-branch` rows of each data unit) and
must be given the `main` row, without that Quality. A row from the wrong
branch raises, failing the task.
"""

from encord_agent_sdk import (
    AgentTask,
    Classification,
    LabelRowMetadataIncludeArgs,
    LabelRowV2,
    Option,
    Runner,
    TaskAgentReturnStruct,
)

runner = Runner()


@runner.stage("pre-label", label_row_metadata_include_args=LabelRowMetadataIncludeArgs(branch_name="agent-branch"))
def write(task: AgentTask, lr: LabelRowV2) -> TaskAgentReturnStruct:
    if lr.branch_name != "agent-branch":
        raise ValueError(f"got branch `{lr.branch_name}`")
    if lr.get_classification_instances():
        raise ValueError("a new branch row came with labels")
    quality = lr.ontology_structure.get_child_by_title("Quality", type_=Classification)
    instance = quality.create_instance()
    instance.set_answer(answer=quality.get_child_by_title("Good", type_=Option))
    instance.set_for_frames(frames=0)
    lr.add_classification_instance(instance)
    return TaskAgentReturnStruct(pathway="to triage", label_row=lr)


@runner.stage(
    "triage",
    label_row_metadata_include_args=LabelRowMetadataIncludeArgs(include_all_label_branches=True),
)
def read(task: AgentTask, lr: LabelRowV2) -> str:
    if lr.branch_name != "main":
        raise ValueError(f"got branch `{lr.branch_name}`")
    if lr.get_classification_instances():
        raise ValueError("main has the branch's Quality")
    return "done"
