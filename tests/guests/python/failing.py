"""A Python agent whose handler fails in the ways an author's code does:
an exception of its own, a need it did not declare, an ontology name that
does not exist. Each failure must fail only its task, with a message that
names the cause and the line, and no host path."""

from encord_agent_sdk import AgentTask, LabelRowV2, Object, Runner, asset_bytes

runner = Runner()


@runner.stage("pre-label")
def failing(task: AgentTask, lr: LabelRowV2) -> str:
    if task.data_title == "street-01.png":
        raise ValueError(f"no model for {task.data_title}")
    if task.data_title == "street-02.png":
        asset_bytes()
    if task.data_title == "street-03.png":
        lr.ontology_structure.get_child_by_title("Dragon", type_=Object)
    return "to triage"
