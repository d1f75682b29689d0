"""encord-agents 0.2.10, examples/notebooks/AgentRouterBasedOnAttributes.ipynb,
ported to runner-host by changing its imports.

Adapted as the encord-agents copy is: Colab cells left out, the client from
`get_user_client()` (runner-host's gives the project being run, with its
ontology: there is no Encord client in the sandbox), PROJECT_HASH from the
environment (granted with `--env`, so the module runs when each instance
starts). The notebook's defect is kept: every task goes to `Second Review`.
The run line is the notebook's.
"""

import os

from encord_agent_sdk import AgentStage, AgentTask, Depends, LabelRowV2, Runner, TaskAgentReturnStruct, get_user_client

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
# Set to refresh every 3600 seconds to continuously check for new tasks
runner(refresh_every=3600, task_batch_size=50, max_tasks_per_stage=None)
