//! Serves a stage the demo workflow does not have ("prelabel" for
//! "pre-label"): the host must refuse to start and suggest the closest.

use encord_agent_sdk::prelude::*;

#[stage("prelabel")]
fn prelabel() -> Outcome {
    Outcome::stay()
}

export_agent!(prelabel);
