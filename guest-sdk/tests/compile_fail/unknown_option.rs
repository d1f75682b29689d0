use encord_agent_sdk::prelude::*;

#[stage("pre-label", retries = 3)]
fn handler() -> Outcome {
    Outcome::stay()
}

fn main() {}
