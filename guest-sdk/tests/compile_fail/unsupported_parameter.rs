use encord_agent_sdk::prelude::*;

#[stage("pre-label")]
fn handler(task: Task, threshold: u32) -> Outcome {
    let _ = (task, threshold);
    Outcome::stay()
}

fn main() {}
