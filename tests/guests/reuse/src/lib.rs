//! Shows what an instance has seen: its `init` hook counts itself, and each
//! task sets the priority to (tasks this instance has run) / 100. With a
//! fresh instance per task every priority is 0.01; with `--reuse-instance N`
//! they count up to N. A task titled `street-03.png` panics, so the test can
//! check that a trapped instance is never reused. Granted the variable
//! `REUSE_INIT_FAILS`, its `init` fails.
//!
//! Every task also leaves a marker in its heap and on its stack, and an
//! instance's first task fails if its memory holds a marker: whatever the
//! host's pool does to make a slot ready, no instance may see an earlier
//! one's data.

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
    if TASKS.load(Ordering::SeqCst) == 0 {
        if let Some(at) = find_marker() {
            return Err(AgentError::msg(format!(
                "a new instance sees an earlier one's data at {at:#x}"
            )));
        }
    }
    leave_marker();
    let tasks = TASKS.fetch_add(1, Ordering::SeqCst) + 1;
    Ok(Outcome::pathway("to triage").with_priority(tasks as f32 / 100.0))
}

export_agent!(pre_label; init = init);

/// The marker ("left behind by an earlier task!!"), each byte XOR `MASK`:
/// the plain marker is in memory only where a task put it, never in this
/// module's data.
const MASKED: [u8; 32] = *b"\x36\x3f\x3c\x2e\x7a\x38\x3f\x32\x33\x34\x3e\x7a\x38\x23\x7a\x3b\x34\x7a\x3f\x3b\x28\x36\x33\x3f\x28\x7a\x2e\x3b\x29\x31\x7b\x7b";
const MASK: u8 = 0x5a;

fn leave_marker() {
    let plain: Vec<u8> = MASKED.iter().map(|b| b ^ MASK).collect();
    // On the heap, never freed, and on the stack.
    std::hint::black_box(Box::leak(plain.clone().into_boxed_slice()));
    let mut on_stack = [0u8; 32];
    on_stack.copy_from_slice(&plain);
    std::hint::black_box(&on_stack);
}

/// Where the marker is in linear memory, if anywhere.
#[cfg(target_arch = "wasm32")]
fn find_marker() -> Option<usize> {
    let end = core::arch::wasm32::memory_size(0) * 65536;
    // From 8: address 0 is null to Rust, and no marker is put there.
    (8..end - MASKED.len()).find(|&at| {
        MASKED.iter().enumerate().all(|(i, m)| {
            // SAFETY: `at + i` is inside linear memory, which is all readable.
            let b = unsafe { std::ptr::read_volatile((at + i) as *const u8) };
            b ^ MASK == *m
        })
    })
}

#[cfg(not(target_arch = "wasm32"))]
fn find_marker() -> Option<usize> {
    None
}
