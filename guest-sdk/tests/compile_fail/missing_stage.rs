use encord_agent_sdk::prelude::*;

#[stage]
fn handler() -> Outcome {
    Outcome::stay()
}

fn main() {}
