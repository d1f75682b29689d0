"""tests/guests/route-by-annotator (Rust) in Python, as encord-agents writes
it: route on `task.last_actioned_by` (its annotator-routing notebook) and
move the twin's task with `twin.task.proceed(pathway_name="done")` when it
is an `AgentTask`. The test fills in the twin's hash for `<project_hash_b>`.
"""

from datetime import datetime
from typing import Annotated

from encord_agent_sdk import AgentTask, Depends, Runner, TaskAgentReturnStruct, Twin, dep_twin_label_row

runner = Runner()


@runner.stage("route")
def route(
    task: AgentTask,
    twin: Annotated[Twin, Depends(dep_twin_label_row(twin_project_hash="<project_hash_b>", include_task=True))],
) -> TaskAgentReturnStruct:
    if not isinstance(task.created_at, datetime) or not isinstance(task.updated_at, datetime):
        raise ValueError("the task has no created/updated time")
    if twin is not None and isinstance(twin.task, AgentTask):
        twin.task.proceed(pathway_name="done")
    last = task.last_actioned_by or ""
    return TaskAgentReturnStruct(pathway="Expert" if "expert" in last else "Novice")
