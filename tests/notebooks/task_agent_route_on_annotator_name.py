"""encord-agents 0.2.10, examples/notebooks/task_agent_route_on_annotator_name.ipynb,
ported to runner-host by changing its imports.

Adapted as the encord-agents copy is: set-up cells left out, the stage's
title for `<your_agent_stage_uuid>`, `last_actioned_by` for the
`last_annotated_by` encord's AgentTask lacks. The run line is the notebook's.
"""

from encord_agent_sdk import AgentTask, Runner, TaskAgentReturnStruct

runner = Runner(project_hash="<your_project_hash>")


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
# Set to refresh every 3600 seconds to continuously check for new tasks
runner(refresh_every=3600, task_batch_size=50, max_tasks_per_stage=None)
