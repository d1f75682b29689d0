//! Shows what an instance has seen: its `init` hook counts itself, and each
//! task sets the priority to (tasks this instance has run) / 100. With a
//! fresh instance per task every priority is 0.01; with `--reuse-instance N`
//! they count up to N. A task titled `street-03.png` panics, so the test can
//! check that a trapped instance is never reused. Granted the variable
//! `REUSE_INIT_FAILS`, its `init` fails.

use std::sync::atomic::{AtomicU32, Ordering};

use encord_agent_sdk::prelude::*;

static INITS: AtomicU32 = AtomicU32::new(0);
static TASKS: AtomicU32 = AtomicU32::new(0);

fn init() -> Result<(), AgentError> {
    if std::env::var("REUSE_INIT_FAILS").is_ok() {
        return Err(AgentError::msg("the model file is missing"));
    }
    INITS.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[stage("pre-label", pathways = ["to triage"])]
fn pre_label(task: Task) -> Result<Outcome, AgentError> {
    let inits = INITS.load(Ordering::SeqCst);
    if inits != 1 {
        return Err(AgentError::msg(format!(
            "this instance was initialised {inits} times, not once"
        )));
    }
    if task.data_title == "street-03.png" {
        panic!("reuse guest panics on {}", task.data_title);
    }
    let tasks = TASKS.fetch_add(1, Ordering::SeqCst) + 1;
    Ok(Outcome::pathway("to triage").with_priority(tasks as f32 / 100.0))
}

export_agent!(pre_label; init = init);
