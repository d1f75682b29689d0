"""encord-agents 0.2.10, examples/notebooks/task_agent_set_priority.ipynb,
ported to runner-host by changing its imports.

Adapted as the encord-agents copy (encord_agents/task_agent_set_priority.py)
is: set-up cells left out, `<your_agent_stage_uuid>` is the stage's title.
The run line is the notebook's: runner-host takes its arguments as defaults
(the test overrides `refresh_every` with `--refresh-every 0`).
"""

from encord_agent_sdk import LabelRowV2, Runner, TaskAgentReturnStruct

runner = Runner(project_hash="<your_project_hash>")


@runner.stage("prioritise")
def by_file_name(lr: LabelRowV2) -> str | None:
    # Assuming the data_title is of the format "%d.jpg"
    # and in the range [0; 100]
    priority = int(lr.data_title.split(".")[0]) / 100
    # Return the pathway name or UUID where the task should go next, and set priority
    # TaskAgentReturnStruct batches calls to the server
    return TaskAgentReturnStruct(pathway="to_annotation", label_row=lr, label_row_priority=priority)


# Run the Agent
# After 50 label updates, tasks are moved in the workflow.
# Set to refresh every 3600 seconds to continuously check for new tasks
runner(refresh_every=3600, task_batch_size=50, max_tasks_per_stage=None)
