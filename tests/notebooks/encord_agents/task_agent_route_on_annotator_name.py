"""encord-agents 0.2.10, examples/notebooks/task_agent_route_on_annotator_name.ipynb,
as the official Runner runs it in tests/python_sdk.rs.

Adapted: set-up cells left out; `<your_project_hash>` is PROJECT_HASH and
`<your_agent_stage_uuid>` the stage's title, `route`; the notebook reads
`task.last_annotated_by`, which encord's AgentTask does not have (the
notebook fails on the official Runner as published): it reads
`last_actioned_by`; the run line drops `refresh_every=3600`.
"""

import os

from encord.workflow.stages.agent import AgentTask

from encord_agents.tasks import Runner
from encord_agents.tasks.models import TaskAgentReturnStruct

runner = Runner(project_hash=os.environ["PROJECT_HASH"])


@runner.stage("route")
def by_file_name(task: AgentTask) -> str:
    last_annotated_by = task.last_actioned_by
    if "expert" in last_annotated_by:
        # TaskAgentReturnStruct batches calls to the server
        return TaskAgentReturnStruct(pathway="Expert")
    else:
        # TaskAgentReturnStruct batches calls to the server
        return TaskAgentReturnStruct(pathway="Novice")


# Run the Agent
# After 50 label updates, tasks are moved in the workflow.
runner(task_batch_size=50, max_tasks_per_stage=None)
