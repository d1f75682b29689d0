"""Module-level code that reads what only exists at run time, as
encord-agents' examples do: an environment variable (granted with `--env`)
and `runner.project`'s ontology. The build leaves the module's top level to
each instance. The stage asks for client metadata on its label rows
(`lr.client_metadata`), and for blurry images calls an Encord SDK method
runner-host does not offer (`task.move`), which must fail that task loudly.
"""

import os

from encord_agent_sdk import AgentTask, Classification, LabelRowMetadataIncludeArgs, LabelRowV2, Runner

runner = Runner()
ROUTE = os.environ["ROUTE_TO"]
QUALITY = runner.project.ontology_structure.get_child_by_title("Quality", type_=Classification)


@runner.stage("pre-label", label_row_metadata_include_args=LabelRowMetadataIncludeArgs(include_client_metadata=True))
def route(task: AgentTask, lr: LabelRowV2) -> str:
    if not isinstance(lr.client_metadata, dict):
        raise ValueError(f"client metadata was asked for, got {lr.client_metadata!r}")
    if "blurry" in task.data_title:
        task.move(destination_stage_uuid="00000000-0000-4000-8000-000000000000")
    return ROUTE if QUALITY.title == "Quality" else "nowhere"


runner(task_batch_size=7)
