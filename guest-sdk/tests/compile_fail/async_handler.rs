use encord_agent_sdk::prelude::*;

#[stage("pre-label")]
async fn handler() -> Outcome {
    Outcome::stay()
}

fn main() {}
