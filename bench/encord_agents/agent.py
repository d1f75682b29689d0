"""The agent of bench/compare.sh for the official encord-agents Runner
(`encord-agents==0.2.10`): ../agent.py but for the imports and the runner
line.

Run: PROJECT_HASH=... ENCORD_SSH_KEY_FILE=... python agent.py
"""

import os

from encord.objects import Object
from encord.objects.coordinates import BoundingBoxCoordinates
from encord.objects.ontology_labels_impl import LabelRowV2
from encord.workflow.stages.agent import AgentTask
from encord_agents.tasks import Runner
from encord_agents.tasks.models import TaskAgentReturnStruct

runner = Runner(project_hash=os.environ["PROJECT_HASH"])


def priority(title: str) -> float:
    """0.1 to 0.9 in tenths by the sum of the title's bytes (as bench/agent)."""
    return (sum(title.encode()) % 9 + 1) / 10


@runner.stage("pre-label")
def pre_label(task: AgentTask, lr: LabelRowV2) -> TaskAgentReturnStruct:
    if not lr.get_object_instances():
        vehicle = lr.ontology_structure.get_child_by_title("Vehicle", type_=Object).create_instance()
        vehicle.set_for_frames(
            coordinates=BoundingBoxCoordinates(height=0.35, width=0.5, top_left_x=0.25, top_left_y=0.4), frames=0
        )
        lr.add_object_instance(vehicle)
    return TaskAgentReturnStruct(pathway="to triage", label_row=lr, label_row_priority=priority(task.data_title))


if __name__ == "__main__":
    runner.run()
