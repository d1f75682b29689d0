"""encord-agents 0.2.10, examples/notebooks/AgentRouterBasedOnAttributes.ipynb,
as the official Runner runs it in tests/python_sdk.rs.

Adapted: the Colab cells are left out: the notebook makes its Encord client
from Colab secrets, here `get_user_client()` (which the notebook imports)
from the environment; the hard-coded project hash is PROJECT_HASH; the run
line drops `refresh_every=3600`. Note the notebook's own defect, kept: the
`Pass` TaskAgentReturnStruct is built and not returned, so every task goes
to `Second Review`.
"""

import os

from encord.objects import LabelRowV2
from encord.workflow.stages.agent import AgentStage, AgentTask

from encord_agents.core.utils import get_user_client
from encord_agents.tasks import Depends, Runner
from encord_agents.tasks.models import TaskAgentReturnStruct

encord_client = get_user_client()

# Change this to be your Project Hash
PROJECT_HASH = os.environ["PROJECT_HASH"]
STAGE_NAME = "Custom Router"

project = encord_client.get_project(PROJECT_HASH)

ONTOLOGY_OBJECT_NAME = "Bird"
ONTOLOGY_OBJECT_SUBFIELD_NAME = "Type"
ATTRIBUTE_TO_FILTER_ON = "Bluejay"

# define ontology (& attributes you'd like)
ontology = project.ontology_structure
ontology_object = ontology.get_child_by_title(ONTOLOGY_OBJECT_NAME)
question = ontology_object.get_child_by_title(ONTOLOGY_OBJECT_SUBFIELD_NAME)

field_filter = ontology_object.get_child_by_title(ATTRIBUTE_TO_FILTER_ON)

runner = Runner(project_hash=PROJECT_HASH)


# main agent
@runner.stage(STAGE_NAME, overwrite=True)
def move_to_next_stage(lr: LabelRowV2):
    for object in lr.get_object_instances(ontology_object):
        try:
            if object.get_answer(question).feature_node_hash == field_filter.feature_node_hash:
                # Batch calls using TaskAgentReturnStruct
                TaskAgentReturnStruct(pathway="Pass", label_row=lr)
        except Exception:
            continue
    # Batch calls using TaskAgentReturnStruct
    return TaskAgentReturnStruct(pathway="Second Review", label_row=lr)


# Run the Agent
# After 50 label updates, tasks are moved in the workflow.
runner(task_batch_size=50, max_tasks_per_stage=None)
