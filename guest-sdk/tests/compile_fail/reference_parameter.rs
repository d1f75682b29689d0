use encord_agent_sdk::prelude::*;

#[stage("pre-label")]
fn handler(row: &LabelRow) -> Outcome {
    let _ = row;
    Outcome::stay()
}

fn main() {}
