//! A start hook (encord-agents' `pre_execution_callback`) that refuses to
//! run: the host must abort before touching any task, with its message.

use encord_agent_sdk::prelude::*;

#[stage("pre-label")]
fn pre_label() -> &'static str {
    "to triage"
}

fn check_model() -> Result<(), AgentError> {
    Err(AgentError::msg(
        "model weights missing: run `make weights` first",
    ))
}

export_agent!(pre_label; start = check_model);
