"""The agent of bench/compare.sh in Python, for runner-host: the same lines
as bench/encord_agents/agent.py (which runs on the official encord-agents
Runner) but for the imports and the runner line, and the same logic as the
Rust bench/agent.

Per task: read the label row, add one Vehicle box unless the row already
has an object, set a priority derived from the data title, route to triage.
"""

from encord_agent_sdk import (
    AgentTask,
    BoundingBoxCoordinates,
    LabelRowV2,
    Object,
    Runner,
    TaskAgentReturnStruct,
)

runner = Runner()


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
