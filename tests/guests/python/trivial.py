"""The smallest Python agent: serves `pre-label`, needs nothing, stays.
Measures the per-task overhead of the Python runtime (scripts/bench-languages.sh)."""

from encord_agent_sdk import AgentTask, Runner

runner = Runner()


@runner.stage("pre-label")
def trivial(task: AgentTask) -> None:
    return None
