"""{{name}}: a runner-host task agent.

`runner-host test` runs test_agent.py natively; `runner-host build` makes
agent.wasm.
"""

from encord_agent_sdk import AgentTask, Classification, LabelRowV2, Runner

runner = Runner()


@runner.stage("pre-label", pathways=["to triage"])
def pre_label(task: AgentTask, lr: LabelRowV2) -> str:
    """Captions each task's data with its title and sends it on to triage."""
    caption = lr.ontology_structure.get_child_by_title("Caption", type_=Classification).create_instance()
    caption.set_for_frames(frames=0)
    caption.set_answer(answer=f"seen by {{name}}: {task.data_title}")
    lr.add_classification_instance(caption)
    lr.save()
    return "to triage"
