"""encord-agents 0.2.10, examples/notebooks/task_agent_set_priority.ipynb,
as the official Runner runs it in tests/python_sdk.rs.

Adapted: the notebook's set-up cells (pip, SSH key) are left out (the key
comes from the environment); `<your_project_hash>` is PROJECT_HASH and
`<your_agent_stage_uuid>` the stage's title, `prioritise`; the run line
drops `refresh_every=3600` so that the run ends when the queue is empty.
"""

import os

from encord.objects.ontology_labels_impl import LabelRowV2

from encord_agents.tasks import Runner
from encord_agents.tasks.models import TaskAgentReturnStruct

runner = Runner(project_hash=os.environ["PROJECT_HASH"])


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
runner(task_batch_size=50, max_tasks_per_stage=None)
