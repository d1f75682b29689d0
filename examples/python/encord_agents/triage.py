"""The encord-agents version of ../triage.py, for the official Runner
(`encord-agents==0.2.10`): only the imports and the runner line differ.

Run: PROJECT_HASH=... ENCORD_SSH_KEY_FILE=... python triage.py
"""

import os
from typing import Annotated

from encord.objects import Classification, Object
from encord.objects.ontology_labels_impl import LabelRowV2
from encord.workflow.stages.agent import AgentTask
from encord_agents.tasks import Depends, Runner
from encord_agents.tasks.models import TaskAgentReturnStruct

runner = Runner(project_hash=os.environ["PROJECT_HASH"])


def has_person(lr: LabelRowV2) -> bool:
    """A custom dependency built from another: does the row hold a person?"""
    person = lr.ontology_structure.get_child_by_title("Person", type_=Object)
    return len(lr.get_object_instances(filter_ontology_object=person)) > 0


@runner.stage("triage")
def triage(
    task: AgentTask, lr: LabelRowV2, person: Annotated[bool, Depends(has_person)]
) -> TaskAgentReturnStruct:
    quality = lr.ontology_structure.get_child_by_title("Quality", type_=Classification)
    blurry_label = any(
        c.get_answer().label == "Blurry"
        for c in lr.get_classification_instances(filter_ontology_classification=quality)
    )
    if blurry_label or "blurry" in task.data_title:
        return TaskAgentReturnStruct(pathway="needs annotation", label_row_priority=1.0)
    if person:
        return TaskAgentReturnStruct(pathway="to review", label_row_priority=0.8)
    return TaskAgentReturnStruct(pathway="done", label_row_priority=0.0)


if __name__ == "__main__":
    runner.run()
