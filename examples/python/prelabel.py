"""Pre-labels every task of the `pre-label` stage and routes it to triage:
the Python twin of examples/prelabel (Rust), giving the same label rows.

`street-*` images get a Vehicle box, `portrait-*` images a Person box with
its pose answered, every image a Quality classification, and a video a
Person box tracked across its first five frames.

The same agent for the encord-agents Runner is encord_agents/prelabel.py:
only the imports and the line that makes the runner differ.
"""

from encord_agent_sdk import (
    AgentTask,
    BoundingBoxCoordinates,
    Classification,
    DataType,
    LabelRowV2,
    Object,
    Option,
    RadioAttribute,
    Runner,
    TaskAgentReturnStruct,
)

runner = Runner()


@runner.stage("pre-label")
def pre_label(task: AgentTask, lr: LabelRowV2) -> TaskAgentReturnStruct:
    ontology = lr.ontology_structure
    title = task.data_title.lower()
    if lr.data_type == DataType.VIDEO:
        person = ontology.get_child_by_title("Person", type_=Object).create_instance()
        for frame in range(5):
            box = BoundingBoxCoordinates(height=0.5, width=0.3, top_left_x=0.1 + 0.05 * frame, top_left_y=0.2)
            person.set_for_frames(coordinates=box, frames=frame)
        lr.add_object_instance(person)
        print(f"tracked a person over 5 frames of {task.data_title}")
        return TaskAgentReturnStruct(pathway="to triage", label_row=lr)

    if title.startswith("street"):
        vehicle = ontology.get_child_by_title("Vehicle", type_=Object).create_instance()
        vehicle.set_for_frames(
            coordinates=BoundingBoxCoordinates(height=0.35, width=0.5, top_left_x=0.25, top_left_y=0.4), frames=0
        )
        lr.add_object_instance(vehicle)
    if title.startswith("portrait"):
        person = ontology.get_child_by_title("Person", type_=Object).create_instance()
        person.set_for_frames(
            coordinates=BoundingBoxCoordinates(height=0.8, width=0.4, top_left_x=0.3, top_left_y=0.1), frames=0
        )
        pose = ontology.get_child_by_title("Pose", type_=RadioAttribute)
        person.set_answer(answer=pose.get_child_by_title("Standing", type_=Option), attribute=pose)
        lr.add_object_instance(person)

    quality = ontology.get_child_by_title("Quality", type_=Classification)
    answer = quality.get_child_by_title("Blurry" if "blurry" in title else "Good", type_=Option)
    instance = quality.create_instance()
    instance.set_for_frames(frames=0)
    instance.set_answer(answer=answer)
    lr.add_classification_instance(instance)
    return TaskAgentReturnStruct(pathway="to triage", label_row=lr)


if __name__ == "__main__":
    runner.run()
