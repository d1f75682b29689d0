//! The smallest useful agent: reads its task, routes it. Used to measure the
//! host's per-task overhead.

use encord_agent_sdk::prelude::*;

#[stage("pre-label")]
fn pre_label(task: Task) -> Outcome {
    if task.data_title.is_empty() {
        Outcome::stay()
    } else {
        Outcome::pathway("to triage")
    }
}

export_agent!(pre_label);
