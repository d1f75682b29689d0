"""Shows what a Python agent's instance has seen (the Python twin of
tests/guests/reuse): `@runner.init` counts itself, and each task sets the
priority to (tasks this instance has run) / 100 — 0.01 everywhere with a
fresh instance per task, counting up with `--reuse-instance N`."""

from encord_agent_sdk import AgentTask, Runner, TaskAgentReturnStruct

runner = Runner()
inits = 0
tasks = 0


@runner.init
def count_init() -> None:
    global inits
    inits += 1


@runner.stage("pre-label")
def pre_label(task: AgentTask) -> TaskAgentReturnStruct:
    global tasks
    if inits != 1:
        raise RuntimeError(f"this instance was initialised {inits} times, not once")
    tasks += 1
    return TaskAgentReturnStruct(pathway="to triage", label_row_priority=tasks / 100)
