use encord_agent_sdk::prelude::*;

#[stage("pre-label")]
fn handler(task: Task) -> u32 {
    task.data_title.len() as u32
}

fn main() {}
