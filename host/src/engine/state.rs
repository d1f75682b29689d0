//! The data of one Store: the context of one call into the guest.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};

use super::{CallError, Grants, Limits};
use crate::platform::{DataItem, TwinRecord};

/// What every call of one run shares: the project.
#[derive(Debug)]
pub struct ProjectContext {
    pub project_hash: String,
    pub title: String,
    pub description: String,
    pub ontology_hash: String,
    pub ontology_json: String,
}

/// The stage a task belongs to.
#[derive(Debug, Clone)]
pub struct StageContext {
    pub uuid: String,
    pub title: String,
    /// (uuid, name, destination uuid)
    pub pathways: Vec<(String, String, String)>,
}

/// The data behind one task, as its stage declared it.
#[derive(Debug, Clone)]
pub struct TaskData {
    pub item: DataItem,
    /// The data's bytes on local disk (when `asset` or `frames` was declared).
    pub file: Option<PathBuf>,
    /// A group's children on local disk, in frame order.
    pub children: Vec<PathBuf>,
    pub asset: bool,
    pub frames: bool,
}

/// What a call decided besides its outcome, written with it if the task
/// succeeds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effects {
    /// New client metadata (a JSON object) for the task's storage item.
    pub client_metadata: Option<String>,
}

/// What one call may read through the imports.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub project: Arc<ProjectContext>,
    pub stage: Option<Arc<StageContext>>,
    /// The task's label row JSON, when its stage declared the need.
    pub label_row: Option<Arc<str>>,
    /// The task uuid, for log lines.
    pub task_uuid: Option<String>,
    /// The storage item and media, when the stage declared them.
    pub data: Option<Arc<TaskData>>,
    /// A read-only directory holding only this task's asset file, mounted
    /// at `/asset`, and the file's name in it.
    pub asset_dir: Option<(PathBuf, String)>,
    /// Twin label rows by project hash, for the twins the stage declared.
    pub twins: Arc<HashMap<String, Option<TwinRecord>>>,
    /// Collected during the call; read by the runner after it.
    pub effects: Arc<Mutex<Effects>>,
}

impl CallContext {
    pub fn new(
        project: Arc<ProjectContext>,
        stage: Option<Arc<StageContext>>,
        label_row: Option<Arc<str>>,
    ) -> CallContext {
        CallContext {
            project,
            stage,
            label_row,
            task_uuid: None,
            data: None,
            asset_dir: None,
            twins: Arc::default(),
            effects: Arc::default(),
        }
    }
}

/// How much of the guest's stderr is kept to explain a trap.
const STDERR_CAPACITY: usize = 64 * 1024;

pub(crate) struct TaskState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limits: StoreLimits,
    pub(crate) cx: CallContext,
    stderr: MemoryOutputPipe,
    memory_bytes: usize,
}

impl TaskState {
    pub(crate) fn new(cx: CallContext, memory_bytes: usize, grants: &Grants) -> TaskState {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        // Nothing by default: no environment, no filesystem, no network.
        let asset = cx.asset_dir.as_ref().map(|(dir, _)| dir.as_path());
        let wasi = grants.wasi(stderr.clone(), asset);
        TaskState {
            wasi,
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                .trap_on_grow_failure(true)
                .build(),
            cx,
            stderr,
            memory_bytes,
        }
    }

    /// The memory cap of this call's instance.
    pub(crate) fn memory_cap(&self) -> usize {
        self.memory_bytes
    }

    /// What the guest wrote to stderr (a panic message, typically).
    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_string()
    }
}

impl WasiView for TaskState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Names what stopped the guest: the memory cap, or a trap with the
/// guest's own panic message when it printed one.
pub(crate) fn classify_trap(e: wasmtime::Error, state: &TaskState, limits: &Limits) -> CallError {
    let text = format!("{e:#}");
    if text.contains("forcing trap when growing memory") {
        return CallError::Memory(limits.memory_bytes >> 20);
    }
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::OutOfFuel) => return CallError::Fuel(limits.fuel.unwrap_or(0)),
        Some(wasmtime::Trap::StackOverflow) => return CallError::StackOverflow,
        _ => {}
    }
    let stderr = state.stderr_text();
    // "thread '<unnamed>' (1) panicked at src/lib.rs:3:5:\nmessage" →
    // "at src/lib.rs:3:5: message" (guest source paths, never host ones).
    let mut lines = stderr.lines().skip_while(|l| !l.contains("panicked at"));
    let panic = match lines.next() {
        Some(first) => {
            let place = first
                .split_once("panicked ")
                .map_or(first, |(_, p)| p)
                .trim_end_matches(':');
            let message: Vec<&str> = lines.take_while(|l| !l.starts_with("note:")).collect();
            format!("{place}: {}", message.join(" "))
        }
        None => String::new(),
    };
    let trap = e
        .downcast_ref::<wasmtime::Trap>()
        .map(|t| t.to_string())
        .unwrap_or_else(|| text.lines().next().unwrap_or_default().to_string());
    if panic.is_empty() {
        CallError::Trap(format!("agent trapped: {trap}"))
    } else {
        CallError::Trap(format!("agent panicked {panic}"))
    }
}
