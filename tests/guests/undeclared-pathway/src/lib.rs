//! Declares a pathway the stage does not have: the host must refuse to start
//! before any task runs.

use encord_agent_sdk::prelude::*;

#[stage("pre-label", pathways = ["to triage", "to the moon"])]
fn pre_label() -> &'static str {
    "to triage"
}

export_agent!(pre_label);
